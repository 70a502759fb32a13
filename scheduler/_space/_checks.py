"""Argument checks shared by the domains (errors name the owner, the parameter, the rule
and the value)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = ["integer", "num_points", "real_number", "unit"]


def real_number(owner: str, name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{owner}: {name} must be a real number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{owner}: {name} must be finite, got {value!r}")
    return number


def integer(owner: str, name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{owner}: {name} must be an integer, got {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and value == int(value):
        return int(value)
    raise ValueError(f"{owner}: {name} must be an integer, got {value!r}")


def num_points(owner: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{owner}: num_points must be an integer >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{owner}: num_points must be >= 1, got {value!r}")
    return int(value)


def unit(owner: str, u: Any) -> float:
    if type(u) is float and u == u:  # the common case: no ABC check
        return min(max(u, 0.0), 1.0)
    if isinstance(u, (bool, np.bool_)) or not isinstance(u, numbers.Real):
        raise ValueError(f"{owner}.from_unit: u must be a real number, got {u!r}")
    number = float(u)
    if math.isnan(number):
        raise ValueError(f"{owner}.from_unit: u must not be NaN, got {u!r}")
    return min(max(number, 0.0), 1.0)
