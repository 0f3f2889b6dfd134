"""The one serialisation shape of steerlens' result objects: ``to_dict()`` and ``save_json(path)``."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

__all__ = ["JsonResult"]


class JsonResult:
    """Mixin for result dataclasses: ``to_dict()`` (plain JSON-ready data) and ``save_json(path)``."""

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain data (override where a field needs converting)."""
        if not is_dataclass(self):
            raise TypeError(f"{type(self).__name__} must override to_dict().")
        return asdict(self)

    def save_json(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_dict` as indented UTF-8 JSON; returns the path."""
        p = Path(path)
        p.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        return p
