"""REMEDI as a probe on facts the model does and does not know (the inspect use), with controls.

    python benchmarks/remedi_inspect.py [--editor src/steerlens/data/editors/gemma-3-270m] [--n 300]
        [--entity-layers 3,6,9,12,15] [--out bench-results/remedi-inspect]

``remedi_results.py`` inspects on known facts only, where the decontextual label (does the model prefer
the true object over the new one?) is always yes and MCC is 0 by construction. Here the samples are the
first ``--n`` facts of the *test* split of every fact (``counterfact_from_relations`` seed 0, split
80/10/10 as the tour and ``scripts/train_tour_editor.py`` split them, so a shipped editor never saw
them), known or not. For each entity layer: accuracy, F1 and MCC of the editor, of the identity
editor, and of the editor on the control task (shuffled labels); ``report.json`` has everything.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import steerlens
from steerlens.editors import Editor, counterfact_from_relations, inspect, make_editor, split_samples

DEFAULT_EDITOR = Path(__file__).resolve().parent.parent / "src" / "steerlens" / "data" / "editors" / "gemma-3-270m"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--editor", default=str(DEFAULT_EDITOR))
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--entity-layers", default="3,6,9,12,15")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench-results/remedi-inspect")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model, tok = steerlens.load_model(a.model)
    editor = Editor.load(a.editor, model=model)
    test = split_samples(counterfact_from_relations(tokenizer=tok, seed=a.seed), (0.8, 0.1, 0.1), seed=a.seed)["test"]
    test = test[: a.n]
    report: dict = {"model": a.model, "editor": a.editor, "editor_layer": editor.layer, "n": len(test), "results": {}}
    editors = {"remedi": editor, "identity": make_editor("identity", model, editor.layer)}
    t0 = time.perf_counter()
    for el in [int(x) for x in a.entity_layers.split(",") if x]:
        for name, ed in editors.items():
            for contextual in (True, False):
                r = inspect(model, tok, ed, test, el, contextual=contextual, seed=a.seed)
                report["results"][f"{name}/{r.setting}/{el}"] = r.to_dict()
                print(
                    f"{name:8} {r.setting:13} entity layer {el:2}: acc {r.accuracy:.3f} F1 {r.f1:.3f} "
                    f"MCC {r.mcc:+.3f} | control task acc {r.control_accuracy:.3f} MCC {r.control_mcc:+.3f} "
                    f"(positives {r.positive_rate:.2f})",
                    flush=True,
                )
        (out / "report.json").write_text(json.dumps({**report, "seconds": time.perf_counter() - t0}, indent=1))


if __name__ == "__main__":
    main()
