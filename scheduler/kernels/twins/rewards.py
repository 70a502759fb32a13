"""Twin of ``scheduler._rungs.rewards``: a searcher's latest reward per config row."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator
from typing import Any

__all__ = ["Rewards"]

_NAN = math.nan
_MAX_ROW = 2**40  # a trillion configs: far beyond any run, and no overflow in sizes


class Rewards:
    """Row -> latest reward (finite floats), iterated in the order first recorded.

    A searcher keys what it knows about a config by the config's row in its config
    table (0, 1, 2, ... in the order configs were seen). Rows are non-negative ints;
    the compiled kernel keeps the rewards in a C array of doubles indexed by row (NaN:
    none recorded) and the rows in the order first recorded in a C array of int64s,
    16 bytes per row; this twin keeps the same two arrays in :mod:`array` buffers.
    """

    def __init__(self):
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
        value = self._value[row] if type(row) is int and 0 <= row < len(self._value) else _NAN
        if value != value:
            raise KeyError(row)
        return value

    def get(self, row: int, default: Any = None) -> Any:
        """The reward of ``row``, or ``default`` if none is recorded."""
        value = self._value[row] if type(row) is int and 0 <= row < len(self._value) else _NAN
        return default if value != value else value

    def __setitem__(self, row: int, reward: float) -> None:
        if type(row) is not int or row < 0:
            raise TypeError(f"a row must be an int >= 0, got {row!r}")
        if row >= _MAX_ROW:
            raise ValueError(f"a row must be below 2**40, got {row!r}")
        reward = float(reward)
        if not reward - reward == 0.0:  # NaN or infinite
            raise ValueError(f"a recorded reward must be finite, got {reward!r}")
        value = self._value
        if row >= len(value):
            # grown geometrically, so that recording rows in order costs O(1) each
            value.extend([_NAN] * max(row + 1 - len(value), len(value) // 2))
        old = value[row]
        if old != old:
            self._order.append(row)
        value[row] = reward

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._order))

    def keys(self) -> list[int]:
        """The rows with a reward, in the order first recorded."""
        return list(self._order)

    def values(self) -> list[float]:
        """Their rewards, in the same order."""
        value = self._value
        return [value[row] for row in self._order]

    def items(self) -> list[tuple[int, float]]:
        """``(row, reward)`` pairs, in the same order."""
        value = self._value
        return [(row, value[row]) for row in self._order]

    def best(self, maximize: bool) -> int:
        """The row of the best reward (the first recorded on ties), or -1 if none."""
        best_row, best = -1, 0.0
        value = self._value
        for row in self._order:
            reward = value[row]
            if best_row < 0 or (reward > best if maximize else reward < best):
                best_row, best = row, reward
        return best_row

    def clear(self) -> None:
        """Forget every reward."""
        self._value = array("d")
        self._order = array("q")

    def copy(self) -> Rewards:
        """An independent copy."""
        other = Rewards()
        other._value = array("d", self._value)
        other._order = array("q", self._order)
        return other
