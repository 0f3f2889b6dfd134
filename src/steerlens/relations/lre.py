"""Linear relational embeddings (LREs): affine maps from a subject's activation to the object's.

For a prompt that names a subject and is followed by its object (``"The capital of France is" +
" Paris"``), let ``s`` be the residual stream leaving block ``subject_layer`` at the subject's last
token, and ``o`` the residual stream leaving block ``object_layer``, averaged over the tokens that
predict the answer (``aggregation="mean"``) or taken at the last prompt token (``"first_token"``).
The LRE is the first-order approximation of ``s -> o`` around the prompts' own subjects::

    W = mean_i  d o_i / d s_i        b = mean_i (o_i - W_i s_i)        R(s) = beta * W s + b

Layers follow steerlens's convention: layer ``l`` is ``Site(l, "resid_post")``, the output of
block ``l`` (linear-relational's "layer l" too). Jacobians are computed exactly, batched over
prompts, with ``torch.func`` (one forward pass per batch, then vectorised vector-Jacobian products,
chunked to bound memory); the forward pass stops at the object layer. The tokens before the subject
run once into a fresh KV cache that the single differentiated call uses once (the seed re-used one
mutable cache across calls, which corrupts its Jacobians), so the result is the plain autograd
Jacobian of the whole sequence.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from tqdm.auto import tqdm

from ..artifacts import Fingerprint, load_artifact, register, save_artifact
from ..errors import DataFormatError, ShapeError, SiteError, SpanNotFoundError
from ..model.architectures import ModelSpec, cache_kwargs, resolve
from ..model.capture import _Stop, capture
from ..model.hooks import hook_group
from ..model.site import Site
from ..model.tokens import _offsets, char_span_to_tokens, pad
from .data import Prompt, balance_grouped

__all__ = [
    "Aggregation",
    "Located",
    "locate",
    "locate_answer",
    "Lre",
    "LowRankLre",
    "InvertedLre",
    "train_lre",
    "jacobians",
    "subject_activations",
    "object_activations",
]

Aggregation = Literal["mean", "first_token"]


@dataclass(frozen=True)
class Located:
    """Token positions of one prompt + answer: ``ids`` (BOS included), the subject's last token, and
    the positions that predict the answer's tokens (``answer_start - 1 .. answer_end - 2``)."""

    ids: list[int]
    subject: int
    predict: tuple[int, ...]
    prompt_len: int

    def object_positions(self, aggregation: Aggregation) -> tuple[int, ...]:
        """Positions whose activations make the object activation."""
        return self.predict if aggregation == "mean" else self.predict[:1]


def _check_aggregation(aggregation: str) -> None:
    if aggregation not in ("mean", "first_token"):
        raise DataFormatError(f"aggregation must be 'mean' or 'first_token', got {aggregation!r}.")


def locate(tokenizer: Any, prompt: Prompt, with_answer: bool = True) -> Located:
    """Tokenise ``prompt.text + " " + prompt.answer`` (stripped) and find the subject and answer tokens.

    The subject is its **last** occurrence in the prompt text; its last token is the subject position.

    Raises:
        SpanNotFoundError: the subject is not in the text, or the answer shares a token with the prompt
            so that the tokenizer cannot place it.
    """
    text = prompt.text.strip()
    answer = prompt.answer.strip()
    cs = text.rfind(prompt.subject)
    if cs < 0:
        raise SpanNotFoundError(f"The subject {prompt.subject!r} does not occur in the prompt {text!r}.")
    if not with_answer:
        ids, offsets = _offsets(tokenizer, text)
        _, subj_end = char_span_to_tokens(offsets, cs, cs + len(prompt.subject))
        return Located(ids, subj_end - 1, (len(ids) - 1,), len(ids))
    ids, offsets, (a0, a1) = _answer_tokens(tokenizer, text, answer)
    _, subj_end = char_span_to_tokens(offsets, cs, cs + len(prompt.subject))
    if subj_end > a0:
        raise SpanNotFoundError(f"The subject {prompt.subject!r} runs into the answer {answer!r} in {text!r}.")
    return Located(ids, subj_end - 1, tuple(range(a0 - 1, a1 - 1)), a0)


def _answer_tokens(tokenizer: Any, text: str, answer: str) -> tuple[list[int], list[tuple[int, int]], tuple[int, int]]:
    full = f"{text} {answer}"
    ids, offsets = _offsets(tokenizer, full)
    a0, a1 = char_span_to_tokens(offsets, len(text) + 1, len(full))
    if offsets[a0][0] < len(text):
        raise SpanNotFoundError(
            f"The tokenizer merges the end of {text!r} with the answer {answer!r} into one token, so the answer "
            "cannot be placed; end the prompt on a word boundary."
        )
    return ids, offsets, (a0, a1)


