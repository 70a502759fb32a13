"""Pure-Python twins of the compiled rung kernels in ``_rungs``.

:mod:`scheduler._kernels` selects these when ``SCHEDULER_NO_EXTENSIONS=1``. Every
public name here has the same signature, docstring and error texts as its compiled
counterpart (``_rungs.levels``, ``_rungs.stopping``, ``_rungs.promotion``,
``_rungs.brackets``), returns the same values for the same calls, and produces and
accepts the same ``state_dict()``. The twins are written to be read: sorted lists,
:func:`bisect.insort` and plain loops, with the data structures of the compiled
kernels (heaps, an open-addressing hash table) described in their docstrings only.
The contract both backends implement is ``DESIGN.md`` section 4.
"""

from __future__ import annotations

import bisect
import math
import numbers
import operator
from fractions import Fraction

import numpy as np

__all__ = ["BracketSampler", "PromotionRungs", "StoppingRungs", "rung_levels"]

STATE_VERSION = 1
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_UINT64_MASK = 2**64 - 1


# --------------------------------------------------------------------------- validation
# The compiled modules raise the same exceptions with the same texts: verbatim copies
# of these helpers are in ``_rungs/levels.pyx``, and of the per-class ones below in
# ``_rungs/stopping.pyx``, ``_rungs/promotion.pyx`` and ``_rungs/brackets.pyx``.


def _is_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_max_t(max_t) -> int:
    if not _is_integer(max_t) or max_t < 2:
        raise ValueError(f"max_t must be an integer >= 2, got {max_t!r}")
    return int(max_t)


def _check_levels(levels, max_t=None) -> list[int]:
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
    if max(checked) > _INT64_MAX:  # as in the kernel, where levels become int64_t
        raise ValueError(f"levels must all be < 2**63 (int64), got {levels!r}")
    return checked


def _check_quantiles(quantiles, levels) -> list[float]:
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


def _check_promotion_quantiles(quantiles, levels, max_t) -> list[float]:
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


def _check_mode(mode) -> str:
    if not isinstance(mode, str) or mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    return mode


def _as_int64(value) -> int:
    """``value`` as an int in the int64 range, converted like Cython's ``int64_t``."""
    value = int(operator.index(value))
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise OverflowError("Python int too large to convert to C long")
    return value


def _as_float(value) -> float:
    """``value`` as a float, converted like Cython's ``double`` (no strings)."""
    if isinstance(value, (str, bytes, bytearray)):
        raise TypeError(f"must be real number, not {type(value).__name__}")
    return float(value)


def _check_skip_rungs(skip_rungs, num_rungs: int) -> int:
    skip_rungs = _as_int64(skip_rungs)
    if not 0 <= skip_rungs <= num_rungs:
        raise ValueError(f"skip_rungs must be an integer in 0..{num_rungs}, got {skip_rungs}")
    return skip_rungs


def _check_rung_index(rung_index, num_rungs: int) -> int:
    rung_index = int(operator.index(rung_index))
    if not 0 <= rung_index < num_rungs:
        raise ValueError(f"rung_index must be an integer in 0..{num_rungs - 1}, got {rung_index}")
    return rung_index


def _state_fields(state, kind: str, keys: tuple[str, ...]) -> None:
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


def _state_list(value, kind: str, name: str, length=None) -> list:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        size = "a list" if length is None else f"a list of length {length}"
        raise ValueError(f"invalid {kind} state_dict: {name} must be {size}")
    return value


def _state_ints(value, kind: str, name: str, low: int, high: int, length=None) -> list[int]:
    values = _state_list(value, kind, name, length)
    if not all(_is_integer(v) and low <= v <= high for v in values):
        raise ValueError(f"invalid {kind} state_dict: {name} must hold integers in {low}..{high}")
    return [int(v) for v in values]


def _state_rewards(value, kind: str, name: str) -> list[float]:
    values = _state_list(value, kind, name)
    if not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isnan(v)
        for v in values
    ):
        raise ValueError(f"invalid {kind} state_dict: {name} must hold numbers (not NaN)")
    return [float(v) for v in values]


def _state_unique(ids: list[int], kind: str, name: str) -> None:
    if len(set(ids)) != len(ids):
        raise ValueError(f"invalid {kind} state_dict: {name} holds duplicates")


