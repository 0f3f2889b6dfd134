"""Concepts (a fitted probe per layer, with its accuracies) and guided generation.

:func:`train_concept` reads completion-token activations, fits a probe and records per-layer train
and held-out accuracy. :func:`guide` pushes chosen sites along the concept's directions with a strength ``s``:

* ``mode="norm_preserving"`` (the seed's guidance, default): at the attention input of each chosen
  block, per token ``x' = x + s * w_hat`` then ``x'' = x' * ||x|| / ||x'||`` (computed in fp32), so each
  token keeps its norm and is rotated towards ``+-w_hat``;
* ``mode="add"``: plain ``x + s * w_hat`` (e.g. on the residual stream, with ``sites="resid_pre.*"`` sites).

Guidance acts on every forward call (prompt and each generated token, cached or not), or only on the
last token of each call with ``only_last=True``. Strength 0 installs nothing, so it is bit-identical to
unguided runs; leaving the ``with`` block restores the model exactly.
"""

from __future__ import annotations

import hashlib
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
from ..model.intervene import Intervention, Transform, intervene
from ..model.monitor import Monitor
from ..model.positions import CallPositions
from ..model.site import Site, SiteLike, as_site, as_sites
from .activations import ConceptActivations, concept_activations
from .data import ConceptExample, check_labels, split_examples
from .probes import PROBES, Probe

__all__ = ["ConceptProbe", "train_concept", "guide", "guidance_edits", "prompt_key"]