def locate_answer(tokenizer: Any, text: str, answer: str) -> tuple[list[int], tuple[int, ...]]:
    """Tokens of ``text.strip() + " " + answer.strip()`` and the positions that predict the answer's tokens."""
    if not answer.strip():
        raise SpanNotFoundError(f"Empty answer for {text!r}.")
    ids, _, (a0, a1) = _answer_tokens(tokenizer, text.strip(), answer.strip())
    return ids, tuple(range(a0 - 1, a1 - 1))


def _layers(spec: ModelSpec, subject_layer: int, object_layer: int) -> tuple[Site, Site]:
    s = spec.site(Site(subject_layer, "resid_post"))
    o = spec.site(Site(object_layer, "resid_post"))
    if s.layer > o.layer:
        raise SiteError(
            f"The subject layer ({s.layer}) comes after the object layer ({o.layer}); the object is read downstream "
            "of the subject, so pick subject_layer <= object_layer."
        )
    return s, o


def _weights(located: Sequence[Located], aggregation: Aggregation, width: int) -> torch.Tensor:
    """``[n, width]`` aggregation weights over positions (1/k on the k object positions)."""
    w = torch.zeros(len(located), width)
    for i, loc in enumerate(located):
        pos = list(loc.object_positions(aggregation))
        w[i, pos] = 1.0 / len(pos)
    return w


def subject_activations(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[Prompt],
    layer: int,
    *,
    batch_size: int = 16,
) -> torch.Tensor:
    """``[n, d]`` activations leaving block ``layer`` at each prompt's subject token (fp32, CPU).

    The prompt text is run without its answer (the answer comes after the subject and cannot change it).
    """
    spec = resolve(model)
    site = spec.site(Site(layer, "resid_post"))
    if not prompts:
        return torch.zeros(0, spec.d_model)
    located = [locate(tokenizer, p, with_answer=False) for p in prompts]
    return capture(
        model,
        pad([loc.ids for loc in located]),
        site,
        positions=torch.tensor([loc.subject for loc in located]),
        batch_size=batch_size,
        dtype=torch.float32,
        offload=True,
        progress=False,
    )[site]


def object_activations(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[Prompt],
    layer: int,
    *,
    aggregation: Aggregation = "mean",
    batch_size: int = 16,
) -> torch.Tensor:
    """``[n, d]`` object activations: block ``layer``'s output over the answer-predicting tokens of
    ``prompt + " " + answer``, averaged (``"mean"``) or at the last prompt token (``"first_token"``)."""
    _check_aggregation(aggregation)
    spec = resolve(model)
    site = spec.site(Site(layer, "resid_post"))
    if not prompts:
        return torch.zeros(0, spec.d_model)
    located = [locate(tokenizer, p) for p in prompts]
    h = capture(
        model, pad([loc.ids for loc in located]), site, batch_size=batch_size, dtype=torch.float32, offload=True, progress=False
    )[site]
    return torch.einsum("bt,btd->bd", _weights(located, aggregation, h.shape[1]), h)


