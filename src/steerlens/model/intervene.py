"""Writing activations: composable edits at sites and token positions.

An edit names a :class:`~steerlens.model.site.Site`, the tokens it touches (a
:data:`~steerlens.model.positions.Positions` selector) and what it does there. ``intervene``
installs any number of edits for the duration of a ``with`` block. Positions are resolved for every
forward call from the attention mask and the KV cache, so an edit lands on the same tokens whether
the model runs cached or uncached, batched or one by one, left- or right-padded.

Example:
    >>> with intervene(model, [Add(Site(6), love_minus_hate, positions="all", strength=4.0)]):
    ...     out = generate(model, tokenizer, ["I hate you because"], max_new_tokens=20)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import PaddingError, ShapeError
from .architectures import ModelSpec, resolve
from .hooks import HookGroup
from .positions import CallPositions, Positions, PositionTracker, Tokens, call_inputs, check_positions, select
from .site import Site

__all__ = ["Edit", "Add", "Replace", "ProjectOut", "Transform", "WrapsEdit", "OnRows", "Intervention", "intervene"]


class Edit:
    """Base class of edits. Subclasses implement :meth:`write` on the selected tokens."""

    site: Site
    positions: Positions

    def validate(self, spec: ModelSpec) -> Edit:
        """Check the edit against the model; return it with a normalised site."""
        raise NotImplementedError

    def write(self, h: torch.Tensor, sel: torch.Tensor, slot: torch.Tensor | None, pos: CallPositions) -> torch.Tensor:
        """Return the new activation (a new tensor; ``h`` is never modified)."""
        raise NotImplementedError


def _check_vector(
    name: str, value: torch.Tensor, spec: ModelSpec, positions: Positions, per_row: bool, site: Site
) -> torch.Tensor:
    value = torch.as_tensor(value)
    if not value.is_floating_point():
        raise ShapeError(f"{name}: the vector must be floating point, got {value.dtype}.")
    d = spec.width(site)
    if value.shape[-1] != d:
        what = f"hidden size is {d}"
        if spec.streams > 1:
            what = f"width at {spec.site(site)} is {d} (its residual holds {spec.streams} streams of {spec.branch_width})"
        raise ShapeError(f"{name}: the vector's last dimension is {value.shape[-1]}, but the model's {what}.")
    if value.dim() == 1:
        if per_row:
            raise ShapeError(f"{name}: per_row=True needs a [batch, {d}] tensor, got a single vector.")
        return value
    if value.dim() != 2:
        raise ShapeError(f"{name}: expected [{d}] or [k, {d}], got shape {tuple(value.shape)}.")
    if not per_row and not isinstance(positions, Tokens):
        raise ShapeError(
            f"{name}: a [{value.shape[0]}, {d}] tensor needs either positions=Tokens([...]) with "
            f"{value.shape[0]} indices (row k goes to the k-th index) or per_row=True (one vector per batch row)."
        )
    if not per_row and isinstance(positions, Tokens) and len(positions.indices) != value.shape[0]:
        raise ShapeError(
            f"{name}: {value.shape[0]} vectors for {len(positions.indices)} token positions; give one vector per position."
        )
    return value


def _expand(value: torch.Tensor, h: torch.Tensor, slot: torch.Tensor | None, per_row: bool) -> torch.Tensor:
    """Broadcastable ``[b, t, d]`` (or ``[d]``) view of the edit vector for the current call."""
    value = value.to(device=h.device, dtype=h.dtype)
    if value.dim() == 1:
        return value
    if per_row:
        if value.shape[0] != h.shape[0]:
            raise ShapeError(f"per_row vectors: {value.shape[0]} rows given, but the batch has {h.shape[0]} rows.")
        return value[:, None, :]
    assert slot is not None
    return value[slot.clamp(min=0)]


@dataclass(frozen=True, eq=False)
class Add(Edit):
    """``h <- h + strength * delta`` at the selected tokens.

    ``delta`` is ``[d_model]`` (the same vector at every selected token), ``[K, d_model]`` with
    ``positions=Tokens(K indices)`` (aligned: row k at the k-th index, as ActAdd does), or ``[batch, d_model]``
    with ``per_row=True``.
    """

    site: Site
    delta: torch.Tensor
    positions: Positions = "all"
    strength: float = 1.0
    per_row: bool = False

    def validate(self, spec: ModelSpec) -> Add:  # noqa: D102
        check_positions(self.positions)
        delta = _check_vector("Add", self.delta, spec, self.positions, self.per_row, self.site)
        return Add(spec.site(self.site), delta, self.positions, float(self.strength), self.per_row)

    def write(self, h, sel, slot, pos):  # noqa: D102
        d = _expand(self.delta, h, slot, self.per_row)
        return h + (self.strength * d) * sel[..., None].to(h.dtype)


@dataclass(frozen=True, eq=False)
class Replace(Edit):
    """``h <- value`` at the selected tokens (same shapes as :class:`Add`)."""

    site: Site
    value: torch.Tensor
    positions: Positions = "all"
    per_row: bool = False

    def validate(self, spec: ModelSpec) -> Replace:  # noqa: D102
        check_positions(self.positions)
        value = _check_vector("Replace", self.value, spec, self.positions, self.per_row, self.site)
        return Replace(spec.site(self.site), value, self.positions, self.per_row)

    def write(self, h, sel, slot, pos):  # noqa: D102
        v = _expand(self.value, h, slot, self.per_row).expand_as(h)
        return torch.where(sel[..., None], v, h)


@dataclass(frozen=True, eq=False)
class ProjectOut(Edit):
    """Remove the component of ``h`` along ``directions`` (``[d]`` or ``[k, d]``, orthonormalised here)."""

    site: Site
    directions: torch.Tensor
    positions: Positions = "all"

    def validate(self, spec: ModelSpec) -> ProjectOut:  # noqa: D102
        check_positions(self.positions)
        dirs = torch.as_tensor(self.directions)
        if dirs.dim() == 1:
            dirs = dirs[None]
        d = spec.width(self.site)
        if dirs.dim() != 2 or dirs.shape[-1] != d:
            raise ShapeError(f"ProjectOut: directions must be [d] or [k, d] with d = {d}, got {tuple(dirs.shape)}.")
        q, r = torch.linalg.qr(dirs.double().T)
        if bool((r.diagonal().abs() < 1e-8).any()):
            raise ShapeError("ProjectOut: the directions are zero or linearly dependent.")
        return ProjectOut(spec.site(self.site), q.T.contiguous(), self.positions)

    def write(self, h, sel, slot, pos):  # noqa: D102
        q = self.directions.to(device=h.device, dtype=h.dtype)
        removed = h - (h @ q.T) @ q
        return torch.where(sel[..., None], removed, h)


@dataclass(frozen=True, eq=False)
class Transform(Edit):
    """Any function of the activation: ``fn(h, call) -> new h`` (``[batch, pos, d]``).

    Only the tokens ``positions`` selects take the function's result; the others keep their activation.
    ``call`` is the :class:`~steerlens.model.positions.CallPositions` of the current forward call.
    """

    site: Site
    fn: Callable[[torch.Tensor, CallPositions], torch.Tensor]
    positions: Positions = "all"

    def validate(self, spec: ModelSpec) -> Transform:  # noqa: D102
        check_positions(self.positions)
        if not callable(self.fn):
            raise ShapeError(f"Transform: fn must be callable, got {type(self.fn).__name__}.")
        return Transform(spec.site(self.site), self.fn, self.positions)

    def write(self, h, sel, slot, pos):  # noqa: D102
        new = self.fn(h, pos)
        if not isinstance(new, torch.Tensor) or new.shape != h.shape:
            shape = tuple(new.shape) if isinstance(new, torch.Tensor) else type(new).__name__
            raise ShapeError(f"Transform at {self.site}: fn returned {shape}, expected a tensor of shape {tuple(h.shape)}.")
        return torch.where(sel[..., None], new, h)


class WrapsEdit(Edit):
    """An edit that wraps another (:class:`OnRows`, ``Conditional``): it acts at the wrapped edit's site and tokens."""

    edit: Edit

    @property
    def site(self) -> Site:  # type: ignore[override]
        return self.edit.site

    @property
    def positions(self) -> Positions:  # type: ignore[override]
        return self.edit.positions


