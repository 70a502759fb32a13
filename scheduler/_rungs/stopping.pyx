"""Stopping rung system of asynchronous successive halving (compiled).

Twin: :class:`scheduler._reference.StoppingRungs` (same signatures, docstrings,
error texts, decisions and state_dict).
"""

cimport cython
from cpython.number cimport PyNumber_Index
from libc.math cimport floor
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.string cimport memcpy, memmove, memset
from libcpp.algorithm cimport sort
from libcpp.pair cimport pair
from libcpp.vector cimport vector

from scheduler._rungs._heap cimport dheap_pop, dheap_push
from scheduler._rungs._idmap cimport (
    IdSlot,
    idmap_check,
    idmap_copy,
    idmap_find,
    idmap_free,
    idmap_init,
    idmap_reserve,
    idmap_set,
)
from scheduler._rungs._mem cimport grown_capacity, release, resized
from scheduler._rungs.levels cimport reached_rung

import numpy as np

from scheduler._rungs.levels import (
    _constructor_signature,
    _INT64_MAX,
    _INT64_MIN,
    STATE_VERSION,
    _check_levels,
    _check_mode,
    _check_quantiles,
    _check_rung_index,
    _check_skip_rungs,
    _percentile_position,
    _state_fields,
    _state_ints,
    _state_list,
    _state_rewards,
    _state_unique,
)

__all__ = ["StoppingRungs"]


# --------------------------------------------------------------------------- one rung

cdef inline Py_ssize_t lower_size(Py_ssize_t n, double position) noexcept nogil:
    """Values the lower heap holds for n records: floor(index) + 1, or n when numpy
    clamps the virtual index ``(n - 1) * position`` to the last value."""
    if n == 0:
        return 0
    cdef double index = <double>(n - 1) * position
    if index >= <double>(n - 1):
        return n
    return <Py_ssize_t>floor(index) + 1


cdef inline double rung_cutoff(const StoppingRung* rung) noexcept nogil:
    """numpy.percentile ("linear") of the rung's rewards, bit for bit; n >= 1.

    The float operations of numpy's ``_quantile`` / ``_lerp`` (numpy >= 1.22): see
    ``_linear_percentile`` in :mod:`scheduler._reference`. O(1).
    """
    cdef double index = <double>(rung.n - 1) * rung.position
    cdef double below, above, gamma, diff
    if index >= <double>(rung.n - 1):
        below = rung.heap[0]
        above = below
        gamma = index - (-1.0)
    else:
        below = rung.heap[0]
        above = -rung.heap[rung.capacity - 1]
        gamma = index - floor(index)
    diff = above - below
    if gamma >= 0.5:
        return above - diff * (1.0 - gamma)
    return below + diff * gamma


cdef int rung_reserve(StoppingRung* rung, Py_ssize_t needed) except -1 nogil:
    """Make room for ``needed`` records (amortized O(1) per record)."""
    if needed <= rung.capacity:
        return 0
    cdef Py_ssize_t capacity = grown_capacity(rung.capacity, needed)
    cdef Py_ssize_t n_upper = rung.n - rung.n_lower
    rung.rewards = <double*>resized(rung.rewards, <size_t>capacity * sizeof(double))
    rung.heap = <double*>resized(rung.heap, <size_t>capacity * sizeof(double))
    # the upper heap lives at the back: move it to the new back
    memmove(rung.heap + capacity - n_upper, rung.heap + rung.capacity - n_upper,
            <size_t>n_upper * sizeof(double))
    rung.capacity = capacity
    return 0


cdef int rung_copy(StoppingRung* rung, const StoppingRung* source) except -1 nogil:
    """Make ``rung`` (holding no buffers) a copy of ``source``, capacity and heap layout
    included. O(n): one memcpy per heap and for the records.

    On MemoryError ``rung`` holds what was allocated so far (``_release`` frees it).
    """
    rung[0] = source[0]
    rung.rewards = NULL
    rung.heap = NULL
    if source.capacity == 0:
        return 0
    cdef size_t nbytes = <size_t>source.capacity * sizeof(double)
    cdef Py_ssize_t n_upper = source.n - source.n_lower
    rung.rewards = <double*>resized(NULL, nbytes)
    rung.heap = <double*>resized(NULL, nbytes)
    memcpy(rung.rewards, source.rewards, <size_t>source.n * sizeof(double))
    memcpy(rung.heap, source.heap, <size_t>source.n_lower * sizeof(double))
    # the upper heap lives at the back, at the same offsets in both (same capacity)
    memcpy(rung.heap + source.capacity - n_upper, source.heap + source.capacity - n_upper,
           <size_t>n_upper * sizeof(double))
    return 0


