"""Tokenisation helpers: padded batches, token spans of substrings, answer positions.

All positions returned here are **logical** (see :mod:`steerlens.model.positions`): indices into
the token sequence of one unpadded text as the model sees it, special tokens (BOS) included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from ..errors import PaddingError, SpanNotFoundError

__all__ = [
    "Batch",
    "encode",
    "pad",
    "as_batch",
    "token_span",
    "answer_span",
    "char_span_to_tokens",
    "spans_to_mask",
    "token_offsets",
]


@dataclass(frozen=True)
class Batch:
    """Token ids and attention mask of a padded batch (``[batch, pos]`` each)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor

    @property
    def lengths(self) -> torch.Tensor:
        """Number of real tokens per row."""
        return self.attention_mask.sum(1)

    def position_ids(self) -> torch.Tensor:
        """Position ids that ignore padding (0 at each row's first real token)."""
        return (self.attention_mask.long().cumsum(1) - 1).clamp(min=0)

    def to(self, device: torch.device | str) -> Batch:
        """Move both tensors to ``device``."""
        return Batch(self.input_ids.to(device), self.attention_mask.to(device))


def encode(tokenizer: Any, texts: Sequence[str], add_special_tokens: bool = True) -> list[list[int]]:
    """Token ids of each text, unpadded, with the tokenizer's special tokens (BOS) by default."""
    if isinstance(texts, str):
        texts = [texts]
    enc = tokenizer(list(texts), add_special_tokens=add_special_tokens, padding=False, truncation=False)
    return [list(map(int, ids)) for ids in enc["input_ids"]]


def pad(rows: Sequence[Sequence[int]], side: Literal["left", "right"] = "right", pad_id: int = 0) -> Batch:
    """Pad lists of token ids into a :class:`Batch`; padding is marked only by the attention mask."""
    if not rows:
        raise PaddingError("Cannot pad an empty list of sequences.")
    if side not in ("left", "right"):
        raise PaddingError(f"Padding side must be 'left' or 'right', got {side!r}.")
    width = max(len(r) for r in rows)
    if width == 0:
        raise PaddingError("Every sequence is empty; there is nothing to run the model on.")
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if not r:
            raise PaddingError(f"Sequence {i} is empty (no tokens).")
        sl = slice(width - len(r), width) if side == "left" else slice(0, len(r))
        ids[i, sl] = torch.as_tensor(list(r), dtype=torch.long)
        mask[i, sl] = 1
    return Batch(ids, mask)


def as_batch(inputs: Any, pad_token_id: int | None = None) -> Batch:
    """Turn ``{"input_ids", "attention_mask"}`` (dict, BatchEncoding or Batch) into a checked :class:`Batch`.

    A batch of several rows without an attention mask is accepted only when no row contains the
    pad token; otherwise it raises :class:`PaddingError` rather than guess which tokens are padding.
    """
    if isinstance(inputs, Batch):
        return inputs
    if isinstance(inputs, torch.Tensor):
        ids, mask = inputs, None
    else:
        try:
            ids = inputs["input_ids"]
        except (KeyError, TypeError) as exc:
            raise PaddingError(f"Expected a dict with 'input_ids' (and 'attention_mask'), got {type(inputs).__name__}.") from exc
        mask = inputs.get("attention_mask") if hasattr(inputs, "get") else None
    ids = torch.as_tensor(ids)
    if ids.dim() == 1:
        ids = ids[None]
    if ids.dim() != 2:
        raise PaddingError(f"input_ids must be [batch, tokens], got shape {tuple(ids.shape)}.")
    if mask is None:
        if ids.shape[0] > 1 and pad_token_id is not None and bool((ids == pad_token_id).any()):
            raise PaddingError(
                f"This batch of {ids.shape[0]} rows contains the pad token (id {pad_token_id}) but has no attention "
                "mask, so padding cannot be told from real tokens. Pass attention_mask (tokenizer(..., padding=True) "
                "returns one)."
            )
        mask = torch.ones_like(ids)
    mask = torch.as_tensor(mask).to(torch.long)
    if mask.dim() == 1:
        mask = mask[None]
    if mask.shape != ids.shape:
        raise PaddingError(f"attention_mask has shape {tuple(mask.shape)} but input_ids has {tuple(ids.shape)}.")
    if bool((mask.sum(1) == 0).any()):
        raise PaddingError("A row of the batch has no real tokens (its attention mask is all zeros).")
    return Batch(ids.long(), mask)


