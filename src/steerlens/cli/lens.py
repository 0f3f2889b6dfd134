"""``steerlens lens``: read a text through the logit or a tuned lens; train and evaluate tuned lenses."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parsers", "run_lens", "run_train", "run_eval"]


_TRAIN_HELP = {
    "steps": "optimiser steps",
    "tokens_per_step": "tokens per optimiser step (a multiple of --seq-len)",
    "micro_batch": "chunks per frozen forward pass (gradients accumulate over micro-batches)",
    "optimizer": "optimiser of the translators",
    "lr_scale": "learning-rate scale: SGD lr = scale * (1 - momentum), Adam lr = 1e-3 * scale",
    "momentum": "SGD momentum (Nesterov)",
    "weight_decay": "weight decay, pulling every translator towards the identity",
    "warmup_steps": "linear warm-up steps (default: 0 for SGD, min(1000, steps // 5) for Adam)",
    "clip_norm": "gradient-norm clip",
    "mode": "train full affine translators, or only their biases",
    "bias": "translators with a bias",
    "vocab_chunk": "vocabulary entries per step of the chunked KL (memory: layers x tokens x chunk floats)",
    "target_dtype": "storage of the final log-probs (bfloat16 halves their memory)",
    "compute_dtype": "dtype of the vocabulary matmuls (bfloat16: faster on CPUs with AVX512-BF16)",
    "seed": "seed of the chunk order",
    "checkpoint_every": "save a resumable checkpoint every this many steps (0: never)",
    "backoff": "with validation: a layer that got worse returns to its best translator and its learning rate is "
    "multiplied by this (1: only keep each layer's best)",
}


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``lens read``, ``lens train`` and ``lens eval``."""
    from ..lens.evaluate import evaluate_lenses
    from ..lens.train import LensTrainConfig
    from ..lens.trajectory import prediction_trajectory
    from .common import add_command, add_dataclass, add_group, add_model, default_of

    g = add_group(sub, "lens", "logit and tuned lenses: read a text, train a tuned lens, evaluate lenses")
    p = add_command(
        g,
        "read",
        "lens:run_lens",
        "decode every layer of a text through the logit lens (or a tuned lens)",
        "Decode every layer at the last position of TEXT (and, with --trajectory or --plot, at every position).",
    )
    p.add_argument("text", help="the text to read")
    add_model(p)
    p.add_argument("--tuned", metavar="PATH", help="a tuned lens (steerlens artifact or tuned-lens package folder)")
    p.add_argument("--top-k", type=int, default=default_of(prediction_trajectory, "top_k"), help="tokens to show per layer")
    p.add_argument("--trajectory", action="store_true", help="print the top-1 token for every layer and position")
    p.add_argument("--plot", metavar="OUT", help="save the prediction trajectory: .png (matplotlib) or .html (interactive)")
    p.add_argument(
        "--statistic",
        default="entropy",
        choices=["entropy", "kl_to_final", "top_prob", "target_log_prob", "target_rank"],
        help="colour of the trajectory plot",
    )
    p.add_argument("--target", help="a single token whose log-prob/rank the trajectory tracks (default: the next token)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    t = add_command(
        g,
        "train",
        "lens:run_train",
        "train a tuned lens",
        "Train a tuned lens (one affine translator per layer) on local text files. The defaults are the recipe that "
        "works on a CPU: Adam, per-layer validation with backoff.",
    )
    t.add_argument("--text", nargs="+", metavar="FILE", help="UTF-8 text files (default: the shipped corpus' training part)")
    t.add_argument("--out", required=True, help="output folder (lens artifact, history.json, checkpoints)")
    add_model(t)
    t.add_argument("--seq-len", type=int, default=256, help="tokens per training chunk")
    add_dataclass(t, LensTrainConfig, _TRAIN_HELP)
    t.add_argument(
        "--validation-chunks",
        type=int,
        default=4,
        metavar="N",
        help="hold out N training chunks; each layer keeps the translator of its best validation KL (0: no validation)",
    )
    t.add_argument("--eval-every", type=int, default=2, help="steps between validation measurements")
    t.add_argument(
        "--store",
        metavar="DIR",
        help="train from an activation store ('steerlens capture ... --sites resid_pre.all,resid_post.LAST') instead of "
        "running the model on text; --seq-len is then the tokens per training row",
    )
    t.add_argument(
        "--shard",
        action="store_true",
        help="under torchrun: shard the model's blocks over the ranks with FSDP (a frozen model too large for one device)",
    )
    t.add_argument(
        "--validation-store", metavar="DIR", help="with --store: a store of held-out text for validation (default: none)"
    )

    e = add_command(
        g,
        "eval",
        "lens:run_eval",
        "evaluate lenses on held-out text",
        "Evaluate the logit lens (and a tuned lens) on held-out text: KL to the final distribution and "
        "cross-entropy (and, with --entropy, entropy), in bits per byte.",
    )
    e.add_argument("--text", nargs="+", metavar="FILE", help="UTF-8 text files (default: the shipped corpus' held-out part)")
    add_model(e)
    e.add_argument("--tuned", metavar="PATH", help="a tuned lens to evaluate beside the logit lens")
    e.add_argument("--jacobian", metavar="PATH", help="a Jacobian lens (from 'lens jacobian') to evaluate beside them")
    e.add_argument("--seq-len", type=int, default=256, help="tokens per chunk")
    e.add_argument("--max-chunks", type=int, help="evaluate at most this many chunks (default: all)")
    e.add_argument("--micro-batch", type=int, default=default_of(evaluate_lenses, "micro_batch"), help="chunks per forward pass")
    e.add_argument("--entropy", action="store_true", help="also the entropy of each lens' distribution (slower)")
    e.add_argument(
        "--vocab-dtype",
        choices=["float32", "bfloat16"],
        default="float32",
        help="dtype of the vocabulary matmuls (bfloat16 pays off only on hardware with bf16 units)",
    )
    e.add_argument("--transfer", action="store_true", help="also compute the tuned lens' layer-transfer matrix")
    e.add_argument("--out", help="write the results as JSON here")
    e.add_argument("--plot", help="plot KL per layer here (.png)")

    ps = add_command(
        g,
        "patchscope",
        "lens:run_patchscope",
        "token-identity patchscope vs the logit lens, per layer",
        "The Patchscopes paper's next-token decoding experiment: for random prefixes of held-out text, patch each "
        "layer's last-token state into the token-identity prompt and check whether the model then predicts its own "
        "final next token (precision@1), next to the logit lens at the same state.",
    )
    ps.add_argument("--text", nargs="+", metavar="FILE", help="UTF-8 text files (default: the shipped corpus' held-out part)")
    add_model(ps)
    ps.add_argument("--positions", type=int, default=100, help="random prefixes to decode")
    ps.add_argument("--layers", help="lens indices, e.g. '0-5,8' (default: all)")
    ps.add_argument("--seed", type=int, default=0, help="seed of the prefix draw")
    ps.add_argument("--out", help="write the result as JSON here")

    jl = add_command(
        g,
        "jacobian",
        "lens:run_jacobian",
        "fit a Jacobian lens",
        "Fit a Jacobian lens: each layer's residual mapped to the last layer by its average same-position Jacobian "
        "(one backward pass per random vector; unbiased). Evaluate it with 'steerlens lens eval --jacobian DIR'.",
    )
    jl.add_argument("--text", nargs="+", metavar="FILE", help="UTF-8 text files (default: the shipped corpus' training part)")
    add_model(jl)
    jl.add_argument("--out", required=True, help="output folder (a steerlens artifact)")
    jl.add_argument("--texts", type=int, default=32, help="texts (corpus entries) to average over")
    jl.add_argument("--samples", type=int, default=4, help="random vectors per text")
    jl.add_argument("--max-tokens", type=int, default=128, help="tokens per text")
    jl.add_argument("--seed", type=int, default=0, help="seed of the random vectors")
    jl.add_argument(
        "--reduction",
        choices=["position", "future"],
        default="position",
        help="each token's own Jacobian, or the Jacobians to all later tokens summed (the reference jlens estimator)",
    )
    jl.add_argument("--skip-first", type=int, default=0, help="tokens at the start of each text left out (the reference: 16)")
    jl.add_argument(
        "--import",
        dest="import_file",
        metavar="FILE",
        help="convert a reference jlens file (*_jacobian_lens.pt) to a steerlens artifact instead of fitting",
    )
    jl.add_argument(
        "--anchor",
        choices=["resid_post", "resid_pre"],
        default="resid_post",
        help="with --import: the point the file's layer l reads (the published lenses: block outputs)",
    )


