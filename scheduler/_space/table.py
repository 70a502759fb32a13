"""Configs of one search space stored once each, compactly, numbered in order.

A searcher sees every config it proposes and a Hyperband policy keeps every config it
started (to promote it, or to tell the searcher about it later). Kept as dicts, one
config of one float costs about 200 bytes, and recognising a config by its canonical
JSON text (:meth:`SearchSpace.config_key`) costs a JSON encoding per call and another
~150 bytes per config. :class:`ConfigTable` keeps them as fixed-width rows instead:

* a *flat* space (every hyperparameter a leaf :class:`Real`, :class:`Int` or
  :class:`Categorical` with no space among its choices) packs a config into 8 bytes per
  hyperparameter: the float itself for a Real, the integer for an Int, the choice index
  for a Categorical -- the values :meth:`SearchSpace.encode_config` writes, so two
  configs share a row exactly when they share a :meth:`SearchSpace.config_key`;
* with ``index=True`` the rows are found again by an open-addressing hash table of row
  numbers (8 bytes per slot, at most half full): a lookup hashes the packed bytes and
  compares rows byte for byte, so it is exact (no false matches, unlike a bare hash);
* any other config (a nested space, a value outside its domain, extra keys, a space
  that is not flat) is kept as given, found by its canonical key.

Rows come back as new dicts (:meth:`ConfigTable.__getitem__`) equal to the config that
was added. The table is pure data: no I/O, no threads.
"""

from __future__ import annotations

import copy
import math
import struct
from array import array
from collections.abc import Mapping
from typing import Any

from scheduler._space.domains import Categorical, Int, Real

__all__ = ["ConfigTable", "FlatCodec"]

_INT64 = (-(2**63), 2**63 - 1)
_SIMPLE = (str, int, bool, type(None), float)


class _Canonical(bytes):
    """A row packed from a config's canonical form: the config itself may differ from
    what the row decodes to (an int given for a Real), so the table keeps it as given."""


