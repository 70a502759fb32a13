"""Compact per-config records of a searcher, keyed by the row of its config table.

A searcher keys what it knows about a config by the config's row in its
:class:`~scheduler.space.ConfigTable` (0, 1, 2, ... in the order configs were seen).
Kept in dicts, a reward costs about 80 bytes per config (the dict slot, an int key and a
float); :class:`Rewards` keeps it in two arrays (16 bytes), and :class:`SeenIndex` the
position of each config in a finite space (nothing at all for an infinite space).
Both behave as the read-only mappings the searchers used before (``key in``,
``[key]``, ``items()``, ``values()``, iteration in order, ``len``).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator
from typing import Any

__all__ = ["Rewards", "SeenIndex"]

_NAN = math.nan


class Rewards:
    """Row -> latest reward (finite floats), iterated in the order first recorded."""

    def __init__(self) -> None:
        self._value = array("d")  # per row, NaN: none recorded
        self._order = array("q")  # rows in the order first recorded

    def __len__(self) -> int:
        return len(self._order)

    def __bool__(self) -> bool:
        return bool(self._order)

    def __contains__(self, row: object) -> bool:
        value = self._value
        return type(row) is int and 0 <= row < len(value) and value[row] == value[row]

    def __getitem__(self, row: int) -> float:
        value = self._value[row] if 0 <= row < len(self._value) else _NAN
        if value != value:
            raise KeyError(row)
        return value

    def get(self, row: int, default: Any = None) -> Any:
        value = self._value[row] if type(row) is int and 0 <= row < len(self._value) else _NAN
        return default if value != value else value

    def __setitem__(self, row: int, reward: float) -> None:
        if not reward - reward == 0.0:  # NaN or infinite
            raise ValueError(f"a recorded reward must be finite, got {reward!r}")
        value = self._value
        if row >= len(value):
            # grown geometrically, so that recording rows in order costs O(1) each
            value.extend([_NAN] * max(row + 1 - len(value), len(value) // 4))
        old = value[row]
        if old != old:
            self._order.append(row)
        value[row] = reward

    def __iter__(self) -> Iterator[int]:
        return iter(self._order)

    def keys(self) -> list[int]:
        return list(self._order)

    def values(self) -> list[float]:
        value = self._value
        return [value[row] for row in self._order]

    def items(self) -> list[tuple[int, float]]:
        value = self._value
        return [(row, value[row]) for row in self._order]

    def clear(self) -> None:
        self._value = array("d")
        self._order = array("q")


class SeenIndex:
    """Row -> index of the config in a finite space (None if it is not in it), for every
    seen config; in an infinite space every index is None and nothing is stored."""

    def __init__(self, finite: bool) -> None:
        self._finite = finite
        self._indices: list[int | None] = []
        self._count = 0

    def add(self, index: int | None) -> None:
        if self._finite:
            self._indices.append(index)
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __contains__(self, row: object) -> bool:
        return type(row) is int and 0 <= row < self._count

    def __iter__(self) -> Iterator[int]:
        return iter(range(self._count))

    def __getitem__(self, row: int) -> int | None:
        if not 0 <= row < self._count:
            raise KeyError(row)
        return self._indices[row] if self._finite else None

    def values(self) -> list[int | None]:
        return list(self._indices) if self._finite else [None] * self._count
