"""Twin of ``scheduler._rungs.brackets``: the Hyperband bracket sampler
(DESIGN.md section 4 "Brackets")."""

from __future__ import annotations

from typing import Any

from scheduler.kernels.twins._checks import (
    _UINT64_MASK,
    STATE_VERSION,
    _check_levels,
    _check_max_t,
    _is_integer,
    _state_fields,
)


def _splitmix64(state: int) -> tuple[int, int]:
    """One splitmix64 step: (new state, output), all modulo 2**64."""
    state = (state + 0x9E3779B97F4A7C15) & _UINT64_MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _UINT64_MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _UINT64_MASK
    return state, z ^ (z >> 31)


def _bracket_probabilities(levels: list[int], max_t: int, num_brackets: int) -> list[float]:
    """p_s proportional to L / ((L - s) * r_s), with plain sequential float sums."""
    num_levels = len(levels) + 1
    starts = [*levels, max_t]
    weights = [num_levels / ((num_levels - s) * starts[s]) for s in range(num_brackets)]
    total = 0.0
    for weight in weights:
        total += weight
    return [weight / total for weight in weights]


class BracketSampler:
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

    def __init__(self, levels, max_t, brackets, seed):
        self._levels = _check_levels(levels)
        self._max_t = _check_max_t(max_t)
        _check_levels(levels, self._max_t)
        if not _is_integer(brackets) or brackets < 1:
            raise ValueError(f"brackets must be an integer >= 1, got {brackets!r}")
        if not _is_integer(seed) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        self._num_brackets = min(int(brackets), len(self._levels) + 1)
        self._seed = int(seed)
        self._state = int(seed) & _UINT64_MASK
        self._probabilities = _bracket_probabilities(self._levels, self._max_t, self._num_brackets)
        self._cumulative = []
        total = 0.0
        for probability in self._probabilities:
            total += probability
            self._cumulative.append(total)

    @property
    def levels(self) -> list[int]:
        """The rung levels r_j (a copy)."""
        return list(self._levels)

    @property
    def max_t(self) -> int:
        """R, the maximum resource."""
        return self._max_t

    @property
    def num_brackets(self) -> int:
        """min(brackets, len(levels) + 1)."""
        return self._num_brackets

    @property
    def probabilities(self) -> list[float]:
        """p_s for s = 0..num_brackets - 1 (a copy)."""
        return list(self._probabilities)

    @property
    def seed(self) -> int:
        """The seed given at construction."""
        return self._seed

    def sample(self) -> int:
        """Draw a bracket s in 0..num_brackets - 1 (advances the generator once).

        Notes
        -----
        O(num_brackets).
        """
        self._state, output = _splitmix64(self._state)
        u = (output >> 11) * 2.0**-53
        for s, cumulative in enumerate(self._cumulative):
            if u < cumulative:
                return s
        return self._num_brackets - 1

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
        other = type(self).__new__(type(self))
        other._levels = list(self._levels)
        other._max_t = self._max_t
        other._num_brackets = self._num_brackets
        other._seed = self._seed
        other._state = self._state
        other._probabilities = list(self._probabilities)
        other._cumulative = list(self._cumulative)
        return other

    def __copy__(self) -> BracketSampler:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> BracketSampler:
        return self.copy()

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
            "state": self._state,
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> BracketSampler:
        """Rebuild a sampler from :meth:`state_dict` output (of either backend).

        Raises
        ------
        ValueError
            If ``state`` is not a valid BracketSampler state.
        """
        kind = "BracketSampler"
        _state_fields(state, kind, ("levels", "max_t", "brackets", "seed", "state"))
        self = cls(state["levels"], state["max_t"], state["brackets"], state["seed"])
        generator_state = state["state"]
        if not _is_integer(generator_state) or not 0 <= generator_state <= _UINT64_MASK:
            raise ValueError(f"invalid {kind} state_dict: state must be an integer in 0..2**64-1")
        self._state = int(generator_state)
        return self

    def _check(self) -> None:
        """Verify every internal invariant; raise AssertionError if one fails."""
        if not 0 <= self._state <= _UINT64_MASK:
            raise AssertionError("the generator state is not a uint64")
        if not 1 <= self._num_brackets <= len(self._levels) + 1:
            raise AssertionError("num_brackets is outside 1..len(levels) + 1")
        if len(self._probabilities) != self._num_brackets or any(
            not 0.0 < p <= 1.0 for p in self._probabilities
        ):
            raise AssertionError("the bracket probabilities are not one per bracket in (0, 1]")
        total = 0.0
        for s, probability in enumerate(self._probabilities):
            total += probability
            if self._cumulative[s] != total:
                raise AssertionError(f"cumulative[{s}] is not the partial sum of probabilities")

    def __reduce__(self):
        return (type(self).from_state_dict, (self.state_dict(),))

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self.state_dict() == other.state_dict()

    __hash__ = None  # type: ignore[assignment]  # equal by state, so not hashable

    def __repr__(self) -> str:
        return (
            f"BracketSampler(levels={self._levels!r}, max_t={self._max_t!r}, "
            f"num_brackets={self._num_brackets!r}, seed={self._seed!r})"
        )
