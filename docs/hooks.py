"""mkdocs hook: the command-line reference page is generated from the parser itself, so it cannot drift."""

from __future__ import annotations

import argparse
import os
from typing import Any


def _tree(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    out = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.extend(_tree(sub, (*path, name)))
    return out


def cli_reference() -> str:
    from steerlens.cli.main import build_parser

    os.environ["COLUMNS"] = "110"  # argparse wraps help at the terminal width
    parts = []
    for path, parser in _tree(build_parser()):
        title = "steerlens " + " ".join(path) if path else "steerlens"
        parts.append(f"## `{title}`\n\n```text\n{parser.format_help().rstrip()}\n```\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if page.file.src_path == "cli.md":
        return markdown.replace("<!-- cli-reference -->", cli_reference())
    return markdown
