"""Concepts (a fitted probe per layer, with its accuracies) and guided generation.

:func:`train_concept` reads completion-token activations, fits a probe and records per-layer train
and held-out accuracy. :func:`guide` pushes chosen layers along the concept's directions:

* ``mode="norm_preserving"`` (the seed's guidance, default): at the attention input of each chosen
  block, per token ``x' = x + s * w_hat`` then ``x'' = x' * ||x|| / ||x'||`` (computed in fp32), so each
  token keeps its norm and is rotated towards ``+-w_hat``;
* ``mode="add"``: plain ``x + s * w_hat`` (e.g. on the residual stream with ``point="resid_pre"``).

Guidance acts on every forward call (prompt and each generated token, cached or not), or only on the
last token of each call with ``only_last=True``. Scale 0 installs nothing, so it is bit-identical to
unguided runs; leaving the ``with`` block restores the model exactly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from ..artifacts import Fingerprint, load_artifact, register, save_artifact
from ..errors import DataFormatError, IncompatibleArtifactError, ShapeError, SiteError, SteeringError
from ..model.architectures import resolve
from ..model.intervene import Apply, Intervention, intervene
from ..model.positions import CallPositions
from ..model.site import Site
from .activations import ConceptActivations, concept_activations
from .data import ConceptExample, check_labels, split_examples
from .probes import PROBES, Probe

__all__ = ["Concept", "train_concept", "guide", "guidance_edits"]


@dataclass
class Concept:
    """A probe fitted at one site point over a set of layers, with its accuracies."""

    probe: Probe
    layers: list[int]
    point: str = "attn_in"
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    name: str = ""
    fingerprint: Fingerprint | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return self.probe.kind

    def directions(self) -> dict[int, torch.Tensor]:
        """layer -> direction (``[d]``)."""
        W = self.probe.directions()
        return {layer: W[i] for i, layer in enumerate(self.layers)}

    def top_layers(self, k: int, by: Literal["train", "val"] = "train") -> list[int]:
        """The ``k`` layers with the highest accuracy (train accuracy, as the seed chooses)."""
        acc = self.train_accuracy if by == "train" else self.val_accuracy
        if not acc:
            raise DataFormatError(f"This concept has no {by} accuracies to rank layers by.")
        if not 1 <= k <= len(self.layers):
            raise SteeringError(f"top-k must be between 1 and {len(self.layers)}, got {k}.")
        order = sorted(range(len(self.layers)), key=lambda i: (-acc[i], self.layers[i]))
        return sorted(self.layers[i] for i in order[:k])

    def score_activations(self, acts: ConceptActivations) -> torch.Tensor:
        """``[n_tokens, L]`` probability of label 1."""
        self._check_layers(acts.layers)
        return self.probe.predict_proba(acts.x)

    def _check_layers(self, layers: Sequence[int]) -> None:
        if list(layers) != self.layers:
            raise ShapeError(f"Activations cover layers {list(layers)}, the concept {self.layers}.")

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save as a steerlens artifact (probe tensors including the centring mean, accuracies)."""
        cfg = {
            "probe": self.kind,
            "layers": self.layers,
            "point": self.point,
            "name": self.name,
            "train_accuracy": self.train_accuracy,
            "val_accuracy": self.val_accuracy,
        }
        if self.kind == "logistic":
            cfg["l2_penalty"] = getattr(self.probe, "l2_penalty", 1.0)
        return save_artifact(path, "concept", self.probe.state(), cfg, fingerprint=self.fingerprint)

    @classmethod
    def load(cls, path: str | os.PathLike[str], model: torch.nn.Module | None = None) -> Concept:
        """Load a steerlens concept artifact, or a seed safetensors file (``W`` [L, d] ...)."""
        p = Path(path)
        if p.is_file() and p.suffix == ".safetensors":
            return cls.from_seed_file(p, model)
        return _load_concept(load_artifact(p, model=model, kind="concept"), model)

    @classmethod
    def from_seed_file(
        cls, path: str | os.PathLike[str], model: torch.nn.Module | None = None, probe: str | None = None
    ) -> Concept:
        """Read the concept-guidance seed's safetensors (``W`` [L, d], optional ``a`` [L, 1], ``b`` [L])."""
        from safetensors.torch import load_file

        state = load_file(str(path))
        if "W" not in state or state["W"].dim() != 2:
            raise DataFormatError(f"{path} has no 'W' [layers, d] tensor; it is not a concept-guidance vector file.")
        kind = probe or ("logistic" if "a" not in state else "dim")
        n = state["W"].shape[0]
        if model is not None:
            spec = resolve(model)
            if state["W"].shape != (spec.n_layers, spec.d_model):
                raise IncompatibleArtifactError(
                    f"{path} holds vectors [{n}, {state['W'].shape[1]}] but the model has {spec.n_layers} layers of "
                    f"width {spec.d_model}."
                )
        return cls(PROBES[kind].from_state(state), list(range(n)), "attn_in", name=Path(path).stem)

    def save_seed_format(self, path: str | os.PathLike[str]) -> Path:
        """Write the seed's layout (needs a concept over all layers, as the seed's files are)."""
        return self.probe.save_seed_format(path)


