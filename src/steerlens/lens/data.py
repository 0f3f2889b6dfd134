"""Text corpora for lens training and evaluation: EOS-joined, fixed-length token chunks."""

from __future__ import annotations

import gzip
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from ..errors import SteerlensError

__all__ = ["CorpusError", "Chunks", "read_texts", "chunk_texts", "default_corpus"]


class CorpusError(SteerlensError, ValueError):
    """An empty corpus, or one too short for the requested chunks."""


@dataclass(frozen=True)
class Chunks:
    """Token chunks of a corpus.

    Attributes:
        ids: ``[n_chunks, seq_len]`` token ids; each chunk starts with BOS when the tokenizer uses one.
        n_bytes: UTF-8 bytes of the text the chunks cover (approximately, pro rata of tokens kept).
        n_tokens: tokens in all chunks.
    """

    ids: torch.Tensor
    n_bytes: int
    n_tokens: int

    @property
    def nats_to_bpb(self) -> float:
        """Factor turning a per-token quantity in nats into bits per UTF-8 byte."""
        return self.n_tokens / self.n_bytes / math.log(2)

    def split(self, fraction: float, seed: int = 0) -> tuple[Chunks, Chunks]:
        """Random split into (``1 - fraction``, ``fraction``) parts, e.g. train and held-out."""
        n = self.ids.shape[0]
        k = max(1, round(n * fraction))
        if k >= n:
            raise CorpusError(f"Cannot hold out {fraction:.0%} of {n} chunks and keep any for training.")
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        per_chunk_bytes = self.n_bytes / n

        def part(rows: torch.Tensor) -> Chunks:
            ids = self.ids[rows.sort().values]
            return Chunks(ids, max(1, round(per_chunk_bytes * len(rows))), ids.numel())

        return part(perm[k:]), part(perm[:k])


def default_corpus(part: str = "train") -> list[str]:
    """The shipped English corpus (*The Devil's Dictionary*, public domain; see ``data/corpus/SOURCE.md``).

    Args:
        part: ``"train"`` (9 of every 10 entries), ``"test"`` (every 10th entry) or ``"all"``.

    Returns:
        One document per dictionary entry.
    """
    if part not in ("train", "test", "all"):
        raise CorpusError(f"part must be 'train', 'test' or 'all', got {part!r}.")
    raw = resources.files("steerlens").joinpath("data/corpus/devils_dictionary.txt.gz").read_bytes()
    text = gzip.decompress(raw).decode("utf-8")
    # one document per entry; the source repeats two entries verbatim, keep the first of each
    entries = list(dict.fromkeys(e.strip() for e in re.split(r"\n(?=[A-Z][A-Z'. -]*, [a-z])", text) if e.strip()))
    if part == "all":
        return entries
    return [e for i, e in enumerate(entries) if (i % 10 == 9) == (part == "test")]


def read_texts(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Read UTF-8 text files (one document each)."""
    if not paths:
        raise CorpusError("No text files given.")
    texts = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise CorpusError(f"Text file {path} does not exist.")
        texts.append(path.read_text(encoding="utf-8"))
    return texts


def chunk_texts(tokenizer: Any, texts: Sequence[str], seq_len: int, *, max_chunks: int | None = None) -> Chunks:
    """Join documents with EOS, tokenise, and cut into chunks of exactly ``seq_len`` tokens.

    Each chunk starts with BOS if the tokenizer adds one (models such as Gemma expect it), followed
    by ``seq_len - 1`` tokens of the stream; the final partial chunk is dropped (nothing is padded).

    Raises:
        CorpusError: the corpus is empty or shorter than one chunk.
    """
    if seq_len < 2:
        raise CorpusError(f"seq_len must be at least 2, got {seq_len}.")
    docs = [t for t in texts if t.strip()]
    if not docs:
        raise CorpusError("The corpus is empty (no non-blank text).")
    eos = tokenizer.eos_token_id
    bos = tokenizer.bos_token_id if _adds_bos(tokenizer) else None
    stream: list[int] = []
    for doc in docs:
        stream.extend(tokenizer(doc, add_special_tokens=False)["input_ids"])
        if eos is not None:
            stream.append(eos)
    body = seq_len - (1 if bos is not None else 0)
    n = len(stream) // body
    if max_chunks is not None:
        n = min(n, max_chunks)
    if n == 0:
        raise CorpusError(
            f"The corpus has {len(stream)} tokens, fewer than one chunk of {seq_len}; give more text or a shorter seq_len."
        )
    ids = torch.tensor(stream[: n * body], dtype=torch.long).view(n, body)
    if bos is not None:
        ids = torch.cat([torch.full((n, 1), bos, dtype=torch.long), ids], 1)
    total_bytes = sum(len(d.encode("utf-8")) for d in docs)
    kept = n * body / len(stream)
    return Chunks(ids, max(1, round(total_bytes * kept)), ids.numel())


def _adds_bos(tokenizer: Any) -> bool:
    bos = tokenizer.bos_token_id
    if bos is None:
        return False
    ids = tokenizer("a")["input_ids"]
    return bool(ids) and ids[0] == bos
