"""Evaluating lenses on held-out text: KL to the final distribution, cross-entropy and (asked for) entropy,
per layer, in **bits per byte**; and the layer-transfer matrix."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from .._plotting import pyplot
from ..errors import ConfigError
from .data import Chunks
from .kl import stream_vocab
from .lenses import Lens, LogitLens
from .train import frozen_pass
from .unembed import Unembed

__all__ = ["evaluate_lenses", "layer_transfer", "stream_stats", "plot_evaluation"]


@torch.no_grad()
def stream_stats(
    x: torch.Tensor,
    unembed: Unembed,
    target_logp: torch.Tensor,
    next_ids: torch.Tensor,
    chunk: int = 4096,
    *,
    entropy: bool = True,
    compute_dtype: torch.dtype = torch.float32,
) -> dict[str, torch.Tensor]:
    """KL(target || q), cross-entropy of ``next_ids`` and (with ``entropy``) entropy of ``q = softmax(head(x))``, in
    nats.

    ``x``: ``[..., n, d]`` normed states; ``target_logp``: ``[n, V]``; ``next_ids``: ``[n]`` (-1 where there
    is no next token). One streaming pass over the vocabulary, its matmuls in ``compute_dtype`` and everything
    after them in float32; returns ``[..., n]`` tensors.
    """
    out = stream_vocab(
        x.float(),
        unembed.weight,
        unembed.bias,
        target_logp,
        unembed.softcap,
        chunk,
        compute_dtype,
        need_entropy=entropy,
        next_ids=next_ids,
    )
    stats = {"kl": out["kl"].clamp(min=0), "ce": out["ce"]}
    if entropy:
        stats["entropy"] = out["entropy"]
    return stats


def evaluate_lenses(
    model: torch.nn.Module,
    chunks: Chunks,
    lenses: Mapping[str, Lens] | None = None,
    *,
    micro_batch: int = 2,
    vocab_chunk: int = 4096,
    entropy: bool = False,
    compute_dtype: torch.dtype = torch.float32,
    progress: bool = True,
) -> dict[str, Any]:
    """Per-layer KL to the final distribution, cross-entropy and (asked for) entropy, in bits per byte.

    Args:
        model: The model.
        chunks: Held-out chunks.
        lenses: ``name -> lens`` (default: ``{"logit": LogitLens}``).
        entropy: Also the entropy of each lens' distribution (one more exponential per vocabulary entry).
        compute_dtype: Dtype of the vocabulary matmuls (``torch.bfloat16`` where the hardware has bf16 units;
            softmax sums stay float32).

    Returns:
        ``{"bits_per_byte": factor, "n_tokens": ..., "lenses": {name: {"kl": [...], "ce": [...]}},
        "model": {"ce": x}}``, with ``"entropy"`` beside ``"ce"`` when asked; lists are per layer (lens index
        0 .. L-1).
    """
    lenses = dict(lenses) if lenses else {"logit": LogitLens.from_model(model)}
    dtype = next(model.parameters()).dtype
    keys = ("kl", "ce", "entropy") if entropy else ("kl", "ce")
    sums: dict[str, dict[str, torch.Tensor]] = {}
    model_sums = {"ce": 0.0, "entropy": 0.0}
    count = 0
    for k in tqdm(range(0, chunks.ids.shape[0], micro_batch), desc="evaluate", disable=not progress):
        ids = chunks.ids[k : k + micro_batch]
        hidden, target = frozen_pass(model, ids, torch.float32)
        nxt = torch.cat([ids[:, 1:], torch.full((ids.shape[0], 1), -1)], 1).reshape(-1)
        valid = nxt >= 0
        with torch.no_grad():
            for name, lens in lenses.items():
                x = lens.normed_layers(hidden.to(dtype))
                st = stream_stats(x, lens.unembed, target, nxt, vocab_chunk, entropy=entropy, compute_dtype=compute_dtype)
                acc = sums.setdefault(name, {key: torch.zeros(hidden.shape[0]) for key in keys})
                acc["kl"] += st["kl"].sum(-1)
                if entropy:
                    acc["entropy"] += st["entropy"].sum(-1)
                acc["ce"] += torch.where(valid, st["ce"], 0.0).sum(-1)
            if entropy:
                model_sums["entropy"] += float(-(target.exp() * target).sum(-1).sum())
            model_sums["ce"] += float(-target[valid].gather(-1, nxt[valid][:, None]).sum())
        count += nxt.numel()
    n_valid = count - chunks.ids.shape[0]
    f = chunks.nats_to_bpb
    result: dict[str, Any] = {"units": "bits per byte", "nats_to_bpb": f, "n_tokens": count, "lenses": {}}
    for name, acc in sums.items():
        result["lenses"][name] = {"kl": (acc["kl"] / count * f).tolist(), "ce": (acc["ce"] / n_valid * f).tolist()}
        if entropy:
            result["lenses"][name]["entropy"] = (acc["entropy"] / count * f).tolist()
    result["model"] = {"ce": model_sums["ce"] / n_valid * f}
    if entropy:
        result["model"]["entropy"] = model_sums["entropy"] / count * f
    return result


@torch.no_grad()
def layer_transfer(
    model: torch.nn.Module,
    chunks: Chunks,
    lens: Lens,
    *,
    layers: Sequence[int] | None = None,
    micro_batch: int = 2,
    vocab_chunk: int = 4096,
) -> list[list[float]]:
    """``M[a][b]``: KL(final || translator ``layers[a]`` applied to layer ``layers[b]``'s residual), bits per byte.

    ``layers`` (default: all) picks a subset of lens indices, in that order, for both axes; the diagonal is the
    lens itself, and how fast a row rises away from it says how specific each translator is to its layer.
    """
    dtype = next(model.parameters()).dtype
    idx = list(range(lens.n_layers)) if layers is None else [int(i) for i in layers]
    bad = [i for i in idx if not 0 <= i < lens.n_layers]
    if bad or not idx:
        raise ConfigError(f"layers must be lens indices in [0, {lens.n_layers}); got {list(layers or [])}.")
    total = torch.zeros(len(idx), len(idx))
    count = 0
    for k in range(0, chunks.ids.shape[0], micro_batch):
        hidden, target = frozen_pass(model, chunks.ids[k : k + micro_batch], torch.float32)
        hidden = hidden[idx].to(dtype)
        nxt = torch.full((target.shape[0],), -1)
        for a, i in enumerate(idx):
            x = lens.normed_layers(hidden, translator=i)
            total[a] += stream_stats(x, lens.unembed, target, nxt, vocab_chunk, entropy=False)["kl"].sum(-1)
        count += target.shape[0]
    return (total / count * chunks.nats_to_bpb).tolist()


def plot_evaluation(result: Mapping[str, Any], path: str | os.PathLike[str], metric: str = "kl") -> Path:
    """Plot ``metric`` per layer for every lens in an :func:`evaluate_lenses` result (PNG/PDF/SVG)."""
    missing = [name for name, stats in result["lenses"].items() if metric not in stats]
    if missing:
        have = sorted(next(iter(result["lenses"].values())))
        hint = " (evaluate with entropy=True, or --entropy)" if metric == "entropy" else ""
        raise ConfigError(f"The result has no {metric!r} for lens(es) {missing}; it has {have}{hint}.")
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for name, stats in result["lenses"].items():
        ax.plot(range(len(stats[metric])), stats[metric], marker="o", ms=3, label=f"{name} lens")
    if metric in ("ce", "entropy"):
        ax.axhline(result["model"][metric], color="k", ls="--", lw=1, label="model output")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("layer (residual entering the block)")
    ax.set_ylabel(f"{metric} (bits per byte)")
    if metric == "kl" and all(v > 0 for s in result["lenses"].values() for v in s["kl"]):
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=150)
    plt.close(fig)
    return out