@register("concept")
def _load_concept(art, model) -> Concept:
    cfg = art.config
    kw = {"l2_penalty": cfg["l2_penalty"]} if cfg["probe"] == "logistic" and "l2_penalty" in cfg else {}
    probe = PROBES[cfg["probe"]].from_state(art.tensors, **kw)
    return Concept(
        probe,
        list(cfg["layers"]),
        cfg.get("point", "attn_in"),
        list(cfg.get("train_accuracy") or []),
        list(cfg.get("val_accuracy") or []),
        cfg.get("name", ""),
        art.fingerprint,
    )


def train_concept(
    model: torch.nn.Module,
    tokenizer: Any,
    examples: Sequence[ConceptExample],
    *,
    probe: str = "dim",
    val_examples: Sequence[ConceptExample] | None = None,
    val_fraction: float = 0.2,
    point: str = "attn_in",
    layers: Sequence[int] | None = None,
    seed: int = 0,
    name: str = "",
    progress: bool | None = None,
    **activation_kw: Any,
) -> Concept:
    """Fit a probe per layer and measure train and held-out accuracy (split by prompt unless ``val_examples``)."""
    if probe not in PROBES:
        raise DataFormatError(f"probe must be one of {', '.join(PROBES)}, got {probe!r}.")
    check_labels(examples)
    if val_examples is None:
        train_ex, val_ex = split_examples(examples, val_fraction, seed)
        if not train_ex:
            raise DataFormatError(
                f"{len(examples)} example(s) leave nothing to train on after the held-out split; "
                "give more prompts or val_examples."
            )
    else:
        train_ex, val_ex = list(examples), list(val_examples)
    tr = concept_activations(model, tokenizer, train_ex, point=point, layers=layers, progress=progress, **activation_kw)
    p = PROBES[probe]() if probe != "pca" else PROBES[probe](seed=seed)  # type: ignore[call-arg]
    p.fit(tr.x, tr.labels)
    concept = Concept(p, tr.layers, point, name=name, fingerprint=Fingerprint.of(model))
    concept.train_accuracy = p.score(tr.x, tr.labels, tr.example).tolist()
    if val_ex:
        va = concept_activations(
            model, tokenizer, val_ex, point=point, layers=tr.layers, progress=progress, require_both_labels=False, **activation_kw
        )
        concept.val_accuracy = p.score(va.x, va.labels, va.example).tolist()
    return concept


def _scales(scale: float | Sequence[float] | Mapping[int, float], layers: list[int]) -> dict[int, float]:
    if isinstance(scale, Mapping):
        missing = [x for x in layers if x not in scale]
        if missing:
            raise SteeringError(f"Per-layer scales are missing layer(s) {missing}.")
        out = {x: float(scale[x]) for x in layers}
    elif isinstance(scale, (int, float)) and not isinstance(scale, bool):
        out = {x: float(scale) for x in layers}
    else:
        vals = list(scale)  # type: ignore[arg-type]
        if len(vals) != len(layers):
            raise SteeringError(f"{len(vals)} scales for {len(layers)} layers; give one per layer or a single number.")
        out = {x: float(v) for x, v in zip(layers, vals)}
    for x, v in out.items():
        if not math.isfinite(v):
            raise SteeringError(f"The guidance scale of layer {x} is {v}; scales must be finite.")
    return out


