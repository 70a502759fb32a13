"""Twin of ``scheduler._rungs.promotion``: the promotion rung system (ASHA,
DESIGN.md section 4 "Promotion")."""

from __future__ import annotations

import bisect
import math
from fractions import Fraction
from typing import Any

from scheduler.kernels.twins._checks import (
    _INT64_MAX,
    _INT64_MIN,
    STATE_VERSION,
    _as_float,
    _as_int64,
    _check_levels,
    _check_max_t,
    _check_mode,
    _check_promotion_quantiles,
    _check_rung_index,
    _check_skip_rungs,
    _is_integer,
    _state_fields,
    _state_ints,
    _state_list,
    _state_rewards,
    _state_unique,
)
from scheduler.kernels.twins.levels import _reached_rung


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
        next_levels = [*self._levels[1:], self._max_t]
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
        other = type(self).__new__(type(self))
        other._levels = list(self._levels)
        other._max_t = self._max_t
        other._quantiles = list(self._quantiles)
        other._mode = self._mode
        other._next_levels = list(self._next_levels)
        other._min_entries = list(self._min_entries)
        # an entry [reward, config_id, promoted] is mutable (promote() flags it): copy
        # each; the rank keys are tuples, immutable, so copying their lists is enough
        other._entries = [[list(entry) for entry in entries] for entries in self._entries]
        other._ranking = [list(keys) for keys in self._ranking]
        other._waiting = [list(keys) for keys in self._waiting]
        other._milestone = dict(self._milestone)
        return other

    def __copy__(self) -> PromotionRungs:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> PromotionRungs:
        return self.copy()

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

    __hash__ = None  # type: ignore[assignment]  # equal by state, so not hashable

    def __repr__(self) -> str:
        counts = [len(entries) for entries in self._entries]
        return (
            f"PromotionRungs(levels={self._levels!r}, quantiles={self._quantiles!r}, "
            f"max_t={self._max_t!r}, mode={self._mode!r}, num_recorded={counts!r})"
        )


def _milestone_problem(config_ids: list[list[int]], milestone_rung: dict[int, int]) -> str | None:
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


def _promotion_records(
    state: dict, levels: list[int], max_t: int
) -> tuple[list[tuple[list[float], list[int], list[bool]]], list[int], list[int]]:
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
    all_levels = [*levels, max_t]
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