@dataclass(frozen=True, eq=False)
class OnRows(WrapsEdit):
    """``edit`` applied to some rows of the batch only; the other rows keep their activation exactly.

    This is how differently steered requests share one batch (``steerlens serve`` batches concurrent
    requests this way): each request's edits are wrapped with its own row. Rows are batch indices of the
    forward calls the edit sees, so the batch must keep its rows in place (as ``generate`` does).
    """

    edit: Edit
    rows: tuple[int, ...]

    def validate(self, spec: ModelSpec) -> OnRows:  # noqa: D102
        from .monitor import Conditional

        if not isinstance(self.edit, Edit) or isinstance(self.edit, (Conditional, OnRows)):
            raise TypeError(f"OnRows wraps one plain steerlens edit (Add, Replace, ProjectOut, Transform), got {self.edit!r}.")
        rows = tuple(self.rows)
        if not rows or any(not isinstance(r, int) or isinstance(r, bool) or r < 0 for r in rows):
            raise ShapeError(f"OnRows: rows must be a non-empty sequence of non-negative batch indices, got {self.rows!r}.")
        return OnRows(self.edit.validate(spec), rows)

    def write(self, h, sel, slot, pos):  # noqa: D102
        if max(self.rows) >= h.shape[0]:
            raise ShapeError(f"OnRows: row {max(self.rows)} was asked for, but the batch has {h.shape[0]} rows.")
        idx = torch.tensor(self.rows, device=h.device)
        part = (
            None
            if pos is None
            else CallPositions(pos.logical[idx.to(pos.logical.device)], pos.prompt_len[idx.to(pos.prompt_len.device)])
        )
        # the wrapped edit sees only its own rows: what it would do (or refuse) elsewhere never matters
        new = self.edit.write(h[idx], sel[idx], None if slot is None else slot[idx], part)
        return h.index_copy(0, idx, new)


