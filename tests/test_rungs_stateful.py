"""Stateful tests: the twin and the compiled kernel driven side by side.

Each Hypothesis state machine applies the same random operations to the pure-Python twin
(``scheduler.kernels.twins``), the compiled kernel (``_rungs``) and a brute-force oracle
(``_oracles``), compares every return value and error text, and after every step checks
that both kernels pass ``_check()`` and return identical ``state_dict()``s. Round trips
(JSON, pickle, and loading each backend's state into the other) happen mid-stream, and
copies: the machine goes on with copies of both kernels and keeps the originals aside,
which must not move while the copies are driven, and which are driven now and then
themselves (alike on both backends) without moving the copies.

Each machine runs as a plain test that also asserts how many steps it made, so that a
CI run cannot silently shrink to a handful of steps.
"""

from __future__ import annotations

import json
import math
import pickle
import random
from collections import Counter

import pytest
from _oracles import (
    COPY_WAYS,
    INT64_MAX,
    INT64_MIN,
    TIME_CHOICES,
    PromotionOracle,
    StoppingOracle,
    brute_quantiles,
    copied,
    interesting_times,
    level_configs,
    rational_quantiles,
    resolve_time,
    reward_palettes,
    same_float,
)
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from scheduler import kernels as _kernels
from scheduler.kernels import twins as _reference

if _kernels.NO_EXTENSIONS:
    pytest.skip(
        "SCHEDULER_NO_EXTENSIONS is set: the side-by-side tests need the compiled kernels",
        allow_module_level=True,
    )

from scheduler._rungs.promotion import PromotionRungs
from scheduler._rungs.stopping import StoppingRungs

# up to MAX_EXAMPLES * STEP_COUNT steps per machine; the tests assert at least MIN_STEPS
MAX_EXAMPLES = 100
STEP_COUNT = 60
MIN_STEPS = 3000
MIN_COPIES = 20  # per way of copying, and originals driven after a copy
MACHINE_SETTINGS = settings(max_examples=MAX_EXAMPLES, stateful_step_count=STEP_COUNT)

STEPS: Counter[str] = Counter()
COPIES: Counter[str] = Counter()  # copy rules run, by way of copying; originals driven

EXTREME_IDS = [INT64_MIN, INT64_MIN + 1, -1, 0, INT64_MAX, 2**32, -(2**32), 2**31 - 1]


def outcome(fn, *args):
    """("ok", value) or ("ValueError", text); numpy arrays become lists."""
    try:
        value = fn(*args)
    except ValueError as exc:
        return ("ValueError", str(exc))
    if hasattr(value, "tolist"):
        value = ("array", str(value.dtype), value.tolist())
    return ("ok", value)


def json_copy(state):
    return json.loads(json.dumps(state))


class SideBySide(RuleBasedStateMachine):
    """Shared helpers: ``self.twin``, ``self.comp``, ``self.oracle``."""

    kind = ""
    twin_cls: type
    comp_cls: type

    def both(self, method: str, *args):
        """Call ``method`` on twin and compiled kernel; they must agree, errors included."""
        got_twin = outcome(getattr(self.twin, method), *args)
        got_comp = outcome(getattr(self.comp, method), *args)
        assert got_comp == got_twin, (method, args)
        return got_twin

    @rule(how=st.sampled_from(["json", "cross", "pickle", "cross-pickle"]))
    def round_trip(self, how):
        twin_state, comp_state = self.twin.state_dict(), self.comp.state_dict()
        if how == "json":
            self.twin = self.twin_cls.from_state_dict(json_copy(twin_state))
            self.comp = self.comp_cls.from_state_dict(json_copy(comp_state))
        elif how == "cross":  # each backend loads the other's state
            self.twin = self.twin_cls.from_state_dict(json_copy(comp_state))
            self.comp = self.comp_cls.from_state_dict(json_copy(twin_state))
        elif how == "pickle":
            self.twin = pickle.loads(pickle.dumps(self.twin))
            self.comp = pickle.loads(pickle.dumps(self.comp))
        else:
            self.twin, self.comp = (
                self.twin_cls.from_state_dict(pickle.loads(pickle.dumps(comp_state))),
                self.comp_cls.from_state_dict(pickle.loads(pickle.dumps(twin_state))),
            )
        assert type(self.twin) is self.twin_cls
        assert type(self.comp) is self.comp_cls

    # (twin, compiled, their state_dict) set aside by the last copy rule
    originals: tuple | None = None

    @rule(how=st.sampled_from(COPY_WAYS))
    def copy_kernels(self, how):
        """Go on with copies; the originals are set aside (and checked not to move)."""
        twin, comp = copied(self.twin, how), copied(self.comp, how)
        self.originals = (self.twin, self.comp, self.twin.state_dict())
        self.twin, self.comp = twin, comp
        COPIES[how] += 1

    @precondition(lambda self: self.originals is not None)
    @rule(data=st.data())
    def drive_originals(self, data):
        """Calls on the set-aside originals agree across backends, never move the copies."""
        twin, comp, _ = self.originals
        copies_before = (self.twin.state_dict(), self.comp.state_dict())
        for method, args in self.original_calls(data, twin):
            got_twin = outcome(getattr(twin, method), *args)
            assert outcome(getattr(comp, method), *args) == got_twin, (method, args)
        twin._check()
        comp._check()
        state = twin.state_dict()
        assert comp.state_dict() == state
        assert (self.twin.state_dict(), self.comp.state_dict()) == copies_before
        self.originals = (twin, comp, state)
        COPIES["originals driven"] += 1

    def original_calls(self, data, twin):
        """Yield (method, args) to apply to the originals (``twin`` is the twin's one)."""
        raise NotImplementedError

    @invariant()
    def agree(self):
        if not hasattr(self, "twin"):
            return
        STEPS[self.kind] += 1  # once per step (and once after setup)
        self.twin._check()
        self.comp._check()
        assert self.comp.state_dict() == self.twin.state_dict()
        if self.originals is not None:  # driving the copies left the originals alone
            twin, comp, state = self.originals
            assert twin.state_dict() == state
            assert comp.state_dict() == state


