"""``steerlens tour``: every capability on one model, as a self-contained HTML report."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_parsers", "run"]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``tour``."""
    from ..tour import SECTIONS, TourConfig
    from .common import add_command, add_model

    p = add_command(
        sub,
        "tour",
        "tour:run",
        "run every method on a model and write an HTML report (start here)",
        "Run lenses, activation addition, LREs/LRCs, concept guidance, a REMEDI editor, the Jacobian lens and "
        "Patchscopes, and calibrated steering on one model, and write "
        "a self-contained HTML report with every figure and its data as JSON.",
    )
    add_model(p)
    p.add_argument("--out", default="steerlens-tour", help="output folder")
    p.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated sections to run, in order")
    p.add_argument("--quick", action="store_true", help="fewer completions, tokens and examples (about half the time)")
    p.add_argument("--tuned", metavar="PATH", help="a tuned lens to show beside the logit lens")
    p.add_argument(
        "--editor",
        metavar="PATH",
        help="a saved REMEDI editor (default: the one shipped for the model, else a quick one trained in the tour)",
    )
    p.add_argument("--relation", default=TourConfig.relation, help="the relation of the LRE section")
    p.add_argument("--seed", type=int, default=TourConfig.seed, help="seed of every sampled or shuffled step")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..tour import TourConfig, run_tour

    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {
        k: v
        for k, v in {"tuned_lens": args.tuned, "editor": args.editor, "relation": args.relation, "seed": args.seed}.items()
        if v is not None
    }
    cfg = TourConfig.quick(**overrides) if args.quick else TourConfig(**overrides)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    result = run_tour(args.model, args.out, config=cfg, sections=sections, say=lambda m: print(m, file=sys.stderr, flush=True))
    print(f"report: {result.page.resolve()}")
    print(
        f"figure data: {(result.page.parent / 'figures').resolve()}/*.json; summary: "
        f"{(result.page.parent / 'report.json').resolve()}"
    )
    print(f"total {result.seconds:.0f} s" + (f"; FAILED sections: {', '.join(result.failed)}" if result.failed else ""))
    return 0 if result.ok else 1
