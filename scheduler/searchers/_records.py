"""Compact per-config records of a searcher, keyed by the row of its config table.

A searcher keys what it knows about a config by the config's row in its
:class:`~scheduler.space.ConfigTable` (0, 1, 2, ... in the order configs were seen).
Kept in dicts, a reward costs about 80 bytes per config (the dict slot, an int key and a
float); :class:`~scheduler.kernels.Rewards` (a kernel: compiled, with a twin) keeps it in
two arrays (16 bytes), and :class:`SeenIndex` the
position of each config in a finite space (nothing at all for an infinite space).
Both behave as the read-only mappings the searchers used before (``key in``,
``[key]``, ``items()``, ``values()``, iteration in order, ``len``).
"""

from __future__ import annotations

from collections.abc import Iterator

from scheduler.kernels import Rewards

__all__ = ["Rewards", "SeenIndex"]


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
