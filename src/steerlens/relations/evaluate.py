"""Evaluation on the relation dataset: LRE faithfulness and causality, LRC accuracy and concept swaps.

Per relation (:func:`evaluate_relation`):

1. Split the samples ("max coverage" of objects in train) and build few-shot (ICL) prompts whose
   demonstrations come from the training samples (never the query's own subject).
2. **Known samples**: the model's top-1 next token on the ICL prompt is a non-trivial prefix of the
   object (lower-cased, stripped). Only known samples are used below.
3. **LRE** from ``n_train`` known training prompts (exact Jacobians).
4. **Faithfulness** (recall@1): on known test prompts, the LRE's output decoded through the final
   norm and unembedding has a top-1 token that is a non-trivial prefix of the object (on known
   samples, agreement with the model's own top-1).
5. **Causality**: for each test sample, a target sample with another object; add
   ``W_r+ (z' - z)`` (rank-r pseudo-inverse of W, the two prompts' object activations) to the
   subject's last token at the subject layer; success when the edited model's top-1 token is a prefix
   of the target object.
6. **LRCs** (inverse LRE, a concept per object from the training prompts) and the probing baselines
   (mean vector, logistic regression, linear SVM on the subject activations of the same prompts):
   classification accuracy on zero-shot test prompts the model answers, and concept-swap success
   (``P(target answer) > P(original answer)`` after ``h += m ||h|| (v_add - v_remove)`` at every layer).

:func:`evaluate_relations` runs many relations and summarises per category.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import DataFormatError
from ..model.architectures import resolve
from ..model.capture import capture
from ..model.intervene import Add, intervene
from ..model.positions import Spans
from ..model.site import Site
from .data import Prompt, Relation, load_relation, make_prompts, stable_shuffle
from .jacobian import object_activations, subject_activations
from .locate import locate
from .lrc import ConceptSwapper, RelationalConcept, concepts_from_inverse, default_rank
from .lre import InvertedLre, Lre, train_lre
from .validate import PromptValidator

__all__ = [
    "MEASURES",
    "RelationResult",
    "evaluate_relation",
    "evaluate_relations",
    "summarize",
    "is_prefix",
    "top1_tokens",
    "split_known",
    "causality",
    "plot_summary",
    "results_table",
]


def is_prefix(token: str, target: str) -> bool:
    """A non-trivial prefix match: the stripped, lower-cased token is non-empty and starts the target."""
    t = token.strip().lower()
    return bool(t) and target.strip().lower().startswith(t)


@torch.no_grad()
def top1_tokens(
    model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], batch_size: int = 16, edits: Sequence[Any] = ()
) -> list[str]:
    """The model's greedy next token after each text (decoded), optionally under ``edits``."""
    spec = resolve(model)
    out: list[str] = []
    with intervene(model, list(edits)) if edits else nullcontext():
        acts = capture(
            model, list(texts), Site(-1), tokenizer=tokenizer, positions="last", batch_size=batch_size, progress=False
        )[Site(-1)]
    for i in range(0, len(acts), 256):
        ids = spec.logits(acts[i : i + 256].to(next(model.parameters()).device)).argmax(-1)
        out.extend(tokenizer.decode([int(t)]) for t in ids)
    return out


@dataclass
class RelationResult:
    """Scores of one relation (``None`` where too few samples were known to measure)."""

    relation: str
    category: str
    n_samples: int
    n_known: int
    n_train: int
    n_test: int
    subject_layer: int
    object_layer: int
    rank: int
    faithfulness: float | None = None
    causality: float | None = None
    concept_accuracy: dict[str, float | None] = field(default_factory=dict)
    concept_causality: dict[str, float | None] = field(default_factory=dict)
    n_concept_test: int = 0
    seconds: float = 0.0
    note: str = ""
    n_used: int | None = None
    """Samples evaluated when ``max_samples`` capped the relation (``None``: all ``n_samples``);
    ``n_known`` counts known samples among these."""