def _guide_fn(direction: torch.Tensor, scale: float, mode: str, only_last: bool):
    unit = direction.double() / direction.double().norm().clamp_min(1e-12)

    def fn(h: torch.Tensor, pos: CallPositions) -> torch.Tensor:
        x = h.float()
        w = unit.to(device=h.device, dtype=torch.float32)
        moved = x + scale * w
        if mode == "norm_preserving":
            moved = moved * (x.norm(dim=-1, keepdim=True) / moved.norm(dim=-1, keepdim=True).clamp_min(1e-12))
        out = moved.to(h.dtype)
        if only_last:
            keep = torch.zeros(h.shape[:2], dtype=torch.bool, device=h.device)
            keep[:, -1] = True
            out = torch.where(keep[..., None], out, h)
        return out

    return fn


def guidance_edits(
    model: torch.nn.Module,
    concept: Concept | Mapping[int, torch.Tensor],
    scale: float | Sequence[float] | Mapping[int, float],
    layers: Sequence[int] | None = None,
    *,
    top_k: int | None = None,
    point: str | None = None,
    mode: Literal["norm_preserving", "add"] = "norm_preserving",
    only_last: bool = False,
) -> list[Apply]:
    """The edits that :func:`guide` installs (none when every scale is 0)."""
    if mode not in ("norm_preserving", "add"):
        raise SteeringError(f"mode must be 'norm_preserving' or 'add', got {mode!r}.")
    spec = resolve(model)
    if isinstance(concept, Concept):
        if concept.fingerprint is not None:
            diffs = concept.fingerprint.differences(Fingerprint.of(model))
            if diffs:
                raise IncompatibleArtifactError(f"This concept was made for another model ({'; '.join(diffs)}).")
        dirs = concept.directions()
        site_point = point or concept.point
        if layers is None and top_k is not None:
            layers = concept.top_layers(top_k)
    else:
        dirs = {int(k): torch.as_tensor(v) for k, v in concept.items()}
        site_point = point or "attn_in"
        if top_k is not None:
            raise SteeringError("top_k needs a Concept (its accuracies rank the layers).")
    if layers is None:
        layers = list(dirs)
    layers = [spec.site(Site(x)).layer for x in layers]
    missing = [x for x in layers if x not in dirs]
    if missing:
        raise SiteError(f"The concept has no direction for layer(s) {missing}; it covers {sorted(dirs)}.")
    for x in layers:
        if dirs[x].shape != (spec.d_model,):
            raise ShapeError(f"Direction of layer {x} has shape {tuple(dirs[x].shape)}, the model's width is {spec.d_model}.")
    per_layer = _scales(scale, layers)
    return [
        Apply(Site(x, site_point), _guide_fn(dirs[x], s, mode, only_last), at="all") for x, s in per_layer.items() if s != 0.0
    ]


@contextmanager
def guide(
    model: torch.nn.Module,
    concept: Concept | Mapping[int, torch.Tensor],
    scale: float | Sequence[float] | Mapping[int, float],
    layers: Sequence[int] | None = None,
    *,
    top_k: int | None = None,
    point: str | None = None,
    mode: Literal["norm_preserving", "add"] = "norm_preserving",
    only_last: bool = False,
) -> Iterator[Intervention]:
    """Guide the model along a concept inside the ``with`` block.

    Args:
        concept: a :class:`Concept` or a ``{layer: direction}`` mapping.
        scale: one number, one per layer (sequence aligned with ``layers``), or ``{layer: scale}``.
        layers: layers to guide (default: all of the concept's, or ``top_k`` by train accuracy).
        top_k: guide the k layers with the best train accuracy.
        point: site point (default: the concept's, normally ``attn_in``).
        mode: ``"norm_preserving"`` (the seed's) or ``"add"``.
        only_last: guide only the last token of each forward call.
    """
    with intervene(
        model, guidance_edits(model, concept, scale, layers, top_k=top_k, point=point, mode=mode, only_last=only_last)
    ) as handle:
        yield handle