def jacobians(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[Prompt],
    subject_layer: int,
    object_layer: int,
    *,
    aggregation: Aggregation = "mean",
    batch_size: int = 1,
    chunk_size: int | None = 128,
    progress: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-prompt Jacobians ``d o / d s`` with the subject and object activations.

    Returns:
        ``(J [n, d, d], s [n, d], o [n, d])`` on the model's device and dtype.

    Each batch runs one forward pass (stopping at the object layer) under ``torch.func.vjp``, with the
    subject token's activation replaced by the differentiated input; the ``d`` rows of every prompt's
    Jacobian then come from vectorised VJPs, ``chunk_size`` at a time (``None``: all at once).
    Prompts in a batch are independent, so one cotangent ``e_k`` on every row gives row ``k`` of all
    their Jacobians together; but every row then runs from the batch's earliest subject token to its
    longest row, padding included, which on CPU costs more than it saves (measured: 8 ICL prompts on
    gemma-3-270m, 13.9 s at batch_size 1, 65.8 s at 8), hence the default of 1.
    """
    _check_aggregation(aggregation)
    spec = resolve(model)
    s_site, o_site = _layers(spec, subject_layer, object_layer)
    located = [locate(tokenizer, p) for p in prompts]
    d = spec.d_model
    device = next(model.parameters()).device
    chunk = d if chunk_size is None else int(chunk_size)
    if chunk < 1:
        raise ShapeError(f"chunk_size must be >= 1 or None, got {chunk_size}.")
    # batches of prompts with similar subject positions: the tokens before a batch's first subject
    # token do not depend on it, so they run once (into a fresh KV cache) and the differentiated
    # pass, forward and backward, covers only the tokens from there on
    order = sorted(range(len(located)), key=lambda i: located[i].subject)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    jac_out = torch.empty(len(located), d, d, device=device, dtype=next(model.parameters()).dtype)
    s_out = torch.empty(len(located), d, device=device, dtype=jac_out.dtype)
    o_out = torch.empty_like(s_out)
    show = len(batches) > 1 if progress is None else progress
    for idx in tqdm(batches, desc="LRE Jacobians", unit="batch", disable=not show):
        part = [located[i] for i in idx]
        # tokens after the last answer-predicting position cannot change the object activation
        rows = [loc.ids[: loc.predict[-1] + 1] for loc in part]
        batch = pad(rows, side="right").to(device)
        positions = batch.position_ids()
        subj = torch.tensor([loc.subject for loc in part], device=device)
        ar = torch.arange(len(part), device=device)
        s = capture(model, batch, s_site, positions=subj.cpu(), batch_size=len(part), offload=False, progress=False)[s_site]
        start = int(subj.min())
        prefix = _prefix_cache(model, spec, batch, positions, start, o_site) if start > 0 else None
        w = _weights(part, aggregation, batch.input_ids.shape[1])[:, start:].to(device=device, dtype=s.dtype)
        ids = batch.input_ids[:, start:]
        pos_ids = positions[:, start:]
        local = subj - start

        def f(
            x: torch.Tensor, ids=ids, pos_ids=pos_ids, mask=batch.attention_mask, prefix=prefix, local=local, ar=ar, w=w
        ) -> tuple[torch.Tensor, torch.Tensor]:
            got: dict[str, torch.Tensor] = {}

            def write(h: torch.Tensor) -> torch.Tensor:
                return h.index_put((ar, local), x.to(h.dtype))

            def read(h: torch.Tensor) -> None:
                got["o"] = h
                raise _Stop

            cache = copy.deepcopy(prefix) if prefix is not None else None
            with hook_group(spec) as g:
                g.add_site(s_site, write)
                g.add_site(o_site, read)
                try:
                    model(
                        input_ids=ids,
                        attention_mask=mask,
                        position_ids=pos_ids,
                        **cache_kwargs(model, cache),
                        use_cache=cache is not None,
                    )
                except _Stop:
                    pass
            o = torch.einsum("bt,btd->bd", w, got["o"])
            return o, o.detach()

        # the math SDPA backend is made of plain ops, whose backward vmap can batch (the fused
        # kernels' backward has no batching rule and would fall back to a slow per-row loop)
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
            _, vjp_fn, o = torch.func.vjp(f, s, has_aux=True)
            eye = torch.eye(d, device=device, dtype=s.dtype)
            rows_out = []
            for k in range(0, d, chunk):
                cot = eye[k : k + chunk, None, :].expand(-1, len(part), d)
                rows_out.append(torch.func.vmap(vjp_fn)(cot)[0])  # [c, b, d_in]
            where = torch.tensor(idx, device=device)
            jac_out[where] = torch.cat(rows_out).permute(1, 0, 2).to(jac_out.dtype)  # [b, d_out, d_in]
        s_out[where] = s.to(s_out.dtype)
        o_out[where] = o.to(o_out.dtype)
    return jac_out, s_out, o_out


def _prefix_cache(model: torch.nn.Module, spec: ModelSpec, batch: Any, positions: torch.Tensor, start: int, last: Site) -> Any:
    """A KV cache of the first ``start`` tokens (real in every row), filled up to block ``last``."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)

    def stop(h: torch.Tensor) -> None:
        raise _Stop

    with hook_group(spec) as g, torch.no_grad():
        g.add_site(last, stop)
        try:
            model(
                input_ids=batch.input_ids[:, :start],
                attention_mask=batch.attention_mask[:, :start],
                position_ids=positions[:, :start],
                **cache_kwargs(model, cache),
                use_cache=True,
            )
        except _Stop:
            pass
    return cache


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
            Lre._config(self),
            fingerprint=self.fingerprint,
        )  # type: ignore[arg-type]


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
        model, tokenizer: The model the LRE describes.
        prompts: Prompts the model answers correctly (see :class:`~steerlens.relations.PromptValidator`).
        subject_layer, object_layer: Blocks whose outputs are ``s`` and ``o`` (negative: from the end).
        relation: Name stored with the LRE.
        aggregation: ``"mean"`` over the answer-predicting tokens, or ``"first_token"``.
        max_samples: Use at most this many prompts, balanced round-robin across objects (seeded).
        beta: Slope correction of the LRE paper's estimator (``R(s) = beta W s + b``); 1 = none.
        batch_size: Prompts per forward pass; chunk_size: Jacobian rows per vectorised VJP.
    """
    if not prompts:
        raise DataFormatError("train_lre needs at least one prompt.")
    spec = resolve(model)
    s_site, o_site = _layers(spec, subject_layer, object_layer)
    if max_samples is not None:
        groups: dict[str, list[Prompt]] = {}
        for p in prompts:
            groups.setdefault(p.object_name, []).append(p)
        prompts = balance_grouped(groups, max_total=max_samples, seed=seed)
    jac, s, o = jacobians(
        model,
        tokenizer,
        prompts,
        s_site.layer,
        o_site.layer,
        aggregation=aggregation,
        batch_size=batch_size,
        chunk_size=chunk_size,
        progress=progress,
    )
    w = jac.float().mean(0)
    b = (o.float() - torch.einsum("nij,nj->ni", jac.float(), s.float())).mean(0)
    dt = jac.dtype
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
