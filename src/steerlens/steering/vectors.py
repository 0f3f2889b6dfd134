"""Contrastive steering vectors (CAA / repeng style): one direction per layer from (positive, negative) pairs.

:func:`train_steering_vector` reads each pair's activations at the chosen layers in one batched pass
that stops after the deepest layer (no LM head, no later blocks) and reduces the differences with
one of three methods:

* ``"mean_diff"``: mean over pairs of ``h(positive) - h(negative)`` (CAA);
* ``"pca"``: first principal direction of the per-pair differences (repeng's ``pca_diff``);
* ``"logistic"``: the weight direction of a logistic regression (scikit-learn) separating the two sides.

PCA and logistic directions are unit vectors that are sign-aligned with the mean difference and
then scaled by the mean difference's component along them, so a strength of 1 means "one average
positive-minus-negative step" for every method and strengths compare across methods.

A :class:`SteeringVector` is applied with ``vector.apply(model, strength, positions=...)``: at every position
(``"all"``), only at generated tokens (``"generated"``), or from a token index on (``From(k)``),
correctly on cached decode steps.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from .._io import json_records
from ..artifacts import Fingerprint, load_artifact, register, save_artifact
from ..errors import DataFormatError, ShapeError, SiteError, SteeringError
from ..model.architectures import resolve
from ..model.capture import capture
from ..model.intervene import Add, Intervention, intervene
from ..model.positions import Positions, check_positions
from ..model.site import Site, SiteLike, as_sites
from ..model.tokens import encode, pad

__all__ = ["ContrastPair", "read_pairs", "SteeringVector", "train_steering_vector", "Method"]

Method = Literal["mean_diff", "pca", "logistic"]
_METHODS = ("mean_diff", "pca", "logistic")


@dataclass(frozen=True)
class ContrastPair:
    """A positive and a negative text (e.g. the same question answered two ways)."""

    positive: str
    negative: str


def read_pairs(path: str | os.PathLike[str]) -> list[ContrastPair]:
    """Read pairs from JSONL (one ``{"positive": ..., "negative": ...}`` per line) or a JSON list of such objects.

    Raises:
        DataFormatError: naming the file and line of a missing field, a non-string value or bad JSON.
    """
    p = Path(path)
    if not p.is_file():
        raise DataFormatError(f"Pairs file {p} does not exist.")
    records, where = json_records(p)
    pairs = []
    for n, r in records:
        if not isinstance(r, dict):
            raise DataFormatError(f"{p}, {where} {n}: expected an object with 'positive' and 'negative', got {type(r).__name__}.")
        missing = [k for k in ("positive", "negative") if k not in r]
        if missing:
            raise DataFormatError(f"{p}, {where} {n}: missing field {' and '.join(repr(m) for m in missing)}.")
        for k in ("positive", "negative"):
            if not isinstance(r[k], str) or not r[k]:
                raise DataFormatError(f"{p}, {where} {n}: {k!r} must be a non-empty string.")
        pairs.append(ContrastPair(r["positive"], r["negative"]))
    if not pairs:
        raise DataFormatError(f"{p} holds no pairs.")
    return pairs


@dataclass
class SteeringVector:
    """One steering direction per layer, added at ``Site(layer, point)``.

    Attributes:
        directions: layer -> ``[d_model]`` vector.
        point: the site point (default ``"resid_post"``: the output of the block, as CAA/repeng add it).
        method: how it was made.
        meta: free-form provenance (pair count, read position ...).
    """

    directions: dict[int, torch.Tensor]
    point: str = "resid_post"
    method: str = "mean_diff"
    meta: dict[str, Any] = field(default_factory=dict)
    fingerprint: Fingerprint | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.directions:
            raise SteeringError("A SteeringVector needs at least one layer.")
        widths = {int(v.shape[-1]) for v in self.directions.values()}
        if len(widths) != 1 or any(v.dim() != 1 for v in self.directions.values()):
            raise ShapeError("A SteeringVector's directions must all be 1-D vectors of one width.")
        self.directions = {int(k): v.detach().float().cpu() for k, v in sorted(self.directions.items())}

    @property
    def layers(self) -> list[int]:
        return list(self.directions)

    @property
    def d_model(self) -> int:
        return int(next(iter(self.directions.values())).shape[0])

    @property
    def sites(self) -> list[Site]:
        """Where the directions are added: ``Site(layer, point)`` for each layer."""
        return [Site(x, self.point) for x in self.directions]  # type: ignore[arg-type]

    def edits(
        self,
        model: torch.nn.Module,
        strength: float = 1.0,
        positions: Positions = "all",
        sites: SiteLike | Sequence[SiteLike] | None = None,
    ) -> list[Add]:
        """:class:`Add` edits for the model: ``strength * direction`` at every site (or the given subset of them)."""
        from .addition import check_strength

        strength = check_strength(strength)
        check_positions(positions)
        spec = resolve(model)
        want = spec.width(self.sites[0])
        if self.d_model != want:
            what = f"hidden size is {want}" if spec.streams == 1 else f"width at {self.point} is {want}"
            raise ShapeError(f"This steering vector has width {self.d_model}, but the model's {what}.")
        own = {spec.site(s): s.layer for s in self.sites}
        chosen = list(own) if sites is None else [spec.site(s) for s in as_sites(sites)]
        missing = [str(s) for s in chosen if s not in own]
        if missing:
            raise SiteError(
                f"The steering vector has no direction at {', '.join(missing)}; it has "
                f"{', '.join(str(s) for s in self.sites)} (a bare int means resid_post)."
            )
        return [Add(s, self.directions[own[s]], positions=positions, strength=strength) for s in chosen]

    @contextmanager
    def apply(
        self,
        model: torch.nn.Module,
        strength: float = 1.0,
        positions: Positions = "all",
        sites: SiteLike | Sequence[SiteLike] | None = None,
    ) -> Iterator[Intervention]:
        """Context manager: add ``strength * direction`` at every chosen site inside the block."""
        with intervene(model, self.edits(model, strength, positions, sites)) as handle:
            yield handle

    def norms(self) -> dict[int, float]:
        return {k: float(v.norm()) for k, v in self.directions.items()}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save as a steerlens artifact."""
        tensors = {f"layer.{k}": v for k, v in self.directions.items()}
        config = {"point": self.point, "method": self.method, "layers": self.layers, "meta": self.meta}
        return save_artifact(path, "steering_vector", tensors, config, fingerprint=self.fingerprint)

    @classmethod
    def load(cls, path: str | os.PathLike[str], model: torch.nn.Module | None = None) -> SteeringVector:
        """Load a saved vector (given ``model``, refuse one made for another model)."""
        return _load_vector(load_artifact(path, model=model, kind="steering_vector"), model)

    def to_gguf(self, path: str | os.PathLike[str], model_hint: str | None = None) -> Path:
        """Write the llama.cpp control-vector GGUF (``--control-vector FILE``).

        llama.cpp adds tensor ``direction.N`` to the output of block ``N`` (0-based) for N >= 1, which
        is steerlens's ``Site(N, "resid_post")`` (= ``Site(N + 1, "resid_pre")``); block 0's output
        cannot be expressed in that format and is refused.
        """
        import gguf
        import numpy as np

        out = {}
        for layer, v in self.directions.items():
            n = layer if self.point == "resid_post" else layer - 1 if self.point == "resid_pre" else None
            if n is None:
                raise SteeringError(f"Only resid_post/resid_pre vectors map to llama.cpp control vectors, not {self.point}.")
            if n < 1:
                raise SteeringError(
                    f"Layer {layer} ({self.point}) is the output of block {n}; llama.cpp control vectors start at block 1."
                )
            out[n] = v
        hint = model_hint or (self.fingerprint.model_type if self.fingerprint else "") or "unknown"
        writer = gguf.GGUFWriter(str(path), "controlvector")
        writer.add_string("controlvector.model_hint", hint)
        writer.add_uint32("controlvector.layer_count", len(out))
        for n, v in out.items():
            writer.add_tensor(f"direction.{n}", v.numpy().astype(np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return Path(path)

    @classmethod
    def from_gguf(cls, path: str | os.PathLike[str]) -> SteeringVector:
        """Read a llama.cpp control-vector GGUF (``direction.N`` becomes ``Site(N, "resid_post")``)."""
        import gguf

        reader = gguf.GGUFReader(str(path))
        dirs = {}
        for t in reader.tensors:
            if not t.name.startswith("direction."):
                continue
            try:
                n = int(t.name.split(".", 1)[1])
            except ValueError as exc:
                raise DataFormatError(f"{path}: unexpected tensor name {t.name!r}.") from exc
            dirs[n] = torch.tensor(t.data.copy()).float().reshape(-1)
        if not dirs:
            raise DataFormatError(f"{path} holds no 'direction.N' tensors; it is not a control vector.")
        return cls(dirs, "resid_post", "gguf", {"source": str(path)})


@register("steering_vector")
def _load_vector(art, model) -> SteeringVector:
    cfg = art.config
    dirs = {int(k): art.tensors[f"layer.{k}"] for k in cfg["layers"]}
    return SteeringVector(
        dirs, cfg.get("point", "resid_post"), cfg.get("method", "mean_diff"), cfg.get("meta") or {}, art.fingerprint
    )


def _as_pairs(pairs: Any) -> list[ContrastPair]:
    if isinstance(pairs, (str, os.PathLike)):
        return read_pairs(pairs)
    out = []
    for i, p in enumerate(pairs):
        if isinstance(p, ContrastPair):
            out.append(p)
        elif isinstance(p, dict) and "positive" in p and "negative" in p:
            out.append(ContrastPair(p["positive"], p["negative"]))
        elif isinstance(p, (tuple, list)) and len(p) == 2:
            out.append(ContrastPair(p[0], p[1]))
        else:
            raise DataFormatError(
                f"Pair {i}: expected (positive, negative), a dict with those keys or a ContrastPair; got {p!r}."
            )
        if (
            not isinstance(out[-1].positive, str)
            or not isinstance(out[-1].negative, str)
            or not out[-1].positive
            or not out[-1].negative
        ):
            raise DataFormatError(f"Pair {i}: both texts must be non-empty strings.")
    if not out:
        raise DataFormatError("No pairs given.")
    return out


def train_steering_vector(
    model: torch.nn.Module,
    tokenizer: Any,
    pairs: Sequence[ContrastPair | tuple[str, str] | dict[str, str]] | str | os.PathLike[str],
    sites: SiteLike | Sequence[SiteLike],
    *,
    method: Method = "mean_diff",
    read: Literal["last", "mean"] | int = "last",
    batch_size: int = 32,
    progress: bool | None = None,
) -> SteeringVector:
    """Learn a steering vector from contrast pairs.

    Args:
        model: the model.
        tokenizer: its tokenizer.
        pairs: (positive, negative) texts, or a JSONL/JSON file of ``{"positive", "negative"}`` objects.
        sites: where to read and later steer, one site or several at one point (a bare int ``n`` is
            ``resid_post.n``, the block's output, where CAA and repeng add their vectors).
        method: ``"mean_diff"``, ``"pca"`` or ``"logistic"`` (see the module docs).
        read: which token's activation represents a text: ``"last"`` (default, as CAA/repeng),
            ``"mean"`` over its tokens, or a logical token index (negative from the end).
        batch_size: texts per forward pass.
    """
    if method not in _METHODS:
        raise SteeringError(f"method must be one of {', '.join(_METHODS)}, got {method!r}.")
    pair_list = _as_pairs(pairs)
    if method in ("pca", "logistic") and len(pair_list) < 2:
        raise SteeringError(f"method={method!r} needs at least 2 pairs, got {len(pair_list)}.")
    spec = resolve(model)
    given = as_sites(sites)
    points = sorted({s.point for s in given})
    if len(points) != 1:
        raise SiteError(f"A steering vector's sites must share one point, got {', '.join(points)}; train one vector per point.")
    point = points[0]
    site_list = [spec.site(s) for s in given]
    texts = [p.positive for p in pair_list] + [p.negative for p in pair_list]
    rows = encode(tokenizer, texts)
    empty = [texts[i] for i, r in enumerate(rows) if not r]
    if empty:
        raise DataFormatError(f"These texts encode to no tokens: {empty[:3]}.")
    lengths = torch.tensor([len(r) for r in rows])
    if read == "last":
        positions: Any = "last"
    elif read == "mean":
        positions = "all"
    elif isinstance(read, int) and not isinstance(read, bool):
        idx = torch.where(torch.tensor(read) < 0, lengths + read, torch.full_like(lengths, read))
        if bool(((idx < 0) | (idx >= lengths)).any()):
            bad = int(((idx < 0) | (idx >= lengths)).nonzero()[0, 0])
            raise SteeringError(f"read={read} is outside text {bad} ({int(lengths[bad])} tokens).")
        positions = idx
    else:
        raise SteeringError(f"read must be 'last', 'mean' or a token index, got {read!r}.")
    acts = capture(
        model, pad(rows), site_list, positions=positions, batch_size=batch_size, dtype=torch.float32, progress=progress
    )
    n = len(pair_list)
    directions: dict[int, torch.Tensor] = {}
    for site in site_list:
        h = acts[site]
        if read == "mean":
            m = acts.mask[:, : h.shape[1], None].float()  # type: ignore[index]
            h = (h * m).sum(1) / m.sum(1)
        pos, neg = h[:n].double(), h[n:].double()
        directions[site.layer] = _reduce(pos, neg, method).float()
    meta = {"pairs": n, "read": read if not isinstance(read, torch.Tensor) else int(read), "sites_given": [str(x) for x in given]}
    return SteeringVector(directions, point, method, meta, Fingerprint.of(model))


def _reduce(pos: torch.Tensor, neg: torch.Tensor, method: str) -> torch.Tensor:
    diff = pos - neg
    mean = diff.mean(0)
    if method == "mean_diff":
        return mean
    if method == "pca":
        from sklearn.decomposition import PCA

        unit = torch.from_numpy(PCA(n_components=1).fit(diff.numpy()).components_[0]).double()
    else:
        from sklearn.linear_model import LogisticRegression

        x = torch.cat([pos, neg]).numpy()
        y = [1] * pos.shape[0] + [0] * neg.shape[0]
        # standardise for the solver, then map the weights back to the raw activation space
        mu, sd = x.mean(0), x.std(0) + 1e-8
        clf = LogisticRegression(max_iter=2000).fit((x - mu) / sd, y)
        unit = torch.from_numpy(clf.coef_[0] / sd).double()
    unit = unit / unit.norm().clamp_min(1e-12)
    along = float(mean @ unit)
    if along < 0:
        unit, along = -unit, -along
    return unit * along