# -- stopping ------------------------------------------------------------------------------------


class StoppingMachine(SideBySide):
    kind = "stopping"
    twin_cls = _reference.StoppingRungs
    comp_cls = StoppingRungs

    @initialize(config=level_configs(), mode=st.sampled_from(["max", "min"]), data=st.data())
    def setup(self, config, mode, data):
        self.levels, self.max_t = config
        if data.draw(st.booleans(), label="real quantiles"):
            qs = brute_quantiles(self.levels, self.max_t)
        else:
            qs = [data.draw(rational_quantiles()) for _ in self.levels]
        self.twin = self.twin_cls(self.levels, qs, mode)
        self.comp = self.comp_cls(self.levels, qs, mode)
        self.oracle = StoppingOracle(self.levels, qs, mode)
        self.tasks: list[int] = []
        self.rewards = data.draw(reward_palettes(), label="rewards")
        self.times = interesting_times(self.levels, self.max_t)
        # one draw per report: (task pick, time, reward, skip pick)
        self.reports = st.tuples(
            st.integers(0, 2**16), self.times, self.rewards, st.integers(0, 3 * len(self.levels))
        )

    def task(self, pick: int) -> int:
        """An earlier task (3 in 4), a new one, or now and then an extreme int64 id."""
        if self.tasks and pick % 4:
            return self.tasks[pick % len(self.tasks)]
        task = EXTREME_IDS[pick % len(EXTREME_IDS)] if pick % 32 == 0 else len(self.tasks) * 3 + 1
        if task not in self.tasks:
            self.tasks.append(task)
        return task

    def skip(self, pick: int) -> int:
        """skip_rungs: 0 about two times in three, else any of 0..len(levels)."""
        return pick if pick <= len(self.levels) else 0

    @rule(data=st.data())
    def report(self, data):
        pick, time, reward, skip_pick = data.draw(self.reports, label="report")
        task, skip = self.task(pick), self.skip(skip_pick)
        want = self.oracle.on_report(task, time, reward, skip)
        assert self.both("on_report", task, time, reward, skip) == ("ok", want)

    @rule(data=st.data(), size=st.integers(0, 20), with_skip=st.booleans())
    def report_batch(self, data, size, with_skip):
        drawn = data.draw(st.lists(self.reports, min_size=size, max_size=size), label="reports")
        ops = [
            (self.task(pick), time, reward, self.skip(skip_pick) if with_skip else 0)
            for pick, time, reward, skip_pick in drawn
        ]
        want = [self.oracle.on_report(*op) for op in ops]
        got = self.both(
            "on_reports",
            [op[0] for op in ops],
            [op[1] for op in ops],
            [op[2] for op in ops],
            [op[3] for op in ops] if with_skip else None,
        )
        assert got == ("ok", ("array", "bool", want))

    def original_calls(self, data, twin):
        drawn = data.draw(st.lists(self.reports, min_size=1, max_size=8), label="to originals")
        for pick, time, reward, skip_pick in drawn:
            yield "on_report", (self.task(pick), time, reward, self.skip(skip_pick))

    @rule(data=st.data())
    def report_nan(self, data):
        task = self.task(data.draw(st.integers(0, 2**16), label="task"))
        time = data.draw(self.times, label="time")
        got = self.both("on_report", task, time, math.nan, 0)
        assert got == ("ValueError", f"reward must not be NaN (task_id={task}, time={time})")

    @rule(data=st.data())
    def cutoff(self, data):
        j = data.draw(st.integers(0, len(self.levels) - 1), label="rung")
        got_twin, got_comp = self.twin.cutoff(j), self.comp.cutoff(j)
        assert same_float(got_twin, self.oracle.cutoff(j))
        assert same_float(got_comp, got_twin)
        assert self.both("num_recorded", j) == ("ok", self.oracle.num_recorded(j))


