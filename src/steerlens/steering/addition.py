"""Activation additions (ActAdd): a steering prompt's residual, position by position, added to the input's.

An :class:`ActivationAddition` names a steering prompt (text or token ids), a strength and a site.
:meth:`ActAdd.build` runs each steering prompt once, keeps ``strength * h(prompt)`` (``[m, d]``, one
row per steering token, *not* averaged) and turns it into edits that add row ``k`` to the input's
token ``start + k`` on the prompt's forward pass. Generated tokens feel the addition only through
attention to the steered prompt positions, so cached and uncached generation give the same result.

Sites follow steerlens' one convention (a bare int ``n`` is ``resid_post.n``). The paper's "layer
``n``" is the residual stream *before* block ``n`` (TransformerLens ``blocks.n.hook_resid_pre``):
write it as ``Site(n, "resid_pre")`` or ``"resid_pre.n"``.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Union

import torch

from ..artifacts import Fingerprint, load_artifact, register, save_artifact
from ..errors import PositionError, ShapeError, SteeringError
from ..model.architectures import ModelSpec, resolve
from ..model.capture import capture
from ..model.intervene import Edit, Intervention, intervene
from ..model.positions import CallPositions, Positions
from ..model.site import Site, SiteLike, as_site
from ..model.tokens import encode, pad

__all__ = ["ActivationAddition", "x_vector", "ActAdd", "Location", "pad_prompt_tokens", "check_strength"]

#: Where the steering tensor lands in the input: ``"front"`` (row 0 on the input's first token, so
#: BOS meets BOS), ``"back"`` (its last row on the last prompt token), ``"mid"`` (centred:
#: start = n // 2 - m // 2), or an int offset from the first token.
Location = Union[Literal["front", "back", "mid"], int]


def check_strength(strength: Any) -> float:
    """``strength`` as a finite float, or a :class:`SteeringError` saying what it was."""
    if isinstance(strength, bool):
        raise SteeringError(f"The strength must be a number, got {strength!r}.")
    try:
        value = float(strength)
    except (TypeError, ValueError) as exc:
        raise SteeringError(f"The strength must be a number, got {strength!r}.") from exc
    if not math.isfinite(value):
        raise SteeringError(f"The strength must be finite, got {value}.")
    return value


@dataclass(frozen=True)
class ActivationAddition:
    """``strength`` times the residual of a steering prompt at ``site`` (a bare int ``n`` is ``resid_post.n``).

    Give exactly one of ``prompt`` (tokenised with the model's BOS, as the tokenizer adds it) or
    ``tokens`` (used as given: include BOS yourself if the alignment should start with it).
    """

    strength: float
    site: Site
    prompt: str | None = None
    tokens: tuple[int, ...] | None = None

    def __init__(
        self, strength: float, site: SiteLike, prompt: str | None = None, tokens: Sequence[int] | torch.Tensor | None = None
    ) -> None:
        if (prompt is None) == (tokens is None):
            raise SteeringError("An ActivationAddition needs exactly one of prompt= (text) or tokens= (ids).")
        if prompt is not None and not isinstance(prompt, str):
            raise SteeringError(f"prompt must be a string, got {type(prompt).__name__}.")
        if tokens is not None:
            ids = torch.as_tensor(tokens)
            if ids.dim() != 1 or ids.numel() == 0 or ids.is_floating_point():
                raise SteeringError(f"tokens must be a non-empty 1-D sequence of ids, got shape {tuple(ids.shape)}.")
            tokens = tuple(int(t) for t in ids.tolist())
        object.__setattr__(self, "strength", check_strength(strength))
        object.__setattr__(self, "site", as_site(site))
        object.__setattr__(self, "prompt", prompt)
        object.__setattr__(self, "tokens", tokens)

    def token_ids(self, tokenizer: Any) -> list[int]:
        """The steering tokens (the prompt encoded with the tokenizer's special tokens, or ``tokens``)."""
        if self.tokens is not None:
            return list(self.tokens)
        if tokenizer is None:
            raise SteeringError("A text ActivationAddition needs the tokenizer to be encoded.")
        assert self.prompt is not None  # __init__ requires exactly one of prompt and tokens
        ids = encode(tokenizer, [self.prompt])[0]
        if not ids:
            raise SteeringError(f"The steering prompt {self.prompt!r} encodes to no tokens.")
        return ids

    def describe(self) -> str:
        what = repr(self.prompt) if self.prompt is not None else f"tokens{list(self.tokens or ())}"
        return f"{self.strength:+g} x {what} @ {self.site}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "strength": self.strength,
            "site": str(self.site),
            "prompt": self.prompt,
            "tokens": list(self.tokens) if self.tokens is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ActivationAddition:
        return cls(d["strength"], Site.parse(d["site"]), prompt=d.get("prompt"), tokens=d.get("tokens"))


def _single_token(tokenizer: Any, pad_token: str | int) -> int:
    if isinstance(pad_token, int) and not isinstance(pad_token, bool):
        return pad_token
    ids = tokenizer.encode(pad_token, add_special_tokens=False)
    if len(ids) != 1:
        raise SteeringError(
            f"The pad token {pad_token!r} encodes to {len(ids)} tokens ({ids}); give a string that is one token, or an id."
        )
    return int(ids[0])


def x_vector(
    prompt1: str,
    prompt2: str,
    strength: float,
    site: SiteLike,
    *,
    tokenizer: Any = None,
    pad: Literal["tokens_right"] | None = "tokens_right",
    pad_token: str | int = " ",
) -> tuple[ActivationAddition, ActivationAddition]:
    """The pair ``(+strength * prompt1, -strength * prompt2)`` at one site (a bare int ``n`` is ``resid_post.n``).

    With ``pad="tokens_right"`` (the default) both prompts are tokenised (with BOS) and the shorter
    is right-padded with ``pad_token`` (a one-token string, by default a space, or a token id) to the
    length of the longer, so their difference is taken position by position over equal lengths; the
    pair is then token-based. ``pad=None`` keeps the texts as they are (the shorter one's tensor is
    simply shorter).
    """
    c = check_strength(strength)
    for name, p in (("prompt1", prompt1), ("prompt2", prompt2)):
        if not isinstance(p, str):
            raise SteeringError(f"{name} must be a string, got {type(p).__name__}.")
    if pad is None:
        return ActivationAddition(c, site, prompt=prompt1), ActivationAddition(-c, site, prompt=prompt2)
    if pad == "tokens_left":
        raise SteeringError("pad='tokens_left' is not supported: left padding would misalign the BOS rows; use 'tokens_right'.")
    if pad != "tokens_right":
        raise SteeringError(f"pad must be 'tokens_right' or None, got {pad!r}.")
    if tokenizer is None:
        raise SteeringError("x_vector(pad='tokens_right') needs tokenizer= to tokenise and pad the prompts.")
    a, b = encode(tokenizer, [prompt1, prompt2])
    m = max(len(a), len(b))
    if len(a) != len(b):
        pid = _single_token(tokenizer, pad_token)
        a, b = a + [pid] * (m - len(a)), b + [pid] * (m - len(b))
    return ActivationAddition(c, site, tokens=a), ActivationAddition(-c, site, tokens=b)


def pad_prompt_tokens(ids: Sequence[int], m: int, pad_id: int, bos: bool = True) -> list[int]:
    """Insert ``m - 1`` pad tokens after the first token (BOS) so an ``m``-token addition overlaps no text.

    This is the seed's "pad" injection mode: the steering tensor's first row meets BOS, the others meet
    the inserted pads, and the text starts after them.
    """
    ids = list(ids)
    k = 1 if bos else 0
    return ids[:k] + [pad_id] * max(m - 1 if bos else m, 0) + ids[k:]


@dataclass(frozen=True, eq=False)
class _AlignedAdd(Edit):
    """Adds a ``[m, d]`` tensor to ``m`` consecutive prompt tokens per row (the ActAdd edit)."""

    site: Site
    delta: torch.Tensor
    location: Location = "front"
    dims: torch.Tensor | None = None  # [d] 0/1 mask of the residual dimensions that change
    positions: Positions = "prompt"
    label: str = ""

    def validate(self, spec: ModelSpec) -> _AlignedAdd:
        d = spec.width(self.site)
        if self.delta.dim() != 2 or self.delta.shape[-1] != d:
            raise ShapeError(f"A steering tensor at {spec.site(self.site)} must be [tokens, {d}], got {tuple(self.delta.shape)}.")
        return _AlignedAdd(spec.site(self.site), self.delta, self.location, self.dims, "prompt", self.label)

    def starts(self, plen: torch.Tensor) -> torch.Tensor:
        m = self.delta.shape[0]
        if self.location == "front":
            return torch.zeros_like(plen)
        if self.location == "back":
            return plen - m
        if self.location == "mid":
            return plen // 2 - m // 2
        return torch.full_like(plen, int(self.location))

    def write(self, h: torch.Tensor, sel: torch.Tensor, slot: torch.Tensor | None, pos: CallPositions) -> torch.Tensor:
        m = self.delta.shape[0]
        plen = pos.prompt_len.to(h.device)
        start = self.starts(plen)
        bad = (start < 0) | (start + m > plen)
        if bool(bad.any()):
            row = int(bad.nonzero()[0, 0])
            raise PositionError(
                f"The steering tensor {self.label or ''} has {m} tokens but prompt row {row} has {int(plen[row])} tokens "
                f"(placed at {self.location!r}, it would start at {int(start[row])}); use a longer prompt, a shorter "
                "steering prompt, or pad the input (injection='pad')."
            )
        idx = pos.logical.to(h.device) - start[:, None]
        hit = sel & (idx >= 0) & (idx < m)
        if not bool(hit.any()):
            return h
        d = self.delta.to(device=h.device, dtype=h.dtype)[idx.clamp(0, m - 1)]
        if self.dims is not None:
            d = d * self.dims.to(device=h.device, dtype=h.dtype)
        return h + d * hit[..., None].to(h.dtype)


def _dims_mask(dims: slice | float | None, d: int) -> torch.Tensor | None:
    if dims is None:
        return None
    if isinstance(dims, float):
        if not 0.0 <= dims <= 1.0:
            raise SteeringError(f"A fraction of dimensions must lie in [0, 1], got {dims}.")
        dims = slice(0, round(dims * d))
    if not isinstance(dims, slice):
        raise SteeringError(f"dims must be a slice of the hidden dimensions or a fraction in [0, 1], got {dims!r}.")
    mask = torch.zeros(d)
    mask[dims] = 1.0
    return mask


@dataclass
class ActAdd:
    """Activation additions made concrete on one model: each addition's steering tensor.

    Build with :meth:`build`; apply with ``with steering.apply(model): ...`` or pass
    :meth:`edits` to :func:`~steerlens.model.intervene.intervene`. Additions at the same site add up.

    Attributes:
        additions: the additions, in order.
        tensors: per addition, ``strength * h`` at its site, ``[m_i, d]``.
        location: where the tensors land (:data:`Location`).
        dims: the residual dimensions that change (a slice or a fraction from the front), or all.
    """

    additions: list[ActivationAddition]
    tensors: list[torch.Tensor]
    location: Location = "front"
    dims: slice | float | None = None
    fingerprint: Fingerprint | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        model: torch.nn.Module,
        tokenizer: Any,
        additions: Sequence[ActivationAddition] | ActivationAddition,
        *,
        location: Location = "front",
        dims: slice | float | None = None,
    ) -> ActAdd:
        """Run each steering prompt once (one batched pass that stops at the deepest site) and keep its tensor."""
        if isinstance(additions, ActivationAddition):
            additions = [additions]
        additions = list(additions)
        if not additions:
            raise SteeringError("ActAdd.build needs at least one ActivationAddition.")
        bad = [a for a in additions if not isinstance(a, ActivationAddition)]
        if bad:
            raise SteeringError(f"Expected ActivationAddition objects, got {bad[0]!r}.")
        _check_location(location)
        spec = resolve(model)
        rows = [a.token_ids(tokenizer) for a in additions]
        sites = sorted({spec.site(a.site) for a in additions}, key=lambda s: (s.layer, s.point))
        acts = capture(model, pad(rows), sites, progress=False)
        tensors = [a.strength * acts[spec.site(a.site)][i, : len(rows[i])].float() for i, a in enumerate(additions)]
        _dims_mask(dims, spec.d_model)  # validate early
        if location == "front" and len({r[0] for r in rows}) > 1:
            warnings.warn(
                "ActAdd: the steering prompts do not start with the same token (as when the tokenizer adds no BOS), so "
                "the steering tensor's first row does not cancel and lands on the prompt's first position, which "
                "most models use as an attention sink (residual norms many times the others'). ActAdd's recipe "
                "assumes a shared BOS row there. Put the same token before the prompt and every steering prompt "
                "(e.g. the EOS text, '<|endoftext|>' on SmolLM2), or steer with a trained vector instead.",
                stacklevel=2,
            )
        return cls(additions, tensors, location, dims, Fingerprint.of(model))

    @property
    def max_len(self) -> int:
        """Tokens of the longest steering tensor."""
        return max(t.shape[0] for t in self.tensors)

    def edits(self, model: torch.nn.Module | None = None) -> list[Edit]:
        """The edits that apply these additions (pass ``model`` to check they were built for it)."""
        if model is not None:
            self._check_model(model)
        d = self.tensors[0].shape[-1]
        mask = _dims_mask(self.dims, d)
        return [_AlignedAdd(a.site, t, self.location, mask, "prompt", a.describe()) for a, t in zip(self.additions, self.tensors)]

    @contextmanager
    def apply(self, model: torch.nn.Module) -> Iterator[Intervention]:
        """Context manager: the model runs with these additions inside the block."""
        with intervene(model, self.edits(model)) as handle:
            yield handle

    def _check_model(self, model: torch.nn.Module) -> None:
        spec = resolve(model)
        d = self.tensors[0].shape[-1]
        if d != spec.d_model:
            raise ShapeError(f"These additions have width {d}, but the model's hidden size is {spec.d_model}.")

    def summed(self, site: SiteLike | None = None) -> torch.Tensor:
        """The front-aligned sum of the tensors at one site (``[max m, d]``, zero-padded)."""
        sites = {a.site for a in self.additions}
        if site is None:
            if len(sites) != 1:
                raise SteeringError(f"These additions use {len(sites)} sites; name the one to sum.")
            site = next(iter(sites))
        site = as_site(site)
        chosen = [t for a, t in zip(self.additions, self.tensors) if a.site == site]
        if not chosen:
            raise SteeringError(f"No addition at {site}; sites: {', '.join(map(str, sites))}.")
        m = max(t.shape[0] for t in chosen)
        out = torch.zeros(m, chosen[0].shape[-1])
        for t in chosen:
            out[: t.shape[0]] += t
        return out

    def norms(self, site: SiteLike | None = None) -> torch.Tensor:
        """Per-position L2 norm of the summed steering tensor at one site (``[max m]``)."""
        return self.summed(site).norm(dim=-1)

    def describe(self) -> str:
        return "; ".join(a.describe() for a in self.additions)

    def save(self, path: str | os.PathLike[str]) -> Any:
        """Save as a steerlens artifact (the additions and their computed tensors)."""
        tensors = {f"tensor.{i}": t for i, t in enumerate(self.tensors)}
        dims: slice | float | dict[str, Any] | None = self.dims
        if isinstance(dims, slice):
            dims = {"start": dims.start, "stop": dims.stop, "step": dims.step}
        config = {"additions": [a.to_dict() for a in self.additions], "location": self.location, "dims": dims}
        return save_artifact(path, "activation_additions", tensors, config, fingerprint=self.fingerprint)

    @classmethod
    def load(cls, path: str | os.PathLike[str], model: torch.nn.Module | None = None) -> ActAdd:
        """Load saved additions (given ``model``, refuse ones made for another model)."""
        return _load_actadd(load_artifact(path, model=model, kind="activation_additions"), model)


@register("activation_additions")
def _load_actadd(art, model) -> ActAdd:
    cfg = art.config
    adds = [ActivationAddition.from_dict(d) for d in cfg["additions"]]
    tensors = [art.tensors[f"tensor.{i}"] for i in range(len(adds))]
    dims = cfg.get("dims")
    if isinstance(dims, dict):
        dims = slice(dims["start"], dims["stop"], dims["step"])
    return ActAdd(adds, tensors, cfg.get("location", "front"), dims, art.fingerprint)


def _check_location(location: Any) -> None:
    if location in ("front", "back", "mid"):
        return
    if isinstance(location, int) and not isinstance(location, bool) and location >= 0:
        return
    raise SteeringError(f"location must be 'front', 'back', 'mid' or a non-negative token offset, got {location!r}.")
