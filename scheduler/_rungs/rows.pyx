"""Configs of a flat space packed into fixed-width rows (compiled).

Twin: :class:`scheduler.kernels.twins.rows.FlatRows` (same signatures, docstrings,
error texts, rows, lookups and draws).
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItemWithError, PyDict_New, PyDict_SetItem, PyDict_Size
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_FromDouble
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_FromLongLong
from cpython.object cimport PyObject
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.math cimport pow
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy, memset

from scheduler._rungs._mem cimport grown_capacity, release, resized

import copy as _copy
from collections.abc import Sequence

from scheduler._rungs.levels import _constructor_signature

__all__ = ["FlatRows"]

cdef extern from *:
    """
    #include <stdint.h>
    /* numpy.random's bitgen_t (numpy/random/bitgen.h), the struct a BitGenerator's
       capsule holds: its layout is part of numpy's public C API. */
    typedef struct {
        void *state;
        uint64_t (*next_uint64)(void *st);
        uint32_t (*next_uint32)(void *st);
        double (*next_double)(void *st);
        uint64_t (*next_raw)(void *st);
    } scheduler_bitgen_t;

    /* Generator.integers(rng + 1) for a scalar int64: numpy's random_bounded_uint64
       with use_masked=False (Lemire's method, 32-bit draws when the range fits). */
    static uint64_t scheduler_bounded(scheduler_bitgen_t *g, uint64_t rng) {
        if (rng == 0) return 0;
        if (rng <= 0xFFFFFFFFULL) {
            if (rng == 0xFFFFFFFFULL) return (uint64_t)g->next_uint32(g->state);
            const uint32_t excl = (uint32_t)rng + 1;
            uint64_t m = (uint64_t)g->next_uint32(g->state) * excl;
            uint32_t leftover = (uint32_t)(m & 0xFFFFFFFFULL);
            if (leftover < excl) {
                const uint32_t threshold = (UINT32_MAX - (uint32_t)rng) % excl;
                while (leftover < threshold) {
                    m = (uint64_t)g->next_uint32(g->state) * excl;
                    leftover = (uint32_t)(m & 0xFFFFFFFFULL);
                }
            }
            return m >> 32;
        }
        if (rng == 0xFFFFFFFFFFFFFFFFULL) return g->next_uint64(g->state);
        const uint64_t excl = rng + 1;
        unsigned __int128 m = (unsigned __int128)g->next_uint64(g->state) * excl;
        uint64_t leftover = (uint64_t)m;
        if (leftover < excl) {
            const uint64_t threshold = (UINT64_MAX - rng) % excl;
            while (leftover < threshold) {
                m = (unsigned __int128)g->next_uint64(g->state) * excl;
                leftover = (uint64_t)m;
            }
        }
        return (uint64_t)(m >> 64);
    }

    static double scheduler_next_double(scheduler_bitgen_t *g) {
        return g->next_double(g->state);
    }
    """
    ctypedef struct scheduler_bitgen_t:
        pass
    uint64_t scheduler_bounded(scheduler_bitgen_t* g, uint64_t rng) noexcept
    double scheduler_next_double(scheduler_bitgen_t* g) noexcept

cdef enum:
    # rows up to this many bytes are packed into a buffer on the C stack (a lookup is
    # re-entrant: packing may run Python code, a key's __eq__, that uses the table)
    LOCAL_WIDTH = 512
    KIND_R = 0
    KIND_I = 1
    KIND_C = 2
    KIND_M = 3

_KINDS = ("r", "i", "c", "m")
_KIND_CODES = {"r": KIND_R, "i": KIND_I, "c": KIND_C, "m": KIND_M}


def _check_columns(columns):
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


cdef inline uint64_t _hash_row(const char* row, Py_ssize_t width) noexcept nogil:
    """A 64-bit hash of a row's bytes (8-byte words, mixed as splitmix64 finalizes)."""
    cdef uint64_t h = <uint64_t>0x243F6A8885A308D3 ^ <uint64_t>width
    cdef uint64_t word
    cdef Py_ssize_t k
    for k in range(0, width, 8):
        memcpy(&word, row + k, 8)
        h ^= word
        h = (h ^ (h >> 30)) * <uint64_t>0xBF58476D1CE4E5B9
        h = (h ^ (h >> 27)) * <uint64_t>0x94D049BB133111EB
        h ^= h >> 31
    return h