@dataclass
class ConceptProbe:
    """A probe fitted at one site point over a set of layers, with its accuracies."""

    probe: Probe
    layers: list[int]
    point: str = "attn_in"
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    name: str = ""
    fingerprint: Fingerprint | None = field(default=None, repr=False)
    #: short hashes of the prompts the probe was fitted on (see :func:`prompt_key`): evaluation refuses them
    train_prompts: frozenset[str] = field(default_factory=frozenset, repr=False)

    @property
    def kind(self) -> str:
        return self.probe.kind

    def directions(self) -> dict[int, torch.Tensor]:
        """layer -> direction (``[d]``)."""
        W = self.probe.directions()
        return {layer: W[i] for i, layer in enumerate(self.layers)}

    @property
    def sites(self) -> list[Site]:
        """Where the probe reads (and guidance writes): ``Site(layer, point)`` per layer."""
        return [Site(x, self.point) for x in self.layers]  # type: ignore[arg-type]

    def top_sites(self, k: int, by: Literal["train", "val"] = "train") -> list[Site]:
        """The ``k`` sites with the highest accuracy (train accuracy, as the seed chooses), in layer order."""
        acc = self.train_accuracy if by == "train" else self.val_accuracy
        if not acc:
            raise DataFormatError(f"This concept has no {by} accuracies to rank layers by.")
        if not 1 <= k <= len(self.layers):
            raise SteeringError(f"top-k must be between 1 and {len(self.layers)}, got {k}.")
        order = sorted(range(len(self.layers)), key=lambda i: (-acc[i], self.layers[i]))
        return [Site(x, self.point) for x in sorted(self.layers[i] for i in order[:k])]  # type: ignore[arg-type]

    def score_activations(self, acts: ConceptActivations) -> torch.Tensor:
        """``[n_tokens, L]`` probability of label 1."""
        self._check_layers(acts.layers)
        return self.probe.predict_proba(acts.x)

    def monitor(self, site: SiteLike | None = None, name: str = "") -> Monitor:
        """A per-token :class:`~steerlens.model.monitor.Monitor` of P(label 1) at one of the concept's sites (default:
        the best by held-out accuracy, else by train accuracy), for ``generate(monitors=...)`` or a ``Conditional``."""
        if site is None:
            acc = self.val_accuracy or self.train_accuracy
            if not acc:
                raise DataFormatError("This concept has no accuracies to pick its best site by; pass site=.")
            at = self.sites[max(range(len(acc)), key=lambda i: (acc[i], -i))]
        else:
            at = as_site(site)
        if at not in self.sites:
            raise SiteError(f"The concept has no probe at {at}; it covers {', '.join(map(str, self.sites))}.")
        index = self.sites.index(at)
        probe = self.probe
        return Monitor(at, lambda h: probe.layer_proba(h, index), name or f"{self.name or 'concept'}@{at}")

    def edits_at(
        self,
        model: torch.nn.Module,
        site: SiteLike,
        strength: float,
        mode: Literal["norm_preserving", "add"] = "norm_preserving",
    ) -> list[Transform]:
        """Guidance at one of the concept's sites with one strength (what :func:`~steerlens.steering.calibrate`
        searches over; :func:`guidance_edits` takes several sites at once)."""
        return guidance_edits(model, self, strength, [site], mode=mode)

    def seen(self, examples: Sequence[ConceptExample]) -> list[ConceptExample]:
        """The examples whose prompt the probe was fitted on (empty where the concept does not record them)."""
        return [e for e in examples if prompt_key(e.prompt) in self.train_prompts]

    def held_out(self, examples: Sequence[ConceptExample]) -> list[ConceptExample]:
        """The examples whose prompt the probe was *not* fitted on."""
        return [e for e in examples if prompt_key(e.prompt) not in self.train_prompts]

    def _check_layers(self, layers: Sequence[int]) -> None:
        if list(layers) != self.layers:
            raise ShapeError(f"Activations cover layers {list(layers)}, the concept {self.layers}.")

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save as a steerlens artifact (probe tensors including the centring mean, accuracies)."""
        cfg: dict[str, Any] = {
            "probe": self.kind,
            "layers": self.layers,
            "point": self.point,
            "name": self.name,
            "train_accuracy": self.train_accuracy,
            "val_accuracy": self.val_accuracy,
            "train_prompts": sorted(self.train_prompts),
        }
        if self.kind == "logistic":
            cfg["l2_penalty"] = getattr(self.probe, "l2_penalty", 1.0)
        return save_artifact(path, "concept", self.probe.state(), cfg, fingerprint=self.fingerprint)

    @classmethod
    def load(cls, path: str | os.PathLike[str], model: torch.nn.Module | None = None) -> ConceptProbe:
        """Load a steerlens concept artifact, or a seed safetensors file (``W`` [L, d] ...)."""
        p = Path(path)
        if p.is_file() and p.suffix == ".safetensors":
            return cls.from_seed_file(p, model)
        return _load_concept(load_artifact(p, model=model, kind="concept"), model)

    @classmethod
    def from_seed_file(
        cls, path: str | os.PathLike[str], model: torch.nn.Module | None = None, probe: str | None = None
    ) -> ConceptProbe:
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
def _load_concept(art, model) -> ConceptProbe:
    cfg = art.config
    kw = {"l2_penalty": cfg["l2_penalty"]} if cfg["probe"] == "logistic" and "l2_penalty" in cfg else {}
    probe = PROBES[cfg["probe"]].from_state(art.tensors, **kw)
    return ConceptProbe(
        probe,
        list(cfg["layers"]),
        cfg.get("point", "attn_in"),
        list(cfg.get("train_accuracy") or []),
        list(cfg.get("val_accuracy") or []),
        cfg.get("name", ""),
        art.fingerprint,
        frozenset(cfg.get("train_prompts") or ()),
    )


def train_concept(
    model: torch.nn.Module,
    tokenizer: Any,
    examples: Sequence[ConceptExample],
    *,
    probe: str = "dim",
    val_examples: Sequence[ConceptExample] | None = None,
    val_fraction: float = 0.2,
    sites: SiteLike | Sequence[SiteLike] | None = None,
    seed: int = 0,
    name: str = "",
    progress: bool | None = None,
    **activation_kw: Any,
) -> ConceptProbe:
    """Fit a probe per site and measure train and held-out accuracy (split by prompt unless ``val_examples``).

    ``sites`` share one point; by default the attention input of every block (``attn_in``, where the
    concept-guidance paper reads and guides). A bare int ``n`` is ``resid_post.n``.
    """
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
    tr = concept_activations(model, tokenizer, train_ex, sites=sites, progress=progress, **activation_kw)
    point = tr.point
    p = PROBES[probe]() if probe != "pca" else PROBES[probe](seed=seed)  # type: ignore[call-arg]
    p.fit(tr.x, tr.labels)
    concept = ConceptProbe(p, tr.layers, point, name=name, fingerprint=Fingerprint.of(model), train_prompts=prompt_keys(train_ex))
    concept.train_accuracy = p.score(tr.x, tr.labels, tr.example).tolist()
    if val_ex:
        va = concept_activations(
            model, tokenizer, val_ex, sites=tr.sites, progress=progress, require_both_labels=False, **activation_kw
        )
        concept.val_accuracy = p.score(va.x, va.labels, va.example).tolist()
    return concept


def prompt_key(prompt: str) -> str:
    """A short, stable hash of a prompt: what a concept records of its training prompts (not the text itself)."""
    return hashlib.sha1(prompt.strip().encode("utf-8")).hexdigest()[:16]


def prompt_keys(examples: Sequence[ConceptExample]) -> frozenset[str]:
    """The :func:`prompt_key` of every example's prompt."""
    return frozenset(prompt_key(e.prompt) for e in examples)


