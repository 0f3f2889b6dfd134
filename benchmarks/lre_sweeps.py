"""LRE beta and inverse-rank sweeps, on relations that did not choose the subject layer.

    STEERLENS_HOME=... .venv/bin/python benchmarks/lre_sweeps.py [--model gemma-3-270m] [--layer 8] [--out DIR]

The subject layer (default 8) was chosen by ``relations_results.py`` on its six sweep relations; those six are
left out here, so every figure is on relations that played no part in choosing it. For each other relation
with enough known prompts, one LRE is fitted (5 known ICL prompts, object layer: the last block, first-token
aggregation) and then, with no refitting:

* **faithfulness vs beta**: the LRE's prediction ``beta * W s + b`` decoded by the model's head on held-out
  subjects, for each beta;
* **causality vs inverse rank**: the subject edited by the rank-r pseudo-inverse so the object becomes another
  test prompt's, for each rank (the LRE papers use about 5 % of the hidden size; steerlens' default is 200).

It also counts the relations whose causality (default rank) is at least their faithfulness (beta 1), which the
LRE paper reports for most relations of GPT-J. Writes ``lre_sweeps.json`` and prints the tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
from relations_results import SWEEP_RELATIONS  # chose the subject layer there: not scored here
from tqdm.auto import tqdm

import steerlens
from steerlens.relations import load_relation, relation_names
from steerlens.relations.data import stable_shuffle
from steerlens.relations.evaluate import causality, is_prefix, split_known
from steerlens.relations.jacobian import subject_activations
from steerlens.relations.lrc import default_rank
from steerlens.relations.lre import train_lre


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--layer", type=int, default=8, help="subject layer (chosen on the six sweep relations)")
    ap.add_argument("--betas", default="0.5,1,1.5,2,3,5,8")
    ap.add_argument("--ranks", default="8,16,32,64,128,200,400")
    ap.add_argument("--n-train", type=int, default=5)
    ap.add_argument("--max-test", type=int, default=30)
    ap.add_argument("--max-samples", type=int, default=100, help="cap on a relation's samples (seeded subset)")
    ap.add_argument("--min-known", type=int, default=4)
    ap.add_argument("--relations", default="", help="comma-separated names (default: all but the sweep six)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench-results/lre-sweeps")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model, tok = steerlens.load_model(a.model)
    spec = steerlens.resolve(model)
    betas = [float(x) for x in a.betas.split(",")]
    ranks = [min(int(x), spec.d_model) for x in a.ranks.split(",")]
    names = a.relations.split(",") if a.relations else [n for n in relation_names() if n not in SWEEP_RELATIONS]
    rows = []
    t0 = time.perf_counter()
    for name in tqdm(names, desc="relations", unit="relation"):
        rel = load_relation(name)
        if len(rel.samples) > a.max_samples:
            rel = dataclasses.replace(rel, samples=tuple(stable_shuffle(rel.samples, "cap-0")[: a.max_samples]))
        train, test, n_known = split_known(model, tok, rel, a.n_train, 4, seed=0)
        test = test[: a.max_test]
        if not train or len(test) < a.min_known:
            rows.append({"relation": name, "category": rel.category, "skipped": f"train {len(train)}, test {len(test)}"})
            continue
        lre = train_lre(model, tok, train, a.layer, -1, relation=name, max_samples=a.n_train, seed=0, progress=False)
        s = subject_activations(model, tok, test, a.layer)
        faith = {}
        for b in betas:
            pred = spec.logits(dataclasses.replace(lre, beta=b)(s)).argmax(-1)
            faith[f"{b:g}"] = float(np.mean([is_prefix(tok.decode([int(t)]), p.answer) for t, p in zip(pred, test)]))
        caus = {str(r): causality(model, tok, lre, lre.invert(r), test, seed=0) for r in ranks}
        rows.append({"relation": name, "category": rel.category, "n_test": len(test), "faithfulness": faith, "causality": caus})
        # written after every relation, so an interrupted run still leaves what it measured
        (out / "lre_sweeps.partial.json").write_text(json.dumps({"done": len(rows), "of": len(names), "relations": rows}))
    scored = [r for r in rows if "skipped" not in r]
    default = str(min(default_rank(spec.d_model), spec.d_model))
    summary = {
        "model": a.model,
        "subject_layer": a.layer,
        "relations_scored": len(scored),
        "relations_skipped": len(rows) - len(scored),
        "mean_faithfulness_by_beta": {f"{b:g}": float(np.mean([r["faithfulness"][f"{b:g}"] for r in scored])) for b in betas},
        "mean_causality_by_rank": {
            str(k): float(np.mean([r["causality"][str(k)] for r in scored if r["causality"][str(k)] is not None])) for k in ranks
        },
        "causality_at_least_faithfulness": sum(
            1 for r in scored if r["causality"].get(default) is not None and r["causality"][default] >= r["faithfulness"]["1"]
        ),
        "default_rank": int(default),
        "seconds": time.perf_counter() - t0,
        "args": vars(a),
    }
    (out / "lre_sweeps.json").write_text(json.dumps({"summary": summary, "relations": rows}, indent=1))
    print(json.dumps(summary, indent=2))
    print("\nrelation                        faithfulness by beta (" + ", ".join(f"{b:g}" for b in betas) + ")"
          + "   causality by rank (" + ", ".join(map(str, ranks)) + ")")  # fmt: skip
    for r in scored:
        f = " ".join(f"{r['faithfulness'][f'{b:g}']:.2f}" for b in betas)
        c = " ".join("  - " if r["causality"][str(k)] is None else f"{r['causality'][str(k)]:.2f}" for k in ranks)
        print(f"{r['relation']:<30}  {f}   {c}")


if __name__ == "__main__":
    main()
