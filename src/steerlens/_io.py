"""Reading the JSON data files users give (shared by every method's loaders)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import DataFormatError

__all__ = ["json_records"]


def json_records(path: Path) -> tuple[list[tuple[int, Any]], str]:
    """The records of a JSONL file (one JSON value per non-empty line) or of a file holding one JSON list.

    Returns ``([(number, record), ...], unit)``: ``unit`` is ``"line"`` (JSONL: the line number) or ``"item"``
    (a list: the 1-based position), for error messages such as ``f"{path}, {unit} {number}: ..."``.
    Invalid JSON raises :class:`DataFormatError` naming the file and line.
    """
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}.") from exc
        return [(i + 1, r) for i, r in enumerate(data)], "item"
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append((n, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{path}, line {n}: invalid JSON ({exc.msg}).") from exc
    return records, "line"
