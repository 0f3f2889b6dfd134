"""Entry point of the ``steerlens`` command; each sub-command only composes library calls."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import SteerlensError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``steerlens`` command: a tree of real sub-commands."""
    from . import bench, capture, concepts, editors, lens, relations, serve, steer, tour
    from .common import Formatter, add_command, add_model

    parser = argparse.ArgumentParser(
        prog="steerlens",
        description="Read and write the representations inside transformer language models.\n\n"
        "A bare layer number n given as a site means resid_post.n (the output of block n); write "
        "resid_pre.6, attn_in.0-17 or mlp_out.all for other sites.",
        formatter_class=Formatter,
    )
    parser.set_defaults(run=None, parser=parser)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    tour.add_parsers(sub)
    p = add_command(sub, "models", "main:_models", "list the embedded models and whether each is provisioned")
    p.add_argument(
        "--provision",
        nargs="*",
        metavar="NAME",
        default=None,
        help="convert and cache these embedded models (all when no name is given)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lens.add_parsers(sub)
    steer.add_parsers(sub)
    concepts.add_parsers(sub)
    relations.add_parsers(sub)
    editors.add_parsers(sub)
    capture.add_parsers(sub)
    serve.add_parsers(sub)
    bench.add_parsers(sub)

    p = add_command(
        sub,
        "check",
        "main:_check",
        "self-check a model, or print the compatibility matrix of every causal-LM type",
        "Self-check a model: site numbering, the lens reproduces its logits, branch sums, capture, edits. With "
        "--all-types, check a tiny random model of every causal-LM type of the installed transformers instead.",
    )
    add_model(p)
    p.add_argument(
        "--all-types",
        action="store_true",
        help="instead of one model, check a tiny random model of every causal-LM type of the installed "
        "transformers (or of --types) and print the compatibility matrix",
    )
    p.add_argument("--types", nargs="+", metavar="TYPE", help="with --all-types: only these model types")
    p.add_argument("--no-generation", action="store_true", help="with --all-types: skip the generation checks")
    p.add_argument("--markdown", metavar="FILE", help="with --all-types: also write the matrix as Markdown here")
    p.add_argument("--json", metavar="FILE", help="with --all-types: also write the per-type reports as JSON here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``steerlens`` command; returns the exit status."""
    import importlib

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.run is None:  # a command group without its sub-command
        args.parser.print_help()
        return 2
    module, func = args.run.split(":")
    run = getattr(importlib.import_module(f"steerlens.cli.{module}"), func)
    try:
        return int(run(args))
    except SteerlensError as exc:
        print(f"steerlens: error: {exc}", file=sys.stderr)
        return 1


def _models(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..loading import EMBEDDED_MODELS, model_status, provision

    if args.provision is not None:
        for name in args.provision or list(EMBEDDED_MODELS):
            print(f"provisioning {name} ...", file=sys.stderr)
            print(f"{name}: {provision(name)}", file=sys.stderr)
    rows = model_status()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    cells = [
        [
            r["name"],
            r["architecture"],
            r["licence"],
            "yes" if r["package_installed"] else f"no: {r['install']}",
            "yes" if r["converted"] else "no",
            r["cache"],
        ]
        for r in rows
    ]
    head = ["name", "architecture", "licence", "package", "converted", "cache"]
    if not sys.stdout.isatty():  # piped: plain columns, never truncated (these are the names users type)
        widths = [max(len(str(c)) for c in col) for col in zip(head, *cells)]
        for line in [head, *cells]:
            print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip())
        return 0
    table = Table(title="steerlens embedded models")
    for col in head:
        table.add_column(col, no_wrap=col == "name", overflow="fold")
    for line in cells:
        table.add_row(*line)
    Console().print(table)
    return 0


def _check(args: argparse.Namespace) -> int:
    from ..loading import load_model
    from ..model.check import self_check

    if args.all_types or args.types:
        from ..model.coverage import coverage, matrix_markdown

        reports = coverage(args.types, generation=not args.no_generation)
        md = matrix_markdown(reports)
        if args.markdown:
            Path(args.markdown).write_text(md)
        if args.json:
            Path(args.json).write_text(json.dumps([r.to_dict() for r in reports], indent=1))
        print(md)
        return 0 if all(r.status in ("pass", "partial", "excluded") for r in reports) else 1

    model, tokenizer = load_model(args.model)
    report = self_check(model, tokenizer)
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1
