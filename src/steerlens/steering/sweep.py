"""Site x strength sweeps of an x-vector, scored by a text metric, with a plot."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from tqdm.auto import tqdm

from .._plotting import pyplot
from .._results import JsonResult
from ..errors import SteeringError
from ..model.site import Site, SiteLike, as_site, as_sites
from .addition import ActAdd, Location, check_strength, x_vector
from .generation import SamplingConfig, sample
from .metrics import logprob_change, token_logprobs

__all__ = ["SweepResult", "sweep"]

Metric = Callable[[Sequence[str]], Sequence[float]]


@dataclass
class SweepResult(JsonResult):
    """Per (site, strength): the metric of each steered completion; plus the unsteered baseline."""

    prompt: str
    steering: str
    metric: str
    sites: list[str]
    strengths: list[float]
    baseline: list[float]
    records: list[dict[str, Any]] = field(default_factory=list)
    sampling: dict[str, Any] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    #: name -> texts whose perplexity ratio (steered / unsteered, injected positions masked) each record holds
    cost_texts: dict[str, list[str]] = field(default_factory=dict)

    def mean(self, site: SiteLike, strength: float) -> float:
        return self.record(site, strength)["mean"]

    @classmethod
    def load_json(cls, path: str | os.PathLike[str]) -> SweepResult:
        """Read a sweep written by :meth:`save_json`."""
        p = Path(path)
        if not p.is_file():
            raise SteeringError(f"No sweep file at {str(p)!r} (write one with SweepResult.save_json).")
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
            return cls(**d)
        except (ValueError, TypeError) as e:
            raise SteeringError(f"{str(p)!r} is not a sweep written by SweepResult.save_json: {e}") from e

    @classmethod
    def merge(cls, parts: Sequence[SweepResult]) -> SweepResult:
        """One sweep from parts run separately: the same prompt, steering, metric, sampling, cost texts and unsteered
        baseline (so the same seed), on different cells of a site x strength grid.

        Every sweep call samples each cell with the same seed, so a grid run in parts (e.g. one process per group of
        layers, or across days) gives the cells a single run would. A cell present in two parts must hold the same
        values. Sites are ordered by point then layer, strengths ascending; cells no part ran are absent, and
        :meth:`table` shows them as ``-``.
        """
        if not parts:
            raise SteeringError("Give at least one sweep to merge.")
        first = parts[0]
        for k, other in enumerate(parts[1:], 1):
            for name in ("prompt", "steering", "metric", "sampling", "cost_texts", "baseline"):
                if getattr(other, name) != getattr(first, name):
                    raise SteeringError(
                        f"Sweep part {k} differs from part 0 in {name!r}: parts must come from the same prompt, "
                        "steering, metric, sampling config, cost texts and seed (the unsteered baseline shows it)."
                    )
        cells: dict[tuple[str, float], dict[str, Any]] = {}
        examples: dict[str, list[str]] = {}
        for k, part in enumerate(parts):
            for r in part.records:
                key = (r["site"], float(r["strength"]))
                if key in cells and cells[key] != r:
                    raise SteeringError(
                        f"Sweep parts disagree on the cell {key[0]}, strength {key[1]:g} (part {k}): "
                        "they were not run with the same model, seed and settings."
                    )
                cells[key] = r
            examples.update(part.examples)
        sites = sorted({k[0] for k in cells}, key=lambda x: (Site.parse(x).point, Site.parse(x).layer))
        strengths = sorted({k[1] for k in cells})
        records = [cells[(x, c)] for x in sites for c in strengths if (x, c) in cells]
        return cls(
            first.prompt,
            first.steering,
            first.metric,
            sites,
            strengths,
            list(first.baseline),
            records,
            dict(first.sampling),
            examples,
            {k: list(v) for k, v in first.cost_texts.items()},
        )

    def _cell(self, site: str, strength: float, cost: str | None = None) -> str:
        """One table cell: the mean metric, or with ``cost`` the perplexity ratio on those texts; ``-`` if not run."""
        try:
            r = self.record(site, strength)
        except SteeringError:
            return f"{'-':<9}"
        return f"{r['mean'] if cost is None else r['perplexity_ratio'][cost]:<9.3f}"

    @property
    def baseline_mean(self) -> float:
        return sum(self.baseline) / len(self.baseline)

    def best(self) -> dict[str, Any]:
        return max(self.records, key=lambda r: r["mean"])

    def record(self, site: SiteLike, strength: float) -> dict[str, Any]:
        key = str(as_site(site))
        for r in self.records:
            if r["site"] == key and r["strength"] == strength:
                return r
        raise SteeringError(f"No result for site {key}, strength {strength}; the sweep has {self.sites} x {self.strengths}.")

    def table(self) -> str:
        """Plain-text grids: sites down, strengths across; the mean metric, then each perplexity ratio."""
        w = max(len("site"), *(len(x) for x in self.sites))
        head = f"{'site':<{w}}  " + "  ".join(f"s={c:<7g}" for c in self.strengths)
        lines = [f"{self.metric} on {self.prompt!r}; unsteered mean {self.baseline_mean:.3f}", head]
        for site in self.sites:
            lines.append(f"{site:<{w}}  " + "  ".join(self._cell(site, c) for c in self.strengths))
        for name in self.cost_texts:
            lines += ["", f"perplexity ratio (steered / unsteered) on {name} texts", head]
            for site in self.sites:
                cells = [self._cell(site, c, name) for c in self.strengths]
                lines.append(f"{site:<{w}}  " + "  ".join(cells))
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Mean metric vs layer, one line per strength (standard-error bars), the unsteered mean dashed; below it,
        one panel per set of cost texts with the perplexity ratio of each setting."""
        plt = pyplot()
        n_cost = len(self.cost_texts)
        fig, axes = plt.subplots(
            1 + n_cost, 1, figsize=(7, 4 + 2.4 * n_cost), sharex=True, gridspec_kw={"height_ratios": [5] + [3] * n_cost}
        )
        axes = list(axes) if n_cost else [axes]
        ax = axes[0]
        points = sorted({Site.parse(x).point for x in self.sites})
        for c in self.strengths:
            rs = [r for r in self.records if r["strength"] == c]
            ax.errorbar(
                [Site.parse(r["site"]).layer for r in rs],
                [r["mean"] for r in rs],
                yerr=[r["sem"] for r in rs],
                marker="o",
                capsize=3,
                label=f"strength {c:g}",
            )
        ax.axhline(self.baseline_mean, color="gray", ls="--", label="unsteered")
        ax.set_ylabel(f"mean {self.metric}")
        ax.set_title(f"{self.steering}\non {self.prompt!r}", fontsize=9)
        ax.legend(fontsize=8)
        for cax, name in zip(axes[1:], self.cost_texts):
            for c in self.strengths:
                rs = [r for r in self.records if r["strength"] == c]
                cax.plot([Site.parse(r["site"]).layer for r in rs], [r["perplexity_ratio"][name] for r in rs], marker=".")
            cax.axhline(1.0, color="gray", ls="--")
            cax.set_yscale("log")
            # plain numbers (0.9, 1.5, 3) on the log axis, not powers of ten
            cax.yaxis.set_major_formatter(_plain_ticks())
            cax.yaxis.set_minor_formatter(_plain_ticks())
            cax.set_ylabel(f"perplexity ratio\n({name} texts)", fontsize=8)
        axes[-1].set_xlabel(f"layer ({', '.join(points)})")
        axes[-1].xaxis.get_major_locator().set_params(integer=True)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return Path(path)


