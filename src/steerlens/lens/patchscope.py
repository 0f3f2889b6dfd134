"""Patchscopes: decode a hidden state by patching it into another prompt and letting the model continue.

Ghandeharioun et al. (2024) read a source hidden state ``h`` (a prompt, a position, a layer) by replacing
the state of a *target* prompt at some position and layer with it and looking at what the model then
predicts. With the token-identity target ``"cat -> cat; 1135 -> 1135; hello -> hello; ?"`` the model
tends to repeat whatever ``?`` holds, so the prediction after ``?`` decodes ``h``. Their first experiment
compares this with the logit lens at decoding the source's own next-token prediction from an early
layer (precision@1 per layer): :func:`token_identity_precision` runs it.

:func:`patchscope` is the general readout: any target prompt, any source and target sites, the source read
at each row's last token and written at the target's last prompt token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._results import JsonResult
from ..errors import DataFormatError, SiteError
from ..model.architectures import resolve
from ..model.capture import capture, last_token_logprobs
from ..model.intervene import Replace, intervene
from ..model.site import Site, SiteLike, as_sites
from ..model.tokens import encode, pad

__all__ = ["IDENTITY_PROMPT", "patchscope", "PatchscopeReadout", "token_identity_precision", "TokenIdentity"]

#: The Patchscopes paper's token-identity target: the model repeats what the last token holds.
IDENTITY_PROMPT = "cat -> cat\n1135 -> 1135\nhello -> hello\n?"


@dataclass
class PatchscopeReadout:
    """Per source row and source site: the target's top-``k`` next tokens after the patch (``[n, sites, k]``)."""

    sites: list[Site]
    target_sites: list[Site]
    top_ids: torch.Tensor
    top_logprobs: torch.Tensor

    def top1(self) -> torch.Tensor:
        """``[n, sites]`` the most likely next token id of the patched target."""
        return self.top_ids[..., 0]


def _rows(tokenizer: Any, inputs: Sequence[str] | Sequence[Sequence[int]], what: str) -> list[list[int]]:
    if not inputs:
        raise DataFormatError(f"Give at least one {what}.")
    if isinstance(inputs[0], str):
        if tokenizer is None:
            raise DataFormatError(f"Text {what}s need a tokenizer.")
        return encode(tokenizer, list(inputs))  # type: ignore[arg-type]
    rows = [list(map(int, r)) for r in inputs]
    if any(not r for r in rows):
        raise DataFormatError(f"Every {what} needs at least one token.")
    return rows


def _batch(rows: list[list[int]]) -> dict[str, torch.Tensor]:
    b = pad(rows, side="right")
    return {"input_ids": b.input_ids, "attention_mask": b.attention_mask}


@torch.no_grad()
def patchscope(
    model: torch.nn.Module,
    tokenizer: Any,
    sources: Sequence[str] | Sequence[Sequence[int]],
    sites: SiteLike | Sequence[SiteLike],
    *,
    target: str | Sequence[int] = IDENTITY_PROMPT,
    target_sites: SiteLike | Sequence[SiteLike] | None = None,
    top_k: int = 5,
    batch_size: int = 32,
    progress: bool | None = None,
) -> PatchscopeReadout:
    """Read each source's last-token state at each site, patch it into ``target`` (its last token, at the matching
    target site: the same site by default) and return the target's top-``k`` next-token predictions.

    ``sources``: texts (tokenised with BOS, as the tokenizer does) or token rows; ``sites``: a bare int ``n`` is
    ``resid_post.n``. Every target prompt runs with only that one state replaced.
    """
    spec = resolve(model)
    src_sites = [spec.site(s) for s in as_sites(sites)]
    tgt_sites = src_sites if target_sites is None else [spec.site(s) for s in as_sites(target_sites)]
    if len(tgt_sites) != len(src_sites):
        raise SiteError(f"{len(src_sites)} source sites but {len(tgt_sites)} target sites; give one target per source.")
    if not 1 <= top_k <= spec.vocab_size:
        raise DataFormatError(f"top_k must be in [1, {spec.vocab_size}], got {top_k}.")
    rows = _rows(tokenizer, sources, "source")
    tgt = _rows(tokenizer, [target], "target")[0] if isinstance(target, str) else _rows(tokenizer, [list(target)], "target")[0]
    acts = capture(model, _batch(rows), src_sites, positions="last", batch_size=batch_size, progress=False)
    ids = torch.empty(len(rows), len(src_sites), top_k, dtype=torch.long)
    lps = torch.empty(len(rows), len(src_sites), top_k)
    show = len(src_sites) > 2 if progress is None else progress
    for j, (s, t) in enumerate(tqdm(list(zip(src_sites, tgt_sites)), desc="patchscope", unit="site", disable=not show)):
        states = acts[s].reshape(len(rows), spec.d_model)
        for i in range(0, len(rows), batch_size):
            part = states[i : i + batch_size]
            edit = Replace(t, part, positions="last_prompt", per_row=True)
            with intervene(model, [edit]):
                lp = last_token_logprobs(model, [tgt] * len(part), batch_size=len(part), progress=False)
            top = lp.topk(top_k, dim=-1)
            ids[i : i + len(part), j], lps[i : i + len(part), j] = top.indices, top.values
    return PatchscopeReadout(src_sites, tgt_sites, ids, lps)


