"""One benchmark for every steering writer on the same items and metrics (``steerlens bench``).

Each writer is fitted on a concept's training prompts and judged on held-out prompts by scores it was not built
from, with no hosted judge:

* **steerability** on contrast A/B items (steering-bench style): every held-out prompt has a label-1 and a label-0
  answer; the item's score is ``log p(label-1 answer) - log p(label-0 answer)`` (nats, summed over the answer's
  tokens). Each writer is applied at strengths ``alpha`` on a common scale, and an item's steerability is the
  least-squares slope of its score against ``alpha``; the writer's **steerability** is the mean slope and
  **anti-steerable** the fraction of items whose slope is negative.
* **detection** (AxBench style): the AUROC of the writer's direction as a classifier of held-out answers (the
  projection of the answer's last-token activation at the site).
* **side effects** at the largest strength: the mean per-token ``KL(steered || unsteered)`` on neutral text
  (held-out entries of the shipped corpus), its perplexity ratio, and the change in next-token top-1 accuracy.

The common strength scale: ``alpha = 1`` adds a vector whose norm is the mean norm of the residual at the site
(measured on the neutral text, its first token left out), so writers are compared at the same budget and differ
only in the direction (and, for ActAdd, in how the addition is laid over the prompt). Directions are normalised
before they are applied.

Writers: ``mean_diff``, ``pca`` and ``logistic`` steering vectors (read at the last token of each contrast text),
``concept`` (the concept-guidance probe fitted on every answer token), ``actadd`` (an x-vector from a pair of
steering prompts per concept, front-aligned as ActAdd adds it; its detection direction is its summed rows), and
``project_out`` (the ``mean_diff`` direction removed; one point, no slope).

**knowledge edits** (:mod:`steerlens.bench.knowledge`): the writers that edit an entity (REMEDI, the LRE-inverse
edit, the LRC swap, and the prefix / replace baselines) on held-out CounterFact-style facts the model knows, with
the editors' metrics: efficacy, paraphrase efficacy, neighbourhood specificity, fluency and consistency.

The leaderboard (``leaderboard.json``) is keyed by a hash of the configuration and the model's fingerprint and
holds no timings, so two runs on the same machine give identical files; ``leaderboard.md``, ``curves.png`` and
``knowledge.png`` show it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from .._plotting import pyplot
from ..artifacts import Fingerprint
from ..concepts.data import ConceptExample, contrast_pairs, load_dataset
from ..concepts.guidance import train_concept
from ..errors import ConfigError, ShapeError
from ..model.architectures import resolve
from ..model.capture import capture, position_logprobs
from ..model.intervene import Add, Edit, ProjectOut, intervene
from ..model.site import Site
from ..model.tokens import encode
from ..steering.addition import ActAdd, x_vector
from ..steering.calibrate import ContrastEffect, neutral_texts
from ..steering.metrics import summarize_drift, text_drift
from ..steering.vectors import train_steering_vector
from .knowledge import EDIT_WRITERS, bench_editor, editor_digest, knowledge_facts, run_knowledge

__all__ = [
    "BenchConfig",
    "Leaderboard",
    "run_bench",
    "training_pairs",
    "WRITERS",
    "EDIT_WRITERS",
    "QUICK_EDIT_RELATIONS",
    "ACTADD_PROMPTS",
    "auroc",
]

WRITERS = ("mean_diff", "pca", "logistic", "concept", "actadd", "project_out")

#: the relations of ``--quick``'s knowledge task: three with many facts gemma-3-270m knows
QUICK_EDIT_RELATIONS = ("person native language", "landmark on continent", "company hq")

#: ActAdd's steering prompts per concept: (towards label 1, towards label 0).
ACTADD_PROMPTS: dict[str, tuple[str, str]] = {
    "tone": (" Haha, just kidding", " Dear Sir or Madam"),
    "refusal": (" Sure, here you go", " Sorry, I cannot"),
    "sentiment": (" Love", " Hate"),
}


@dataclass(frozen=True)
class BenchConfig:
    """What one benchmark run measures (its hash keys the leaderboard)."""

    concepts: tuple[str, ...] = ("tone", "refusal", "sentiment")
    writers: tuple[str, ...] = WRITERS
    layer: int | None = None
    """The block whose output (``resid_post``) every writer reads and writes; default ``n_layers // 3``."""
    n_train: int = 48
    """Training prompts per concept (each gives a label-1 and a label-0 answer)."""
    n_test: int = 32
    """Held-out prompts per concept (disjoint from the training prompts)."""
    strengths: tuple[float, ...] = (-0.2, -0.1, 0.0, 0.1, 0.2)
    """Strengths on the common scale (1 = the mean residual norm at the site); must include 0."""
    n_neutral: int = 8
    """Neutral texts for the side effects."""
    seed: int = 0
    batch_size: int = 8
    edit_writers: tuple[str, ...] = EDIT_WRITERS
    """The knowledge-edit writers (empty: no knowledge task)."""
    edit_relations: tuple[str, ...] | None = None
    """Relations the test facts are drawn from (``None``: all of them)."""
    n_facts: int | None = None
    """Known test facts to edit (``None``: every known fact of the test part)."""
    n_edit_train: int | None = None
    """Known training facts per relation for the LRE and the LRC (and an editor trained here); ``None``: all."""
    lre_samples: int = 8
    """Training facts per relation (balanced across objects) whose Jacobians make the LRE behind ``lre_inverse``
    and ``lrc_swap``; each costs ``d_model`` vector-Jacobian products (about 8 s on gemma-3-270m on one core)."""
    known_top_k: int = 1
    """A fact is known when its true object's first token is in the model's top ``known_top_k``."""
    edit_layer: int | None = None
    """Block where the LRE-inverse edit and the LRC swap act; default: the REMEDI editor's layer."""
    editor_epochs: int = 4
    """Epochs of the editor trained here when the model has no shipped one."""
    n_generation: int = 40
    """Facts whose edited generations are sampled for fluency and consistency (0: none)."""
    max_new_tokens: int = 20

    @classmethod
    def quick(cls, **kw: Any) -> BenchConfig:
        """A few minutes on the embedded model on a 2-core CPU."""
        small: dict[str, Any] = {
            "n_train": 12,
            "n_test": 6,
            "strengths": (-0.2, 0.0, 0.2),
            "n_neutral": 3,
            "edit_relations": QUICK_EDIT_RELATIONS,
            "n_facts": 12,
            "n_edit_train": 24,
            "lre_samples": 4,
            "n_generation": 4,
            "max_new_tokens": 10,
        }
        return cls(**{**small, **kw})

    def check(self) -> None:
        unknown = [w for w in self.writers if w not in WRITERS]
        if unknown:
            raise ConfigError(f"Unknown writer(s) {unknown}; choose from {', '.join(WRITERS)}.")
        unknown = [w for w in self.edit_writers if w not in EDIT_WRITERS]
        if unknown:
            raise ConfigError(f"Unknown edit writer(s) {unknown}; choose from {', '.join(EDIT_WRITERS)}.")
        if not (self.concepts and self.writers) and not self.edit_writers:
            raise ConfigError("Nothing to run: give concepts and writers, or edit writers.")
        if self.n_facts is not None and self.n_facts < 1 or self.n_edit_train is not None and self.n_edit_train < 2:
            raise ConfigError("n_facts must be at least 1 and n_edit_train at least 2 (or None for all).")
        if self.known_top_k < 1 or self.lre_samples < 1 or self.n_generation < 0 or self.max_new_tokens < 1:
            raise ConfigError("known_top_k, lre_samples and max_new_tokens must be at least 1, n_generation at least 0.")
        missing = [c for c in self.concepts if c not in ACTADD_PROMPTS]
        if missing and "actadd" in self.writers:
            raise ConfigError(f"No ActAdd prompts for concept(s) {missing}; leave out 'actadd' or use {sorted(ACTADD_PROMPTS)}.")
        if 0.0 not in self.strengths or len(set(self.strengths)) < 2:
            raise ConfigError(f"strengths must include 0 and at least one other value, got {self.strengths}.")
        if self.n_train < 2 or self.n_test < 2 or self.n_neutral < 1:
            raise ConfigError("n_train and n_test must be at least 2 and n_neutral at least 1.")

    def digest(self, fingerprint: str, extra: str = "") -> str:
        text = json.dumps({"config": asdict(self), "model": fingerprint, "extra": extra}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Leaderboard:
    """The result of :func:`run_bench`: one row per (concept, writer), the mean score curve of each, the config."""

    model: str
    config: dict[str, Any]
    config_hash: str
    site: str
    residual_norm: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    unsteered: dict[str, dict[str, float]] = field(default_factory=dict)
    knowledge: list[dict[str, Any]] = field(default_factory=list)
    """One row per knowledge-edit writer (see :mod:`steerlens.bench.knowledge`)."""
    knowledge_setup: dict[str, Any] = field(default_factory=dict)
    """The facts (counts, relations), the edit layer and where the REMEDI editor came from."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """``leaderboard.json``, ``leaderboard.md`` and ``curves.png`` in ``folder``."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        (out / "leaderboard.json").write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")
        (out / "leaderboard.md").write_text(self.markdown())
        if self.curves:
            self.plot(out / "curves.png")
        if self.knowledge:
            self.plot_knowledge(out / "knowledge.png")
        return out

    def markdown(self) -> str:
        lines = self._steering_lines() if self.rows else []
        if self.knowledge:
            k = self.knowledge_setup
            lines += [
                "" if lines else f"Model `{self.model}`, config `{self.config_hash}`.",
                f"Knowledge edits at block {k['layer']} on {k['n_test']} held-out known facts of {len(k['relations'])} "
                f"relation(s) (LRE of each relation on up to {self.config['lre_samples']} and LRC concepts on all of "
                f"{k['n_train']} training facts; REMEDI editor: {k['editor']}). "
                "Efficacy: p(new) > p(true) on the prompt; magnitude: mean p(new) - p(true); paraphrase: the same on "
                "other prompts; neighbourhood: other entities keep their true object (* = unchanged by construction); "
                f"fluency (bits) and consistency on {k['n_generation']} sampled generations.",
                "",
                "| writer | n | efficacy | magnitude | paraphrase | neighbourhood | fluency | consistency |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for r in self.knowledge:
                star = "*" if r["neighbourhood_by_construction"] else ""
                lines.append(
                    f"| {r['writer']} | {r['n']} | {_fmt(r['efficacy'], 3)} | {_fmt(r['efficacy_magnitude'], 3)} | "
                    f"{_fmt(r['paraphrase'], 3)} | {_fmt(r['neighbourhood'], 3)}{star} | {_fmt(r['fluency'], 3)} | "
                    f"{_fmt(r['consistency'], 3)} |"
                )
        return "\n".join(lines) + "\n"

    def _steering_lines(self) -> list[str]:
        lines = [
            f"Model `{self.model}`, site `{self.site}`, config `{self.config_hash}` (alpha = 1 adds the mean residual "
            f"norm at the site, {self.residual_norm:.1f}). Steerability: mean slope of the held-out A/B score "
            "(nats) per unit alpha; anti: fraction of items with a negative slope; AUROC: the direction as a classifier "
            "of held-out answers; KL (nats/token), perplexity ratio and change of next-token accuracy on neutral text "
            f"at alpha = {max(self.config['strengths']):g}.",
            "",
            "| concept | writer | steerability | anti | AUROC | effect at max | KL | ppl ratio | Δ acc |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r['concept']} | {r['writer']} | {_fmt(r['steerability'])} | {_fmt(r['anti_steerable'], 2)} | "
                f"{_fmt(r['auroc'], 3)} | {_fmt(r['effect_at_max'])} | {_fmt(r['kl'], 3)} | {_fmt(r['perplexity_ratio'], 3)} | "
                f"{_fmt(r['accuracy_change'], 3)} |"
            )
        return lines

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Mean held-out A/B score against alpha, one panel per concept, one line per writer."""
        plt = pyplot()
        alphas = list(self.config["strengths"])
        fig, axes = plt.subplots(1, max(1, len(self.curves)), figsize=(4.2 * max(1, len(self.curves)), 3.6), squeeze=False)
        for ax, (concept, curves) in zip(axes[0], self.curves.items()):
            for writer, ys in curves.items():
                ax.plot(alphas, ys, marker="o", ms=3, label=writer)
            ax.axhline(self.unsteered[concept]["score"], color="gray", lw=0.8, ls="--")
            ax.set_title(concept)
            ax.set_xlabel("alpha (x mean residual norm)")
            ax.set_ylabel("log p(label 1) - log p(label 0)")
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return Path(path)

    def plot_knowledge(self, path: str | os.PathLike[str]) -> Path:
        """Efficacy, paraphrase efficacy and neighbourhood specificity of each knowledge-edit writer, as bars."""
        plt = pyplot()
        names = [r["writer"] for r in self.knowledge]
        metrics = [("efficacy", "efficacy"), ("paraphrase", "paraphrase"), ("neighbourhood", "neighbourhood")]
        fig, ax = plt.subplots(figsize=(1.1 * len(names) + 2.5, 3.4))
        width = 0.8 / len(metrics)
        for k, (key, label) in enumerate(metrics):
            ys = [r[key] if r[key] is not None else 0.0 for r in self.knowledge]
            ax.bar([i + (k - 1) * width for i in range(len(names))], ys, width, label=label)
        ax.set_xticks(range(len(names)), names, rotation=20)
        ax.set_ylim(0, 1)
        ax.set_ylabel("fraction of facts")
        ax.set_title(f"knowledge edits, block {self.knowledge_setup.get('layer')}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return Path(path)


def _fmt(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "—"
    return f"{x:.{digits}f}" if abs(x) < 1e4 else f"{x:.2e}"


def _round(x: float) -> float:
    return float(f"{x:.6g}")


def auroc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the ROC curve of ``scores`` for ``labels`` (1 positive), ties counted half (Mann-Whitney)."""
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y == 0]
    if not pos or not neg:
        raise ConfigError("AUROC needs examples of both labels.")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def _split(
    examples: list[ConceptExample], n_train: int, n_test: int, seed: int
) -> tuple[list[ConceptExample], list[ConceptExample]]:
    """Disjoint training and held-out prompts (both answers of a prompt stay together), drawn with ``seed``."""
    prompts = sorted({e.prompt for e in examples})
    if n_train + n_test > len(prompts):
        raise ConfigError(f"{n_train} training + {n_test} held-out prompts asked, but the dataset has {len(prompts)}.")
    random.Random(seed).shuffle(prompts)
    train, test = set(prompts[:n_train]), set(prompts[n_train : n_train + n_test])
    return [e for e in examples if e.prompt in train], [e for e in examples if e.prompt in test]


