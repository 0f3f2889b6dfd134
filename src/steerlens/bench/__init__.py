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

The leaderboard (``leaderboard.json``) is keyed by a hash of the configuration and the model's fingerprint and
holds no timings, so two runs on the same machine give identical files; ``leaderboard.md`` and ``curves.png``
show it.
"""

from __future__ import annotations

import hashlib
import json
import math
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
from ..steering.vectors import train_steering_vector

__all__ = ["BenchConfig", "Leaderboard", "run_bench", "training_pairs", "WRITERS", "ACTADD_PROMPTS", "auroc"]

WRITERS = ("mean_diff", "pca", "logistic", "concept", "actadd", "project_out")

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

    @classmethod
    def quick(cls, **kw: Any) -> BenchConfig:
        """A few minutes on the embedded model on a 2-core CPU."""
        return cls(**{"n_train": 12, "n_test": 6, "strengths": (-0.2, 0.0, 0.2), "n_neutral": 3, **kw})

    def check(self) -> None:
        unknown = [w for w in self.writers if w not in WRITERS]
        if unknown:
            raise ConfigError(f"Unknown writer(s) {unknown}; choose from {', '.join(WRITERS)}.")
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """``leaderboard.json``, ``leaderboard.md`` and ``curves.png`` in ``folder``."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        (out / "leaderboard.json").write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")
        (out / "leaderboard.md").write_text(self.markdown())
        self.plot(out / "curves.png")
        return out

    def markdown(self) -> str:
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
        return "\n".join(lines) + "\n"

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
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> Leaderboard:
    """Fit every writer on every concept and score it on held-out items (see the module docs).

    ``directions`` adds writers fitted elsewhere (another library, on :func:`training_pairs`): ``concept -> name ->
    [d_model]`` direction at the bench's site, scored exactly as ``mean_diff`` is (normalised, added at every
    position). Their values enter the config hash.
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

    neutral = encode(tokenizer, neutral_texts(cfg.n_neutral))
    # the mean residual norm at the site over the neutral tokens, the first left out: many models park an attention
    # sink there whose norm is 10-20 times the rest (Gemma-3: 55,000 against about 3,200 at block 6)
    norms = [capture(model, {"input_ids": [r]}, [site], progress=False)[site][0, 1:].float().norm(dim=-1) for r in neutral]
    scale = float(torch.cat(norms).mean())
    ref = [lp for _, lp in position_logprobs(model, neutral, cfg.batch_size)]

    def side_effects(edits: list[Edit]) -> dict[str, float]:
        kl = dlp = hits = base_hits = n = 0.0
        with intervene(model, edits):
            for j, lp in position_logprobs(model, neutral, cfg.batch_size):
                p0 = ref[j]
                kl += float((lp.exp() * (lp - p0)).sum())
                row = torch.tensor(neutral[j][1:])
                own, own0 = lp[:-1].gather(-1, row[:, None])[:, 0], p0[:-1].gather(-1, row[:, None])[:, 0]
                dlp += float((own - own0).sum())
                hits += float((lp[:-1].argmax(-1) == row).sum())
                base_hits += float((p0[:-1].argmax(-1) == row).sum())
                n += len(row)
        positions = sum(len(r) for r in neutral)
        return {
            "kl": kl / positions,
            "perplexity_ratio": math.exp(-dlp / n),
            "accuracy_change": (hits - base_hits) / n,
        }

    board = Leaderboard(
        model=model_name or spec.model_type,
        config=asdict(cfg),
        config_hash=cfg.digest(json.dumps(asdict(Fingerprint.of(model)), sort_keys=True), ext_digest),
        site=str(site),
        residual_norm=_round(scale),
    )
    work = [(c, w) for c in cfg.concepts for w in (*cfg.writers, *external.get(c, {}))]
    bar = tqdm(total=len(work), desc="bench", unit="writer", disable=not show)
    for concept in cfg.concepts:
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
    return board
