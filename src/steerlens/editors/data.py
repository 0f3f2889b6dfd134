"""Counterfactual editing data: a CounterFact-style benchmark built from the 47-relation dataset.

CounterFact (ROME's ``counterfact.json``) cannot be downloaded here, so :func:`counterfact_from_relations`
builds samples of the same shape from the relation data shipped with steerlens. For one fact
``(subject, relation, true object)``:

* ``target_new``: another object of the same relation (seeded choice; with a tokenizer, one whose first
  token differs from the true object's, so that efficacy compares two different tokens);
* ``context``: the new fact stated with one of the relation's templates, ``"The capital city of France is
  Lyon"``; ``attribute``: the context after the entity, ``"is Lyon"``;
* ``prompt``: the fact asked with *another* template; ``paraphrases``: the remaining templates;
* ``neighbourhood``: the prompt template filled with other subjects that have the same true object;
* ``new_object_subjects``: other subjects whose true object is ``target_new`` (references for
  consistency, and the source of the object state for the LRE-inverse edit).

Everything is deterministic given the seed (string-seeded RNGs, independent of iteration order).
:func:`load_counterfact` reads the original JSON when a user has the file, and :func:`filter_known`
keeps the facts a model already knows.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from .._io import json_records
from ..errors import DataFormatError
from ..relations.data import Relation, load_relation, load_relations, stable_shuffle

__all__ = [
    "EditSample",
    "counterfact_from_relations",
    "load_counterfact",
    "save_samples",
    "load_samples",
    "split_samples",
    "filter_known",
    "known_splits",
    "first_token",
    "prompt_in_context",
]


@dataclass(frozen=True)
class EditSample:
    """One counterfactual edit: make the model behave as if ``context`` were true of ``entity``.

    Attributes:
        id: Stable identifier (``"relation/subject"`` for built samples, the case id for CounterFact).
        entity: The entity string; it must occur in ``prompt`` and in ``context``.
        context: A sentence stating the new fact (no final period).
        attribute: The part of ``context`` that states the attribute (a substring of it).
        prompt: The text to edit; the model's next token is scored.
        target_new: The object the context implies (scored by its first token after a space).
        target_true: The object the model knows, or ``""`` when there is none.
        relation: The relation's name (or CounterFact's relation id).
        paraphrases: Other prompts asking the same fact.
        neighbourhood: Prompts about other entities whose answer is ``target_true``.
        new_object_subjects: Other entities whose true object is ``target_new``.
    """

    id: str
    entity: str
    context: str
    attribute: str
    prompt: str
    target_new: str
    target_true: str = ""
    relation: str = ""
    paraphrases: tuple[str, ...] = ()
    neighbourhood: tuple[str, ...] = ()
    new_object_subjects: tuple[str, ...] = ()
    source: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        where = f"sample {self.id!r}"
        for name in ("entity", "context", "attribute", "prompt", "target_new"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise DataFormatError(f"{where}: {name!r} must be a non-empty string.")
        if self.entity not in self.prompt:
            raise DataFormatError(f"{where}: the entity {self.entity!r} does not occur in the prompt {self.prompt!r}.")
        if self.entity not in self.context:
            raise DataFormatError(f"{where}: the entity {self.entity!r} does not occur in the context {self.context!r}.")
        if self.attribute not in self.context:
            raise DataFormatError(f"{where}: the attribute {self.attribute!r} is not part of the context {self.context!r}.")
        for name in ("paraphrases", "neighbourhood", "new_object_subjects"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (``source`` included)."""
        d = asdict(self)
        for k in ("paraphrases", "neighbourhood", "new_object_subjects"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "sample") -> EditSample:
        """Inverse of :meth:`to_dict`."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise DataFormatError(f"{where}: unknown keys {sorted(unknown)}; expected some of {sorted(known)}.")
        missing = [k for k in ("id", "entity", "context", "attribute", "prompt", "target_new") if k not in d]
        if missing:
            raise DataFormatError(f"{where}: missing keys {missing}.")
        kwargs: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}
        return cls(**kwargs)


def attribute_of(context: str, entity: str) -> str:
    """The attribute of a context: the text after the entity's first mention, stripped of ``",-;: "``."""
    i = context.find(entity)
    if i < 0:
        raise DataFormatError(f"The entity {entity!r} does not occur in the context {context!r}.")
    attr = context[i + len(entity) :].strip(",-;: ")
    if not attr:
        raise DataFormatError(f"The context {context!r} says nothing after the entity {entity!r}.")
    return attr


