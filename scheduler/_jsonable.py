"""Plain JSON data from whatever a train_fn reports: one converter for every writer
(journal, snapshots, results files, reports sent by process workers).

Shared by every layer; imports nothing of ``scheduler``.
"""

from __future__ import annotations

import datetime as _dt
import enum
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["is_plain_record", "safe_repr", "to_jsonable"]

_MAX_DEPTH = 32


def _jsonable_key(key: Any) -> str | int | float | bool | None:
    if key is None or isinstance(key, (str, bool)):
        return key
    if isinstance(key, int):
        return int(key)
    if isinstance(key, float):
        return float(key)
    if isinstance(key, np.generic):
        return _jsonable_key(key.item())
    return str(key)


_PLAIN = frozenset((str, int, float, bool, type(None)))


def is_plain_record(record: dict) -> bool:
    """Every key a str and every value a plain scalar (str, int, float, bool, None):
    ``to_jsonable(record)`` would equal ``record``, so it can be used as it is. A few
    type checks per key where :func:`to_jsonable` costs several microseconds a row."""
    plain = _PLAIN
    for key, value in record.items():
        if type(key) is not str or type(value) not in plain:
            return False
    return True


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """Return ``value`` as plain JSON data (dict, list, str, int, float, bool, None).

    numpy scalars become Python scalars, arrays and tuples/sets become lists, dict keys
    that JSON cannot hold become ``str(key)``, dates become ISO strings, paths become
    strings, and anything else becomes its ``repr``. Plain data is returned unchanged
    (the same object for scalars). Never raises.
    """
    if value is None or type(value) in (str, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return value if type(value) is int else int(value)
    if isinstance(value, float):
        return value if type(value) is float else float(value)
    if _depth >= _MAX_DEPTH:
        return safe_repr(value)
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist(), _depth + 1)
    if isinstance(value, np.generic):
        return to_jsonable(value.item(), _depth + 1)
    if isinstance(value, Mapping):
        return {_jsonable_key(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, _depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [to_jsonable(v, _depth + 1) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, _depth + 1)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return safe_repr(value)


def safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not crash the run
        return f"<unrepresentable {type(value).__name__}>"
