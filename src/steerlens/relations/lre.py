"""Linear relational embeddings (LREs): affine maps from a subject's activation to the object's.

For a prompt that names a subject and is followed by its object (``"The capital of France is" +
" Paris"``), let ``s`` be the residual stream leaving block ``subject_layer`` at the subject's last
token, and ``o`` the residual stream leaving block ``object_layer``, averaged over the tokens that
predict the answer (``aggregation="mean"``) or taken at the last prompt token (``"first_token"``).
The LRE is the first-order approximation of ``s -> o`` around the prompts' own subjects::

    W = mean_i  d o_i / d s_i        b = mean_i (o_i - W_i s_i)        R(s) = beta * W s + b

Layers follow steerlens's convention: layer ``l`` is ``Site(l, "resid_post")``, the output of
block ``l`` (linear-relational's "layer l" too). The Jacobians come from
:func:`~steerlens.relations.jacobian.jacobians`; prompts are located by
:mod:`~steerlens.relations.locate`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..artifacts import Fingerprint, load_artifact, register, save_artifact
from ..distributed import all_reduce_sum, is_main, share
from ..errors import DataFormatError, ShapeError
from ..model.architectures import resolve
from .data import Prompt, balance_grouped
from .jacobian import jacobians
from .locate import Aggregation, relation_sites

__all__ = ["Lre", "LowRankLre", "InvertedLre", "train_lre"]


def _check_rank(rank: int, d: int) -> int:
    if isinstance(rank, bool) or not isinstance(rank, int):
        raise ShapeError(f"rank must be an int, got {rank!r}.")
    if not 1 <= rank <= d:
        raise ShapeError(f"rank must be between 1 and the hidden size {d}, got {rank}.")
    return rank


def _as_batch(x: torch.Tensor, d: int, what: str) -> tuple[torch.Tensor, bool]:
    x = torch.as_tensor(x)
    if x.dim() not in (1, 2) or x.shape[-1] != d:
        raise ShapeError(f"{what}: expected [{d}] or [n, {d}], got shape {tuple(x.shape)}.")
    return (x[None], True) if x.dim() == 1 else (x, False)


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


@dataclass
class _LreBase:
    relation: str
    subject_layer: int
    object_layer: int
    aggregation: Aggregation
    bias: torch.Tensor
    metadata: dict[str, Any] = field(default_factory=dict)
    fingerprint: Fingerprint | None = None

    @property
    def d_model(self) -> int:
        return int(self.bias.shape[-1])

    def _layers_str(self) -> str:
        return f"layers {self.subject_layer} -> {self.object_layer}, {self.aggregation}"


@dataclass
class Lre(_LreBase):
    """``R(s) = beta * W s + b``: subject activation -> object activation.

    Calling it on ``[d]`` gives ``[d]``; on ``[n, d]`` it gives ``[n, d]`` (one object per subject;
    use :meth:`mean` for the average).
    """

    weight: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    beta: float = 1.0

    def __post_init__(self) -> None:
        d = self.d_model
        if self.weight.shape != (d, d):
            raise ShapeError(f"Lre weight must be [{d}, {d}] to match the bias, got {tuple(self.weight.shape)}.")

    def __call__(self, subject: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        x, single = _as_batch(subject, self.d_model, "Lre input")
        w = self.weight
        out = self.beta * (x.to(w.dtype) @ w.T) + self.bias
        out = _normalize(out) if normalize else out
        return out[0] if single else out

    def mean(self, subjects: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """The mean of the objects of ``[n, d]`` subjects (what linear-relational's forward returns)."""
        out = self(subjects).reshape(-1, self.d_model).mean(0)
        return _normalize(out) if normalize else out

    def _svd(self, rank: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        _check_rank(rank, self.d_model)
        u, s, vh = torch.linalg.svd(self.weight.float(), full_matrices=False)
        dt = self.weight.dtype
        return u[:, :rank].to(dt).contiguous(), s[:rank].to(dt), vh[:rank].T.to(dt).contiguous()

    def to_low_rank(self, rank: int) -> LowRankLre:
        """The rank-``rank`` truncated-SVD approximation, stored as factors."""
        u, s, v = self._svd(rank)
        return LowRankLre(
            self.relation,
            self.subject_layer,
            self.object_layer,
            self.aggregation,
            self.bias.clone(),
            dict(self.metadata),
            self.fingerprint,
            u=u,
            s=s,
            v=v,
            beta=self.beta,
        )

    def invert(self, rank: int) -> InvertedLre:
        """The rank-``rank`` pseudo-inverse ``R+(o) = V_r S_r^-1 U_r^T (o - b)`` (of the un-scaled ``W``)."""
        u, s, v = self._svd(rank)
        return InvertedLre(
            self.relation,
            self.subject_layer,
            self.object_layer,
            self.aggregation,
            self.bias.clone(),
            dict(self.metadata),
            self.fingerprint,
            u=u,
            s=s,
            v=v,
        )

    def __repr__(self) -> str:
        beta = f", beta {self.beta:g}" if self.beta != 1.0 else ""
        return f"Lre({self.relation}, {self._layers_str()}{beta})"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save as a steerlens artifact (kind ``"lre"``)."""
        return save_artifact(
            path, "lre", {"weight": self.weight, "bias": self.bias}, self._config(), fingerprint=self.fingerprint
        )

    def _config(self) -> dict[str, Any]:
        return {
            "relation": self.relation,
            "subject_layer": self.subject_layer,
            "object_layer": self.object_layer,
            "aggregation": self.aggregation,
            "beta": getattr(self, "beta", 1.0),
            "metadata": self.metadata,
        }

    @classmethod
    def load(cls, path: str | os.PathLike[str], model: torch.nn.Module | None = None) -> Any:
        """Load an LRE (of any of the three kinds) saved with :meth:`save`."""
        art = load_artifact(path, model=model)
        if art.kind not in ("lre", "low_rank_lre", "inverted_lre"):
            raise DataFormatError(f"{path} holds a {art.kind!r} artifact, not an LRE.")
        return _LOADERS[art.kind](art, model)


@dataclass
class _Factored(_LreBase):
    u: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    s: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    v: torch.Tensor = field(default_factory=lambda: torch.zeros(0))

    def __post_init__(self) -> None:
        d, r = self.d_model, int(self.s.shape[0])
        if self.u.shape != (d, r) or self.v.shape != (d, r):
            raise ShapeError(
                f"Factors must be u, v: [{d}, r] and s: [r]; got {tuple(self.u.shape)}, "
                f"{tuple(self.s.shape)}, {tuple(self.v.shape)}."
            )

    @property
    def rank(self) -> int:
        return int(self.s.shape[0])

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save as a steerlens artifact."""
        kind = "low_rank_lre" if isinstance(self, LowRankLre) else "inverted_lre"
        return save_artifact(
            path,
            kind,
            {"u": self.u, "s": self.s, "v": self.v, "bias": self.bias},
            Lre._config(self),  # type: ignore[arg-type]  # _config reads only _LreBase fields (and getattr "beta")
            fingerprint=self.fingerprint,
        )


@dataclass
class LowRankLre(_Factored):
    """``R(s) = beta * U diag(S) V^T s + b`` with rank-r factors (no d x d matrix is formed)."""

    beta: float = 1.0

    def __call__(self, subject: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        x, single = _as_batch(subject, self.d_model, "LowRankLre input")
        x = x.to(self.u.dtype)
        out = self.beta * (((x @ self.v) * self.s) @ self.u.T) + self.bias
        out = _normalize(out) if normalize else out
        return out[0] if single else out

    mean = Lre.mean

    def __repr__(self) -> str:
        return f"LowRankLre({self.relation}, rank {self.rank}, {self._layers_str()})"


@dataclass
class InvertedLre(_Factored):
    """``R+(o) = V diag(1/S) U^T (o - b)``: object activation -> subject activation (rank r)."""

    def __call__(self, obj: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        x, single = _as_batch(obj, self.d_model, "InvertedLre input")
        out = self.w_inv_times(x.to(self.u.dtype) - self.bias)
        out = _normalize(out) if normalize else out
        return out[0] if single else out

    def w_inv_times(self, x: torch.Tensor) -> torch.Tensor:
        """``V diag(1/S) U^T x`` for ``[d]`` or ``[n, d]`` (no bias)."""
        return ((x @ self.u) / self.s) @ self.v.T

    def mean(self, objects: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """``R+`` of each object, averaged (linear-relational's forward)."""
        out = self(objects).reshape(-1, self.d_model).mean(0)
        return _normalize(out) if normalize else out

    def __repr__(self) -> str:
        return f"InvertedLre({self.relation}, rank {self.rank}, {self._layers_str()})"


def train_lre(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[Prompt],
    subject_layer: int,
    object_layer: int,
    *,
    relation: str = "",
    aggregation: Aggregation = "mean",
    max_samples: int | None = None,
    beta: float = 1.0,
    seed: int | str = 42,
    batch_size: int = 1,
    chunk_size: int | None = 128,
    progress: bool | None = None,
) -> Lre:
    """Estimate an LRE from prompts (with their answers) by averaging per-prompt first-order approximations.

    Args:
        model: The model the LRE describes.
        tokenizer: Its tokenizer.
        prompts: Prompts the model answers correctly (see :class:`~steerlens.relations.PromptValidator`).
        subject_layer: The block whose output is ``s`` (negative: from the end).
        object_layer: The block whose output is ``o`` (negative: from the end).
        relation: Name stored with the LRE.
        aggregation: ``"mean"`` over the answer-predicting tokens, or ``"first_token"``.
        max_samples: Use at most this many prompts, balanced round-robin across objects (seeded).
        beta: Slope correction of the LRE paper's estimator (``R(s) = beta W s + b``); 1 = none.
        batch_size: Prompts per forward pass; chunk_size: Jacobian rows per vectorised VJP.
    """
    if not prompts:
        raise DataFormatError("train_lre needs at least one prompt.")
    spec = resolve(model)
    s_site, o_site = relation_sites(spec, subject_layer, object_layer)
    if max_samples is not None:
        groups: dict[str, list[Prompt]] = {}
        for p in prompts:
            groups.setdefault(p.object_name, []).append(p)
        prompts = balance_grouped(groups, max_total=max_samples, seed=seed)
    mine = share(list(prompts), model, "prompts")  # under a process group, each rank its share; the sums are added up
    d = spec.d_model
    w_sum = torch.zeros(d, d, dtype=torch.float64)
    b_sum = torch.zeros(d, dtype=torch.float64)
    dt = next(model.parameters()).dtype
    if mine:
        jac, s, o = jacobians(
            model,
            tokenizer,
            mine,
            s_site.layer,
            o_site.layer,
            aggregation=aggregation,
            batch_size=batch_size,
            chunk_size=chunk_size,
            progress=progress and is_main(),
        )
        w_sum += jac.double().sum(0).cpu()
        b_sum += (o.double() - torch.einsum("nij,nj->ni", jac.double(), s.double())).sum(0).cpu()
        dt = jac.dtype
    all_reduce_sum(w_sum)
    all_reduce_sum(b_sum)
    w, b = w_sum / len(prompts), b_sum / len(prompts)
    return Lre(
        relation,
        s_site.layer,
        o_site.layer,
        aggregation,
        b.to(dt).cpu(),
        {"num_prompts": len(prompts)},
        Fingerprint.of(model),
        weight=w.to(dt).cpu(),
        beta=float(beta),
    )


def _load_lre(art, model) -> Lre:
    c = art.config
    return Lre(
        c["relation"],
        c["subject_layer"],
        c["object_layer"],
        c["aggregation"],
        art.tensors["bias"],
        c.get("metadata") or {},
        art.fingerprint,
        weight=art.tensors["weight"],
        beta=float(c.get("beta", 1.0)),
    )


def _load_factored(cls):
    def load(art, model):
        c = art.config
        kw = {"beta": float(c.get("beta", 1.0))} if cls is LowRankLre else {}
        return cls(
            c["relation"],
            c["subject_layer"],
            c["object_layer"],
            c["aggregation"],
            art.tensors["bias"],
            c.get("metadata") or {},
            art.fingerprint,
            u=art.tensors["u"],
            s=art.tensors["s"],
            v=art.tensors["v"],
            **kw,
        )

    return load


_LOADERS = {
    "lre": register("lre")(_load_lre),
    "low_rank_lre": register("low_rank_lre")(_load_factored(LowRankLre)),
    "inverted_lre": register("inverted_lre")(_load_factored(InvertedLre)),
}