def split_known(
    model: torch.nn.Module,
    tokenizer: Any,
    relation: Relation,
    n_train: int,
    n_icl: int,
    seed: int = 0,
    batch_size: int = 16,
    require_known: bool = True,
) -> tuple[list[Prompt], list[Prompt], int]:
    """ICL prompts of every sample (demonstrations from a seeded train split), split by subject into
    ``(train, test, n_known)``: the prompts the model answers (all prompts with ``require_known=False``)
    whose subject is in the train split, the others, and how many the model answers."""
    if len(relation.samples) < 2:
        raise DataFormatError(f"Relation {relation.name!r} has {len(relation.samples)} sample(s); it needs two or more.")
    train_rel, test_rel = relation.split(min(max(n_train * 2, n_icl + 1), len(relation.samples) - 1), seed=seed)
    demos = list(train_rel.samples)
    prompts = make_prompts(relation, n_demonstrations=n_icl, demonstrations=demos, seed=seed)
    tops = top1_tokens(model, tokenizer, [p.text for p in prompts], batch_size=batch_size)
    known = [p for p, t in zip(prompts, tops) if is_prefix(t, p.answer)]
    n_known = len(known)
    if not require_known:
        known = prompts
    train_subjects = {s.subject for s in train_rel.samples}
    return ([p for p in known if p.subject in train_subjects], [p for p in known if p.subject not in train_subjects], n_known)


def causality(
    model: torch.nn.Module, tokenizer: Any, lre: Lre, inv: InvertedLre, test: list[Prompt], seed: int = 0, batch_size: int = 16
) -> float | None:
    """The LRE paper's causality: for each test prompt, edit its subject by ``inv(z' - z)`` (``z``: its object
    activation, ``z'``: that of another test prompt with a different object); the fraction whose top-1 token
    becomes the other object. ``None`` when no prompt has a partner."""
    rng = random.Random(seed)
    pairs = []
    for p in test:
        others = [q for q in test if q.object_name != p.object_name and q.subject != p.subject]
        if others:
            pairs.append((p, rng.choice(others)))
    if not pairs:
        return None
    z = object_activations(model, tokenizer, [p for p, _ in pairs], lre.object_layer, aggregation=lre.aggregation)
    z2 = object_activations(model, tokenizer, [q for _, q in pairs], lre.object_layer, aggregation=lre.aggregation)
    delta = inv.w_inv_times((z2 - z).to(inv.u.dtype))
    hits = 0
    for i in range(0, len(pairs), batch_size):
        part = pairs[i : i + batch_size]
        subj = [locate(tokenizer, p, with_answer=False).subject for p, _ in part]
        edit = Add(
            Site(lre.subject_layer),
            delta[i : i + len(part)].to(next(model.parameters()).dtype),
            positions=Spans([(j, j + 1) for j in subj]),
            per_row=True,
        )
        tops = top1_tokens(model, tokenizer, [p.text for p, _ in part], edits=[edit])
        hits += sum(is_prefix(t, q.answer) for t, (_, q) in zip(tops, part))
    return hits / len(pairs)


def _concept_split(fitted: list[Prompt], rest: list[Prompt], seed: int) -> tuple[list[Prompt], set[str]]:
    """Concept training prompts and concept test subjects (the LRC paper's split, without leaking the LRE's data).

    Every prompt the LRE was fitted on (``fitted``) trains the concepts; of the ``rest``, per object, the first
    (seeded order) and then every other one train too, and the others are the test subjects. So no subject the
    LRE saw is ever a concept test subject (the probe baselines never see test subjects either).
    """
    groups: dict[str, list[Prompt]] = {}
    seen = {p.subject for p in fitted}
    for p in rest:
        if p.subject not in seen:
            groups.setdefault(p.object_name, []).append(p)
    train, test = list(fitted), set()
    for obj, ps in groups.items():
        ps = sorted(ps, key=lambda p: p.subject)
        random.Random(f"{seed}-{obj}").shuffle(ps)
        for k, p in enumerate(ps):
            (train.append(p) if k % 2 == 0 else test.add(p.subject))
    return train, test


def _probe_concepts(
    acts: torch.Tensor, labels: list[str], layer: int, relation: str, kind: str, seed: int
) -> list[RelationalConcept]:
    """Unit concept vectors from the subject activations of training prompts (the LRC paper's baselines)."""
    objects = sorted(set(labels))
    x = acts.float().numpy()
    y = np.array([objects.index(o) for o in labels])
    vecs: list[np.ndarray] = []
    for k, _ in enumerate(objects):
        if kind == "mean":
            v = x[y == k].mean(0)
        else:
            from sklearn.linear_model import LogisticRegression
            from sklearn.svm import LinearSVC

            target = (y == k).astype(int)
            if kind == "logistic":
                clf = LogisticRegression(class_weight="balanced", fit_intercept=False, max_iter=1000)
            else:
                clf = LinearSVC(class_weight="balanced", fit_intercept=False, max_iter=1000, dual=True, random_state=seed)
            clf.fit(x, target)
            v = clf.coef_[0]
        vecs.append(v / max(np.linalg.norm(v), 1e-12))
    return [
        RelationalConcept(layer, torch.tensor(v, dtype=torch.float32), o, relation, f"{relation}: {o} [{kind}]")
        for v, o in zip(vecs, objects)
    ]


