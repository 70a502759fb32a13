"""Twin of ``scheduler._rungs.rows``: configs of a flat space packed into fixed-width
rows, found again by an exact hash index, and drawn as the space draws them."""

from __future__ import annotations

import copy
import struct
from collections.abc import Sequence
from typing import Any

__all__ = ["FlatRows"]

_KINDS = ("r", "i", "c", "m")


def _check_columns(columns: Any) -> list[tuple[str, str, tuple]]:
    """The columns as ``(name, kind, info)`` tuples, or ValueError naming the bad one."""
    if not isinstance(columns, Sequence) or isinstance(columns, (str, bytes)) or not columns:
        raise ValueError(f"columns must be a non-empty sequence of columns, got {columns!r}")
    checked = []
    names = set()
    for position, column in enumerate(columns):
        if not isinstance(column, tuple) or len(column) != 3:
            raise ValueError(
                f"columns[{position}] must be a tuple (name, kind, info), got {column!r}"
            )
        name, kind, info = column
        if type(name) is not str:
            raise ValueError(f"columns[{position}]: name must be a str, got {name!r}")
        if name in names:
            raise ValueError(f"columns[{position}]: name {name!r} names an earlier column too")
        names.add(name)
        if kind not in _KINDS:
            raise ValueError(
                f"columns[{position}]: kind must be one of {list(_KINDS)}, got {kind!r}"
            )
        sizes = {"r": 5, "i": 2, "c": 2, "m": 2}
        if not isinstance(info, tuple) or len(info) != sizes[kind]:
            raise ValueError(
                f"columns[{position}]: info of kind {kind!r} must be a tuple of "
                f"{sizes[kind]} items, got {info!r}"
            )
        if kind == "r":
            if not all(type(v) is float for v in info[:4]) or not info[0] <= info[1]:
                raise ValueError(
                    f"columns[{position}]: info of kind 'r' must start with 4 floats, "
                    f"lower <= upper, got {info!r}"
                )
        elif kind == "i":
            if (
                type(info[0]) is not int
                or type(info[1]) is not int
                or not -(2**63) <= info[0] <= info[1] < 2**63
            ):
                raise ValueError(
                    f"columns[{position}]: info of kind 'i' must be two ints with "
                    f"-2**63 <= lower <= upper < 2**63, got {info!r}"
                )
        else:
            forms, decoded = info
            if type(forms) is not dict or type(decoded) is not list or not decoded:
                raise ValueError(
                    f"columns[{position}]: info of kind {kind!r} must be (dict, non-empty "
                    f"list), got {info!r}"
                )
            if not all(type(i) is int and 0 <= i < len(decoded) for i in forms.values()):
                raise ValueError(
                    f"columns[{position}]: every index in forms must be an int in "
                    f"[0, {len(decoded)}), got {list(forms.values())!r}"
                )
            info = (dict(forms), list(decoded))  # the kernel's own: the caller's may change
        checked.append((name, kind, info))
    return checked


