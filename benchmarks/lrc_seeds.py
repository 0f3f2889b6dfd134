"""LRCs against the probe baselines over several seeds, with the LRC paper's settings and confidence intervals.

    STEERLENS_HOME=... .venv/bin/python benchmarks/lrc_seeds.py [--model gemma-3-270m] [--layer 8] \
        [--concept-object-layer 9] [--seeds 0,1,2,3,4] [--out DIR]

For each seed, every relation in ``--relations`` (default: the 17 relations that produce concept scores on
gemma-3-270m at subject layer 8, see ``relations_results.py``; the others never have an object seen among
the known training prompts *and* a known zero-shot test prompt of it) is evaluated by
``steerlens.relations.evaluate.evaluate_relation`` with the concepts taken from an LRE whose object layer is
``--concept-object-layer`` (default: the middle block) with mean aggregation over the object's positions, as
the LRC paper's better setting. The seed changes the known-sample split, the concept split (no subject the
LRE saw is a concept test subject) and the probes' initialisation.

Printed and written to ``lrc_seeds.json``: per method (LRC; the probe baselines mean vector, logistic
regression, linear SVM), the macro mean over relations of concept accuracy and swap success per seed, then
the mean over seeds with a 95 % confidence interval (t distribution over the seeds), and the paired
difference LRC minus each probe with its own interval.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

import steerlens
from steerlens.relations.evaluate import evaluate_relation

CONCEPT_RELATIONS = [
    "adjective antonym",
    "city in country",
    "company hq",
    "country language",
    "food from country",
    "landmark in country",
    "name birthplace",
    "name gender",
    "name religion",
    "object superclass",
    "person plays instrument",
    "plays pro sport",
    "product by company",
    "substance phase of matter",
    "task done by tool",
    "word first letter",
    "work location",
]
METHODS = ("lrc", "mean", "logistic", "svm")
# two-sided 95 % quantiles of Student's t by degrees of freedom (1..10)
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def interval(values: list[float]) -> dict:
    """Mean, sample standard deviation and the 95 % t interval's half-width over seeds."""
    x = np.array(values, dtype=float)
    n = len(x)
    sd = float(x.std(ddof=1)) if n > 1 else float("nan")
    half = T95.get(n - 1, 1.96) * sd / math.sqrt(n) if n > 1 else float("nan")
    return {"mean": float(x.mean()), "sd": sd, "ci95": half, "n": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--layer", type=int, default=8, help="subject layer (chosen by relations_results.py's sweep)")
    ap.add_argument("--concept-object-layer", type=int, default=None, help="default: the middle block")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--relations", default=",".join(CONCEPT_RELATIONS))
    ap.add_argument("--n-train", type=int, default=5)
    ap.add_argument("--max-test", type=int, default=60)
    ap.add_argument("--max-samples", type=int, default=200)
    ap.add_argument("--swap-strength", type=float, default=0.05)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench-results/lrc-seeds")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model, tok = steerlens.load_model(a.model)
    n_layers = steerlens.resolve(model).n_layers
    col = n_layers // 2 if a.concept_object_layer is None else a.concept_object_layer
    seeds = [int(s) for s in a.seeds.split(",")]
    names = [r for r in a.relations.split(",") if r]
    report: dict = {
        "model": a.model,
        "subject_layer": a.layer,
        "concept_object_layer": col,
        "aggregation": "mean",
        "seeds": seeds,
        "relations": names,
        "per_seed": {},
    }
    t0 = time.perf_counter()
    for seed in seeds:
        rows = []
        for name in names:
            r = evaluate_relation(
                model,
                tok,
                name,
                subject_layer=a.layer,
                concept_object_layer=col,
                n_train=a.n_train,
                max_test=a.max_test,
                max_samples=a.max_samples or None,
                swap_strength=a.swap_strength,
                seed=seed,
                measure=("concepts",),  # no object-layer LRE: the concept scores are the same, in half the time
            )
            rows.append(
                {
                    "relation": name,
                    "accuracy": r.concept_accuracy,
                    "swap": r.concept_causality,
                    "n_concept_test": r.n_concept_test,
                    "note": r.note,
                }
            )
            print(f"seed {seed} {name}: accuracy {r.concept_accuracy} swap {r.concept_causality} {r.note}", flush=True)
        report["per_seed"][seed] = rows
        (out / "lrc_seeds.json").write_text(json.dumps(report, indent=1))

    summary: dict = {}
    for metric in ("accuracy", "swap"):
        per_method: dict[str, list[float]] = {m: [] for m in METHODS}
        diffs: dict[str, list[float]] = {m: [] for m in METHODS[1:]}
        scored_counts = []
        for seed in seeds:
            # relations where every method has a score this seed (the same set for all methods: a paired comparison)
            ok = [r for r in report["per_seed"][seed] if all(r[metric].get(m) is not None for m in METHODS)]
            scored_counts.append(len(ok))
            if not ok:
                continue
            means = {m: float(np.mean([r[metric][m] for r in ok])) for m in METHODS}
            for m in METHODS:
                per_method[m].append(means[m])
            for m in METHODS[1:]:
                diffs[m].append(means["lrc"] - means[m])
        summary[metric] = {
            "relations_scored_per_seed": scored_counts,
            "by_method": {m: interval(v) for m, v in per_method.items() if v},
            "lrc_minus": {m: interval(v) for m, v in diffs.items() if v},
        }
    report["summary"] = summary
    report["seconds"] = time.perf_counter() - t0
    (out / "lrc_seeds.json").write_text(json.dumps(report, indent=1))

    print(f"\n{a.model}: subject layer {a.layer}, concept object layer {col} (mean aggregation), seeds {seeds}")
    for metric, s in summary.items():
        print(f"\nconcept {metric} (macro mean over relations; relations scored per seed: {s['relations_scored_per_seed']})")
        for m, iv in s["by_method"].items():
            print(f"  {m:9s} {iv['mean']:.3f} +- {iv['ci95']:.3f}  (sd {iv['sd']:.3f} over {iv['n']} seeds)")
        for m, iv in s["lrc_minus"].items():
            print(f"  lrc - {m:9s} {iv['mean']:+.3f} +- {iv['ci95']:.3f}")
    print(f"\n{report['seconds']:.0f} s")


if __name__ == "__main__":
    main()
