"""Known-fact filtering: the old full-distribution scoring against ``next_token_ranks`` (issue 24's goal).

    python benchmarks/bench_known_facts.py [--model gemma-3-270m] [--n 768] [--repeats 2] [--threads 1]

On the first ``--n`` facts of the training part of ``counterfact_from_relations(seed=0)``, alternates the old
path (``last_token_logprobs`` over the whole vocabulary, kept for every prompt, then ranked) and today's
``filter_known`` (batched by length, only the true object's rank kept), ``--repeats`` times each, 64 prompts a
batch, and prints each time and how many facts each finds known (they must agree).
"""

from __future__ import annotations

import argparse
import time

import torch

import steerlens
from steerlens.editors import counterfact_from_relations, filter_known, split_samples
from steerlens.editors.data import first_token
from steerlens.model.capture import last_token_logprobs
from steerlens.model.tokens import encode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--n", type=int, default=768)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, tok = steerlens.load_model(a.model)
    facts = split_samples(counterfact_from_relations(tokenizer=tok, seed=0), seed=0)["train"][: a.n]

    def old() -> set[str]:
        true_ids = torch.tensor([first_token(tok, s.target_true) for s in facts])
        lp = last_token_logprobs(model, encode(tok, [s.prompt for s in facts]), 64, progress=False)
        ranks = (lp > lp.gather(1, true_ids[:, None])).sum(-1)
        return {s.id for s, r in zip(facts, ranks.tolist()) if r < 1}

    def new() -> set[str]:
        return {s.id for s in filter_known(model, tok, facts, top_k=1, batch_size=64, progress=False)}

    for _ in range(a.repeats):
        for name, fn in (("full distribution (old)", old), ("next_token_ranks (new)", new)):
            t0 = time.perf_counter()
            known = fn()
            print(f"{name:<26} {time.perf_counter() - t0:7.1f} s   {len(known)} of {len(facts)} known", flush=True)


if __name__ == "__main__":
    main()