class FlatRows:
    """Configs of a flat space as packed rows of 8 bytes per column, numbered 0, 1, 2, ...

    Parameters
    ----------
    columns : sequence of (name, kind, info)
        One per hyperparameter, in the space's order. ``kind`` is ``"r"`` (a float
        in ``[lower, upper]``; ``info = (lower, upper, end_a, end_b, log)``, where the
        draw is ``end_a * (1 - t) + end_b * t``, then ``10 ** x`` when ``log``),
        ``"i"`` (an int in ``[lower, upper]``; ``info = (lower, upper)``), ``"c"`` (a
        choice of immutable values; ``info = (forms, decoded)``: ``(type, value) ->
        index`` and index -> value) or ``"m"`` (like ``"c"``, values deep-copied).
    index : bool
        Keep an exact hash index of the rows (:meth:`find`, :meth:`intern`); rows
        appended without it are never looked up.

    A row packs the float of an ``"r"`` column as a double, the int of an ``"i"``
    column and the choice index of a ``"c"`` column as int64s. :meth:`pack` packs
    only a ``dict`` with exactly the columns' names whose values have exactly the
    column's type (float, int, a key of ``forms``; never ``0.0`` for a choice, whose
    sign would be lost) and lie in range; anything else is the caller's to handle.
    The compiled kernel keeps the rows in one C buffer and the index as an
    open-addressing table of row numbers (at most half full) over a 64-bit hash of
    the row's bytes, compared byte for byte; this twin uses a ``bytearray`` and a
    dict from row bytes to row.
    """

    def __init__(self, columns, index=False):
        if "_columns" in self.__dict__:
            raise TypeError("FlatRows.__init__ runs once: build a new FlatRows instead")
        self._columns = _check_columns(columns)
        self._index_on = bool(index)
        self._struct = struct.Struct(
            "<" + "".join("d" if kind == "r" else "q" for _, kind, _ in self._columns)
        )
        self._width = self._struct.size
        self._blob = bytearray()
        self._count = 0
        self._rows: dict[bytes, int] = {}  # row bytes -> row, for indexed rows

    @property
    def width(self) -> int:
        """Bytes per row (8 per column)."""
        return self._width

    @property
    def indexed(self) -> bool:
        return self._index_on

    @property
    def nbytes(self) -> int:
        """Bytes held by the rows (``width`` each) and, with the index, 8 per slot of a
        table at most half full and 9 per row (its hash and a flag)."""
        if not self._index_on:
            return self._count * self._width
        slots = 8
        while 2 * len(self._rows) > slots:
            slots *= 2
        return self._count * (self._width + 9) + 8 * slots

    def __len__(self) -> int:
        return self._count

    def pack(self, config: Any) -> bytes | None:
        """The row of ``config``, or None when it has no packed form of its own."""
        if type(config) is not dict or len(config) != len(self._columns):
            return None
        values = []
        for name, kind, info in self._columns:
            if name not in config:
                return None
            value = config[name]
            kind_of = type(value)
            if kind == "r":
                if kind_of is not float or not info[0] <= value <= info[1]:
                    return None
            elif kind == "i":
                if kind_of is not int or not info[0] <= value <= info[1]:
                    return None
            else:
                if kind_of is float and value == 0.0:
                    return None
                try:
                    value = info[0][(kind_of, value)]
                except (KeyError, TypeError):
                    return None
            values.append(value)
        return self._struct.pack(*values)

    def _check_packed(self, packed: Any) -> bytes:
        if type(packed) is not bytes and not isinstance(packed, bytes):
            raise TypeError(f"packed must be bytes, got {type(packed).__name__}")
        if len(packed) != self._width:
            raise ValueError(f"packed must be {self._width} bytes long, got {len(packed)}")
        packed = bytes(packed)
        self._check_choices(packed)
        return packed

    def _check_choices(self, packed: bytes) -> None:
        """ValueError unless each choice column of ``packed`` holds an index of a choice."""
        values = self._struct.unpack(packed)
        for (name, kind, info), value in zip(self._columns, values):
            if kind in ("c", "m") and not 0 <= value < len(info[1]):
                raise ValueError(
                    f"packed: column {name!r} holds choice index {value}, "
                    f"outside [0, {len(info[1])})"
                )

    def _require_index(self) -> None:
        if not self._index_on:
            raise TypeError("FlatRows(index=False) cannot look rows up")

    def append_packed(self, packed: bytes) -> int:
        """Add ``packed`` as a new row (indexed, if the index is on and no row holds
        these bytes yet); its row number."""
        packed = self._check_packed(packed)
        row = self._count
        self._blob += packed
        self._count = row + 1
        if self._index_on:
            self._rows.setdefault(packed, row)
        return row

    def append_blank(self) -> int:
        """Add a row of zeros that is never indexed (a config kept elsewhere)."""
        row = self._count
        self._blob += bytes(self._width)
        self._count = row + 1
        return row

    def find_packed(self, packed: bytes) -> int:
        """The row holding ``packed``, or -1."""
        self._require_index()
        return self._rows.get(self._check_packed(packed), -1)

    def intern_packed(self, packed: bytes) -> tuple[int, bool]:
        """``(row, added)``: the row holding ``packed``, added now if there was none."""
        self._require_index()
        packed = self._check_packed(packed)
        row = self._rows.get(packed, -1)
        if row >= 0:
            return row, False
        return self.append_packed(packed), True

    def append(self, config: Any) -> int:
        """:meth:`append_packed` of ``config``'s row, or -1 if it has none."""
        packed = self.pack(config)
        return -1 if packed is None else self.append_packed(packed)

    def find(self, config: Any) -> int:
        """The row of ``config``: -1 if absent, -2 if it has no packed form."""
        self._require_index()
        packed = self.pack(config)
        return -2 if packed is None else self._rows.get(packed, -1)

    def intern(self, config: Any) -> tuple[int, bool] | None:
        """``(row, added)`` for ``config`` (:meth:`intern_packed`), or None if it has
        no packed form."""
        self._require_index()
        packed = self.pack(config)
        return None if packed is None else self.intern_packed(packed)

    def packed(self, row: int) -> bytes:
        """The bytes of row ``row``."""
        self._check_row(row)
        return bytes(self._blob[row * self._width : (row + 1) * self._width])

    def get(self, row: int) -> dict[str, Any]:
        """The config of row ``row``, a new dict (deep copies for ``"m"`` columns)."""
        self._check_row(row)
        values = self._struct.unpack_from(self._blob, row * self._width)
        out: dict[str, Any] = {}
        for (name, kind, info), value in zip(self._columns, values):
            if kind == "r" or kind == "i":
                out[name] = value
            elif kind == "c":
                out[name] = info[1][value]
            else:
                out[name] = copy.deepcopy(info[1][value])
        return out

    def _check_row(self, row: Any) -> None:
        if type(row) is not int or not 0 <= row < self._count:
            raise IndexError(f"row must be within [0, {self._count}), got {row!r}")

    def sample(self, rng: Any) -> dict[str, Any]:
        """A config drawn from ``rng`` (a ``numpy.random.Generator``) exactly as the
        space's ``sample`` draws it, column by column: ``rng.random()`` for an ``"r"``
        column, ``rng.integers(upper - lower + 1)`` for an ``"i"`` column,
        ``rng.integers(len(decoded))`` for a choice."""
        out: dict[str, Any] = {}
        for name, kind, info in self._columns:
            if kind == "r":
                lower, upper, a, b, log = info
                t = rng.random()
                x = a * (1.0 - t) + b * t
                if log:
                    x = lower if t == 0.0 else 10.0**x
                out[name] = min(max(x, lower), upper)
            elif kind == "i":
                if info[1] - info[0] + 1 > 2**63 - 1:
                    raise ValueError(
                        f"columns[{len(out)}]: cannot draw from an int range of "
                        f"{info[1] - info[0] + 1} values (at most 2**63 - 1)"
                    )
                out[name] = info[0] + int(rng.integers(info[1] - info[0] + 1))
            elif kind == "c":
                out[name] = info[1][int(rng.integers(len(info[1])))]
            else:
                out[name] = copy.deepcopy(info[1][int(rng.integers(len(info[1])))])
        return out

    def copy(self) -> FlatRows:
        """An independent copy."""
        other = FlatRows.__new__(FlatRows)
        other.__dict__.update(self.__dict__)
        other._blob = bytearray(self._blob)
        other._rows = dict(self._rows)
        return other

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        width = self._width
        flags = bytes(
            1 if self._rows.get(bytes(self._blob[r * width : (r + 1) * width])) == r else 0
            for r in range(self._count)
        )
        return (_rebuild, (self._columns, self._index_on, bytes(self._blob), flags))


def _rebuild(columns: Any, index: Any, blob: Any, flags: Any) -> FlatRows:
    """A FlatRows from :meth:`FlatRows.__reduce__`'s data (pickling)."""
    table = FlatRows(columns, index)
    width = table._width
    if type(blob) is not bytes or len(blob) != len(flags) * width:
        raise ValueError(
            f"FlatRows pickle: {len(flags)} rows of {width} bytes need {len(flags) * width} "
            f"bytes, got {len(blob)}"
        )
    for r in range(len(flags)):
        packed = table._check_packed(blob[r * width : (r + 1) * width])
        table._blob += packed
        table._count += 1
        if index and flags[r]:
            table._rows[packed] = r
    return table
