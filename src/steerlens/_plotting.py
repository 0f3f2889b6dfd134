"""The one place that imports matplotlib (an optional extra), headless."""

from __future__ import annotations

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
