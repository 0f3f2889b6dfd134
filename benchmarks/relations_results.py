"""The 47-relation evaluation on an embedded model: a subject-layer sweep, then every relation at the chosen layer.

    python benchmarks/relations_results.py [--model gemma-3-270m] [--device cuda] [--out bench-results/relations]

1. Sweep: LRE faithfulness and causality on a few relations at several subject layers (object layer:
   the last block, first-token aggregation, as in the LRE paper); the layer with the best mean of the
   two is chosen (or pass ``--layer``).
2. All relations at that layer: faithfulness, causality, LRC accuracy and concept-swap success vs
   the probing baselines (``steerlens.relations.evaluate``). Writes ``results.json``, ``table.txt``
   and ``by_category.png``.
3. A concept swap on "Shanghai is located in the country of": LRCs for cities -> countries, then
   ``China`` swapped for another country.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import steerlens
from steerlens.relations import ConceptSwapper, Prompt, train_relation_concepts
from steerlens.relations.evaluate import evaluate_relation, plot_summary, results_table, summarize, write_results

SWEEP_RELATIONS = [
    "country capital city",
    "adjective antonym",
    "name gender",
    "fruit inside color",
    "person occupation",
    "word first letter",
]

CITIES = [
    ("Beijing", "China"),
    ("Guangzhou", "China"),
    ("Shenzhen", "China"),
    ("Tokyo", "Japan"),
    ("Osaka", "Japan"),
    ("Kyoto", "Japan"),
    ("Berlin", "Germany"),
    ("Munich", "Germany"),
    ("Hamburg", "Germany"),
    ("Paris", "France"),
    ("Lyon", "France"),
    ("Marseille", "France"),
    ("Rome", "Italy"),
    ("Milan", "Italy"),
    ("Naples", "Italy"),
    ("Madrid", "Spain"),
    ("Barcelona", "Spain"),
    ("Seville", "Spain"),
]


def swap_demo(model, tok, layer: int, object_layer: int) -> dict:
    template = "{} is located in the country of"
    demos = "Toronto is located in the country of Canada\nSydney is located in the country of Australia\n"
    prompts = [Prompt(demos + template.format(c), country, c) for c, country in CITIES]
    concepts = train_relation_concepts(
        model,
        tok,
        prompts,
        layer,
        object_layer,
        relation="city in country",
        rank=min(64, steerlens.model.resolve(model).d_model),
        max_lre_samples=12,
    )
    names = {c.object: c.name for c in concepts}
    text = "Shanghai is located in the country of"
    editor = ConceptSwapper(model, tok, concepts)
    out = {
        "layer": layer,
        "object_layer": object_layer,
        "concepts": sorted(names),
        "text": text,
        "unedited": editor.swap_and_predict([(text, "Shanghai", names["China"], names["China"])], strength=0.0, max_new_tokens=3)[
            0
        ],
        "swaps": [],
    }
    for target in ("Japan", "Germany", "France", "Italy", "Spain"):
        if target not in names:
            continue
        for layers, mult in (("all", 0.05), ("all", 0.1), ("all", 0.2), (layer, 1.0), (layer, 2.0), (layer, 3.0)):
            pred = editor.swap_and_predict(
                [(text, "Shanghai", names["China"], names[target])], layers=layers, strength=mult, max_new_tokens=3
            )[0]
            out["swaps"].append({"target": target, "layers": layers, "strength": mult, "prediction": pred})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--device", default=None)
    ap.add_argument("--out", default="bench-results/relations")
    ap.add_argument("--layers", default="2,4,6,8,10,12", help="subject layers to sweep")
    ap.add_argument("--layer", type=int, default=None, help="skip the sweep and use this subject layer")
    ap.add_argument("--relations", default="", help="comma-separated relation names (default: all 47)")
    ap.add_argument("--n-train", type=int, default=5)
    ap.add_argument("--max-test", type=int, default=60)
    ap.add_argument(
        "--max-samples", type=int, default=200, help="cap each relation at a seeded subset of this many samples (0: all)"
    )
    ap.add_argument("--rank", type=int, default=None)
    ap.add_argument("--swap-strength", type=float, default=0.05)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model, tok = steerlens.load_model(a.model, device=a.device)
    n_layers = steerlens.model.resolve(model).n_layers
    common = dict(
        n_train=a.n_train, max_test=a.max_test, rank=a.rank, swap_strength=a.swap_strength, max_samples=a.max_samples or None
    )
    report: dict = {"model": a.model, "device": str(next(model.parameters()).device), "settings": common}

    layer = a.layer
    if layer is None:
        t = time.perf_counter()
        sweep = {}
        for lay in [int(x) for x in a.layers.split(",")]:
            rs = [
                evaluate_relation(model, tok, r, subject_layer=lay, baselines=False, **{**common, "max_test": 30})
                for r in SWEEP_RELATIONS
            ]
            s = summarize(rs)["all"]
            sweep[lay] = {
                "faithfulness": s["faithfulness"],
                "causality": s["causality"],
                "per_relation": {r.relation: [r.faithfulness, r.causality] for r in rs},
            }
            print(f"sweep layer {lay}: faithfulness {s['faithfulness']}, causality {s['causality']}", flush=True)
        layer = max(sweep, key=lambda k: (sweep[k]["faithfulness"] or 0) + (sweep[k]["causality"] or 0))
        report["sweep"] = {"relations": SWEEP_RELATIONS, "layers": sweep, "chosen": layer, "seconds": time.perf_counter() - t}
        (out / "report.json").write_text(json.dumps(report, indent=1))
    print(f"subject layer {layer} (object layer {n_layers - 1})", flush=True)

    t = time.perf_counter()
    names = [r for r in a.relations.split(",") if r] or None
    from steerlens.relations import relation_names

    results = []
    for name in names or relation_names():
        r = evaluate_relation(model, tok, name, subject_layer=layer, **common)
        results.append(r)
        print(
            f"  {r.relation}: known {r.n_known}, faithfulness {r.faithfulness}, causality {r.causality}, "
            f"concept acc {r.concept_accuracy}, swap {r.concept_causality} ({r.seconds:.1f}s) {r.note}",
            flush=True,
        )
        write_results(results, out)
    report["evaluation_seconds"] = time.perf_counter() - t
    report["summary"] = summarize(results)
    table = results_table(results)
    (out / "table.txt").write_text(table + "\n")
    print(table)
    plot_summary(results, out / "by_category.png", title=f"{a.model}: relations at subject layer {layer}")
    report["shanghai_swap"] = swap_demo(model, tok, layer, min(layer + 6, n_layers - 1))
    print(json.dumps(report["shanghai_swap"], indent=1))
    (out / "report.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
