"""``steerlens capture``: residuals over a text dataset into an on-disk activation store (resumable, ``torchrun``-shardable)."""

from __future__ import annotations

import argparse

__all__ = ["add_parsers", "run_capture"]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``capture``."""
    from ..store import capture_to_store
    from .common import add_command, add_model, default_of

    p = add_command(
        sub,
        "capture",
        "capture:run_capture",
        "capture activations over a text dataset into a store of safetensors shards",
        "Run the model over every text of DATA and stream the activations at --sites to safetensors shards in OUT, "
        "with a manifest. Run the same command again to resume an interrupted capture. Under "
        "'torchrun --nproc-per-node N -m steerlens capture ...' each rank takes every N-th batch and writes its own shards.",
    )
    p.add_argument("data", help="a .txt file (one text per line), a .jsonl file, or a saved Hugging Face dataset folder")
    p.add_argument("--out", required=True, help="the store folder (created; an unfinished one is resumed)")
    p.add_argument("--sites", required=True, help="sites to capture, e.g. 4,8,resid_pre.6 or resid_post.all")
    add_model(p)
    p.add_argument("--text-field", default="text", help="the text's field in a .jsonl file or dataset")
    p.add_argument(
        "--positions",
        choices=["all", "last"],
        default=default_of(capture_to_store, "positions"),
        help="store every token, or only each text's last token",
    )
    p.add_argument("--batch-size", type=int, default=default_of(capture_to_store, "batch_size"), help="texts per forward pass")
    p.add_argument(
        "--shard-tokens", type=int, default=default_of(capture_to_store, "shard_tokens"), help="tokens per shard (at least)"
    )
    p.add_argument(
        "--max-length", type=int, default=None, help="refuse texts longer than this many tokens (default: the model's context)"
    )
    p.add_argument(
        "--dtype", choices=["float32", "float16", "bfloat16"], default=None, help="on-disk dtype (default: the model's)"
    )


def run_capture(args: argparse.Namespace) -> int:
    """``steerlens capture DATA --out DIR --sites ...``."""
    from ..distributed import init_from_env, is_main
    from ..loading import load_model
    from ..store import capture_to_store, read_texts
    from .common import model_sites

    init_from_env()
    texts = read_texts(args.data, text_field=args.text_field)
    model, tok = load_model(args.model)
    store = capture_to_store(
        model,
        tok,
        texts,
        model_sites(args.sites, model),
        args.out,
        positions=args.positions,
        batch_size=args.batch_size,
        shard_tokens=args.shard_tokens,
        max_length=args.max_length,
        dtype=args.dtype,
    )
    if is_main():
        print(store if store is not None else f"this rank is done; the store at {args.out} waits for the other ranks")
    return 0