# --------------------------------------------------------------------------- rung levels


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


def _reached_rung(levels: list[int], time: int) -> int:
    """Highest j with levels[j] <= time, or -1 when time is below every level."""
    return bisect.bisect_right(levels, time) - 1


# --------------------------------------------------------------------------- percentile


def _percentile_position(q: float, mode: str) -> float:
    """numpy's quantile for the stopping cutoff of a rung with quantile ``q``.

    ``numpy.percentile(a, p)`` first divides ``p`` by 100; the cutoff percentile is
    ``p = 100 * (1 - q)`` when maximizing and ``p = 100 * q`` when minimizing.
    """
    percent = 100 * (1 - q) if mode == "max" else 100 * q
    return percent / 100


def _linear_percentile(ordered: list[float], position: float) -> float:
    """``numpy.percentile(ordered, 100 * position)`` ("linear"), bit for bit.

    Repeats the float operations of numpy's ``_quantile`` for method "linear"
    (numpy/lib/_function_base_impl.py; the same formula since numpy 1.22, checked on
    2.4): virtual index ``(n - 1) * position``; above the last index numpy uses the
    last value with previous index -1 (so gamma is ``index + 1``); otherwise the
    values at ``floor(index)`` and ``floor(index) + 1`` with ``gamma = index -
    floor(index)``; then ``_lerp``: ``a + (b - a) * gamma``, or ``b - (b - a) * (1 -
    gamma)`` when ``gamma >= 0.5``.
    """
    n = len(ordered)
    index = (n - 1) * position
    if index >= n - 1:
        below = above = ordered[-1]
        gamma = index - (-1)
    else:
        previous = math.floor(index)
        below, above = ordered[previous], ordered[previous + 1]
        gamma = index - previous
    diff = above - below
    if gamma >= 0.5:
        return above - diff * (1 - gamma)
    return below + diff * gamma


# --------------------------------------------------------------------------- stopping


