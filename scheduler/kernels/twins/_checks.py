"""Argument and state validation shared by the twins.

The compiled modules raise the same exceptions with the same texts: copies of these
helpers (the same checks and messages) are in ``scheduler/_rungs/levels.pyx``, and of
the per-class ones in ``stopping.pyx``, ``promotion.pyx`` and ``brackets.pyx``.
"""

from __future__ import annotations

import itertools
import math
import numbers
import operator
from typing import Any, TypeGuard

STATE_VERSION = 1
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_UINT64_MASK = 2**64 - 1


def _is_integer(value: Any) -> TypeGuard[int]:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> TypeGuard[float]:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_max_t(max_t: Any) -> int:
    if not _is_integer(max_t) or max_t < 2:
        raise ValueError(f"max_t must be an integer >= 2, got {max_t!r}")
    return int(max_t)


def _check_levels(levels: Any, max_t: int | None = None) -> list[int]:
    if (
        not isinstance(levels, (list, tuple))
        or not levels
        or not all(_is_integer(level) and level >= 1 for level in levels)
    ):
        raise ValueError(f"levels must be a non-empty list of integers >= 1, got {levels!r}")
    checked = [int(level) for level in levels]
    if any(low >= high for low, high in itertools.pairwise(checked)):
        raise ValueError(f"levels must be strictly increasing, got {levels!r}")
    if max_t is not None and any(level >= max_t for level in checked):
        raise ValueError(f"levels must all be < max_t (= {max_t}), got {levels!r}")
    if max(checked) > _INT64_MAX:  # as in the kernel, where levels become int64_t
        raise ValueError(f"levels must all be < 2**63 (int64), got {levels!r}")
    return checked


def _check_quantiles(quantiles: Any, levels: list[int]) -> list[float]:
    if (
        not isinstance(quantiles, (list, tuple))
        or len(quantiles) != len(levels)
        or not all(_is_real(q) and 0.0 < q < 1.0 for q in quantiles)
    ):
        raise ValueError(
            f"quantiles must be a list of {len(levels)} numbers in (0, 1), one per level, "
            f"got {quantiles!r}"
        )
    return [float(q) for q in quantiles]


def _check_promotion_quantiles(quantiles: Any, levels: list[int], max_t: int) -> list[float]:
    checked = _check_quantiles(quantiles, levels)
    for j, q in enumerate(checked):
        if j + 1 < len(levels):
            name, next_level = f"levels[{j + 1}]", levels[j + 1]
        else:
            name, next_level = "max_t", max_t
        if q != levels[j] / next_level:
            raise ValueError(
                f"quantiles[{j}] must equal levels[{j}] / {name} = {levels[j]} / {next_level} "
                f"= {levels[j] / next_level!r}, got {quantiles[j]!r}"
            )
    return checked


def _check_mode(mode: Any) -> str:
    if not isinstance(mode, str) or mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    return mode


def _as_int64(value: Any) -> int:
    """``value`` as an int in the int64 range, converted like Cython's ``int64_t``."""
    value = int(operator.index(value))
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise OverflowError("Python int too large to convert to C long")
    return value


def _as_float(value: Any) -> float:
    """``value`` as a float, converted like Cython's ``double`` (no strings)."""
    if isinstance(value, (str, bytes, bytearray)):
        raise TypeError(f"must be real number, not {type(value).__name__}")
    return float(value)


def _check_skip_rungs(skip_rungs: Any, num_rungs: int) -> int:
    skip_rungs = _as_int64(skip_rungs)
    if not 0 <= skip_rungs <= num_rungs:
        raise ValueError(f"skip_rungs must be an integer in 0..{num_rungs}, got {skip_rungs}")
    return skip_rungs


def _check_rung_index(rung_index: Any, num_rungs: int) -> int:
    rung_index = int(operator.index(rung_index))
    if not 0 <= rung_index < num_rungs:
        raise ValueError(f"rung_index must be an integer in 0..{num_rungs - 1}, got {rung_index}")
    return rung_index


def _state_fields(state: Any, kind: str, keys: tuple[str, ...]) -> None:
    """Check the header of a ``state_dict()`` and that it has every key in ``keys``."""
    if not isinstance(state, dict):
        raise ValueError(f"a {kind} state_dict must be a dict, got {type(state).__name__}")
    if state.get("kind") != kind:
        raise ValueError(f"not a {kind} state_dict: kind is {state.get('kind')!r}")
    if state.get("version") != STATE_VERSION:
        raise ValueError(
            f"unsupported {kind} state_dict version {state.get('version')!r} "
            f"(this version reads {STATE_VERSION})"
        )
    missing = [key for key in keys if key not in state]
    if missing:
        raise ValueError(f"invalid {kind} state_dict: missing {', '.join(missing)}")


def _state_list(value: Any, kind: str, name: str, length: int | None = None) -> list:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        size = "a list" if length is None else f"a list of length {length}"
        raise ValueError(f"invalid {kind} state_dict: {name} must be {size}")
    return value


def _state_ints(
    value: Any, kind: str, name: str, low: int, high: int, length: int | None = None
) -> list[int]:
    values = _state_list(value, kind, name, length)
    if not all(_is_integer(v) and low <= v <= high for v in values):
        raise ValueError(f"invalid {kind} state_dict: {name} must hold integers in {low}..{high}")
    return [int(v) for v in values]


def _state_rewards(value: Any, kind: str, name: str) -> list[float]:
    values = _state_list(value, kind, name)
    if not all(_is_real(v) and not math.isnan(v) for v in values):
        raise ValueError(f"invalid {kind} state_dict: {name} must hold numbers (not NaN)")
    return [float(v) for v in values]


def _state_unique(ids: list[int], kind: str, name: str) -> None:
    if len(set(ids)) != len(ids):
        raise ValueError(f"invalid {kind} state_dict: {name} holds duplicates")
