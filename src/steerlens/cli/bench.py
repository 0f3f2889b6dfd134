"""``steerlens bench``: every writer on the same held-out items and metrics."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_parsers", "run_bench_command"]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``bench``."""
    from ..bench import EDIT_WRITERS, QUICK_EDIT_RELATIONS, WRITERS, BenchConfig
    from .common import add_command, add_model

    d = BenchConfig()
    p = add_command(
        sub,
        "bench",
        "bench:run_bench_command",
        "compare every writer on the same held-out items (steering, detection, side effects, knowledge edits)",
        "Fit each writer (mean-difference, PCA and logistic steering vectors, the concept-guidance probe, ActAdd, "
        "projection-out) on a concept's training prompts and score it on held-out prompts: steerability and the "
        "anti-steerable fraction on A/B items, the AUROC of its direction, and KL / perplexity / next-token accuracy "
        "on neutral text, at strengths on one scale (1 = the mean residual norm at the site). Then edit held-out "
        "facts the model knows with every writer that edits an entity (REMEDI, the LRE-inverse edit, the LRC swap, "
        "the prefix and replace baselines): efficacy, paraphrases, neighbourhood, fluency. Writes leaderboard.json "
        "(deterministic, keyed by a config hash), leaderboard.md, curves.png and knowledge.png.",
    )
    add_model(p)
    p.add_argument("--quick", action="store_true", help="the small configuration CI runs (a few minutes on a CPU)")
    p.add_argument("--concepts", default=",".join(d.concepts), help="comma-separated shipped concept datasets")
    p.add_argument("--writers", default=",".join(d.writers), help=f"comma-separated, from {', '.join(WRITERS)}")
    p.add_argument(
        "--layer",
        type=int,
        default=None,
        help="block whose output every writer reads and writes (default: a third of the way in)",
    )
    p.add_argument("--n-train", type=int, default=None, help=f"training prompts per concept (default: {d.n_train}; --quick: 12)")
    p.add_argument("--n-test", type=int, default=None, help=f"held-out prompts per concept (default: {d.n_test}; --quick: 6)")
    p.add_argument(
        "--strengths", default=None, help="comma-separated, with 0 (default: -0.2,-0.1,0,0.1,0.2; --quick: -0.2,0,0.2)"
    )
    p.add_argument(
        "--edit-writers",
        default=",".join(d.edit_writers),
        help=f"comma-separated knowledge-edit writers, from {', '.join(EDIT_WRITERS)} ('' for none)",
    )
    p.add_argument(
        "--edit-relations",
        default=None,
        help=f"comma-separated relations of the test facts (default: all; --quick: {','.join(QUICK_EDIT_RELATIONS)})",
    )
    p.add_argument("--n-facts", type=int, default=None, help="known test facts to edit (default: all; --quick: 12)")
    p.add_argument(
        "--editor",
        default=None,
        help="folder of the REMEDI editor to score (default: the one shipped for the model, else one trained here)",
    )
    p.add_argument("--seed", type=int, default=d.seed, help="draws the training and held-out prompts")
    p.add_argument("--out", default="bench-results/bench", help="output folder")
    p.add_argument(
        "--export-pairs",
        metavar="FILE",
        default=None,
        help="only write the training pairs, the site's layer and the model folder as JSON, for another library to fit on",
    )
    p.add_argument(
        "--directions",
        metavar="FILE",
        default=None,
        help="a safetensors file of directions fitted elsewhere, keys 'concept/name', each [d_model]: scored as extra writers",
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")


def run_bench_command(args: argparse.Namespace) -> int:
    """``steerlens bench``."""
    import time

    import torch

    from ..bench import BenchConfig, run_bench, training_pairs
    from ..loading import load_model
    from .common import parse_floats

    if args.threads:
        torch.set_num_threads(args.threads)
    kw: dict = {
        "concepts": tuple(c for c in args.concepts.split(",") if c),
        "writers": tuple(w for w in args.writers.split(",") if w),
        "layer": args.layer,
        "seed": args.seed,
    }
    if args.n_train is not None:
        kw["n_train"] = args.n_train
    if args.n_test is not None:
        kw["n_test"] = args.n_test
    if args.strengths is not None:
        kw["strengths"] = tuple(parse_floats(args.strengths))
    kw["edit_writers"] = tuple(w for w in args.edit_writers.split(",") if w)
    if args.edit_relations is not None:
        kw["edit_relations"] = tuple(r.strip() for r in args.edit_relations.split(",") if r.strip()) or None
    if args.n_facts is not None:
        kw["n_facts"] = args.n_facts
    cfg = BenchConfig.quick(**kw) if args.quick else BenchConfig(**kw)
    cfg.check()
    if args.export_pairs:
        import json
        from pathlib import Path

        from ..loading import provision

        folder = Path(args.model) if Path(args.model).is_dir() else provision(args.model)
        from transformers import AutoConfig

        n_layers = AutoConfig.from_pretrained(folder, local_files_only=True).get_text_config().num_hidden_layers
        layer = cfg.layer if cfg.layer is not None else n_layers // 3
        pairs = training_pairs(cfg)
        Path(args.export_pairs).write_text(json.dumps({"model_dir": str(folder), "layer": layer, "pairs": pairs}, indent=1))
        print(f"wrote {args.export_pairs}: {sum(len(v) for v in pairs.values())} pairs, layer {layer}")
        return 0
    directions: dict[str, dict[str, torch.Tensor]] | None = None
    if args.directions:
        from safetensors.torch import load_file

        directions = {}
        for key, vec in load_file(args.directions).items():
            concept, _, name = key.partition("/")
            directions.setdefault(concept, {})[name] = vec
    model, tokenizer = load_model(args.model)
    t0 = time.perf_counter()
    board = run_bench(
        model,
        tokenizer,
        cfg,
        model_name=str(args.model),
        directions=directions,
        editor=args.editor,
        log=lambda s: print(s, file=sys.stderr),
    )
    out = board.save(args.out)
    print(board.markdown())
    plots = [name for name, rows in (("curves.png", board.rows), ("knowledge.png", board.knowledge)) if rows]
    print(f"{time.perf_counter() - t0:.0f} s; wrote {out}/leaderboard.json, leaderboard.md, {', '.join(plots)}")
    return 0
