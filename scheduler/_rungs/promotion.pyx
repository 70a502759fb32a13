"""Promotion rung system of ASHA (compiled).

Twin: :class:`scheduler._reference.PromotionRungs` (same signatures, docstrings,
error texts, decisions and state_dict).
"""

cimport cython
from cpython.number cimport PyNumber_Index
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t
from libc.string cimport memcpy, memmove, memset
from libcpp.algorithm cimport sort
from libcpp.pair cimport pair
from libcpp.vector cimport vector

from scheduler._rungs._heap cimport better, iheap_pop, iheap_push
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

from fractions import Fraction

from scheduler._rungs.levels import (
    _constructor_signature,
    _INT64_MAX,
    _INT64_MIN,
    STATE_VERSION,
    _check_levels,
    _check_max_t,
    _check_mode,
    _check_promotion_quantiles,
    _check_rung_index,
    _is_integer,
    _state_fields,
    _state_ints,
    _state_list,
    _state_rewards,
    _state_unique,
)

__all__ = ["PromotionRungs"]

# entry indices are uint32
cdef Py_ssize_t MAX_ENTRIES = 0xFFFFFFFF


# --------------------------------------------------------------------------- one rung

cdef int rung_reserve(PromotionRung* rung, Py_ssize_t needed) except -1 nogil:
    """Make room for ``needed`` entries (amortized O(1) per entry)."""
    if needed <= rung.capacity:
        return 0
    if needed > MAX_ENTRIES:
        with gil:
            raise OverflowError("a rung holds at most 2**32 - 1 entries")
    cdef Py_ssize_t capacity = grown_capacity(rung.capacity, needed)
    if capacity > MAX_ENTRIES:
        capacity = MAX_ENTRIES
    cdef Py_ssize_t n_rest = rung.n - rung.n_top
    rung.keys = <double*>resized(rung.keys, <size_t>capacity * sizeof(double))
    rung.config_ids = <int64_t*>resized(rung.config_ids, <size_t>capacity * sizeof(int64_t))
    rung.promoted = <uint8_t*>resized(rung.promoted, <size_t>capacity * sizeof(uint8_t))
    rung.split = <uint32_t*>resized(rung.split, <size_t>capacity * sizeof(uint32_t))
    # the rest heap lives at the back: move it to the new back
    memmove(rung.split + capacity - n_rest, rung.split + rung.capacity - n_rest,
            <size_t>n_rest * sizeof(uint32_t))
    rung.capacity = capacity
    return 0


cdef int waiting_reserve(PromotionRung* rung, Py_ssize_t needed) except -1 nogil:
    """Make room for ``needed`` unpromoted entries."""
    if needed <= rung.waiting_capacity:
        return 0
    cdef Py_ssize_t capacity = grown_capacity(rung.waiting_capacity, needed)
    rung.waiting = <uint32_t*>resized(rung.waiting, <size_t>capacity * sizeof(uint32_t))
    rung.waiting_capacity = capacity
    return 0


cdef int rung_copy(PromotionRung* rung, const PromotionRung* source) except -1 nogil:
    """Make ``rung`` (holding no buffers) a copy of ``source``, capacities and heap
    layout included. O(n): one memcpy per array.

    On MemoryError ``rung`` holds what was allocated so far (``_release`` frees it).
    """
    rung[0] = source[0]
    rung.keys = NULL
    rung.config_ids = NULL
    rung.promoted = NULL
    rung.split = NULL
    rung.waiting = NULL
    cdef Py_ssize_t capacity = source.capacity
    cdef size_t n = <size_t>source.n
    cdef Py_ssize_t n_rest = source.n - source.n_top
    if capacity > 0:
        rung.keys = <double*>resized(NULL, <size_t>capacity * sizeof(double))
        rung.config_ids = <int64_t*>resized(NULL, <size_t>capacity * sizeof(int64_t))
        rung.promoted = <uint8_t*>resized(NULL, <size_t>capacity * sizeof(uint8_t))
        rung.split = <uint32_t*>resized(NULL, <size_t>capacity * sizeof(uint32_t))
        memcpy(rung.keys, source.keys, n * sizeof(double))
        memcpy(rung.config_ids, source.config_ids, n * sizeof(int64_t))
        memcpy(rung.promoted, source.promoted, n * sizeof(uint8_t))
        memcpy(rung.split, source.split, <size_t>source.n_top * sizeof(uint32_t))
        # the rest heap lives at the back, at the same offsets in both (same capacity)
        memcpy(rung.split + capacity - n_rest, source.split + capacity - n_rest,
               <size_t>n_rest * sizeof(uint32_t))
    if source.waiting_capacity > 0:
        rung.waiting = <uint32_t*>resized(
            NULL, <size_t>source.waiting_capacity * sizeof(uint32_t))
        memcpy(rung.waiting, source.waiting, <size_t>source.n_waiting * sizeof(uint32_t))
    return 0