def prompt_in_context(sample: EditSample, prompt: str | None = None) -> str:
    """``context + ". " + prompt``: the prefix baseline's input (the entity is mentioned twice)."""
    ctx = sample.context.rstrip()
    return (ctx if ctx.endswith((".", "!", "?")) else ctx + ".") + " " + (prompt if prompt is not None else sample.prompt)


def first_token(tokenizer: Any, word: str) -> int:
    """Id of the first token of ``" " + word`` as it continues a text (no BOS)."""
    ids = tokenizer(" " + word.strip(), add_special_tokens=False)["input_ids"]
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    ids = [i for i in ids if i not in special]
    if not ids:
        raise DataFormatError(f"{word!r} has no tokens.")
    # SentencePiece tokenizers may emit a lone space token first: take the first token that carries text
    for i in ids:
        if tokenizer.decode([i]).strip():
            return int(i)
    return int(ids[0])


def _templates(rel: Relation) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in rel.templates + rel.zs_templates))


def counterfact_from_relations(
    relations: Sequence[str | Relation] | None = None,
    *,
    seed: int = 0,
    tokenizer: Any = None,
    max_per_relation: int | None = None,
    n_neighbours: int = 5,
    min_templates: int = 2,
) -> list[EditSample]:
    """Build CounterFact-style edit samples from the relation dataset (see the module doc).

    Args:
        relations: Relation names or objects (default: every shipped relation with at least two
            objects and ``min_templates`` distinct templates).
        seed: Seed of every choice (templates, counterfactual target, neighbours).
        tokenizer: If given, ``target_new`` is chosen among objects whose first token differs from
            the true object's (samples with no such object are skipped).
        max_per_relation: Keep at most this many samples per relation (a seeded subset).
        n_neighbours: Neighbourhood prompts per sample, at most.
        min_templates: Relations with fewer distinct templates (context + prompt need two) are skipped.
    """
    chosen = load_relations() if relations is None else [r if isinstance(r, Relation) else load_relation(r) for r in relations]
    out: list[EditSample] = []
    first: dict[str, int] = {}

    def tok1(word: str) -> int:
        if word not in first:
            first[word] = first_token(tokenizer, word)
        return first[word]

    for rel in chosen:
        templates = _templates(rel)
        objects = rel.objects
        if len(templates) < min_templates or len(objects) < 2:
            if relations is not None:
                raise DataFormatError(
                    f"Relation {rel.name!r} has {len(templates)} distinct template(s) and {len(objects)} object(s); "
                    f"a counterfactual needs at least {min_templates} templates and 2 objects."
                )
            continue
        by_object: dict[str, list[str]] = {}
        for s in rel.samples:
            by_object.setdefault(s.object, []).append(s.subject)
        samples = list(dict.fromkeys(rel.samples))
        own: dict[str, set[str]] = {}
        for x in samples:
            own.setdefault(x.subject, set()).add(x.object)
        if max_per_relation is not None:
            samples = stable_shuffle(samples, f"{seed}/{rel.name}")[:max_per_relation]
        for s in samples:
            rng = random.Random(f"{seed}/{rel.name}/{s.subject}/{s.object}")
            candidates = [o for o in objects if o not in own[s.subject] and any(x != s.subject for x in by_object[o])]
            if tokenizer is not None:
                candidates = [o for o in candidates if tok1(o) != tok1(s.object)]
            if not candidates:
                continue
            new = rng.choice(candidates)
            order = templates[:]
            rng.shuffle(order)
            ctx_t, prompt_t, *rest = order
            context = ctx_t.format(s.subject) + " " + new
            neighbours = [x for x in by_object[s.object] if x != s.subject]
            neighbours = rng.sample(neighbours, min(n_neighbours, len(neighbours)))
            sid = f"{rel.name}/{s.subject}" + (f"/{s.object}" if len(own[s.subject]) > 1 else "")
            out.append(
                EditSample(
                    id=sid,
                    entity=s.subject,
                    context=context,
                    attribute=attribute_of(context, s.subject),
                    prompt=prompt_t.format(s.subject),
                    target_new=new,
                    target_true=s.object,
                    relation=rel.name,
                    paraphrases=tuple(t.format(s.subject) for t in rest),
                    neighbourhood=tuple(prompt_t.format(x) for x in neighbours),
                    new_object_subjects=tuple(x for x in by_object[new] if x != s.subject)[:n_neighbours],
                    source={"context_template": ctx_t, "prompt_template": prompt_t, "category": rel.category},
                )
            )
    return out


