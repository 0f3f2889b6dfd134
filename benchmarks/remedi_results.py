"""REMEDI on an embedded model: the CounterFact-style benchmark, a layer sweep, the method table, inspection.

    python benchmarks/remedi_results.py [--model gemma-3-270m] [--layer 1] [--n-train 2000] [--out bench-results/remedi]

Steps run in this order (the report is rewritten after each): data, main editor, table, inspection, sweep.

1. Data: CounterFact-style samples from the 47-relation dataset (``counterfact_from_relations``), kept when the
   model ranks the true object's first token in its top ``--known-top-k`` on the prompt; split 80/10/10 (seeded).
2. Layer sweep (``--sweep-layers``): a linear editor per layer on ``--sweep-train`` samples for ``--sweep-epochs``
   epochs; held-out efficacy and paraphrase efficacy.
3. Main editor at ``--layer`` on up to ``--n-train`` samples (early stopping on the validation split); step time
   and peak memory (CUDA) are recorded.
4. One table on the test split: unedited, prefix, null, identity, random, REMEDI, LRE inverse -- efficacy,
   paraphrase, neighbourhood, fluency, consistency (generations on ``--n-generation`` samples).
5. Inspection: contextual and decontextual accuracy / F1 / MCC at several entity layers, for REMEDI, the identity
   editor, the control task (shuffled labels) and, with ``--control-model``, an editor trained on a randomly
   re-initialised copy of the model.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import torch

import steerlens
from steerlens.artifacts import load_artifact
from steerlens.editors import (
    Editor,
    EditorEdit,
    LreInverseEdit,
    Prefix,
    Replace,
    Unedited,
    counterfact_from_relations,
    evaluate_edits,
    inspect,
    known_splits,
    load_samples,
    make_editor,
    results_table,
    save_samples,
    train_editor,
)
from steerlens.editors.inspect import randomized_copy
from steerlens.editors.train import fit_random_editor


def _peak_rss() -> int | None:
    """Peak resident memory of this process (model included), from /proc or getrusage."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    except (ImportError, OSError):
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--device", default=None)
    ap.add_argument("--out", default="bench-results/remedi")
    ap.add_argument("--known-top-k", type=int, default=3)
    ap.add_argument("--samples", default=None, help="known samples (JSONL from an earlier run) instead of filtering")
    ap.add_argument("--lre-samples", type=int, default=8, help="prompts per relation for the LRE-inverse edit")
    ap.add_argument("--layer", type=int, default=1)
    ap.add_argument(
        "--editor",
        default=None,
        help="evaluate this saved editor (e.g. src/steerlens/data/editors/gemma-3-270m) instead of training one",
    )
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--max-epochs", type=int, default=5)
    ap.add_argument("--patience", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lam-kl", type=float, default=10.0, help="weight of the KL term (REMEDI: 10)")
    ap.add_argument("--sweep-layers", default="0,1,2,4,6,9,12")
    ap.add_argument("--sweep-train", type=int, default=500)
    ap.add_argument("--sweep-epochs", type=int, default=2)
    ap.add_argument("--n-test", type=int, default=300)
    ap.add_argument("--n-generation", type=int, default=60)
    ap.add_argument("--max-new-tokens", type=int, default=30)
    ap.add_argument("--lre-layer", type=int, default=None, help="subject layer of the LRE-inverse edit (default: --layer)")
    ap.add_argument("--entity-layers", default="2,5,8,11,14,17")
    ap.add_argument("--control-model", action="store_true")
    ap.add_argument("--skip", default="", help="comma-separated steps to skip: table, inspect (e.g. to run the sweep alone)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"model": a.model, "settings": vars(a)}

    def dump() -> None:
        (out / "report.json").write_text(json.dumps(report, indent=1))

    model, tok = steerlens.load_model(a.model, device=a.device)
    report["device"] = str(next(model.parameters()).device)
    t = time.perf_counter()
    everything = counterfact_from_relations(tokenizer=tok, seed=a.seed)
    # the split the tour and scripts/train_tour_editor.py use, so a shipped editor (--editor) never saw the test facts
    known_ids = [s.id for s in load_samples(a.samples)] if a.samples else None
    parts = known_splits(model, tok, everything, top_k=a.known_top_k, seed=a.seed, known_ids=known_ids, cache=True)
    known = [s for v in parts.values() for s in v]
    train, val, test = parts["train"][: a.n_train], parts["validation"], parts["test"][: a.n_test]
    save_samples(known, out / "known_samples.jsonl")
    report["data"] = {
        "built": len(everything),
        "known": len(known),
        "train": len(train),
        "validation": len(val),
        "test": len(test),
        "seconds": time.perf_counter() - t,
        "relations": dict(Counter(s.relation for s in known).most_common()),
    }
    how = f"loaded from {a.samples}" if a.samples else f"known (top-{a.known_top_k})"
    report["data"]["known_from"] = how
    print(
        f"samples: built {len(everything)}, {how} {len(known)}; train {len(train)}, validation {len(val)}, test {len(test)}",
        flush=True,
    )
    dump()

    # main editor
    if a.editor:
        editor = Editor.load(a.editor, model=model)
        a.layer = editor.layer
        history = load_artifact(a.editor).config.get("history") or {}
        report["training"] = {"loaded_from": a.editor, "layer": editor.layer, **history}
        print(f"loaded the editor in {a.editor} (layer {editor.layer})", flush=True)
    else:
        r = train_editor(
            model,
            tok,
            train,
            a.layer,
            validation=val,
            max_epochs=a.max_epochs,
            lr=a.lr,
            lam_kl=a.lam_kl,
            patience=a.patience,
            seed=a.seed,
            checkpoint=str(out / f"editor-L{a.layer}"),
        )
        editor = r.editor
        editor.save(out / f"editor-L{a.layer}", model=model, history=r.to_dict())
        report["training"] = r.to_dict()
        report["training"]["peak_rss_bytes"] = _peak_rss()
        print(f"trained layer {a.layer}: best epoch {r.best_epoch}, {r.seconds:.0f}s, step {r.step_seconds:.3f}s", flush=True)
    dump()

    skip = {x for x in a.skip.split(",") if x}
    # the method table
    if "table" not in skip:
        t = time.perf_counter()
        rand = fit_random_editor(model, tok, train[:500], a.layer, seed=a.seed)
        lre_layer = a.lre_layer if a.lre_layer is not None else a.layer
        methods = [
            Unedited(),
            Prefix(),
            Replace(seed=a.seed),
            EditorEdit(make_editor("null", model, a.layer)),
            EditorEdit(make_editor("identity", model, a.layer)),
            EditorEdit(rand),
            EditorEdit(editor),
            LreInverseEdit(train, lre_layer, max_samples=a.lre_samples, seed=a.seed),
        ]
        results = evaluate_edits(
            model, tok, test, methods, n_generation=a.n_generation, max_new_tokens=a.max_new_tokens, seed=a.seed
        )
        table = results_table(results)
        print(table, flush=True)
        (out / "table.txt").write_text(table + "\n")
        report["methods"] = [asdict(x) for x in results]
        report["methods_seconds"] = time.perf_counter() - t
        dump()

    # inspection
    ins: dict = {}
    entity_layers = [int(x) for x in a.entity_layers.split(",") if x] if "inspect" not in skip else []
    controls = [("remedi", editor), ("identity", make_editor("identity", model, a.layer))]
    for el in entity_layers:
        for name, ed in controls:
            for contextual in (True, False):
                res = inspect(model, tok, ed, test, el, contextual=contextual, seed=a.seed)
                ins[f"{name}/{res.setting}/{el}"] = res.to_dict()
                print(
                    f"inspect {name} {res.setting} entity layer {el}: acc {res.accuracy:.3f} mcc {res.mcc:.3f} "
                    f"(control task acc {res.control_accuracy:.3f} mcc {res.control_mcc:.3f}; "
                    f"positives {res.positive_rate:.2f})",
                    flush=True,
                )
        report["inspect"] = ins
        dump()
    if a.control_model and entity_layers:
        rnd = randomized_copy(model, seed=123456)
        rc = train_editor(
            rnd,
            tok,
            train[: a.sweep_train],
            a.layer,
            validation=val[:100],
            max_epochs=a.sweep_epochs,
            lr=a.lr,
            lam_kl=a.lam_kl,
            patience=a.patience,
            seed=a.seed,
            progress=False,
        )
        # an editor that never beat its null start predicts one class everywhere: record which it was
        report["control_model"] = {"best_epoch": rc.best_epoch, "untrained": rc.untrained, "history": rc.history}
        print(f"control model editor: best epoch {rc.best_epoch} (untrained: {rc.untrained})", flush=True)
        for el in entity_layers:
            for contextual in (True, False):
                res = inspect(rnd, tok, rc.editor, test, el, contextual=contextual, seed=a.seed)
                ins[f"control_model/{res.setting}/{el}"] = res.to_dict()
                print(
                    f"inspect control model {res.setting} entity layer {el}: acc {res.accuracy:.3f} mcc {res.mcc:.3f}", flush=True
                )
        report["inspect"] = ins
        dump()

    # layer sweep
    sweep = {}
    for layer in [int(x) for x in a.sweep_layers.split(",") if x]:
        t = time.perf_counter()
        r = train_editor(
            model,
            tok,
            train[: a.sweep_train],
            layer,
            validation=val[:100],
            max_epochs=a.sweep_epochs,
            lr=a.lr,
            lam_kl=a.lam_kl,
            patience=a.patience,
            seed=a.seed,
            progress=False,
        )
        res = evaluate_edits(model, tok, test, [EditorEdit(r.editor)], generation=False, progress=False)[0]
        sweep[layer] = {
            "efficacy": res.efficacy,
            "magnitude": res.efficacy_magnitude,
            "paraphrase": res.paraphrase_efficacy,
            "best_epoch": r.best_epoch,
            "untrained": r.untrained,
            "history": r.history,
            "seconds": time.perf_counter() - t,
        }
        print(
            f"sweep layer {layer}: efficacy {res.efficacy:.3f} paraphrase {res.paraphrase_efficacy:.3f} "
            f"best epoch {r.best_epoch} ({time.perf_counter() - t:.0f}s)",
            flush=True,
        )
        report["sweep"] = sweep
        dump()


if __name__ == "__main__":
    main()