def training_pairs(config: BenchConfig | None = None) -> dict[str, list[tuple[str, str]]]:
    """The (label-1 text, label-0 text) training pairs of each concept, exactly as :func:`run_bench` draws them: what
    another library fits its own vectors on to be scored here (``directions=`` of :func:`run_bench`)."""
    cfg = config or BenchConfig()
    return {c: contrast_pairs(_split(load_dataset(c), cfg.n_train, cfg.n_test, cfg.seed)[0]) for c in cfg.concepts}


def run_bench(
    model: torch.nn.Module,
    tokenizer: Any,
    config: BenchConfig | None = None,
    *,
    model_name: str = "",
    directions: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
    editor: Any = None,
    known_facts_cache: bool | str | os.PathLike[str] = True,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> Leaderboard:
    """Fit every writer on every concept and score it on held-out items, then run the knowledge-edit writers on
    held-out facts (see the module docs).

    ``directions`` adds writers fitted elsewhere (another library, on :func:`training_pairs`): ``concept -> name ->
    [d_model]`` direction at the bench's site, scored exactly as ``mean_diff`` is (normalised, added at every
    position). Their values enter the config hash.

    ``editor`` is the REMEDI editor to score (an :class:`~steerlens.editors.Editor` or its folder); by default the
    one shipped for ``model_name``, else one trained on the training facts. Its weights enter the config hash.
    ``known_facts_cache`` is passed to :func:`steerlens.editors.data.known_sample_ids` (which facts the model knows
    is remembered per model).
    """
    cfg = config or BenchConfig()
    cfg.check()
    spec = resolve(model)
    external = {c: dict(v) for c, v in (directions or {}).items()}
    for concept, named in external.items():
        if concept not in cfg.concepts:
            raise ConfigError(f"Directions given for concept {concept!r}, which this run does not include ({cfg.concepts}).")
        for name, given in named.items():
            if name in WRITERS:
                raise ConfigError(f"An external direction may not be called {name!r}, a built-in writer's name.")
            if tuple(given.shape) != (spec.d_model,):
                raise ShapeError(f"Direction {concept}/{name} has shape {tuple(given.shape)}, not [{spec.d_model}].")
    ext_digest = (
        hashlib.sha256(
            b"".join(
                f"{c}/{n}".encode() + external[c][n].float().numpy().tobytes()
                for c in sorted(external)
                for n in sorted(external[c])
            )
        ).hexdigest()[:16]
        if external
        else ""
    )
    layer = cfg.layer if cfg.layer is not None else spec.n_layers // 3
    site = spec.site(Site(layer))
    say = log or (lambda s: None)
    show = True if progress is None else progress
    alphas = list(cfg.strengths)
    top = max(alphas)
    steer = [c for c in cfg.concepts if cfg.writers or external.get(c)]

    # the knowledge task's facts and editor come first: the editor's weights enter the config hash
    facts: tuple[list[Any], list[Any]] = ([], [])
    the_editor, editor_from, edit_layer = None, "", cfg.edit_layer
    if cfg.edit_writers:
        say("knowledge: finding the facts the model knows")
        facts = knowledge_facts(
            model,
            tokenizer,
            relations=cfg.edit_relations,
            n_facts=cfg.n_facts,
            n_train=cfg.n_edit_train,
            top_k=cfg.known_top_k,
            cache=known_facts_cache,
        )
        if "remedi" in cfg.edit_writers:
            the_editor, editor_from = bench_editor(
                model,
                tokenizer,
                facts[0],
                model_name=model_name,
                layer=spec.site(Site(cfg.edit_layer if cfg.edit_layer is not None else layer)).layer,
                epochs=cfg.editor_epochs,
                seed=cfg.seed,
                editor=editor,
            )
            edit_layer = the_editor.layer if edit_layer is None else edit_layer
            ext_digest += "/" + editor_digest(the_editor)
        edit_layer = spec.site(Site(edit_layer if edit_layer is not None else layer)).layer

    scale = 0.0
    neutral: list[list[int]] = []
    ref: list[torch.Tensor] = []
    if steer:
        neutral = encode(tokenizer, neutral_texts(cfg.n_neutral))
        # the mean residual norm at the site over the neutral tokens, the first left out: many models park an
        # attention sink there whose norm is 10-20 times the rest (Gemma-3: 55,000 against about 3,200 at block 6)
        norms = [capture(model, {"input_ids": [r]}, [site], progress=False)[site][0, 1:].float().norm(dim=-1) for r in neutral]
        scale = float(torch.cat(norms).mean())
        ref = [lp for _, lp in position_logprobs(model, neutral, cfg.batch_size)]

    def side_effects(edits: list[Edit]) -> dict[str, float]:
        with intervene(model, edits):
            rows = position_logprobs(model, neutral, cfg.batch_size)
            return summarize_drift([text_drift(lp, ref[j], neutral[j]) for j, lp in rows])

    board = Leaderboard(
        model=model_name or spec.model_type,
        config=asdict(cfg),
        config_hash=cfg.digest(json.dumps(asdict(Fingerprint.of(model)), sort_keys=True), ext_digest),
        site=str(site),
        residual_norm=_round(scale),
    )
    work = [(c, w) for c in steer for w in (*cfg.writers, *external.get(c, {}))]
    bar = tqdm(total=len(work), desc="bench", unit="writer", disable=not show or not work)
    for concept in steer:
        train, test = _split(load_dataset(concept), cfg.n_train, cfg.n_test, cfg.seed)
        train_pairs = contrast_pairs(train)
        test_pairs = contrast_pairs(test)
        effect = ContrastEffect(tokenizer, test_pairs, batch_size=cfg.batch_size)
        items = list(range(len(effect)))
        base = effect.score(model, items).tolist()
        board.unsteered[concept] = {"score": _round(sum(base) / len(base))}
        # held-out answers for detection: each text's last-token activation at the site
        texts = [t for pair in test_pairs for t in pair]
        labels = [1, 0] * len(test_pairs)
        held = capture(model, texts, [site], tokenizer=tokenizer, positions="last", batch_size=cfg.batch_size, progress=False)
        last = held[site].reshape(len(texts), -1).float()

        fitted: dict[str, torch.Tensor] = {}
        actadd_unit: ActAdd | None = None
        board.curves[concept] = {}
        for writer in (*cfg.writers, *external.get(concept, {})):
            t0 = time.perf_counter()
            if writer in external.get(concept, {}):
                d = external[concept][writer].float()
            elif writer in ("mean_diff", "pca", "logistic", "project_out"):
                method = "mean_diff" if writer == "project_out" else writer
                if method not in fitted:
                    vec = train_steering_vector(model, tokenizer, train_pairs, [site], method=method, progress=False)  # type: ignore[arg-type]
                    fitted[method] = vec.directions[site.layer].float()
                d = fitted[method]
            elif writer == "concept":
                probe = train_concept(model, tokenizer, train, sites=[site], val_examples=[], progress=False)
                d = probe.directions()[site.layer].float()
            else:  # actadd
                plus, minus = ACTADD_PROMPTS[concept]
                actadd_unit = ActAdd.build(model, tokenizer, x_vector(plus, minus, 1.0, site, tokenizer=tokenizer))
                d = torch.stack([t.float() for t in actadd_unit.tensors]).reshape(-1, spec.d_model).sum(0)
            d = d / d.norm().clamp_min(1e-12)

            unit_norm = 1.0
            if writer == "actadd" and actadd_unit is not None:
                rows = torch.cat([t.float().reshape(-1, spec.d_model) for t in actadd_unit.tensors])
                unit_norm = float(rows.norm(dim=-1).mean().clamp_min(1e-12))

            def edits_at(
                alpha: float,
                writer: str = writer,
                d: torch.Tensor = d,
                unit: ActAdd | None = actadd_unit,
                norm: float = unit_norm,
            ) -> list[Edit]:
                if writer == "actadd" and unit is not None:  # its rows scaled to a mean norm of alpha * scale
                    k = alpha * scale / norm
                    return list(replace(unit, tensors=[k * t for t in unit.tensors]).edits(model))
                return [Add(site, (alpha * scale * d).to(next(model.parameters()).dtype), positions="all")]

            proj = (last @ d).tolist()
            row: dict[str, Any] = {"concept": concept, "writer": writer, "auroc": _round(auroc(proj, labels))}
            if writer == "project_out":
                with intervene(model, [ProjectOut(site, d, positions="all")]):
                    scores = effect.score(model, items).tolist()
                row.update(
                    steerability=None,
                    anti_steerable=None,
                    effect_at_max=_round(sum(s - b for s, b in zip(scores, base)) / len(base)),
                    **{k: _round(v) for k, v in side_effects([ProjectOut(site, d, positions="all")]).items()},
                )
            else:
                per_alpha = []
                for a in alphas:
                    if a == 0.0:
                        per_alpha.append(base)
                        continue
                    with intervene(model, edits_at(a)):
                        per_alpha.append(effect.score(model, items).tolist())
                slopes = [_slope(alphas, [per_alpha[k][i] for k in range(len(alphas))]) for i in items]
                at_top = per_alpha[alphas.index(top)]
                row.update(
                    steerability=_round(sum(slopes) / len(slopes)),
                    anti_steerable=_round(sum(s < 0 for s in slopes) / len(slopes)),
                    effect_at_max=_round(sum(s - b for s, b in zip(at_top, base)) / len(base)),
                    **{k: _round(v) for k, v in side_effects(edits_at(top)).items()},
                )
                board.curves[concept][writer] = [_round(sum(p) / len(p)) for p in per_alpha]
            board.rows.append(row)
            say(f"{concept:<10} {writer:<12} {time.perf_counter() - t0:6.1f} s")
            bar.update(1)
    bar.close()

    if cfg.edit_writers:
        train_facts, test_facts = facts
        t0 = time.perf_counter()
        board.knowledge = [
            {k: (_round(v) if isinstance(v, float) else v) for k, v in row.items()}
            for row in run_knowledge(
                model,
                tokenizer,
                cfg.edit_writers,
                train_facts,
                test_facts,
                editor=the_editor,
                layer=edit_layer if edit_layer is not None else layer,
                lre_samples=cfg.lre_samples,
                n_generation=cfg.n_generation,
                max_new_tokens=cfg.max_new_tokens,
                seed=cfg.seed,
                batch_size=cfg.batch_size,
                progress=show,
                log=say,
            )
        ]
        board.knowledge_setup = {
            "layer": edit_layer,
            "n_test": len(test_facts),
            "n_train": len(train_facts),
            "relations": sorted({s.relation for s in test_facts}),
            "test_facts": [s.id for s in test_facts],
            "n_generation": min(cfg.n_generation, len(test_facts)),
            "editor": editor_from or "none",
        }
        say(f"knowledge  {len(cfg.edit_writers)} writers {time.perf_counter() - t0:6.1f} s")
    return board
