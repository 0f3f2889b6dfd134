"""Plots of probe accuracy per layer."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._plotting import pyplot

__all__ = ["plot_accuracy"]


def plot_accuracy(results: dict[str, dict[str, Any]], path: str | os.PathLike[str], title: str = "") -> Path:
    """``results``: probe kind -> {"train": [...], "val": [...]} per layer; solid = held-out, dotted = train."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, (kind, acc) in enumerate(results.items()):
        color = f"C{i}"
        ax.plot(range(len(acc["val"])), acc["val"], "o-", color=color, label=f"{kind} held-out")
        ax.plot(range(len(acc["train"])), acc["train"], ":", color=color, label=f"{kind} train")
    ax.set_xlabel("layer")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0.4, 1.02)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
