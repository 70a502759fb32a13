"""Canonical JSON forms of arbitrary Python values, and the JSON data a config may hold.

:func:`canonical` describes any value as JSON data, equal for equal values (tuples,
sets, dicts and non-finite floats tagged so they stay distinct); :func:`canonical_key`
is its compact text. :func:`json_form` is stricter: the JSON data a value *is* (tuples
as lists), or ``None`` for values JSON cannot hold exactly, which is what a config may
contain.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["canonical", "canonical_key", "dumps", "is_json_data", "json_form", "uncanonical"]

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def canonical(value: Any) -> Any:
    """A JSON-native description of ``value``, equal for equal values.

    ``None``, booleans, strings, integers and finite floats map to themselves (numpy
    scalars to the Python scalar), lists to lists. Tuples, dicts, sets and non-finite
    floats are tagged (``{"__tuple__": [...]}``, ``{"__dict__": [[key, value], ...]}``,
    ``{"__set__": [...]}``, ``{"__float__": "nan"}``) so that they stay distinct from
    lists and from each other. A search space is described by its fingerprint
    (``{"__space__": ...}``). Any other object becomes
    ``{"__object__": "module.Type", "repr": repr(value)}`` with memory addresses removed
    from the repr. JSON keeps ``1``, ``1.0`` and ``true`` apart, so they stay distinct.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else {"__float__": repr(number)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    if isinstance(value, tuple):
        return {"__tuple__": [canonical(item) for item in value]}
    if isinstance(value, Mapping):
        pairs = [[canonical(k), canonical(v)] for k, v in value.items()]
        return {"__dict__": sorted(pairs, key=lambda pair: dumps(pair[0]))}
    if isinstance(value, (set, frozenset)):
        return {"__set__": sorted((canonical(item) for item in value), key=dumps)}
    fingerprint = getattr(value, "_space_fingerprint", None)
    if fingerprint is not None:
        return {"__space__": fingerprint()}
    kind = type(value)
    return {
        "__object__": f"{kind.__module__}.{kind.__qualname__}",
        "repr": _ADDRESS.sub("", repr(value)),
    }


def uncanonical(data: Any) -> Any:
    """Invert :func:`canonical` (objects come back as their ``__object__`` description)."""
    if isinstance(data, list):
        return [uncanonical(item) for item in data]
    if isinstance(data, dict):
        if "__tuple__" in data:
            return tuple(uncanonical(item) for item in data["__tuple__"])
        if "__dict__" in data:
            return {uncanonical(k): uncanonical(v) for k, v in data["__dict__"]}
        if "__set__" in data:
            return {uncanonical(item) for item in data["__set__"]}
        if "__float__" in data:
            return float(data["__float__"])
        return dict(data)
    return data


def dumps(data: Any) -> str:
    """Compact JSON with sorted keys: equal data, equal text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def canonical_key(value: Any) -> str:
    """A string that is equal for equal values: compact JSON of :func:`canonical`."""
    return dumps(canonical(value))


_NO_FORM: Any = object()


def _form(value: Any, depth: int) -> Any:
    if depth > 64:
        return _NO_FORM
    if value is None or type(value) in (bool, str, int):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else _NO_FORM
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value) if math.isfinite(value) else _NO_FORM
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        items = [_form(item, depth + 1) for item in value]
        return _NO_FORM if any(item is _NO_FORM for item in items) else items
    if type(value) is dict:
        if not all(type(key) is str for key in value):
            return _NO_FORM
        fields = {key: _form(item, depth + 1) for key, item in value.items()}
        return _NO_FORM if any(item is _NO_FORM for item in fields.values()) else fields
    return _NO_FORM


def json_form(value: Any) -> tuple[bool, Any]:
    """``(True, data)`` when ``value`` is JSON data up to tuples (which become lists) and
    numpy scalars (which become Python scalars): ``None``, ``bool``, ``int``, finite
    ``float``, ``str``, and lists, tuples and str-keyed dicts of those (built-in
    containers only). ``(False, None)`` otherwise."""
    data = _form(value, 0)
    return (False, None) if data is _NO_FORM else (True, data)


def is_json_data(value: Any) -> bool:
    """True when ``value`` is JSON data exactly (no tuples): ``json.loads(json.dumps(v))
    == v`` with the same types."""
    ok, data = json_form(value)
    return ok and _same_shape(value, data)


def _same_shape(value: Any, data: Any) -> bool:
    if isinstance(value, (tuple, np.generic)):
        return False
    if isinstance(value, list):
        return all(_same_shape(v, d) for v, d in zip(value, data))
    if isinstance(value, dict):
        return all(_same_shape(value[k], data[k]) for k in value)
    return True
