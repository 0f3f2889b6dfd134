"""Guidance sweeps: the concept's effect and the perplexity on reference answers against the guidance strength, and PNES.

The effect of a strength is measured on its guided generations by a scorer: by default the concept's own
probe (mean probability of label 1 over the completion tokens and the guided sites, read from the
*unguided* model), or any ``fn(prompts, completions) -> scores`` the user passes. Perplexity is
teacher-forced on reference answers (completion tokens only) with the guidance on.

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
from ..model.site import SiteLike, as_sites
from ..model.tokens import pad
from .activations import concept_activations
from .data import ConceptExample, render
from .guidance import ConceptProbe, guidance_edits

__all__ = ["completion_perplexity", "probe_scorer", "guidance_sweep", "GuidanceSweep", "pnes"]

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

    return score


@dataclass
class GuidanceSweep(JsonResult):
    """Per strength: mean effect, mean perplexity on the references and a few completions."""

    strengths: list[float]
    effect: list[float]
    perplexity: list[float]
    sites: list[str]
    completions: dict[str, list[str]] = field(default_factory=dict)
    pnes: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        lines = ["strength   effect   perplexity"]
        lines += [f"{s:<9g}  {e:.4f}   {p:.3f}" for s, e, p in zip(self.strengths, self.effect, self.perplexity)]
        if self.pnes:
            lines.append(f"PNES {self.pnes['pnes']:.4f} (b = {self.pnes['b']:.3g}, fit r2 = {self.pnes['r2']:.3f})")
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike[str]) -> Path:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6.5, 4))
        ax.plot(self.strengths, self.effect, "o-", color="tab:blue", label="effect (probe P(label 1))")
        ax.set_xlabel("guidance strength")
        ax.set_ylabel("effect", color="tab:blue")
        ax2 = ax.twinx()
        ax2.plot(self.strengths, self.perplexity, "s--", color="tab:red", label="perplexity on references")
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
    progress: bool = True,
) -> GuidanceSweep:
    """Generate greedily from ``prompts`` at each strength; score the effect; measure perplexity on ``references``."""
    if not strengths or not prompts or not references:
        raise DataFormatError("A sweep needs strengths, prompts and reference answers.")
    spec = resolve(model)
    if sites is None:
        site_list = concept.top_sites(top_k) if top_k is not None else list(concept.sites)
    else:
        site_list = [spec.site(x) for x in as_sites(sites)]
    score = scorer or probe_scorer(model, tokenizer, concept, site_list)
    texts = [render(tokenizer, ConceptExample(p, "x", 0)) for p in prompts]  # prompt part, rendered
    prompt_ids = [r.ids[: r.completion[0]] for r in texts]
    res = GuidanceSweep([float(s) for s in strengths], [], [], [str(x) for x in site_list])
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
        completions = [t.split("\n")[0].strip() or t.strip() for t in (gen.texts or [])]
        vals = list(score(prompts, completions))
        res.effect.append(float(np.mean(vals)))
        res.perplexity.append(float(np.nanmean(ppl)))
        res.completions[f"{s:g}"] = completions[:3]
    if len(res.strengths) >= 3:
        res.pnes = pnes(res.strengths, res.effect, res.perplexity)
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
