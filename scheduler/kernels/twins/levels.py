"""Twin of ``scheduler._rungs.levels``: rung levels and promotion quantiles."""

from __future__ import annotations

import bisect
import itertools

from scheduler.kernels.twins._checks import (
    _check_max_t,
    _is_integer,
)


def rung_levels(grace_period, reduction_factor, max_t, rung_levels=None):
    """Rung levels and promotion quantiles of successive halving.

    Li et al. 2018, "A System for Massively Parallel Hyperparameter Tuning"
    (arXiv:1810.05934): the levels are r * eta**k for k = 0, 1, ... below R, with
    ``grace_period`` = r (minimum resource), ``reduction_factor`` = eta and
    ``max_t`` = R (maximum resource).

    Parameters
    ----------
    grace_period : int
        r >= 1, the first level. Ignored (not validated) when ``rung_levels`` is given.
    reduction_factor : int
        eta >= 2. Ignored (not validated) when ``rung_levels`` is given.
    max_t : int
        R >= 2; every level is < R.
    rung_levels : list of int or tuple of int, optional
        Explicit levels: integers >= 1, strictly increasing; a trailing value equal
        to ``max_t`` is dropped and every remaining level must be < ``max_t``.

    Returns
    -------
    levels : list of int
        r_0 < r_1 < ... < r_{K-1} < R, computed in exact integer arithmetic.
    quantiles : list of float
        q_j = r_j / r_{j+1} with r_K = R (Python true division of the integers).

    Raises
    ------
    ValueError
        Naming the parameter, the rule and the value, e.g.
        ``reduction_factor must be an integer >= 2, got 1.5``.

    Examples
    --------
    >>> rung_levels(1, 3, 10)
    ([1, 3, 9], [0.3333333333333333, 0.3333333333333333, 0.9])
    >>> rung_levels(1, 2, 20, rung_levels=[1, 5, 20])
    ([1, 5], [0.2, 0.25])
    """
    max_t = _check_max_t(max_t)
    if rung_levels is None:
        if not _is_integer(grace_period) or grace_period < 1:
            raise ValueError(f"grace_period must be an integer >= 1, got {grace_period!r}")
        if not _is_integer(reduction_factor) or reduction_factor < 2:
            raise ValueError(f"reduction_factor must be an integer >= 2, got {reduction_factor!r}")
        if grace_period >= max_t:
            raise ValueError(f"grace_period must be < max_t (= {max_t}), got {grace_period!r}")
        levels = []
        level = int(grace_period)
        while level < max_t:
            levels.append(level)
            level *= int(reduction_factor)
    else:
        if not isinstance(rung_levels, (list, tuple)) or not all(
            _is_integer(level) and level >= 1 for level in rung_levels
        ):
            raise ValueError(
                f"rung_levels must be a list or tuple of integers >= 1, got {rung_levels!r}"
            )
        levels = [int(level) for level in rung_levels]
        if any(low >= high for low, high in itertools.pairwise(levels)):
            raise ValueError(f"rung_levels must be strictly increasing, got {rung_levels!r}")
        if levels and levels[len(levels) - 1] == max_t:
            levels.pop()
        if not levels:
            raise ValueError(
                f"rung_levels must hold at least one level < max_t (= {max_t}), got {rung_levels!r}"
            )
        if any(level > max_t for level in levels):
            raise ValueError(
                f"rung_levels must be < max_t (= {max_t}) apart from a trailing max_t, "
                f"got {rung_levels!r}"
            )
    next_levels = [*levels[1:], max_t]
    quantiles = [level / next_level for level, next_level in zip(levels, next_levels)]
    return levels, quantiles


def _reached_rung(levels: list[int], time: int) -> int:
    """Highest j with levels[j] <= time, or -1 when time is below every level."""
    return bisect.bisect_right(levels, time) - 1
