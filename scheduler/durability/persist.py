"""``scheduler.save`` / ``scheduler.load``: AutoGluon's ``ag.save``/``ag.load`` for
scheduler states, as JSON (never pickle: loading a file never executes code)."""

from __future__ import annotations

import json
import os
from typing import Any

from scheduler._jsonable import to_jsonable
from scheduler.durability.journal import atomic_write_text

__all__ = ["load", "save"]


def save(obj: object, path: str | os.PathLike[str]) -> None:
    """Write ``obj`` (e.g. ``scheduler.state_dict()``) as JSON to ``path``, atomically."""
    text = json.dumps(obj, allow_nan=True, default=to_jsonable)
    atomic_write_text(os.fspath(path), text)


def load(path: str | os.PathLike[str]) -> Any:
    """Read what :func:`save` wrote."""
    with open(os.fspath(path), encoding="utf-8") as f:
        return json.load(f)
