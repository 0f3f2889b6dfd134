"""Keep only the prompts the model already answers: greedy output must start with the expected answer."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ..artifacts import Fingerprint
from ..errors import ConfigError, IncompatibleArtifactError
from ..model.generate import generate
from .data import Prompt

__all__ = ["PromptValidator", "answer_matches"]


def answer_matches(generated: str, answers: str | Sequence[str]) -> bool:
    """True when some prefix of ``generated`` equals an expected answer (both stripped, case-sensitive).

    The prefix must end on the generated text's own boundary with the answer: ``" Paris, France"``
    matches ``"Paris"``; ``" Parisian"`` does not.
    """
    answers = [answers] if isinstance(answers, str) else list(answers)
    g = generated.strip()
    for a in answers:
        a = a.strip()
        if a and g.startswith(a) and (len(g) == len(a) or not (g[len(a)].isalnum())):
            return True
    return False


class PromptValidator:
    """Filters prompts to those whose greedy continuation starts with the answer, with a per-model cache.

    Args:
        model: The model to ask.
        tokenizer: Its tokenizer.
        cache_file: Optional JSON cache (``{"fingerprint": ..., "cache": {key: bool}}``); a cache written
            for another model is refused.
    """

    def __init__(self, model: torch.nn.Module, tokenizer: Any, cache_file: str | os.PathLike[str] | None = None):
        self.model, self.tokenizer = model, tokenizer
        self.fingerprint = Fingerprint.of(model)
        self.cache: dict[str, bool] = {}
        self.cache_file = Path(cache_file) if cache_file is not None else None
        if self.cache_file is not None and self.cache_file.is_file():
            data = json.loads(self.cache_file.read_text())
            theirs = Fingerprint(**data["fingerprint"])
            diffs = theirs.differences(self.fingerprint)
            if diffs:
                raise IncompatibleArtifactError(
                    f"{self.cache_file} caches answers of another model ({'; '.join(diffs)}); use another cache file."
                )
            self.cache = {k: bool(v) for k, v in data["cache"].items()}

    @staticmethod
    def key(prompt: Prompt) -> str:
        """Cache key of a prompt (its text and answer)."""
        return hashlib.md5((prompt.text + "\x00" + prompt.answer).encode()).hexdigest()[:16]

    def check(self, prompts: Sequence[Prompt], batch_size: int = 16, progress: bool | None = None) -> list[bool]:
        """Whether the model answers each prompt correctly (cached answers are reused)."""
        todo = [p for p in dict.fromkeys(prompts) if self.key(p) not in self.cache]
        batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
        show = len(batches) > 1 if progress is None else progress
        for part in tqdm(batches, desc="validating prompts", unit="batch", disable=not show):
            n_new = max(len(self.tokenizer(" " + p.answer.strip(), add_special_tokens=False)["input_ids"]) for p in part)
            out = generate(self.model, self.tokenizer, [p.text.strip() for p in part], max_new_tokens=n_new)
            for p, text in zip(part, out.texts or []):
                self.cache[self.key(p)] = answer_matches(text, p.answer)
        if self.cache_file is not None and todo:
            self.write_cache()
        return [self.cache[self.key(p)] for p in prompts]

    def filter(self, prompts: Sequence[Prompt], batch_size: int = 16, progress: bool | None = None) -> list[Prompt]:
        """The prompts the model answers correctly, in order."""
        ok = self.check(prompts, batch_size=batch_size, progress=progress)
        return [p for p, good in zip(prompts, ok) if good]

    def write_cache(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the cache as JSON (to ``path`` or the constructor's ``cache_file``)."""
        target = Path(path) if path is not None else self.cache_file
        if target is None:
            raise ConfigError("No cache file: pass a path or construct the validator with cache_file=.")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"fingerprint": asdict(self.fingerprint), "cache": self.cache}, indent=0))
        return target
