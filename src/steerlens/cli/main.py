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

# two-word commands, rewritten to hidden one-word sub-commands ('lens TEXT' and 'lens train' share 'lens')
_PAIRED = {("lens", "train"), ("lens", "eval"), ("steer", "train"), ("steer", "sweep"), ("probe", "train"), ("guide", "sweep")}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``steerlens`` command."""
    from ..loading import DEFAULT_MODEL

    parser = argparse.ArgumentParser(
        prog="steerlens",
        description="Read and write the representations inside transformer language models.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("models", help="list the embedded models and whether each is provisioned")
    p.add_argument(
        "--provision",
        nargs="*",
        metavar="NAME",
        default=None,
        help="convert and cache these embedded models (all when no name is given)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    from .lens import add_parsers

    add_parsers(sub, DEFAULT_MODEL)
    from .steer import add_parsers as add_steer_parsers

    add_steer_parsers(sub, DEFAULT_MODEL)
    from .concepts import add_parsers as add_concept_parsers

    add_concept_parsers(sub, DEFAULT_MODEL)
    from .relations import add_parsers as add_relation_parsers

    add_relation_parsers(sub, DEFAULT_MODEL)
    from .editors import add_parsers as add_editor_parsers

    add_editor_parsers(sub, DEFAULT_MODEL)
    from .tour import add_parsers as add_tour_parsers

    add_tour_parsers(sub, DEFAULT_MODEL)

    p = sub.add_parser(
        "check",
        help="self-check a model: site numbering, lens reproduces its logits, branch sums, "
        "capture; or (--all-types) the compatibility matrix of every causal-LM type",
    )
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"embedded model name or local folder (default {DEFAULT_MODEL})")
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
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # 'lens TEXT' and 'lens train ...' share the word 'lens' (and so do the steer commands)
    if len(argv) >= 2 and (argv[0], argv[1]) in _PAIRED:
        argv = [f"{argv[0]}-{argv[1]}", *argv[2:]]
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "models":
            return _models(args)
        if args.command in ("lens", "lens-train", "lens-eval"):
            from . import lens as cli_lens

            return {"lens": cli_lens.run_lens, "lens-train": cli_lens.run_train, "lens-eval": cli_lens.run_eval}[args.command](
                args
            )
        if args.command in ("steer", "steer-train", "steer-sweep"):
            from . import steer as cli_steer

            return {"steer": cli_steer.run_steer, "steer-train": cli_steer.run_train, "steer-sweep": cli_steer.run_sweep}[
                args.command
            ](args)
        if args.command in ("probe-train", "guide", "guide-sweep"):
            from . import concepts as cli_concepts

            return {
                "probe-train": cli_concepts.run_probe_train,
                "guide": cli_concepts.run_guide,
                "guide-sweep": cli_concepts.run_guide_sweep,
            }[args.command](args)
        if args.command == "relations":
            from . import relations as cli_relations

            return cli_relations.run(args)
        if args.command == "editors":
            from . import editors as cli_editors

            return cli_editors.run(args)
        if args.command == "tour":
            from . import tour as cli_tour

            return cli_tour.run(args)
        if args.command == "check":
            return _check(args)
    except SteerlensError as exc:
        print(f"steerlens: error: {exc}", file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command!r}")
    return 2


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
    table = Table(title="steerlens embedded models")
    for col in ("name", "architecture", "licence", "package", "converted", "cache"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["name"],
            r["architecture"],
            r["licence"],
            "yes" if r["package_installed"] else f"no: {r['install']}",
            "yes" if r["converted"] else "no",
            r["cache"],
        )
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