class FlatCodec:
    """Packs the configs of a flat space into fixed-width bytes (8 per hyperparameter).

    :meth:`pack` returns None for a config it cannot pack exactly (the table then keeps
    it as given). Built by :meth:`of`, which returns None for a space that is not flat.
    """

    def __init__(self, space: Any, columns: list[tuple[str, str, Any]]):
        self.space = space
        self.names = tuple(name for name, _, _ in columns)
        self._columns = columns
        self._struct = struct.Struct("<" + "".join("d" if k == "r" else "q" for _, k, _ in columns))
        self.width = self._struct.size
        self._name_set = frozenset(self.names)

    @classmethod
    def of(cls, space: Any) -> FlatCodec | None:
        """The codec of ``space`` (a :class:`SearchSpace`), or None if it is not flat."""
        domains = getattr(space, "domains", None)
        if domains is None or not len(domains):
            return None
        columns: list[tuple[str, str, Any]] = []
        for name, node in domains.items():
            if type(node) is Real:
                columns.append((name, "r", (node.lower, node.upper)))
            elif type(node) is Int:
                if node.lower < _INT64[0] or node.upper > _INT64[1]:
                    return None
                columns.append((name, "i", (node.lower, node.upper)))
            elif isinstance(node, Categorical) and not node.has_spaces:
                forms: dict[tuple[type, Any], int] = {}
                decoded: list[Any] = []
                for i in range(node.cardinality):
                    form = node.config_at(i)
                    decoded.append(form)
                    if type(form) in _SIMPLE and not (type(form) is float and form == 0.0):
                        forms[(type(form), form)] = i
                mutable = any(type(form) not in _SIMPLE for form in decoded)
                columns.append((name, "c" if not mutable else "m", (forms, decoded)))
            else:
                return None
        return cls(space, columns)

    def pack(self, config: Mapping[str, Any]) -> bytes | None:
        """The packed row of ``config``, or None when it has no packed form.

        A row packed from the config's canonical form (not the config as given) is a
        :class:`_Canonical`."""
        if type(config) is not dict or len(config) != len(self._columns):
            return self._pack_slow(config)
        values = []
        for name, kind, extra in self._columns:
            try:
                value = config[name]
            except KeyError:
                return self._pack_slow(config)
            kind_of = type(value)
            if kind == "r":
                if kind_of is not float or not extra[0] <= value <= extra[1]:
                    return self._pack_slow(config)
            elif kind == "i":
                if kind_of is not int or not extra[0] <= value <= extra[1]:
                    return self._pack_slow(config)
            else:
                if kind_of is float and value == 0.0:
                    return self._pack_slow(config)
                try:
                    value = extra[0][(kind_of, value)]
                except (KeyError, TypeError):
                    return self._pack_slow(config)
            values.append(value)
        return self._struct.pack(*values)

    def _pack_slow(self, config: Any) -> bytes | None:
        """Pack through :meth:`SearchSpace.encode_config`: a config whose encoding holds
        exactly the space's names, each a plain leaf value, packs like its canonical
        form (so ``{"x": 1}`` finds the row of ``{"x": 1.0}``, as their keys agree)."""
        if not isinstance(config, Mapping) or set(config) != self._name_set:
            return None
        try:
            encoded = self.space.encode_config(config)
        except (ValueError, TypeError):
            return None
        values = []
        for name, kind, _ in self._columns:
            item = encoded[name]
            if isinstance(item, dict):
                return None  # {"raw": ...}: not a value of its domain
            if kind == "r":
                if type(item) is not float or math.isnan(item):
                    return None
            elif type(item) is not int:
                return None
            values.append(item)
        return _Canonical(self._struct.pack(*values))

    def unpack(self, blob: bytearray, row: int) -> dict[str, Any]:
        """The config of packed row ``row`` of ``blob``."""
        values = self._struct.unpack_from(blob, row * self.width)
        out: dict[str, Any] = {}
        for (name, kind, extra), value in zip(self._columns, values):
            if kind == "r" or kind == "i":
                out[name] = value
            elif kind == "c":
                out[name] = extra[1][value]
            else:
                out[name] = copy.deepcopy(extra[1][value])
        return out


