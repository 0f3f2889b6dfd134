"""Measuring steering: topic word counts, lexicon sentiment, log-prob changes, effectiveness and disruption, and the
side effects on neutral text (:func:`text_drift`, :func:`summarize_drift`: KL, perplexity ratio, accuracy change).

Text metrics take a list of completions and return one number per completion, so they plug into
:meth:`~steerlens.steering.generation.Comparison.score` and :func:`~steerlens.steering.sweep.sweep`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch

from ..errors import ShapeError, SteeringError
from ..model.capture import all_position_logprobs, next_token_logprobs
from ..model.intervene import Edit, intervene
from ..model.tokens import encode
from .addition import ActAdd

__all__ = [
    "WEDDING_WORDS",
    "word_count",
    "word_counter",
    "sentiment",
    "lexicon_balance",
    "token_logprobs",
    "logprob_change",
    "effectiveness_disruption",
    "next_token_effect",
    "relative_norms",
    "own_logprobs",
    "TextDrift",
    "text_drift",
    "summarize_drift",
]

#: The ActAdd paper's wedding-topic word list.
WEDDING_WORDS = ("wedding", "weddings", "wed", "marry", "married", "marriage", "bride", "groom", "honeymoon")


def word_count(texts: Sequence[str], words: Iterable[str], case_sensitive: bool = False) -> list[int]:
    """Occurrences of the listed words in each text (non-word characters split words)."""
    wanted = set(words) if case_sensitive else {w.lower() for w in words}
    if not wanted:
        raise SteeringError("word_count needs at least one word.")
    out = []
    for t in texts:
        toks = re.sub(r"\W", " ", t if case_sensitive else t.lower()).split()
        out.append(sum(1 for w in toks if w in wanted))
    return out


def word_counter(words: Iterable[str], case_sensitive: bool = False):
    """``word_count`` with the word list bound: a text metric for sweeps and comparisons."""
    words = tuple(words)

    def metric(texts: Sequence[str]) -> list[int]:
        return word_count(texts, words, case_sensitive)

    metric.__name__ = f"count({','.join(words[:3])}{'...' if len(words) > 3 else ''})"
    return metric


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment(texts: Sequence[str]) -> list[float]:
    """VADER compound sentiment of each text, in [-1, 1] (offline lexicon, rule-based)."""
    v = _vader()
    return [float(v.polarity_scores(t)["compound"]) for t in texts]


def lexicon_balance(texts: Sequence[str]) -> list[int]:
    """Positive minus negative words of each text, by the sign of their VADER lexicon valence."""
    lex = _vader().lexicon
    out = []
    for t in texts:
        vals = [lex.get(w) for w in re.findall(r"[a-z']+", t.lower())]
        out.append(sum(1 for x in vals if x is not None and x > 0) - sum(1 for x in vals if x is not None and x < 0))
    return out


def _edits_of(model: torch.nn.Module, steering: ActAdd | Sequence[Edit] | None) -> list[Edit]:
    if steering is None:
        return []
    if isinstance(steering, ActAdd):
        return steering.edits(model)
    return list(steering)


@torch.no_grad()
def token_logprobs(
    model: torch.nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    steering: ActAdd | Sequence[Edit] | None = None,
    batch_size: int = 8,
) -> list[torch.Tensor]:
    """Per text, ``log p(token_t | tokens_<t)`` for t = 1 .. n-1 (``[n - 1]``, fp32), optionally steered."""
    rows = encode(tokenizer, list(texts))
    if any(len(r) < 2 for r in rows):
        raise SteeringError("Every text needs at least two tokens to score its next-token log-probs.")
    with intervene(model, _edits_of(model, steering)):
        return next_token_logprobs(model, rows, batch_size)


def logprob_change(
    model: torch.nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    steering: ActAdd | Sequence[Edit],
    *,
    mask_first: int | None = None,
    batch_size: int = 8,
    plain: Sequence[torch.Tensor] | None = None,
) -> dict[str, Any]:
    """How steering changes the log-prob of texts, with the injected positions left out.

    ``delta_t = log p_steered(token_t) - log p_plain(token_t)`` over each text's tokens, dropping the
    predictions made at the first ``mask_first`` positions (default: the steering tensor's length for an
    :class:`ActAdd`, 0 for other edits). Returns the per-text mean deltas, their token-weighted mean,
    and the perplexity ratio ``exp(-mean delta)`` (< 1: the steering makes the texts more likely). ``plain``: the
    unsteered :func:`token_logprobs` of ``texts``, when the caller already has them (a sweep scores many settings).
    """
    if mask_first is None:
        mask_first = steering.max_len if isinstance(steering, ActAdd) else 0
    if plain is None:
        plain = token_logprobs(model, tokenizer, texts, batch_size=batch_size)
    elif len(plain) != len(texts):
        raise SteeringError(f"plain has {len(plain)} rows of log-probs for {len(texts)} texts.")
    steered = token_logprobs(model, tokenizer, texts, steering=steering, batch_size=batch_size)
    # entry t is the prediction made at position t (of token t + 1): the m predictions made at the injected
    # positions 0 .. m-1 are dropped, as the seed's inp[mask_pos:] does (the last of them reads a residual the
    # steering edited directly)
    deltas = [(s - p)[mask_first:] for p, s in zip(plain, steered)]
    if any(d.numel() == 0 for d in deltas):
        raise SteeringError(f"A text is no longer than the {mask_first} masked positions; use longer texts.")
    total = torch.cat(deltas)
    mean = float(total.mean())
    return {
        "per_text": [float(d.mean()) for d in deltas],
        "mean_logprob_diff": mean,
        "perplexity_ratio": math.exp(-mean),
        "tokens": int(total.numel()),
        "masked_positions": mask_first,
    }


def effectiveness_disruption(
    p_plain: torch.Tensor, p_mod: torch.Tensor, target_ids: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """ActAdd's effectiveness and disruption for a token set T, per position (``[..., vocab]`` probabilities).

    Effectiveness ``E = log P_mod(T) - log P_plain(T)``. Disruption
    ``D = pi KL(P_mod(.|T) || P_plain(.|T)) + (1 - pi) KL(P_mod(.|not T) || P_plain(.|not T))`` with
    ``pi = P_mod(T)``: how much the steering reshuffles probability *within* T and within its complement.
    """
    if p_plain.shape != p_mod.shape:
        raise SteeringError(f"Probability shapes differ: {tuple(p_plain.shape)} vs {tuple(p_mod.shape)}.")
    ids = torch.as_tensor(list(target_ids), dtype=torch.long)
    if ids.numel() == 0:
        raise SteeringError("Give at least one target token id.")
    in_t = torch.zeros(p_plain.shape[-1], dtype=torch.bool)
    in_t[ids] = True
    p, q = p_mod.double(), p_plain.double()
    pt, qt = p[..., in_t].sum(-1), q[..., in_t].sum(-1)
    eff = torch.log(pt) - torch.log(qt)

    def kl_within(mask: torch.Tensor, pm: torch.Tensor, qm: torch.Tensor) -> torch.Tensor:
        a = p[..., mask] / pm[..., None]
        b = q[..., mask] / qm[..., None]
        return torch.where(a > 0, a * (torch.log(a) - torch.log(b)), torch.zeros_like(a)).sum(-1)

    dis = pt * kl_within(in_t, pt, qt) + (1 - pt) * kl_within(~in_t, 1 - pt, 1 - qt)
    return eff.float(), dis.float()


def single_token_ids(tokenizer: Any, tokens: Sequence[str | int]) -> list[int]:
    """Token ids of target tokens given as ids or as strings that encode to exactly one token each."""
    ids = []
    for t in tokens:
        if isinstance(t, int):
            ids.append(t)
            continue
        enc = tokenizer.encode(t, add_special_tokens=False)
        if len(enc) != 1:
            raise SteeringError(f"Target {t!r} is {len(enc)} tokens; give single tokens (e.g. ' wedding').")
        ids.append(enc[0])
    return ids


@torch.no_grad()
def next_token_effect(
    model: torch.nn.Module,
    tokenizer: Any,
    prompt: str,
    steering: ActAdd | Sequence[Edit],
    target_tokens: Sequence[str | int],
) -> dict[str, Any]:
    """Effectiveness and disruption of the steering for target tokens, at every position of ``prompt``."""
    ids = single_token_ids(tokenizer, target_tokens)
    rows = encode(tokenizer, [prompt])

    def probs(edits: list[Edit]) -> torch.Tensor:
        with intervene(model, edits):
            return all_position_logprobs(model, rows[0]).exp()

    p0, p1 = probs([]), probs(_edits_of(model, steering))
    eff, dis = effectiveness_disruption(p0, p1, ids)
    return {
        "tokens": [tokenizer.decode([i]) for i in rows[0]],
        "target_ids": ids,
        "effectiveness": eff.tolist(),
        "disruption": dis.tolist(),
        "p_plain": p0[:, ids].sum(-1).tolist(),
        "p_steered": p1[:, ids].sum(-1).tolist(),
    }


def relative_norms(model: torch.nn.Module, tokenizer: Any, steering: ActAdd, prompt: str) -> dict[str, list[float]]:
    """Per position: the summed steering tensor's norm, the prompt's residual norm at that site, and their ratio."""
    from ..model.capture import capture

    sites = {a.site for a in steering.additions}
    if len(sites) != 1:
        raise SteeringError("relative_norms needs additions at a single site.")
    site = next(iter(sites))
    steer = steering.norms(site)
    acts = capture(model, [prompt], site, tokenizer=tokenizer, progress=False)
    h = acts[site][0, : int(acts.lengths[0])].float().norm(dim=-1)
    k = min(len(steer), len(h))
    return {"steering_norm": steer.tolist(), "prompt_norm": h.tolist(), "ratio": (steer[:k] / h[:k].clamp_min(1e-12)).tolist()}


def own_logprobs(lp: torch.Tensor, row: Sequence[int]) -> torch.Tensor:
    """``log p(token_t)`` of a row's own tokens ``t = 1..`` from its ``[len, vocab]`` next-token log-probs."""
    return lp[:-1].gather(-1, torch.tensor(row[1:], device=lp.device)[:, None])[:, 0]


