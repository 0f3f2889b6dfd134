"""Relations and prompts: the 47-relation dataset of the LRE paper, and the prompts built from it.

A :class:`Relation` holds ``(subject, object)`` samples and the templates that phrase the relation
(``"The capital city of {} is"``). A :class:`Prompt` is one query: the text without the answer, the
expected answer, and the subject whose last token the LRE reads. Prompts are made from a relation with
:func:`make_prompts`, optionally with few-shot demonstrations (never the query's own sample).

Example:
    >>> rel = load_relation("country capital city")
    >>> prompts = make_prompts(rel, n_demonstrations=3)
    >>> prompts[0].text.splitlines()[-1]
    'The capital city of United States is'
"""

from __future__ import annotations

import difflib
import json
import random
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from ..errors import DataFormatError

__all__ = [
    "Sample",
    "Relation",
    "Prompt",
    "relation_names",
    "load_relation",
    "load_relations",
    "make_prompts",
    "stable_shuffle",
    "balance_grouped",
    "CATEGORIES",
]

CATEGORIES = ("factual", "commonsense", "linguistic", "bias")
T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Sample:
    """One fact of a relation: ``subject`` relates to ``object``."""

    subject: str
    object: str


@dataclass(frozen=True)
class Relation:
    """A relation: its samples and the templates (with a ``{}`` subject slot) that phrase it."""

    name: str
    samples: tuple[Sample, ...]
    templates: tuple[str, ...]
    zs_templates: tuple[str, ...] = ()
    category: str = ""
    properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def objects(self) -> list[str]:
        """Distinct objects, in first-seen order."""
        return list(dict.fromkeys(s.object for s in self.samples))

    def split(self, train_size: int, seed: int = 0) -> tuple[Relation, Relation]:
        """Split into train and test relations with "max coverage" of objects in train.

        Samples are shuffled, bucketed by object, and interleaved round-robin, so the first
        ``train_size`` cover as many objects as they can; the rest is the test set.
        """
        if not 0 < train_size < len(self.samples):
            raise DataFormatError(
                f"train_size must be between 1 and {len(self.samples) - 1} for {self.name!r} "
                f"({len(self.samples)} samples), got {train_size}."
            )
        groups: dict[str, list[Sample]] = {}
        for s in stable_shuffle(self.samples, seed):
            groups.setdefault(s.object, []).append(s)
        order = balance_grouped(groups, seed=seed)
        return self._with(order[:train_size]), self._with(order[train_size:])

    def _with(self, samples: Iterable[Sample]) -> Relation:
        return Relation(self.name, tuple(samples), self.templates, self.zs_templates, self.category, self.properties)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], category: str = "", where: str = "relation") -> Relation:
        """Build from the dataset's JSON schema (``name``, ``prompt_templates``, ``samples``, ...)."""
        known = {"name", "prompt_templates", "prompt_templates_zs", "properties", "samples", "domain", "range"}
        unknown = set(data) - known
        if unknown:
            raise DataFormatError(f"{where}: unknown keys {sorted(unknown)}; expected some of {sorted(known)}.")
        for key in ("name", "prompt_templates", "samples"):
            if key not in data:
                raise DataFormatError(f"{where}: missing key {key!r}.")
        templates = tuple(_unescape(t) for t in data["prompt_templates"])
        zs = tuple(_unescape(t) for t in data.get("prompt_templates_zs", ()))
        for t in templates + zs:
            if t.count("{}") != 1:
                raise DataFormatError(f"{where}: template {t!r} must contain exactly one '{{}}' subject slot.")
        samples = []
        for i, s in enumerate(data["samples"]):
            if not isinstance(s, Mapping) or not s.get("subject") or not s.get("object"):
                raise DataFormatError(f"{where}: sample {i} needs non-empty 'subject' and 'object', got {s!r}.")
            samples.append(Sample(_unescape(str(s["subject"])), _unescape(str(s["object"]))))
        props = dict(data.get("properties", {}))
        return cls(str(data["name"]), tuple(samples), templates, zs, category or props.get("relation_type", ""), props)


@dataclass(frozen=True)
class Prompt:
    """One relational query.

    Attributes:
        text: The prompt without the answer (may start with few-shot demonstrations).
        answer: The expected continuation (a leading space is added when the answer is appended).
        subject: The subject string; it must occur in ``text`` (its last occurrence is used).
        subject_name: Grouping name of the subject (default: ``subject``).
        object_name: Grouping name of the object, the key of concepts (default: ``answer``).
    """

    text: str
    answer: str
    subject: str
    subject_name: str = ""
    object_name: str = ""

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise DataFormatError("Prompt text is empty.")
        if not self.answer.strip():
            raise DataFormatError(f"Prompt {self.text!r} has an empty answer.")
        if not self.subject:
            raise DataFormatError(f"Prompt {self.text!r} has an empty subject.")
        if self.subject not in self.text:
            raise DataFormatError(f"The subject {self.subject!r} does not occur in the prompt {self.text!r}.")
        if not self.subject_name:
            object.__setattr__(self, "subject_name", self.subject)
        if not self.object_name:
            object.__setattr__(self, "object_name", self.answer)


def _unescape(text: str) -> str:
    """Decode the doubled ``\\uXXXX`` escapes some dataset files contain."""
    if "\\u" not in text:
        return text
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape")


def _data_root() -> Path:
    return Path(str(resources.files("steerlens") / "data" / "relations"))


def _index(root: Path | None = None) -> dict[str, tuple[str, Path]]:
    root = root or _data_root()
    out: dict[str, tuple[str, Path]] = {}
    for path in sorted(root.glob("*/*.json")):
        with open(path, encoding="utf-8") as f:
            name = json.load(f)["name"]
        out[name] = (path.parent.name, path)
    return out