cdef class FlatRows:
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

    __signature__ = _constructor_signature("columns", index=False)

    def __dealloc__(self):
        release(self._kinds)
        release(self._lo)
        release(self._hi)
        release(self._end_a)
        release(self._end_b)
        release(self._log)
        release(self._ilo)
        release(self._ihi)
        release(self._blob)
        release(self._slots)
        release(self._hashes)
        release(self._isindexed)

    def __init__(self, columns, index=False):
        if self._names is not None:
            raise TypeError("FlatRows.__init__ runs once: build a new FlatRows instead")
        checked = _check_columns(columns)
        cdef Py_ssize_t n = len(checked)
        self._columns = checked
        self._names = tuple(name for name, _, _ in checked)
        self._ncols = n
        self._width = 8 * n
        self._index_on = bool(index)
        self._kinds = <int*>resized(self._kinds, n * sizeof(int))
        self._lo = <double*>resized(self._lo, n * sizeof(double))
        self._hi = <double*>resized(self._hi, n * sizeof(double))
        self._end_a = <double*>resized(self._end_a, n * sizeof(double))
        self._end_b = <double*>resized(self._end_b, n * sizeof(double))
        self._log = <uint8_t*>resized(self._log, n * sizeof(uint8_t))
        self._ilo = <int64_t*>resized(self._ilo, n * sizeof(int64_t))
        self._ihi = <int64_t*>resized(self._ihi, n * sizeof(int64_t))
        self._forms = [None] * n
        self._decoded = [None] * n
        cdef Py_ssize_t j
        cdef int kind
        for j in range(n):
            _, kind_name, info = checked[j]
            kind = _KIND_CODES[kind_name]
            self._kinds[j] = kind
            if kind == KIND_R:
                self._lo[j], self._hi[j] = float(info[0]), float(info[1])
                self._end_a[j], self._end_b[j] = float(info[2]), float(info[3])
                self._log[j] = 1 if info[4] else 0
            elif kind == KIND_I:
                self._ilo[j], self._ihi[j] = int(info[0]), int(info[1])
            else:
                self._forms[j], self._decoded[j] = info[0], info[1]
        self._count = 0
        self._capacity = 0
        self._nslots = 0
        self._nindexed = 0
        if self._index_on:
            self._nslots = 8
            self._slots = <int64_t*>resized(self._slots, 8 * sizeof(int64_t))
            memset(self._slots, 0, 8 * sizeof(int64_t))

    @property
    def width(self):
        """Bytes per row (8 per column)."""
        return self._width

    @property
    def indexed(self):
        return self._index_on

    @property
    def nbytes(self):
        """Bytes held by the rows (``width`` each) and, with the index, 8 per slot of a
        table at most half full and 9 per row (its hash and a flag)."""
        if not self._index_on:
            return self._count * self._width
        return self._count * (self._width + 9) + 8 * self._nslots

    def __len__(self):
        return self._count

    # -- packing ------------------------------------------------------------------------

    cdef bint _pack_into(self, object config, char* out) except -1:
        """Pack ``config`` into ``out`` (width bytes); False when it has no packed form."""
        if type(config) is not dict or PyDict_Size(config) != self._ncols:
            return False
        cdef Py_ssize_t j
        cdef PyObject* item
        cdef object value, forms, found
        cdef double d
        cdef long long v
        cdef int overflow
        cdef int kind
        for j in range(self._ncols):
            item = PyDict_GetItemWithError(config, self._names[j])
            if item == NULL:
                return False
            value = <object>item
            kind = self._kinds[j]
            if kind == KIND_R:
                if type(value) is not float:
                    return False
                d = PyFloat_AS_DOUBLE(value)
                if not (self._lo[j] <= d <= self._hi[j]):
                    return False
                memcpy(out + 8 * j, &d, 8)
            elif kind == KIND_I:
                if type(value) is not int:
                    return False
                v = PyLong_AsLongLongAndOverflow(value, &overflow)
                if overflow or not (self._ilo[j] <= v <= self._ihi[j]):
                    return False
                memcpy(out + 8 * j, &v, 8)
            else:
                if type(value) is float and PyFloat_AS_DOUBLE(value) == 0.0:
                    return False
                forms = self._forms[j]
                try:
                    found = forms[(type(value), value)]
                except (KeyError, TypeError):
                    return False
                v = found
                memcpy(out + 8 * j, &v, 8)
        return True

    @cython.annotation_typing(False)
    def pack(self, config: Any) -> bytes | None:
        """The row of ``config``, or None when it has no packed form of its own."""
        out = PyBytes_FromStringAndSize(NULL, self._width)
        if not self._pack_into(config, PyBytes_AS_STRING(out)):
            return None
        return out

    cdef const char* _packed_arg(self, object packed) except NULL:
        if not isinstance(packed, bytes):
            raise TypeError(f"packed must be bytes, got {type(packed).__name__}")
        if PyBytes_GET_SIZE(packed) != self._width:
            raise ValueError(f"packed must be {self._width} bytes long, got {len(packed)}")
        cdef const char* row = PyBytes_AS_STRING(packed)
        self._check_choices(row)
        return row

    cdef int _check_choices(self, const char* row) except -1:
        """ValueError unless each choice column of ``row`` holds an index of a choice."""
        cdef Py_ssize_t j, n
        cdef int64_t v
        for j in range(self._ncols):
            if self._kinds[j] == KIND_C or self._kinds[j] == KIND_M:
                memcpy(&v, row + 8 * j, 8)
                n = len(<list>self._decoded[j])
                if not 0 <= v < n:
                    raise ValueError(
                        f"packed: column {self._names[j]!r} holds choice index {v}, "
                        f"outside [0, {n})"
                    )
        return 0

    cdef int _require_index(self) except -1:
        if not self._index_on:
            raise TypeError("FlatRows(index=False) cannot look rows up")
        return 0

    # -- rows and the index ---------------------------------------------------------------

    cdef Py_ssize_t _probe(self, const char* row, uint64_t h, Py_ssize_t* slot) noexcept:
        """The row holding ``row``'s bytes (-1 if none); ``slot``: where the probe ended."""
        cdef uint64_t mask = <uint64_t>(self._nslots - 1)
        cdef uint64_t i = h & mask
        cdef int64_t entry
        cdef Py_ssize_t width = self._width
        while True:
            entry = self._slots[i]
            if entry == 0:
                slot[0] = <Py_ssize_t>i
                return -1
            if self._hashes[entry - 1] == h and memcmp(
                self._blob + (entry - 1) * width, row, width
            ) == 0:
                slot[0] = <Py_ssize_t>i
                return entry - 1
            i = (i + 1) & mask

    cdef Py_ssize_t _push(self, const char* row, uint64_t h, bint indexed) except -1:
        """Append ``row`` (its hash ``h``); the new row's number."""
        cdef Py_ssize_t r = self._count
        cdef Py_ssize_t capacity
        if r == self._capacity:
            capacity = grown_capacity(self._capacity, r + 1)
            self._blob = <char*>resized(self._blob, capacity * self._width)
            if self._index_on:
                self._hashes = <uint64_t*>resized(self._hashes, capacity * sizeof(uint64_t))
                self._isindexed = <uint8_t*>resized(self._isindexed, capacity * sizeof(uint8_t))
            self._capacity = capacity
        memcpy(self._blob + r * self._width, row, self._width)
        if self._index_on:
            self._hashes[r] = h
            self._isindexed[r] = 1 if indexed else 0
        self._count = r + 1
        return r

    cdef int _insert(self, Py_ssize_t r, Py_ssize_t slot) except -1:
        """Put row ``r`` at ``slot`` of the index (an empty slot its probe ended at)."""
        self._slots[slot] = r + 1
        self._nindexed += 1
        if 2 * self._nindexed > self._nslots:
            self._grow()
        return 0

    cdef int _grow(self) except -1:
        """Double the index, from the stored hashes (rows are not hashed again)."""
        cdef Py_ssize_t size = 2 * self._nslots
        cdef int64_t* slots = <int64_t*>resized(NULL, size * sizeof(int64_t))
        memset(slots, 0, size * sizeof(int64_t))
        cdef uint64_t mask = <uint64_t>(size - 1)
        cdef uint64_t i
        cdef Py_ssize_t r
        for r in range(self._count):
            if not self._isindexed[r]:
                continue
            i = self._hashes[r] & mask
            while slots[i]:
                i = (i + 1) & mask
            slots[i] = r + 1
        release(self._slots)
        self._slots = slots
        self._nslots = size
        return 0

    cdef Py_ssize_t _append_row(self, const char* row) except -1:
        cdef Py_ssize_t slot, r
        cdef uint64_t h
        if not self._index_on:
            return self._push(row, 0, False)
        h = _hash_row(row, self._width)
        if self._probe(row, h, &slot) >= 0:
            return self._push(row, h, False)
        r = self._push(row, h, True)
        self._insert(r, slot)
        return r

    cdef object _intern_row(self, const char* row):
        cdef Py_ssize_t slot, r
        cdef uint64_t h = _hash_row(row, self._width)
        r = self._probe(row, h, &slot)
        if r >= 0:
            return (r, False)
        r = self._push(row, h, True)
        self._insert(r, slot)
        return (r, True)

    @cython.annotation_typing(False)
    def append_packed(self, packed: bytes) -> int:
        """Add ``packed`` as a new row (indexed, if the index is on and no row holds
        these bytes yet); its row number."""
        return self._append_row(self._packed_arg(packed))

    @cython.annotation_typing(False)
    def append_blank(self) -> int:
        """Add a row of zeros that is never indexed (a config kept elsewhere)."""
        cdef char* row = <char*>resized(NULL, self._width)
        try:
            memset(row, 0, self._width)
            return self._push(row, 0, False)
        finally:
            release(row)

    @cython.annotation_typing(False)
    def find_packed(self, packed: bytes) -> int:
        """The row holding ``packed``, or -1."""
        self._require_index()
        cdef const char* row = self._packed_arg(packed)
        cdef Py_ssize_t slot
        return self._probe(row, _hash_row(row, self._width), &slot)

    @cython.annotation_typing(False)
    def intern_packed(self, packed: bytes) -> tuple[int, bool]:
        """``(row, added)``: the row holding ``packed``, added now if there was none."""
        self._require_index()
        return self._intern_row(self._packed_arg(packed))

    @cython.annotation_typing(False)
    def append(self, config: Any) -> int:
        """:meth:`append_packed` of ``config``'s row, or -1 if it has none."""
        cdef char local[LOCAL_WIDTH]
        cdef char* row = &local[0]
        if self._width > LOCAL_WIDTH:
            row = <char*>resized(NULL, self._width)
        try:
            if not self._pack_into(config, row):
                return -1
            return self._append_row(row)
        finally:
            if row != &local[0]:
                release(row)

    @cython.annotation_typing(False)
    def find(self, config: Any) -> int:
        """The row of ``config``: -1 if absent, -2 if it has no packed form."""
        self._require_index()
        cdef char local[LOCAL_WIDTH]
        cdef char* row = &local[0]
        if self._width > LOCAL_WIDTH:
            row = <char*>resized(NULL, self._width)
        cdef Py_ssize_t slot
        try:
            if not self._pack_into(config, row):
                return -2
            return self._probe(row, _hash_row(row, self._width), &slot)
        finally:
            if row != &local[0]:
                release(row)

    @cython.annotation_typing(False)
    def intern(self, config: Any) -> tuple[int, bool] | None:
        """``(row, added)`` for ``config`` (:meth:`intern_packed`), or None if it has
        no packed form."""
        self._require_index()
        cdef char local[LOCAL_WIDTH]
        cdef char* row = &local[0]
        if self._width > LOCAL_WIDTH:
            row = <char*>resized(NULL, self._width)
        try:
            if not self._pack_into(config, row):
                return None
            return self._intern_row(row)
        finally:
            if row != &local[0]:
                release(row)

    cdef int _check_row(self, object row) except -1:
        if type(row) is not int or not 0 <= row < self._count:
            raise IndexError(f"row must be within [0, {self._count}), got {row!r}")
        return 0

    @cython.annotation_typing(False)
    def packed(self, row: int) -> bytes:
        """The bytes of row ``row``."""
        self._check_row(row)
        cdef Py_ssize_t r = row
        return PyBytes_FromStringAndSize(self._blob + r * self._width, self._width)

    @cython.annotation_typing(False)
    def get(self, row: int) -> dict[str, Any]:
        """The config of row ``row``, a new dict (deep copies for ``"m"`` columns)."""
        self._check_row(row)
        cdef Py_ssize_t r = row
        cdef const char* base = self._blob + r * self._width
        cdef dict out = PyDict_New()
        cdef Py_ssize_t j
        cdef double d
        cdef int64_t v
        cdef int kind
        for j in range(self._ncols):
            kind = self._kinds[j]
            if kind == KIND_R:
                memcpy(&d, base + 8 * j, 8)
                PyDict_SetItem(out, self._names[j], PyFloat_FromDouble(d))
            else:
                memcpy(&v, base + 8 * j, 8)
                if kind == KIND_I:
                    PyDict_SetItem(out, self._names[j], PyLong_FromLongLong(v))
                elif kind == KIND_C:
                    PyDict_SetItem(out, self._names[j], (<list>self._decoded[j])[v])
                else:
                    PyDict_SetItem(
                        out, self._names[j], _copy.deepcopy((<list>self._decoded[j])[v])
                    )
        return out

    @cython.annotation_typing(False)
    def sample(self, rng: Any) -> dict[str, Any]:
        """A config drawn from ``rng`` (a ``numpy.random.Generator``) exactly as the
        space's ``sample`` draws it, column by column: ``rng.random()`` for an ``"r"``
        column, ``rng.integers(upper - lower + 1)`` for an ``"i"`` column,
        ``rng.integers(len(decoded))`` for a choice."""
        cdef scheduler_bitgen_t* g = <scheduler_bitgen_t*>PyCapsule_GetPointer(
            rng.bit_generator.capsule, "BitGenerator"
        )
        cdef dict out = PyDict_New()
        cdef Py_ssize_t j
        cdef double t, x
        cdef uint64_t k
        cdef int kind
        cdef list decoded
        for j in range(self._ncols):
            kind = self._kinds[j]
            if kind == KIND_R:
                t = scheduler_next_double(g)
                x = self._end_a[j] * (1.0 - t) + self._end_b[j] * t
                if self._log[j]:
                    x = self._lo[j] if t == 0.0 else pow(10.0, x)
                if self._lo[j] > x:
                    x = self._lo[j]
                if self._hi[j] < x:
                    x = self._hi[j]
                PyDict_SetItem(out, self._names[j], PyFloat_FromDouble(x))
            elif kind == KIND_I:
                if <uint64_t>self._ihi[j] - <uint64_t>self._ilo[j] > <uint64_t>0x7FFFFFFFFFFFFFFE:
                    raise ValueError(
                        f"columns[{j}]: cannot draw from an int range of "
                        f"{self._ihi[j] - <object>self._ilo[j] + 1} values (at most 2**63 - 1)"
                    )
                k = scheduler_bounded(g, <uint64_t>self._ihi[j] - <uint64_t>self._ilo[j])
                PyDict_SetItem(
                    out, self._names[j], PyLong_FromLongLong(<int64_t>(<uint64_t>self._ilo[j] + k))
                )
            else:
                decoded = self._decoded[j]
                k = scheduler_bounded(g, <uint64_t>(len(decoded) - 1))
                if kind == KIND_C:
                    PyDict_SetItem(out, self._names[j], decoded[k])
                else:
                    PyDict_SetItem(out, self._names[j], _copy.deepcopy(decoded[k]))
        return out

    @cython.annotation_typing(False)
    def copy(self) -> FlatRows:
        """An independent copy."""
        cdef FlatRows other = FlatRows(self._columns, self._index_on)
        cdef Py_ssize_t n = self._count
        if n:
            other._blob = <char*>resized(other._blob, n * self._width)
            memcpy(other._blob, self._blob, n * self._width)
            if self._index_on:
                other._hashes = <uint64_t*>resized(other._hashes, n * sizeof(uint64_t))
                memcpy(other._hashes, self._hashes, n * sizeof(uint64_t))
                other._isindexed = <uint8_t*>resized(other._isindexed, n * sizeof(uint8_t))
                memcpy(other._isindexed, self._isindexed, n * sizeof(uint8_t))
            other._capacity = n
            other._count = n
        if self._index_on:
            other._slots = <int64_t*>resized(other._slots, self._nslots * sizeof(int64_t))
            memcpy(other._slots, self._slots, self._nslots * sizeof(int64_t))
            other._nslots = self._nslots
            other._nindexed = self._nindexed
        return other

    def __reduce__(self):
        flags = bytes(
            [1 if self._index_on and self._isindexed[r] else 0 for r in range(self._count)]
        )
        blob = PyBytes_FromStringAndSize(self._blob, self._count * self._width)
        return (_rebuild, (self._columns, self._index_on, blob, flags))


def _rebuild(columns, index, blob, flags):
    """A FlatRows from :meth:`FlatRows.__reduce__`'s data (pickling)."""
    cdef FlatRows table = FlatRows(columns, index)
    cdef Py_ssize_t r, width = table._width
    if type(blob) is not bytes or len(blob) != len(flags) * width:
        raise ValueError(
            f"FlatRows pickle: {len(flags)} rows of {width} bytes need {len(flags) * width} "
            f"bytes, got {len(blob)}"
        )
    cdef const char* rows = blob
    for r in range(len(flags)):
        table._check_choices(rows + r * width)
    for r in range(len(flags)):
        if flags[r]:
            table._append_row(rows + r * width)
        else:
            table._push(rows + r * width, _hash_row(rows + r * width, width), False)
    return table
