"""Twin of ``scheduler._rungs.stopping``: the stopping rung system (running
quantiles, DESIGN.md section 4 "Stopping")."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from scheduler.kernels.twins._checks import (
    _INT64_MAX,
    _INT64_MIN,
    STATE_VERSION,
    _as_float,
    _as_int64,
    _check_levels,
    _check_mode,
    _check_quantiles,
    _check_rung_index,
    _check_skip_rungs,
    _state_fields,
    _state_ints,
    _state_list,
    _state_rewards,
    _state_unique,
)
from scheduler.kernels.twins.levels import _reached_rung


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

    # The signature is the compiled kernel's, text for text (tests/test_kernels_backend.py
    # compares them); its full types are in scheduler/_rungs/stopping.pyi.
    def on_reports(self, task_ids, times, rewards, skip_rungs=None) -> np.ndarray:  # type: ignore[no-untyped-def]
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

    def copy(self) -> StoppingRungs:
        """An independent copy: equal to this one, sharing no mutable state.

        Returns
        -------
        StoppingRungs
            Of the same type, with the same :meth:`state_dict`; recording into either
            never changes the other. ``copy.copy`` and ``copy.deepcopy`` return the
            same. Much cheaper than :meth:`state_dict`: to snapshot the state under a
            lock, copy under it and call :meth:`state_dict` on the copy after.

        Notes
        -----
        O(n) for n recorded rewards and tasks, at memory speed in the compiled kernel:
        one memcpy per C buffer (rewards, heaps, task map; capacities kept), no
        Python object per entry.
        """
        other = type(self).__new__(type(self))
        other._levels = list(self._levels)
        other._quantiles = list(self._quantiles)
        other._mode = self._mode
        other._positions = list(self._positions)
        # floats and ints are immutable: copying each list (and the dict) is enough
        other._rewards = [list(rewards) for rewards in self._rewards]
        other._sorted = [list(ordered) for ordered in self._sorted]
        other._task_rung = dict(self._task_rung)
        return other

    def __copy__(self) -> StoppingRungs:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> StoppingRungs:
        return self.copy()

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

    __hash__ = None  # type: ignore[assignment]  # equal by state, so not hashable

    def __repr__(self) -> str:
        counts = [len(rewards) for rewards in self._rewards]
        return (
            f"StoppingRungs(levels={self._levels!r}, quantiles={self._quantiles!r}, "
            f"mode={self._mode!r}, num_recorded={counts!r})"
        )


def _check_batch(
    ids: np.ndarray, times: np.ndarray, rewards: np.ndarray, skips: np.ndarray
) -> None:
    arrays = (ids, times, rewards, skips)
    if any(a.ndim != 1 for a in arrays) or len({a.shape[0] for a in arrays}) != 1:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ValueError(
            "task_ids, times, rewards and skip_rungs must be 1-D arrays of one length, "
            f"got shapes {shapes}"
        )


def _task_count_problem(num_recorded: list[int], task_rungs: Iterable[int]) -> str | None:
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


def _stopping_records(
    state: dict, num_rungs: int
) -> tuple[list[list[float]], list[int], list[int]]:
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
