"""Argument validators shared by every layer: each error names the parameter, the rule
and the value ("num_trials must be a positive integer, got 0").

Booleans are never numbers here (``True`` is not a valid ``num_trials``), and neither
are numpy booleans. Imports nothing of ``scheduler``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Collection
from typing import Any, Literal, TypeGuard, overload

import numpy as np

__all__ = [
    "choice",
    "integer",
    "is_integer",
    "is_real",
    "non_negative_number",
    "positive_int",
    "positive_number",
    "real",
]


def is_integer(value: Any) -> TypeGuard[int]:
    """An integral number that is not a bool (to a type checker: an int)."""
    if type(value) is int:
        return True  # the common case, without the ABC check
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_real(value: Any) -> TypeGuard[float]:
    """A real number (int, float, numpy scalar) that is not a bool (to a type checker:
    a float)."""
    if type(value) is float or type(value) is int:
        return True  # the common case, without the ABC check
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def integer(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int, which must be ``>= minimum``."""
    if not is_integer(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


@overload
def positive_int(name: str, value: Any, *, allow_none: Literal[False] = False) -> int: ...
@overload
def positive_int(name: str, value: Any, *, allow_none: bool) -> int | None: ...
def positive_int(name: str, value: Any, *, allow_none: bool = False) -> int | None:
    """``value`` as an int >= 1 (or None when ``allow_none``)."""
    if value is None and allow_none:
        return None
    if not is_integer(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


@overload
def positive_number(name: str, value: Any, *, allow_none: Literal[False] = False) -> float: ...
@overload
def positive_number(name: str, value: Any, *, allow_none: bool) -> float | None: ...
def positive_number(name: str, value: Any, *, allow_none: bool = False) -> float | None:
    """``value`` as a float > 0 (or None when ``allow_none``)."""
    if value is None and allow_none:
        return None
    if not is_real(value) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def non_negative_number(name: str, value: Any, *, what: str = "a number >= 0") -> float:
    """``value`` as a float >= 0 (NaN refused)."""
    if not is_real(value) or not value >= 0:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return float(value)


def real(name: str, value: Any, rule: str, ok: Callable[[float], bool] = lambda x: True) -> float:
    """``value`` as a finite float for which ``ok(value)`` holds; ``rule`` says what is
    expected ("a number in (0, 1]")."""
    if not is_real(value) or not math.isfinite(value) or not ok(float(value)):
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return float(value)


def choice(name: str, value: Any, choices: Collection[Any]) -> Any:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value
