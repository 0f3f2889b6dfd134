"""Where a relation prompt's subject and answer sit, in tokens, and how object activations are pooled.

:func:`locate` finds the subject's last token and the positions that predict the answer;
``Aggregation`` says how the object activation is read (``"mean"`` over the answer-predicting tokens
or the ``"first_token"`` position).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from ..errors import DataFormatError, SiteError, SpanNotFoundError
from ..model.architectures import ModelSpec
from ..model.site import Site
from ..model.tokens import char_span_to_tokens, token_offsets
from .data import Prompt

__all__ = ["Aggregation", "Located", "locate", "locate_answer"]

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


def check_aggregation(aggregation: str) -> None:
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
        ids, offsets = token_offsets(tokenizer, text)
        _, subj_end = char_span_to_tokens(offsets, cs, cs + len(prompt.subject))
        return Located(ids, subj_end - 1, (len(ids) - 1,), len(ids))
    ids, offsets, (a0, a1) = _answer_tokens(tokenizer, text, answer)
    _, subj_end = char_span_to_tokens(offsets, cs, cs + len(prompt.subject))
    if subj_end > a0:
        raise SpanNotFoundError(f"The subject {prompt.subject!r} runs into the answer {answer!r} in {text!r}.")
    return Located(ids, subj_end - 1, tuple(range(a0 - 1, a1 - 1)), a0)


def _answer_tokens(tokenizer: Any, text: str, answer: str) -> tuple[list[int], list[tuple[int, int]], tuple[int, int]]:
    full = f"{text} {answer}"
    ids, offsets = token_offsets(tokenizer, full)
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


def relation_sites(spec: ModelSpec, subject_layer: int, object_layer: int) -> tuple[Site, Site]:
    s = spec.site(Site(subject_layer, "resid_post"))
    o = spec.site(Site(object_layer, "resid_post"))
    if s.layer > o.layer:
        raise SiteError(
            f"The subject layer ({s.layer}) comes after the object layer ({o.layer}); the object is read downstream "
            "of the subject, so pick subject_layer <= object_layer."
        )
    return s, o


def aggregation_weights(located: Sequence[Located], aggregation: Aggregation, width: int) -> torch.Tensor:
    """``[n, width]`` aggregation weights over positions (1/k on the k object positions)."""
    w = torch.zeros(len(located), width)
    for i, loc in enumerate(located):
        pos = list(loc.object_positions(aggregation))
        w[i, pos] = 1.0 / len(pos)
    return w
