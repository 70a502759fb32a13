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
* the rows, the index, packing, unpacking and drawing a config live in the
  :class:`~scheduler.kernels.FlatRows` kernel (compiled; a pure-Python twin under
  ``SCHEDULER_NO_EXTENSIONS=1``), a fraction of a microsecond per call;
* any other config (a nested space, a value outside its domain, extra keys, a space
  that is not flat) is kept as given, found by its canonical key.

Rows come back as new dicts (:meth:`ConfigTable.__getitem__`) equal to the config that
was added. The table is pure data: no I/O, no threads.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from typing import Any

# the packed rows are a kernel (compiled, with a pure-Python twin): the one import of a
# layer from the shared modules, allowed by name in the import contracts
from scheduler import kernels as _kernels
from scheduler._space.domains import Categorical, Int, Real
from scheduler._space.search_space import SearchSpace

__all__ = ["ConfigTable", "FlatCodec"]

_INT64 = (-(2**63), 2**63 - 1)
_SIMPLE = (str, int, bool, type(None), float)
# the largest range an Int column is drawn from by the kernel: Generator.integers(n)
# takes n < 2**63 (beyond that the space's own sample raises, and is left to)
_MAX_DRAWN = 2**63 - 1


class FlatCodec:
    """The columns of a flat space for :class:`~scheduler.kernels.FlatRows` (8 bytes
    per hyperparameter), and the canonical packing of configs the kernel does not pack.

    Built by :meth:`of`, which returns None for a space that is not flat.
    """

    def __init__(self, space: Any, columns: list[tuple[str, str, tuple]], samples: bool):
        self.space = space
        self.names = tuple(name for name, _, _ in columns)
        self.columns = columns
        #: whether the kernel draws configs as ``space.sample`` does
        self.samples = samples
        self._struct = struct.Struct("<" + "".join("d" if k == "r" else "q" for _, k, _ in columns))
        self.width = self._struct.size
        self._name_set = frozenset(self.names)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_struct"]  # a struct.Struct does not pickle: rebuilt from the format
        state["_format"] = self._struct.format
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        self._struct = struct.Struct(state.pop("_format"))
        self.__dict__.update(state)

    @classmethod
    def of(cls, space: Any) -> FlatCodec | None:
        """The codec of ``space`` (a :class:`SearchSpace`), or None if it is not flat."""
        domains = getattr(space, "domains", None)
        if domains is None or not len(domains):
            return None
        columns: list[tuple[str, str, tuple]] = []
        # the kernel draws as SearchSpace.sample does, not as a subclass's own sample
        samples = getattr(type(space), "sample", None) is SearchSpace.sample
        for name, node in domains.items():
            if type(node) is Real:
                a, b = node._ends
                bounds = (float(node.lower), float(node.upper), float(a), float(b))
                columns.append((name, "r", (*bounds, bool(node.log))))
            elif type(node) is Int:
                if node.lower < _INT64[0] or node.upper > _INT64[1]:
                    return None
                samples = samples and node.cardinality <= _MAX_DRAWN
                columns.append((name, "i", (int(node.lower), int(node.upper))))
            elif isinstance(node, Categorical) and not node.has_spaces:
                if type(node).sample_config is not Categorical.sample_config:
                    samples = False
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
        return cls(space, columns, samples)

    def pack_canonical(self, config: Any) -> bytes | None:
        """The row of a config the kernel does not pack, from its canonical form
        (:meth:`SearchSpace.encode_config`), or None when that is no row either.

        A config whose encoding holds exactly the space's names, each a plain leaf
        value, packs like its canonical form (so ``{"x": 1}`` finds the row of
        ``{"x": 1.0}``, as their keys agree); the table keeps such a config as given."""
        if not isinstance(config, Mapping) or set(config) != self._name_set:
            return None
        try:
            encoded = self.space.encode_config(config)
        except (ValueError, TypeError):
            return None
        values = []
        for name, kind, _ in self.columns:
            item = encoded[name]
            if isinstance(item, dict):
                return None  # {"raw": ...}: not a value of its domain
            if kind == "r":
                if type(item) is not float or math.isnan(item):
                    return None
            elif type(item) is not int:
                return None
            values.append(item)
        return self._struct.pack(*values)


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
        self._rows = (
            _kernels.FlatRows(self._codec.columns, index) if self._codec is not None else None
        )
        self._given: dict[int, dict[str, Any]] = {}  # row -> config kept as given
        self._index = bool(index)
        self._given_keys: dict[str, int] = {}  # canonical key -> row, for given configs
        self._draws = self._codec is not None and self._codec.samples

    @property
    def intern_packable(self) -> Any:
        """The kernel's ``intern``: ``(row, added)`` for a config it packs, None for
        any other (then call :meth:`intern`); None when there is no kernel (a space
        that is not flat, or no index). One call instead of two on the hot path."""
        rows = self._rows
        return rows.intern if rows is not None and self._index else None

    def __len__(self) -> int:
        rows = self._rows
        return len(self._given) if rows is None else len(rows)

    def __iter__(self):
        return (self[row] for row in range(len(self)))

    def __getitem__(self, row: int) -> dict[str, Any]:
        if self._given:
            given = self._given.get(row)
            if given is not None:
                return dict(given)
        rows = self._rows
        if rows is None or type(row) is not int or not 0 <= row < len(rows):
            raise IndexError(f"config row must be within [0, {len(self)}), got {row!r}")
        return rows.get(row)

    @property
    def nbytes(self) -> int:
        """Bytes held by the packed rows and the index (given configs not counted)."""
        return 0 if self._rows is None else self._rows.nbytes

    @property
    def sampler(self) -> Any:
        """:meth:`sample` as one callable: the kernel's own when the space is flat."""
        if self._draws:
            return self._rows.sample  # type: ignore[union-attr]
        return self.sample

    @property
    def append_packable(self) -> Any:
        """The kernel's ``append``: the new row of a config it packs, -1 for any other
        (then call :meth:`append`); None when there is no kernel."""
        return None if self._rows is None else self._rows.append

    def sample(self, rng: Any) -> dict[str, Any]:
        """A config of the space drawn from ``rng`` (a ``numpy.random.Generator``),
        exactly as :meth:`SearchSpace.sample` draws it (the same draws, the same
        config), by the kernel when the space is flat."""
        if self._draws:
            return self._rows.sample(rng)  # type: ignore[union-attr]
        if self.space is None:
            raise TypeError("ConfigTable(None) has no space to draw configs from")
        return self.space.sample(rng)

    def append(self, config: Mapping[str, Any]) -> int:
        """Add ``config`` as a new row (even if it was added before); its row number."""
        rows = self._rows
        if rows is not None:
            row = rows.append(config)
            if row >= 0:
                return row
            packed = self._codec.pack_canonical(config)  # type: ignore[union-attr]
            row = rows.append_blank() if packed is None else rows.append_packed(packed)
        else:
            row = len(self._given)
        # packed from the canonical form (an int given for a Real, a numpy scalar...) or
        # not at all: keep the config as given, so that it comes back unchanged
        self._given[row] = dict(config)
        return row

    def find(self, config: Mapping[str, Any]) -> int:
        """The row of ``config``, or -1 (needs ``index=True``)."""
        if not self._index:
            raise TypeError("ConfigTable(index=False) cannot look configs up")
        rows = self._rows
        if rows is not None:
            row = rows.find(config)
            if row != -2:
                return row
            packed = self._codec.pack_canonical(config)  # type: ignore[union-attr]
            if packed is not None:
                return rows.find_packed(packed)
        return self._given_keys.get(self._key(config), -1)

    def intern(self, config: Mapping[str, Any]) -> tuple[int, bool]:
        """``(row, added)``: the row of ``config``, added now if it was not there."""
        if not self._index:
            raise TypeError("ConfigTable(index=False) cannot look configs up")
        rows = self._rows
        if rows is not None:
            found = rows.intern(config)
            if found is not None:
                return found
            packed = self._codec.pack_canonical(config)  # type: ignore[union-attr]
            if packed is not None:
                row, added = rows.intern_packed(packed)
                if added:
                    self._given[row] = dict(config)
                return row, added
        key = self._key(config)
        row = self._given_keys.get(key, -1)
        if row >= 0:
            return row, False
        row = len(self._given) if rows is None else rows.append_blank()
        self._given[row] = dict(config)
        self._given_keys[key] = row
        return row, True

    def copy(self) -> ConfigTable:
        """An independent copy (buffers copied at memcpy speed)."""
        other = ConfigTable.__new__(ConfigTable)
        other.__dict__.update(self.__dict__)
        other._rows = None if self._rows is None else self._rows.copy()
        other._given = dict(self._given)
        other._given_keys = dict(self._given_keys)
        return other

    # -- internals ------------------------------------------------------------------

    def _key(self, config: Any) -> str:
        if self.space is None:
            from scheduler._space._canonical import canonical_key

            return canonical_key(config)
        return self.space.config_key(config)
