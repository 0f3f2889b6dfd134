"""Labelled completions for concept probes: the example schema, readers, shipped datasets and rendering.

An example is a user ``prompt``, an assistant ``completion`` and a ``label`` (1: the concept is
present, 0: absent), with an optional ``conversation_history`` of earlier ``{"role", "content"}``
messages. :func:`render` turns it into token ids through the tokenizer's chat template when it has
one (else a plain ``Question: ... / Answer: ...`` layout after BOS) and returns the token span of
the completion, found from character offsets, not from a "template minus two tokens" guess.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .._io import json_records
from ..errors import DataFormatError

__all__ = [
    "ConceptExample",
    "read_examples",
    "load_dataset",
    "DATASETS",
    "render",
    "Rendered",
    "split_examples",
    "prompt_ids",
    "contrast_pairs",
]

#: Datasets shipped with steerlens (``src/steerlens/data/concepts/``).
DATASETS = {
    "tone": "formal (0) vs jokey (1) answers to everyday questions",
    "refusal": "refusal (0) vs compliance (1) answers to requests",
    "sentiment": "negative (0) vs positive (1) accounts of the same experience",
}


@dataclass(frozen=True)
class ConceptExample:
    """One labelled completion."""

    prompt: str
    completion: str
    label: int
    conversation_history: tuple[tuple[str, str], ...] = field(default=())

    def messages(self, with_completion: bool = True) -> list[dict[str, str]]:
        msgs = [{"role": r, "content": c} for r, c in self.conversation_history]
        msgs.append({"role": "user", "content": self.prompt})
        if with_completion:
            msgs.append({"role": "assistant", "content": self.completion})
        return msgs


def _example(obj: Any, where: str) -> ConceptExample:
    if not isinstance(obj, dict):
        raise DataFormatError(f"{where}: expected an object with prompt, completion and label, got {type(obj).__name__}.")
    missing = [k for k in ("prompt", "completion", "label") if k not in obj]
    if missing:
        raise DataFormatError(f"{where}: missing field {' and '.join(repr(m) for m in missing)}.")
    for k in ("prompt", "completion"):
        if not isinstance(obj[k], str):
            raise DataFormatError(f"{where}: {k!r} must be a string.")
    if not obj["completion"].strip():
        raise DataFormatError(f"{where}: the completion is empty; probes read the completion's tokens.")
    label = obj["label"]
    if isinstance(label, bool) or label not in (0, 1):
        raise DataFormatError(f"{where}: label must be 0 or 1, got {label!r}.")
    hist = obj.get("conversation_history") or []
    if not isinstance(hist, list):
        raise DataFormatError(f"{where}: conversation_history must be a list of {{role, content}} messages.")
    turns = []
    for j, m in enumerate(hist):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise DataFormatError(f"{where}: conversation_history[{j}] needs string 'role' and 'content'.")
        turns.append((m["role"], m["content"]))
    return ConceptExample(obj["prompt"], obj["completion"], int(label), tuple(turns))


def read_examples(path: str | os.PathLike[str]) -> list[ConceptExample]:
    """Read examples from JSONL (one object per line) or a JSON list; errors name the file and line."""
    p = Path(path)
    if not p.is_file():
        raise DataFormatError(f"Data file {p} does not exist.")
    records, where = json_records(p)
    out = [_example(r, f"{p}, {where} {n}") for n, r in records]
    if not out:
        raise DataFormatError(f"{p} holds no examples.")
    return out


def load_dataset(name: str) -> list[ConceptExample]:
    """A shipped dataset by name (see :data:`DATASETS`) or a path to a JSON/JSONL file."""
    if name in DATASETS:
        ref = resources.files("steerlens") / "data" / "concepts" / f"{name}.jsonl"
        with resources.as_file(ref) as path:
            return read_examples(path)
    if Path(name).is_file():
        return read_examples(name)
    raise DataFormatError(f"Unknown dataset {name!r}: use one of {', '.join(DATASETS)} or a path to a JSON/JSONL file.")


def check_labels(examples: Sequence[ConceptExample]) -> None:
    """Raise unless both labels occur."""
    labels = {e.label for e in examples}
    if labels != {0, 1}:
        raise DataFormatError(f"A concept needs examples of both labels 0 and 1; these only have label(s) {sorted(labels)}.")


def split_examples(
    examples: Sequence[ConceptExample],
    val_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[list[ConceptExample], list[ConceptExample]]:
    """Split by prompt (all answers to one prompt land on the same side), shuffled with ``seed``."""
    if not 0.0 < val_fraction < 1.0:
        raise DataFormatError(f"val_fraction must be in (0, 1), got {val_fraction}.")
    prompts = sorted({e.prompt for e in examples})
    random.Random(seed).shuffle(prompts)
    n_val = max(1, round(len(prompts) * val_fraction))
    val_prompts = set(prompts[:n_val])
    train = [e for e in examples if e.prompt not in val_prompts]
    val = [e for e in examples if e.prompt in val_prompts]
    return train, val


def contrast_pairs(examples: Sequence[ConceptExample], template: str = "{prompt}\n{completion}") -> list[tuple[str, str]]:
    """``(positive, negative)`` texts from the labelled completions of each prompt: its first label-1 completion
    against its first label-0 one, both written with ``template`` (so the pair shares the prompt as a prefix).

    Prompts with only one label are skipped; the pairs come in the order of the prompts' first appearance.
    """
    if "{prompt}" not in template or "{completion}" not in template:
        raise DataFormatError(f"template must contain {{prompt}} and {{completion}}, got {template!r}.")
    first: dict[str, dict[int, str]] = {}
    for e in examples:
        first.setdefault(e.prompt, {}).setdefault(e.label, e.completion)
    out = []
    for prompt, by_label in first.items():
        if 0 in by_label and 1 in by_label:
            out.append(tuple(template.format(prompt=prompt, completion=by_label[k]) for k in (1, 0)))
    if not out:
        raise DataFormatError("No prompt has both a label-1 and a label-0 completion; contrast pairs need both.")
    return out  # type: ignore[return-value]


@dataclass(frozen=True)
class Rendered:
    """Token ids of a rendered example and the half-open token span of its completion."""

    ids: list[int]
    completion: tuple[int, int]


def _fallback_text(tokenizer: Any, ex: ConceptExample, system_prompt: str) -> tuple[str, int, int]:
    parts = []
    if system_prompt:
        parts.append(system_prompt.strip() + "\n")
    for role, content in ex.conversation_history:
        parts.append(("Question: " if role == "user" else "Answer: ") + content.strip() + "\n")
    parts.append("Question: " + ex.prompt.strip() + "\n")
    parts.append("Answer: ")
    head = "".join(parts)
    completion = ex.completion.strip()
    return head + completion + "\n", len(head), len(head) + len(completion)


def prompt_ids(tokenizer: Any, prompt: str, system_prompt: str = "") -> list[int]:
    """Token ids of ``prompt`` laid out as :func:`render` lays out a training example, up to where the
    completion would start: what to generate from so prompts look as they did when probing."""
    r = render(tokenizer, ConceptExample(prompt, "x", 0), system_prompt)
    return r.ids[: r.completion[0]]


def render(tokenizer: Any, ex: ConceptExample, system_prompt: str = "", use_template: bool | None = None) -> Rendered:
    """Token ids of ``ex`` (chat template when the tokenizer has one, else the plain layout) and its completion span."""
    from ..model.tokens import char_span_to_tokens

    template = bool(getattr(tokenizer, "chat_template", None)) if use_template is None else use_template
    if template:
        msgs = ex.messages()
        if system_prompt:
            msgs = [{"role": "system", "content": system_prompt}, *msgs]
        text = tokenizer.apply_chat_template(msgs, tokenize=False)
        start = text.rfind(ex.completion)
        if start < 0:
            stripped = ex.completion.strip()
            start = text.rfind(stripped)
            end = start + len(stripped)
        else:
            end = start + len(ex.completion)
        if start < 0:
            raise DataFormatError("The chat template changed the completion's text; cannot locate its tokens.")
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    else:
        text, start, end = _fallback_text(tokenizer, ex, system_prompt)
        enc = tokenizer(text, add_special_tokens=True, return_offsets_mapping=True)
    span = char_span_to_tokens(enc["offset_mapping"], start, end)
    return Rendered(list(enc["input_ids"]), span)
