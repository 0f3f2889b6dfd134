"""``steerlens lens``: read a text through the logit or a tuned lens; train and evaluate tuned lenses."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["add_parsers", "run_lens", "run_train", "run_eval"]


def add_parsers(sub: argparse._SubParsersAction, default_model: str) -> None:
    """Register ``lens``, ``lens train`` and ``lens eval`` (the latter two as ``lens-train``/``lens-eval``)."""
    p = sub.add_parser(
        "lens",
        help="logit/tuned lens of a text (also: 'lens train', 'lens eval')",
        description="Decode every layer at the last position of TEXT. Also: "
        "'steerlens lens train --help', 'steerlens lens eval --help'.",
    )
    p.add_argument("text", help="the text to read")
    p.add_argument("--model", default=default_model, help=f"embedded model name or local folder (default {default_model})")
    p.add_argument("--tuned", metavar="PATH", help="a tuned lens (steerlens artifact or tuned-lens package folder)")
    p.add_argument("--top-k", type=int, default=5, help="tokens to show per layer (default 5)")
    p.add_argument("--trajectory", action="store_true", help="print the top-1 token for every layer and position")
    p.add_argument("--plot", metavar="OUT", help="save the prediction trajectory: .png (matplotlib) or .html (interactive)")
    p.add_argument(
        "--statistic",
        default="entropy",
        choices=["entropy", "kl_to_final", "top_prob", "target_log_prob", "target_rank"],
        help="colour of the trajectory plot (default entropy)",
    )
    p.add_argument("--target", help="a single token whose log-prob/rank the trajectory tracks (default: the next token)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    t = sub.add_parser("lens-train", help=argparse.SUPPRESS, description="Train a tuned lens on local text files.")
    t.add_argument(
        "--text",
        nargs="+",
        metavar="FILE",
        help="UTF-8 text files (default: the shipped corpus, The Devil's Dictionary, training part)",
    )
    t.add_argument("--out", required=True, help="output folder (lens artifact, history.json, checkpoints)")
    t.add_argument("--model", default=default_model)
    t.add_argument("--steps", type=int, default=100)
    t.add_argument("--tokens-per-step", type=int, default=4096)
    t.add_argument("--seq-len", type=int, default=256)
    t.add_argument("--micro-batch", type=int, default=2)
    t.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    t.add_argument("--lr-scale", type=float, default=1.0)
    t.add_argument("--warmup-steps", type=int)
    t.add_argument("--bias-only", action="store_true", help="train only the translators' biases")
    t.add_argument("--no-bias", action="store_true", help="linear translators without bias")
    t.add_argument("--checkpoint-every", type=int, default=0)
    t.add_argument(
        "--validation-chunks",
        type=int,
        default=0,
        metavar="N",
        help="hold out N training chunks; each layer keeps the translator of its best validation KL",
    )
    t.add_argument("--eval-every", type=int, default=None, help="steps between validation measurements")
    t.add_argument(
        "--backoff",
        type=float,
        default=0.5,
        help="with validation: a layer that got worse returns to its best translator and its "
        "learning rate is multiplied by this (1: keep the best only)",
    )
    t.add_argument("--target-dtype", choices=["float32", "bfloat16"], default="float32")
    t.add_argument(
        "--compute-dtype",
        choices=["float32", "bfloat16"],
        default="float32",
        help="dtype of the vocabulary matmuls (bfloat16: faster on CPUs with AVX512-BF16)",
    )

    e = sub.add_parser(
        "lens-eval",
        help=argparse.SUPPRESS,
        description="Evaluate the logit lens (and a tuned lens) on held-out text, in bits per byte.",
    )
    e.add_argument("--text", nargs="+", metavar="FILE", help="UTF-8 text files (default: the shipped corpus' held-out part)")
    e.add_argument("--model", default=default_model)
    e.add_argument("--tuned", metavar="PATH", help="a tuned lens to evaluate beside the logit lens")
    e.add_argument("--seq-len", type=int, default=256)
    e.add_argument("--max-chunks", type=int, help="evaluate at most this many chunks")
    e.add_argument("--transfer", action="store_true", help="also compute the tuned lens' layer-transfer matrix")
    e.add_argument("--out", help="write the results as JSON here")
    e.add_argument("--plot", help="plot KL per layer here (.png)")


def _load_lens(path: str, model):
    from ..lens import TunedLens

    return TunedLens.load(path, model)


def run_lens(args: argparse.Namespace) -> int:
    """``steerlens lens TEXT``."""
    from rich.console import Console
    from rich.table import Table

    from ..lens.trajectory import prediction_trajectory
    from ..loading import load_model

    if args.top_k < 1:
        raise SystemExit("steerlens lens: --top-k must be >= 1")
    model, tokenizer = load_model(args.model)
    lens = _load_lens(args.tuned, model) if args.tuned else None
    traj = prediction_trajectory(model, tokenizer, args.text, lens=lens, target=args.target or "next", top_k=args.top_k)
    if args.plot:
        print(f"wrote {traj.plot(args.plot, args.statistic)}", file=sys.stderr)
    if args.json:
        print(json.dumps(traj.to_dict(), ensure_ascii=False))
        return 0
    console = Console()
    if args.trajectory:
        console.print(traj.table())
        return 0
    table = Table(title=f"{traj.lens} lens, last position of {args.text!r} ({args.model})")
    table.add_column("layer", justify="right")
    table.add_column("top token")
    table.add_column("p", justify="right")
    table.add_column(f"next {args.top_k - 1}")
    for r, label in enumerate(traj.rows):
        toks, probs = traj.top_tokens[r][-1], traj.top_probs[r][-1]
        table.add_row(label, repr(toks[0]), f"{probs[0]:.3f}", "  ".join(f"{t!r} {p:.2f}" for t, p in zip(toks[1:], probs[1:])))
    console.print(table)
    return 0


def run_train(args: argparse.Namespace) -> int:
    """``steerlens lens train``."""
    from ..lens.data import CorpusError, chunk_texts, default_corpus, read_texts
    from ..lens.train import LensTrainConfig, train_tuned_lens
    from ..loading import load_model

    model, tokenizer = load_model(args.model)
    texts = read_texts(args.text) if args.text else default_corpus("train")
    chunks = chunk_texts(tokenizer, texts, args.seq_len)
    cfg = LensTrainConfig(
        steps=args.steps,
        tokens_per_step=args.tokens_per_step,
        micro_batch=args.micro_batch,
        optimizer=args.optimizer,
        lr_scale=args.lr_scale,
        warmup_steps=args.warmup_steps,
        mode="bias_only" if args.bias_only else "affine",
        bias=not args.no_bias,
        checkpoint_every=args.checkpoint_every,
        target_dtype=args.target_dtype,
        compute_dtype=args.compute_dtype,
        backoff=args.backoff,
    )
    val = None
    if args.validation_chunks:
        if args.validation_chunks < 0:
            raise CorpusError(f"--validation-chunks must be positive, got {args.validation_chunks}.")
        chunks, val = chunks.split(args.validation_chunks / chunks.ids.shape[0])
    _, hist = train_tuned_lens(model, chunks, cfg, out=args.out, validation=val, eval_every=args.eval_every)
    print(f"trained {len(hist.step)} steps, final KL {hist.kl[-1]:.4f} nats/token; saved to {args.out}", file=sys.stderr)
    if hist.best_step:
        kept = ", ".join(f"{i}:{s}" for i, s in enumerate(hist.best_step))
        print(f"per-layer best validation step (layer:step, 0 = logit lens kept): {kept}", file=sys.stderr)
        slowed = ", ".join(f"{i}:{m:g}" for i, m in enumerate(hist.lr_mult) if m != 1)
        if slowed:
            print(f"learning rate backed off (layer:multiplier): {slowed}", file=sys.stderr)
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """``steerlens lens eval``."""
    from ..lens import LogitLens
    from ..lens.data import chunk_texts, default_corpus, read_texts
    from ..lens.evaluate import evaluate_lenses, layer_transfer, plot_evaluation
    from ..loading import load_model

    model, tokenizer = load_model(args.model)
    texts = read_texts(args.text) if args.text else default_corpus("test")
    chunks = chunk_texts(tokenizer, texts, args.seq_len, max_chunks=args.max_chunks)
    lenses = {"logit": LogitLens.from_model(model)}
    if args.tuned:
        lenses["tuned"] = _load_lens(args.tuned, model)
    result = evaluate_lenses(model, chunks, lenses)
    if args.transfer and args.tuned:
        result["layer_transfer_kl"] = layer_transfer(model, chunks, lenses["tuned"])
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text)
    if args.plot:
        plot_evaluation(result, args.plot)
    print(text)
    return 0