class Intervention:
    """Installed edits on one model; :meth:`remove` takes exactly these hooks off again."""

    def __init__(self, model: torch.nn.Module, edits: Edit | Sequence[Edit], prompt_lengths: Sequence[int] | None = None):
        spec = resolve(model)
        if isinstance(edits, Edit):
            edits = [edits]
        bad = [e for e in edits if not isinstance(e, Edit)]
        if bad:
            raise TypeError(
                f"intervene() takes steerlens edits (Add, Replace, ProjectOut, Transform, Conditional, OnRows), got {bad[0]!r}."
            )
        self.edits = [e.validate(spec) for e in edits]  # validate everything before installing anything
        self.tracker = PositionTracker(prompt_lengths)
        # Edits on every real token need only the padding mask of each call, not logical positions:
        # a lighter pre-hook then does the bookkeeping (it matters on every cached decode step).
        self._light = prompt_lengths is None and all(
            isinstance(e, (Add, Replace, ProjectOut)) and e.positions == "all" for e in self.edits
        )
        self._valid: torch.Tensor | None = None
        self._group = HookGroup(spec)
        from .monitor import Conditional, ConditionState  # (monitor builds on this module)

        self._conds = ConditionState()
        try:
            self._group.add_pre(spec.base, self._observe_valid if self._light else self.tracker.observe)
            # the monitors of conditional edits read first: at their site they see the activation as it arrives
            for edit in self.edits:
                if isinstance(edit, Conditional):
                    self._group.add_site(edit.monitor.site, self._make_reader(edit))  # type: ignore[arg-type]
            for edit in self.edits:
                self._group.add_site(edit.site, self._make_fn(edit))
        except BaseException:
            self._group.remove()
            raise

    def _observe_valid(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        ids, batch, length, mask = call_inputs(args, kwargs)
        if mask is None:
            device = (ids if ids is not None else kwargs["inputs_embeds"]).device
            self._valid = torch.ones(batch, length, dtype=torch.bool, device=device)
            return
        if mask.shape[0] != batch or mask.shape[1] < length:
            raise PaddingError(f"Attention mask shape {tuple(mask.shape)} does not fit input of {batch} rows x {length} tokens.")
        self._valid = mask[:, -length:].bool()

    def _make_reader(self, cond: Any):
        def read(h: torch.Tensor) -> None:
            self._conds.observe(cond, h, self.tracker.positions())

        return read

    def _positions(self, edit: Edit, h: torch.Tensor) -> CallPositions:
        pos = self.tracker.positions()
        if pos.logical.shape != h.shape[:2]:
            raise ShapeError(
                f"Activation at {edit.site} has {tuple(h.shape[:2])} tokens but the call has "
                f"{tuple(pos.logical.shape)}; steerlens cannot place the edit."
            )
        return pos

    def _make_fn(self, edit: Edit):
        from .monitor import Conditional

        if isinstance(edit, Conditional):
            inner = edit.edit

            def conditional(h: torch.Tensor) -> torch.Tensor:
                pos = self._positions(edit, h)
                sel, slot = select(inner.positions, pos)
                return inner.write(h, self._conds.mask(edit, sel), slot, pos)

            return conditional
        if self._light:

            def light(h: torch.Tensor) -> torch.Tensor:
                valid = self._valid
                if valid is None or valid.shape != h.shape[:2]:
                    shape = None if valid is None else tuple(valid.shape)
                    raise ShapeError(
                        f"Activation at {edit.site} has {tuple(h.shape[:2])} tokens but the call has {shape}; "
                        "steerlens cannot place the edit."
                    )
                return edit.write(h, valid, None, None)  # type: ignore[arg-type]

            return light

        def fn(h: torch.Tensor) -> torch.Tensor:
            pos = self._positions(edit, h)
            sel, slot = select(edit.positions, pos)
            return edit.write(h, sel, slot, pos)

        return fn

    def remove(self) -> None:
        """Remove this intervention's hooks (idempotent)."""
        self._group.remove()

    def __enter__(self) -> Intervention:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


@contextmanager
def intervene(
    model: torch.nn.Module, edits: Edit | Sequence[Edit], *, prompt_lengths: Sequence[int] | None = None
) -> Iterator[Intervention]:
    """Transform ``edits`` to every forward pass of ``model`` inside the ``with`` block.

    Edits at the same site apply in the order given; nested ``intervene`` blocks compose (inner
    edits apply after outer ones). Hooks are removed on exit, also when the block raises.

    Args:
        model: A Hugging Face causal LM.
        edits: One edit or a sequence of them.
        prompt_lengths: Real prompt tokens per row, if the prompt/generated split must be set by hand
            (by default, the first forward call of a sequence is its prompt).
    """
    handle = Intervention(model, edits, prompt_lengths)
    try:
        yield handle
    finally:
        handle.remove()