cdef void rung_insert(StoppingRung* rung, double reward) noexcept nogil:
    """Record ``reward`` (capacity must allow it). O(log n)."""
    cdef double* lower = rung.heap
    cdef double* upper = rung.heap + rung.capacity - 1
    cdef Py_ssize_t n_lower = rung.n_lower
    cdef Py_ssize_t n_upper = rung.n - rung.n_lower
    cdef Py_ssize_t target = lower_size(rung.n + 1, rung.position)
    cdef double moved
    rung.rewards[rung.n] = reward
    if n_lower > 0 and reward <= lower[0]:
        dheap_push(lower, 1, n_lower, reward)
        n_lower += 1
    else:
        dheap_push(upper, -1, n_upper, -reward)
        n_upper += 1
    while n_lower < target:
        moved = -dheap_pop(upper, -1, n_upper)
        n_upper -= 1
        dheap_push(lower, 1, n_lower, moved)
        n_lower += 1
    while n_lower > target:
        moved = dheap_pop(lower, 1, n_lower)
        n_lower -= 1
        dheap_push(upper, -1, n_upper, -moved)
        n_upper += 1
    rung.n += 1
    rung.n_lower = n_lower


# --------------------------------------------------------------------------- validation

def _check_batch(ids, times, rewards, skips):
    arrays = (ids, times, rewards, skips)
    if any(a.ndim != 1 for a in arrays) or len({a.shape[0] for a in arrays}) != 1:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ValueError(
            "task_ids, times, rewards and skip_rungs must be 1-D arrays of one length, "
            f"got shapes {shapes}"
        )


def _task_count_problem(num_recorded, task_rungs):
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


def _stopping_records(state, num_rungs):
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


# --------------------------------------------------------------------------- the class

