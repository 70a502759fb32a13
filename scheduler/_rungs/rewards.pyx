"""A searcher's latest reward per config row (compiled).

Twin: :class:`scheduler.kernels.twins.rewards.Rewards` (same signatures, docstrings,
error texts and answers).
"""

cimport cython
from libc.math cimport NAN, isfinite, isnan
from libc.stdint cimport int64_t
from libc.string cimport memcpy

from scheduler._rungs._mem cimport grown_capacity, release, resized

from scheduler._rungs.levels import _constructor_signature

__all__ = ["Rewards"]

_MAX_ROW = 2**40  # a trillion configs: far beyond any run, and no overflow in sizes


cdef class Rewards:
    """Row -> latest reward (finite floats), iterated in the order first recorded.

    A searcher keys what it knows about a config by the config's row in its config
    table (0, 1, 2, ... in the order configs were seen). Rows are non-negative ints;
    the compiled kernel keeps the rewards in a C array of doubles indexed by row (NaN:
    none recorded) and the rows in the order first recorded in a C array of int64s,
    16 bytes per row; this twin keeps the same two arrays in :mod:`array` buffers.
    """

    __signature__ = _constructor_signature()

    def __dealloc__(self):
        release(self._value)
        release(self._order)

    def __init__(self):
        self.clear()

    def __len__(self):
        return self._norder

    def __bool__(self):
        return self._norder > 0

    cdef double _at(self, object row) noexcept:
        cdef Py_ssize_t r
        if type(row) is not int or row < 0 or row >= self._nvalue:
            return NAN
        r = row
        return self._value[r]

    def __contains__(self, row):
        return not isnan(self._at(row))

    def __getitem__(self, row):
        cdef double value = self._at(row)
        if isnan(value):
            raise KeyError(row)
        return value

    @cython.annotation_typing(False)
    def get(self, row: int, default: Any = None) -> Any:
        """The reward of ``row``, or ``default`` if none is recorded."""
        cdef double value = self._at(row)
        return default if isnan(value) else value

    cdef int set(self, Py_ssize_t row, double reward) except -1:
        cdef Py_ssize_t size, i
        if not 0 <= row < _MAX_ROW:
            raise ValueError(f"a row must be below 2**40, got {row!r}")
        if not isfinite(reward):
            raise ValueError(f"a recorded reward must be finite, got {reward!r}")
        if row >= self._nvalue:
            size = row + 1
            if size < self._nvalue + self._nvalue // 2:
                size = self._nvalue + self._nvalue // 2
            self._value = <double*>resized(self._value, size * sizeof(double))
            for i in range(self._nvalue, size):
                self._value[i] = NAN
            self._nvalue = size
        if isnan(self._value[row]):
            if self._norder == self._corder:
                self._corder = grown_capacity(self._corder, self._norder + 1)
                self._order = <int64_t*>resized(self._order, self._corder * sizeof(int64_t))
            self._order[self._norder] = row
            self._norder += 1
        self._value[row] = reward
        return 0

    def __setitem__(self, row, reward):
        if type(row) is not int or row < 0:
            raise TypeError(f"a row must be an int >= 0, got {row!r}")
        if row >= _MAX_ROW:
            raise ValueError(f"a row must be below 2**40, got {row!r}")
        cdef double value = float(reward)
        self.set(row, value)

    def __iter__(self):
        return iter(self.keys())

    @cython.annotation_typing(False)
    def keys(self) -> list[int]:
        """The rows with a reward, in the order first recorded."""
        cdef Py_ssize_t i
        return [self._order[i] for i in range(self._norder)]

    @cython.annotation_typing(False)
    def values(self) -> list[float]:
        """Their rewards, in the same order."""
        cdef Py_ssize_t i
        return [self._value[self._order[i]] for i in range(self._norder)]

    @cython.annotation_typing(False)
    def items(self) -> list[tuple[int, float]]:
        """``(row, reward)`` pairs, in the same order."""
        cdef Py_ssize_t i
        return [(self._order[i], self._value[self._order[i]]) for i in range(self._norder)]

    @cython.annotation_typing(False)
    def best(self, maximize: bool) -> int:
        """The row of the best reward (the first recorded on ties), or -1 if none."""
        cdef Py_ssize_t i, best_row = -1
        cdef double best = 0.0, reward
        cdef bint up = bool(maximize)
        for i in range(self._norder):
            reward = self._value[self._order[i]]
            if best_row < 0 or (reward > best if up else reward < best):
                best_row, best = self._order[i], reward
        return best_row

    @cython.annotation_typing(False)
    def clear(self) -> None:
        """Forget every reward."""
        release(self._value)
        release(self._order)
        self._value = NULL
        self._order = NULL
        self._nvalue = self._norder = self._corder = 0

    @cython.annotation_typing(False)
    def copy(self) -> Rewards:
        """An independent copy."""
        cdef Rewards other = Rewards()
        if self._nvalue:
            other._value = <double*>resized(NULL, self._nvalue * sizeof(double))
            memcpy(other._value, self._value, self._nvalue * sizeof(double))
            other._nvalue = self._nvalue
        if self._norder:
            other._order = <int64_t*>resized(NULL, self._norder * sizeof(int64_t))
            memcpy(other._order, self._order, self._norder * sizeof(int64_t))
            other._norder = other._corder = self._norder
        return other

    def __reduce__(self):
        return (_rebuild, (self.items(),))


def _rebuild(items):
    """A Rewards from :meth:`Rewards.__reduce__`'s data (pickling)."""
    cdef Rewards rewards = Rewards()
    for row, reward in items:
        rewards[row] = reward
    return rewards
