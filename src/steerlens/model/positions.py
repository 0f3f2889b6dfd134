"""Token positions that stay right with padding, batching and the KV cache.

steerlens addresses tokens by their **logical position**: the index of a token among the real
(attended) tokens of its row, counting from 0 at the first real token (BOS, where the tokenizer
adds one). Padding never shifts a logical position, and a token generated later keeps the logical
position it would have in one uncached pass over the whole sequence.

A :class:`PositionTracker` watches every forward call of the decoder body (prompt pass, cached
decode steps, or uncached re-runs of a growing sequence) and works out, for the tokens of *that*
call, their logical positions and how many of each row's tokens belong to the prompt. Selectors
(:data:`Positions`) turn that into a boolean mask over the call's tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Union

import torch

from ..errors import PaddingError, PositionError

__all__ = ["Tokens", "From", "Spans", "Positions", "CallPositions", "PositionTracker", "select"]


@dataclass(frozen=True)
class Tokens:
    """Explicit logical positions, the same for every row.

    Non-negative indices count from the first real token; negative ones count back from the end of
    the prompt (``-1`` is the last prompt token). A ``[K, d_model]`` delta added at ``Tokens`` with K
    indices puts row ``k`` of the delta at ``indices[k]``.
    """

    indices: tuple[int, ...]

    def __init__(self, indices: int | Sequence[int] | range) -> None:
        idx = (indices,) if isinstance(indices, int) else tuple(int(i) for i in indices)
        if not idx:
            raise PositionError("Tokens() needs at least one index.")
        if len(set(idx)) != len(idx):
            raise PositionError(f"Tokens() indices must be distinct, got {idx}.")
        object.__setattr__(self, "indices", idx)


@dataclass(frozen=True)
class From:
    """Every token at logical position ``>= start`` (negative: counted back from the end of the prompt)."""

    start: int


@dataclass(frozen=True)
class Spans:
    """One half-open ``[start, end)`` span of logical positions per row (e.g. a subject's tokens)."""

    spans: tuple[tuple[int, int], ...]

    def __init__(self, spans: Sequence[tuple[int, int]]) -> None:
        out = []
        for s in spans:
            if len(s) != 2 or not 0 <= int(s[0]) < int(s[1]):
                raise PositionError(f"Each span must be (start, end) with 0 <= start < end, got {tuple(s)}.")
            out.append((int(s[0]), int(s[1])))
        object.__setattr__(self, "spans", tuple(out))


#: ``"all"`` real tokens; ``"prompt"`` tokens; ``"generated"`` tokens (after the prompt);
#: ``"last_prompt"``: the last prompt token of each row; or a :class:`Tokens`, :class:`From`,
#: :class:`Spans` selector.
Positions = Union[Literal["all", "prompt", "generated", "last_prompt"], Tokens, From, Spans]

_NAMED = ("all", "prompt", "generated", "last_prompt")


def check_positions(at: Any) -> None:
    """Raise :class:`PositionError` unless ``at`` is a valid :data:`Positions` value."""
    if isinstance(at, (Tokens, From, Spans)):
        return
    if isinstance(at, str) and at in _NAMED:
        return
    raise PositionError(
        f"Unknown positions {at!r}; use one of {', '.join(map(repr, _NAMED))}, or Tokens([...]), From(k), "
        "Spans([(start, end), ...])."
    )


@dataclass(frozen=True)
class CallPositions:
    """Positions of the tokens of one forward call.

    Attributes:
        logical: ``[batch, pos]`` logical position of each token of this call (-1 for padding).
        prompt_len: ``[batch]`` number of real prompt tokens per row.
    """

    logical: torch.Tensor
    prompt_len: torch.Tensor

    @property
    def valid(self) -> torch.Tensor:
        """``[batch, pos]``: True for real (non-padding) tokens."""
        return self.logical >= 0


def select(at: Positions, pos: CallPositions) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Resolve a selector to a ``[batch, pos]`` boolean mask, and for :class:`Tokens` a slot index.

    The slot index (``[batch, pos]`` long, -1 where unselected) tells which of the selector's indices
    each selected token is, so that a ``[K, d]`` delta can be aligned with ``Tokens``.
    """
    lp, plen, valid = pos.logical, pos.prompt_len[:, None], pos.valid
    if isinstance(at, str):
        if at == "all":
            return valid, None
        if at == "prompt":
            return valid & (lp < plen), None
        if at == "generated":
            return valid & (lp >= plen), None
        if at == "last_prompt":
            return valid & (lp == plen - 1), None
    if isinstance(at, From):
        start = at.start if at.start >= 0 else plen + at.start
        return valid & (lp >= start), None
    if isinstance(at, Spans):
        if len(at.spans) != lp.shape[0]:
            raise PositionError(f"Spans has {len(at.spans)} spans but the batch has {lp.shape[0]} rows; give one per row.")
        bounds = torch.tensor(at.spans, device=lp.device)
        return valid & (lp >= bounds[:, :1]) & (lp < bounds[:, 1:]), None
    if isinstance(at, Tokens):
        slot = torch.full_like(lp, -1)
        for k, i in enumerate(at.indices):
            target = i if i >= 0 else plen + i
            slot = torch.where(valid & (lp == target), torch.full_like(lp, k), slot)
        return slot >= 0, slot
    check_positions(at)
    raise AssertionError("unreachable")


def call_inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[torch.Tensor | None, int, int, torch.Tensor | None]:
    """``(input_ids or None, batch, tokens, 2-D attention mask or None)`` of a decoder-body call.

    Raises:
        PositionError: the call has neither input ids nor embeddings.
        PaddingError: the attention mask is not 2-D.
    """
    ids = kwargs.get("input_ids", args[0] if args else None)
    ref = ids if ids is not None else kwargs.get("inputs_embeds")
    if ref is None:
        raise PositionError("steerlens could not find input_ids or inputs_embeds in the model call.")
    mask = kwargs.get("attention_mask")
    if not isinstance(mask, torch.Tensor):
        mask = None
    elif mask.dim() != 2:
        raise PaddingError(f"steerlens needs a 2-D attention mask [batch, tokens] to place edits; got shape {tuple(mask.shape)}.")
    return ids, int(ref.shape[0]), int(ref.shape[1]), mask


class PositionTracker:
    """Works out :class:`CallPositions` for each forward call of the decoder body.

    A call continues the previous one when it brings a KV cache (a decode step) or when its input
    ids start with the previous call's ids (an uncached re-run of a longer sequence); otherwise it is
    a new prompt, and its real tokens are the prompt. ``prompt_lengths`` overrides the prompt length
    per row (in real tokens).
    """

    def __init__(self, prompt_lengths: Sequence[int] | torch.Tensor | None = None) -> None:
        self._override = None if prompt_lengths is None else torch.as_tensor(prompt_lengths, dtype=torch.long)
        self._ids: torch.Tensor | None = None
        self._mask: torch.Tensor | None = None
        self._prompt_len: torch.Tensor | None = None
        self.current: CallPositions | None = None

    def observe(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Pre-hook body for the decoder body's forward (args/kwargs as the model received them)."""
        ids, batch, length, mask = call_inputs(args, kwargs)
        ref = ids if ids is not None else kwargs["inputs_embeds"]
        if mask is not None and mask.shape[0] == batch and mask.shape[1] > length:
            past = int(mask.shape[1]) - length  # the mask spans cached + current tokens
        else:
            try:
                past = _past_length(_call_cache(kwargs), kwargs)
            except PositionError:
                # a recurrent-only cache (Mamba, RWKV) holding state does not count tokens: it continues the
                # sequence of the previous call
                if self._mask is None or self._mask.shape[0] != batch:
                    raise
                past = int(self._mask.shape[1])
        if mask is None and past > 0 and self._mask is not None and tuple(self._mask.shape) == (batch, past):
            # a decode step without a mask (Mamba drops it): the earlier tokens keep their padding
            mask = torch.cat([self._mask, torch.ones(batch, length, dtype=self._mask.dtype, device=self._mask.device)], 1)
        if mask is None:
            mask = torch.ones(batch, past + length, dtype=torch.long, device=ref.device)
        elif mask.shape[1] == length and past > 0:
            raise PaddingError(
                f"The attention mask covers {length} tokens but the call also has {past} cached tokens; pass the "
                "mask of the whole sequence (as generate() does)."
            )
        elif mask.shape[0] != batch or mask.shape[1] < length:
            raise PaddingError(f"Attention mask shape {tuple(mask.shape)} does not fit input of {batch} rows x {length} tokens.")
        else:
            # the mask spans cached + current tokens; trust it over the cache's own length, which
            # sliding-window caches may cap
            past = int(mask.shape[1]) - length
        mask = mask.to(torch.long)
        continuing = past > 0 or self._continues(ref, mask)
        if continuing and self._prompt_len is None:
            self._prompt_len = mask[:, :past].sum(1)
        if not continuing:
            self._prompt_len = mask.sum(1)
        prompt_len = self._prompt_len
        if self._override is not None:
            if self._override.shape != (batch,):
                raise PositionError(f"prompt_lengths has shape {tuple(self._override.shape)}, but the batch has {batch} rows.")
            prompt_len = self._override.to(mask.device)
        # the tokens of the sequence so far (token ids, or the embeddings a multimodal wrapper passes its text
        # tower), to recognise an uncached re-run of a longer sequence
        self._ids = torch.cat([self._ids, ref], 1) if (past > 0 and self._ids is not None) else ref
        self._mask = mask
        logical = torch.where(mask.bool(), mask.cumsum(1) - 1, torch.full_like(mask, -1))[:, -length:]
        assert prompt_len is not None
        self.current = CallPositions(logical=logical, prompt_len=prompt_len.to(mask.device))

    def _continues(self, ids: torch.Tensor | None, mask: torch.Tensor) -> bool:
        prev, prev_mask = self._ids, self._mask
        if ids is None or prev is None or prev_mask is None:
            return False
        n = prev.shape[1]
        if prev.shape[0] != ids.shape[0] or n > ids.shape[1]:
            return False
        return bool(torch.equal(ids[:, :n], prev) and torch.equal(mask[:, :n], prev_mask))

    def positions(self) -> CallPositions:
        """The positions of the forward call in progress."""
        if self.current is None:
            raise PositionError("No forward call is in progress; positions are only known inside the model call.")
        return self.current


def _call_cache(kwargs: dict[str, Any]) -> Any:
    """The KV cache of a decoder-body call: ``cache`` in newer transformers (5.24), ``past_key_values`` before."""
    for name in ("cache", "past_key_values", "state"):  # RWKV passes its recurrent state as `state`
        cache = kwargs.get(name)
        if cache is not None:
            return cache
    return None


def _past_length(cache: Any, kwargs: dict[str, Any]) -> int:
    if cache is None:
        return 0
    get = getattr(cache, "get_seq_length", None)
    if get is not None:
        try:
            return int(get())
        except ValueError:  # a cache of recurrent layers only (Mamba, RWKV) does not count tokens
            pos = kwargs.get("cache_position")
            if isinstance(pos, torch.Tensor) and pos.numel():
                return int(pos.reshape(-1)[0])
            has_state = getattr(cache, "has_previous_state", None)
            try:
                if callable(has_state) and not has_state():
                    return 0
            except ValueError:
                pass
            raise PositionError(
                "The model's cache does not say how many tokens it holds, and the call passes no attention mask or "
                "cache_position that would; steerlens cannot place edits on this call."
            ) from None
    if isinstance(cache, (tuple, list)) and cache and isinstance(cache[0], (tuple, list)):  # legacy tuple KV cache
        return int(cache[0][0].shape[-2])
    if isinstance(cache, (tuple, list)) and cache:  # a recurrent state (RWKV): it does not count tokens
        raise PositionError("The model's recurrent state does not say how many tokens it holds.")
    return 0