# -- promotion -----------------------------------------------------------------------------------


class PromotionMachine(SideBySide):
    kind = "promotion"
    twin_cls = _reference.PromotionRungs
    comp_cls = PromotionRungs

    @initialize(config=level_configs(), mode=st.sampled_from(["max", "min"]), data=st.data())
    def setup(self, config, mode, data):
        self.levels, self.max_t = config
        qs = brute_quantiles(self.levels, self.max_t)
        self.twin = self.twin_cls(self.levels, qs, self.max_t, mode)
        self.comp = self.comp_cls(self.levels, qs, self.max_t, mode)
        self.oracle = PromotionOracle(self.levels, self.max_t, mode)
        self.configs: list[int] = []
        self.rewards = data.draw(reward_palettes(), label="rewards")
        self.original_id = 10**15  # ids added to set-aside originals only: never reused

    @rule(data=st.data())
    def add(self, data):
        if data.draw(st.integers(0, 7), label="extreme") == 0:
            cid = data.draw(st.sampled_from(EXTREME_IDS), label="config_id")
        else:
            cid = len(self.configs) * 5 - 7
        if data.draw(st.integers(0, 2), label="skip?") == 0:
            skip = data.draw(st.integers(-1, len(self.levels) + 1), label="skip_rungs")
        else:
            skip = 0
        try:
            want = ("ok", self.oracle.add(cid, skip))
        except ValueError:
            want = None
        got = self.both("add", cid, skip)
        if want is None:
            assert got[0] == "ValueError"
        else:
            assert got == want
            self.configs.append(cid)

    @precondition(lambda self: self.configs)
    @rule(
        data=st.data(),
        choice=st.one_of(st.sampled_from(TIME_CHOICES), st.just("at"), st.just("at")),
    )
    def report(self, data, choice):
        reward = data.draw(self.rewards, label="reward")
        cid = data.draw(st.sampled_from(self.configs), label="config_id")
        if data.draw(st.integers(0, 5), label="any time?") == 0:
            choice = data.draw(st.integers(0, self.max_t + 1), label="time")
        time = resolve_time(choice, self.oracle.milestone(cid), self.levels, self.max_t)
        want = self.oracle.on_report(cid, time, reward)
        assert self.both("on_report", cid, time, reward) == ("ok", want)
        assert self.both("milestone", cid) == ("ok", self.oracle.milestone(cid))

    @rule(data=st.data(), nan=st.booleans())
    def report_error(self, data, nan):
        if nan and self.configs:
            cid = data.draw(st.sampled_from(self.configs), label="config_id")
        else:
            cid = -12345  # never added
        time = data.draw(st.integers(0, self.max_t + 1), label="time")
        got = self.both("on_report", cid, time, math.nan if nan else 1.0)
        assert got[0] == "ValueError"

    def original_calls(self, data, twin):
        for _ in range(data.draw(st.integers(1, 8), label="calls to originals")):
            call = data.draw(st.sampled_from(["add", "report", "report", "promote"]), label="call")
            registered = twin.state_dict()["milestones"]["config_ids"]
            if call == "add" or not registered:
                self.original_id += 1
                skip = data.draw(st.integers(0, len(self.levels)), label="skip_rungs")
                yield "add", (self.original_id, skip)
            elif call == "report":
                cid = data.draw(st.sampled_from(registered), label="config_id")
                choice = data.draw(st.sampled_from(TIME_CHOICES), label="time")
                time = resolve_time(choice, twin.milestone(cid), self.levels, self.max_t)
                yield "on_report", (cid, time, data.draw(self.rewards, label="reward"))
            else:
                yield "promote", ()

    @rule()
    def promote(self):
        want = self.oracle.promote()
        assert self.both("promote") == ("ok", want)

    @rule(data=st.data())
    def inspect(self, data):
        j = data.draw(st.integers(0, len(self.levels) - 1), label="rung")
        assert self.both("num_recorded", j) == ("ok", self.oracle.num_recorded(j))
        cid = data.draw(st.sampled_from([*self.configs, -12345]), label="config_id")
        got = self.both("milestone", cid)
        if cid in self.oracle.milestones:
            assert got == ("ok", self.oracle.milestone(cid))
        else:
            assert got[0] == "ValueError"


