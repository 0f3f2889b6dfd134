"""What an editor reads and where its edit goes: entity and attribute states, token positions, targets.

* The **entity state** ``h_e``: layer-``l`` output for the entity encoded on its own (BOS as the
  tokenizer adds it), at its last token (and the mean over its tokens).
* The **attribute state** ``h_a``: the mean layer-``l`` output over the tokens of the attribute span,
  with the whole context as input.
* The **edit position**: the entity's last token in the prompt (occurrence 0 = first mention), or
  all its tokens.

Token spans come from character offsets (:func:`steerlens.model.token_span`); they count real tokens
from BOS, so they hold for left and right padding alike (the intervention layer maps them onto the
padded batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import DataFormatError, SpanNotFoundError
from ..model import Add, Site, Spans, Transform, capture, resolve, token_span
from ..model.tokens import encode, pad, spans_to_mask
from .data import EditSample, first_token

__all__ = ["EditorInputs", "precompute", "entity_span", "edit_spans", "edit", "target_ids"]


@dataclass
class EditorInputs:
    """Editor inputs of ``n`` samples at one layer (fp32, CPU).

    Attributes:
        layer: The layer (``resid_post`` of that block) the states were read at.
        entity_last: ``[n, d]`` entity-alone state at its last token.
        entity_mean: ``[n, d]`` entity-alone state averaged over its tokens.
        attribute: ``[n, d]`` mean state over the attribute span in the context.
    """

    layer: int
    entity_last: torch.Tensor
    entity_mean: torch.Tensor
    attribute: torch.Tensor

    def __len__(self) -> int:
        return self.attribute.shape[0]

    def entity(self, last: bool = True) -> torch.Tensor:
        """The entity state the editor reads: last token (default) or mean over tokens."""
        return self.entity_last if last else self.entity_mean

    def subset(self, idx: Sequence[int] | torch.Tensor) -> EditorInputs:
        """Rows ``idx`` of every tensor."""
        i = torch.as_tensor(idx, dtype=torch.long)
        return EditorInputs(self.layer, self.entity_last[i], self.entity_mean[i], self.attribute[i])


def _span(tokenizer: Any, text: str, sub: str, occurrence: int | str, what: str) -> tuple[int, int]:
    try:
        return token_span(tokenizer, text, sub, occurrence=occurrence)  # type: ignore[arg-type]
    except SpanNotFoundError as exc:
        raise SpanNotFoundError(f"{what}: {exc}") from None


def entity_span(tokenizer: Any, text: str, entity: str, occurrence: int = 0) -> tuple[int, int]:
    """Token span ``[start, end)`` of the ``occurrence``-th mention (0 = first) of ``entity`` in ``text``.

    Raises:
        SpanNotFoundError: the entity is not in the text (or not that many times).
    """
    return _span(tokenizer, text, entity, occurrence, "entity")


def edit_spans(
    tokenizer: Any, texts: Sequence[str], entities: Sequence[str], occurrence: int | Sequence[int] = 0, last_token: bool = True
) -> list[tuple[int, int]]:
    """Where the edit goes in each text: the entity's last token (default) or all its tokens."""
    occ = [occurrence] * len(texts) if isinstance(occurrence, int) else list(occurrence)
    if not len(texts) == len(entities) == len(occ):
        raise DataFormatError(f"{len(texts)} texts, {len(entities)} entities and {len(occ)} occurrences; give one each.")
    out = []
    for t, e, o in zip(texts, entities, occ):
        s, end = entity_span(tokenizer, t, e, o)
        out.append((end - 1, end) if last_token else (s, end))
    return out


def _packed_mean(packed: torch.Tensor, rows: torch.Tensor, n: int) -> torch.Tensor:
    out = torch.zeros(n, packed.shape[-1], dtype=torch.float32)
    out.index_add_(0, rows, packed.float())
    counts = torch.bincount(rows, minlength=n).clamp(min=1)
    return out / counts[:, None]


@torch.no_grad()
def precompute(
    model: torch.nn.Module,
    tokenizer: Any,
    samples: Sequence[EditSample],
    layers: int | Sequence[int],
    *,
    batch_size: int = 32,
    progress: bool | None = None,
) -> dict[int, EditorInputs]:
    """Entity and attribute states of every sample at ``layers`` (one batched pass per text kind).

    Raises:
        SpanNotFoundError: an attribute is not in its context (the sample is named).
    """
    spec = resolve(model)
    layer_list = [layers] if isinstance(layers, int) else list(layers)
    sites = [spec.site(Site(x)) for x in layer_list]
    n = len(samples)
    if n == 0:
        raise DataFormatError("No samples to precompute.")
    ent_texts = [s.entity for s in samples]
    ent_spans = [_span(tokenizer, s.entity, s.entity, 0, f"sample {s.id!r}") for s in samples]
    attr_spans = [_span(tokenizer, s.context, s.attribute, "last", f"sample {s.id!r} attribute") for s in samples]
    ent_rows, ctx_rows = encode(tokenizer, ent_texts), encode(tokenizer, [s.context for s in samples])
    ent = capture(
        model,
        pad(ent_rows),
        sites,
        positions=spans_to_mask(ent_spans, [len(r) for r in ent_rows]),
        batch_size=batch_size,
        dtype=torch.float32,
        offload=True,
        progress=progress,
    )
    ctx = capture(
        model,
        pad(ctx_rows),
        sites,
        positions=spans_to_mask(attr_spans, [len(r) for r in ctx_rows]),
        batch_size=batch_size,
        dtype=torch.float32,
        offload=True,
        progress=progress,
    )
    assert ent.rows is not None and ctx.rows is not None
    # index of each row's last packed vector (rows are packed in order, tokens in order)
    counts = torch.bincount(ent.rows, minlength=n)
    last_idx = torch.cumsum(counts, 0) - 1
    out = {}
    for layer, site in zip(layer_list, sites):
        e = ent[site]
        out[layer] = EditorInputs(
            site.layer, e[last_idx].float(), _packed_mean(e, ent.rows, n), _packed_mean(ctx[site], ctx.rows, n)
        )
    return out


def target_ids(tokenizer: Any, words: Sequence[str]) -> torch.Tensor:
    """First-token ids of ``" " + word`` for each word (``-1`` for an empty word)."""
    return torch.tensor([first_token(tokenizer, w) if w else -1 for w in words], dtype=torch.long)


def edit(layer: int, directions: torch.Tensor, spans: Sequence[tuple[int, int]], strength: float = 1.0, keep: float = 1.0):
    """The intervention edit ``h <- keep * h + strength * d`` at each row's span at ``Site(layer)``.

    ``directions`` is ``[batch, d]``, one per row (gradients flow through it). The spans are logical
    prompt positions, so the edit touches the prompt's tokens only; generated tokens see it through
    the KV cache.
    """
    if directions.dim() != 2 or directions.shape[0] != len(spans):
        raise DataFormatError(f"Expected [{len(spans)}, d] directions for {len(spans)} spans, got {tuple(directions.shape)}.")
    if keep == 1.0:
        return Add(Site(layer), directions, positions=Spans(spans), strength=strength, per_row=True)

    def fn(h: torch.Tensor, pos: Any) -> torch.Tensor:
        return keep * h + strength * directions.to(h.dtype)[:, None, :]

    return Transform(Site(layer), fn, positions=Spans(spans))