def _strengths(strength: float | Sequence[float] | Mapping[SiteLike, float], sites: list[Site], spec: Any) -> dict[Site, float]:
    if isinstance(strength, Mapping):
        given = {spec.site(as_site(k)): v for k, v in strength.items()}
        missing = [str(x) for x in sites if x not in given]
        if missing:
            raise SteeringError(f"Per-site strengths are missing {', '.join(missing)} (a bare int key means resid_post).")
        out = {x: float(given[x]) for x in sites}
    elif isinstance(strength, (int, float)) and not isinstance(strength, bool):
        out = {x: float(strength) for x in sites}
    else:
        vals = list(strength)  # type: ignore[arg-type]
        if len(vals) != len(sites):
            raise SteeringError(f"{len(vals)} strengths for {len(sites)} sites; give one per site or a single number.")
        out = {x: float(v) for x, v in zip(sites, vals)}
    for x, v in out.items():
        if not math.isfinite(v):
            raise SteeringError(f"The guidance strength at {x} is {v}; strengths must be finite.")
    return out


def _guide_fn(direction: torch.Tensor, strength: float, mode: str, only_last: bool):
    unit = direction.double() / direction.double().norm().clamp_min(1e-12)

    def fn(h: torch.Tensor, pos: CallPositions) -> torch.Tensor:
        x = h.float()
        w = unit.to(device=h.device, dtype=torch.float32)
        moved = x + strength * w
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
    concept: ConceptProbe | Mapping[SiteLike, torch.Tensor],
    strength: float | Sequence[float] | Mapping[SiteLike, float],
    sites: SiteLike | Sequence[SiteLike] | None = None,
    *,
    top_k: int | None = None,
    mode: Literal["norm_preserving", "add"] = "norm_preserving",
    only_last: bool = False,
) -> list[Transform]:
    """The edits that :func:`guide` installs (none when every strength is 0)."""
    if mode not in ("norm_preserving", "add"):
        raise SteeringError(f"mode must be 'norm_preserving' or 'add', got {mode!r}.")
    spec = resolve(model)
    if isinstance(concept, ConceptProbe):
        if concept.fingerprint is not None:
            diffs = concept.fingerprint.differences(Fingerprint.of(model))
            if diffs:
                raise IncompatibleArtifactError(f"This concept was made for another model ({'; '.join(diffs)}).")
        dirs = {spec.site(x): concept.directions()[x.layer] for x in concept.sites}
        if sites is None and top_k is not None:
            sites = concept.top_sites(top_k)
    else:
        dirs = {spec.site(as_site(k)): torch.as_tensor(v) for k, v in concept.items()}
        if top_k is not None:
            raise SteeringError("top_k needs a ConceptProbe (its accuracies rank the layers).")
    chosen = list(dirs) if sites is None else [spec.site(x) for x in as_sites(sites)]
    missing = [str(x) for x in chosen if x not in dirs]
    if missing:
        raise SiteError(
            f"The concept has no direction at {', '.join(missing)}; it covers {', '.join(map(str, dirs))} "
            "(a bare int means resid_post)."
        )
    for x in chosen:
        if dirs[x].shape != (spec.d_model,):
            raise ShapeError(f"The direction at {x} has shape {tuple(dirs[x].shape)}, the model's width is {spec.d_model}.")
    per_site = _strengths(strength, chosen, spec)
    return [Transform(x, _guide_fn(dirs[x], s, mode, only_last), positions="all") for x, s in per_site.items() if s != 0.0]


@contextmanager
def guide(
    model: torch.nn.Module,
    concept: ConceptProbe | Mapping[SiteLike, torch.Tensor],
    strength: float | Sequence[float] | Mapping[SiteLike, float],
    sites: SiteLike | Sequence[SiteLike] | None = None,
    *,
    top_k: int | None = None,
    mode: Literal["norm_preserving", "add"] = "norm_preserving",
    only_last: bool = False,
) -> Iterator[Intervention]:
    """Guide the model along a concept inside the ``with`` block.

    Args:
        concept: a :class:`ConceptProbe` or a ``{site: direction}`` mapping (a bare int key is ``resid_post``).
        strength: one number, one per site (a sequence aligned with ``sites``), or ``{site: strength}``.
        sites: where to guide (default: all of the concept's sites, or its ``top_k`` by train accuracy).
        top_k: guide the k sites with the best train accuracy.
        mode: ``"norm_preserving"`` (the seed's) or ``"add"``.
        only_last: guide only the last token of each forward call.
    """
    with intervene(model, guidance_edits(model, concept, strength, sites, top_k=top_k, mode=mode, only_last=only_last)) as handle:
        yield handle
