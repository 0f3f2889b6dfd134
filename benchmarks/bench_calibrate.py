"""Calibration by successive halving against the exhaustive grid, on the same vector, items and budget.

A mean-difference steering vector is trained on half of a shipped concept dataset's contrast pairs (tone by
default) at every candidate site; the other half judges the effect. The grid scores every (site, strength) on
every item; successive halving (several seeds) searches the same candidates. Reported: the grid's best feasible
effect, each halving run's chosen effect and its ratio to it, and the cost ratio (model tokens and seconds).

    .venv/bin/python benchmarks/bench_calibrate.py --model smollm2-135m --out bench-results/calibrate
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch

import steerlens
from steerlens.concepts.data import contrast_pairs, load_dataset
from steerlens.model import parse_sites, resolve
from steerlens.steering import train_steering_vector
from steerlens.steering.calibrate import ContrastEffect, calibrate, neutral_texts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--dataset", default="tone", choices=["tone", "refusal"])
    p.add_argument("--sites", default="all", help="candidate sites (default: resid_post of every block)")
    p.add_argument("--strengths", default="0.125,0.25,0.5,1,2,4")
    p.add_argument("--max-kl", type=float, default=0.1)
    p.add_argument("--max-ppl-ratio", type=float, default=1.2)
    p.add_argument("--neutral-texts", type=int, default=16)
    p.add_argument("--judge-pairs", type=int, default=None, help="held-out pairs that judge the effect (default: all 75)")
    p.add_argument("--seeds", default="0,1,2", help="seeds of the halving runs")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="bench-results/calibrate")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    model, tok = steerlens.load_model(a.model)
    n_layers = resolve(model).n_layers
    sites = parse_sites(a.sites, n_layers)
    strengths = [float(x) for x in a.strengths.split(",")]
    pairs = contrast_pairs(load_dataset(a.dataset))
    order = list(range(len(pairs)))
    random.Random(0).shuffle(order)
    k = len(pairs) // 2
    judge, fit = [pairs[i] for i in order[:k]], [pairs[i] for i in order[k:]]
    judge = judge[: a.judge_pairs] if a.judge_pairs else judge
    vec = train_steering_vector(model, tok, fit, sites)
    effect = ContrastEffect(tok, judge)
    neutral = neutral_texts(a.neutral_texts)
    common = dict(sites=sites, strengths=strengths, max_kl=a.max_kl, max_perplexity_ratio=a.max_ppl_ratio)
    print(f"{a.model}: {len(sites)} sites x {len(strengths)} strengths, {len(judge)} held-out pairs, {len(neutral)} neutral")

    t0 = time.perf_counter()
    grid = calibrate(model, tok, vec, effect, neutral, search="grid", prune=False, **common)
    grid.save_json(out / "grid.json")
    grid.plot(out / "grid.png")
    best = grid.best_feasible()
    print(grid.table().splitlines()[0])
    where = best and (best["site"], best["strength"], round(best["effect"], 3))
    print(f"grid: best feasible {where}, {time.perf_counter() - t0:.0f} s")
    runs = []
    for seed in [int(x) for x in a.seeds.split(",")]:
        res = calibrate(model, tok, vec, effect, neutral, search="halving", seed=seed, **common)
        res.save_json(out / f"halving-seed{seed}.json")
        if seed == 0:
            res.plot(out / "halving-seed0.png")
        c = res.chosen
        row = {
            "seed": seed,
            "chosen": c and {"site": c["site"], "strength": c["strength"], "effect": c["effect"], "kl": c["kl"]},
            "effect_ratio": (c["effect"] / best["effect"]) if (c and best) else None,
            "cost_ratio_tokens": res.cost_tokens / grid.cost_tokens,
            "cost_ratio_seconds": res.seconds / grid.seconds,
            "evaluations": len(res.records),
        }
        runs.append(row)
        print(json.dumps(row))
    summary = {
        "model": a.model,
        "dataset": a.dataset,
        "candidates": len(sites) * len(strengths),
        "held_out_pairs": len(judge),
        "neutral_texts": len(neutral),
        "budget": {"max_kl": a.max_kl, "max_perplexity_ratio": a.max_ppl_ratio},
        "grid": {
            "best_feasible": best and {k: best[k] for k in ("site", "strength", "effect", "kl", "perplexity_ratio")},
            "cost_tokens": grid.cost_tokens,
            "seconds": grid.seconds,
            "feasible": sum(r["feasible"] for r in grid.records),
        },
        "halving": runs,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