def _concept_scores(
    model,
    tokenizer,
    concept_sets: dict[str, list[RelationalConcept]],
    train: list[Prompt],
    test: list[Prompt],
    strength: float,
    max_per_concept: int,
    seed: int,
    batch_size: int,
):
    """Accuracy and swap success of each concept set on zero-shot test prompts."""
    acc: dict[str, float | None] = {}
    caus: dict[str, float | None] = {}
    layer = next(iter(concept_sets.values()))[0].layer
    acts = subject_activations(model, tokenizer, test, layer) if test else torch.zeros(0)
    rng = random.Random(seed)
    for name, concepts in concept_sets.items():
        by_obj = {c.object: c for c in concepts}
        usable = [i for i, p in enumerate(test) if p.object_name in by_obj]
        if not usable:
            acc[name] = caus[name] = None
            continue
        objs = list(by_obj)
        mat = torch.stack([by_obj[o].vector for o in objs])
        pred = (acts[usable] @ mat.T).argmax(1)
        acc[name] = float(np.mean([objs[int(k)] == test[i].object_name for k, i in zip(pred, usable)]))
        # swaps: up to max_per_concept attempts per source object, target = another object's concept
        editor = ConceptSwapper(model, tokenizer, concepts)
        requests, answers = [], []
        per_source: dict[str, int] = {}
        for i in usable:
            p = test[i]
            if per_source.get(p.object_name, 0) >= max_per_concept:
                continue
            targets = [o for o in objs if o != p.object_name]
            if not targets:
                continue
            t = rng.choice(targets)
            per_source[p.object_name] = per_source.get(p.object_name, 0) + 1
            requests.append((p.text, p.subject, by_obj[p.object_name].name, by_obj[t].name))
            answers.append([p.answer, t])
        if not requests:
            caus[name] = None
            continue
        probs = editor.answer_probabilities(requests, answers, strength=strength, batch_size=batch_size)
        caus[name] = float(np.mean([tgt > orig for orig, tgt in probs]))
    return acc, caus


#: the scores :func:`evaluate_relation` can compute (its ``measure``)
MEASURES = ("faithfulness", "causality", "concepts")


