"""Tuned-lens training and evaluation on an embedded model: speed, and KL per layer vs the logit lens.

    .venv/bin/python benchmarks/bench_lens.py --model smollm2-135m [--text FILE...] [--steps 12]
        [--tokens-per-step 512] [--seq-len 128] [--compute float32 bfloat16] [--out bench-results/lens]

Trains a tuned lens and a bias-only lens and evaluates them with the logit lens on held-out text (the
shipped corpus' training and held-out entries by default; with --text, 85% / 15% of the chunks);
prints tokens/s of training for each compute dtype and KL to the final distribution per layer in
bits per byte, and writes results.json and kl.png under --out. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import steerlens
from steerlens.lens import JacobianLens, LogitLens
from steerlens.lens.data import chunk_texts, default_corpus, read_texts
from steerlens.lens.evaluate import evaluate_lenses, layer_transfer, plot_evaluation
from steerlens.lens.train import LensTrainConfig, train_tuned_lens


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--text", nargs="+", help="text files (default: the shipped corpus, split by entry)")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--tokens-per-step", type=int, default=512)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--micro-batch", type=int, default=4)
    p.add_argument("--compute", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"])
    p.add_argument("--held-out-chunks", type=int, default=16)
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--skip-bias-only", action="store_true")
    p.add_argument(
        "--validation-chunks",
        type=int,
        default=0,
        help="hold out this many training chunks for per-layer early stopping (0: off)",
    )
    p.add_argument("--eval-every", type=int, default=None)
    p.add_argument("--lr-scale", type=float, default=1.0)
    p.add_argument("--backoff", type=float, default=0.5, help="per-layer learning-rate backoff (with validation)")
    p.add_argument(
        "--bias-only-lr-scale",
        type=float,
        help="learning-rate scale of the bias-only lens (default: --lr-scale); Adam moves each entry by about "
        "1e-3 x this per step, so a residual stream of scale 1e3-1e4 (Gemma) needs a far larger one",
    )
    p.add_argument("--jacobian-texts", type=int, default=0, help="fit a Jacobian lens on this many training texts (0: off)")
    p.add_argument("--jacobian-samples", type=int, default=4, help="random vectors per text of the Jacobian lens")
    p.add_argument("--transfer-chunks", type=int, default=0, help="held-out chunks for the layer-transfer matrix (0: off)")
    p.add_argument("--transfer-layers", help="comma-separated lens indices of the transfer matrix (default: all)")
    p.add_argument("--jacobian-reduction", choices=["position", "future"], default="position")
    p.add_argument("--jacobian-skip-first", type=int, default=0)
    p.add_argument("--jacobian-exact", action="store_true", help="one-hot vectors (d backward passes per text with 'future')")
    p.add_argument("--jacobian-tokens", type=int, default=None, help="tokens per Jacobian text (default: --seq-len)")
    p.add_argument("--tuned-lens", metavar="DIR", help="evaluate this saved tuned lens instead of training one")
    p.add_argument("--no-tuned", action="store_true", help="no tuned lens (e.g. to evaluate a Jacobian lens alone)")
    p.add_argument("--save-lens", metavar="DIR", help="save the trained tuned lens (the last --compute) here")
    p.add_argument("--out", default="bench-results/lens")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model, tok = steerlens.load_model(a.model)
    if a.text:
        train, held = chunk_texts(tok, read_texts(a.text), a.seq_len).split(0.15)
    else:
        train = chunk_texts(tok, default_corpus("train"), a.seq_len)
        held = chunk_texts(tok, default_corpus("test"), a.seq_len)
    held = type(held)(
        held.ids[: a.held_out_chunks],
        max(1, round(held.n_bytes * min(1, a.held_out_chunks / len(held.ids)))),
        held.ids[: a.held_out_chunks].numel(),
    )
    val = None
    if a.validation_chunks:
        train, val = train.split(a.validation_chunks / train.ids.shape[0], seed=1)
    print(f"{a.model}: {train.ids.shape[0]} training chunks, {held.ids.shape[0]} held-out chunks of {a.seq_len} tokens")
    lenses, speed = {"logit": LogitLens.from_model(model)}, {}
    for cd in [] if (a.tuned_lens or a.no_tuned) else a.compute:
        cfg = LensTrainConfig(
            steps=a.steps,
            tokens_per_step=a.tokens_per_step,
            micro_batch=a.micro_batch,
            compute_dtype=cd,
            optimizer=a.optimizer,
            lr_scale=a.lr_scale,
            backoff=a.backoff,
        )
        t0 = time.perf_counter()
        lens, hist = train_tuned_lens(model, train, cfg, validation=val, eval_every=a.eval_every)
        dt = time.perf_counter() - t0
        speed[cd] = {
            "seconds": dt,
            "tokens_per_s": a.steps * a.tokens_per_step / dt,
            "kl_first": hist.kl[0],
            "kl_last": hist.kl[-1],
            "val_step": hist.val_step,
            "val_kl": hist.val_kl,
            "best_step": hist.best_step,
            "lr_mult": hist.lr_mult,
        }
        if hist.best_step:
            print(f"  per-layer best validation step: {hist.best_step}; lr multipliers: {hist.lr_mult}")
        print(
            f"train ({cd} matmuls): {dt:.1f} s, {speed[cd]['tokens_per_s']:.1f} tokens/s, "
            f"mean KL {hist.kl[0]:.3f} -> {hist.kl[-1]:.3f} nats/token"
        )
        lenses[f"tuned ({cd})"] = lens
        if a.save_lens:
            lens.save(a.save_lens)
    if a.tuned_lens:
        from steerlens.lens import TunedLens

        lenses["tuned (loaded)"] = TunedLens.load(a.tuned_lens, model)
    if not (a.skip_bias_only or a.no_tuned):
        cfg = LensTrainConfig(
            steps=a.steps,
            tokens_per_step=a.tokens_per_step,
            micro_batch=a.micro_batch,
            mode="bias_only",
            compute_dtype=a.compute[-1],
            optimizer=a.optimizer,
            lr_scale=a.bias_only_lr_scale if a.bias_only_lr_scale is not None else a.lr_scale,
            backoff=a.backoff,
        )
        lenses["bias-only"], _ = train_tuned_lens(model, train, cfg, validation=val, eval_every=a.eval_every)
    if a.jacobian_texts:
        texts = read_texts(a.text) if a.text else default_corpus("train")
        t0 = time.perf_counter()
        lenses["jacobian"] = JacobianLens.fit(
            model,
            tok,
            texts[: a.jacobian_texts],
            samples=a.jacobian_samples,
            max_tokens=a.jacobian_tokens or a.seq_len,
            exact=a.jacobian_exact,
            reduction=a.jacobian_reduction,
            skip_first=a.jacobian_skip_first,
        )
        speed["jacobian_fit_seconds"] = time.perf_counter() - t0
        print(f"Jacobian lens: {a.jacobian_texts} texts x {a.jacobian_samples} samples in {speed['jacobian_fit_seconds']:.1f} s")
    res = evaluate_lenses(model, held, lenses)
    print("KL to the final distribution on held-out text, bits per byte, by lens index:")
    for name, st in res["lenses"].items():
        print(f"  {name:>18}: " + " ".join(f"{v:.2f}" for v in st["kl"]))
    for name in res["lenses"]:
        if name.startswith("tuned"):
            below = sum(t < lg for t, lg in zip(res["lenses"][name]["kl"], res["lenses"]["logit"]["kl"]))
            print(f"  {name} below the logit lens at {below}/{len(res['lenses'][name]['kl'])} layers")
    transfer = None
    if a.transfer_chunks:
        tuned = lenses["tuned (loaded)"] if a.tuned_lens else lenses[f"tuned ({a.compute[-1]})"]
        layers = [int(x) for x in a.transfer_layers.split(",")] if a.transfer_layers else list(range(tuned.n_layers))
        sub = type(held)(
            held.ids[: a.transfer_chunks],
            max(1, round(held.n_bytes * min(1, a.transfer_chunks / len(held.ids)))),
            held.ids[: a.transfer_chunks].numel(),
        )
        t0 = time.perf_counter()
        matrix = layer_transfer(model, sub, tuned, layers=layers)
        transfer = {"layers": layers, "kl": matrix, "seconds": time.perf_counter() - t0}
        print("layer transfer (rows: translator, columns: layer it is applied to; KL bits per byte):")
        print("      " + " ".join(f"{j:>6}" for j in layers))
        for i, row in zip(layers, matrix):
            print(f"{i:>5} " + " ".join(f"{v:6.2f}" for v in row))
        own = [matrix[k][k] for k in range(len(layers))]
        best_other = [
            min(v for c, v in enumerate(matrix[r]) if c != r) if len(layers) > 1 else float("nan") for r in range(len(layers))
        ]
        print(
            "diagonal (own layer) vs best other layer per translator: "
            + " ".join(f"{o:.2f}/{b:.2f}" for o, b in zip(own, best_other))
        )
    (out / "results.json").write_text(
        json.dumps({"speed": speed, "evaluation": res, "transfer": transfer, "args": vars(a)}, indent=1)
    )
    plot_evaluation(res, out / "kl.png")
    print(f"wrote {out / 'results.json'} and {out / 'kl.png'}")


if __name__ == "__main__":
    main()
