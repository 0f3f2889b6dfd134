"""Concept-guidance results on an embedded model: probe accuracy per layer and a guidance sweep.

    STEERLENS_HOME=... .venv/bin/python benchmarks/concept_results.py --model gemma-3-270m --out bench-results/concepts

For each shipped dataset (tone, refusal) the three probes (DiM, logistic, PCA) are fitted per layer
on the attention inputs of the completion tokens; train and held-out accuracy per layer are written
to ``<dataset>_accuracy.json`` and plotted. Then a DiM concept of the tone dataset guides generation
over a symmetric grid of strengths on its top-k sites (by train accuracy): the effect (the probe's mean
P(jokey) on the generated answers, read from the unguided model) and the perplexity of reference
answers are written to ``tone_sweep.json`` / ``tone_sweep.png`` with the PNES fit.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import steerlens
from steerlens.concepts import guidance_sweep, load_dataset, split_examples, train_concept
from steerlens.concepts.plots import plot_accuracy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--out", default="bench-results/concepts")
    ap.add_argument("--datasets", default="tone,refusal")
    ap.add_argument("--strengths", default="-32,-16,-8,-4,0,4,8,16,32", help="guidance strengths of the sweep")
    ap.add_argument("--top-k", type=int, default=6)
    ap.add_argument("--prompts", type=int, default=12)
    ap.add_argument("--references", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default=None, help="e.g. cuda (default: CPU)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model, tok = steerlens.load_model(a.model, device=a.device)
    summary: dict = {"model": a.model}
    concepts = {}
    for name in a.datasets.split(","):
        data = load_dataset(name)
        train, val = split_examples(data, 0.2)
        res = {}
        t0 = time.perf_counter()
        for kind in ("dim", "logistic", "pca"):
            c = train_concept(model, tok, train, val_examples=val, probe=kind, name=name)
            res[kind] = {"train": c.train_accuracy, "val": c.val_accuracy}
            concepts[(name, kind)] = c
            print(f"{name} {kind}: held-out " + " ".join(f"{x:.2f}" for x in c.val_accuracy))
        (out / f"{name}_accuracy.json").write_text(json.dumps(res, indent=2))
        plot_accuracy(res, out / f"{name}_accuracy.png", title=f"{name} probes on {a.model} (attention inputs)")
        summary[name] = {k: {"max_val": max(v["val"]), "mean_val": sum(v["val"]) / len(v["val"])} for k, v in res.items()}
        summary[name]["seconds"] = time.perf_counter() - t0
    tone = load_dataset("tone")
    _, val = split_examples(tone, 0.2)
    prompts = list(dict.fromkeys(e.prompt for e in val))[: a.prompts]
    refs = [e for e in val if e.label == 1][: a.references]
    t0 = time.perf_counter()
    sweep = guidance_sweep(
        model,
        tok,
        concepts[("tone", "dim")],
        [float(s) for s in a.strengths.split(",")],
        prompts,
        refs,
        top_k=a.top_k,
        max_new_tokens=a.max_new_tokens,
    )
    sweep.save_json(out / "tone_sweep.json")
    sweep.plot(out / "tone_sweep.png")
    print(sweep.table())
    summary["tone_sweep"] = {
        "strengths": sweep.strengths,
        "effect": sweep.effect,
        "perplexity": sweep.perplexity,
        "layers": sweep.layers,
        "pnes": sweep.pnes.get("pnes"),
        "seconds": time.perf_counter() - t0,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
