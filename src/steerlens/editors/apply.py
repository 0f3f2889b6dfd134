"""Using a trained editor on free text: directions for (entity, attribute) pairs, edited generation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import DataFormatError
from ..model import generate, intervene
from .data import EditSample, attribute_of
from .editors import Editor
from .inputs import edit, edit_spans, precompute

__all__ = ["directions", "EditedGeneration", "edit_generate", "sample_for"]


def sample_for(prompt: str, entity: str, attribute: str, context: str | None = None) -> EditSample:
    """An :class:`EditSample` for free text; the context defaults to ``"{entity} {attribute}"``."""
    ctx = context if context is not None else f"{entity} {attribute}"
    if attribute not in ctx:
        raise DataFormatError(f"The attribute {attribute!r} does not occur in the context {ctx!r}.")
    attribute_of(ctx, entity)  # the entity must be in the context
    return EditSample(id="input", entity=entity, context=ctx, attribute=attribute, prompt=prompt, target_new="?")


@torch.no_grad()
def directions(model: torch.nn.Module, tokenizer: Any, editor: Editor, samples: Sequence[EditSample]) -> torch.Tensor:
    """``[n, d]`` edit directions of ``samples`` (the editor's inputs computed at its layer)."""
    ins = precompute(model, tokenizer, samples, editor.layer, progress=False)[editor.layer]
    device = next(model.parameters()).device
    editor.to(device)
    return editor(ins.entity(editor.input_last_entity_token).to(device), ins.attribute.to(device))


@dataclass
class EditedGeneration:
    """Continuations of the same prompts without and with the edit."""

    prompts: list[str]
    unedited: list[str]
    edited: list[str]


def edit_generate(
    model: torch.nn.Module,
    tokenizer: Any,
    editor: Editor,
    samples: Sequence[EditSample],
    *,
    max_new_tokens: int = 30,
    strength: float = 1.0,
    occurrence: int = 0,
    seed: int | None = 0,
    **generate_kwargs: Any,
) -> EditedGeneration:
    """Generate from each sample's prompt, unedited and with the editor's direction at the entity.

    The edit is applied to the prompt's tokens only (``occurrence``: which mention of the entity); the
    generated tokens see it through the KV cache. Sampling settings go in ``generate_kwargs``; both runs
    share ``seed``.
    """
    prompts = [s.prompt for s in samples]
    dirs = directions(model, tokenizer, editor, samples)
    spans = edit_spans(tokenizer, prompts, [s.entity for s in samples], occurrence, editor.edit_last_entity_token)
    base = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, seed=seed, **generate_kwargs)
    with intervene(model, [edit(editor.layer, dirs, spans, strength=strength)]):
        edited = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, seed=seed, **generate_kwargs)
    return EditedGeneration(prompts, base.texts or [], edited.texts or [])
