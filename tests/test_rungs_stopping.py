"""StoppingRungs: cutoffs against numpy.percentile, decisions against a brute-force oracle."""

from __future__ import annotations

import copy
import json
import math
import pickle

import numpy as np
import pytest
from _oracles import (
    COPY_WAYS,
    INT64_MAX,
    INT64_MIN,
    StoppingOracle,
    assert_plain_json,
    brute_levels,
    brute_quantiles,
    copied,
    fixture_ok,
    interesting_times,
    level_configs,
    percentile_cutoff,
    rational_quantiles,
    reward_palettes,
    rewards,
    same_float,
    sized_lists,
    tie_rewards,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scheduler.kernels import twins as _reference

REAL_QUANTILES = sorted(
    {
        q
        for g, eta, t in [
            (1, 3, 10),
            (1, 10, 1000),
            (1, 3, 82),
            (2, 2, 100),
            (1, 4, 1000),
            (5, 3, 200),
        ]
        for q in brute_quantiles(brute_levels(g, eta, t), t)
    }
    | {0.2, 0.25, 0.9, 8 / 13, 5 / 8, 0.7, 0.99}
)


def check_cutoffs(rungs, oracle) -> None:
    for j in range(len(oracle.levels)):
        assert rungs.num_recorded(j) == oracle.num_recorded(j)
        got, want = rungs.cutoff(j), oracle.cutoff(j)
        assert same_float(got, want), (j, got, want)
        assert got is None or type(got) is float


def feed(rungs, oracle, ops) -> None:
    """Apply (task, time, reward, skip) reports to both, comparing every decision."""
    for task, time, reward, skip in ops:
        want = oracle.on_report(task, time, reward, skip)
        got = rungs.on_report(task, time, reward, skip)
        assert type(got) is bool
        assert got == want, (task, time, reward, skip)


# -- construction ----------------------------------------------------------------------------


def test_mode_message(kernels):
    with pytest.raises(ValueError) as info:
        kernels.StoppingRungs([1, 3], [1 / 3, 0.3], mode="avg")
    assert str(info.value) == "mode must be 'max' or 'min', got 'avg'"


BAD_CONSTRUCTOR_ARGS = [
    ([1, 3], [0.5, 0.5], "MAX"),
    ([1, 3], [0.5, 0.5], None),
    ([], [], "max"),  # no rung
    ([1, 3], [0.5], "max"),  # lengths differ
    ([1, 3], [0.5, 0.5, 0.5], "max"),
    ([3, 1], [0.5, 0.5], "max"),  # not increasing
    ([3, 3], [0.5, 0.5], "max"),
    ([0, 3], [0.5, 0.5], "max"),  # levels >= 1
    ([1.5, 3], [0.5, 0.5], "max"),  # integer levels
    ([1, 3], [0.5, 1.5], "max"),  # numpy.percentile rejects q outside [0, 1]
    ([1, 3], [-0.5, 0.5], "max"),
    ([1, 3], [0.5, math.nan], "max"),
]


@pytest.mark.parametrize(("levels", "quantiles", "mode"), BAD_CONSTRUCTOR_ARGS, ids=repr)
def test_bad_constructor_args(kernels, levels, quantiles, mode):
    with pytest.raises(ValueError) as info:
        kernels.StoppingRungs(levels, quantiles, mode)
    with pytest.raises(ValueError) as twin_info:
        _reference.StoppingRungs(levels, quantiles, mode)
    assert str(info.value) == str(twin_info.value)


def test_empty_rungs(kernels):
    rungs = kernels.StoppingRungs([1, 3, 9], [1 / 3, 1 / 3, 0.9])
    for j in range(3):
        assert rungs.cutoff(j) is None
        assert rungs.num_recorded(j) == 0
    rungs._check()


# -- cutoff == numpy.percentile ----------------------------------------------------------------


quantiles = st.one_of(st.sampled_from(REAL_QUANTILES), rational_quantiles())


@fixture_ok
@given(
    values=st.one_of(sized_lists(rewards, 1, 300), sized_lists(tie_rewards, 1, 300)),
    q=quantiles,
    mode=st.sampled_from(["max", "min"]),
)
@example(values=[1.0, 2.0, 3.0], q=1 / 3, mode="max")
@example(values=[0.0] * 10 + [1.0] * 10, q=0.9, mode="min")
@example(values=[float(i) for i in range(91)], q=0.7, mode="max")
def test_cutoff_is_numpy_percentile(kernels, values, q, mode):
    rungs = kernels.StoppingRungs([1], [q], mode)
    for i, value in enumerate(values):
        rungs.on_report(i, 1, value)
        want = percentile_cutoff(values[: i + 1], q, mode)
        got = rungs.cutoff(0)
        assert type(got) is float
        assert got == want, (i, got, want)
    assert rungs.num_recorded(0) == len(values)
    rungs._check()


@pytest.mark.parametrize("mode", ["max", "min"])
def test_cutoff_is_numpy_percentile_sweep(kernels, mode):
    """Seeded sweep over sizes 1..300: many ties, duplicates, negatives, large values."""
    rng = np.random.default_rng(20240611 if mode == "max" else 7)
    for case in range(60):
        n = int(rng.integers(1, 301))
        kind = case % 4
        if kind == 0:  # heavy ties
            values = rng.integers(-3, 4, size=n).astype(float)
        elif kind == 1:  # continuous, mixed signs and scales
            values = rng.standard_normal(n) * 10.0 ** rng.integers(-5, 15, size=n)
        elif kind == 2:  # duplicates of a few random floats
            values = rng.choice(rng.standard_normal(5) * 1e8, size=n)
        else:  # large magnitudes, both signs
            values = rng.uniform(-1e300, 1e300, size=n)
        if case % 3 == 0:
            q = REAL_QUANTILES[case % len(REAL_QUANTILES)]
        else:
            a = int(rng.integers(1, 200))
            q = a / int(rng.integers(a + 1, 400))
        values = [float(v) for v in values]
        rungs = kernels.StoppingRungs([1], [q], mode)
        for i, value in enumerate(values):
            rungs.on_report(i, 1, value)
            assert rungs.cutoff(0) == percentile_cutoff(values[: i + 1], q, mode), (case, i)
        rungs._check()


@pytest.mark.parametrize("mode", ["max", "min"])
@pytest.mark.parametrize(
    "values",
    [
        [-1e308, 1e308],  # b - a overflows to inf: numpy gives nan or inf
        [1e308, -1e308, 1e308, -1e308, 1.7e308],
        [math.inf, 1.0],
        [-math.inf, math.inf, 0.0],
        [math.inf, math.inf, math.inf],  # inf - inf = nan inside numpy's lerp
        [-math.inf, 5.0, -math.inf, 2.0],
        [5e-324, -5e-324, 0.0, -0.0],  # subnormals
    ],
    ids=repr,
)
@pytest.mark.parametrize("q", [1 / 3, 0.5, 0.9, 0.1, 8 / 13])
def test_cutoff_extreme_values(kernels, values, mode, q):
    """Bit for bit also where numpy's lerp overflows (the result may be inf or nan)."""
    rungs = kernels.StoppingRungs([1], [q], mode)
    for i, value in enumerate(values):
        rungs.on_report(i, 1, value)
        want = percentile_cutoff(values[: i + 1], q, mode)
        assert same_float(rungs.cutoff(0), want), (i, rungs.cutoff(0), want)


# -- decisions == oracle -----------------------------------------------------------------------


@st.composite
def stopping_cases(draw, max_ops: int = 80):
    levels, max_t = draw(level_configs())
    if draw(st.booleans()):
        qs = brute_quantiles(levels, max_t)
    else:
        qs = [draw(rational_quantiles()) for _ in levels]
    mode = draw(st.sampled_from(["max", "min"]))
    task_ids = st.one_of(
        st.integers(0, 25),
        st.sampled_from([INT64_MIN, -1, INT64_MAX, 2**32, -(2**31)]),
    )
    op = st.tuples(
        task_ids,
        interesting_times(levels, max_t),
        draw(reward_palettes()),
        st.one_of(st.just(0), st.integers(0, len(levels))),
    )
    ops = draw(sized_lists(op, 0, max_ops))
    return levels, qs, mode, ops


@fixture_ok
@given(stopping_cases())
def test_decisions_match_oracle(kernels, case):
    levels, qs, mode, ops = case
    rungs = kernels.StoppingRungs(levels, qs, mode)
    oracle = StoppingOracle(levels, qs, mode)
    for op in ops:
        feed(rungs, oracle, [op])
        rungs._check()
    check_cutoffs(rungs, oracle)


def test_stop_and_continue_max(kernels):
    rungs = kernels.StoppingRungs([1, 3], [0.5, 0.5], "max")
    assert rungs.on_report(0, 1, 1.0) is True  # no earlier record
    assert rungs.on_report(1, 1, 2.0) is True  # cutoff 1.0
    assert rungs.on_report(2, 1, 3.0) is True  # cutoff 1.5
    assert rungs.cutoff(0) == 2.0
    assert rungs.on_report(3, 1, 1.9) is False  # below the median: stop
    assert rungs.num_recorded(0) == 4  # recorded although stopped
    tie = rungs.cutoff(0)
    assert tie == percentile_cutoff([1.0, 2.0, 3.0, 1.9], 0.5, "max")
    assert rungs.on_report(4, 1, tie) is True  # ties continue
    assert rungs.on_report(5, 2, -1.0) is False  # time between rungs still means rung 0
    assert rungs.num_recorded(0) == 6
    assert rungs.num_recorded(1) == 0
    rungs._check()


def test_stop_and_continue_min(kernels):
    rungs = kernels.StoppingRungs([1, 3], [0.5, 0.5], "min")
    assert [rungs.on_report(task, 1, r) for task, r in enumerate([1.0, 2.0, 3.0])] == [
        True,
        False,  # 2.0 > cutoff 1.0: stop in mode min
        False,  # 3.0 > cutoff 1.5
    ]
    assert rungs.cutoff(0) == 2.0
    assert rungs.on_report(3, 1, 2.1) is False
    tie = rungs.cutoff(0)
    assert tie == percentile_cutoff([1.0, 2.0, 3.0, 2.1], 0.5, "min")
    assert rungs.on_report(4, 1, tie) is True  # ties continue
    assert rungs.on_report(5, 1, -5.0) is True
    rungs._check()


def test_quantile_direction(kernels):
    # q = 0.25 keeps the top quarter in mode max: cutoff at the 75th percentile
    rungs = kernels.StoppingRungs([1], [0.25], "max")
    for task in range(5):
        rungs.on_report(task, 1, float(task))  # 0..4
    assert rungs.cutoff(0) == 3.0
    assert rungs.on_report(10, 1, 2.99) is False
    lo = kernels.StoppingRungs([1], [0.25], "min")
    for task in range(5):
        lo.on_report(task, 1, float(task))
    assert lo.cutoff(0) == 1.0
    assert lo.on_report(10, 1, 1.01) is False


def test_skipped_milestones_record_only_highest_rung(kernels):
    rungs = kernels.StoppingRungs([1, 3, 9], [1 / 3, 1 / 3, 0.9])
    assert rungs.on_report(7, 5, 1.0) is True  # passes 1 and 3 at once: rung 1 only
    assert [rungs.num_recorded(j) for j in range(3)] == [0, 1, 0]
    assert rungs.on_report(7, 3, -100.0) is True  # already at rung 1: nothing
    assert rungs.on_report(7, 1, -100.0) is True
    assert [rungs.num_recorded(j) for j in range(3)] == [0, 1, 0]
    assert rungs.on_report(7, 100, 2.0) is True  # beyond max_t: highest rung 2
    assert [rungs.num_recorded(j) for j in range(3)] == [0, 1, 1]
    assert rungs.cutoff(1) == 1.0
    assert rungs.cutoff(2) == 2.0
    rungs._check()


def test_no_double_recording(kernels):
    rungs = kernels.StoppingRungs([1, 3], [1 / 3, 0.5])
    assert rungs.on_report(0, 1, 10.0) is True
    assert rungs.on_report(1, 1, 20.0) is True
    assert rungs.on_report(1, 1, -1e9) is True  # the same rung again: ignored
    assert rungs.on_report(1, 2, -1e9) is True
    assert rungs.num_recorded(0) == 2
    assert rungs.cutoff(0) == percentile_cutoff([10.0, 20.0], 1 / 3, "max")
    rungs._check()


def test_skip_rungs(kernels):
    rungs = kernels.StoppingRungs([1, 3, 9], [1 / 3, 1 / 3, 0.9])
    assert rungs.on_report(0, 5, 1.0, skip_rungs=2) is True  # 5 < 9: no rung
    assert rungs.on_report(0, 2, 1.0, skip_rungs=1) is True  # 2 < 3: no rung
    assert [rungs.num_recorded(j) for j in range(3)] == [0, 0, 0]
    assert rungs.on_report(0, 4, 1.0, skip_rungs=1) is True
    assert [rungs.num_recorded(j) for j in range(3)] == [0, 1, 0]
    assert rungs.on_report(1, 50, 1.0, skip_rungs=3) is True  # every rung skipped
    assert rungs.on_report(2, 9, 5.0, skip_rungs=0) is True
    assert rungs.on_report(3, 9, 0.0, skip_rungs=2) is False
    assert [rungs.num_recorded(j) for j in range(3)] == [0, 1, 2]
    assert rungs.on_report(2, 1, -1e9, skip_rungs=0) is True  # task 2 already higher
    assert rungs.num_recorded(0) == 0
    rungs._check()


def test_nan_reward(kernels):
    rungs = kernels.StoppingRungs([1, 3], [1 / 3, 0.5])
    rungs.on_report(0, 1, 1.0)
    with pytest.raises(ValueError) as info:
        rungs.on_report(3, 2, math.nan)
    assert str(info.value) == "reward must not be NaN (task_id=3, time=2)"
    with pytest.raises(ValueError) as info:
        rungs.on_report(5, 0, float("nan"))  # also when no rung is reached
    assert str(info.value) == "reward must not be NaN (task_id=5, time=0)"
    assert rungs.num_recorded(0) == 1
    assert rungs.cutoff(0) == 1.0
    # nothing recorded for task 3: its next report still counts at rung 0
    assert rungs.on_report(3, 1, 0.0) is False
    assert rungs.num_recorded(0) == 2
    rungs._check()


def test_large_task_ids_are_distinct(kernels):
    rungs = kernels.StoppingRungs([1, 3], [1 / 3, 0.5])
    ids = [0, -1, 1, INT64_MIN, INT64_MAX, 2**32, 2**32 + 1, -(2**32), 2**62]
    for i, task in enumerate(ids):
        rungs.on_report(task, 1, float(i))
    assert rungs.num_recorded(0) == len(ids)
    for task in ids:  # every one is known at rung 0 now
        assert rungs.on_report(task, 1, -1e9) is True
    assert rungs.num_recorded(0) == len(ids)
    rungs._check()


def test_many_tasks(kernels):
    """Enough tasks to make a hash table grow several times."""
    levels, max_t = [1, 3, 9], 27
    qs = brute_quantiles(levels, max_t)
    rungs = kernels.StoppingRungs(levels, qs)
    oracle = StoppingOracle(levels, qs)
    rng = np.random.default_rng(3)
    ops = [
        (int(t), int(rng.choice([1, 3, 9])), float(rng.integers(0, 50)), 0)
        for t in rng.integers(-(10**12), 10**12, size=3000)
    ]
    ops += [(task, 27, 0.0, 0) for task, _, _, _ in ops[:500]]
    feed(rungs, oracle, ops)
    rungs._check()
    check_cutoffs(rungs, oracle)


# -- on_reports ----------------------------------------------------------------------------------


@fixture_ok
@given(stopping_cases(max_ops=60), st.booleans(), st.booleans())
def test_on_reports_equals_sequence(kernels, case, as_numpy, with_skip):
    levels, qs, mode, ops = case
    single = kernels.StoppingRungs(levels, qs, mode)
    batch = kernels.StoppingRungs(levels, qs, mode)
    # a few single reports first, so the batch starts from a non-empty state
    head, tail = ops[: len(ops) // 3], ops[len(ops) // 3 :]
    for rungs in (single, batch):
        for task, time, reward, skip in head:
            rungs.on_report(task, time, reward, skip)
    want = [single.on_report(t, time, r, s if with_skip else 0) for t, time, r, s in tail]
    ids = [op[0] for op in tail]
    times = [op[1] for op in tail]
    values = [op[2] for op in tail]
    skips = [op[3] for op in tail] if with_skip else None
    if as_numpy:
        ids = np.asarray(ids, dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        if skips is not None:
            skips = np.asarray(skips, dtype=np.int64)
    got = batch.on_reports(ids, times, values, skip_rungs=skips)
    assert isinstance(got, np.ndarray)
    assert got.dtype == np.bool_
    assert got.shape == (len(tail),)
    assert got.tolist() == want
    assert batch.state_dict() == single.state_dict()
    batch._check()


def test_on_reports_empty_and_nan(kernels):
    rungs = kernels.StoppingRungs([1], [0.5])
    got = rungs.on_reports([], [], [])
    assert isinstance(got, np.ndarray) and got.dtype == np.bool_ and got.shape == (0,)
    with pytest.raises(ValueError) as info:
        rungs.on_reports([1, 2], [1, 2], [0.0, math.nan])
    assert str(info.value) == "reward must not be NaN (task_id=2, time=2)"


def test_on_reports_zero_skip_equals_none(kernels):
    a = kernels.StoppingRungs([1, 3], [1 / 3, 0.5])
    b = kernels.StoppingRungs([1, 3], [1 / 3, 0.5])
    args = ([0, 1, 2, 0, 3], [1, 1, 5, 4, 3], [1.0, 2.0, 0.5, 9.0, 0.1])
    got_a = a.on_reports(*args)
    got_b = b.on_reports(*args, skip_rungs=[0, 0, 0, 0, 0])
    assert got_a.tolist() == got_b.tolist() == [True, True, True, True, False]


# -- state ----------------------------------------------------------------------------------------


def assert_same_future(a, b, ops, levels) -> None:
    for task, time, reward, skip in ops:
        assert a.on_report(task, time, reward, skip) == b.on_report(task, time, reward, skip)
    for j in range(len(levels)):
        assert same_float(a.cutoff(j), b.cutoff(j))
        assert a.num_recorded(j) == b.num_recorded(j)
    assert a.state_dict() == b.state_dict()


@fixture_ok
@given(stopping_cases(max_ops=60), st.integers(0, 60))
def test_state_dict_json_round_trip(kernels, case, cut):
    levels, qs, mode, ops = case
    rungs = kernels.StoppingRungs(levels, qs, mode)
    for task, time, reward, skip in ops[:cut]:
        rungs.on_report(task, time, reward, skip)
    state = rungs.state_dict()
    assert_plain_json(state)
    loaded = json.loads(json.dumps(state))
    assert loaded == state
    clone = kernels.StoppingRungs.from_state_dict(loaded)
    assert type(clone) is type(rungs)
    clone._check()
    assert clone.state_dict() == state
    assert_same_future(rungs, clone, ops[cut:], levels)
    clone._check()


@fixture_ok
@given(stopping_cases(max_ops=60), st.integers(0, 60))
def test_pickle_round_trip(kernels, case, cut):
    levels, qs, mode, ops = case
    rungs = kernels.StoppingRungs(levels, qs, mode)
    for task, time, reward, skip in ops[:cut]:
        rungs.on_report(task, time, reward, skip)
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        clone = pickle.loads(pickle.dumps(rungs, protocol=protocol))
        assert type(clone) is type(rungs)
        clone._check()
        assert clone.state_dict() == rungs.state_dict()
    assert_same_future(rungs, clone, ops[cut:], levels)


def test_state_dict_keeps_mode_and_quantiles(kernels):
    """A loaded object decides with the saved mode and quantiles, not defaults."""
    rungs = kernels.StoppingRungs([2, 5], [0.3, 0.7], "min")
    for task, reward in enumerate([5.0, 1.0, 3.0, 4.0]):
        rungs.on_report(task, 2, reward)
    clone = kernels.StoppingRungs.from_state_dict(json.loads(json.dumps(rungs.state_dict())))
    assert clone.cutoff(0) == rungs.cutoff(0) == percentile_cutoff([5.0, 1.0, 3.0, 4.0], 0.3, "min")
    assert clone.on_report(9, 3, 3.5) is rungs.on_report(9, 3, 3.5) is False
    assert clone.on_report(10, 1, -9.0) is rungs.on_report(10, 1, -9.0) is True  # below rung 0
    assert clone.on_report(0, 5, 1.0) is rungs.on_report(0, 5, 1.0) is True


# -- copy -----------------------------------------------------------------------------------------


def decisions(rungs, ops) -> list[bool]:
    return [rungs.on_report(task, time, reward, skip) for task, time, reward, skip in ops]


@settings(fixture_ok, max_examples=50)
@given(stopping_cases(max_ops=60), st.integers(0, 60), st.sampled_from(COPY_WAYS))
def test_copy_is_equal_and_independent(kernels, case, cut, how):
    levels, qs, mode, ops = case
    rungs = kernels.StoppingRungs(levels, qs, mode)
    decisions(rungs, ops[:cut])
    state = rungs.state_dict()
    clone = copied(rungs, how)  # equal, same state_dict, passes _check
    # reports into the original leave the copy as it was ...
    want = decisions(rungs, ops[cut:])
    assert clone.state_dict() == state
    clone._check()
    after = rungs.state_dict()
    # ... and the copy, fed the same reports, decides alike without moving the original
    assert decisions(clone, ops[cut:]) == want
    assert rungs.state_dict() == after == clone.state_dict()
    for j in range(len(levels)):
        assert same_float(clone.cutoff(j), rungs.cutoff(j))
    clone._check()


def test_copy_of_a_grown_rung(kernels):
    """Heaps with slack at the back and a task map that has grown: the copy keeps both
    layouts working as the two objects go separate ways."""
    levels, max_t = [1, 3, 9], 27
    qs = brute_quantiles(levels, max_t)
    rungs = kernels.StoppingRungs(levels, qs, "min")
    oracle = StoppingOracle(levels, qs, "min")
    rng = np.random.default_rng(4)

    def some_reports(count):
        return [
            (int(t), int(rng.choice([1, 3, 9, 27])), float(rng.integers(0, 40)), 0)
            for t in rng.integers(-(10**12), 10**12, size=count)
        ]

    feed(rungs, oracle, some_reports(1200))
    clone = copied(rungs, "copy()")
    oracle_clone = copy.deepcopy(oracle)
    feed(rungs, oracle, some_reports(1200))
    feed(clone, oracle_clone, some_reports(1200))
    assert clone.state_dict() != rungs.state_dict()
    for kernel, expected in ((rungs, oracle), (clone, oracle_clone)):
        kernel._check()
        check_cutoffs(kernel, expected)
        assert kernel == kernels.StoppingRungs.from_state_dict(kernel.state_dict())


def test_copy_of_empty_rungs(kernels):
    rungs = kernels.StoppingRungs([1, 3], [0.5, 0.5], "min")
    clone = copied(rungs, "copy()")
    assert (clone.levels, clone.quantiles, clone.mode) == ([1, 3], [0.5, 0.5], "min")
    assert clone.on_report(0, 1, 2.0) is True
    assert clone.on_report(1, 1, 3.0) is False  # mode "min", cutoff 2.0
    assert rungs.num_recorded(0) == 0
    assert rungs.cutoff(0) is None


def test_deepcopy_keeps_sharing(kernels):
    """One kernel held twice deep-copies to one copy held twice (the memo is honoured)."""
    rungs = kernels.StoppingRungs([1, 3], [0.5, 0.5])
    rungs.on_report(0, 1, 1.0)
    first, second = copy.deepcopy([rungs, rungs])
    assert first is second
    assert first is not rungs
    assert first == rungs
