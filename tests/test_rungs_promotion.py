"""PromotionRungs (ASHA): decisions against a brute-force oracle that sorts every entry.

The oracle (``_oracles.PromotionOracle``) ranks all entries of a rung per decision with an
explicit sort, uses k = (n * r) // r_next and min entries round(Fraction(r_next, r)), and
knows nothing of heaps.
"""

from __future__ import annotations

import copy
import json
import math
import pickle

import pytest
from _oracles import (
    COPY_WAYS,
    INT64_MAX,
    INT64_MIN,
    TIME_CHOICES,
    PromotionOracle,
    assert_plain_json,
    brute_quantiles,
    copied,
    fixture_ok,
    level_configs,
    resolve_time,
    reward_palettes,
    sized_lists,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scheduler.kernels import twins as _reference


def make(kernels, levels, max_t, mode="max"):
    return kernels.PromotionRungs(levels, brute_quantiles(levels, max_t), max_t, mode)


def error_text(fn, *args) -> str:
    with pytest.raises(ValueError) as info:
        fn(*args)
    return str(info.value)


# -- construction ------------------------------------------------------------------------------


def test_mode_message(kernels):
    text = error_text(kernels.PromotionRungs, [1, 3], [1 / 3, 1 / 3], 9, "avg")
    assert text == "mode must be 'max' or 'min', got 'avg'"


BAD_CONSTRUCTOR_ARGS = [
    ([1, 3], [1 / 3, 0.3], 9, "max"),  # last quantile must be 3/9
    ([1, 3], [0.3333333333333333, 0.3333333333333334], 9, "max"),  # one ulp off
    ([1, 3, 9], [1 / 3, 1 / 3, 1 / 3], 10, "max"),  # must be 0.9 (not 1/eta)
    ([1, 3], [1 / 3], 9, "max"),  # lengths differ
    ([1, 3], [1 / 3, 1 / 3, 1.0], 9, "max"),
    ([], [], 9, "max"),
    ([3, 1], [3.0, 1 / 9], 9, "max"),  # not increasing
    ([1, 9], [1 / 9, 1.0], 9, "max"),  # max_t must exceed every level
    ([1, 3], [1 / 3, 1 / 3], 1, "max"),  # bad max_t
    ([1, 3], [1 / 3, 1 / 3], 9.0, "max"),
    ([0, 3], [0.0, 1 / 3], 9, "max"),  # levels >= 1
    ([1, 3], [1 / 3, 1 / 3], 9, "MIN"),
]


@pytest.mark.parametrize(("levels", "quantiles", "max_t", "mode"), BAD_CONSTRUCTOR_ARGS, ids=repr)
def test_bad_constructor_args(kernels, levels, quantiles, max_t, mode):
    text = error_text(kernels.PromotionRungs, levels, quantiles, max_t, mode)
    assert text == error_text(_reference.PromotionRungs, levels, quantiles, max_t, mode)


def test_quantiles_from_rung_levels_are_accepted(kernels):
    levels, quantiles = _reference.rung_levels(1, 3, 10)
    rungs = kernels.PromotionRungs(levels, quantiles, 10)
    rungs._check()
    levels, quantiles = _reference.rung_levels(1, 2, 50, rung_levels=[2, 7, 11, 49])
    kernels.PromotionRungs(levels, quantiles, 50, "min")._check()


# -- add / milestone ------------------------------------------------------------------------------


def test_add_and_milestone(kernels):
    rungs = make(kernels, [1, 3, 9], 27)
    assert rungs.add(10) == 1
    assert rungs.add(11, 0) == 1
    assert rungs.add(12, skip_rungs=1) == 3
    assert rungs.add(13, 2) == 9
    assert rungs.add(14, 3) == 27  # == len(levels): straight to max_t
    assert [rungs.milestone(c) for c in (10, 11, 12, 13, 14)] == [1, 1, 3, 9, 27]
    assert rungs.add(INT64_MIN) == 1
    assert rungs.add(INT64_MAX) == 1
    assert rungs.add(-1) == 1
    assert rungs.milestone(-1) == 1
    rungs._check()


def test_add_rejects_duplicates_and_bad_skip_rungs(kernels):
    twin = make(_reference, [1, 3, 9], 27)
    rungs = make(kernels, [1, 3, 9], 27)
    for obj in (twin, rungs):
        obj.add(5)
    calls = [("add", 5), ("add", 5, 1), ("add", 6, -1), ("add", 6, 4), ("add", 6, 100)]
    calls += [("milestone", 6), ("milestone", 7)]
    for name, *args in calls:
        text = error_text(getattr(rungs, name), *args)
        assert text == error_text(getattr(twin, name), *args)
    assert "5" in error_text(rungs.add, 5)
    assert "skip_rungs" in error_text(rungs.add, 6, 4)
    # the failed calls registered nothing
    assert rungs.milestone(5) == 1
    assert rungs.add(6, 3) == 27
    rungs._check()


def test_on_report_errors(kernels):
    twin = make(_reference, [1, 3, 9], 27)
    rungs = make(kernels, [1, 3, 9], 27)
    for obj in (twin, rungs):
        obj.add(1)
    for args in [(2, 1, 0.5), (1, 1, math.nan), (2, 1, math.nan), (1, 100, math.nan)]:
        assert error_text(rungs.on_report, *args) == error_text(twin.on_report, *args)
    assert "2" in error_text(rungs.on_report, 2, 1, 0.5)
    assert "NaN" in error_text(rungs.on_report, 1, 1, math.nan)
    assert rungs.num_recorded(0) == 0
    assert rungs.milestone(1) == 1
    rungs._check()


# -- on_report -------------------------------------------------------------------------------------


def test_pause_and_continue_at_once(kernels):
    # levels [1, 3], max_t 9: q = 1/3 at both rungs, k(n) = n // 3, min entries 3
    rungs = make(kernels, [1, 3], 9)
    for c in range(6):
        rungs.add(c)
    assert rungs.on_report(0, 1, 5.0) is False  # n = 1 < 3: pause
    assert rungs.on_report(1, 1, 1.0) is False
    assert rungs.on_report(2, 1, 3.0) is False  # n = 3, k = 1, rank 1
    assert rungs.on_report(3, 1, 9.0) is True  # n = 4, k = 1, rank 0: continue at once
    assert rungs.milestone(3) == 3
    assert rungs.on_report(4, 1, 6.0) is False  # n = 5, k = 1, rank 1
    assert rungs.on_report(5, 1, 7.0) is True  # n = 6, k = 2, rank 1
    assert rungs.num_recorded(0) == 6
    assert [rungs.milestone(c) for c in range(6)] == [3] * 6  # recorded: next milestone
    # both promoted-at-once ones are flagged: the best unpromoted is config 4 (rank 2)
    assert rungs.promote() is None
    rungs._check()


def test_reports_that_record_nothing(kernels):
    rungs = make(kernels, [2, 4, 8], 16)
    rungs.add(0)
    rungs.add(1, 1)
    assert rungs.on_report(0, 1, -1.0) is True  # below milestone 2
    assert rungs.on_report(1, 3, -1.0) is True  # below milestone 4
    assert rungs.on_report(1, 16, -1.0) is True  # >= max_t
    assert rungs.on_report(1, 99, -1.0) is True
    assert [rungs.num_recorded(j) for j in range(3)] == [0, 0, 0]
    assert rungs.milestone(0) == 2 and rungs.milestone(1) == 4
    assert rungs.on_report(0, 2, 1.0) is False  # now recorded at rung 0
    assert rungs.on_report(0, 2, 1.0) is True  # milestone is 4 now: nothing
    assert rungs.on_report(0, 3, 1.0) is True
    assert [rungs.num_recorded(j) for j in range(3)] == [1, 0, 0]
    rungs._check()


def test_report_past_several_levels_records_highest(kernels):
    rungs = make(kernels, [1, 3, 9], 27)
    rungs.add(0)
    rungs.on_report(0, 10, 1.0)  # milestone 1, but 10 passes 1, 3 and 9: rung 2
    assert [rungs.num_recorded(j) for j in range(3)] == [0, 0, 1]
    assert rungs.milestone(0) == 27
    assert rungs.on_report(0, 26, 1.0) is True  # below milestone 27
    assert rungs.num_recorded(2) == 1
    rungs._check()


@pytest.mark.parametrize(
    ("r", "r_next", "n"), [(7, 10, 90), (3, 11, 55), (11, 15, 75), (13, 17, 153)]
)
def test_exact_integer_k(kernels, r, r_next, n):
    """floor(n * (r / r_next)) is one too small here (floor(90 * 0.7) = 62, not 63)."""
    k = (n * r) // r_next
    assert math.floor(n * (r / r_next)) == k - 1
    for rank, expected in [(k - 1, True), (k, False)]:
        rungs = make(kernels, [r], r_next)
        better, worse = rank, n - 1 - rank
        earlier = [1000.0 + i for i in range(better)] + [-1.0 - i for i in range(worse)]
        earlier = earlier[::2] + earlier[1::2]  # interleave good and bad
        for c, reward in enumerate(earlier):
            rungs.add(c)
            rungs.on_report(c, r, reward)
        rungs.add(n)
        assert rungs.on_report(n, r, 500.0) is expected
        rungs._check()


def test_ties_broken_by_earlier_record(kernels):
    rungs = make(kernels, [1], 3)  # k(n) = n // 3
    for c in range(3):
        rungs.add(c)
        assert rungs.on_report(c, 1, 5.0) is False  # third: rank 2, not < 1
    assert rungs.promote() == (0, 1)  # the earliest of the tied entries
    assert rungs.promote() is None  # config 1 ranks 1, k = 1
    rungs.add(3)
    assert rungs.on_report(3, 1, 5.0) is False  # a tie ranks after all earlier ones
    rungs.add(4)
    rungs.add(5)
    rungs.on_report(4, 1, 1.0)
    rungs.on_report(5, 1, 1.0)  # n = 6, k = 2
    assert rungs.promote() == (1, 1)
    assert rungs.promote() is None
    rungs._check()


def test_ties_mode_min(kernels):
    rungs = make(kernels, [1], 3, "min")
    for c, reward in enumerate([2.0, 2.0, 9.0]):
        rungs.add(c)
        rungs.on_report(c, 1, reward)
    assert rungs.promote() == (0, 1)
    rungs.add(3)
    assert rungs.on_report(3, 1, 2.0) is False
    for c in (4, 5):
        rungs.add(c)
        rungs.on_report(c, 1, 100.0)
    assert rungs.promote() == (1, 1)


def test_mode_min_mirrors_max(kernels):
    hi = make(kernels, [1, 3], 9, "max")
    lo = make(kernels, [1, 3], 9, "min")
    values = [3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0, 6.0, 5.0, 3.5]
    got_hi, got_lo = [], []
    for c, v in enumerate(values):
        hi.add(c)
        lo.add(c)
        got_hi.append(hi.on_report(c, 1, v))
        got_lo.append(lo.on_report(c, 1, -v))
    assert got_hi == got_lo
    assert True in got_hi and False in got_hi
    while (p := hi.promote()) is not None:
        assert lo.promote() == p
    assert lo.promote() is None


def test_promote_scans_from_the_top_rung(kernels):
    rungs = make(kernels, [1, 3], 9)  # k(n) = n // 3 at both rungs
    # rung 0: six entries, descending rewards: every new entry ranks last and pauses
    for c in range(6):
        rungs.add(c)
        assert rungs.on_report(c, 1, float(10 - c)) is False
    # rung 1: three configs added straight at rung 1, descending too
    for c in (10, 11, 12):
        assert rungs.add(c, 1) == 3
        assert rungs.on_report(c, 3, float(-c)) is False
    assert [rungs.num_recorded(j) for j in range(2)] == [6, 3]
    assert rungs.promote() == (10, 3)  # rung 1 first, although rung 0 has promotable ones
    assert rungs.promote() == (0, 1)  # rung 1 has none left (config 11 ranks 1, k = 1)
    assert rungs.promote() == (1, 1)
    assert rungs.promote() is None
    assert rungs.milestone(10) == 9 and rungs.milestone(0) == 3
    rungs._check()


def test_promote_returns_level_and_keeps_milestone(kernels):
    rungs = make(kernels, [2, 6], 18)  # rung 0: k(n) = n // 3
    for c, reward in enumerate([3.0, 2.0, 1.0]):
        rungs.add(c)
        assert rungs.on_report(c, 2, reward) is False
    assert rungs.promote() == (0, 2)
    assert rungs.milestone(0) == 6
    assert rungs.on_report(0, 6, 0.0) is False  # first entry at rung 1: pause
    assert rungs.promote() is None
    assert rungs.milestone(0) == 18
    rungs._check()


def test_empty_promote(kernels):
    rungs = make(kernels, [1, 3, 9], 27)
    assert rungs.promote() is None
    rungs.add(0)
    assert rungs.promote() is None
    rungs._check()


# -- against the oracle -------------------------------------------------------------------------


@st.composite
def promotion_cases(draw, max_ops: int = 80):
    levels, max_t = draw(level_configs())
    mode = draw(st.sampled_from(["max", "min"]))
    reward = st.one_of(st.sampled_from([0.0, 1.0, 2.0, -1.0]), draw(reward_palettes()))
    op = st.one_of(
        st.tuples(st.just("add"), st.integers(0, len(levels))),
        st.tuples(st.just("add"), st.just(0)),
        st.tuples(
            st.just("report"),
            st.integers(0, 10**6),
            st.one_of(st.sampled_from(TIME_CHOICES), st.integers(0, max_t + 1)),
            reward,
        ),
        st.tuples(st.just("report"), st.integers(0, 10**6), st.just("at"), reward),
        st.tuples(st.just("promote")),
    )
    return levels, max_t, mode, draw(sized_lists(op, 0, max_ops))


def run_case(rungs, oracle, ops, check=True):
    """Apply abstract ops to a kernel and the oracle, comparing every answer."""
    ids: list[int] = sorted(oracle.milestones)
    for op in ops:
        if op[0] == "add":
            cid = len(ids) * 7 - 3  # distinct, some negative
            assert rungs.add(cid, op[1]) == oracle.add(cid, op[1])
            ids.append(cid)
        elif op[0] == "report":
            if not ids:
                continue
            cid = ids[op[1] % len(ids)]
            time = resolve_time(op[2], oracle.milestone(cid), oracle.levels, oracle.max_t)
            want = oracle.on_report(cid, time, op[3])
            got = rungs.on_report(cid, time, op[3])
            assert type(got) is bool
            assert got == want, (cid, time, op[3])
            assert rungs.milestone(cid) == oracle.milestone(cid)
        else:
            got = rungs.promote()
            assert got == oracle.promote()
            assert got is None or (type(got) is tuple and all(type(x) is int for x in got))
        if check:
            rungs._check()
    for j in range(len(oracle.levels)):
        assert rungs.num_recorded(j) == oracle.num_recorded(j)
    for cid in ids:
        assert rungs.milestone(cid) == oracle.milestone(cid)


@fixture_ok
@given(promotion_cases())
@example(case=([1, 3], 9, "max", [("add", 0)] * 6 + [("report", i, "at", 1.0) for i in range(6)]))
def test_matches_oracle(kernels, case):
    levels, max_t, mode, ops = case
    rungs = make(kernels, levels, max_t, mode)
    oracle = PromotionOracle(levels, max_t, mode)
    run_case(rungs, oracle, ops)
    # drain: every promotable entry comes out in the oracle's order
    while (want := oracle.promote()) is not None:
        assert rungs.promote() == want
    assert rungs.promote() is None
    rungs._check()


def test_matches_oracle_long_run(kernels):
    """A long seeded run at one level set (more entries per rung than Hypothesis makes)."""
    import random

    rng = random.Random(42)
    for levels, max_t, mode in [([1, 3, 9], 27, "max"), ([1, 2, 4, 8], 10, "min")]:
        ops = []
        for _ in range(1500):
            x = rng.random()
            if x < 0.3:
                ops.append(("add", rng.choice([0, 0, 0, 1, len(levels)])))
            elif x < 0.8:
                ops.append(("report", rng.randrange(10**6), "at", float(rng.randrange(30))))
            else:
                ops.append(("promote",))
        rungs = make(kernels, levels, max_t, mode)
        oracle = PromotionOracle(levels, max_t, mode)
        run_case(rungs, oracle, ops, check=False)
        rungs._check()


# -- state ---------------------------------------------------------------------------------------


@fixture_ok
@given(promotion_cases(max_ops=60), st.integers(0, 60))
def test_state_dict_json_round_trip(kernels, case, cut):
    levels, max_t, mode, ops = case
    rungs = make(kernels, levels, max_t, mode)
    oracle = PromotionOracle(levels, max_t, mode)
    run_case(rungs, oracle, ops[:cut], check=False)
    state = rungs.state_dict()
    assert_plain_json(state)
    loaded = json.loads(json.dumps(state))
    assert loaded == state
    clone = kernels.PromotionRungs.from_state_dict(loaded)
    assert type(clone) is type(rungs)
    clone._check()
    assert clone.state_dict() == state
    # the clone and the original continue like the oracle
    oracle_copy = copy.deepcopy(oracle)
    run_case(clone, oracle, ops[cut:])
    run_case(rungs, oracle_copy, ops[cut:], check=False)
    assert clone.state_dict() == rungs.state_dict()


@fixture_ok
@given(promotion_cases(max_ops=60), st.integers(0, 60))
def test_pickle_round_trip(kernels, case, cut):
    levels, max_t, mode, ops = case
    rungs = make(kernels, levels, max_t, mode)
    oracle = PromotionOracle(levels, max_t, mode)
    run_case(rungs, oracle, ops[:cut], check=False)
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        clone = pickle.loads(pickle.dumps(rungs, protocol=protocol))
        assert type(clone) is type(rungs)
        clone._check()
        assert clone.state_dict() == rungs.state_dict()
    run_case(clone, oracle, ops[cut:])


# -- copy -----------------------------------------------------------------------------------------


def drain(rungs) -> list:
    """promote() until it finds nothing (a kernel or the oracle); what it returned."""
    promoted = []
    while (found := rungs.promote()) is not None:
        promoted.append(found)
    return promoted


@settings(fixture_ok, max_examples=50)
@given(promotion_cases(max_ops=60), st.integers(0, 60), st.sampled_from(COPY_WAYS))
def test_copy_is_equal_and_independent(kernels, case, cut, how):
    levels, max_t, mode, ops = case
    rungs = make(kernels, levels, max_t, mode)
    oracle = PromotionOracle(levels, max_t, mode)
    run_case(rungs, oracle, ops[:cut], check=False)
    state = rungs.state_dict()
    clone = copied(rungs, how)  # equal, same state_dict, passes _check
    oracle_clone = copy.deepcopy(oracle)
    # adds, reports and promotions in the original leave the copy as it was ...
    run_case(rungs, oracle, ops[cut:], check=False)
    want = drain(rungs)
    assert clone.state_dict() == state
    clone._check()
    after = rungs.state_dict()
    # ... and the copy, given the same calls, answers like the oracle (the original's
    # answers), without moving the original
    run_case(clone, oracle_clone, ops[cut:])
    assert drain(clone) == want
    assert rungs.state_dict() == after == clone.state_dict()
    clone._check()


def test_copy_of_a_grown_rung(kernels):
    """Split heaps with slack at the back, a waiting heap and a milestone map that have
    grown: the copy keeps every layout working as the two objects go separate ways."""
    import random

    rng = random.Random(7)
    levels, max_t = [1, 3, 9], 27
    rungs = make(kernels, levels, max_t, "max")
    oracle = PromotionOracle(levels, max_t, "max")

    def some_ops(count):
        ops = []
        for _ in range(count):
            x = rng.random()
            if x < 0.35:
                ops.append(("add", rng.choice([0, 0, 0, 1])))
            elif x < 0.85:
                ops.append(("report", rng.randrange(10**6), "at", float(rng.randrange(30))))
            else:
                ops.append(("promote",))
        return ops

    run_case(rungs, oracle, some_ops(800), check=False)
    clone = copied(rungs, "copy()")
    oracle_clone = copy.deepcopy(oracle)
    run_case(rungs, oracle, some_ops(800), check=False)
    run_case(clone, oracle_clone, some_ops(800), check=False)
    assert clone.state_dict() != rungs.state_dict()
    for kernel, expected in ((rungs, oracle), (clone, oracle_clone)):
        kernel._check()
        assert drain(kernel) == drain(expected)
        assert kernel == kernels.PromotionRungs.from_state_dict(kernel.state_dict())


def test_copy_keeps_promoted_flags_apart(kernels):
    """A promotion in the copy flags the entry there only: the original can still
    promote the same config, once."""
    rungs = make(kernels, [1, 3], 9)
    for cid, reward in enumerate([5.0, 4.0, 3.0]):
        rungs.add(cid)
        assert rungs.on_report(cid, 1, reward) is False  # 3 entries before any promotion
    clone = copied(rungs, "copy.deepcopy")
    assert clone.promote() == (0, 1)
    assert clone.promote() is None
    assert rungs.promote() == (0, 1)
    assert rungs.promote() is None
    assert clone == rungs
    assert rungs.milestone(0) == clone.milestone(0) == 3
    rungs.add(10, 1)
    with pytest.raises(ValueError, match="config_id 10 is not registered"):
        clone.milestone(10)
    assert clone.add(10) == 1  # registered in the original only, so free in the copy


def test_deepcopy_keeps_sharing(kernels):
    """One kernel held twice deep-copies to one copy held twice (the memo is honoured)."""
    rungs = make(kernels, [1, 3], 9)
    rungs.add(0)
    first, second = copy.deepcopy([rungs, rungs])
    assert first is second
    assert first is not rungs
    assert first == rungs
