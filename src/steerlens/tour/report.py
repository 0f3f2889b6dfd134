"""A self-contained HTML report: sections of key numbers, tables, text and embedded figures.

Every figure is written twice: as a PNG embedded in the page (``data:`` URI, so the page needs no
network and no neighbouring files) and as the JSON of the numbers it shows (``figures/NAME.json``),
so a reader can re-plot or check it. ``report.json`` holds every section's key numbers.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataFormatError

__all__ = ["Figure", "Section", "Report", "json_safe"]


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as ``None`` and tuples as lists (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


@dataclass
class Figure:
    """One figure: its PNG bytes, the data it shows, and a caption."""

    name: str
    title: str
    png: bytes
    data: Any
    caption: str = ""

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "-_" for c in self.name):
            raise DataFormatError(f"A figure name must be non-empty letters, digits, '-' or '_', got {self.name!r}.")
        if not self.png.startswith(b"\x89PNG"):
            raise DataFormatError(f"Figure {self.name!r}: the image is not a PNG.")


@dataclass
class Section:
    """One part of the report. ``blocks`` are HTML fragments already escaped by their builder."""

    key: str
    title: str
    intro: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)
    blocks: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    # builders ---------------------------------------------------------------------------------
    def text(self, body: str) -> None:
        """A paragraph of plain text (escaped here)."""
        self.blocks.append(f"<p>{html.escape(body)}</p>")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = "") -> None:
        """A table of plain values (escaped here; floats to 3 significant digits)."""
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in rows)
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        self.blocks.append(f'<table class="data">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')

    def figure(self, fig: Figure) -> None:
        if any(f.name == fig.name for f in self.figures):
            raise DataFormatError(f"Section {self.key!r} already has a figure named {fig.name!r}.")
        self.figures.append(fig)
        self.blocks.append(f"\x00figure:{fig.name}")

    def summary(self) -> dict[str, Any]:
        return json_safe(
            {
                "title": self.title,
                "numbers": self.numbers,
                "seconds": round(self.seconds, 2),
                "error": self.error,
                "notes": self.notes,
                "figures": [f.name for f in self.figures],
            }
        )


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if not math.isfinite(v) else f"{v:.3g}"
    if v is None:
        return "n/a"
    return str(v)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d2330;background:#fafbfc;line-height:1.45}
header{background:#1d2330;color:#fff;padding:1.4em 2em}header h1{margin:0 0 .2em;font-size:1.6em}
header p{margin:.2em 0;color:#c9d1e0}header .meta{font-size:.85em}
header summary{cursor:pointer;color:#c9d1e0;font-size:.85em}nav{padding:.6em 2em;background:#e9edf3;position:sticky;top:0}
nav a{margin-right:1.2em;color:#1d4ed8;text-decoration:none}main{padding:0 2em 3em;max-width:1100px}
section{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:1em 1.5em;margin:1.5em 0}
section h2{margin-top:.2em}.intro{color:#4b5563}.numbers{display:flex;flex-wrap:wrap;gap:.6em;margin:.8em 0}
.num{background:#f1f5f9;border-radius:6px;padding:.4em .8em}.num b{display:block;font-size:1.25em}
.num span{font-size:.8em;color:#4b5563}table.data{border-collapse:collapse;margin:.8em 0;font-size:.9em}
table.data td,table.data th{border:1px solid #dde3ea;padding:.3em .6em;text-align:left;vertical-align:top;
white-space:pre-wrap}table.data th{background:#f1f5f9}caption{text-align:left;color:#4b5563;padding:.3em 0}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eef1f5}figcaption{color:#4b5563;font-size:.9em}
.error{background:#fef2f2;border:1px solid #fca5a5;padding:.6em 1em;border-radius:6px;white-space:pre-wrap}
.note{color:#92400e;background:#fffbeb;border-left:3px solid #f59e0b;padding:.3em .8em}.time{color:#6b7280;font-size:.85em}
"""


