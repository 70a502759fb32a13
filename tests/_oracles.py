"""Brute-force oracles for the rung kernels, written from the contract alone.

They follow DESIGN.md section 4 (the rung semantics both kernel backends implement)
literally and never import ``scheduler.kernels.twins`` or ``_rungs``: levels by an
integer loop, stopping cutoffs by calling ``numpy.percentile`` on a plain list per
decision, promotion ranks by sorting every entry of the rung per decision (the bracket
sampler's splitmix64 oracle lives in ``test_rungs_brackets.py``). Slow on purpose; only
for tests.
"""

from __future__ import annotations

import copy
import itertools
import math
from fractions import Fraction

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


# -- levels -------------------------------------------------------------------------------


def brute_levels(grace_period: int, reduction_factor: int, max_t: int) -> list[int]:
    """g * eta**k for k = 0, 1, ... while < max_t, by repeated integer multiplication."""
    levels = []
    level = grace_period
    while level < max_t:
        levels.append(level)
        level *= reduction_factor
    return levels


def brute_quantiles(levels: list[int], max_t: int) -> list[float]:
    """levels[j] / levels[j + 1] with levels[K] = max_t (Python true division of ints)."""
    bounds = [*list(levels[1:]), max_t]
    return [lo / hi for lo, hi in zip(levels, bounds)]


# -- floats -------------------------------------------------------------------------------


def same_float(a: float | None, b: float | None) -> bool:
    """``a == b``, except that two NaNs are the same (numpy.percentile can return NaN)."""
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b


def percentile_cutoff(rewards: list[float], q: float, mode: str) -> float | None:
    """The spec's cutoff, by calling numpy.percentile (default method "linear")."""
    if not rewards:
        return None
    arr = np.asarray(rewards, dtype=np.float64)
    with np.errstate(all="ignore"):
        if mode == "max":
            return float(np.percentile(arr, 100 * (1 - q)))
        return float(np.percentile(arr, 100 * q))


# -- plain JSON data ----------------------------------------------------------------------


def assert_plain_json(obj: object, path: str = "state") -> None:
    """Only dict (str keys), list, int, float, str, bool and None -- no tuples, no numpy."""
    if obj is None or type(obj) in (bool, int, float, str):
        return
    if type(obj) is list:
        for i, item in enumerate(obj):
            assert_plain_json(item, f"{path}[{i}]")
        return
    if type(obj) is dict:
        for key, value in obj.items():
            assert type(key) is str, f"{path}: non-str key {key!r}"
            assert_plain_json(value, f"{path}[{key!r}]")
        return
    raise AssertionError(
        f"{path}: {type(obj).__module__}.{type(obj).__qualname__} is not plain JSON"
    )


# -- copies -------------------------------------------------------------------------------

COPY_WAYS = ("copy()", "copy.copy", "copy.deepcopy", "copy() of a copy()")


def copied(obj, how: str):
    """A copy of a kernel made one of the :data:`COPY_WAYS`; checked to be a new object
    of the same type, equal to ``obj`` and with the same ``state_dict()``."""
    if how == "copy()":
        clone = obj.copy()
    elif how == "copy.copy":
        clone = copy.copy(obj)
    elif how == "copy.deepcopy":
        clone = copy.deepcopy(obj)
    elif how == "copy() of a copy()":
        clone = obj.copy().copy()
    else:
        raise ValueError(f"how must be one of {COPY_WAYS}, got {how!r}")
    assert type(clone) is type(obj)
    assert clone is not obj
    assert clone == obj
    assert clone.state_dict() == obj.state_dict()
    clone._check()
    if hasattr(obj, "__dict__"):  # a twin: every attribute set, no mutable one shared
        assert vars(clone).keys() == vars(obj).keys()
        for name, value in vars(obj).items():
            if isinstance(value, (list, dict)):
                assert vars(clone)[name] is not value, name
    return clone