class ConfigTable:
    """Configs numbered 0, 1, 2, ... in the order they were added, stored compactly.

    Parameters
    ----------
    space : SearchSpace or None
        The space the configs belong to; None (or a space that is not flat) keeps every
        config as given.
    index : bool
        Keep a hash index so that :meth:`find` and :meth:`intern` recognise a config
        added before (a searcher's seen configs); without it rows are only appended
        (a policy's configs by config id, where one config may start twice).
    """

    def __init__(self, space: Any = None, *, index: bool = False):
        self.space = space
        self._codec = FlatCodec.of(space) if space is not None else None
        self._width = self._codec.width if self._codec is not None else 0
        self._blob = bytearray()
        self._count = 0
        self._given: dict[int, dict[str, Any]] = {}  # row -> config kept as given
        self._unpacked: set[int] = set()  # rows with no packed form (not in the index)
        self._index = bool(index)
        self._slots = array("q", bytes(8 * 8))  # row + 1 per slot, 0: empty
        self._hashes = array("q")  # per row, the hash of its packed bytes (index only)
        self._mask = 7
        self._given_keys: dict[str, int] = {}  # canonical key -> row, for given configs

    def __len__(self) -> int:
        return self._count

    def __iter__(self):
        return (self[row] for row in range(self._count))

    def __getitem__(self, row: int) -> dict[str, Any]:
        if not 0 <= row < self._count:
            raise IndexError(f"config row must be within [0, {self._count}), got {row!r}")
        given = self._given.get(row) if self._given else None
        if given is not None:
            return dict(given)
        return self._codec.unpack(self._blob, row)  # type: ignore[union-attr]

    @property
    def nbytes(self) -> int:
        """Bytes held by the packed rows and the index (given configs not counted)."""
        return len(self._blob) + 8 * (len(self._slots) + len(self._hashes))

    def append(self, config: Mapping[str, Any]) -> int:
        """Add ``config`` as a new row (even if it was added before); its row number."""
        packed = self._codec.pack(config) if self._codec is not None else None
        return self._add(config, packed)

    def find(self, config: Mapping[str, Any]) -> int:
        """The row of ``config``, or -1 (needs ``index=True``)."""
        packed = self._codec.pack(config) if self._codec is not None else None
        if packed is None:
            return self._given_keys.get(self._key(config), -1)
        return self._probe(packed, hash(packed))[0]

    def intern(self, config: Mapping[str, Any]) -> tuple[int, bool]:
        """``(row, added)``: the row of ``config``, added now if it was not there."""
        packed = self._codec.pack(config) if self._codec is not None else None
        if packed is None:
            key = self._key(config)
            row = self._given_keys.get(key, -1)
            if row >= 0:
                return row, False
            row = self._add(config, None)
            self._given_keys[key] = row
            self._hashes.append(0)
            return row, True
        h = hash(packed)
        row, slot = self._probe(packed, h)
        if row >= 0:
            return row, False
        row = self._add(config, packed)
        self._hashes.append(h)
        self._slots[slot] = row + 1
        if 2 * self._count > len(self._slots):
            self._grow()
        return row, True

    def copy(self) -> ConfigTable:
        """An independent copy (buffers copied at memcpy speed)."""
        other = ConfigTable.__new__(ConfigTable)
        other.__dict__.update(self.__dict__)
        other._blob = bytearray(self._blob)
        other._given = dict(self._given)
        other._unpacked = set(self._unpacked)
        other._slots = array("q", self._slots)
        other._hashes = array("q", self._hashes)
        other._given_keys = dict(self._given_keys)
        return other

    # -- internals ------------------------------------------------------------------

    def _key(self, config: Any) -> str:
        if self.space is None:
            from scheduler._space._canonical import canonical_key

            return canonical_key(config)
        return self.space.config_key(config)

    def _add(self, config: Mapping[str, Any], packed: bytes | None) -> int:
        row = self._count
        if packed is None:
            self._given[row] = dict(config)
            self._unpacked.add(row)
            if self._width:
                self._blob += bytes(self._width)
        else:
            self._blob += packed
            if type(packed) is _Canonical:
                # packed from the canonical form (an int given for a Real, a numpy
                # scalar...): keep the config as given, so that it comes back unchanged
                self._given[row] = dict(config)
        self._count = row + 1
        return row

    def _probe(self, packed: bytes, h: int) -> tuple[int, int]:
        """``(row, slot)``: the row holding ``packed`` (whose hash is ``h``; -1 if none)
        and the slot where the probe ended (the empty slot to fill when absent)."""
        if not self._index:
            raise TypeError("ConfigTable(index=False) cannot look configs up")
        slots, mask, blob, width = self._slots, self._mask, self._blob, self._width
        i = h & mask
        perturb = h & 0xFFFFFFFFFFFFFFFF
        while True:
            entry = slots[i]
            if entry == 0:
                return -1, i
            offset = (entry - 1) * width
            if blob[offset : offset + width] == packed:
                return entry - 1, i
            perturb >>= 5
            i = (5 * i + 1 + perturb) & mask

    def _grow(self) -> None:
        """Double the index (kept at most half full), from the stored hashes: rows are
        not hashed again."""
        size = 2 * len(self._slots)
        slots = array("q", bytes(8 * size))
        mask = size - 1
        unpacked = self._unpacked
        for row, h in enumerate(self._hashes):
            if unpacked and row in unpacked:
                continue
            i = h & mask
            perturb = h & 0xFFFFFFFFFFFFFFFF
            while slots[i]:
                perturb >>= 5
                i = (5 * i + 1 + perturb) & mask
            slots[i] = row + 1
        self._slots, self._mask = slots, mask