def evaluate_relation(
    model: torch.nn.Module,
    tokenizer: Any,
    relation: Relation | str,
    *,
    subject_layer: int,
    object_layer: int = -1,
    aggregation: str = "first_token",
    n_train: int = 5,
    n_icl: int = 4,
    rank: int | None = None,
    beta: float = 1.0,
    concept_object_layer: int | None = None,
    swap_strength: float = 0.05,
    max_swaps_per_concept: int = 5,
    max_test: int = 100,
    min_known: int = 4,
    baselines: bool = True,
    max_samples: int | None = None,
    seed: int = 0,
    batch_size: int = 16,
    measure: Sequence[str] = MEASURES,
) -> RelationResult:
    """Faithfulness, causality, concept accuracy and concept-swap success for one relation (see the module doc).

    ``max_samples`` caps a large relation at a seeded random subset of its samples before anything
    runs (a few relations have close to 1,000); the result's ``n_used`` records the cap.

    ``measure`` names the scores to compute, among :data:`MEASURES`; the others stay ``None``. With
    ``measure=("concepts",)`` and a ``concept_object_layer``, the LRE at ``object_layer`` is never trained
    (its Jacobians are most of the cost: on gemma-3-270m a relation took 24 s instead of 98 s). The
    concept split and scores do not depend on it: they are the same as in a full evaluation.
    """
    unknown = sorted(set(measure) - set(MEASURES))
    if unknown or not measure:
        raise DataFormatError(f"measure must name some of {list(MEASURES)}, got {list(measure)}.")
    t0 = time.perf_counter()
    rel = load_relation(relation) if isinstance(relation, str) else relation
    n_total = len(rel.samples)
    if max_samples is not None:
        if max_samples < 2:
            raise DataFormatError(f"max_samples must be at least 2 (or None for all samples), got {max_samples}.")
        if n_total > max_samples:
            rel = rel._with(stable_shuffle(rel.samples, f"cap-{seed}")[:max_samples])
    spec = resolve(model)
    rank = default_rank(spec.d_model) if rank is None else rank
    ol = spec.site(Site(object_layer)).layer
    train, test, n_known = split_known(model, tokenizer, rel, n_train, n_icl, seed, batch_size)
    test = test[:max_test]
    res = RelationResult(
        rel.name,
        rel.category,
        n_total,
        n_known,
        min(n_train, len(train)),
        len(test),
        subject_layer,
        ol,
        rank,
        n_used=len(rel.samples) if len(rel.samples) < n_total else None,
    )
    if len(train) < 1 or len(test) < min_known:
        res.note = f"too few known samples (train {len(train)}, test {len(test)})"
        res.seconds = time.perf_counter() - t0
        return res
    lre: Lre | None = None
    if "faithfulness" in measure or "causality" in measure or ("concepts" in measure and concept_object_layer is None):
        lre = train_lre(
            model,
            tokenizer,
            train,
            subject_layer,
            ol,
            relation=rel.name,
            aggregation=aggregation,  # type: ignore[arg-type]
            max_samples=n_train,
            beta=beta,
            seed=seed,
            progress=False,
        )
    if lre is not None and "faithfulness" in measure:
        s = subject_activations(model, tokenizer, test, subject_layer)
        logits = spec.logits(lre(s).to(next(model.parameters()).device))
        tops = [tokenizer.decode([int(t)]) for t in logits.argmax(-1)]
        res.faithfulness = float(np.mean([is_prefix(t, p.answer) for t, p in zip(tops, test)]))
    if lre is not None and "causality" in measure:
        res.causality = causality(model, tokenizer, lre, lre.invert(rank), test, seed, batch_size)
    if "concepts" not in measure:
        res.seconds = time.perf_counter() - t0
        return res

    # concepts (the LRC paper's split): the LRE's own training prompts, then per object the first known sample
    # and every other one train (ICL prompts); the rest are tested on zero-shot prompts the model answers
    concept_train, concept_test_subjects = _concept_split(train, test, seed)
    zs_test = make_prompts(rel, zero_shot=True, samples=[x for x in rel.samples if x.subject in concept_test_subjects])
    zs_test = PromptValidator(model, tokenizer).filter(zs_test, batch_size=batch_size, progress=False)[:max_test]
    res.n_concept_test = len(zs_test)
    objects = {p.object_name for p in concept_train}
    if len(objects) >= 2 and zs_test:
        c_lre = (
            lre
            if concept_object_layer is None and lre is not None
            else train_lre(
                model,
                tokenizer,
                train,
                subject_layer,
                ol if concept_object_layer is None else concept_object_layer,
                relation=rel.name,
                aggregation="mean",
                max_samples=n_train,
                seed=seed,
                progress=False,
            )
        )
        sets: dict[str, list[RelationalConcept]] = {
            "lrc": concepts_from_inverse(model, tokenizer, c_lre.invert(rank), concept_train, relation=rel.name)
        }
        if baselines:
            acts = subject_activations(model, tokenizer, concept_train, subject_layer)
            labels = [p.object_name for p in concept_train]
            for kind in ("mean", "logistic", "svm"):
                sets[kind] = _probe_concepts(acts, labels, subject_layer, rel.name, kind, seed)
        res.concept_accuracy, res.concept_causality = _concept_scores(
            model, tokenizer, sets, concept_train, zs_test, swap_strength, max_swaps_per_concept, seed, batch_size
        )
    elif len(objects) < 2:
        res.note = "fewer than two objects among known training prompts: no concepts"
    else:
        res.note = "no known zero-shot test prompt of an object seen in training: no concept scores"
    res.seconds = time.perf_counter() - t0
    return res


def evaluate_relations(
    model: torch.nn.Module,
    tokenizer: Any,
    relations: Sequence[str] | None = None,
    *,
    out: str | os.PathLike[str] | None = None,
    progress: bool = True,
    **kwargs: Any,
) -> list[RelationResult]:
    """:func:`evaluate_relation` over many relations (default: all 47); writes ``results.json`` to ``out``."""
    from .data import relation_names

    names = list(relations) if relations else relation_names()
    results = []
    for name in tqdm(names, desc="relations", unit="relation", disable=not progress):
        results.append(evaluate_relation(model, tokenizer, name, **kwargs))
        if out is not None:
            write_results(results, out)
    return results


