"""Hyperband bracket sampler (compiled).

Twin: :class:`scheduler._reference.BracketSampler` (same signatures, docstrings,
error texts, draws and state_dict).
"""

cimport cython
from libc.stdint cimport uint64_t
from libc.string cimport memcpy

from scheduler._rungs._mem cimport release, resized

from scheduler._rungs.levels import (
    _UINT64_MASK,
    STATE_VERSION,
    _check_levels,
    _check_max_t,
    _constructor_signature,
    _is_integer,
    _state_fields,
)

__all__ = ["BracketSampler"]


cdef inline uint64_t splitmix64(uint64_t* state) noexcept nogil:
    """One splitmix64 step (all arithmetic modulo 2**64)."""
    state[0] += <uint64_t>0x9E3779B97F4A7C15
    cdef uint64_t z = state[0]
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EB
    return z ^ (z >> 31)


def _bracket_probabilities(levels, max_t, num_brackets):
    """p_s proportional to L / ((L - s) * r_s), with plain sequential float sums."""
    num_levels = len(levels) + 1
    starts = levels + [max_t]
    weights = [num_levels / ((num_levels - s) * starts[s]) for s in range(num_brackets)]
    total = 0.0
    for weight in weights:
        total += weight
    return [weight / total for weight in weights]


cdef class BracketSampler:
    """Draws the Hyperband bracket of each new config.

    Li et al. 2018, "A System for Massively Parallel Hyperparameter Tuning"
    (arXiv:1810.05934): bracket s (the minimum early-stopping rate) starts a config
    at r_s = levels[s] (R = ``max_t`` for s = len(levels), a full-budget run) and uses
    the rungs levels[s:]. With L = len(levels) + 1, bracket s is drawn with
    probability proportional to L / ((L - s) * r_s).

    Parameters
    ----------
    levels : list of int
        Rung levels r_0 < r_1 < ... < R.
    max_t : int
        R, the maximum resource.
    brackets : int
        B >= 1, the number of brackets; capped at len(levels) + 1 (``num_brackets``).
    seed : int
        >= 0; the generator state starts at ``seed mod 2**64``.

    Notes
    -----
    The generator is splitmix64 over a uint64 state; ``u = (next() >> 11) * 2**-53``
    and :meth:`sample` returns the first s with ``u < cumulative[s]`` (sequential
    partial sums of ``probabilities``; the last bracket if rounding leaves u above
    them all). Both backends draw the same sequence for the same seed; the state is
    part of :meth:`state_dict`.
    """

    __signature__ = _constructor_signature("levels", "max_t", "brackets", "seed")

    def __dealloc__(self):
        release(self.cumulative)

    def __init__(self, levels, max_t, brackets, seed):
        levels = _check_levels(levels)
        max_t = _check_max_t(max_t)
        _check_levels(levels, max_t)
        if not _is_integer(brackets) or brackets < 1:
            raise ValueError(f"brackets must be an integer >= 1, got {brackets!r}")
        if not _is_integer(seed) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        num_brackets = min(int(brackets), len(levels) + 1)
        probabilities = _bracket_probabilities(levels, max_t, num_brackets)
        cdef double* cumulative = <double*>resized(self.cumulative,
                                                   <size_t>num_brackets * sizeof(double))
        cdef double total = 0.0
        cdef Py_ssize_t s
        for s in range(num_brackets):
            total += <double>probabilities[s]
            cumulative[s] = total
        self.cumulative = cumulative
        self._num_brackets = num_brackets
        self.state = int(seed) & _UINT64_MASK
        self._levels = levels
        self._max_t = max_t
        self._seed = int(seed)
        self._probabilities = probabilities

    @property
    def levels(self):
        """The rung levels r_j (a copy)."""
        return list(self._levels)

    @property
    def max_t(self):
        """R, the maximum resource."""
        return self._max_t

    @property
    def num_brackets(self):
        """min(brackets, len(levels) + 1)."""
        return self._num_brackets

    @property
    def probabilities(self):
        """p_s for s = 0..num_brackets - 1 (a copy)."""
        return list(self._probabilities)

    @property
    def seed(self):
        """The seed given at construction."""
        return self._seed

    @cython.annotation_typing(False)
    def sample(self) -> int:
        """Draw a bracket s in 0..num_brackets - 1 (advances the generator once).

        Notes
        -----
        O(num_brackets).
        """
        return self._sample()

    cdef Py_ssize_t _sample(self) noexcept nogil:
        cdef double u = <double>(splitmix64(&self.state) >> 11) * (1.0 / 9007199254740992.0)
        cdef Py_ssize_t s
        for s in range(self._num_brackets):
            if u < self.cumulative[s]:
                return s
        return self._num_brackets - 1

    @cython.annotation_typing(False)
    def copy(self) -> BracketSampler:
        """An independent copy: equal to this one, sharing no mutable state.

        Returns
        -------
        BracketSampler
            Of the same type, with the same :meth:`state_dict`: both draw the same
            sequence from here on, and drawing from either never advances the other.
            ``copy.copy`` and ``copy.deepcopy`` return the same.

        Notes
        -----
        O(num_brackets).
        """
        # the Python-level fields first: an object without __init__ fails here, early
        levels, probabilities = list(self._levels), list(self._probabilities)
        cdef BracketSampler other = type(self).__new__(type(self))
        other._levels = levels
        other._probabilities = probabilities
        other._max_t = self._max_t
        other._seed = self._seed
        other.cumulative = <double*>resized(NULL, <size_t>self._num_brackets * sizeof(double))
        memcpy(other.cumulative, self.cumulative, <size_t>self._num_brackets * sizeof(double))
        other._num_brackets = self._num_brackets
        other.state = self.state
        return other

    @cython.annotation_typing(False)
    def __copy__(self) -> BracketSampler:
        return self.copy()

    @cython.annotation_typing(False)
    def __deepcopy__(self, memo) -> BracketSampler:
        return self.copy()

    @cython.annotation_typing(False)
    def state_dict(self) -> dict:
        """The full state as plain JSON-able data, identical across backends.

        Returns
        -------
        dict
            ``kind``, ``version``, ``levels``, ``max_t``, ``brackets`` (=
            ``num_brackets``), ``seed`` and ``state`` (the uint64 generator state).
        """
        return {
            "kind": "BracketSampler",
            "version": STATE_VERSION,
            "levels": list(self._levels),
            "max_t": self._max_t,
            "brackets": self._num_brackets,
            "seed": self._seed,
            "state": self.state,
        }

    @classmethod
    @cython.annotation_typing(False)
    def from_state_dict(cls, state: dict) -> BracketSampler:
        """Rebuild a sampler from :meth:`state_dict` output (of either backend).

        Raises
        ------
        ValueError
            If ``state`` is not a valid BracketSampler state.
        """
        kind = "BracketSampler"
        _state_fields(state, kind, ("levels", "max_t", "brackets", "seed", "state"))
        cdef BracketSampler sampler = cls(
            state["levels"], state["max_t"], state["brackets"], state["seed"]
        )
        generator_state = state["state"]
        if not _is_integer(generator_state) or not 0 <= generator_state <= _UINT64_MASK:
            raise ValueError(f"invalid {kind} state_dict: state must be an integer in 0..2**64-1")
        sampler.state = int(generator_state)
        return sampler

    @cython.annotation_typing(False)
    def _check(self) -> None:
        """Verify every internal invariant; raise AssertionError if one fails."""
        if not 1 <= self._num_brackets <= len(self._levels) + 1:
            raise AssertionError("num_brackets is outside 1..len(levels) + 1")
        if len(self._probabilities) != self._num_brackets or any(
            not 0.0 < p <= 1.0 for p in self._probabilities
        ):
            raise AssertionError("the bracket probabilities are not one per bracket in (0, 1]")
        cdef double total = 0.0
        cdef Py_ssize_t s
        for s in range(self._num_brackets):
            total += <double>self._probabilities[s]
            if self.cumulative[s] != total:
                raise AssertionError(f"cumulative[{s}] is not the partial sum of probabilities")

    def __reduce__(self):
        return (type(self).from_state_dict, (self.state_dict(),))

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self.state_dict() == other.state_dict()

    __hash__ = None

    def __repr__(self):
        return (
            f"BracketSampler(levels={self._levels!r}, max_t={self._max_t!r}, "
            f"num_brackets={self._num_brackets!r}, seed={self._seed!r})"
        )
