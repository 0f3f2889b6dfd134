"""The one place that imports matplotlib (an optional extra), headless."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

from .errors import MissingExtraError


def pyplot() -> Any:
    """``matplotlib.pyplot`` with the non-interactive Agg backend, or a clear error naming the extra."""
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError("Plots need matplotlib: pip install 'steerlens[plot]'.") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@contextlib.contextmanager
def quiet_glyphs() -> Iterator[None]:
    """Silence matplotlib's warnings about glyphs its font lacks (tokens of any script are drawn; a
    missing glyph shows as a box, which is all the warning says)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        yield


def savefig(fig: Any, path: Any, **kwargs: Any) -> None:
    """``fig.savefig`` under :func:`quiet_glyphs`."""
    with quiet_glyphs():
        fig.savefig(path, **kwargs)