@dataclass
class TokenIdentity(JsonResult):
    """Precision@1 per layer at decoding the model's own next-token prediction from an earlier state."""

    layers: list[int]
    patchscope: list[float]
    logit_lens: list[float]
    n: int
    target: str
    examples: list[dict[str, Any]] = field(default_factory=list)

    def table(self) -> str:
        lines = ["layer  patchscope  logit lens"]
        lines += [f"{ly:<5}  {p:<10.3f}  {q:.3f}" for ly, p, q in zip(self.layers, self.patchscope, self.logit_lens)]
        return "\n".join(lines)


@torch.no_grad()
def token_identity_precision(
    model: torch.nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    layers: Sequence[int] | None = None,
    n_positions: int = 100,
    min_prefix: int = 4,
    max_prefix: int = 64,
    target: str = IDENTITY_PROMPT,
    seed: int = 0,
    batch_size: int = 32,
) -> TokenIdentity:
    """The Patchscopes paper's next-token decoding experiment: for ``n_positions`` random prefixes of ``texts``,
    does the token-identity patchscope (source state ``resid_post.l`` patched into ``target`` at the same site)
    predict the model's own final top-1 next token? Next to it, the logit lens at the same state.

    Prefixes are ``min_prefix`` to ``max_prefix`` tokens long (each text's first tokens), which keeps the passes short.
    """
    spec = resolve(model)
    layers = list(range(spec.n_layers)) if layers is None else [spec.site(Site(i)).layer for i in layers]
    rows = encode(tokenizer, list(texts))
    rng = np.random.default_rng(seed)
    if not 1 <= min_prefix <= max_prefix:
        raise DataFormatError(f"Need 1 <= min_prefix <= max_prefix, got {min_prefix} and {max_prefix}.")
    cands = [(i, k) for i, r in enumerate(rows) for k in range(min_prefix, min(len(r), max_prefix) + 1)]
    if len(cands) < n_positions:
        raise DataFormatError(
            f"The texts give {len(cands)} prefixes of {min_prefix} to {max_prefix} tokens; {n_positions} asked."
        )
    pick = rng.choice(len(cands), size=n_positions, replace=False)
    prefixes = [rows[cands[p][0]][: cands[p][1]] for p in sorted(pick)]
    final = last_token_logprobs(model, prefixes, batch_size=batch_size, progress=False).argmax(-1)
    sites = [Site(i) for i in layers]
    acts = capture(model, _batch(prefixes), sites, positions="last", batch_size=batch_size, progress=False)
    lens = [float((spec.logits(acts[s].reshape(len(prefixes), -1)).argmax(-1).cpu() == final).float().mean()) for s in sites]
    read = patchscope(model, tokenizer, prefixes, sites, target=target, top_k=1, batch_size=batch_size)
    scope = (read.top1() == final[:, None]).float().mean(0).tolist()
    examples = [
        {
            "prefix": tokenizer.decode(prefixes[i][-8:]),
            "model": tokenizer.decode([int(final[i])]),
            "patchscope": {str(ly): tokenizer.decode([int(read.top1()[i, j])]) for j, ly in enumerate(layers)},
        }
        for i in range(min(3, len(prefixes)))
    ]
    return TokenIdentity(layers, scope, lens, len(prefixes), target, examples)
