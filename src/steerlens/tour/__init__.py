"""The tour: every steerlens capability on one model, written up as a self-contained HTML report.

    from steerlens.tour import run_tour
    page = run_tour("gemma-3-270m", "steerlens-tour/")   # or: steerlens tour

Sections (see :mod:`steerlens.tour.sections`): logit/tuned lens trajectory, ActAdd steering,
LRE/LRC on a relation, concept probes, guidance and per-token monitoring, a REMEDI editor on held-out facts,
the Jacobian lens and the token-identity Patchscope, and a calibrated choice of steering layer and strength. A section
that fails is shown with its error in the report (and the run returns a failure) instead of hiding
the others.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from .._version import __version__
from ..errors import DataFormatError
from .report import Figure, Report, Section
from .sections import SECTIONS, TourConfig, TourContext, shipped_editor

__all__ = ["run_tour", "TourConfig", "TourResult", "Report", "Section", "Figure", "SECTIONS", "shipped_editor"]


class TourResult:
    """Where the report went and what happened in each section."""

    def __init__(self, page: Path, report: Report, seconds: float) -> None:
        self.page, self.report, self.seconds = page, report, seconds

    @property
    def failed(self) -> list[str]:
        return [s.key for s in self.report.sections if s.error]

    @property
    def ok(self) -> bool:
        return not self.failed


def run_tour(
    model: str | os.PathLike[str] | tuple[torch.nn.Module, Any] = "gemma-3-270m",
    out: str | os.PathLike[str] = "steerlens-tour",
    *,
    config: TourConfig | None = None,
    sections: Sequence[str] | None = None,
    say: Callable[[str], None] | None = None,
    model_name: str | None = None,
) -> TourResult:
    """Run the tour's sections on ``model`` and write ``out/report.html`` (plus figure JSON).

    Args:
        model: An embedded model name, a local model folder, or an already loaded ``(model, tokenizer)``.
        out: Output folder (created).
        config: What to run (:class:`TourConfig`; ``TourConfig.quick()`` is smaller).
        sections: Keys of :data:`SECTIONS` to run, in order (default: all).
        say: Where the live summary lines go (default: ``print``).
        model_name: The name shown in the report (default: ``model`` when it is a name).
    """
    from ..loading import load_model

    cfg = config or TourConfig()
    keys = list(sections) if sections is not None else list(SECTIONS)
    unknown = [k for k in keys if k not in SECTIONS]
    if unknown or not keys:
        raise DataFormatError(
            f"Unknown tour section(s) {unknown}; choose from {', '.join(SECTIONS)}."
            if unknown
            else f"No tour sections given; choose from {', '.join(SECTIONS)}."
        )
    say = say or print
    t0 = time.perf_counter()
    if isinstance(model, tuple):
        lm, tok = model
        name = model_name or type(lm).__name__
    else:
        name = model_name or str(model)
        say(f"loading {name} ...")
        lm, tok = load_model(model)
    load_s = time.perf_counter() - t0
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = TourContext(lm, tok, name, cfg)
    spec = ctx.spec
    report = Report(
        f"steerlens tour: {name}",
        f"{spec.model_type}, {spec.n_layers} layers, hidden size {spec.d_model}; every number below was "
        "measured on this model in this run.",
        {
            "steerlens": __version__,
            "torch": torch.__version__,
            "device": str(next(lm.parameters()).device),
            "threads": torch.get_num_threads(),
            "machine": f"{platform.machine()} {platform.system()}",
            "model load seconds": round(load_s, 1),
            "date": time.strftime("%Y-%m-%d %H:%M"),
        },
    )
    for i, key in enumerate(keys, 1):
        title, intro, fn = SECTIONS[key]
        sec = report.add(Section(key, title, intro))
        say(f"[{i}/{len(keys)}] {title} ...")
        ts = time.perf_counter()
        try:
            line = fn(ctx, sec)
            sec.seconds = time.perf_counter() - ts
            say(f"      {line}  ({sec.seconds:.0f} s)")
        except Exception as exc:  # noqa: BLE001 - shown in the report and returned as a failure
            sec.seconds = time.perf_counter() - ts
            sec.error = f"{type(exc).__name__}: {exc}"
            say(f"      FAILED: {sec.error}")
    total = time.perf_counter() - t0
    report.meta["total seconds"] = round(total, 1)
    report.meta["configuration"] = ", ".join(f"{k}={v}" for k, v in cfg.to_dict().items() if v is not None)
    page = report.write(out)
    return TourResult(page, report, total)