def token_offsets(tokenizer: Any, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids of ``text`` with the character span each covers ((0, 0) for special tokens)."""
    try:
        enc = tokenizer(text, add_special_tokens=True, return_offsets_mapping=True)
        return list(enc["input_ids"]), [tuple(map(int, o)) for o in enc["offset_mapping"]]  # type: ignore[misc]
    except (NotImplementedError, ValueError, TypeError, KeyError):
        pass
    # Slow tokenizers: recover offsets by decoding growing prefixes.
    ids = list(tokenizer(text, add_special_tokens=True)["input_ids"])
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    offsets: list[tuple[int, int]] = []
    prev = 0
    kept: list[int] = []
    for tid in ids:
        if tid in special:
            offsets.append((0, 0))
            continue
        kept.append(tid)
        decoded = tokenizer.decode(kept, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        end = min(len(decoded), len(text))
        offsets.append((prev, end))
        prev = end
    return ids, offsets


def char_span_to_tokens(offsets: Sequence[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    """Token span ``[first, last + 1)`` of the tokens overlapping characters ``[start, end)``."""
    hits = [i for i, (a, b) in enumerate(offsets) if b > a and a < end and b > start]
    if not hits:
        raise SpanNotFoundError(f"No token covers characters {start}..{end}.")
    return hits[0], hits[-1] + 1


def token_span(tokenizer: Any, text: str, substring: str, occurrence: int | Literal["last", "first"] = "last") -> tuple[int, int]:
    """Token span ``(start, end)`` of ``substring`` inside ``text`` (last occurrence by default).

    Positions index the tokens of ``text`` as the model sees it (BOS included), so ``end - 1`` is the
    last token of the substring. Works with BPE and SentencePiece tokenizers, leading spaces, and
    non-ASCII text: a token counts as part of the substring if it covers any of its characters.

    Raises:
        SpanNotFoundError: ``substring`` does not occur in ``text`` (both are quoted).
    """
    if not substring:
        raise SpanNotFoundError("The substring to locate is empty.")
    starts = []
    i = text.find(substring)
    while i != -1:
        starts.append(i)
        i = text.find(substring, i + 1)
    if not starts:
        hint = " (it does occur with other capitalisation)" if substring.lower() in text.lower() else ""
        raise SpanNotFoundError(f"{substring!r} does not occur in {text!r}{hint}.")
    if occurrence == "last":
        cs = starts[-1]
    elif occurrence == "first":
        cs = starts[0]
    else:
        if not -len(starts) <= occurrence < len(starts):
            raise SpanNotFoundError(
                f"{substring!r} occurs {len(starts)} time(s) in {text!r}; occurrence {occurrence} does not exist."
            )
        cs = starts[occurrence]
    _, offsets = token_offsets(tokenizer, text)
    return char_span_to_tokens(offsets, cs, cs + len(substring))


def answer_span(tokenizer: Any, prompt: str, answer: str, sep: str = " ") -> tuple[list[int], tuple[int, int]]:
    """Tokens of ``prompt + sep + answer`` and the token span of the answer in them.

    The tokens that *predict* the answer are at ``span[0] - 1 .. span[1] - 2`` (one to the left).
    The answer span starts at the first token that covers any answer character.
    """
    if not answer:
        raise SpanNotFoundError("The answer is empty.")
    text = prompt + sep + answer
    ids, offsets = token_offsets(tokenizer, text)
    start, end = char_span_to_tokens(offsets, len(prompt) + len(sep), len(text))
    if start == 0:
        raise SpanNotFoundError(f"The answer {answer!r} starts at the first token of {text!r}; the prompt is empty.")
    return ids, (start, end)


def spans_to_mask(spans: Sequence[tuple[int, int]], lengths: Sequence[int] | torch.Tensor) -> torch.Tensor:
    """Boolean ``[n, max(lengths)]`` mask selecting one ``[start, end)`` token span per row.

    Pass it as ``capture(..., positions=mask)`` to read a span (e.g. a subject's tokens) per input.

    Raises:
        SpanNotFoundError: a span is empty or runs past its row's length.
    """
    lengths = torch.as_tensor(lengths, dtype=torch.long)
    if len(spans) != len(lengths):
        raise SpanNotFoundError(f"{len(spans)} spans for {len(lengths)} inputs; give one span per input.")
    mask = torch.zeros(len(spans), int(lengths.max()), dtype=torch.bool)
    for i, (s, e) in enumerate(spans):
        if not 0 <= s < e <= int(lengths[i]):
            raise SpanNotFoundError(f"Span ({s}, {e}) of input {i} is empty or outside its {int(lengths[i])} tokens.")
        mask[i, s:e] = True
    return mask