def _clean_counterfact_prompt(text: str) -> str:
    """Simplified version of REMEDI's paraphrase cleaning: the text after the last newline, without a
    ``Category:`` preamble (REMEDI also splits sentences with spaCy; steerlens keeps the whole line)."""
    text = text.split("\n")[-1].strip()
    if text.lower().startswith("category:"):
        text = text.split(":", 1)[1].strip()
    return text


def load_counterfact(path: str | os.PathLike[str], limit: int | None = None) -> list[EditSample]:
    """Read ROME's ``counterfact.json`` (a list of records with ``requested_rewrite`` etc.).

    Mapping (as in REMEDI): entity = subject; context = the rewrite prompt with the subject, plus
    ``target_new``; attribute = the context after the subject; prompt = the first paraphrase prompt
    (cleaned: the text after its last newline), falling back to the rewrite prompt when the cleaned
    paraphrase lost the subject; paraphrases = the rest; neighbourhood = ``neighborhood_prompts``.
    """
    p = Path(path)
    try:
        records = json.loads(p.read_text())
    except FileNotFoundError as exc:
        raise DataFormatError(f"No CounterFact file at {str(p)!r}.") from exc
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{str(p)!r} is not valid JSON: {exc}.") from exc
    if not isinstance(records, list):
        raise DataFormatError(f"{str(p)!r}: expected a JSON list of CounterFact records.")
    out = []
    for i, r in enumerate(records[:limit] if limit else records):
        where = f"{p.name} record {i}"
        try:
            rw = r["requested_rewrite"]
            subject, template = rw["subject"], rw["prompt"]
            new, true = rw["target_new"]["str"], rw["target_true"]["str"]
        except (KeyError, TypeError) as exc:
            raise DataFormatError(f"{where}: missing CounterFact field {exc}.") from exc
        rewrite = template.format(subject)
        context = rewrite + " " + new
        paras = [_clean_counterfact_prompt(x) for x in dict.fromkeys(r.get("paraphrase_prompts", []))]
        paras = [x for x in paras if subject in x]
        prompt = paras[0] if paras else rewrite
        out.append(
            EditSample(
                id=str(r.get("case_id", i)),
                entity=subject,
                context=context,
                attribute=attribute_of(context, subject),
                prompt=prompt,
                target_new=new,
                target_true=true,
                relation=str(rw.get("relation_id", "")),
                paraphrases=tuple(paras[1:]),
                neighbourhood=tuple(r.get("neighborhood_prompts", [])),
                source={"format": "counterfact", "case_id": r.get("case_id")},
            )
        )
    return out


def save_samples(samples: Iterable[EditSample], path: str | os.PathLike[str]) -> Path:
    """Write samples as JSON lines."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("".join(json.dumps(s.to_dict(), ensure_ascii=False) + "\n" for s in samples))
    return p


def load_samples(path: str | os.PathLike[str]) -> list[EditSample]:
    """Read samples written by :func:`save_samples` (or a CounterFact ``.json`` file)."""
    p = Path(path)
    if not p.exists():
        raise DataFormatError(f"No sample file at {str(p)!r}.")
    if p.suffix == ".json":
        return load_counterfact(p)
    records, where = json_records(p)
    return [EditSample.from_dict(d, where=f"{p.name} {where} {n}") for n, d in records]


def split_samples(
    samples: Sequence[EditSample], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> dict[str, list[EditSample]]:
    """Seeded ``train`` / ``validation`` / ``test`` split by sample id (stable under re-ordering)."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise DataFormatError(f"fractions must be three non-negative numbers summing to 1, got {fractions}.")
    order = stable_shuffle(sorted(samples, key=lambda s: s.id), seed)
    n = len(order)
    a = round(fractions[0] * n)
    b = a + round(fractions[1] * n)
    return {"train": order[:a], "validation": order[a:b], "test": order[b:]}


@torch.no_grad()
def filter_known(
    model: torch.nn.Module,
    tokenizer: Any,
    samples: Sequence[EditSample],
    *,
    top_k: int = 1,
    batch_size: int = 32,
    progress: bool | None = None,
) -> list[EditSample]:
    """Keep the samples whose true object's first token is among the model's ``top_k`` next tokens.

    (With ``top_k=1`` the model "knows" the fact: the unedited model prefers the true object over
    any other token, so the unedited efficacy on the prompts is 0 by construction.)
    """
    from ..model.capture import next_token_ranks
    from ..model.tokens import encode

    if top_k < 1:
        raise DataFormatError(f"top_k must be >= 1, got {top_k}.")
    keep = [s for s in samples if s.target_true]
    if not keep:
        return []
    true_ids = [first_token(tokenizer, s.target_true) for s in keep]
    # only the true object's first token is scored, in batches of prompts of similar length
    ranks = next_token_ranks(model, encode(tokenizer, [s.prompt for s in keep]), true_ids, batch_size, progress=progress)
    return [s for s, r in zip(keep, ranks.tolist()) if r < top_k]