# -- stopping -----------------------------------------------------------------------------


class StoppingOracle:
    """Per rung a plain list of rewards in record order; per task its highest rung."""

    def __init__(self, levels: list[int], quantiles: list[float], mode: str = "max") -> None:
        self.levels = list(levels)
        self.quantiles = list(quantiles)
        self.mode = mode
        self.rewards: list[list[float]] = [[] for _ in self.levels]
        self.top: dict[int, int] = {}

    def cutoff(self, rung_index: int) -> float | None:
        return percentile_cutoff(self.rewards[rung_index], self.quantiles[rung_index], self.mode)

    def num_recorded(self, rung_index: int) -> int:
        return len(self.rewards[rung_index])

    def rung_for(self, time: int, skip_rungs: int = 0) -> int | None:
        found = None
        for j in range(skip_rungs, len(self.levels)):
            if self.levels[j] <= time:
                found = j
        return found

    def on_report(self, task_id: int, time: int, reward: float, skip_rungs: int = 0) -> bool:
        if math.isnan(reward):
            raise ValueError(f"reward must not be NaN (task_id={task_id}, time={time})")
        j = self.rung_for(time, skip_rungs)
        if j is None or self.top.get(task_id, -1) >= j:
            return True
        c = self.cutoff(j)
        if c is None:
            keep = True
        elif self.mode == "max":
            keep = reward >= c
        else:
            keep = reward <= c
        self.rewards[j].append(float(reward))
        self.top[task_id] = j
        return keep


# -- promotion ----------------------------------------------------------------------------


class PromotionOracle:
    """Per rung a list of [reward, config_id, promoted]; ranks by sorting all entries."""

    def __init__(self, levels: list[int], max_t: int, mode: str = "max") -> None:
        self.levels = list(levels)
        self.max_t = max_t
        self.mode = mode
        self.bounds = [*self.levels[1:], max_t]
        self.entries: list[list[list]] = [[] for _ in self.levels]
        self.milestones: dict[int, int] = {}

    def min_entries(self, j: int) -> int:
        return round(Fraction(self.bounds[j], self.levels[j]))

    def k(self, j: int, n: int) -> int:
        return (n * self.levels[j]) // self.bounds[j]

    def ranked(self, j: int) -> list[int]:
        """Entry indices of rung j, best first (ties: earlier record first)."""
        entries = self.entries[j]
        sign = -1.0 if self.mode == "max" else 1.0
        return sorted(range(len(entries)), key=lambda i: (sign * entries[i][0], i))

    def is_promotable(self, j: int, index: int) -> bool:
        n = len(self.entries[j])
        if self.entries[j][index][2] or n < self.min_entries(j):
            return False
        return self.ranked(j).index(index) < self.k(j, n)

    def add(self, config_id: int, skip_rungs: int = 0) -> int:
        if config_id in self.milestones:
            raise ValueError(f"config_id {config_id} already added")
        if not 0 <= skip_rungs <= len(self.levels):
            raise ValueError(f"bad skip_rungs {skip_rungs}")
        milestone = self.levels[skip_rungs] if skip_rungs < len(self.levels) else self.max_t
        self.milestones[config_id] = milestone
        return milestone

    def milestone(self, config_id: int) -> int:
        if config_id not in self.milestones:
            raise ValueError(f"unknown config_id {config_id}")
        return self.milestones[config_id]

    def num_recorded(self, j: int) -> int:
        return len(self.entries[j])

    def on_report(self, config_id: int, time: int, reward: float) -> bool:
        if config_id not in self.milestones:
            raise ValueError(f"unknown config_id {config_id}")
        if math.isnan(reward):
            raise ValueError("reward must not be NaN")
        if time >= self.max_t or time < self.milestones[config_id]:
            return True
        j = max(i for i, level in enumerate(self.levels) if level <= time)
        self.entries[j].append([float(reward), config_id, False])
        self.milestones[config_id] = self.bounds[j]
        index = len(self.entries[j]) - 1
        if self.is_promotable(j, index):
            self.entries[j][index][2] = True
            return True
        return False

    def promote(self) -> tuple[int, int] | None:
        for j in reversed(range(len(self.levels))):
            unpromoted = [i for i in self.ranked(j) if not self.entries[j][i][2]]
            if unpromoted and self.is_promotable(j, unpromoted[0]):
                best = unpromoted[0]
                self.entries[j][best][2] = True
                return (self.entries[j][best][1], self.levels[j])
        return None