def _plain_ticks():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{v:g}")


def _sem(xs: Sequence[float]) -> float:
    if len(xs) < 2:
        return 0.0
    mu = sum(xs) / len(xs)
    return math.sqrt(sum((x - mu) ** 2 for x in xs) / (len(xs) - 1) / len(xs))


def sweep(
    model: torch.nn.Module,
    tokenizer: Any,
    prompt: str,
    plus: str,
    minus: str,
    *,
    sites: Sequence[SiteLike],
    strengths: Sequence[float],
    metric: Metric,
    n: int = 20,
    seed: int = 0,
    config: SamplingConfig | None = None,
    location: Location = "front",
    pad_token: str | int = " ",
    metric_name: str | None = None,
    cost_texts: Mapping[str, Sequence[str]] | None = None,
    progress: bool = True,
) -> SweepResult:
    """Steer ``prompt`` with the x-vector ``(plus, minus)`` at each site and strength; score every completion.

    ``sites`` follow the library's convention (a bare int ``n`` is ``resid_post.n``); the ActAdd paper's
    "layer n" is ``"resid_pre.n"``.

    All settings share one seed, so completion ``i`` of every setting (and of the unsteered baseline)
    draws the same random numbers.

    ``cost_texts`` (name -> texts): for each setting, the perplexity ratio steered / unsteered on those texts with
    the steering injected at their front and the injected positions masked (:func:`logprob_change`), as the
    ActAdd paper measures the cost of a topic vector on related and unrelated text.
    """
    if not sites or not strengths:
        raise SteeringError("Give at least one site and one strength.")
    site_list = as_sites(sites)
    strength_list = [check_strength(c) for c in strengths]
    cfg = config or SamplingConfig()
    name = metric_name or cast(str, getattr(metric, "__name__", "metric"))
    base_texts = sample(model, tokenizer, [prompt] * n, seed=seed, config=cfg)
    baseline = [float(x) for x in metric(base_texts)]
    result = SweepResult(
        prompt,
        f"{plus!r} - {minus!r}",
        name,
        [str(x) for x in site_list],
        strength_list,
        baseline,
        sampling=asdict(cfg),
        examples={"unsteered": base_texts[:3]},
        cost_texts={k: list(v) for k, v in (cost_texts or {}).items()},
    )
    plain = {name: token_logprobs(model, tokenizer, texts) for name, texts in result.cost_texts.items()}
    grid = [(site, c) for site in site_list for c in strength_list]
    for site, c in tqdm(grid, desc="sweep", unit="setting", disable=not progress):
        adds = x_vector(plus, minus, c, site, tokenizer=tokenizer, pad_token=pad_token)
        act = ActAdd.build(model, tokenizer, list(adds), location=location)
        texts = sample(model, tokenizer, [prompt] * n, edits=act.edits(model), seed=seed, config=cfg)
        vals = [float(x) for x in metric(texts)]
        rec: dict[str, Any] = {"site": str(site), "strength": c, "mean": sum(vals) / len(vals), "sem": _sem(vals), "values": vals}
        if result.cost_texts:
            rec["perplexity_ratio"] = {
                name: logprob_change(model, tokenizer, texts_, act, plain=plain[name])["perplexity_ratio"]
                for name, texts_ in result.cost_texts.items()
            }
        result.records.append(rec)
        result.examples[f"{site}, strength {c:g}"] = texts[:2]
    return result
