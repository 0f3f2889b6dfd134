"""Layer x coefficient sweeps of an x-vector, scored by a text metric, with a plot."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from .._plotting import pyplot
from ..errors import SteeringError
from .addition import ActAdd, Location, x_vector
from .generation import SamplingConfig, sample

__all__ = ["SweepResult", "sweep"]

Metric = Callable[[Sequence[str]], Sequence[float]]


@dataclass
class SweepResult:
    """Per (layer, coefficient): the metric of each steered completion; plus the unsteered baseline."""

    prompt: str
    steering: str
    metric: str
    layers: list[int]
    coeffs: list[float]
    baseline: list[float]
    records: list[dict[str, Any]] = field(default_factory=list)
    sampling: dict[str, Any] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def mean(self, layer: int, coeff: float) -> float:
        for r in self.records:
            if r["layer"] == layer and r["coeff"] == coeff:
                return r["mean"]
        raise SteeringError(f"No result for layer {layer}, coefficient {coeff}.")

    @property
    def baseline_mean(self) -> float:
        return sum(self.baseline) / len(self.baseline)

    def best(self) -> dict[str, Any]:
        return max(self.records, key=lambda r: r["mean"])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save_json(self, path: str | os.PathLike[str]) -> Path:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))
        return Path(path)

    def table(self) -> str:
        """A plain-text grid: layers down, coefficients across, mean metric in the cells."""
        head = "layer  " + "  ".join(f"c={c:<7g}" for c in self.coeffs)
        lines = [f"{self.metric} on {self.prompt!r}; unsteered mean {self.baseline_mean:.3f}", head]
        for layer in self.layers:
            lines.append(f"{layer:>5}  " + "  ".join(f"{self.mean(layer, c):<9.3f}" for c in self.coeffs))
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Mean metric vs layer, one line per coefficient (standard-error bars), the unsteered mean dashed."""
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(7, 4))
        for c in self.coeffs:
            rs = [r for r in self.records if r["coeff"] == c]
            ax.errorbar(
                [r["layer"] for r in rs],
                [r["mean"] for r in rs],
                yerr=[r["sem"] for r in rs],
                marker="o",
                capsize=3,
                label=f"c = {c:g}",
            )
        ax.axhline(self.baseline_mean, color="gray", ls="--", label="unsteered")
        ax.set_xlabel("layer (residual stream before block)")
        ax.set_ylabel(f"mean {self.metric}")
        ax.set_title(f"{self.steering}\non {self.prompt!r}", fontsize=9)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return Path(path)


def _sem(xs: Sequence[float]) -> float:
    if len(xs) < 2:
        return 0.0
    mu = sum(xs) / len(xs)
    return math.sqrt(sum((x - mu) ** 2 for x in xs) / (len(xs) - 1) / len(xs))


def sweep(
    model: torch.nn.Module,
    tokenizer: Any,
    prompt: str,
    plus: str,
    minus: str,
    *,
    layers: Sequence[int],
    coeffs: Sequence[float],
    metric: Metric,
    n: int = 20,
    seed: int = 0,
    config: SamplingConfig | None = None,
    location: Location = "front",
    pad_token: str | int = " ",
    metric_name: str | None = None,
    progress: bool = True,
) -> SweepResult:
    """Steer ``prompt`` with the x-vector ``(plus, minus)`` at each layer and coefficient; score every completion.

    All settings share one seed, so completion ``i`` of every setting (and of the unsteered baseline)
    draws the same random numbers.
    """
    if not layers or not coeffs:
        raise SteeringError("Give at least one layer and one coefficient.")
    cfg = config or SamplingConfig()
    name = metric_name or getattr(metric, "__name__", "metric")
    base_texts = sample(model, tokenizer, [prompt] * n, seed=seed, config=cfg)
    baseline = [float(x) for x in metric(base_texts)]
    result = SweepResult(
        prompt,
        f"{plus!r} - {minus!r}",
        name,
        list(layers),
        [float(c) for c in coeffs],
        baseline,
        sampling=asdict(cfg),
        examples={"unsteered": base_texts[:3]},
    )
    grid = [(layer, float(c)) for layer in layers for c in coeffs]
    for layer, c in tqdm(grid, desc="sweep", unit="setting", disable=not progress):
        adds = x_vector(plus, minus, c, layer, tokenizer=tokenizer, pad_token=pad_token)
        act = ActAdd.build(model, tokenizer, list(adds), location=location)
        texts = sample(model, tokenizer, [prompt] * n, edits=act.edits(model), seed=seed, config=cfg)
        vals = [float(x) for x in metric(texts)]
        result.records.append({"layer": int(layer), "coeff": c, "mean": sum(vals) / len(vals), "sem": _sem(vals), "values": vals})
        result.examples[f"layer {layer}, c={c:g}"] = texts[:2]
    return result