@dataclass(frozen=True)
class TextDrift:
    """How a steered model's next-token distributions on one text differ from the unsteered model's (sums over the
    text's positions; :func:`summarize_drift` turns a list of them into rates)."""

    kl: float
    """``KL(steered || unsteered)`` summed over every position (nats)."""
    positions: int
    logprob_change: float
    """``log p_steered - log p_unsteered`` of the text's own tokens ``1..``, summed."""
    hits: int
    """Own next tokens the steered model ranks first."""
    base_hits: int
    """The same for the unsteered model."""


def text_drift(lp: torch.Tensor, ref: torch.Tensor, row: Sequence[int]) -> TextDrift:
    """The :class:`TextDrift` of one text: ``lp`` and ``ref`` are the steered and unsteered ``[len, vocab]``
    next-token log-probs of ``row`` (its token ids)."""
    if lp.shape != ref.shape or lp.shape[0] != len(row):
        raise ShapeError(f"Log-probs {tuple(lp.shape)} and {tuple(ref.shape)} do not both cover the {len(row)} tokens.")
    ref = ref.to(lp.dtype)
    nxt = torch.tensor(row[1:], device=lp.device)
    return TextDrift(
        kl=float((lp.exp() * (lp - ref)).sum()),
        positions=len(row),
        logprob_change=float((own_logprobs(lp, row) - own_logprobs(ref, row)).sum()),
        hits=int((lp[:-1].argmax(-1) == nxt).sum()),
        base_hits=int((ref[:-1].argmax(-1) == nxt).sum()),
    )


def summarize_drift(drifts: Sequence[TextDrift]) -> dict[str, float]:
    """``kl`` (mean per position, nats), ``perplexity_ratio`` (steered over unsteered, on the texts' own tokens) and
    ``accuracy_change`` (of next-token top-1 accuracy) over texts."""
    if not drifts:
        raise ShapeError("summarize_drift needs at least one text.")
    n = max(1, sum(d.positions - 1 for d in drifts))
    return {
        "kl": sum(d.kl for d in drifts) / max(1, sum(d.positions for d in drifts)),
        "perplexity_ratio": math.exp(-sum(d.logprob_change for d in drifts) / n),
        "accuracy_change": sum(d.hits - d.base_hits for d in drifts) / n,
    }