cdef void rung_insert(PromotionRung* rung, uint32_t entry) noexcept nogil:
    """Add entry ``n`` (its key set, capacity reserved) to the top/rest split. O(log n).

    k(n + 1) - k(n) is 0 or 1 since level < next_level; the remainder tracks
    (n * level) % next_level, so the count stays exact without a multiplication.
    """
    cdef const double* keys = rung.keys
    cdef uint32_t* top = rung.split
    cdef uint32_t* rest = rung.split + rung.capacity - 1
    cdef Py_ssize_t n_top = rung.n_top
    cdef Py_ssize_t n_rest = rung.n - rung.n_top
    cdef Py_ssize_t target = n_top
    cdef uint32_t moved
    rung.remainder += rung.level
    if rung.remainder >= rung.next_level:
        rung.remainder -= rung.next_level
        target += 1
    if n_top > 0 and better(keys, entry, top[0]):
        iheap_push(top, 1, n_top, entry, keys, False)
        n_top += 1
    else:
        iheap_push(rest, -1, n_rest, entry, keys, True)
        n_rest += 1
    while n_top < target:
        moved = iheap_pop(rest, -1, n_rest, keys, True)
        n_rest -= 1
        iheap_push(top, 1, n_top, moved, keys, False)
        n_top += 1
    while n_top > target:
        moved = iheap_pop(top, 1, n_top, keys, False)
        n_top -= 1
        iheap_push(rest, -1, n_rest, moved, keys, True)
        n_rest += 1
    rung.n += 1
    rung.n_top = n_top


cdef inline bint promotable(const PromotionRung* rung, uint32_t entry) noexcept nogil:
    """Whether ``entry`` ranks in the top k(n) and n >= min_entries. O(1)."""
    if rung.n < rung.min_entries or rung.n_top == 0:
        return False
    return entry == rung.split[0] or better(rung.keys, entry, rung.split[0])


# --------------------------------------------------------------------------- validation

def _milestone_problem(config_ids, milestone_rung):
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


def _promotion_records(state, levels, max_t):
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


# --------------------------------------------------------------------------- the class

