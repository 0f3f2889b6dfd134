"""Evaluating edits on counterfactual samples: efficacy, paraphrases, neighbourhood, generation.

Every edit method is scored with the same code and metrics:

* **efficacy**: on the prompt, the fraction of samples with ``p(t_new) > p(t_true)`` (first tokens
  after a space), and its magnitude, the mean of ``p(t_new) - p(t_true)``;
* **paraphrase efficacy**: the same on the paraphrase prompts, averaged within a sample first;
* **neighbourhood specificity**: on prompts about *other* entities with the same true object, the
  fraction where ``p(t_true) > p(t_new)`` still holds. Methods that edit the entity's own tokens
  (editors, LRE inverse) cannot touch texts without the entity, so their score equals the unedited
  model's by construction, as do the replace baseline's (neighbour prompts do not name the entity); the
  prefix baseline is really measured (its context is prepended);
* **generation** (top-k 5 sampling): **fluency**, the weighted 2-/3-gram entropy
  (``mean(2/3 H2, 4/3 H3)`` in bits, words from a regex tokenizer instead of NLTK's); **consistency**,
  the TF-IDF cosine (fitted locally on the samples' statements) between the generations and
  statements about other entities that have the new attribute; and how often the generation names
  the new and the true object.

Methods: :class:`Unedited`, :class:`Prefix` (context prepended), :class:`Replace` (the entity's name swapped
for another entity that has the new attribute), :class:`EditorEdit` (a REMEDI
editor, or the null/identity/random controls), :class:`LreInverseEdit` (``W+ (z' - z)`` from an
LRE of the relation, at the entity's last token), :class:`LrcSwapEdit` (the true object's relational concept
swapped for the new one's at the entity's last token).
"""

from __future__ import annotations

import json
import math
import os
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._results import JsonResult
from ..errors import DataFormatError
from ..model import Site, generate, intervene, resolve
from ..model.capture import last_token_logprobs
from ..model.tokens import encode
from .data import EditSample, first_token, prompt_in_context
from .editors import Editor
from .inputs import EditorInputs, edit, edit_spans, precompute

__all__ = [
    "score_targets",
    "efficacy",
    "weighted_ngram_entropy",
    "Tfidf",
    "EditMethod",
    "Unedited",
    "Prefix",
    "Replace",
    "EditorEdit",
    "LreInverseEdit",
    "LrcSwapEdit",
    "MethodResult",
    "evaluate_edits",
    "results_table",
    "write_results",
]

EditsFor = Callable[[Sequence[int], Sequence[str]], list[Any]]


