"""Prediction trajectories: what each layer predicts at each position, and how sure it is.

All information quantities are in **bits**.
"""

from __future__ import annotations

import html
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from .._plotting import pyplot, quiet_glyphs, savefig
from .._results import JsonResult
from ..errors import SpanNotFoundError, SteerlensError
from ..model.architectures import resolve
from ..model.capture import capture
from ..model.site import Site
from .lenses import Lens, LogitLens

__all__ = ["PredictionTrajectory", "prediction_trajectory", "STATISTICS", "PlotPathError"]


class PlotPathError(SteerlensError, ValueError):
    """A plot destination or statistic steerlens cannot produce."""


_LN2 = math.log(2)
STATISTICS = ("entropy", "kl_to_final", "top_prob", "target_log_prob", "target_rank")


@dataclass
class PredictionTrajectory(JsonResult):
    """Per (row, position) statistics of a lens over one text; rows are lens indices then ``output``.

    Attributes:
        tokens: The input tokens as text.
        input_ids: Their ids.
        rows: Row labels: the site each row decodes, ``"resid_pre.0" .. "resid_pre.L-1"`` (lens index i reads the
            stream entering block i), and ``"output"`` (the model's own prediction).
        top_tokens / top_ids / top_probs: ``[rows][pos][k]`` top-k predictions.
        entropy: ``[rows][pos]`` entropy of the prediction, bits.
        kl_to_final: ``[rows][pos]`` KL(model output || row), bits (0 on the output row).
        targets: the target token id at each position (``None`` where undefined).
        target_log_prob: ``[rows][pos]`` log2-probability of the target (``None`` where undefined).
        target_rank: ``[rows][pos]`` 1-based rank of the target (``None`` where undefined).
        lens: ``"logit"`` or ``"tuned"``.
    """

    tokens: list[str]
    input_ids: list[int]
    rows: list[str]
    top_tokens: list[list[list[str]]]
    top_ids: list[list[list[int]]]
    top_probs: list[list[list[float]]]
    entropy: list[list[float]]
    kl_to_final: list[list[float]]
    targets: list[int | None] = field(default_factory=list)
    target_log_prob: list[list[float | None]] = field(default_factory=list)
    target_rank: list[list[int | None]] = field(default_factory=list)
    lens: str = "logit"

    def statistic(self, name: str) -> list[list[float | None]]:
        """One of :data:`STATISTICS` as a ``[rows][pos]`` grid."""
        if name == "top_prob":
            return [[cell[0] for cell in row] for row in self.top_probs]
        if name not in STATISTICS:
            raise PlotPathError(f"Unknown statistic {name!r}; choose from {', '.join(STATISTICS)}.")
        return getattr(self, name)

    # ---------------------------------------------------------------- rendering
    def table(self, max_width: int = 10) -> Any:
        """A ``rich`` table: top-1 token per row and position."""
        from rich.table import Table

        t = Table(title=f"{self.lens} lens: top-1 prediction per layer and position")
        t.add_column("layer", justify="right")
        for tok in self.tokens:
            t.add_column(_short(tok, max_width), overflow="fold")
        for r, label in enumerate(self.rows):
            t.add_row(label, *[_short(cell[0], max_width) for cell in self.top_tokens[r]])
        return t

    def plot(self, path: str | os.PathLike[str], statistic: str = "entropy") -> Path:
        """Save a heatmap: ``.png`` (matplotlib, extra ``plot``) or ``.html`` (interactive, hover = top-k)."""
        out = Path(path)
        if out.suffix.lower() == ".html":
            out.write_text(self.html(statistic), encoding="utf-8")
            return out
        if out.suffix.lower() not in (".png", ".pdf", ".svg"):
            raise PlotPathError(f"Plot path must end in .png, .pdf, .svg or .html, got {out.name!r}.")
        plt = pyplot()
        grid = torch.tensor([[float("nan") if v is None else v for v in row] for row in self.statistic(statistic)])
        fig_w = 2.0 + 0.9 * len(self.tokens)
        fig, ax = plt.subplots(figsize=(fig_w, 1.2 + 0.32 * len(self.rows)))
        im = ax.imshow(grid.numpy(), aspect="auto", cmap="RdBu_r", origin="lower")
        for r in range(len(self.rows)):
            for p in range(len(self.tokens)):
                ax.text(p, r, _short(self.top_tokens[r][p][0], 7), ha="center", va="center", fontsize=6.5)
        ax.set_xticks(range(len(self.tokens)), [_short(t, 9) for t in self.tokens], rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(self.rows)), self.rows, fontsize=7)
        ax.set_xlabel("input token (prediction of the next one)")
        ax.set_ylabel("layer")
        ax.set_title(f"{self.lens} lens: {statistic.replace('_', ' ')}" + (" (bits)" if statistic != "top_prob" else ""))
        fig.colorbar(im, ax=ax, fraction=0.03)
        with quiet_glyphs():
            fig.tight_layout()
        savefig(fig, out, dpi=150)
        plt.close(fig)
        return out

    def html(self, statistic: str = "entropy") -> str:
        """A self-contained HTML heatmap; hovering a cell shows the top-k tokens and probabilities."""
        grid = self.statistic(statistic)
        vals = [v for row in grid for v in row if v is not None]
        lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
        cells = []
        for r in reversed(range(len(self.rows))):
            tds = [f"<th>{html.escape(self.rows[r])}</th>"]
            for p in range(len(self.tokens)):
                v = grid[r][p]
                tip = "\n".join(f"{t!r}: {q:.3f}" for t, q in zip(self.top_tokens[r][p], self.top_probs[r][p]))
                tip += f"\n{statistic}: {'n/a' if v is None else f'{v:.3f}'}"
                color = _color(None if v is None else (v - lo) / (hi - lo + 1e-12))
                tds.append(
                    f'<td style="background:{color}" title="{html.escape(tip)}">'
                    f"{html.escape(_short(self.top_tokens[r][p][0], 8))}</td>"
                )
            cells.append("<tr>" + "".join(tds) + "</tr>")
        header = "<tr><th>layer</th>" + "".join(f"<th>{html.escape(_short(t, 10))}</th>" for t in self.tokens) + "</tr>"
        title = f"{self.lens} lens: {statistic.replace('_', ' ')}"
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title><style>"
            "body{font-family:system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:12px}"
            "td,th{border:1px solid #ddd;padding:3px 6px;white-space:pre;text-align:center}"
            "th{background:#f4f4f4}td:hover{outline:2px solid #000}</style></head><body>"
            f"<h2>{html.escape(title)}</h2><p>Rows: lens index (residual entering that block) and the model "
            f"output. Colour: {html.escape(statistic)} from {lo:.3g} (blue) to {hi:.3g} (red). Hover a cell for "
            f"the top tokens.</p><table>{header}{''.join(cells)}</table></body></html>"
        )


