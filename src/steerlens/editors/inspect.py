"""REMEDI as a probe ("inspecting"): does the entity's state already carry an attribute?

For each sample the editor gives two directions: one for the context's attribute (the new object,
*mediated*) and one for the same context with the true object substituted (*unmediated*). Each set
of vectors -- entity states, mediated directions, unmediated directions -- is z-scored per dimension
across the samples, and the score of a direction is its dot product with the entity state.

* **contextual** (Fact-Med): the entity state is its second mention in ``context + ". " + prompt``;
  the label says whether the model, reading that text, prefers the new object's first token over the
  true one's; the prediction is ``score_new > score_true``.
* **decontextual** (Fact-Prior): the entity state is its mention in the bare prompt; the label says
  whether the model prefers the true object there; the prediction is ``score_true > score_new``.

Metrics: accuracy, F1 with the positive class "the model will be wrong" (negated labels), and MCC.
Controls: the same scores with shuffled labels (control task, seeded), an identity editor, and an
editor trained on a randomly re-initialised copy of the model (:func:`randomized_copy`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from .._results import JsonResult
from ..errors import DataFormatError
from ..model import Site, capture, resolve
from .data import EditSample, attribute_of, first_token, prompt_in_context
from .editors import Editor
from .evaluate import score_targets
from .inputs import entity_span, precompute

__all__ = ["InspectResult", "inspect", "unmediated", "randomized_copy", "classification_metrics"]


@dataclass
class InspectResult(JsonResult):
    """Classification scores of one setting."""

    setting: str
    entity_layer: int
    n: int
    positive_rate: float
    accuracy: float
    f1: float
    mcc: float
    control_accuracy: float
    control_f1: float
    control_mcc: float


def unmediated(sample: EditSample) -> EditSample:
    """The sample with its context stating the *true* object instead of the new one."""
    if not sample.target_true:
        raise DataFormatError(f"sample {sample.id!r} has no target_true to substitute.")
    if sample.target_new not in sample.context:
        raise DataFormatError(f"sample {sample.id!r}: the new target {sample.target_new!r} is not in its context.")
    i = sample.context.rfind(sample.target_new)
    ctx = sample.context[:i] + sample.target_true + sample.context[i + len(sample.target_new) :]
    return replace(sample, id=sample.id + "#true", context=ctx, attribute=attribute_of(ctx, sample.entity))


def classification_metrics(
    y_true: Sequence[bool] | np.ndarray, y_pred: Sequence[bool] | np.ndarray
) -> tuple[float, float, float]:
    """``(accuracy, F1 on the negated labels, MCC)``."""
    from sklearn.metrics import f1_score, matthews_corrcoef

    t, p = np.asarray(y_true, bool), np.asarray(y_pred, bool)
    if len(t) == 0:
        raise DataFormatError("No samples to score.")
    acc = float((t == p).mean())
    f1 = float(f1_score(~t, ~p, zero_division=0))
    mcc = float(matthews_corrcoef(t, p)) if len(set(t.tolist())) > 1 or len(set(p.tolist())) > 1 else 0.0
    return acc, f1, mcc


def _z(x: torch.Tensor) -> torch.Tensor:
    x = x.double()
    return (x - x.mean(0)) / x.std(0).clamp(min=1e-8)


@torch.no_grad()
def inspect(
    model: torch.nn.Module,
    tokenizer: Any,
    editor: Editor,
    samples: Sequence[EditSample],
    entity_layer: int,
    *,
    contextual: bool = True,
    seed: int = 0,
    batch_size: int = 32,
) -> InspectResult:
    """Score REMEDI-as-a-probe on ``samples`` (see the module doc) with the entity read at ``entity_layer``."""
    samples = [s for s in samples if s.target_true]
    if len(samples) < 2:
        raise DataFormatError("inspect needs at least two samples with a target_true.")
    spec = resolve(model)
    site = spec.site(Site(entity_layer))
    device = next(model.parameters()).device
    unmed = [unmediated(s) for s in samples]
    ins_m = precompute(model, tokenizer, samples, editor.layer, batch_size=batch_size, progress=False)[editor.layer]
    ins_u = precompute(model, tokenizer, unmed, editor.layer, batch_size=batch_size, progress=False)[editor.layer]
    editor.to(device)
    last = editor.input_last_entity_token
    d_m = editor(ins_m.entity(last).to(device), ins_m.attribute.to(device)).float().cpu()
    d_u = editor(ins_u.entity(last).to(device), ins_u.attribute.to(device)).float().cpu()
    if contextual:
        texts = [prompt_in_context(s) for s in samples]
        pos = torch.tensor([entity_span(tokenizer, t, s.entity, 1)[1] - 1 for t, s in zip(texts, samples)])
    else:
        texts = [s.prompt for s in samples]
        pos = torch.tensor([entity_span(tokenizer, t, s.entity, 0)[1] - 1 for t, s in zip(texts, samples)])
    ent = capture(
        model,
        texts,
        site,
        tokenizer=tokenizer,
        positions=pos,
        batch_size=batch_size,
        dtype=torch.float32,
        offload=True,
        progress=False,
    )[site]
    ze = _z(ent)
    s_m, s_u = (ze * _z(d_m)).sum(-1), (ze * _z(d_u)).sum(-1)
    tg = torch.tensor([[first_token(tokenizer, s.target_new), first_token(tokenizer, s.target_true)] for s in samples])
    lp, _ = score_targets(model, tokenizer, texts, tg, batch_size=batch_size, progress=False)
    if contextual:
        labels, preds = (lp[:, 0] > lp[:, 1]).numpy(), (s_m > s_u).numpy()
    else:
        labels, preds = (lp[:, 1] > lp[:, 0]).numpy(), (s_u > s_m).numpy()
    acc, f1, mcc = classification_metrics(labels, preds)
    shuffled = np.random.default_rng(seed).permutation(labels)
    c_acc, c_f1, c_mcc = classification_metrics(shuffled, preds)
    return InspectResult(
        "contextual" if contextual else "decontextual",
        site.layer,
        len(samples),
        float(labels.mean()),
        acc,
        f1,
        mcc,
        c_acc,
        c_f1,
        c_mcc,
    )


def randomized_copy(model: torch.nn.Module, seed: int = 123456, std: float | None = None) -> torch.nn.Module:
    """A deep copy of ``model`` with every weight matrix (embeddings included) re-drawn from
    ``N(0, std)`` (default: the config's ``initializer_range``, else 0.02); vectors (norm scales,
    biases) are kept. The control model of REMEDI's inspection experiments."""
    clone = copy.deepcopy(model)
    std = std or float(getattr(getattr(model, "config", None), "initializer_range", 0.02) or 0.02)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        seen: set[int] = set()
        for _, p in clone.named_parameters():
            if id(p) in seen or p.dim() < 2:
                continue
            seen.add(id(p))
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32).mul_(std).to(p.dtype))
    return clone