class Report:
    """Sections in order, rendered to one HTML page plus figure JSON and a summary JSON."""

    def __init__(self, title: str, subtitle: str = "", meta: dict[str, Any] | None = None) -> None:
        self.title = title
        self.subtitle = subtitle
        self.meta: dict[str, Any] = dict(meta or {})
        self.sections: list[Section] = []

    def add(self, section: Section) -> Section:
        if any(s.key == section.key for s in self.sections):
            raise DataFormatError(f"The report already has a section {section.key!r}.")
        self.sections.append(section)
        return section

    def to_html(self) -> str:
        esc = html.escape
        nav = "".join(f'<a href="#{esc(s.key)}">{esc(s.title)}</a>' for s in self.sections)
        parts = []
        for s in self.sections:
            figs = {f.name: f for f in s.figures}
            nums = "".join(f'<div class="num"><b>{esc(_fmt(v))}</b><span>{esc(k)}</span></div>' for k, v in s.numbers.items())
            body = []
            for b in s.blocks:
                if b.startswith("\x00figure:"):
                    f = figs[b.split(":", 1)[1]]
                    data = base64.b64encode(f.png).decode("ascii")
                    body.append(
                        f'<figure class="tour-figure" data-figure="{esc(f.name)}"><img alt="{esc(f.title)}" '
                        f'src="data:image/png;base64,{data}"><figcaption><b>{esc(f.title)}.</b> {esc(f.caption)} '
                        f"Data: <code>figures/{esc(f.name)}.json</code></figcaption></figure>"
                    )
                else:
                    body.append(b)
            err = f'<div class="error"><b>This section failed:</b> {esc(s.error)}</div>' if s.error else ""
            notes = "".join(f'<p class="note">{esc(n)}</p>' for n in s.notes)
            parts.append(
                f'<section id="{esc(s.key)}" class="tour-section" data-section="{esc(s.key)}">'
                f"<h2>{esc(s.title)}</h2>"
                + (f'<p class="intro">{esc(s.intro)}</p>' if s.intro else "")
                + (f'<div class="numbers">{nums}</div>' if nums else "")
                + err
                + notes
                + "".join(body)
                + f'<p class="time">{s.seconds:.1f} s</p></section>'
            )
        short = {k: v for k, v in self.meta.items() if len(_fmt(v)) <= 60}
        long = {k: v for k, v in self.meta.items() if k not in short}
        meta = (
            '<p class="meta">'
            + " &middot; ".join(f"{esc(str(k))}: {esc(_fmt(v))}" for k, v in short.items())
            + "</p>"
            + "".join(f"<details><summary>{esc(str(k))}</summary><p>{esc(_fmt(v))}</p></details>" for k, v in long.items())
        )
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width,initial-scale=1'><title>{esc(self.title)}</title><style>{_CSS}</style>"
            f"</head><body><header><h1>{esc(self.title)}</h1><p>{esc(self.subtitle)}</p>{meta}</header>"
            f"<nav>{nav}</nav><main>{''.join(parts)}</main></body></html>"
        )

    def write(self, out: str | os.PathLike[str]) -> Path:
        """Write ``report.html``, ``report.json`` and ``figures/NAME.{png,json}`` into ``out``; returns the HTML path."""
        folder = Path(out)
        figdir = folder / "figures"
        figdir.mkdir(parents=True, exist_ok=True)
        for s in self.sections:
            for f in s.figures:
                (figdir / f"{f.name}.png").write_bytes(f.png)
                (figdir / f"{f.name}.json").write_text(
                    json.dumps(
                        json_safe({"title": f.title, "caption": f.caption, "data": f.data}),
                        indent=1,
                        ensure_ascii=False,
                        allow_nan=False,
                    ),
                    encoding="utf-8",
                )
        summary = {"title": self.title, "meta": json_safe(self.meta), "sections": {s.key: s.summary() for s in self.sections}}
        (folder / "report.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False, allow_nan=False), encoding="utf-8")
        page = folder / "report.html"
        page.write_text(self.to_html(), encoding="utf-8")
        return page