def _short(s: str, n: int) -> str:
    s = s.replace("\n", "\\n")
    return s if len(s) <= n else s[: n - 1] + "…"


def _color(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "#eeeeee"
    x = min(max(x, 0.0), 1.0)
    # blue (low) -> white -> red (high)
    if x < 0.5:
        t = x / 0.5
        return f"rgb({int(60 + 195 * t)},{int(110 + 145 * t)},255)"
    t = (x - 0.5) / 0.5
    return f"rgb(255,{int(255 - 165 * t)},{int(255 - 175 * t)})"


def prediction_trajectory(
    model: torch.nn.Module,
    tokenizer: Any,
    text: str,
    *,
    lens: Lens | None = None,
    target: str | Literal["next"] | None = "next",
    top_k: int = 5,
) -> PredictionTrajectory:
    """Decode every layer at every position of ``text`` through ``lens`` (logit lens by default).

    Args:
        model: A Hugging Face causal LM.
        tokenizer: Its tokenizer.
        text: The text to read.
        lens: A :class:`LogitLens` or :class:`TunedLens` of ``model``.
        target: ``"next"`` (the actual next input token at each position), a string that is one token
            (the same target everywhere), or ``None``.
        top_k: Predictions to keep per cell.

    Raises:
        SpanNotFoundError: ``target`` is not exactly one token.
    """
    spec = resolve(model)
    lens = lens or LogitLens.from_model(model)
    ids = tokenizer(text)["input_ids"]
    sites = [*spec.all_sites("resid_pre"), Site(spec.n_layers - 1, "resid_post")]
    acts = capture(model, {"input_ids": torch.tensor([ids])}, sites)
    n = len(ids)
    if target == "next":
        targets: list[int | None] = [*ids[1:], None]
    elif target is None:
        targets = [None] * n
    else:
        t_ids = tokenizer(target, add_special_tokens=False)["input_ids"]
        if len(t_ids) != 1:
            pieces = [tokenizer.decode([i]) for i in t_ids]
            raise SpanNotFoundError(f"Target {target!r} is {len(t_ids)} tokens {pieces}, not one; pick a single token.")
        targets = [t_ids[0]] * n
    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        final = lens.unembed(acts[sites[-1]][0].to(dtype)).float().log_softmax(-1)
        rows_logp = [lens(acts[Site(i, "resid_pre")][0].to(dtype), i).float().log_softmax(-1) for i in range(spec.n_layers)]
        rows_logp.append(final)
        tgt = torch.tensor([t if t is not None else 0 for t in targets])
        have = [t is not None for t in targets]
        out: dict[str, list] = {k: [] for k in ("top_tokens", "top_ids", "top_probs", "entropy", "kl", "tlp", "rank")}
        for logp in rows_logp:
            p = logp.exp()
            top_p, top_i = p.topk(top_k, dim=-1)
            out["top_ids"].append(top_i.tolist())
            out["top_probs"].append(top_p.tolist())
            out["top_tokens"].append([[tokenizer.decode([i]) for i in row] for row in top_i.tolist()])
            out["entropy"].append((-(p * logp).sum(-1) / _LN2).tolist())
            out["kl"].append(((final.exp() * (final - logp)).sum(-1) / _LN2).clamp(min=0).tolist())
            t_lp = logp.gather(-1, tgt[:, None])[:, 0]
            rank = (logp > t_lp[:, None]).sum(-1) + 1
            out["tlp"].append([float(v) / _LN2 if h else None for v, h in zip(t_lp.tolist(), have)])
            out["rank"].append([int(v) if h else None for v, h in zip(rank.tolist(), have)])
    return PredictionTrajectory(
        tokens=[tokenizer.decode([i]) for i in ids],
        input_ids=list(ids),
        rows=[f"resid_pre.{i}" for i in range(spec.n_layers)] + ["output"],
        top_tokens=out["top_tokens"],
        top_ids=out["top_ids"],
        top_probs=out["top_probs"],
        entropy=out["entropy"],
        kl_to_final=out["kl"],
        targets=targets,
        target_log_prob=out["tlp"],
        target_rank=out["rank"],
        lens={"TunedLens": "tuned", "JacobianLens": "jacobian"}.get(lens.__class__.__name__, "logit"),
    )
