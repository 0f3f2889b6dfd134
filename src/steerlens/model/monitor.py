"""Per-token readouts during a forward pass, and edits conditioned on them.

A :class:`Monitor` reads one number per token at a site (a projection on a direction, a probe's
probability, the logit lens' probability of some tokens). :func:`~steerlens.model.generate.generate`
records monitors for the prompt and the generated tokens from the very forward passes that generate
(``generate(..., monitors=[...])``), with no second pass; :class:`Conditional` wraps any edit so it
applies only where a monitor's reading crosses a threshold: per token, or per row from the mean reading
over its prompt (CAST's condition, decided once and kept for the generated tokens). When the condition
never fires, generation is bit-identical to generation without the edit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from ..errors import ShapeError, SiteError
from .architectures import ModelSpec, resolve
from .hooks import HookGroup
from .intervene import Edit, WrapsEdit
from .positions import CallPositions, PositionTracker
from .site import Site, SiteLike, as_site

__all__ = ["Monitor", "Conditional", "Recorder"]


@dataclass(frozen=True, eq=False)
class Monitor:
    """A per-token readout: ``fn(h) -> [batch, tokens]`` on the activation ``h`` (``[batch, tokens, d]``) at ``site``.

    Build one from a function, or with :meth:`projection` / :meth:`logit_lens`; ``ConceptProbe.monitor()`` makes
    one from a concept probe. ``name`` keys its readings (default: ``"<site>"``).
    """

    site: SiteLike
    fn: Callable[[torch.Tensor], torch.Tensor]
    name: str = ""

    @property
    def key(self) -> str:
        return self.name or str(as_site(self.site))

    @staticmethod
    def projection(site: SiteLike, direction: torch.Tensor, *, cosine: bool = False, name: str = "") -> Monitor:
        """``h . w_hat`` (the component along the unit direction), or the cosine of ``h`` and ``w`` with ``cosine=True``."""
        w = torch.as_tensor(direction).detach().float()
        if w.dim() != 1 or not bool(torch.isfinite(w).all()) or float(w.norm()) == 0:
            raise ShapeError(f"Monitor.projection needs one finite, non-zero [d] direction; got shape {tuple(w.shape)}.")
        unit = w / w.norm()

        def read(h: torch.Tensor) -> torch.Tensor:
            u = unit.to(h.device)
            x = h.float()
            out = x @ u
            return out / x.norm(dim=-1).clamp_min(1e-12) if cosine else out

        return Monitor(site, read, name)

    @staticmethod
    def logit_lens(model: torch.nn.Module, site: SiteLike, token_ids: Sequence[int], *, name: str = "") -> Monitor:
        """The logit lens' probability of ``token_ids`` (summed) at a residual site: ``softmax(unembed(norm(h)))``."""
        spec = resolve(model)
        at = spec.site(as_site(site))
        if at.point not in ("resid_pre", "resid_post"):
            raise SiteError(f"A logit-lens monitor reads the residual stream (resid_pre / resid_post), not {at}.")
        ids = torch.as_tensor(list(token_ids), dtype=torch.long)
        if ids.dim() != 1 or ids.numel() == 0 or int(ids.min()) < 0 or int(ids.max()) >= spec.vocab_size:
            raise ShapeError(f"token_ids must be ids in [0, {spec.vocab_size}); got {list(token_ids)[:8]}.")

        def read(h: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                logp = spec.logits(h).float().log_softmax(-1)
            return logp[..., ids.to(h.device)].exp().sum(-1)

        return Monitor(at, read, name)

    def validate(self, spec: ModelSpec) -> Monitor:
        """Check the monitor against the model; return it with a normalised site and its name fixed."""
        if not callable(self.fn):
            raise ShapeError(f"Monitor {self.key}: fn must be callable, got {type(self.fn).__name__}.")
        return Monitor(spec.site(as_site(self.site)), self.fn, self.key)

    def read(self, h: torch.Tensor) -> torch.Tensor:
        """The reading of one call: ``[batch, tokens]`` float32 (raises if ``fn`` returns another shape)."""
        out = self.fn(h)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(h.shape[:2]):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ShapeError(f"Monitor {self.key}: fn returned {shape}, expected [batch, tokens] = {tuple(h.shape[:2])}.")
        return out.detach().float()


@dataclass(frozen=True, eq=False)
class Conditional(WrapsEdit):
    """``edit``, applied only where ``monitor`` reads above (``above=True``) or below ``threshold``.

    ``scope="token"``: decided per token, from the same forward pass (the monitor must read at or before the
    edit's site). ``scope="prompt"``: decided per row from the mean reading over its prompt tokens, then applied
    to every token of the row the edit's own ``positions`` select (CAST: check the prompt, steer the answer).
    """

    edit: Edit
    monitor: Monitor
    threshold: float
    above: bool = True
    scope: Literal["token", "prompt"] = "token"

    def validate(self, spec: ModelSpec) -> Conditional:  # noqa: D102
        if not isinstance(self.edit, Edit) or isinstance(self.edit, Conditional):
            raise TypeError(f"Conditional wraps one steerlens edit (Add, Replace, ...), got {self.edit!r}.")
        if self.scope not in ("token", "prompt"):
            raise ShapeError(f"Conditional scope must be 'token' or 'prompt', got {self.scope!r}.")
        if not isinstance(self.threshold, (int, float)) or math.isnan(self.threshold):
            raise ShapeError(f"Conditional threshold must be a number, got {self.threshold!r}.")
        edit = self.edit.validate(spec)
        monitor = self.monitor.validate(spec)
        m_site = monitor.site
        assert isinstance(m_site, Site)
        if m_site.order > edit.site.order:
            raise SiteError(
                f"The monitor reads at {m_site}, after the edit writes at {edit.site}: in one forward pass the "
                "condition would not be known yet. Read at or before the edit's site."
            )
        return Conditional(edit, monitor, float(self.threshold), bool(self.above), self.scope)

    def fires(self, reading: torch.Tensor) -> torch.Tensor:
        """Where a reading crosses the threshold (strictly: above it, or below it with ``above=False``)."""
        return reading > self.threshold if self.above else reading < self.threshold

    def write(self, h, sel, slot, pos):  # noqa: D102
        raise RuntimeError("A Conditional is applied by intervene(), which supplies the monitor's reading.")


class ConditionState:
    """The readings of the conditional edits' monitors during one forward call (used by ``intervene``)."""

    def __init__(self) -> None:
        self.reading: dict[int, torch.Tensor] = {}
        self.prompt_decision: dict[int, torch.Tensor] = {}

    def observe(self, cond: Conditional, h: torch.Tensor, pos: CallPositions) -> None:
        reading = cond.monitor.read(h)
        self.reading[id(cond)] = reading
        if cond.scope == "prompt":
            in_prompt = pos.valid & (pos.logical < pos.prompt_len[:, None])
            if bool(in_prompt.any()):  # a call with prompt tokens (the first, or an uncached re-run) decides
                n = in_prompt.sum(1).clamp_min(1)
                mean = (reading * in_prompt).sum(1) / n
                self.prompt_decision[id(cond)] = cond.fires(mean) & in_prompt.any(1)

    def mask(self, cond: Conditional, sel: torch.Tensor) -> torch.Tensor:
        if cond.scope == "token":
            reading = self.reading.get(id(cond))
            if reading is None or reading.shape != sel.shape:
                raise ShapeError(f"The monitor of the conditional edit at {cond.site} has no reading for this call.")
            return sel & cond.fires(reading)
        decision = self.prompt_decision.get(id(cond))
        if decision is None or decision.shape[0] != sel.shape[0]:
            raise ShapeError(f"The conditional edit at {cond.site} saw no prompt tokens to decide on.")
        return sel & decision[:, None]


class Recorder:
    """Record monitors' readings per row and logical token position over the forward calls of one sequence.

    Install it for the duration of a ``generate`` (or any forward calls); :meth:`readings` returns, per monitor,
    a ``[batch, positions]`` float tensor with NaN where no call read that position.
    """

    def __init__(self, model: torch.nn.Module, monitors: Sequence[Monitor], n_positions: int) -> None:
        spec = resolve(model)
        self.monitors = [m.validate(spec) for m in monitors]
        keys = [m.key for m in self.monitors]
        if len(set(keys)) != len(keys):
            raise ShapeError(f"Monitors need distinct names; got {keys}.")
        self.n_positions = n_positions
        self.tracker = PositionTracker()
        self._buf: dict[str, torch.Tensor] = {}
        self._slot_call: object = None
        self._slot_cache: tuple[torch.Tensor, torch.Tensor, torch.Tensor] = (torch.zeros(0), torch.zeros(0), torch.zeros(0))
        self._group = HookGroup(spec)
        try:
            self._group.add_pre(spec.base, self.tracker.observe)
            for m in self.monitors:
                self._group.add_site(m.site, self._reader(m))  # type: ignore[arg-type]
        except BaseException:
            self._group.remove()
            raise

    def _slots(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(rows, columns, logical positions) this forward call can write; computed once per call, shared by
        every monitor."""
        pos = self.tracker.positions()
        if self._slot_call is not pos:
            lp = pos.logical.cpu()
            write = (lp >= 0) & (lp < self.n_positions)
            rows, cols = write.nonzero(as_tuple=True)
            self._slot_cache = (rows, cols, lp[rows, cols])
            self._slot_call = pos
        return self._slot_cache

    def _reader(self, m: Monitor):
        def read(h: torch.Tensor) -> None:
            rows, cols, idx = self._slots()
            reading = m.read(h)
            buf = self._buf.get(m.key)
            if buf is None or buf.shape[0] != h.shape[0]:
                buf = torch.full((h.shape[0], self.n_positions), float("nan"))
                self._buf[m.key] = buf
            # the first call that reads a position keeps it (an uncached re-run reads earlier positions again)
            fresh = torch.isnan(buf[rows, idx])
            buf[rows[fresh], idx[fresh]] = reading.cpu()[rows[fresh], cols[fresh]]

        return read

    def readings(self) -> dict[str, torch.Tensor]:
        """Per monitor name, ``[batch, positions]`` readings (NaN where no call read a position)."""
        return {k: v.clone() for k, v in self._buf.items()}

    def remove(self) -> None:
        """Take this recorder's hooks off the model."""
        self._group.remove()
