"""Lens evaluation speed: entropy on or off, float32 or bfloat16 vocabulary matmuls (issue 24's lens goal).

    python benchmarks/bench_lens_eval.py [--model gemma-3-270m] [--tokens 256] [--lenses 3] [--threads 1]
        [--settings entropy-fp32,fp32,bf16]

Evaluates ``--lenses`` copies of the logit lens (every lens costs the same vocabulary pass; a tuned lens adds
only its small translator) on one held-out chunk of ``--tokens`` tokens of the shipped corpus, once per
setting, in turn in one process, and prints the wall time of each and the KL at one lens index (the settings
must agree on it).
"""

from __future__ import annotations

import argparse
import time

import torch

import steerlens
from steerlens.lens import LogitLens
from steerlens.lens.data import chunk_texts, default_corpus
from steerlens.lens.evaluate import evaluate_lenses

SETTINGS = {
    "entropy-fp32": {"entropy": True},
    "fp32": {},
    "bf16": {"compute_dtype": torch.bfloat16},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--lenses", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--settings", default=",".join(SETTINGS), help=f"comma-separated, from {', '.join(SETTINGS)}")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, tok = steerlens.load_model(a.model)
    chunks = chunk_texts(tok, default_corpus("test"), a.tokens, max_chunks=1)
    lenses = {f"logit{i}": LogitLens.from_model(model) for i in range(a.lenses)}
    probe = next(iter(lenses.values())).n_layers // 2
    for name in [s for s in a.settings.split(",") if s]:
        t0 = time.perf_counter()
        res = evaluate_lenses(model, chunks, lenses, progress=False, **SETTINGS[name])
        kl = res["lenses"]["logit0"]["kl"][probe]
        print(f"{name:<14} {time.perf_counter() - t0:7.1f} s   KL at lens index {probe}: {kl:.4f} bits/byte", flush=True)


if __name__ == "__main__":
    main()