# -- soak: more entries per rung than the machines reach ------------------------------------------


def test_stopping_soak():
    """20000 reports with many ties and a hash table that grows many times."""
    rng = random.Random(5)
    levels, quantiles = _reference.rung_levels(1, 3, 100)
    for mode in ("max", "min"):
        twin = _reference.StoppingRungs(levels, quantiles, mode)
        comp = StoppingRungs(levels, quantiles, mode)
        for step in range(20000):
            task = rng.randrange(-(2**40), 2**40) if step % 3 else rng.randrange(2000)
            time = rng.choice([1, 2, 3, 5, 9, 27, 81, 99])
            reward = float(rng.randrange(50)) if step % 2 else rng.gauss(0.0, 1e3)
            skip = rng.choice([0, 0, 0, 1, 2])
            assert comp.on_report(task, time, reward, skip) == twin.on_report(
                task, time, reward, skip
            ), step
            if step % 5000 == 4999:
                comp._check()
                state = comp.state_dict()
                assert state == twin.state_dict()
                comp = StoppingRungs.from_state_dict(json_copy(twin.state_dict()))
                twin = _reference.StoppingRungs.from_state_dict(json_copy(state))
        for j in range(len(levels)):
            assert comp.num_recorded(j) == twin.num_recorded(j) > 100
            assert same_float(comp.cutoff(j), twin.cutoff(j))
        comp._check()


def test_promotion_soak():
    """20000 operations; rungs of thousands of entries, promotions from all of them."""
    rng = random.Random(6)
    levels, quantiles = _reference.rung_levels(1, 2, 16)
    for mode in ("max", "min"):
        twin = _reference.PromotionRungs(levels, quantiles, 16, mode)
        comp = PromotionRungs(levels, quantiles, 16, mode)
        configs: list[int] = []
        promoted = 0
        for step in range(20000):
            x = rng.random()
            if x < 0.3 or not configs:
                cid = rng.randrange(-(2**62), 2**62)
                skip = rng.choice([0, 0, 0, 1, 4])
                assert comp.add(cid, skip) == twin.add(cid, skip)
                configs.append(cid)
            elif x < 0.75:
                cid = rng.choice(configs)
                time = twin.milestone(cid) + rng.choice([0, 0, 0, 1, -1])
                reward = float(rng.randrange(40))
                assert comp.on_report(cid, time, reward) == twin.on_report(cid, time, reward)
            else:
                got = comp.promote()
                assert got == twin.promote(), step
                promoted += got is not None
            if step % 5000 == 4999:
                comp._check()
                state = comp.state_dict()
                assert state == twin.state_dict()
                comp = PromotionRungs.from_state_dict(json_copy(twin.state_dict()))
                twin = _reference.PromotionRungs.from_state_dict(json_copy(state))
        assert promoted > 100
        assert comp.num_recorded(0) > 1000
        assert comp.state_dict() == twin.state_dict()
        comp._check()


# -- the tests -----------------------------------------------------------------------------------


def assert_copies_exercised():
    for how in COPY_WAYS:
        assert COPIES[how] >= MIN_COPIES, COPIES
    assert COPIES["originals driven"] >= MIN_COPIES, COPIES


def test_stopping_side_by_side():
    STEPS.clear()
    COPIES.clear()
    run_state_machine_as_test(StoppingMachine, settings=MACHINE_SETTINGS)
    assert STEPS["stopping"] >= MIN_STEPS, STEPS
    assert_copies_exercised()


def test_promotion_side_by_side():
    STEPS.clear()
    COPIES.clear()
    run_state_machine_as_test(PromotionMachine, settings=MACHINE_SETTINGS)
    assert STEPS["promotion"] >= MIN_STEPS, STEPS
    assert_copies_exercised()
