"""Rung levels and the Python-level validation shared by the compiled rung kernels.

Compiled twin of the helpers in :mod:`scheduler._reference`: the same code, so the
same ValueError texts and the same float operations. Public: :func:`rung_levels`.
The C-level helper :func:`reached_rung` is in ``levels.pxd``.
"""

import inspect
import math
import numbers
import operator

__all__ = ["rung_levels"]

STATE_VERSION = 1
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_UINT64_MASK = 2**64 - 1


def _constructor_signature(*names, **defaults):
    """The ``inspect.Signature`` of a compiled class's constructor.

    A cdef class's ``__init__`` is a slot wrapper that :func:`inspect.signature`
    cannot read, so each class sets ``__signature__`` from this: positional-or-keyword
    ``names``, then ``defaults`` in order (the same as the twin's ``__init__``).
    """
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [inspect.Parameter(name, kind) for name in names]
    parameters += [inspect.Parameter(name, kind, default=value) for name, value in defaults.items()]
    return inspect.Signature(parameters)


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_max_t(max_t):
    if not _is_integer(max_t) or max_t < 2:
        raise ValueError(f"max_t must be an integer >= 2, got {max_t!r}")
    return int(max_t)


def _check_levels(levels, max_t=None):
    if (
        not isinstance(levels, (list, tuple))
        or not levels
        or not all(_is_integer(level) and level >= 1 for level in levels)
    ):
        raise ValueError(f"levels must be a non-empty list of integers >= 1, got {levels!r}")
    checked = [int(level) for level in levels]
    if any(low >= high for low, high in zip(checked, checked[1:])):
        raise ValueError(f"levels must be strictly increasing, got {levels!r}")
    if max_t is not None and any(level >= max_t for level in checked):
        raise ValueError(f"levels must all be < max_t (= {max_t}), got {levels!r}")
    if max(checked) > _INT64_MAX:  # no negative indexing: wraparound is off in Cython
        raise ValueError(f"levels must all be < 2**63 (int64), got {levels!r}")
    return checked


def _check_quantiles(quantiles, levels):
    if (
        not isinstance(quantiles, (list, tuple))
        or len(quantiles) != len(levels)
        or not all(
            isinstance(q, numbers.Real) and not isinstance(q, bool) and 0.0 < q < 1.0
            for q in quantiles
        )
    ):
        raise ValueError(
            f"quantiles must be a list of {len(levels)} numbers in (0, 1), one per level, "
            f"got {quantiles!r}"
        )
    return [float(q) for q in quantiles]


def _check_promotion_quantiles(quantiles, levels, max_t):
    checked = _check_quantiles(quantiles, levels)
    for j, q in enumerate(checked):
        if j + 1 < len(levels):
            name, next_level = f"levels[{j + 1}]", levels[j + 1]
        else:
            name, next_level = "max_t", max_t
        if q != levels[j] / next_level:
            raise ValueError(
                f"quantiles[{j}] must equal levels[{j}] / {name} = {levels[j]} / {next_level} "
                f"= {levels[j] / next_level!r}, got {quantiles[j]!r}"
            )
    return checked


def _check_mode(mode):
    if not isinstance(mode, str) or mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    return mode


def _as_int64(value):
    """``value`` as an int in the int64 range, converted like Cython's ``int64_t``."""
    value = int(operator.index(value))
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise OverflowError("Python int too large to convert to C long")
    return value


def _as_float(value):
    """``value`` as a float, converted like Cython's ``double`` (no strings)."""
    if isinstance(value, (str, bytes, bytearray)):
        raise TypeError(f"must be real number, not {type(value).__name__}")
    return float(value)


def _check_skip_rungs(skip_rungs, num_rungs):
    skip_rungs = _as_int64(skip_rungs)
    if not 0 <= skip_rungs <= num_rungs:
        raise ValueError(f"skip_rungs must be an integer in 0..{num_rungs}, got {skip_rungs}")
    return skip_rungs


def _check_rung_index(rung_index, num_rungs):
    rung_index = int(operator.index(rung_index))
    if not 0 <= rung_index < num_rungs:
        raise ValueError(f"rung_index must be an integer in 0..{num_rungs - 1}, got {rung_index}")
    return rung_index


def _state_fields(state, kind, keys):
    """Check the header of a ``state_dict()`` and that it has every key in ``keys``."""
    if not isinstance(state, dict):
        raise ValueError(f"a {kind} state_dict must be a dict, got {type(state).__name__}")
    if state.get("kind") != kind:
        raise ValueError(f"not a {kind} state_dict: kind is {state.get('kind')!r}")
    if state.get("version") != STATE_VERSION:
        raise ValueError(
            f"unsupported {kind} state_dict version {state.get('version')!r} "
            f"(this version reads {STATE_VERSION})"
        )
    missing = [key for key in keys if key not in state]
    if missing:
        raise ValueError(f"invalid {kind} state_dict: missing {', '.join(missing)}")


def _state_list(value, kind, name, length=None):
    if not isinstance(value, list) or (length is not None and len(value) != length):
        size = "a list" if length is None else f"a list of length {length}"
        raise ValueError(f"invalid {kind} state_dict: {name} must be {size}")
    return value


def _state_ints(value, kind, name, low, high, length=None):
    values = _state_list(value, kind, name, length)
    if not all(_is_integer(v) and low <= v <= high for v in values):
        raise ValueError(f"invalid {kind} state_dict: {name} must hold integers in {low}..{high}")
    return [int(v) for v in values]


def _state_rewards(value, kind, name):
    values = _state_list(value, kind, name)
    if not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isnan(v)
        for v in values
    ):
        raise ValueError(f"invalid {kind} state_dict: {name} must hold numbers (not NaN)")
    return [float(v) for v in values]


def _state_unique(ids, kind, name):
    if len(set(ids)) != len(ids):
        raise ValueError(f"invalid {kind} state_dict: {name} holds duplicates")



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
        if any(low >= high for low, high in zip(levels, levels[1:])):
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
    next_levels = levels[1:] + [max_t]
    quantiles = [level / next_level for level, next_level in zip(levels, next_levels)]
    return levels, quantiles


def _percentile_position(q, mode):
    """numpy's quantile for the stopping cutoff of a rung with quantile ``q``.

    ``numpy.percentile(a, p)`` first divides ``p`` by 100; the cutoff percentile is
    ``p = 100 * (1 - q)`` when maximizing and ``p = 100 * q`` when minimizing.
    """
    percent = 100 * (1 - q) if mode == "max" else 100 * q
    return percent / 100