def write_results(results: Sequence[RelationResult], out: str | os.PathLike[str]) -> Path:
    """Write ``results.json`` (per relation and the per-category summary) into folder ``out``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.json"
    path.write_text(json.dumps({"relations": [asdict(r) for r in results], "summary": summarize(results)}, indent=1))
    return path


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def summarize(results: Sequence[RelationResult]) -> dict[str, dict[str, Any]]:
    """Macro averages per category and overall (relations without a score are skipped)."""
    out: dict[str, dict[str, Any]] = {}
    groups: dict[str, list[RelationResult]] = {}
    for r in results:
        groups.setdefault(r.category, []).append(r)
    groups["all"] = list(results)
    for cat, rs in groups.items():
        kinds = sorted({k for r in rs for k in r.concept_accuracy})
        out[cat] = {
            "relations": len(rs),
            "scored": sum(r.faithfulness is not None for r in rs),
            "faithfulness": _mean([r.faithfulness for r in rs]),
            "causality": _mean([r.causality for r in rs]),
            "concept_accuracy": {k: _mean([r.concept_accuracy.get(k) for r in rs]) for k in kinds},
            "concept_causality": {k: _mean([r.concept_causality.get(k) for r in rs]) for k in kinds},
        }
    return out


def _fmt(v: float | None) -> str:
    return "  -  " if v is None else f"{v:.2f}"


def results_table(results: Sequence[RelationResult]) -> str:
    """A plain-text table: one row per relation, then the category averages."""
    kinds = ["lrc", "mean", "logistic", "svm"]
    head = (
        f"{'relation':34} {'cat':11} {'known/used':>10} {'faith':>5} {'caus':>5} | "
        + " ".join(f"{k[:5]:>5}" for k in kinds)
        + " | "
        + " ".join(f"{k[:5]:>5}" for k in kinds)
    )
    lines = [head, " " * 71 + "concept accuracy            | concept swap success", "-" * len(head)]
    for r in results:
        known = f"{r.n_known}/{r.n_used or r.n_samples}"
        lines.append(
            f"{r.relation[:34]:34} {r.category[:11]:11} {known:>10} {_fmt(r.faithfulness):>5} "
            f"{_fmt(r.causality):>5} | "
            + " ".join(f"{_fmt(r.concept_accuracy.get(k)):>5}" for k in kinds)
            + " | "
            + " ".join(f"{_fmt(r.concept_causality.get(k)):>5}" for k in kinds)
        )
    lines.append("-" * len(head))
    for cat, s in summarize(results).items():
        lines.append(
            f"{'mean: ' + cat:34} {'':11} {'':10} {_fmt(s['faithfulness']):>5} {_fmt(s['causality']):>5} | "
            + " ".join(f"{_fmt(s['concept_accuracy'].get(k)):>5}" for k in kinds)
            + " | "
            + " ".join(f"{_fmt(s['concept_causality'].get(k)):>5}" for k in kinds)
        )
    return "\n".join(lines)


def plot_summary(results: Sequence[RelationResult], path: str | os.PathLike[str], title: str = "") -> Path:
    """Per-category bars: LRE faithfulness and causality, and concept accuracy / swap success per method."""
    from .._plotting import pyplot

    plt = pyplot()
    summary = {k: v for k, v in summarize(results).items()}
    cats = [c for c in ("factual", "commonsense", "linguistic", "bias", "all") if c in summary]
    series: list[tuple[str, Callable[..., Any]]] = [
        ("LRE faithfulness", lambda s: s["faithfulness"]),
        ("LRE causality", lambda s: s["causality"]),
    ]
    for k in ("lrc", "mean", "logistic", "svm"):
        series.append((f"{k} accuracy", lambda s, k=k: s["concept_accuracy"].get(k)))
    for k in ("lrc", "mean", "logistic", "svm"):
        series.append((f"{k} swap", lambda s, k=k: s["concept_causality"].get(k)))
    fig, ax = plt.subplots(figsize=(12, 4.5))
    width = 0.8 / len(series)
    for i, (label, get) in enumerate(series):
        vals = [get(summary[c]) or 0.0 for c in cats]
        ax.bar(np.arange(len(cats)) + i * width - 0.4 + width / 2, vals, width, label=label)
    ax.set_xticks(np.arange(len(cats)), cats)
    ax.set_ylim(0, 1)
    ax.set_ylabel("score (macro mean over relations)")
    ax.set_title(title or "Relations: LRE and concept scores by category")
    ax.legend(ncol=5, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