def _load_lens(path: str, model):
    from ..lens import TunedLens

    return TunedLens.load(path, model)


def run_lens(args: argparse.Namespace) -> int:
    """``steerlens lens read TEXT``."""
    from rich.console import Console
    from rich.table import Table

    from ..lens.trajectory import prediction_trajectory
    from ..loading import load_model

    if args.top_k < 1:
        from ..errors import DataFormatError

        raise DataFormatError(f"--top-k must be >= 1, got {args.top_k}.")
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
    """``steerlens lens train`` (also under ``torchrun -m steerlens lens train``: each rank a share of every step)."""
    from ..distributed import init_from_env
    from ..lens.data import CorpusError, chunk_texts, default_corpus, read_texts
    from ..lens.train import LensTrainConfig, train_tuned_lens
    from ..loading import load_model
    from .common import dataclass_values

    init_from_env()
    model, tokenizer = load_model(args.model)
    if args.shard:
        from ..distributed import shard_model

        shard_model(model)
    cfg = dataclass_values(args, LensTrainConfig)
    if args.store:
        from ..store import ActivationStore

        if args.text:
            raise CorpusError("Give --store or --text, not both: with a store, the training tokens are the store's.")
        val_store = ActivationStore(args.validation_store) if args.validation_store else None
        if val_store is None:
            print("no --validation-store: training without per-layer validation", file=sys.stderr)
        _, hist = train_tuned_lens(
            model,
            ActivationStore(args.store),
            cfg,
            out=args.out,
            validation=val_store,
            eval_every=args.eval_every,
            row_tokens=args.seq_len,
        )
        _report(hist, args.out)
        return 0
    texts = read_texts(args.text) if args.text else default_corpus("train")
    chunks = chunk_texts(tokenizer, texts, args.seq_len)
    val = None
    if args.validation_chunks:
        if args.validation_chunks < 0 or args.validation_chunks >= chunks.ids.shape[0]:
            raise CorpusError(
                f"--validation-chunks must be between 0 and the {chunks.ids.shape[0]} chunks of the text minus one, got "
                f"{args.validation_chunks}."
            )
        chunks, val = chunks.split(args.validation_chunks / chunks.ids.shape[0])
    _, hist = train_tuned_lens(model, chunks, cfg, out=args.out, validation=val, eval_every=args.eval_every)
    _report(hist, args.out)
    return 0