class StoppingRungs:
    """Rung bookkeeping of asynchronous successive halving with early stopping.

    The stopping variant of ASHA: Li et al. 2018, "A System for Massively Parallel
    Hyperparameter Tuning" (arXiv:1810.05934). A task reaching rung j continues iff
    its reward is at least (mode "min": at most) the cutoff of the rewards recorded at
    rung j before it, numpy's ``100 * (1 - q_j)`` percentile of them (mode "min": the
    ``100 * q_j`` percentile), i.e. iff it would rank in the top ``q_j`` fraction.

    Parameters
    ----------
    levels : list of int
        Rung levels r_0 < r_1 < ... (r_j = r * eta**j in the paper's notation),
        integers >= 1, strictly increasing.
    quantiles : list of float
        q_j in (0, 1) for each level, the fraction that continues (1 / eta in the
        paper; :func:`rung_levels` gives r_j / r_{j+1}).
    mode : {"max", "min"}
        Whether larger or smaller rewards are better.

    Notes
    -----
    State: per rung, the rewards recorded there in record order; per task, the
    highest rung it is recorded at. A report reaches rung j, the highest j >= s
    (``skip_rungs``, the bracket) with r_j <= time, unless the task is already
    recorded at j or above; only such a report is recorded.

    The compiled kernel keeps per rung a running order statistic: a max-heap of the
    lowest ``floor(index) + 1`` rewards and a min-heap of the rest, where ``index =
    (n - 1) * p / 100`` is numpy's virtual index for the current count n; the cutoff
    interpolates the two heap tops in O(1) and a report costs O(log n). Tasks live in
    an open-addressing int64 -> int32 hash table. The pure-Python twin keeps a sorted
    list per rung instead (O(n) per report).
    """

    def __init__(self, levels, quantiles, mode="max"):
        self._levels = _check_levels(levels)
        self._quantiles = _check_quantiles(quantiles, self._levels)
        self._mode = _check_mode(mode)
        self._positions = [_percentile_position(q, self._mode) for q in self._quantiles]
        self._rewards: list[list[float]] = [[] for _ in self._levels]  # record order
        self._sorted: list[list[float]] = [[] for _ in self._levels]  # ascending
        self._task_rung: dict[int, int] = {}  # task id -> highest rung recorded at

    @property
    def levels(self) -> list[int]:
        """The rung levels r_j (a copy)."""
        return list(self._levels)

    @property
    def quantiles(self) -> list[float]:
        """The quantiles q_j (a copy)."""
        return list(self._quantiles)

    @property
    def mode(self) -> str:
        """``"max"`` or ``"min"``."""
        return self._mode

    def on_report(self, task_id: int, time: int, reward: float, skip_rungs: int = 0) -> bool:
        """Record a report if it reaches a rung; return whether the task continues.

        Parameters
        ----------
        task_id : int
            The task (an int64).
        time : int
            The resource used so far (epochs done, counting from 1).
        reward : float
            The reward at ``time``; must not be NaN.
        skip_rungs : int, default 0
            s, the number of lowest rungs the task's bracket skips (0..len(levels)).

        Returns
        -------
        bool
            ``False`` iff the report reaches rung j and its reward is worse than
            ``cutoff(j)`` computed before recording it (ties continue). ``True`` when
            no rung is reached: time below levels[s], or the task is already recorded
            at j or above.

        Raises
        ------
        ValueError
            If ``reward`` is NaN or ``skip_rungs`` is outside 0..len(levels).

        Notes
        -----
        O(log n) for n rewards at the rung reached (compiled); the reward is recorded
        whatever the decision, and the task's highest rung becomes j.
        """
        task_id = _as_int64(task_id)
        time = _as_int64(time)
        reward = _as_float(reward)
        if math.isnan(reward):
            raise ValueError(f"reward must not be NaN (task_id={task_id}, time={time})")
        skip_rungs = _check_skip_rungs(skip_rungs, len(self._levels))
        return self._report(task_id, time, reward, skip_rungs)

    def on_reports(self, task_ids, times, rewards, skip_rungs=None) -> np.ndarray:
        """Apply many reports in order; return their decisions as a bool array.

        Parameters
        ----------
        task_ids, times : array_like of int
            Converted with ``numpy.asarray(..., dtype=numpy.int64)``.
        rewards : array_like of float
            Converted with ``numpy.asarray(..., dtype=numpy.float64)``.
        skip_rungs : array_like of int, optional
            Per report; None means 0 for every report.

        Returns
        -------
        numpy.ndarray of bool
            ``out[i]`` is what ``on_report(task_ids[i], times[i], rewards[i],
            skip_rungs[i])`` returns when the calls are made in order.

        Raises
        ------
        ValueError
            If the arrays are not 1-D of one length, or a report is invalid (as in
            :meth:`on_report`, the first invalid one is named). The whole batch is
            validated first: on error nothing is recorded.

        Notes
        -----
        O(m log n) for m reports; the compiled kernel loops in C.
        """
        ids = np.asarray(task_ids, dtype=np.int64)
        ts = np.asarray(times, dtype=np.int64)
        rs = np.asarray(rewards, dtype=np.float64)
        if skip_rungs is None:
            skips = np.zeros(ids.shape, dtype=np.int64)
        else:
            skips = np.asarray(skip_rungs, dtype=np.int64)
        _check_batch(ids, ts, rs, skips)
        num_rungs = len(self._levels)
        for i in range(ids.shape[0]):
            if math.isnan(rs[i]):
                raise ValueError(
                    f"reward must not be NaN (task_id={int(ids[i])}, time={int(ts[i])})"
                )
            _check_skip_rungs(int(skips[i]), num_rungs)
        out = np.zeros(ids.shape[0], dtype=bool)
        for i in range(ids.shape[0]):
            out[i] = self._report(int(ids[i]), int(ts[i]), float(rs[i]), int(skips[i]))
        return out

    def _report(self, task_id: int, time: int, reward: float, skip_rungs: int) -> bool:
        j = _reached_rung(self._levels, time)
        if j < skip_rungs or self._task_rung.get(task_id, -1) >= j:
            return True
        cutoff = self.cutoff(j)
        if cutoff is None:
            decision = True
        elif self._mode == "max":
            decision = reward >= cutoff
        else:
            decision = reward <= cutoff
        self._rewards[j].append(reward)
        bisect.insort(self._sorted[j], reward)
        self._task_rung[task_id] = j
        return decision

    def cutoff(self, rung_index: int) -> float | None:
        """The stopping cutoff of a rung over the rewards recorded there so far.

        Parameters
        ----------
        rung_index : int
            j in 0..len(levels) - 1.

        Returns
        -------
        float or None
            None if nothing is recorded at rung j; else, bit for bit,
            ``float(numpy.percentile(rewards_j, 100 * (1 - q_j)))`` for mode "max"
            and ``float(numpy.percentile(rewards_j, 100 * q_j))`` for mode "min"
            (method "linear"; the float operations of numpy >= 1.22).

        Notes
        -----
        O(1) in the compiled kernel: the two heap tops are the order statistics the
        interpolation needs.
        """
        j = _check_rung_index(rung_index, len(self._levels))
        if not self._sorted[j]:
            return None
        return _linear_percentile(self._sorted[j], self._positions[j])

    def num_recorded(self, rung_index: int) -> int:
        """Number of rewards recorded at rung ``rung_index`` (0..len(levels) - 1)."""
        j = _check_rung_index(rung_index, len(self._levels))
        return len(self._rewards[j])

    def state_dict(self) -> dict:
        """The full state as plain JSON-able data, identical across backends.

        Returns
        -------
        dict
            ``kind``, ``version``, ``levels``, ``quantiles``, ``mode``; ``rungs``: per
            rung ``{"rewards": [...]}`` in record order; ``tasks``: ``{"task_ids":
            [...], "rungs": [...]}``, task ids ascending with the highest rung each
            is recorded at.
        """
        task_ids = sorted(self._task_rung)
        return {
            "kind": "StoppingRungs",
            "version": STATE_VERSION,
            "levels": list(self._levels),
            "quantiles": list(self._quantiles),
            "mode": self._mode,
            "rungs": [{"rewards": list(rewards)} for rewards in self._rewards],
            "tasks": {
                "task_ids": task_ids,
                "rungs": [self._task_rung[task_id] for task_id in task_ids],
            },
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> StoppingRungs:
        """Rebuild a rung system from :meth:`state_dict` output (of either backend).

        Raises
        ------
        ValueError
            If ``state`` is not a valid StoppingRungs state.
        """
        kind = "StoppingRungs"
        _state_fields(state, kind, ("levels", "quantiles", "mode", "rungs", "tasks"))
        self = cls(state["levels"], state["quantiles"], state["mode"])
        rewards, task_ids, task_rungs = _stopping_records(state, len(self._levels))
        for j, values in enumerate(rewards):
            self._rewards[j] = list(values)
            self._sorted[j] = sorted(values)
        self._task_rung = dict(zip(task_ids, task_rungs))
        return self

    def _check(self) -> None:
        """Verify every internal invariant; raise AssertionError if one fails."""
        for j, (rewards, ordered) in enumerate(zip(self._rewards, self._sorted)):
            if any(math.isnan(reward) for reward in rewards):
                raise AssertionError(f"rung {j}: a NaN reward is recorded")
            if ordered != sorted(rewards):
                raise AssertionError(f"rung {j}: the sorted rewards differ from the records")
        message = _task_count_problem(
            [len(rewards) for rewards in self._rewards], self._task_rung.values()
        )
        if message is not None:
            raise AssertionError(message)

    def __reduce__(self):
        return (type(self).from_state_dict, (self.state_dict(),))

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self.state_dict() == other.state_dict()

    __hash__ = None

    def __repr__(self) -> str:
        counts = [len(rewards) for rewards in self._rewards]
        return (
            f"StoppingRungs(levels={self._levels!r}, quantiles={self._quantiles!r}, "
            f"mode={self._mode!r}, num_recorded={counts!r})"
        )


def _check_batch(ids, times, rewards, skips) -> None:
    arrays = (ids, times, rewards, skips)
    if any(a.ndim != 1 for a in arrays) or len({a.shape[0] for a in arrays}) != 1:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ValueError(
            "task_ids, times, rewards and skip_rungs must be 1-D arrays of one length, "
            f"got shapes {shapes}"
        )


def _task_count_problem(num_recorded: list[int], task_rungs) -> str | None:
    """Why per-rung record counts cannot belong to these highest rungs, or None.

    A task is recorded at most once per rung, and at its highest rung j: so at most
    n_j tasks have j as their highest rung, and the n_j records at rung j belong to
    distinct tasks whose highest rung is j or above.
    """
    num_rungs = len(num_recorded)
    at = [0] * num_rungs
    for j in task_rungs:
        if not 0 <= j < num_rungs:
            return f"a task's highest rung {j} is outside 0..{num_rungs - 1}"
        at[j] += 1
    at_or_above = 0
    for j in reversed(range(num_rungs)):
        at_or_above += at[j]
        if at[j] > num_recorded[j]:
            return (
                f"rung {j}: {at[j]} tasks have it as their highest rung "
                f"but only {num_recorded[j]} rewards are recorded there"
            )
        if num_recorded[j] > at_or_above:
            return (
                f"rung {j}: {num_recorded[j]} rewards are recorded but only "
                f"{at_or_above} tasks reached it"
            )
    return None


def _stopping_records(state: dict, num_rungs: int):
    """Validated (rewards per rung, task ids, task rungs) of a StoppingRungs state."""
    kind = "StoppingRungs"
    rungs = _state_list(state["rungs"], kind, "rungs", num_rungs)
    rewards = []
    for j, rung in enumerate(rungs):
        if not isinstance(rung, dict) or "rewards" not in rung:
            raise ValueError(f"invalid {kind} state_dict: rungs[{j}] must be a dict with rewards")
        rewards.append(_state_rewards(rung["rewards"], kind, f"rungs[{j}]['rewards']"))
    tasks = state["tasks"]
    if not isinstance(tasks, dict) or "task_ids" not in tasks or "rungs" not in tasks:
        raise ValueError(f"invalid {kind} state_dict: tasks must be a dict with task_ids, rungs")
    task_ids = _state_ints(tasks["task_ids"], kind, "tasks['task_ids']", _INT64_MIN, _INT64_MAX)
    task_rungs = _state_ints(
        tasks["rungs"], kind, "tasks['rungs']", 0, num_rungs - 1, len(task_ids)
    )
    _state_unique(task_ids, kind, "tasks['task_ids']")
    message = _task_count_problem([len(values) for values in rewards], task_rungs)
    if message is not None:
        raise ValueError(f"invalid {kind} state_dict: {message}")
    return rewards, task_ids, task_rungs


# --------------------------------------------------------------------------- promotion


class PromotionRungs:
    """Rung bookkeeping of ASHA, asynchronous successive halving with promotions.

    Li et al. 2018, "A System for Massively Parallel Hyperparameter Tuning"
    (arXiv:1810.05934), Algorithm 2: a config pauses at each rung it reaches and is
    promoted to the next level when it ranks in the top ``floor(n_j * q_j)`` of the
    n_j configs recorded at rung j. Promotions are found from the highest rung down.

    Parameters
    ----------
    levels : list of int
        Rung levels r_0 < r_1 < ... < R (r_j = r * eta**j in the paper's notation).
    quantiles : list of float
        q_j, which must equal ``levels[j] / levels[j + 1]`` (``levels[j] / max_t``
        for the last level): 1 / eta for the paper's geometric levels.
    max_t : int
        R, the maximum resource; a report at ``time >= max_t`` is never recorded.
    mode : {"max", "min"}
        Whether larger or smaller rewards are better.

    Notes
    -----
    Counting uses exact integers (never the float q_j): with r = r_j and r' =
    r_{j+1} (or R), a rung needs ``round(Fraction(r', r))`` entries before anything
    is promoted from it, and the top part holds ``k_j(n) = (n * r) // r'`` entries.
    Ranks order entries best first, ties by earlier record (record order is per
    rung). The compiled kernel keeps per rung an entries array (its index is the
    record sequence number), a split of entry indices into the top ``k_j(n)`` (a heap
    with the worst on top) and the rest (best on top), so "rank < k" is one
    comparison with the worst of the top part, and a heap of unpromoted entries,
    best on top: every call is O(log n), with no scans. Milestones live in an
    open-addressing int64 -> int32 hash table. The pure-Python twin keeps sorted
    lists of rank keys instead (O(n) per call).
    """

    def __init__(self, levels, quantiles, max_t, mode="max"):
        self._levels = _check_levels(levels)
        self._max_t = _check_max_t(max_t)
        _check_levels(levels, self._max_t)
        self._quantiles = _check_promotion_quantiles(quantiles, self._levels, self._max_t)
        self._mode = _check_mode(mode)
        next_levels = self._levels[1:] + [self._max_t]
        self._next_levels = next_levels
        self._min_entries = [
            round(Fraction(next_level, level))
            for level, next_level in zip(self._levels, next_levels)
        ]
        # per rung, in record order: [reward, config_id, promoted]
        self._entries: list[list[list]] = [[] for _ in self._levels]
        # per rung, ascending rank keys (best first) of all entries / unpromoted ones
        self._ranking: list[list[tuple[float, int]]] = [[] for _ in self._levels]
        self._waiting: list[list[tuple[float, int]]] = [[] for _ in self._levels]
        # config id -> rung index of its next milestone (len(levels) stands for max_t)
        self._milestone: dict[int, int] = {}

    @property
    def levels(self) -> list[int]:
        """The rung levels r_j (a copy)."""
        return list(self._levels)

    @property
    def quantiles(self) -> list[float]:
        """The quantiles q_j (a copy)."""
        return list(self._quantiles)

    @property
    def max_t(self) -> int:
        """R, the maximum resource."""
        return self._max_t

    @property
    def mode(self) -> str:
        """``"max"`` or ``"min"``."""
        return self._mode

    def _level(self, rung: int) -> int:
        return self._levels[rung] if rung < len(self._levels) else self._max_t

    def _rank_key(self, rung: int, seq: int) -> tuple[float, int]:
        reward = self._entries[rung][seq][0]
        return (-reward if self._mode == "max" else reward, seq)

    def _promotable(self, rung: int, key: tuple[float, int]) -> bool:
        """Whether the entry with rank key ``key`` ranks in the top k_j(n_j)."""
        n = len(self._entries[rung])
        if n < self._min_entries[rung]:
            return False
        k = (n * self._levels[rung]) // self._next_levels[rung]
        return bisect.bisect_left(self._ranking[rung], key) < k

    def add(self, config_id: int, skip_rungs: int = 0) -> int:
        """Register a new config; return its first milestone.

        Parameters
        ----------
        config_id : int
            A config id not registered yet (an int64), stable across promotions.
        skip_rungs : int, default 0
            s, the bracket: the config starts at levels[s] (0..len(levels)).

        Returns
        -------
        int
            ``levels[skip_rungs]``, or ``max_t`` when ``skip_rungs == len(levels)``
            (a plain full-budget run).

        Raises
        ------
        ValueError
            If ``config_id`` is already registered or ``skip_rungs`` is out of range.

        Notes
        -----
        Expected O(1) (a hash-table insert).
        """
        config_id = _as_int64(config_id)
        if config_id in self._milestone:
            raise ValueError(f"config_id {config_id} is already registered")
        skip_rungs = _check_skip_rungs(skip_rungs, len(self._levels))
        self._milestone[config_id] = skip_rungs
        return self._level(skip_rungs)

    def on_report(self, config_id: int, time: int, reward: float) -> bool:
        """Record a report if it reaches the config's milestone; return whether it continues.

        Parameters
        ----------
        config_id : int
            A registered config.
        time : int
            The resource used so far.
        reward : float
            The reward at ``time``; must not be NaN.

        Returns
        -------
        bool
            ``True`` when nothing is recorded (``time >= max_t`` or ``time`` below the
            milestone), or when the config, recorded unpromoted at rung j (the highest
            with levels[j] <= time), is promotable at once: then it is flagged
            promoted. ``False`` means pause: it stays unpromoted at rung j and may be
            returned by :meth:`promote` later.

        Raises
        ------
        ValueError
            If ``config_id`` is not registered or ``reward`` is NaN.

        Notes
        -----
        O(log n) for n entries at rung j (compiled). The milestone becomes
        levels[j + 1] (or max_t) whether or not the config continues.
        """
        config_id = _as_int64(config_id)
        time = _as_int64(time)
        reward = _as_float(reward)
        milestone = self._milestone.get(config_id)
        if milestone is None:
            raise ValueError(f"config_id {config_id} is not registered (call add() first)")
        if math.isnan(reward):
            raise ValueError(f"reward must not be NaN (config_id={config_id}, time={time})")
        if time >= self._max_t or time < self._level(milestone):
            return True
        j = _reached_rung(self._levels, time)
        seq = len(self._entries[j])
        self._entries[j].append([reward, config_id, False])
        key = self._rank_key(j, seq)
        bisect.insort(self._ranking[j], key)
        self._milestone[config_id] = j + 1
        if self._promotable(j, key):
            self._entries[j][seq][2] = True
            return True
        bisect.insort(self._waiting[j], key)
        return False

    def promote(self) -> tuple[int, int] | None:
        """Promote the best promotable config of the highest rung that has one.

        Returns
        -------
        tuple of (int, int) or None
            ``(config_id, levels[j])``: the config is flagged promoted at rung j and
            resumes from levels[j] (its milestone is already levels[j + 1] or max_t).
            None if no rung has a promotable config.

        Notes
        -----
        For j from the highest rung down, only the best unpromoted entry of rung j can
        be promotable (if it is not in the top k, no unpromoted entry is): one
        comparison with the worst of the top part per rung, O(K + log n) in all
        (compiled).
        """
        for j in reversed(range(len(self._levels))):
            waiting = self._waiting[j]
            if waiting and self._promotable(j, waiting[0]):
                _, seq = waiting.pop(0)
                entry = self._entries[j][seq]
                entry[2] = True
                return (entry[1], self._levels[j])
        return None

    def milestone(self, config_id: int) -> int:
        """The next level at which a report of ``config_id`` is recorded (or max_t).

        Raises
        ------
        ValueError
            If ``config_id`` is not registered.
        """
        config_id = _as_int64(config_id)
        milestone = self._milestone.get(config_id)
        if milestone is None:
            raise ValueError(f"config_id {config_id} is not registered (call add() first)")
        return self._level(milestone)

    def num_recorded(self, rung_index: int) -> int:
        """Number of entries recorded at rung ``rung_index`` (0..len(levels) - 1)."""
        j = _check_rung_index(rung_index, len(self._levels))
        return len(self._entries[j])

    def state_dict(self) -> dict:
        """The full state as plain JSON-able data, identical across backends.

        Returns
        -------
        dict
            ``kind``, ``version``, ``levels``, ``quantiles``, ``max_t``, ``mode``;
            ``rungs``: per rung ``{"rewards": [...], "config_ids": [...], "promoted":
            [...]}`` in record order; ``milestones``: ``{"config_ids": [...],
            "levels": [...]}``, config ids ascending with their next milestone level.
        """
        config_ids = sorted(self._milestone)
        return {
            "kind": "PromotionRungs",
            "version": STATE_VERSION,
            "levels": list(self._levels),
            "quantiles": list(self._quantiles),
            "max_t": self._max_t,
            "mode": self._mode,
            "rungs": [
                {
                    "rewards": [entry[0] for entry in entries],
                    "config_ids": [entry[1] for entry in entries],
                    "promoted": [entry[2] for entry in entries],
                }
                for entries in self._entries
            ],
            "milestones": {
                "config_ids": config_ids,
                "levels": [self._level(self._milestone[c]) for c in config_ids],
            },
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> PromotionRungs:
        """Rebuild a rung system from :meth:`state_dict` output (of either backend).

        Raises
        ------
        ValueError
            If ``state`` is not a valid PromotionRungs state.
        """
        kind = "PromotionRungs"
        keys = ("levels", "quantiles", "max_t", "mode", "rungs", "milestones")
        _state_fields(state, kind, keys)
        self = cls(state["levels"], state["quantiles"], state["max_t"], state["mode"])
        rungs, config_ids, milestones = _promotion_records(state, self._levels, self._max_t)
        for j, (rewards, ids, promoted) in enumerate(rungs):
            self._entries[j] = [[r, c, p] for r, c, p in zip(rewards, ids, promoted)]
            keys_j = [self._rank_key(j, seq) for seq in range(len(rewards))]
            self._ranking[j] = sorted(keys_j)
            self._waiting[j] = sorted(key for key, p in zip(keys_j, promoted) if not p)
        self._milestone = dict(zip(config_ids, milestones))
        return self

    def _check(self) -> None:
        """Verify every internal invariant; raise AssertionError if one fails."""
        for j, entries in enumerate(self._entries):
            keys = [self._rank_key(j, seq) for seq in range(len(entries))]
            if self._ranking[j] != sorted(keys):
                raise AssertionError(f"rung {j}: the ranking differs from the entries")
            waiting = sorted(key for key, entry in zip(keys, entries) if not entry[2])
            if self._waiting[j] != waiting:
                raise AssertionError(f"rung {j}: the waiting list differs from the flags")
            for reward, _, promoted in entries:
                if math.isnan(reward) or not isinstance(promoted, bool):
                    raise AssertionError(f"rung {j}: an entry has a NaN reward or a bad flag")
        message = _milestone_problem(
            [[entry[1] for entry in entries] for entries in self._entries], self._milestone
        )
        if message is not None:
            raise AssertionError(message)

    def __reduce__(self):
        return (type(self).from_state_dict, (self.state_dict(),))

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self.state_dict() == other.state_dict()

    __hash__ = None

    def __repr__(self) -> str:
        counts = [len(entries) for entries in self._entries]
        return (
            f"PromotionRungs(levels={self._levels!r}, quantiles={self._quantiles!r}, "
            f"max_t={self._max_t!r}, mode={self._mode!r}, num_recorded={counts!r})"
        )


def _milestone_problem(config_ids: list[list[int]], milestone_rung) -> str | None:
    """Why the entries' config ids cannot belong to these milestones, or None.

    A config is recorded at most once per rung, and only once it is registered;
    recording it at rung j moves its milestone to rung j + 1 or above.
    """
    for j, ids in enumerate(config_ids):
        if len(set(ids)) != len(ids):
            return f"rung {j}: a config is recorded twice"
        for config_id in ids:
            milestone = milestone_rung.get(config_id)
            if milestone is None:
                return f"rung {j}: config {config_id} is recorded but not registered"
            if milestone <= j:
                return (
                    f"rung {j}: config {config_id} is recorded but its milestone is "
                    f"rung {milestone}"
                )
    return None


def _promotion_records(state: dict, levels: list[int], max_t: int):
    """Validated ([(rewards, config_ids, promoted)] per rung, ids, milestone rungs)."""
    kind = "PromotionRungs"
    num_rungs = len(levels)
    rungs = []
    for j, rung in enumerate(_state_list(state["rungs"], kind, "rungs", num_rungs)):
        if not isinstance(rung, dict) or any(
            key not in rung for key in ("rewards", "config_ids", "promoted")
        ):
            raise ValueError(
                f"invalid {kind} state_dict: rungs[{j}] must be a dict with "
                "rewards, config_ids, promoted"
            )
        rewards = _state_rewards(rung["rewards"], kind, f"rungs[{j}]['rewards']")
        ids = _state_ints(
            rung["config_ids"],
            kind,
            f"rungs[{j}]['config_ids']",
            _INT64_MIN,
            _INT64_MAX,
            len(rewards),
        )
        promoted = _state_list(rung["promoted"], kind, f"rungs[{j}]['promoted']", len(rewards))
        if not all(isinstance(p, bool) for p in promoted):
            raise ValueError(f"invalid {kind} state_dict: rungs[{j}]['promoted'] must hold bools")
        rungs.append((rewards, ids, list(promoted)))
    milestones = state["milestones"]
    if not isinstance(milestones, dict) or any(
        key not in milestones for key in ("config_ids", "levels")
    ):
        raise ValueError(
            f"invalid {kind} state_dict: milestones must be a dict with config_ids, levels"
        )
    config_ids = _state_ints(
        milestones["config_ids"], kind, "milestones['config_ids']", _INT64_MIN, _INT64_MAX
    )
    _state_unique(config_ids, kind, "milestones['config_ids']")
    all_levels = levels + [max_t]
    milestone_levels = _state_list(
        milestones["levels"], kind, "milestones['levels']", len(config_ids)
    )
    if not all(_is_integer(level) and level in all_levels for level in milestone_levels):
        raise ValueError(
            f"invalid {kind} state_dict: milestones['levels'] must hold rung levels or max_t"
        )
    milestone_rungs = [all_levels.index(level) for level in milestone_levels]
    message = _milestone_problem(
        [ids for _, ids, _ in rungs], dict(zip(config_ids, milestone_rungs))
    )
    if message is not None:
        raise ValueError(f"invalid {kind} state_dict: {message}")
    return rungs, config_ids, milestone_rungs


# --------------------------------------------------------------------------- brackets


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
    starts = levels + [max_t]
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

    __hash__ = None

    def __repr__(self) -> str:
        return (
            f"BracketSampler(levels={self._levels!r}, max_t={self._max_t!r}, "
            f"num_brackets={self._num_brackets!r}, seed={self._seed!r})"
        )
