"""Train the REMEDI editor that ships with steerlens for the tour (reproducible, seeded).

    python scripts/train_tour_editor.py [--model gemma-3-270m] [--layer 9] [--epochs 6]
        [--out src/steerlens/data/editors/gemma-3-270m]

1. CounterFact-style facts from the 47 relations (``counterfact_from_relations``, seed 0), split
   80/10/10 with ``split_samples`` (seed 0): the same split the tour uses, so the tour's held-out
   facts come from the test part, which this editor never sees.
2. Keep the facts the model knows (the true object's first token is its top-1 next token), in the
   train and validation parts (``--known FILE``: reuse a JSONL of known facts from an earlier run).
3. Train a linear editor at ``--layer`` (loss: new-object NLL + unlikelihood of the true object +
   ``--lam-kl`` x KL on the rest of the prompt), keep the best validation epoch, save it with the
   model's fingerprint and its training history, then print the efficacy on known test facts.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import steerlens
from steerlens.editors import (
    EditorEdit,
    Unedited,
    counterfact_from_relations,
    evaluate_edits,
    known_splits,
    load_samples,
    train_editor,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--layer", type=int, default=9)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--patience", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lam-kl", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-train", type=int, default=None, help="use at most this many known training facts")
    ap.add_argument("--known", default=None, help="JSONL of known facts from an earlier run (skips filtering)")
    ap.add_argument("--n-test", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None, help="default: src/steerlens/data/editors/MODEL")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    out = Path(a.out or Path(__file__).resolve().parent.parent / "src" / "steerlens" / "data" / "editors" / a.model)
    model, tok = steerlens.load_model(a.model)
    t0 = time.perf_counter()
    facts = counterfact_from_relations(tokenizer=tok, seed=a.seed)
    known_ids = [s.id for s in load_samples(a.known)] if a.known else None
    known = known_splits(model, tok, facts, top_k=1, seed=a.seed, known_ids=known_ids, progress=True, cache=True)
    train = known["train"][: a.max_train] if a.max_train else known["train"]
    print(
        f"facts {len(facts)}; known train {len(known['train'])} (using {len(train)}), validation "
        f"{len(known['validation'])}, test {len(known['test'])} ({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    res = train_editor(
        model,
        tok,
        train,
        a.layer,
        validation=known["validation"],
        max_epochs=a.epochs,
        patience=a.patience,
        lr=a.lr,
        lam_kl=a.lam_kl,
        batch_size=a.batch_size,
        seed=a.seed,
    )
    history = {
        "history": res.history,
        "best_epoch": res.best_epoch,
        "seconds": res.seconds,
        "step_seconds": res.step_seconds,
        "script": "scripts/train_tour_editor.py",
        "settings": {k: v for k, v in vars(a).items() if k not in ("out", "threads", "known")},
        "n_train": len(train),
        "n_validation": len(known["validation"]),
    }
    path = res.editor.save(out, model=model, history=history)
    test = known["test"][: a.n_test]
    results = evaluate_edits(model, tok, test, [Unedited(), EditorEdit(res.editor)], generation=False)
    summary = {r.method: {"efficacy": r.efficacy, "paraphrase": r.paraphrase_efficacy} for r in results}
    print(f"saved {path}; best epoch {res.best_epoch}; on {len(test)} known test facts: {json.dumps(summary)}")


if __name__ == "__main__":
    main()
