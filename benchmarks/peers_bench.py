"""Peers for ``steerlens bench``: steering-vectors 0.12.2 and repeng 0.4.0 fit their own vectors on the bench's
training pairs, and steerlens scores them on the same held-out items as its own writers.

Runs in the bench virtualenv (.bench-venv: transformers 4.57, steering-vectors, repeng; no steerlens):

    .bench-venv/bin/python benchmarks/peers_bench.py --pairs PAIRS.json --out DIRECTIONS.safetensors

``PAIRS.json`` is written by ``steerlens bench --export-pairs`` (the model folder, the site's layer and every
concept's training pairs). Both peers read the output of block ``layer`` (steerlens' ``resid_post.layer``):

* steering-vectors: ``train_steering_vector(model, tok, pairs, layers=[layer], layer_type="decoder_block",
  read_token_index=-1)``, its default aggregator (mean of the differences);
* repeng: ``ControlVector.train(model, tok, dataset, hidden_layers=[layer], method="pca_diff")`` (repeng reads
  ``hidden_states[layer + 1]``, the output of block ``layer``, at each text's last token).

The output holds one ``[d_model]`` direction per ``concept/library``; ``run_bench_peers.sh`` runs it all.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from peers_capture import load  # noqa: E402  (loads the folder with a transformers-4 config)

if not hasattr(np, "float_"):
    np.float_ = np.float64  # type: ignore[attr-defined]  # repeng 0.4.0 still names it (see peers_steering.py)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    inputs = json.loads(Path(a.pairs).read_text())
    model, tok, _ = load(inputs)
    layer = int(inputs["layer"])

    import repeng
    import steering_vectors as sv
    from safetensors.torch import save_file

    out: dict[str, torch.Tensor] = {}
    for concept, pairs in inputs["pairs"].items():
        pairs = [tuple(p) for p in pairs]
        vec = sv.train_steering_vector(
            model, tok, pairs, layers=[layer], layer_type="decoder_block", read_token_index=-1, show_progress=False
        )
        out[f"{concept}/steering-vectors"] = vec.layer_activations[layer].detach().float().contiguous()
        if tok.pad_token_id is None:
            tok.pad_token_id = 0
        data = [repeng.DatasetEntry(positive=p, negative=n) for p, n in pairs]
        cv = repeng.ControlVector.train(model, tok, data, hidden_layers=[layer], method="pca_diff", batch_size=8)
        out[f"{concept}/repeng"] = torch.from_numpy(np.asarray(cv.directions[layer], dtype=np.float32)).contiguous()
        print(f"[peers] {concept}: {len(pairs)} pairs", flush=True)
    save_file(out, a.out)
    print(f"[peers] wrote {a.out}: {', '.join(out)}", flush=True)


if __name__ == "__main__":
    main()
