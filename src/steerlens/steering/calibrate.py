"""Choose a steering layer and strength under a side-effect budget (``steerlens steer calibrate``).

The question every steering library is asked is "which layer, which coefficient?". :func:`calibrate` answers it
by search: every candidate (site, strength) is scored by

* its **effect** on held-out items, a next-token measure computed from one teacher-forced pass (by default
  :class:`ContrastEffect`: how much the steering raises ``log p(positive) - log p(negative)`` of contrast pairs);
* its **side effects** on neutral text: the mean per-token ``KL(steered || unsteered)`` of the next-token
  distributions (nats) and the perplexity ratio ``exp(-mean delta log p)`` of the text's own tokens.

A candidate is *feasible* when ``kl <= max_kl`` and ``perplexity_ratio <= max_perplexity_ratio``; the chosen
point is the feasible one with the largest effect. ``search="grid"`` scores every candidate on every item;
``search="halving"`` (the default) is successive halving: all candidates on a few items, the best ``1/eta`` of
them (at least two) on ``eta`` times more, and so on until the survivors have seen every item -- per-item scores
are kept, so a promotion only pays for the new items; if no survivor stays feasible on every item, the next best
of the last rung are tried in order. Strengths beyond one that already broke the budget twice over at the
same site are not tried (side effects grow with the strength). The item order is drawn from ``seed``, so the
same seed gives the same choice. With ``confirm=`` the best feasible finalists are also compared by short
sampled generations scored by a text metric, and the chosen point is the one the generations confirm.

The result holds every evaluation (with how many items it saw), the effect-vs-side-effect frontier, the choice
and the cost in model tokens; ``.plot(path)`` draws the frontier, ``.save_json(path)`` writes it all.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import torch
from tqdm.auto import tqdm

from .._plotting import pyplot
from .._results import JsonResult
from ..errors import ConfigError, DataFormatError, SteeringError
from ..model.capture import continuation_logprobs, last_token_logprobs, position_logprobs
from ..model.intervene import Edit, intervene
from ..model.site import Site, SiteLike, as_sites
from ..model.tokens import encode
from .addition import ActAdd, check_strength, x_vector
from .generation import SamplingConfig, sample
from .metrics import TextDrift, single_token_ids, summarize_drift, text_drift
from .vectors import ContrastPair, SteeringVector, _as_pairs

__all__ = ["calibrate", "Calibration", "ContrastEffect", "TokenEffect", "Effect", "steerer", "pareto_front", "neutral_texts"]

#: (site, strength) -> the edits that steer there
Steerer = Callable[[Site, float], list[Edit]]


class Effect(Protocol):
    """A next-token effect measure: ``len(self)`` items, each scored by one teacher-forced pass.

    ``score(model, items)`` returns one float per item under whatever edits are installed; calibration takes the
    difference to the unsteered score, so larger is a stronger effect. ``prompts(items)`` gives texts to complete
    when a calibration is confirmed by generation; ``tokens(items)`` what a scoring pass costs, in model tokens.
    """

    name: str

    def __len__(self) -> int: ...

    def score(self, model: torch.nn.Module, items: Sequence[int]) -> torch.Tensor: ...

    def prompts(self, items: Sequence[int]) -> list[str]: ...

    def tokens(self, items: Sequence[int]) -> int: ...


class ContrastEffect:
    """``sum log p(positive tokens) - sum log p(negative tokens)`` of contrast pairs, after their shared prefix.

    Each pair is two texts that start the same way (a prompt) and continue differently; the tokens after the
    longest common token prefix are scored. Steering that moves the model towards the positive side raises it.
    """

    name = "contrast log-prob difference (nats)"

    def __init__(
        self, tokenizer: Any, pairs: Sequence[ContrastPair | tuple[str, str] | dict[str, str]], batch_size: int = 8
    ) -> None:
        self.pairs = _as_pairs(list(pairs))
        if not self.pairs:
            raise SteeringError("ContrastEffect needs at least one contrast pair.")
        self.batch_size = batch_size
        self._tokenizer = tokenizer
        self._pos = encode(tokenizer, [p.positive for p in self.pairs])
        self._neg = encode(tokenizer, [p.negative for p in self.pairs])
        self._start: list[int] = []
        for i, (a, b) in enumerate(zip(self._pos, self._neg)):
            k = 0
            while k < min(len(a), len(b)) and a[k] == b[k]:
                k += 1
            if k == len(a) or k == len(b):
                raise DataFormatError(
                    f"Contrast pair {i}: one text's tokens are a prefix of the other's ({self.pairs[i].positive!r} / "
                    f"{self.pairs[i].negative!r}); give two different continuations."
                )
            if k == 0:
                raise DataFormatError(f"Contrast pair {i} shares no first token (not even BOS); give texts with a common prompt.")
            self._start.append(k)

    def __len__(self) -> int:
        return len(self.pairs)

    def score(self, model: torch.nn.Module, items: Sequence[int]) -> torch.Tensor:
        rows = [self._pos[i] for i in items] + [self._neg[i] for i in items]
        starts = [self._start[i] for i in items] * 2
        lps = continuation_logprobs(model, rows, starts, self.batch_size)  # the head runs on the continuations only
        n = len(items)
        return torch.tensor([float(lps[j].sum() - lps[n + j].sum()) for j in range(n)])

    def prompts(self, items: Sequence[int]) -> list[str]:
        """The shared prefix of each pair, as text (for confirmation by generation)."""
        return [self._tokenizer.decode(self._pos[i][: self._start[i]], skip_special_tokens=True) for i in items]

    def tokens(self, items: Sequence[int]) -> int:
        """Model tokens one scoring pass over ``items`` costs."""
        return sum(len(self._pos[i]) + len(self._neg[i]) for i in items)


class TokenEffect:
    """``log P(target tokens | prompt)`` at the prompt's next token (the targets' probabilities summed)."""

    name = "log-prob of the target tokens (nats)"

    def __init__(self, tokenizer: Any, prompts: Sequence[str], targets: Sequence[str | int], batch_size: int = 16) -> None:
        if not prompts:
            raise SteeringError("TokenEffect needs at least one prompt.")
        ids = single_token_ids(tokenizer, targets)
        if not ids:
            raise SteeringError("TokenEffect needs at least one target token.")
        self._prompts = list(prompts)
        self._rows = encode(tokenizer, self._prompts)
        self.target_ids = ids
        self.batch_size = batch_size

    def __len__(self) -> int:
        return len(self._rows)

    def score(self, model: torch.nn.Module, items: Sequence[int]) -> torch.Tensor:
        lp = last_token_logprobs(model, [self._rows[i] for i in items], self.batch_size, progress=False)
        return torch.logsumexp(lp[:, self.target_ids], -1)

    def prompts(self, items: Sequence[int]) -> list[str]:
        return [self._prompts[i] for i in items]

    def tokens(self, items: Sequence[int]) -> int:
        return sum(len(self._rows[i]) for i in items)


def steerer(model: torch.nn.Module, method: Any, tokenizer: Any = None, **options: Any) -> Steerer:
    """Turn a steering method into ``(site, strength) -> edits``.

    ``method`` is a :class:`SteeringVector` (its direction at each site it has), a ``(plus, minus)`` pair of
    steering prompts (an ActAdd x-vector built at each site; needs ``tokenizer``), any object with a public
    ``edits_at(model, site, strength)`` method, or already such a callable. ``options`` go to the vector's
    ``edits`` (e.g. ``positions=``).
    """
    if isinstance(method, SteeringVector):
        return lambda site, s: list(method.edits(model, s, sites=[site], **options))
    if isinstance(method, tuple) and len(method) == 2 and all(isinstance(x, str) for x in method):
        if tokenizer is None:
            raise SteeringError("An ActAdd (plus, minus) pair needs tokenizer= to build its x-vectors.")
        plus, minus = method
        built: dict[Site, ActAdd] = {}

        def actadd(site: Site, s: float) -> list[Edit]:
            if site not in built:  # the unit x-vector once per site; strength scales its tensors
                built[site] = ActAdd.build(model, tokenizer, x_vector(plus, minus, 1.0, site, tokenizer=tokenizer), **options)
            unit = built[site]
            return list(replace(unit, tensors=[s * t for t in unit.tensors]).edits(model))

        return actadd
    if hasattr(method, "edits_at"):
        return lambda site, s: list(method.edits_at(model, site, s, **options))
    if callable(method):
        return method
    raise SteeringError(
        f"Cannot calibrate a {type(method).__name__}: give a SteeringVector, a (plus, minus) prompt pair, an object with "
        "edits_at(model, site, strength), or a callable (site, strength) -> edits."
    )


def neutral_texts(n: int = 16, max_chars: int = 300) -> list[str]:
    """``n`` neutral texts for side effects: held-out entries of the shipped corpus (*The Devil's Dictionary*), each
    with its whitespace collapsed and cut at a word boundary before ``max_chars`` characters (about 60 tokens)."""
    from ..lens.data import default_corpus

    entries = default_corpus("test")
    if not 1 <= n <= len(entries):
        raise ConfigError(f"Ask for 1 to {len(entries)} neutral texts, not {n}.")
    out = []
    for e in entries[:n]:
        text = " ".join(e.split())
        out.append(text if len(text) <= max_chars else text[:max_chars].rsplit(" ", 1)[0])
    return out


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both (lower side effect, higher effect), by side effect."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front: list[int] = []
    best = -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


@dataclass
class Calibration(JsonResult):
    """Every evaluation of a calibration, the frontier and the chosen point (``None`` when nothing is feasible)."""

    effect: str
    max_kl: float
    max_perplexity_ratio: float
    search: str
    seed: int
    n_items: int
    n_neutral: int
    records: list[dict[str, Any]] = field(default_factory=list)
    frontier: list[dict[str, Any]] = field(default_factory=list)
    chosen: dict[str, Any] | None = None
    confirmation: dict[str, Any] = field(default_factory=dict)
    cost_tokens: int = 0
    seconds: float = 0.0

    @property
    def full(self) -> list[dict[str, Any]]:
        """The evaluations that saw every item."""
        return [r for r in self.records if r["items"] == self.n_items]

    def best_feasible(self) -> dict[str, Any] | None:
        ok = [r for r in self.full if r["feasible"]]
        return max(ok, key=lambda r: r["effect"]) if ok else None

    def table(self) -> str:
        lines = [
            f"{self.search} search, effect = {self.effect}; budget KL <= {self.max_kl:g} nats/token, "
            f"perplexity ratio <= {self.max_perplexity_ratio:g}; {self.cost_tokens:,} model tokens, {self.seconds:.1f} s",
            f"{'site':<16}{'strength':>9}{'items':>7}{'effect':>10}{'KL':>9}{'ppl ratio':>11}  feasible",
        ]
        for r in sorted(self.records, key=lambda r: (-r["items"], -r["effect"])):
            lines.append(
                f"{r['site']:<16}{r['strength']:>9g}{r['items']:>7}{r['effect']:>10.3f}{r['kl']:>9.4f}"
                f"{r['perplexity_ratio']:>11.3f}  {'yes' if r['feasible'] else 'no'}"
            )
        if self.chosen is None:
            lines.append("No candidate meets the budget: loosen max_kl / max_perplexity_ratio or try smaller strengths.")
        else:
            c = self.chosen
            lines.append(f"chosen: {c['site']} strength {c['strength']:g} (effect {c['effect']:.3f}, KL {c['kl']:.4f})")
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Effect vs KL of every evaluation (faded: seen on fewer items), the frontier, the budget and the choice."""
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(7, 4.5))
        part = [r for r in self.records if r["items"] < self.n_items]
        if part:
            ax.scatter([r["kl"] for r in part], [r["effect"] for r in part], s=14, c="lightgray", label="fewer items")
        full = self.full
        ax.scatter(
            [r["kl"] for r in full],
            [r["effect"] for r in full],
            s=22,
            c=["tab:blue" if r["feasible"] else "tab:red" for r in full],
            label="all items (blue: within budget)",
        )
        if self.frontier:
            ax.plot([r["kl"] for r in self.frontier], [r["effect"] for r in self.frontier], c="tab:blue", lw=1)
            for r in self.frontier:
                ax.annotate(f"{r['site']} x{r['strength']:g}", (r["kl"], r["effect"]), fontsize=6, alpha=0.8)
        ax.axvline(self.max_kl, color="gray", ls="--", label=f"KL budget {self.max_kl:g}")
        if self.chosen is not None:
            ax.scatter([self.chosen["kl"]], [self.chosen["effect"]], marker="*", s=180, c="gold", edgecolors="k", label="chosen")
        ax.set_xscale("symlog", linthresh=max(self.max_kl / 10, 1e-6))
        ax.set_xlabel("KL(steered || unsteered) on neutral text (nats/token)")
        ax.set_ylabel(f"effect: {self.effect}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return Path(path)


class _Scores:
    """Per-candidate per-item scores, filled in increments."""

    def __init__(self) -> None:
        self.effect: dict[int, float] = {}
        self.drift: dict[int, TextDrift] = {}  # neutral row -> its side effects

    def summary(self, items: Sequence[int], neutral: Sequence[int]) -> dict[str, float]:
        side = summarize_drift([self.drift[j] for j in neutral])
        return {
            "effect": sum(self.effect[i] for i in items) / len(items),
            "kl": side["kl"],
            "perplexity_ratio": side["perplexity_ratio"],
        }


def calibrate(
    model: torch.nn.Module,
    tokenizer: Any,
    method: Any,
    effect: Effect,
    neutral_texts: Sequence[str],
    *,
    sites: SiteLike | Sequence[SiteLike],
    strengths: Sequence[float],
    max_kl: float = 0.1,
    max_perplexity_ratio: float = 1.2,
    search: Literal["halving", "grid"] = "halving",
    eta: int = 3,
    min_items: int = 4,
    prune: bool = True,
    seed: int = 0,
    confirm: Callable[[Sequence[str]], Sequence[float]] | None = None,
    confirm_top: int = 3,
    confirm_config: SamplingConfig | None = None,
    batch_size: int = 8,
    progress: bool | None = None,
) -> Calibration:
    """Search ``sites x strengths`` for the strongest steering whose side effects stay within budget.

    Args:
        model: the model.
        tokenizer: its tokenizer.
        method: what steers (see :func:`steerer`): a :class:`SteeringVector`, a ``(plus, minus)`` ActAdd prompt
            pair, an object with ``edits_at(model, site, strength)`` (e.g. a concept probe), or a callable.
        effect: the effect measure on held-out items (:class:`ContrastEffect`, :class:`TokenEffect`); never the
            data the method was fitted on.
        neutral_texts: text unrelated to the steering, for the side effects (KL and perplexity ratio).
        sites: candidate sites (each paired with every strength).
        strengths: candidate strengths.
        max_kl: budget on the mean per-token KL(steered || unsteered) of the neutral text, in nats.
        max_perplexity_ratio: budget on the neutral text's perplexity ratio (steered / unsteered).
        search: ``"halving"`` (successive halving) or ``"grid"`` (every candidate on every item).
        eta: the halving factor: each rung keeps the best ``1/eta`` and shows them ``eta`` times more items.
        min_items: effect items of the first rung (the neutral texts are subsampled in the same proportion).
        prune: skip strengths beyond one that broke the budget twice over at the same site (same sign).
        seed: orders the items (and seeds the confirming generations): the same seed gives the same choice.
        confirm: a text metric (completions -> scores, higher = stronger effect); the ``confirm_top`` best feasible
            candidates are then compared by short sampled completions of the effect's prompts, and the choice is
            the best of them by this metric.
        confirm_config: sampling of the confirming completions (default: 24 new tokens, the house sampling).
        batch_size: texts per forward pass.
    """
    t0 = time.perf_counter()
    site_list = as_sites(sites)
    strengths = [check_strength(s) for s in strengths]
    if not strengths:
        raise ConfigError("Give at least one strength to calibrate over.")
    if len(set(strengths)) != len(strengths):
        raise ConfigError(f"Strengths repeat: {strengths}.")
    if search not in ("halving", "grid"):
        raise ConfigError(f"search must be 'halving' or 'grid', got {search!r}.")
    if eta < 2:
        raise ConfigError(f"eta must be >= 2, got {eta}.")
    if min_items < 1:
        raise ConfigError(f"min_items must be >= 1, got {min_items}.")
    if not max_kl > 0 or not max_perplexity_ratio > 1:
        raise ConfigError("The budget needs max_kl > 0 and max_perplexity_ratio > 1.")
    if len(effect) == 0:
        raise SteeringError("The effect has no items.")
    if not neutral_texts:
        raise SteeringError("Give at least one neutral text for the side effects.")
    neutral_rows = encode(tokenizer, list(neutral_texts))
    short = [i for i, r in enumerate(neutral_rows) if len(r) < 2]
    if short:
        raise SteeringError(f"Neutral text {short[0]} has fewer than two tokens; give real sentences.")
    steer = steerer(model, method, tokenizer)
    show = progress if progress is not None else True
    cost = 0
    pos_cost = sum(len(r) for r in neutral_rows)

    rng = random.Random(seed)
    order = list(range(len(effect)))
    rng.shuffle(order)
    n_order = list(range(len(neutral_rows)))
    rng.shuffle(n_order)

    # unsteered references: the effect per item, the neutral text's full next-token distributions (fp16) and own-token log-probs
    base_effect = effect.score(model, order).tolist()
    base = dict(zip(order, base_effect))
    ref: dict[int, torch.Tensor] = {}
    for j, lp in position_logprobs(model, neutral_rows, batch_size):
        ref[j] = lp.half()
    cost += pos_cost + effect.tokens(order)

    scores: dict[tuple[int, int], _Scores] = {}
    records: list[dict[str, Any]] = []
    cand = [(a, b) for a in range(len(site_list)) for b in range(len(strengths))]

    def evaluate(c: tuple[int, int], items: list[int], neutral: list[int]) -> dict[str, Any]:
        nonlocal cost
        sc = scores.setdefault(c, _Scores())
        new_items = [i for i in items if i not in sc.effect]
        new_neutral = [j for j in neutral if j not in sc.drift]
        site, s = site_list[c[0]], strengths[c[1]]
        with intervene(model, steer(site, s)):
            if new_items:
                vals = effect.score(model, new_items).tolist()
                sc.effect.update({i: v - base[i] for i, v in zip(new_items, vals)})
                cost += effect.tokens(new_items)
            if new_neutral:
                rows = [neutral_rows[j] for j in new_neutral]
                for k, lp in position_logprobs(model, rows, batch_size):
                    j = new_neutral[k]
                    sc.drift[j] = text_drift(lp, ref[j], neutral_rows[j])
                cost += sum(len(r) for r in rows)
        summ = sc.summary(items, neutral)
        rec: dict[str, Any] = {"site": str(site), "strength": s, "items": len(items), "neutral": len(neutral), **summ}
        rec["feasible"] = summ["kl"] <= max_kl and summ["perplexity_ratio"] <= max_perplexity_ratio
        records.append(rec)
        return rec

    def violation(r: dict[str, Any]) -> float:
        return max(r["kl"] / max_kl, math.log(max(r["perplexity_ratio"], 1e-12)) / math.log(max_perplexity_ratio))

    def rank(r: dict[str, Any]) -> tuple[int, float]:
        return (0, -r["effect"]) if r["feasible"] else (1, violation(r))

    n_all, m_all = len(effect), len(neutral_rows)
    r_items = n_all if search == "grid" else min(n_all, min_items)
    alive = cand
    waiting: list[tuple[int, int]] = []
    last_results: dict[tuple[int, int], dict[str, Any]] = {}
    rung = 0
    bar = tqdm(total=len(cand), desc="calibrate", unit="candidate", disable=not show, leave=False)
    while True:
        items = order[:r_items]
        neutral = n_order[: max(min(4, m_all), math.ceil(m_all * r_items / n_all))]
        results: dict[tuple[int, int], dict[str, Any]] = {}
        broken: set[tuple[int, int]] = set()  # (site index, sign) with a strength that broke the budget twice over
        by_size = sorted(alive, key=lambda c: (c[0], abs(strengths[c[1]])))
        for c in by_size:
            sign = 1 if strengths[c[1]] >= 0 else -1
            if prune and rung == 0 and (c[0], sign) in broken and strengths[c[1]] != 0:
                bar.update(1)
                continue
            rec = evaluate(c, items, neutral)
            rec["rung"] = rung
            results[c] = rec
            if violation(rec) > 2:
                broken.add((c[0], sign))
            if rung == 0:
                bar.update(1)
        if r_items >= n_all:
            break
        last_results = results
        ranked = sorted(results, key=lambda c: rank(results[c]))
        alive = ranked[: max(min(2, len(ranked)), math.ceil(len(ranked) / eta))]
        waiting = ranked[len(alive) :]  # the rest of this rung, best first
        r_items = min(n_all, r_items * eta)
        rung += 1
    bar.close()
    # a promoted candidate can turn out infeasible on all items: then try the next best of the last rung, in order
    if search == "halving" and not any(r["feasible"] for r in records if r["items"] == n_all):
        for c in waiting:
            if rank(last_results[c])[0] == 1:
                break  # the rest broke the budget already on fewer items
            rec = evaluate(c, order, n_order)
            rec["rung"] = rung
            if rec["feasible"]:
                break

    final = [r for r in records if r["items"] == n_all]
    feasible = sorted((r for r in final if r["feasible"]), key=lambda r: -r["effect"])
    front = [final[i] for i in pareto_front([(r["kl"], r["effect"]) for r in final])]
    chosen = feasible[0] if feasible else None
    confirmation: dict[str, Any] = {}
    if confirm is not None and feasible:
        cfg = confirm_config or SamplingConfig(max_new_tokens=24)
        prompts = effect.prompts(order)
        base_scores = list(confirm(sample(model, tokenizer, prompts, seed=seed, config=cfg)))
        cost += len(prompts) * cfg.max_new_tokens
        tried = []
        for r in feasible[:confirm_top]:
            site = Site.parse(r["site"])
            texts = sample(model, tokenizer, prompts, edits=steer(site, r["strength"]), seed=seed, config=cfg)
            cost += len(prompts) * cfg.max_new_tokens
            vals = list(confirm(texts))
            tried.append({"site": r["site"], "strength": r["strength"], "metric": sum(vals) / len(vals), "example": texts[0]})
        best = max(tried, key=lambda t: t["metric"])
        chosen = next(r for r in feasible if r["site"] == best["site"] and r["strength"] == best["strength"])
        confirmation = {"unsteered": sum(base_scores) / len(base_scores), "candidates": tried, "prompts": len(prompts)}
    return Calibration(
        effect=effect.name,
        max_kl=max_kl,
        max_perplexity_ratio=max_perplexity_ratio,
        search=search,
        seed=seed,
        n_items=n_all,
        n_neutral=m_all,
        records=records,
        frontier=front,
        chosen=chosen,
        confirmation=confirmation,
        cost_tokens=cost,
        seconds=time.perf_counter() - t0,
    )