def known_sample_ids(
    model: torch.nn.Module,
    tokenizer: Any,
    samples: Sequence[EditSample],
    *,
    top_k: int = 1,
    batch_size: int = 64,
    progress: bool | None = None,
    cache: bool | str | os.PathLike[str] = False,
) -> set[str]:
    """Ids of the samples :func:`filter_known` keeps, optionally remembered on disk between runs.

    Args:
        cache: ``True`` keeps a JSON file per model under ``$STEERLENS_HOME/known-facts/`` (a path picks the
            folder): a sample is scored once per model, ``top_k`` and prompt/target text, so a second call on the
            11k shipped facts costs milliseconds instead of minutes. The model is identified by its steerlens
            fingerprint plus a hash of its final norm and last block, so a fine-tune never reads its base's file.
    """
    if top_k < 1:
        raise DataFormatError(f"top_k must be >= 1, got {top_k}.")
    if not cache:
        return {s.id for s in filter_known(model, tokenizer, samples, top_k=top_k, batch_size=batch_size, progress=progress)}
    from ..loading import steerlens_home

    folder = Path(cache) if not isinstance(cache, bool) else steerlens_home() / "known-facts"
    path = folder / f"{_model_key(model)}-top{top_k}.json"
    seen: dict[str, list[Any]] = json.loads(path.read_text()) if path.is_file() else {}
    keys = {s.id: _sample_key(s) for s in samples}
    todo = [s for s in samples if seen.get(s.id, [None])[0] != keys[s.id]]
    if todo:
        kept = {s.id for s in filter_known(model, tokenizer, todo, top_k=top_k, batch_size=batch_size, progress=progress)}
        seen.update({s.id: [keys[s.id], s.id in kept] for s in todo})
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(seen))
        os.replace(tmp, path)
    return {s.id for s in samples if seen[s.id][1]}


def _sample_key(s: EditSample) -> str:
    import hashlib

    return hashlib.sha256(json.dumps([s.prompt, s.target_true]).encode()).hexdigest()[:16]


def _model_key(model: torch.nn.Module) -> str:
    import hashlib

    from ..artifacts import Fingerprint
    from ..model import resolve

    fp = Fingerprint.of(model)
    spec = resolve(model)
    h = hashlib.sha256(fp.unembed_hash.encode())
    for module in (spec.final_norm, spec.blocks[-1]):
        for p in list(module.parameters())[:4]:
            flat = p.detach().flatten()
            h.update(flat[:: max(1, flat.numel() // 256)].to("cpu", torch.float32).numpy().tobytes())
    return f"{fp.model_type}-{h.hexdigest()[:16]}"


def known_splits(
    model: torch.nn.Module | None,
    tokenizer: Any,
    samples: Sequence[EditSample],
    *,
    top_k: int = 1,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    known_ids: Iterable[str] | None = None,
    batch_size: int = 64,
    progress: bool | None = None,
    cache: bool | str | os.PathLike[str] = False,
) -> dict[str, list[EditSample]]:
    """Split *every* sample (:func:`split_samples`), then keep the known ones in each part.

    Splitting before filtering makes the parts independent of the model, so an editor trained on one
    run's ``train`` part never sees another run's ``test`` facts (the tour, the shipped editor's
    training script and the benchmarks all split this way). The known ones are those
    :func:`filter_known` keeps with ``top_k`` (remembered on disk with ``cache``, see
    :func:`known_sample_ids`), or, given ``known_ids`` (e.g. the ids of a saved JSONL of known samples),
    those whose id is listed; then no model is needed.
    """
    parts = split_samples(samples, fractions, seed=seed)
    if known_ids is None:
        if model is None:
            raise DataFormatError("known_splits needs the model to find the known samples (or pass known_ids).")
        known_ids = known_sample_ids(
            model, tokenizer, samples, top_k=top_k, batch_size=batch_size, progress=progress, cache=cache
        )
    ids = set(known_ids)
    return {k: [s for s in v if s.id in ids] for k, v in parts.items()}