def _report(hist: Any, out: str) -> None:
    from ..distributed import is_main

    if not is_main():
        return
    print(f"trained {len(hist.step)} steps, final KL {hist.kl[-1]:.4f} nats/token; saved to {out}", file=sys.stderr)
    if hist.best_step:
        kept = ", ".join(f"{i}:{s}" for i, s in enumerate(hist.best_step))
        print(f"per-layer best validation step (layer:step, 0 = logit lens kept): {kept}", file=sys.stderr)
        slowed = ", ".join(f"{i}:{m:g}" for i, m in enumerate(hist.lr_mult) if m != 1)
        if slowed:
            print(f"learning rate backed off (layer:multiplier): {slowed}", file=sys.stderr)


def run_eval(args: argparse.Namespace) -> int:
    """``steerlens lens eval``."""
    from ..lens import Lens, LogitLens
    from ..lens.data import chunk_texts, default_corpus, read_texts
    from ..lens.evaluate import evaluate_lenses, layer_transfer, plot_evaluation
    from ..loading import load_model

    model, tokenizer = load_model(args.model)
    texts = read_texts(args.text) if args.text else default_corpus("test")
    chunks = chunk_texts(tokenizer, texts, args.seq_len, max_chunks=args.max_chunks)
    lenses: dict[str, Lens] = {"logit": LogitLens.from_model(model)}
    if args.tuned:
        lenses["tuned"] = _load_lens(args.tuned, model)
    if args.jacobian:
        from ..lens import JacobianLens

        lenses["jacobian"] = JacobianLens.load(args.jacobian, model)
    import torch

    result = evaluate_lenses(
        model,
        chunks,
        lenses,
        micro_batch=args.micro_batch,
        entropy=args.entropy,
        compute_dtype=getattr(torch, args.vocab_dtype),
    )
    if args.transfer and args.tuned:
        result["layer_transfer_kl"] = layer_transfer(model, chunks, lenses["tuned"])
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text)
    if args.plot:
        plot_evaluation(result, args.plot)
    print(text)
    return 0


def run_patchscope(args: argparse.Namespace) -> int:
    """``steerlens lens patchscope``."""
    from ..lens.data import default_corpus, read_texts
    from ..lens.patchscope import token_identity_precision
    from ..loading import load_model
    from .common import model_sites

    model, tokenizer = load_model(args.model)
    texts = read_texts(args.text) if args.text else default_corpus("test")
    layers = [s.layer for s in model_sites(args.layers, model)] if args.layers else None
    res = token_identity_precision(model, tokenizer, texts, layers=layers, n_positions=args.positions, seed=args.seed)
    if args.out:
        res.save_json(args.out)
    print(f"token identity, precision@1 over {res.n} held-out prefixes ({args.model}):")
    print(res.table())
    return 0


def run_jacobian(args: argparse.Namespace) -> int:
    """``steerlens lens jacobian``."""
    from ..lens import JacobianLens
    from ..lens.data import default_corpus, read_texts
    from ..loading import load_model

    model, tokenizer = load_model(args.model)
    if args.import_file:
        lens = JacobianLens.from_jlens(args.import_file, model, point=args.anchor)
        fitted = [i for i in range(lens.n_layers) if float(lens.tokens[i]) > 0]
        print(f"wrote {lens.save(args.out)} (imported {len(fitted)} layers: lens indices {fitted})")
        return 0
    texts = (read_texts(args.text) if args.text else default_corpus("train"))[: args.texts]
    lens = JacobianLens.fit(
        model,
        tokenizer,
        texts,
        samples=args.samples,
        max_tokens=args.max_tokens,
        seed=args.seed,
        reduction=args.reduction,
        skip_first=args.skip_first,
    )
    print(f"wrote {lens.save(args.out)} ({int(lens.tokens[0])} tokens, {args.samples} samples per text)")
    return 0