cdef class StoppingRungs:
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

    def __cinit__(self):
        # a valid empty map even before __init__ (or if __init__ fails)
        idmap_init(&self.tasks, 8)

    __signature__ = _constructor_signature("levels", "quantiles", mode="max")

    def __dealloc__(self):
        self._release()

    cdef void _release(self) noexcept:
        cdef Py_ssize_t j
        if self.rungs != NULL:
            for j in range(self.num_rungs):
                release(self.rungs[j].rewards)
                release(self.rungs[j].heap)
        release(self.rungs)
        release(self.level_values)
        idmap_free(&self.tasks)
        self.rungs = NULL
        self.level_values = NULL
        self.num_rungs = 0

    @cython.annotation_typing(False)
    def __init__(self, levels, quantiles, mode="max"):
        levels = _check_levels(levels)
        quantiles = _check_quantiles(quantiles, levels)
        mode = _check_mode(mode)
        self._release()
        cdef Py_ssize_t num_rungs = len(levels)
        cdef Py_ssize_t j
        self.level_values = <int64_t*>resized(NULL, <size_t>num_rungs * sizeof(int64_t))
        self.rungs = <StoppingRung*>resized(NULL, <size_t>num_rungs * sizeof(StoppingRung))
        memset(self.rungs, 0, <size_t>num_rungs * sizeof(StoppingRung))
        self.num_rungs = num_rungs
        for j in range(num_rungs):
            self.level_values[j] = levels[j]
            self.rungs[j].position = _percentile_position(quantiles[j], mode)
        idmap_init(&self.tasks, 8)
        self.maximize = mode == "max"
        self._levels = levels
        self._quantiles = quantiles
        self._mode = mode

    @property
    def levels(self):
        """The rung levels r_j (a copy)."""
        return list(self._levels)

    @property
    def quantiles(self):
        """The quantiles q_j (a copy)."""
        return list(self._quantiles)

    @property
    def mode(self):
        """``"max"`` or ``"min"``."""
        return self._mode

    @cython.annotation_typing(False)
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
        cdef int64_t c_task_id = PyNumber_Index(task_id)
        cdef int64_t c_time = PyNumber_Index(time)
        cdef double c_reward = reward
        cdef int64_t c_skip
        if c_reward != c_reward:
            raise ValueError(f"reward must not be NaN (task_id={c_task_id}, time={c_time})")
        c_skip = PyNumber_Index(skip_rungs)
        if not 0 <= c_skip <= self.num_rungs:
            raise ValueError(
                f"skip_rungs must be an integer in 0..{self.num_rungs}, got {c_skip}"
            )
        if self._report(c_task_id, c_time, c_reward, <Py_ssize_t>c_skip):
            return True
        return False

    @cython.annotation_typing(False)
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
        cdef const int64_t[:] c_ids = ids
        cdef const int64_t[:] c_times = ts
        cdef const double[:] c_rewards = rs
        cdef const int64_t[:] c_skips = skips
        cdef Py_ssize_t count = c_ids.shape[0]
        cdef Py_ssize_t i
        cdef Py_ssize_t bad = -1
        for i in range(count):
            if c_rewards[i] != c_rewards[i] or c_skips[i] < 0 or c_skips[i] > self.num_rungs:
                bad = i
                break
        if bad >= 0:
            if c_rewards[bad] != c_rewards[bad]:
                raise ValueError(
                    f"reward must not be NaN (task_id={c_ids[bad]}, time={c_times[bad]})"
                )
            _check_skip_rungs(c_skips[bad], self.num_rungs)
        out = np.zeros(count, dtype=bool)
        cdef uint8_t[:] c_out = out.view(np.uint8)
        for i in range(count):
            c_out[i] = <uint8_t>self._report(c_ids[i], c_times[i], c_rewards[i],
                                             <Py_ssize_t>c_skips[i])
        return out

    cdef int _report(self, int64_t task_id, int64_t time, double reward,
                     Py_ssize_t skip_rungs) except -1 nogil:
        """Record one validated report; 1 = continue, 0 = stop. O(log n)."""
        cdef Py_ssize_t j = reached_rung(self.level_values, self.num_rungs, time)
        if j < skip_rungs:
            return 1
        cdef Py_ssize_t slot = idmap_find(&self.tasks, task_id)
        cdef IdSlot* slots = self.tasks.slots
        if slots[slot].value >= j:
            return 1
        cdef StoppingRung* rung = &self.rungs[j]
        # allocate first, so that a MemoryError leaves the state unchanged
        rung_reserve(rung, rung.n + 1)
        if slots[slot].value == -1 and idmap_reserve(&self.tasks, self.tasks.count + 1):
            slot = idmap_find(&self.tasks, task_id)
            slots = self.tasks.slots
        cdef int decision = 1
        cdef double cutoff
        if rung.n > 0:
            cutoff = rung_cutoff(rung)
            if self.maximize:
                decision = reward >= cutoff
            else:
                decision = reward <= cutoff
        rung_insert(rung, reward)
        if slots[slot].value == -1:
            slots[slot].key = task_id
            self.tasks.count += 1
        slots[slot].value = <int32_t>j
        return decision

    @cython.annotation_typing(False)
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
        # the Python-level fields first: an object without __init__ fails here, early
        levels, quantiles = list(self._levels), list(self._quantiles)
        cdef StoppingRungs other = type(self).__new__(type(self))
        cdef Py_ssize_t j
        other._levels = levels
        other._quantiles = quantiles
        other._mode = self._mode
        other.maximize = self.maximize
        other.level_values = <int64_t*>resized(NULL, <size_t>self.num_rungs * sizeof(int64_t))
        memcpy(other.level_values, self.level_values, <size_t>self.num_rungs * sizeof(int64_t))
        other.rungs = <StoppingRung*>resized(NULL, <size_t>self.num_rungs * sizeof(StoppingRung))
        memset(other.rungs, 0, <size_t>self.num_rungs * sizeof(StoppingRung))
        other.num_rungs = self.num_rungs
        for j in range(self.num_rungs):
            rung_copy(&other.rungs[j], &self.rungs[j])
        idmap_free(&other.tasks)
        idmap_copy(&other.tasks, &self.tasks)
        return other

    @cython.annotation_typing(False)
    def __copy__(self) -> StoppingRungs:
        return self.copy()

    @cython.annotation_typing(False)
    def __deepcopy__(self, memo) -> StoppingRungs:
        return self.copy()

    @cython.annotation_typing(False)
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
        cdef Py_ssize_t j = _check_rung_index(rung_index, self.num_rungs)
        if self.rungs[j].n == 0:
            return None
        return rung_cutoff(&self.rungs[j])

    @cython.annotation_typing(False)
    def num_recorded(self, rung_index: int) -> int:
        """Number of rewards recorded at rung ``rung_index`` (0..len(levels) - 1)."""
        cdef Py_ssize_t j = _check_rung_index(rung_index, self.num_rungs)
        return self.rungs[j].n

    @cython.annotation_typing(False)
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
        cdef Py_ssize_t i, j
        cdef StoppingRung* rung
        rungs = []
        for j in range(self.num_rungs):
            rung = &self.rungs[j]
            rungs.append({"rewards": [rung.rewards[i] for i in range(rung.n)]})
        cdef vector[pair[int64_t, int32_t]] tasks
        tasks.reserve(self.tasks.count)
        cdef int64_t task_id
        cdef int32_t task_rung
        for i in range(self.tasks.capacity):
            task_rung = self.tasks.slots[i].value
            if task_rung != -1:
                task_id = self.tasks.slots[i].key  # copied out: slots are packed
                tasks.push_back(pair[int64_t, int32_t](task_id, task_rung))
        sort(tasks.begin(), tasks.end())
        return {
            "kind": "StoppingRungs",
            "version": STATE_VERSION,
            "levels": list(self._levels),
            "quantiles": list(self._quantiles),
            "mode": self._mode,
            "rungs": rungs,
            "tasks": {
                "task_ids": [tasks[i].first for i in range(<Py_ssize_t>tasks.size())],
                "rungs": [tasks[i].second for i in range(<Py_ssize_t>tasks.size())],
            },
        }

    @classmethod
    @cython.annotation_typing(False)
    def from_state_dict(cls, state: dict) -> StoppingRungs:
        """Rebuild a rung system from :meth:`state_dict` output (of either backend).

        Raises
        ------
        ValueError
            If ``state`` is not a valid StoppingRungs state.
        """
        kind = "StoppingRungs"
        _state_fields(state, kind, ("levels", "quantiles", "mode", "rungs", "tasks"))
        cdef StoppingRungs rungs = cls(state["levels"], state["quantiles"], state["mode"])
        rewards, task_ids, task_rungs = _stopping_records(state, rungs.num_rungs)
        cdef Py_ssize_t j
        cdef StoppingRung* rung
        for j in range(rungs.num_rungs):
            rung = &rungs.rungs[j]
            values = rewards[j]
            rung_reserve(rung, len(values))
            for reward in values:
                rung_insert(rung, reward)
        idmap_reserve(&rungs.tasks, len(task_ids))
        for task_id, j in zip(task_ids, task_rungs):
            idmap_set(&rungs.tasks, task_id, j)
        return rungs

    @cython.annotation_typing(False)
    def _check(self) -> None:
        """Verify every internal invariant; raise AssertionError if one fails."""
        cdef Py_ssize_t i, j, n_upper
        cdef StoppingRung* rung
        cdef double* upper
        for j in range(self.num_rungs):
            rung = &self.rungs[j]
            n_upper = rung.n - rung.n_lower
            if not 0 <= rung.n <= rung.capacity:
                raise AssertionError(f"rung {j}: {rung.n} records exceed capacity {rung.capacity}")
            if rung.n_lower != lower_size(rung.n, rung.position):
                raise AssertionError(
                    f"rung {j}: the lower heap holds {rung.n_lower} of {rung.n} rewards, "
                    f"not {lower_size(rung.n, rung.position)}"
                )
            if rung.capacity == 0:
                continue
            upper = rung.heap + rung.capacity - 1
            for i in range(1, rung.n_lower):
                if rung.heap[(i - 1) // 2] < rung.heap[i]:
                    raise AssertionError(f"rung {j}: lower heap order broken at {i}")
            for i in range(1, n_upper):
                if upper[-((i - 1) // 2)] < upper[-i]:
                    raise AssertionError(f"rung {j}: upper heap order broken at {i}")
            if rung.n_lower > 0 and n_upper > 0 and rung.heap[0] > -upper[0]:
                raise AssertionError(f"rung {j}: the lower part exceeds the upper part")
            records = [rung.rewards[i] for i in range(rung.n)]
            if any(reward != reward for reward in records):
                raise AssertionError(f"rung {j}: a NaN reward is recorded")
            held = [rung.heap[i] for i in range(rung.n_lower)]
            held.extend(-upper[-i] for i in range(n_upper))
            if sorted(held) != sorted(records):
                raise AssertionError(f"rung {j}: the heaps differ from the records")
        idmap_check(&self.tasks, "task")
        task_rungs = [self.tasks.slots[i].value for i in range(self.tasks.capacity)
                      if self.tasks.slots[i].value != -1]
        message = _task_count_problem([self.rungs[j].n for j in range(self.num_rungs)],
                                      task_rungs)
        if message is not None:
            raise AssertionError(message)

    def __reduce__(self):
        return (type(self).from_state_dict, (self.state_dict(),))

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self.state_dict() == other.state_dict()

    __hash__ = None

    def __repr__(self):
        counts = [self.rungs[j].n for j in range(self.num_rungs)]
        return (
            f"StoppingRungs(levels={self._levels!r}, quantiles={self._quantiles!r}, "
            f"mode={self._mode!r}, num_recorded={counts!r})"
        )

    def __sizeof__(self):
        cdef Py_ssize_t j
        cdef size_t total = object.__sizeof__(self)
        total += <size_t>self.num_rungs * (sizeof(StoppingRung) + sizeof(int64_t))
        for j in range(self.num_rungs):
            total += 2 * <size_t>self.rungs[j].capacity * sizeof(double)
        total += <size_t>self.tasks.capacity * sizeof(IdSlot)
        return total

