"""Guidance sweeps: the concept's effect and the perplexity on reference answers against the guidance strength, and PNES.

The effect of a strength is measured on its guided generations by a scorer, read from the *unguided* model:
any ``fn(prompts, completions) -> scores``. Judge guidance with a scorer the direction was not built from:
:func:`independent_scorer` fits a fresh probe on examples whose prompts the concept never saw, at a layer
guidance does not touch. The concept's own probe (:func:`probe_scorer`, the default) measures how far the
states moved along the very direction that was pushed, which flatters the method; the result says which
scorer judged it. Perplexity is teacher-forced on reference answers (completion tokens only) with the
guidance on: on label-1 references (the concept's own style, which guidance should make *more* likely)
and, given ``neutral_references``, on label-0 ones too (the side effect on ordinary text).

PNES (perplexity-normalised effect size, as the seed computes it): with ``a0`` the strength closest to 0,
``y(a) = (e(a) - e(a0)) / (ppl(a) / ppl(a0))``; fit ``log(ppl(a)/ppl(a0)) = b a^2`` (points with
ppl < 2000), then ``y(a) = (tanh(k a) + c) exp(-b a^2)`` with ``b`` fixed; PNES is the max minus the
min of the fitted curve over the strength range.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._plotting import pyplot
from .._results import JsonResult
from ..errors import DataFormatError, SiteError
from ..model.architectures import resolve
from ..model.capture import next_token_logprobs
from ..model.generate import generate
from ..model.intervene import intervene
from ..model.site import Site, SiteLike, as_sites
from ..model.tokens import pad
from .activations import concept_activations
from .data import ConceptExample, render, split_examples
from .guidance import ConceptProbe, guidance_edits, prompt_key, train_concept

__all__ = [
    "completion_perplexity",
    "probe_scorer",
    "independent_scorer",
    "held_out_judge",
    "ProbeScorer",
    "guidance_sweep",
    "GuidanceSweep",
    "pnes",
]

Scorer = Callable[[Sequence[str], Sequence[str]], Sequence[float]]


@torch.no_grad()
def completion_perplexity(
    model: torch.nn.Module, tokenizer: Any, examples: Sequence[ConceptExample], batch_size: int = 8
) -> list[float]:
    """Per example, ``exp(mean cross-entropy)`` over its completion tokens (under any active edits)."""
    rendered = [render(tokenizer, e) for e in examples]
    lps = next_token_logprobs(model, [r.ids for r in rendered], batch_size)
    # prediction t - 1 scores token t: the completion tokens [a, e) are predictions [a - 1, e - 1)
    return [math.exp(-float(lp[r.completion[0] - 1 : r.completion[1] - 1].mean())) for lp, r in zip(lps, rendered)]


def probe_scorer(
    model: torch.nn.Module, tokenizer: Any, concept: ConceptProbe, sites: SiteLike | Sequence[SiteLike] | None = None
) -> Scorer:
    """A scorer: mean probe probability of label 1 over completion tokens and ``sites`` (unguided model)."""
    spec = resolve(model)
    own = [spec.site(x) for x in concept.sites]
    chosen = own if sites is None else [spec.site(x) for x in as_sites(sites)]
    missing = [str(x) for x in chosen if x not in own]
    if missing:
        raise SiteError(f"The concept has no probe at {', '.join(missing)}; it covers {', '.join(map(str, own))}.")
    idx = [own.index(x) for x in chosen]

    def score(prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        exs = [ConceptExample(p, c if len(c.strip()) > 0 else ".", 0) for p, c in zip(prompts, completions)]
        acts = concept_activations(
            model,
            tokenizer,
            exs,
            sites=concept.sites,
            require_both_labels=False,
            progress=False,
            max_completion_tokens=64,
            ctx_len=64,
        )
        proba = concept.probe.predict_proba(acts.x)[:, idx].mean(1)
        sums = torch.zeros(len(exs)).index_add_(0, acts.example, proba)
        counts = torch.zeros(len(exs)).index_add_(0, acts.example, torch.ones_like(proba))
        return (sums / counts.clamp_min(1)).tolist()

    score.description = f"the concept's own {concept.kind} probe at {', '.join(map(str, chosen))} (not independent)"  # type: ignore[attr-defined]
    return score


@dataclass
class ProbeScorer:
    """A scorer that never saw the concept: a probe fitted on other prompts, read at another layer.

    Call it as ``scorer(prompts, completions)`` -> mean P(label 1) over each completion's tokens (unguided model).
    """

    concept: ConceptProbe
    model: torch.nn.Module = field(repr=False)
    tokenizer: Any = field(repr=False)
    n_examples: int = 0

    @property
    def site(self) -> Site:
        return self.concept.sites[0]

    @property
    def description(self) -> str:
        acc = f", held-out accuracy {self.concept.val_accuracy[0]:.2f} on the rest" if self.concept.val_accuracy else ""
        return (
            f"an independent {self.concept.kind} probe at {self.site} fitted on the answers to "
            f"{len(self.concept.train_prompts)} prompts the guided concept never saw{acc}"
        )

    def __call__(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        return list(probe_scorer(self.model, self.tokenizer, self.concept)(prompts, completions))


def independent_scorer(
    model: torch.nn.Module,
    tokenizer: Any,
    examples: Sequence[ConceptExample],
    concept: ConceptProbe,
    site: SiteLike | Sequence[SiteLike],
    *,
    avoid: SiteLike | Sequence[SiteLike] = (),
    probe: str = "logistic",
    seed: int = 0,
    progress: bool | None = None,
) -> ProbeScorer:
    """Fit a scorer for guidance by ``concept`` that shares neither data nor layer with it.

    Args:
        examples: labelled completions, none of whose prompts ``concept`` was fitted on (20 % of their prompts are
            held out to report the scorer's own accuracy).
        site: where the scorer reads (one site; a bare int ``n`` is ``resid_post.n``).
        avoid: the sites guidance will write (the scorer's layer must differ from all of them).

    Raises:
        DataFormatError: ``examples`` share prompts with the concept's training data.
        SiteError: ``site`` is at a layer guidance writes.
    """
    spec = resolve(model)
    given = as_sites(site)
    if len(given) != 1:
        raise SiteError(f"An independent scorer reads at one site; got {site!r}.")
    at = spec.site(given[0])
    written = [spec.site(x) for x in as_sites(avoid)] if avoid else []
    if any(x.layer == at.layer for x in written):
        raise SiteError(
            f"The scorer's site {at} is at a layer guidance writes ({', '.join(map(str, written))}); read at another "
            "layer so the scorer does not just measure the push itself."
        )
    if not concept.train_prompts:
        raise DataFormatError(
            "This concept does not record its training prompts (it was trained or saved by an older steerlens), so the "
            "scorer's independence cannot be checked; retrain it with train_concept."
        )
    seen = concept.seen(examples)
    if seen:
        raise DataFormatError(
            f"{len(seen)} of {len(examples)} scorer examples have prompts the concept was fitted on (e.g. "
            f"{seen[0].prompt[:60]!r}); fit the scorer on a disjoint split (concept.held_out(examples))."
        )
    fitted = train_concept(model, tokenizer, examples, probe=probe, sites=[at], seed=seed, progress=progress)
    return ProbeScorer(fitted, model, tokenizer, len(examples))


def held_out_judge(
    model: torch.nn.Module,
    tokenizer: Any,
    concept: ConceptProbe,
    examples: Sequence[ConceptExample],
    guided: SiteLike | Sequence[SiteLike],
    *,
    site: SiteLike | Sequence[SiteLike] | None = None,
    seed: int = 0,
    progress: bool | None = None,
) -> tuple[ProbeScorer, list[ConceptExample]]:
    """Split the examples whose prompts ``concept`` never saw, by prompt, into a half that fits an
    :func:`independent_scorer` and a half to evaluate guidance on. Returns ``(scorer, evaluation examples)``.

    ``site`` defaults to ``resid_post`` of the middle layer, or the nearest layer not in ``guided``.
    """
    spec = resolve(model)
    held = concept.held_out(examples)
    if len({e.prompt for e in held}) < 4:
        raise DataFormatError(
            f"Only {len({e.prompt for e in held})} prompt(s) of these {len(examples)} examples were not used to fit the "
            "concept; an independent judge and a held-out evaluation need at least 4. Give more data."
        )
    judge_ex, eval_ex = split_examples(held, 0.5, seed)
    written = {spec.site(x).layer for x in as_sites(guided)}
    if site is None:
        mid = spec.n_layers // 2
        free = [i for i in range(spec.n_layers) if i not in written]
        if not free:
            raise SiteError("Guidance writes every layer; there is no other layer to read an independent scorer at.")
        site = min(free, key=lambda i: (abs(i - mid), i))
    scorer = independent_scorer(model, tokenizer, judge_ex, concept, site, avoid=guided, seed=seed, progress=progress)
    return scorer, eval_ex


@dataclass
class GuidanceSweep(JsonResult):
    """Per strength: mean effect, mean perplexity on the references and the completions (one per prompt).

    ``perplexity`` is on label-1 references, ``perplexity_neutral`` on label-0 ones (empty when not measured);
    ``pnes`` / ``pnes_neutral`` are PNES with each; ``scorer`` says what judged the effect.
    """

    strengths: list[float]
    effect: list[float]
    perplexity: list[float]
    sites: list[str]
    completions: dict[str, list[str]] = field(default_factory=dict)
    pnes: dict[str, Any] = field(default_factory=dict)
    perplexity_neutral: list[float] = field(default_factory=list)
    pnes_neutral: dict[str, Any] = field(default_factory=dict)
    scorer: str = ""

    def table(self) -> str:
        neutral = bool(self.perplexity_neutral)
        lines = ["strength   effect   perplexity (label 1)" + ("   perplexity (label 0)" if neutral else "")]
        for i, (s, e, p) in enumerate(zip(self.strengths, self.effect, self.perplexity)):
            lines.append(f"{s:<9g}  {e:.4f}   {p:<21.3f}" + (f"   {self.perplexity_neutral[i]:.3f}" if neutral else ""))
        for label, fit in (("label-1", self.pnes), ("label-0", self.pnes_neutral)):
            if fit:
                lines.append(f"PNES with {label} perplexity {fit['pnes']:.4f} (b = {fit['b']:.3g}, fit r2 = {fit['r2']:.3f})")
        if self.scorer:
            lines.append(f"effect judged by {self.scorer}")
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike[str]) -> Path:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6.5, 4))
        ax.plot(self.strengths, self.effect, "o-", color="tab:blue", label="effect (probe P(label 1))")
        ax.set_xlabel("guidance strength")
        ax.set_ylabel("effect", color="tab:blue")
        ax2 = ax.twinx()
        ax2.plot(self.strengths, self.perplexity, "s--", color="tab:red", label="perplexity, label-1 references")
        if self.perplexity_neutral:
            ax2.plot(self.strengths, self.perplexity_neutral, "^:", color="tab:orange", label="perplexity, label-0 references")
            ax2.legend(loc="upper right", fontsize=8)
        ax2.set_ylabel("perplexity", color="tab:red")
        ax2.set_yscale("log")
        ax.set_title(
            f"guidance at {', '.join(self.sites)}" + (f"; PNES {self.pnes['pnes']:.3f}" if self.pnes else ""), fontsize=9
        )
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return Path(path)


def guidance_sweep(
    model: torch.nn.Module,
    tokenizer: Any,
    concept: ConceptProbe,
    strengths: Sequence[float],
    prompts: Sequence[str],
    references: Sequence[ConceptExample],
    *,
    sites: SiteLike | Sequence[SiteLike] | None = None,
    top_k: int | None = None,
    scorer: Scorer | None = None,
    max_new_tokens: int = 48,
    mode: str = "norm_preserving",
    neutral_references: Sequence[ConceptExample] | None = None,
    progress: bool = True,
) -> GuidanceSweep:
    """Generate greedily from ``prompts`` at each strength; score the effect; measure perplexity on ``references``
    (and on ``neutral_references``).

    Raises:
        DataFormatError: a prompt or reference was one the concept was fitted on (evaluation must be held out).
    """
    if not strengths or not prompts or not references:
        raise DataFormatError("A sweep needs strengths, prompts and reference answers.")
    seen = [
        p
        for p in [*prompts, *(e.prompt for e in [*references, *(neutral_references or [])])]
        if prompt_key(p) in concept.train_prompts
    ]
    if seen:
        raise DataFormatError(
            f"{len(seen)} sweep prompt(s)/reference(s) were used to fit the concept (e.g. {seen[0][:60]!r}); evaluate on "
            "held-out prompts (concept.held_out(examples))."
        )
    spec = resolve(model)
    if sites is None:
        site_list = concept.top_sites(top_k) if top_k is not None else list(concept.sites)
    else:
        site_list = [spec.site(x) for x in as_sites(sites)]
    score = scorer or probe_scorer(model, tokenizer, concept, site_list)
    texts = [render(tokenizer, ConceptExample(p, "x", 0)) for p in prompts]  # prompt part, rendered
    prompt_ids = [r.ids[: r.completion[0]] for r in texts]
    res = GuidanceSweep([float(s) for s in strengths], [], [], [str(x) for x in site_list])
    res.scorer = str(getattr(score, "description", "a user-supplied scorer"))
    for s in tqdm(res.strengths, desc="guidance sweep", unit="strength", disable=not progress):
        with intervene(model, guidance_edits(model, concept, s, site_list, mode=mode)):  # type: ignore[arg-type]
            batch = pad(prompt_ids, side="left")
            gen = generate(
                model,
                tokenizer,
                {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask},
                max_new_tokens=max_new_tokens,
            )
            ppl = completion_perplexity(model, tokenizer, references)
            if neutral_references:
                res.perplexity_neutral.append(float(np.nanmean(completion_perplexity(model, tokenizer, neutral_references))))
        completions = [t.split("\n")[0].strip() or t.strip() for t in (gen.texts or [])]
        vals = list(score(prompts, completions))
        res.effect.append(float(np.mean(vals)))
        res.perplexity.append(float(np.nanmean(ppl)))
        res.completions[f"{s:g}"] = completions
    if len(res.strengths) >= 3:
        res.pnes = pnes(res.strengths, res.effect, res.perplexity)
        if res.perplexity_neutral:
            res.pnes_neutral = pnes(res.strengths, res.effect, res.perplexity_neutral)
    return res


def pnes(strengths: Sequence[float], effects: Sequence[float], perplexities: Sequence[float]) -> dict[str, Any]:
    """The seed's perplexity-normalised effect size (see the module docs)."""
    from scipy.optimize import curve_fit

    a = np.asarray(strengths, dtype=float)
    e = np.asarray(effects, dtype=float)
    p = np.asarray(perplexities, dtype=float)
    if not (len(a) == len(e) == len(p)) or len(a) < 3:
        raise DataFormatError("PNES needs at least 3 strengths with one effect and one perplexity each.")
    i0 = int(np.argmin(np.abs(a)))
    rel = p / p[i0]
    y = (e - e[i0]) / rel
    ok = (p < 2000) & np.isfinite(rel) & (rel > 0)
    x2 = a[ok] ** 2
    b = float(np.sum(x2 * np.log(rel[ok])) / max(np.sum(x2 * x2), 1e-30))
    b = max(b, 0.0)

    def model_fn(x, k, c):
        return (np.tanh(k * x) + c) * np.exp(-b * x * x)

    span = max(float(np.max(np.abs(a))), 1e-12)
    try:
        (k, c), _ = curve_fit(model_fn, a, y, p0=(1.0 / span, 0.0), maxfev=20000)
    except RuntimeError:
        k, c = 0.0, float(np.mean(y))
    fitted = model_fn(a, k, c)
    ss_res = float(np.sum((y - fitted) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    grid = np.linspace(a.min(), a.max(), 200)
    curve = model_fn(grid, k, c)
    return {
        "pnes": float(curve.max() - curve.min()),
        "b": b,
        "k": float(k),
        "c": float(c),
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0,
        "argmax": float(grid[curve.argmax()]),
        "argmin": float(grid[curve.argmin()]),
        "y": y.tolist(),
    }