# -- shared Hypothesis settings and strategies ---------------------------------------------

# The ``kernels`` fixture only hands out a namespace of classes (no state), so sharing it
# between the inputs of one @given test is safe.
fixture_ok = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@st.composite
def level_configs(draw, max_levels: int = 6) -> tuple[list[int], int]:
    """(levels, max_t): geometric levels from small g, eta, or an explicit increasing list."""
    if draw(st.booleans()):
        g = draw(st.integers(1, 4))
        eta = draw(st.integers(2, 4))
        max_t = draw(st.integers(g + 1, 120))
        levels = brute_levels(g, eta, max_t)[:max_levels]
    else:
        levels = sorted(
            draw(st.lists(st.integers(1, 60), min_size=1, max_size=max_levels, unique=True))
        )
        max_t = draw(st.integers(levels[-1] + 1, levels[-1] + 40))
    return levels, max_t


def rational_quantiles() -> st.SearchStrategy[float]:
    """a / b in (0, 1): arbitrary rationals, many with indices (n-1)*q near integers."""
    return (
        st.tuples(st.integers(1, 999), st.integers(2, 1000))
        .filter(lambda t: t[0] < t[1])
        .map(lambda t: t[0] / t[1])
    )


def interesting_times(levels: list[int], max_t: int) -> st.SearchStrategy[int]:
    """Times at, just below and just above every level and max_t, or anywhere."""
    marks = {0, 1, max_t - 1, max_t, max_t + 3}
    for level in levels:
        marks.update((level - 1, level, level + 1))
    bounds = [*levels, max_t]
    for lo, hi in itertools.pairwise(bounds):
        marks.add((lo + hi) // 2)
    return st.one_of(st.sampled_from(sorted(m for m in marks if m >= 0)), st.integers(0, max_t + 2))


tie_rewards = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 3.0, -3.25, 1e-300, 7.0])
rewards = st.one_of(
    tie_rewards,
    st.integers(-4, 4).map(float),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(-1e300, 1e300, allow_nan=False),
)


TIME_CHOICES = ("below", "at", "at", "plus1", "next", "max_t", "over", "zero")


def resolve_time(choice: str | int, milestone: int, levels: list[int], max_t: int) -> int:
    """A report time relative to a config's milestone (ints are taken as they are)."""
    if isinstance(choice, int):
        return choice
    bounds = [*levels, max_t]
    later = [b for b in bounds if b > milestone]
    return {
        "below": max(milestone - 1, 0),
        "at": milestone,
        "plus1": milestone + 1,
        "next": later[0] if later else max_t + 1,
        "max_t": max_t,
        "over": max_t + 5,
        "zero": 0,
    }[choice]


@st.composite
def sized_lists(draw, elements: st.SearchStrategy, min_size: int, max_size: int) -> list:
    """A list whose length is drawn first, so long lists are as likely as short ones
    (plain ``st.lists`` mostly makes short ones)."""
    n = draw(st.integers(min_size, max_size), label="length")
    return draw(st.lists(elements, min_size=n, max_size=n))


@st.composite
def reward_palettes(draw) -> st.SearchStrategy[float]:
    """Rewards that repeat a few values of this example often: ties and duplicates."""
    palette = draw(st.lists(rewards, min_size=1, max_size=4))
    return st.one_of(st.sampled_from(palette), st.sampled_from(palette), rewards)