_INDEX: dict[str, tuple[str, Path]] | None = None


def relation_names(category: str | None = None) -> list[str]:
    """Names of the shipped relations (optionally of one category), sorted."""
    global _INDEX
    if _INDEX is None:
        _INDEX = _index()
    if category is not None and category not in CATEGORIES:
        raise DataFormatError(f"Unknown category {category!r}; use one of {', '.join(CATEGORIES)}.")
    return sorted(n for n, (c, _) in _INDEX.items() if category is None or c == category)


def _key(name: str) -> str:
    return name.lower().replace("_", " ").replace("-", " ").strip()


def load_relation(name: str | Path) -> Relation:
    """Load a shipped relation by name (``"country capital city"``; case, ``_`` and ``-`` are ignored)
    or a relation JSON file by path.

    Raises:
        DataFormatError: unknown name (close names are suggested) or a malformed file.
    """
    path = Path(name)
    if path.suffix == ".json" and path.exists():
        with open(path, encoding="utf-8") as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise DataFormatError(f"{path}: not valid JSON ({e}).") from None
        return Relation.from_dict(data, where=str(path))
    names = relation_names()
    by_key = {_key(n): n for n in names}
    by_file = {_key(p.stem): n for n, (_, p) in (_INDEX or {}).items()}
    found = by_key.get(_key(str(name))) or by_file.get(_key(str(name)))
    if found is None:
        close = difflib.get_close_matches(_key(str(name)), list(by_key) + list(by_file), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(by_key.get(c) or by_file[c]) for c in dict.fromkeys(close))}?" if close else ""
        raise DataFormatError(f"No relation named {str(name)!r}.{hint} `steerlens relations list` shows all {len(names)}.")
    category, p = (_INDEX or {})[found]
    with open(p, encoding="utf-8") as f:
        return Relation.from_dict(json.load(f), category=category, where=str(p))


def load_relations(names: Sequence[str] | None = None, category: str | None = None) -> list[Relation]:
    """Several relations: the given names, or every shipped one (of a category)."""
    return [load_relation(n) for n in (names if names else relation_names(category))]


def stable_shuffle(items: Iterable[T], seed: int | str = 42) -> list[T]:
    """A copy of ``items`` shuffled by ``random.Random(seed)`` (the same on every machine)."""
    out = list(items)
    random.Random(seed).shuffle(out)
    return out


def balance_grouped(
    groups: Mapping[K, Sequence[T]],
    max_per_group: int | None = None,
    max_total: int | None = None,
    seed: int | str = 42,
) -> list[T]:
    """Take items round-robin across shuffled groups, so every group is as equally represented as it can be.

    Groups are visited in a seeded order and each group is shuffled with its own seed; at most
    ``max_per_group`` items come from one group and at most ``max_total`` in all.
    Groups of 4, 4 and 2 items with ``max_total=6`` give 2, 2 and 2.
    """
    keys = stable_shuffle(list(groups), seed)
    queues = {k: stable_shuffle(groups[k], f"{seed}{k}") for k in keys}
    target = sum(min(len(q), max_per_group if max_per_group is not None else len(q)) for q in queues.values())
    if max_total is not None:
        target = min(target, max_total)
    taken = dict.fromkeys(keys, 0)
    out: list[T] = []
    while len(out) < target:
        for k in keys:
            if len(out) >= target:
                break
            limit = len(queues[k]) if max_per_group is None else min(len(queues[k]), max_per_group)
            if taken[k] < limit:
                out.append(queues[k][taken[k]])
                taken[k] += 1
    return out


def make_prompts(
    relation: Relation,
    *,
    templates: Sequence[str] | None = None,
    zero_shot: bool = False,
    n_demonstrations: int = 0,
    demonstrations: Sequence[Sample] | None = None,
    samples: Sequence[Sample] | None = None,
    exclude_same_object: bool = False,
    seed: int | str = 42,
) -> list[Prompt]:
    """Prompts for a relation's samples: one per (sample, template).

    Args:
        relation: The relation.
        templates: Templates to use (default: the first ICL template, or the first zero-shot one).
        zero_shot: Use the relation's zero-shot templates by default.
        n_demonstrations: At most this many few-shot lines ``template(subject) + " " + object``
            before the query, drawn (seeded) from ``demonstrations`` (default: the relation's samples),
            never the query's own subject (the LRC code's pool could contain the query itself).
        demonstrations: Pool of demonstration samples.
        samples: Samples to query (default: all of the relation's).
        exclude_same_object: Also leave out demonstrations with the query's object, so the answer
            never appears in the context.
        seed: Seed of the demonstration draw.
    """
    if templates is None:
        pool_t = relation.zs_templates if zero_shot and relation.zs_templates else relation.templates
        templates = pool_t[:1]
    if not templates:
        raise DataFormatError(f"Relation {relation.name!r} has no templates.")
    pool = list(demonstrations if demonstrations is not None else relation.samples)
    out = []
    for s in samples if samples is not None else relation.samples:
        for t in templates:
            lines = []
            if n_demonstrations:
                cands = [d for d in pool if d.subject != s.subject and not (exclude_same_object and d.object == s.object)]
                demos = stable_shuffle(cands, f"{seed}-{relation.name}-{s.subject}")[:n_demonstrations]
                lines = [f"{t.format(d.subject)} {d.object}" for d in demos]
            text = "\n".join([*lines, t.format(s.subject)])
            out.append(Prompt(text, s.object, s.subject, object_name=s.object))
    return out