cdef class PromotionRungs:
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

    def __cinit__(self):
        # a valid empty map even before __init__ (or if __init__ fails)
        idmap_init(&self.milestones, 8)

    __signature__ = _constructor_signature("levels", "quantiles", "max_t", mode="max")

    def __dealloc__(self):
        self._release()

    cdef void _release(self) noexcept:
        cdef Py_ssize_t j
        cdef PromotionRung* rung
        if self.rungs != NULL:
            for j in range(self.num_rungs):
                rung = &self.rungs[j]
                release(rung.keys)
                release(rung.config_ids)
                release(rung.promoted)
                release(rung.split)
                release(rung.waiting)
        release(self.rungs)
        release(self.level_values)
        idmap_free(&self.milestones)
        self.rungs = NULL
        self.level_values = NULL
        self.num_rungs = 0

    def __init__(self, levels, quantiles, max_t, mode="max"):
        levels = _check_levels(levels)
        max_t = _check_max_t(max_t)
        _check_levels(levels, max_t)
        quantiles = _check_promotion_quantiles(quantiles, levels, max_t)
        mode = _check_mode(mode)
        self._release()
        cdef Py_ssize_t num_rungs = len(levels)
        cdef Py_ssize_t j
        cdef PromotionRung* rung
        next_levels = levels[1:] + [max_t]
        self.level_values = <int64_t*>resized(NULL, <size_t>num_rungs * sizeof(int64_t))
        self.rungs = <PromotionRung*>resized(NULL, <size_t>num_rungs * sizeof(PromotionRung))
        memset(self.rungs, 0, <size_t>num_rungs * sizeof(PromotionRung))
        self.num_rungs = num_rungs
        for j in range(num_rungs):
            rung = &self.rungs[j]
            self.level_values[j] = levels[j]
            rung.level = levels[j]
            rung.next_level = next_levels[j]
            rung.min_entries = round(Fraction(next_levels[j], levels[j]))
        idmap_init(&self.milestones, 8)
        self.max_t_value = max_t
        self.maximize = mode == "max"
        self._levels = levels
        self._quantiles = quantiles
        self._max_t = max_t
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
    def max_t(self):
        """R, the maximum resource."""
        return self._max_t

    @property
    def mode(self):
        """``"max"`` or ``"min"``."""
        return self._mode

    def _level(self, rung):
        return self._levels[rung] if rung < self.num_rungs else self._max_t

    @cython.annotation_typing(False)
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
        cdef int64_t c_config_id = PyNumber_Index(config_id)
        if self.milestones.slots[idmap_find(&self.milestones, c_config_id)].value != -1:
            raise ValueError(f"config_id {c_config_id} is already registered")
        cdef int64_t c_skip = PyNumber_Index(skip_rungs)
        if not 0 <= c_skip <= self.num_rungs:
            raise ValueError(
                f"skip_rungs must be an integer in 0..{self.num_rungs}, got {c_skip}"
            )
        idmap_set(&self.milestones, c_config_id, <int32_t>c_skip)
        return self._level(c_skip)

    @cython.annotation_typing(False)
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
        cdef int64_t c_config_id = PyNumber_Index(config_id)
        cdef int64_t c_time = PyNumber_Index(time)
        cdef double c_reward = reward
        cdef Py_ssize_t slot = idmap_find(&self.milestones, c_config_id)
        cdef Py_ssize_t milestone = self.milestones.slots[slot].value
        if milestone == -1:
            raise ValueError(f"config_id {c_config_id} is not registered (call add() first)")
        if c_reward != c_reward:
            raise ValueError(f"reward must not be NaN (config_id={c_config_id}, time={c_time})")
        if c_time >= self.max_t_value:
            return True
        if milestone == self.num_rungs or c_time < self.level_values[milestone]:
            return True
        cdef Py_ssize_t j = reached_rung(self.level_values, self.num_rungs, c_time)
        if self._record(j, c_config_id, c_reward, slot):
            return True
        return False

    cdef int _record(self, Py_ssize_t rung_index, int64_t config_id, double reward,
                     Py_ssize_t slot) except -1 nogil:
        """Record a validated report at rung j; 1 = promoted at once, 0 = paused."""
        cdef PromotionRung* rung = &self.rungs[rung_index]
        # allocate first, so that a MemoryError leaves the state unchanged
        rung_reserve(rung, rung.n + 1)
        waiting_reserve(rung, rung.n_waiting + 1)
        cdef uint32_t entry = <uint32_t>rung.n
        rung.keys[entry] = reward if self.maximize else -reward
        rung.config_ids[entry] = config_id
        rung.promoted[entry] = 0
        rung_insert(rung, entry)
        self.milestones.slots[slot].value = <int32_t>(rung_index + 1)
        if promotable(rung, entry):
            rung.promoted[entry] = 1
            return 1
        iheap_push(rung.waiting, 1, rung.n_waiting, entry, rung.keys, True)
        rung.n_waiting += 1
        return 0

    @cython.annotation_typing(False)
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
        cdef uint32_t entry
        cdef Py_ssize_t j = self._promote(&entry)
        if j < 0:
            return None
        return (self.rungs[j].config_ids[entry], self.level_values[j])

    cdef Py_ssize_t _promote(self, uint32_t* entry) noexcept nogil:
        """Flag the promotion and return its rung (its entry in ``entry``), or -1."""
        cdef Py_ssize_t j
        cdef PromotionRung* rung
        for j in range(self.num_rungs - 1, -1, -1):
            rung = &self.rungs[j]
            if rung.n_waiting > 0 and promotable(rung, rung.waiting[0]):
                entry[0] = iheap_pop(rung.waiting, 1, rung.n_waiting, rung.keys, True)
                rung.n_waiting -= 1
                rung.promoted[entry[0]] = 1
                return j
        return -1

    @cython.annotation_typing(False)
    def milestone(self, config_id: int) -> int:
        """The next level at which a report of ``config_id`` is recorded (or max_t).

        Raises
        ------
        ValueError
            If ``config_id`` is not registered.
        """
        cdef int64_t c_config_id = PyNumber_Index(config_id)
        cdef int32_t milestone = self.milestones.slots[
            idmap_find(&self.milestones, c_config_id)].value
        if milestone == -1:
            raise ValueError(f"config_id {c_config_id} is not registered (call add() first)")
        return self._level(milestone)

    @cython.annotation_typing(False)
    def copy(self) -> PromotionRungs:
        """An independent copy: equal to this one, sharing no mutable state.

        Returns
        -------
        PromotionRungs
            Of the same type, with the same :meth:`state_dict`; adding, recording or
            promoting in either never changes the other. ``copy.copy`` and
            ``copy.deepcopy`` return the same. Much cheaper than :meth:`state_dict`:
            to snapshot the state under a lock, copy under it and call
            :meth:`state_dict` on the copy after.

        Notes
        -----
        O(n) for n recorded entries and registered configs, at memory speed in the
        compiled kernel: one memcpy per C buffer (entries, heaps, milestone map;
        capacities kept), no Python object per entry.
        """
        # the Python-level fields first: an object without __init__ fails here, early
        levels, quantiles = list(self._levels), list(self._quantiles)
        cdef PromotionRungs other = type(self).__new__(type(self))
        cdef Py_ssize_t j
        other._levels = levels
        other._quantiles = quantiles
        other._max_t = self._max_t
        other._mode = self._mode
        other.max_t_value = self.max_t_value
        other.maximize = self.maximize
        other.level_values = <int64_t*>resized(NULL, <size_t>self.num_rungs * sizeof(int64_t))
        memcpy(other.level_values, self.level_values, <size_t>self.num_rungs * sizeof(int64_t))
        other.rungs = <PromotionRung*>resized(
            NULL, <size_t>self.num_rungs * sizeof(PromotionRung))
        memset(other.rungs, 0, <size_t>self.num_rungs * sizeof(PromotionRung))
        other.num_rungs = self.num_rungs
        for j in range(self.num_rungs):
            rung_copy(&other.rungs[j], &self.rungs[j])
        idmap_free(&other.milestones)
        idmap_copy(&other.milestones, &self.milestones)
        return other

    @cython.annotation_typing(False)
    def __copy__(self) -> PromotionRungs:
        return self.copy()

    @cython.annotation_typing(False)
    def __deepcopy__(self, memo) -> PromotionRungs:
        return self.copy()

    @cython.annotation_typing(False)
    def num_recorded(self, rung_index: int) -> int:
        """Number of entries recorded at rung ``rung_index`` (0..len(levels) - 1)."""
        cdef Py_ssize_t j = _check_rung_index(rung_index, self.num_rungs)
        return self.rungs[j].n

    @cython.annotation_typing(False)
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
        cdef Py_ssize_t i, j
        cdef PromotionRung* rung
        rungs = []
        for j in range(self.num_rungs):
            rung = &self.rungs[j]
            if self.maximize:
                rewards = [rung.keys[i] for i in range(rung.n)]
            else:
                rewards = [-rung.keys[i] for i in range(rung.n)]
            rungs.append({
                "rewards": rewards,
                "config_ids": [rung.config_ids[i] for i in range(rung.n)],
                "promoted": [rung.promoted[i] != 0 for i in range(rung.n)],
            })
        cdef vector[pair[int64_t, int32_t]] configs
        cdef int64_t config_id
        cdef int32_t milestone
        configs.reserve(self.milestones.count)
        for i in range(self.milestones.capacity):
            milestone = self.milestones.slots[i].value
            if milestone != -1:
                config_id = self.milestones.slots[i].key  # copied out: slots are packed
                configs.push_back(pair[int64_t, int32_t](config_id, milestone))
        sort(configs.begin(), configs.end())
        all_levels = self._levels + [self._max_t]
        return {
            "kind": "PromotionRungs",
            "version": STATE_VERSION,
            "levels": list(self._levels),
            "quantiles": list(self._quantiles),
            "max_t": self._max_t,
            "mode": self._mode,
            "rungs": rungs,
            "milestones": {
                "config_ids": [configs[i].first for i in range(<Py_ssize_t>configs.size())],
                "levels": [all_levels[configs[i].second]
                           for i in range(<Py_ssize_t>configs.size())],
            },
        }

    @classmethod
    @cython.annotation_typing(False)
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
        cdef PromotionRungs rungs = cls(
            state["levels"], state["quantiles"], state["max_t"], state["mode"]
        )
        records, config_ids, milestone_rungs = _promotion_records(
            state, rungs._levels, rungs._max_t
        )
        cdef Py_ssize_t i, j, count
        cdef PromotionRung* rung
        cdef uint32_t entry
        cdef double reward
        for j in range(rungs.num_rungs):
            rung = &rungs.rungs[j]
            rewards, ids, promoted = records[j]
            count = len(rewards)
            rung_reserve(rung, count)
            waiting_reserve(rung, count - sum(promoted))
            for i in range(count):
                entry = <uint32_t>rung.n
                reward = rewards[i]
                rung.keys[entry] = reward if rungs.maximize else -reward
                rung.config_ids[entry] = ids[i]
                rung.promoted[entry] = 1 if promoted[i] else 0
                rung_insert(rung, entry)
                if not promoted[i]:
                    iheap_push(rung.waiting, 1, rung.n_waiting, entry, rung.keys, True)
                    rung.n_waiting += 1
        idmap_reserve(&rungs.milestones, len(config_ids))
        for config_id, j in zip(config_ids, milestone_rungs):
            idmap_set(&rungs.milestones, config_id, <int32_t>j)
        return rungs

    @cython.annotation_typing(False)
    def _check(self) -> None:
        """Verify every internal invariant; raise AssertionError if one fails."""
        cdef Py_ssize_t i, j, n_rest
        cdef PromotionRung* rung
        cdef uint32_t* top
        cdef uint32_t* rest
        cdef bytearray seen
        cdef uint32_t entry
        for j in range(self.num_rungs):
            rung = &self.rungs[j]
            if not 0 <= rung.n <= rung.capacity or not 0 <= rung.n_waiting <= rung.n:
                raise AssertionError(f"rung {j}: sizes exceed capacities")
            product = int(rung.n) * int(rung.level)  # exact: Python ints
            if (rung.n_top != product // rung.next_level
                    or rung.remainder != product % rung.next_level):
                raise AssertionError(
                    f"rung {j}: the top part holds {rung.n_top} of {rung.n} entries, "
                    f"not {product // rung.next_level}"
                )
            if rung.capacity == 0:
                continue
            top = rung.split
            rest = rung.split + rung.capacity - 1
            n_rest = rung.n - rung.n_top
            seen = bytearray(rung.n)
            for i in range(rung.n_top):
                if top[i] >= rung.n or seen[top[i]]:
                    raise AssertionError(f"rung {j}: the split does not hold every entry once")
                seen[top[i]] = 1
                if i > 0 and better(rung.keys, top[(i - 1) // 2], top[i]):
                    raise AssertionError(f"rung {j}: top heap order broken at {i}")
            for i in range(n_rest):
                if rest[-i] >= rung.n or seen[rest[-i]]:
                    raise AssertionError(f"rung {j}: the split does not hold every entry once")
                seen[rest[-i]] = 1
                if i > 0 and better(rung.keys, rest[-i], rest[-((i - 1) // 2)]):
                    raise AssertionError(f"rung {j}: rest heap order broken at {i}")
            if rung.n_top > 0 and n_rest > 0 and not better(rung.keys, top[0], rest[0]):
                raise AssertionError(f"rung {j}: the top part does not rank above the rest")
            seen = bytearray(rung.n)
            for i in range(rung.n_waiting):
                entry = rung.waiting[i]
                if entry >= rung.n or seen[entry] or rung.promoted[entry]:
                    raise AssertionError(f"rung {j}: the waiting heap holds a bad entry")
                seen[entry] = 1
                if i > 0 and better(rung.keys, entry, rung.waiting[(i - 1) // 2]):
                    raise AssertionError(f"rung {j}: waiting heap order broken at {i}")
            for i in range(rung.n):
                if rung.keys[i] != rung.keys[i] or rung.promoted[i] > 1:
                    raise AssertionError(f"rung {j}: an entry has a NaN reward or a bad flag")
                if not rung.promoted[i] and not seen[i]:
                    raise AssertionError(f"rung {j}: unpromoted entry {i} is not waiting")
        idmap_check(&self.milestones, "config")
        milestone_rung = {}
        for i in range(self.milestones.capacity):
            if self.milestones.slots[i].value != -1:
                milestone_rung[self.milestones.slots[i].key] = self.milestones.slots[i].value
        for value in milestone_rung.values():
            if value > self.num_rungs:
                raise AssertionError(f"a milestone rung {value} is beyond max_t")
        message = _milestone_problem(
            [[self.rungs[j].config_ids[i] for i in range(self.rungs[j].n)]
             for j in range(self.num_rungs)],
            milestone_rung,
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

    def __repr__(self):
        counts = [self.rungs[j].n for j in range(self.num_rungs)]
        return (
            f"PromotionRungs(levels={self._levels!r}, quantiles={self._quantiles!r}, "
            f"max_t={self._max_t!r}, mode={self._mode!r}, num_recorded={counts!r})"
        )

    def __sizeof__(self):
        cdef Py_ssize_t j
        cdef size_t total = object.__sizeof__(self)
        cdef size_t per_entry = sizeof(double) + sizeof(int64_t) + sizeof(uint8_t) + sizeof(uint32_t)
        total += <size_t>self.num_rungs * (sizeof(PromotionRung) + sizeof(int64_t))
        for j in range(self.num_rungs):
            total += <size_t>self.rungs[j].capacity * per_entry
            total += <size_t>self.rungs[j].waiting_capacity * sizeof(uint32_t)
        total += <size_t>self.milestones.capacity * sizeof(IdSlot)
        return total
