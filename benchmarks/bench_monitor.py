"""Cost of per-token monitoring: greedy generation with and without monitors, interleaved, tokens/s and the ratio.

    STEERLENS_HOME=... .venv/bin/python benchmarks/bench_monitor.py [--model smollm2-135m] [--rounds 3]

Three settings, run in turn ``--rounds`` times on the same prompts (so machine noise hits each alike): no monitor;
one projection monitor at the middle layer; a projection monitor at every layer. The issue's goal is an
overhead of at most 5 % of tokens/s for monitoring. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import steerlens
from steerlens.model import Monitor, Site, generate

PROMPTS = [
    "The weather in the mountains today is",
    "My favourite recipe for a quick dinner",
    "In the history of science, the most surprising",
    "Here is a short story about a lighthouse keeper:",
    "The best way to learn a new language is",
    "When the train finally arrived at the station,",
    "A list of things to pack for a camping trip:",
    "The committee met to discuss the new budget and",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, tok = steerlens.load_model(a.model)
    spec = steerlens.resolve(model)
    g = torch.Generator().manual_seed(0)
    one = [Monitor.projection(Site(spec.n_layers // 2), torch.randn(spec.d_model, generator=g), name="mid")]
    every = [Monitor.projection(Site(i), torch.randn(spec.d_model, generator=g), name=f"l{i}") for i in range(spec.n_layers)]
    settings = {"none": None, "one monitor": one, f"{spec.n_layers} monitors": every}
    generate(model, tok, PROMPTS[:2], max_new_tokens=4)  # warm-up
    seconds = {k: 0.0 for k in settings}
    tokens = {k: 0 for k in settings}
    for _ in range(a.rounds):
        for name, mons in settings.items():
            t0 = time.perf_counter()
            out = generate(model, tok, PROMPTS, max_new_tokens=a.max_new_tokens, monitors=mons)
            seconds[name] += time.perf_counter() - t0
            tokens[name] += sum(len(r) for r in out.new_ids)
    rate = {k: tokens[k] / seconds[k] for k in settings}
    res = {
        "model": a.model,
        "tokens_per_s": rate,
        "overhead_vs_none": {k: 1 - rate[k] / rate["none"] for k in settings if k != "none"},
        "rounds": a.rounds,
        "batch": len(PROMPTS),
        "max_new_tokens": a.max_new_tokens,
    }
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