@torch.no_grad()
def score_targets(
    model: torch.nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    targets: torch.Tensor,
    *,
    edits_for: EditsFor | None = None,
    batch_size: int = 32,
    progress: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-token log-probabilities ``[n, k]`` of ``targets`` after each text, and their ranks (0 = top).

    ``edits_for(indices, texts)`` returns the edits to install for one batch of rows (in order).
    """
    targets = torch.as_tensor(targets, dtype=torch.long)
    if targets.dim() == 1:
        targets = targets[:, None]
    if targets.shape[0] != len(texts):
        raise DataFormatError(f"{targets.shape[0]} target rows for {len(texts)} texts.")
    spec = resolve(model)
    if bool((targets >= spec.vocab_size).any()) or bool((targets < 0).any()):
        raise DataFormatError("A target token id is outside the model's vocabulary.")
    device = next(model.parameters()).device
    rows = encode(tokenizer, list(texts))
    lps, ranks = [], []
    starts = range(0, len(rows), batch_size)
    show = progress if progress is not None else len(starts) > 4
    for i in tqdm(starts, desc="score", unit="batch", disable=not show, leave=False):
        idx = list(range(i, min(i + batch_size, len(rows))))
        part = [rows[j] for j in idx]
        edits = edits_for(idx, [texts[j] for j in idx]) if edits_for else []
        with intervene(model, edits) if edits else nullcontext():
            lp = last_token_logprobs(model, part, batch_size=len(part)).to(device)
        t = targets[idx].to(device)
        sel = lp.gather(1, t)
        lps.append(sel.cpu())
        ranks.append((lp[:, None, :] > sel[:, :, None]).sum(-1).cpu())
    if not lps:
        return torch.zeros(0, targets.shape[1]), torch.zeros(0, targets.shape[1], dtype=torch.long)
    return torch.cat(lps), torch.cat(ranks)


def efficacy(p_new: Sequence[Sequence[float]], p_true: Sequence[Sequence[float]]) -> tuple[float, float]:
    """``(score, magnitude)``: per sample, the mean over its prompts of ``[p_new > p_true]`` and of
    ``p_new - p_true``; then the mean over samples (samples with no prompts are skipped)."""
    if len(p_new) != len(p_true):
        raise DataFormatError(f"{len(p_new)} samples of p_new but {len(p_true)} of p_true.")
    scores, mags = [], []
    for a, b in zip(p_new, p_true):
        if len(a) != len(b):
            raise DataFormatError("p_new and p_true must have the same number of prompts per sample.")
        if not len(a):
            continue
        a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        scores.append(float(np.mean(a_ > b_)))
        mags.append(float(np.mean(a_ - b_)))
    if not scores:
        return float("nan"), float("nan")
    return float(np.mean(scores)), float(np.mean(mags))


_WORD = re.compile(r"\w+|[^\w\s]")


def _entropy(counts: Counter) -> float:
    total = sum(counts.values())
    return -sum(c / total * math.log2(c / total) for c in counts.values()) if total else 0.0


def weighted_ngram_entropy(texts: str | Sequence[str]) -> float:
    """Fluency: per text, ``mean(2/3 H2, 4/3 H3)`` of its word 2-gram and 3-gram frequency
    distributions (bits); averaged over texts. ``"a a a"`` scores 0 and ``"a b " * 100`` scores 1."""
    items = [texts] if isinstance(texts, str) else list(texts)
    if not items:
        return float("nan")
    vals = []
    for t in items:
        words = _WORD.findall(t.lower())
        hs = []
        for n, w in ((2, 2 / 3), (3, 4 / 3)):
            grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
            hs.append(w * _entropy(grams))
        vals.append(float(np.mean(hs)))
    return float(np.mean(vals))


class Tfidf:
    """TF-IDF vectors fitted locally (scikit-learn), for consistency scores."""

    def __init__(self, corpus: Sequence[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if not corpus:
            raise DataFormatError("Tfidf needs a non-empty corpus.")
        self.vec = TfidfVectorizer(lowercase=True).fit(list(corpus))

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of the TF-IDF vectors of two texts (0 when either is empty)."""
        x = self.vec.transform([a, b])
        na, nb = math.sqrt(x[0].multiply(x[0]).sum()), math.sqrt(x[1].multiply(x[1]).sum())
        return float(x[0].multiply(x[1]).sum() / (na * nb)) if na and nb else 0.0


class EditMethod:
    """How a method turns (sample, prompt) into a text to run and edits to install."""

    name = "method"
    #: whether the method changes texts that do not mention the entity
    touches_neighbours = False

    def text(self, sample: EditSample, prompt: str) -> str:  # noqa: D102
        return prompt

    def prepare(self, model: torch.nn.Module, tokenizer: Any, samples: Sequence[EditSample]) -> None:
        """Precompute whatever the method needs for ``samples`` (called once per evaluation)."""

    def edits(self, tokenizer: Any, samples: Sequence[EditSample], texts: Sequence[str]) -> list[Any]:  # noqa: D102
        return []

    def covers(self, s: EditSample) -> bool:
        """Whether this method can edit ``s`` (after :meth:`prepare`); the others are left out of its scores."""
        return True


class Unedited(EditMethod):
    """The model as it is."""

    name = "unedited"


class Prefix(EditMethod):
    """The context sentence prepended to every prompt (REMEDI's prefix baseline)."""

    name = "prefix"
    touches_neighbours = True

    def text(self, sample, prompt):  # noqa: D102
        return prompt_in_context(sample, prompt)


class Replace(EditMethod):
    """REMEDI's "replace" baseline: the entity's name swapped, in every prompt, for another entity whose true
    object is ``target_new`` (one of ``new_object_subjects``, drawn per sample with a fixed seed).

    Neighbourhood prompts do not name the entity, so they are unchanged by construction. Samples with no such
    other entity are left out (:meth:`covers`).
    """

    name = "replace"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def substitute(self, sample: EditSample) -> str:
        """The entity that stands in for ``sample.entity`` (the same one for all of the sample's prompts)."""
        others = [x for x in sample.new_object_subjects if x != sample.entity]
        if not others:
            raise DataFormatError(f"Sample {sample.id!r} has no other entity whose object is {sample.target_new!r}.")
        return random.Random(f"replace-{self.seed}-{sample.id}").choice(sorted(others))

    def text(self, sample, prompt):  # noqa: D102
        return prompt.replace(sample.entity, self.substitute(sample))

    def covers(self, s):  # noqa: D102
        return any(x != s.entity for x in s.new_object_subjects)


class EditorEdit(EditMethod):
    """A REMEDI editor's direction added at the entity's (first mention's) last token, at its layer."""

    def __init__(
        self, editor: Editor, name: str | None = None, strength: float = 1.0, inputs: EditorInputs | None = None
    ) -> None:
        self.editor, self.strength = editor, strength
        self.name = name or ("remedi" if editor.kind in ("linear", "mlp", "biaffine", "scalar") else editor.kind)
        self._inputs = inputs
        self._dirs: dict[str, torch.Tensor] = {}

    def prepare(self, model, tokenizer, samples):  # noqa: D102
        ins = self._inputs or precompute(model, tokenizer, samples, self.editor.layer, progress=False)[self.editor.layer]
        device = next(model.parameters()).device
        self.editor.to(device)
        with torch.no_grad():
            d = self.editor(ins.entity(self.editor.input_last_entity_token).to(device), ins.attribute.to(device))
        self._dirs = {s.id: d[i] for i, s in enumerate(samples)}

    def edits(self, tokenizer, samples, texts):  # noqa: D102
        spans = edit_spans(tokenizer, texts, [s.entity for s in samples], 0, self.editor.edit_last_entity_token)
        return [edit(self.editor.layer, torch.stack([self._dirs[s.id] for s in samples]), spans, strength=self.strength)]


class LreInverseEdit(EditMethod):
    """``W+ (z' - z)`` at the entity's last token, from a rank-``rank`` inverse LRE of each relation.

    ``z`` is the object state of the prompt about the entity (its true object), ``z'`` that of the
    same prompt template about another entity whose object is ``target_new``. LREs are trained per
    relation on ``train`` samples (the model's known facts, zero-shot prompts).
    """

    name = "lre_inverse"

    def __init__(
        self,
        train: Sequence[EditSample],
        subject_layer: int,
        *,
        object_layer: int = -1,
        rank: int | None = None,
        max_samples: int = 8,
        aggregation: str = "first_token",
        seed: int = 0,
    ):
        self.train, self.subject_layer, self.object_layer = list(train), subject_layer, object_layer
        self.rank, self.max_samples, self.aggregation, self.seed = rank, max_samples, aggregation, seed
        self._deltas: dict[str, torch.Tensor] = {}
        self.lres: dict[str, Any] = {}

    def inverse(self, model: torch.nn.Module, tokenizer: Any, relation: str) -> Any:
        """The relation's inverted LRE (trained on the ``train`` samples of that relation the first time it is
        asked for), or ``None`` when ``train`` has none of them."""
        from ..relations import Prompt, train_lre
        from ..relations.lrc import default_rank

        if relation not in self.lres:
            tr = [Prompt(s.prompt, s.target_true, s.entity) for s in self.train if s.relation == relation]
            if not tr:
                return None
            spec = resolve(model)
            self.lres[relation] = train_lre(
                model,
                tokenizer,
                tr,
                spec.site(Site(self.subject_layer)).layer,
                self.object_layer,
                relation=relation,
                aggregation=self.aggregation,  # type: ignore[arg-type]  # checked by train_lre
                max_samples=self.max_samples,
                seed=self.seed,
                progress=False,
            ).invert(self.rank or default_rank(spec.d_model))
        return self.lres[relation]

    def prepare(self, model, tokenizer, samples):  # noqa: D102
        from ..relations import Prompt, object_activations

        for rel in sorted({s.relation for s in samples}):
            mine = [s for s in samples if s.relation == rel and s.new_object_subjects and "prompt_template" in s.source]
            if not mine:
                continue
            inv = self.inverse(model, tokenizer, rel)
            if inv is None:
                continue
            z = object_activations(
                model,
                tokenizer,
                [Prompt(s.prompt, s.target_true, s.entity) for s in mine],
                inv.object_layer,
                aggregation=inv.aggregation,
            )
            other = [
                Prompt(s.source["prompt_template"].format(s.new_object_subjects[0]), s.target_new, s.new_object_subjects[0])
                for s in mine
            ]
            z2 = object_activations(model, tokenizer, other, inv.object_layer, aggregation=inv.aggregation)
            delta = inv.w_inv_times((z2 - z).to(inv.u.dtype))
            for s, d in zip(mine, delta):
                self._deltas[s.id] = d

    def edits(self, tokenizer, samples, texts):  # noqa: D102
        missing = [s.id for s in samples if s.id not in self._deltas]
        if missing:
            raise DataFormatError(
                f"No LRE edit for samples {missing[:3]} (no trained LRE for their relation, or no "
                "other entity with the new object)."
            )
        spans = edit_spans(tokenizer, texts, [s.entity for s in samples], 0, True)
        inv = next(iter(self.lres.values()))
        return [edit(inv.subject_layer, torch.stack([self._deltas[s.id] for s in samples]), spans)]

    def covers(self, s: EditSample) -> bool:
        """Whether this method has an edit for ``s`` (after :meth:`prepare`)."""
        return s.id in self._deltas


class LrcSwapEdit(EditMethod):
    """A linear relational concept swap: ``h += strength * ||h|| * (v_new - v_true)`` at the entity's last token.

    The concepts are the LRC paper's: per object of the relation, the normalised mean of ``W+ o`` over the
    ``train`` samples with that true object, from the inverse LRE of ``source`` (an :class:`LreInverseEdit`,
    whose LREs are shared, so the two methods are built from the same fit). A sample is covered when both its
    true and its new object have a concept. ``layers="all"`` adds at every block's output with a small
    ``strength`` (the paper's evaluation, and :func:`steerlens.relations.evaluate.evaluate_relation`'s
    default 0.05); an int adds at that block only.
    """

    name = "lrc_swap"

    def __init__(self, source: LreInverseEdit, *, strength: float = 0.05, layers: int | str = "all") -> None:
        self.source, self.strength, self.layers = source, strength, layers
        self.concepts: dict[str, dict[str, str]] = {}  # relation -> object -> concept name
        self._swapper: Any = None

    def prepare(self, model, tokenizer, samples):  # noqa: D102
        from ..relations import ConceptSwapper, Prompt, concepts_from_inverse

        found = list(self._swapper.concepts.values()) if self._swapper is not None else []
        for rel in sorted({s.relation for s in samples} - set(self.concepts)):
            inv = self.source.inverse(model, tokenizer, rel)
            prompts = [Prompt(s.prompt, s.target_true, s.entity) for s in self.source.train if s.relation == rel]
            self.concepts[rel] = {}
            if inv is None or len({p.object_name for p in prompts}) < 2:
                continue
            made = concepts_from_inverse(model, tokenizer, inv, prompts)
            self.concepts[rel] = {c.object: c.name for c in made}
            found.extend(made)
        if found:  # concept names carry their relation, so one swapper serves a batch of mixed relations
            self._swapper = ConceptSwapper(model, tokenizer, found)

    def _names(self, s: EditSample) -> tuple[str, str] | None:
        names = self.concepts.get(s.relation, {})
        if s.target_true not in names or s.target_new not in names:
            return None
        return names[s.target_true], names[s.target_new]

    def edits(self, tokenizer, samples, texts):  # noqa: D102
        names = [self._names(s) for s in samples]
        missing = [s.id for s, n in zip(samples, names) if n is None]
        if missing:
            raise DataFormatError(f"No concept swap for samples {missing[:3]} (no concept for their true or new object).")
        spans = edit_spans(tokenizer, texts, [s.entity for s in samples], 0, True)
        swaps = [n for n in names if n is not None]
        return self._swapper.edits(swaps, [start for start, _ in spans], layers=self.layers, strength=self.strength)

    def covers(self, s: EditSample) -> bool:
        """Whether both the sample's true and new object have a concept (after :meth:`prepare`)."""
        return self._names(s) is not None


@dataclass
class MethodResult(JsonResult):
    """Scores of one method (``None`` where not measured)."""

    method: str
    n: int
    efficacy: float
    efficacy_magnitude: float
    paraphrase_efficacy: float | None = None
    paraphrase_magnitude: float | None = None
    neighbourhood: float | None = None
    neighbourhood_by_construction: bool = False
    fluency: float | None = None
    consistency: float | None = None
    mentions_new: float | None = None
    mentions_true: float | None = None
    examples: list[dict[str, str]] = field(default_factory=list)


def _probs(
    model,
    tokenizer,
    method: EditMethod,
    samples: Sequence[EditSample],
    prompts: Sequence[str],
    owners: Sequence[int],
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    texts = [method.text(samples[o], p) for p, o in zip(prompts, owners)]
    tg = torch.tensor(
        [[first_token(tokenizer, samples[o].target_new), first_token(tokenizer, samples[o].target_true)] for o in owners],
        dtype=torch.long,
    )

    def edits_for(idx, part):
        return method.edits(tokenizer, [samples[owners[i]] for i in idx], part)

    lp, _ = score_targets(model, tokenizer, texts, tg, edits_for=edits_for, batch_size=batch_size, progress=False)
    p = lp.exp().numpy()
    return p[:, 0], p[:, 1]


def _grouped(values: np.ndarray, owners: Sequence[int], n: int) -> list[list[float]]:
    out: list[list[float]] = [[] for _ in range(n)]
    for v, o in zip(values.tolist(), owners):
        out[o].append(v)
    return out


def _references(sample: EditSample) -> str:
    ts = [t for t in (sample.source.get("context_template"), sample.source.get("prompt_template")) if t]
    return " ".join(f"{t.format(x)} {sample.target_new}." for x in sample.new_object_subjects for t in ts)


def evaluate_edits(
    model: torch.nn.Module,
    tokenizer: Any,
    samples: Sequence[EditSample],
    methods: Sequence[EditMethod],
    *,
    generation: bool = True,
    max_new_tokens: int = 40,
    top_k: int = 5,
    n_generation: int | None = 100,
    batch_size: int = 32,
    seed: int = 0,
    n_examples: int = 3,
    progress: bool | None = None,
) -> list[MethodResult]:
    """Score every method on ``samples`` with the same metrics (see the module doc).

    Args:
        samples: Samples with a ``target_true`` (efficacy compares the new and the true object).
        methods: e.g. ``[Unedited(), Prefix(), EditorEdit(null), EditorEdit(editor), LreInverseEdit(...)]``.
        generation: Also generate (``top_k`` sampling, ``max_new_tokens``) on the first ``n_generation``
            samples' prompts for fluency and consistency.
    """
    samples = [s for s in samples if s.target_true]
    if not samples:
        raise DataFormatError("evaluate_edits needs samples with a target_true.")
    n = len(samples)
    para = [(p, i) for i, s in enumerate(samples) for p in s.paraphrases]
    neigh = [(p, i) for i, s in enumerate(samples) for p in s.neighbourhood]
    tfidf = None
    gen_samples = samples[: n_generation or n]
    if generation:
        corpus = [s.context for s in samples] + [_references(s) for s in samples if s.new_object_subjects]
        tfidf = Tfidf([c for c in corpus if c.strip()])
    results = []
    unedited_neigh: float | None = None
    show = progress if progress is not None else True
    for method in tqdm(methods, desc="methods", unit="method", disable=not show):
        method.prepare(model, tokenizer, samples)
        sub = [s for s in samples if method.covers(s)]
        if len(sub) == n:
            sub = samples
        else:
            if not sub:
                results.append(MethodResult(method.name, 0, float("nan"), float("nan")))
                continue
        m = len(sub)
        pn, pt = _probs(model, tokenizer, method, sub, [s.prompt for s in sub], list(range(m)), batch_size)
        score, mag = efficacy([[a] for a in pn], [[b] for b in pt])
        res = MethodResult(method.name, m, score, mag)
        sub_para = [(p, i) for i, s in enumerate(sub) for p in s.paraphrases] if sub is not samples else para
        if sub_para:
            a, b = _probs(model, tokenizer, method, sub, [p for p, _ in sub_para], [o for _, o in sub_para], batch_size)
            res.paraphrase_efficacy, res.paraphrase_magnitude = efficacy(
                _grouped(a, [o for _, o in sub_para], m), _grouped(b, [o for _, o in sub_para], m)
            )
        if neigh:
            if method.touches_neighbours or unedited_neigh is None:
                a, b = _probs(
                    model,
                    tokenizer,
                    method if method.touches_neighbours else Unedited(),
                    samples,
                    [p for p, _ in neigh],
                    [o for _, o in neigh],
                    batch_size,
                )
                # specificity: the neighbour keeps preferring its true object
                score_n, _ = efficacy(_grouped(b, [o for _, o in neigh], n), _grouped(a, [o for _, o in neigh], n))
                if not method.touches_neighbours:
                    unedited_neigh = score_n
            res.neighbourhood = score_n if method.touches_neighbours else unedited_neigh
            res.neighbourhood_by_construction = not method.touches_neighbours and not isinstance(method, Unedited)
        ids = {s.id for s in sub}
        gs = [s for s in gen_samples if s.id in ids]
        if generation and gs:  # (a method that covers none of the generation samples gets no generation scores)
            texts = _generate(model, tokenizer, method, gs, max_new_tokens, top_k, batch_size, seed)
            res.fluency = weighted_ngram_entropy(texts)
            refs = [(t, _references(s)) for t, s in zip(texts, gs) if s.new_object_subjects]
            if refs and tfidf is not None:
                res.consistency = float(np.mean([tfidf.similarity(t, r) for t, r in refs]))
            res.mentions_new = float(np.mean([s.target_new.lower() in t.lower() for t, s in zip(texts, gs)]))
            res.mentions_true = float(np.mean([s.target_true.lower() in t.lower() for t, s in zip(texts, gs)]))
            res.examples = [
                {"prompt": s.prompt, "context": s.context, "generation": t} for s, t in list(zip(gs, texts))[:n_examples]
            ]
        results.append(res)
    return results


def _generate(
    model,
    tokenizer,
    method: EditMethod,
    samples: Sequence[EditSample],
    max_new_tokens: int,
    top_k: int,
    batch_size: int,
    seed: int,
) -> list[str]:
    out: list[str] = []
    for i in range(0, len(samples), batch_size):
        part = list(samples[i : i + batch_size])
        texts = [method.text(s, s.prompt) for s in part]
        edits = method.edits(tokenizer, part, texts)
        with intervene(model, edits) if edits else nullcontext():
            g = generate(
                model,
                tokenizer,
                texts,
                max_new_tokens=max_new_tokens,
                do_sample=True,
                top_k=top_k,
                top_p=1.0,
                temperature=1.0,
                seed=seed + i,
            )
        out.extend(g.texts or [])
    return out


def results_table(results: Sequence[MethodResult]) -> str:
    """A plain-text table, one row per method (``*``: equal to the unedited model by construction)."""

    def f(v: float | None, pct: bool = True) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        return f"{100 * v:.1f}" if pct else f"{v:.3f}"

    head = (
        f"{'method':14} {'n':>5} {'eff':>6} {'eff mag':>8} {'para':>6} {'neigh':>7} {'fluency':>8} "
        f"{'consist':>8} {'new%':>6} {'true%':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        neigh = f(r.neighbourhood) + ("*" if r.neighbourhood_by_construction else "")
        lines.append(
            f"{r.method:14} {r.n:>5} {f(r.efficacy):>6} {f(r.efficacy_magnitude):>8} "
            f"{f(r.paraphrase_efficacy):>6} {neigh:>7} {f(r.fluency, False):>8} {f(r.consistency):>8} "
            f"{f(r.mentions_new):>6} {f(r.mentions_true):>6}"
        )
    lines.append(
        "(efficacy, paraphrase, neighbourhood, consistency and mentions in %; eff mag: mean p(new) - p(true) "
        "in percentage points; fluency in bits; * = unchanged by construction)"
    )
    return "\n".join(lines)


def write_results(results: Sequence[MethodResult], path: str | os.PathLike[str], **extra: Any) -> Path:
    """Write results (and ``extra`` JSON-friendly fields) to a JSON file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps({"results": [asdict(r) for r in results], **extra}, indent=1))
    return p
