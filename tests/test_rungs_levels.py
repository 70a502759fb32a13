"""rung_levels: the level/quantile math and its validation, on both backends."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _oracles import INT64_MAX, brute_levels, brute_quantiles, fixture_ok
from hypothesis import given
from hypothesis import strategies as st

from scheduler.kernels import twins as _reference


def assert_exact(result, levels, quantiles):
    got_levels, got_quantiles = result
    assert type(got_levels) is list and type(got_quantiles) is list
    assert got_levels == levels
    assert all(type(x) is int for x in got_levels)
    assert all(type(q) is float for q in got_quantiles)
    # == on floats: bit for bit (no NaN can occur here)
    assert got_quantiles == quantiles


# -- the spec's examples and the tricky cases ---------------------------------------------


@pytest.mark.parametrize(
    ("g", "eta", "max_t", "levels", "quantiles"),
    [
        # log-based code gets 1000 -> [1, 10, 100, 1000] or [1, 10]; quantiles all 0.1
        (1, 10, 1000, [1, 10, 100], [0.1, 0.1, 0.1]),
        # last level 9 < 10: the last quantile is 9/10, not 1/eta
        (1, 3, 10, [1, 3, 9], [1 / 3, 1 / 3, 0.9]),
        (1, 3, 81, [1, 3, 9, 27], [1 / 3] * 4),
        (1, 3, 82, [1, 3, 9, 27, 81], [1 / 3] * 4 + [81 / 82]),
        (2, 2, 16, [2, 4, 8], [0.5] * 3),
        (1, 2, 2, [1], [0.5]),
        (5, 2, 6, [5], [5 / 6]),
        (3, 3, 27, [3, 9], [1 / 3, 1 / 3]),
        (3, 3, 28, [3, 9, 27], [1 / 3, 1 / 3, 27 / 28]),
        (7, 100, 8, [7], [7 / 8]),
        (1, 4, 1000, [1, 4, 16, 64, 256], [0.25] * 4 + [256 / 1000]),
    ],
)
def test_geometric_levels(kernels, g, eta, max_t, levels, quantiles):
    assert_exact(kernels.rung_levels(g, eta, max_t), levels, quantiles)
    # keywords, as the scheduler calls it
    assert_exact(
        kernels.rung_levels(grace_period=g, reduction_factor=eta, max_t=max_t, rung_levels=None),
        levels,
        quantiles,
    )


def test_geometric_levels_exact_near_int64_limit(kernels):
    # exact integer arithmetic: no overflow, no log, no float rounding of the levels
    assert_exact(
        kernels.rung_levels(1, 2, INT64_MAX),
        [2**k for k in range(63)],
        [0.5] * 62 + [2**62 / INT64_MAX],
    )
    assert_exact(
        kernels.rung_levels(1, 3, 3**39),
        [3**k for k in range(39)],
        brute_quantiles([3**k for k in range(39)], 3**39),
    )
    # the next level g * eta would overflow int64
    assert_exact(kernels.rung_levels(2**40, 2**40, INT64_MAX), [2**40], [2**40 / INT64_MAX])
    assert_exact(kernels.rung_levels(10**18, 10, INT64_MAX), [10**18], [10**18 / INT64_MAX])


def test_huge_reduction_factor_gives_one_level(kernels):
    # reduction_factor is any integer >= 2; a huge one just leaves g alone
    assert_exact(kernels.rung_levels(3, 10**30, 100), [3], [0.03])


def test_quantiles_are_python_true_division_of_ints(kernels):
    # above 2**53 converting to double first and then dividing is not correctly rounded
    levels = [2**53 + 1]
    max_t = 2**53 + 3
    expected = (2**53 + 1) / (2**53 + 3)
    assert expected != float(2**53 + 1) / float(2**53 + 3)  # the trap is real
    assert_exact(kernels.rung_levels(1, 2, max_t, rung_levels=levels), levels, [expected])


def test_numpy_integers_are_integers(kernels):
    result = kernels.rung_levels(np.int64(1), np.int32(3), np.int64(10))
    assert_exact(result, [1, 3, 9], [1 / 3, 1 / 3, 0.9])
    result = kernels.rung_levels(1, 2, np.int64(20), rung_levels=[np.int64(1), np.int16(5)])
    assert_exact(result, [1, 5], [0.2, 0.25])


# -- explicit rung_levels ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_levels", "max_t", "levels", "quantiles"),
    [
        ([1, 5, 20], 20, [1, 5], [0.2, 0.25]),  # trailing max_t dropped
        ((1, 5, 20), 20, [1, 5], [0.2, 0.25]),  # a tuple works too
        ([1, 5], 20, [1, 5], [0.2, 0.25]),
        ([3], 4, [3], [0.75]),
        ([3, 4], 4, [3], [0.75]),
        ([1, 2, 3, 5, 8], 13, [1, 2, 3, 5, 8], [1 / 2, 2 / 3, 3 / 5, 5 / 8, 8 / 13]),
        ([10, 90], 100, [10, 90], [1 / 9, 0.9]),
    ],
)
def test_explicit_levels(kernels, given_levels, max_t, levels, quantiles):
    snapshot = list(given_levels)
    assert_exact(kernels.rung_levels(1, 3, max_t, rung_levels=given_levels), levels, quantiles)
    assert list(given_levels) == snapshot  # the caller's list is not mutated


def test_explicit_levels_ignore_grace_period_and_reduction_factor(kernels):
    # not validated when rung_levels is given
    for g, eta in [(0, 1), (None, None), (1.5, 1.5), (True, "x"), (100, 2)]:
        assert_exact(kernels.rung_levels(g, eta, 20, rung_levels=[1, 5, 20]), [1, 5], [0.2, 0.25])


# -- validation ----------------------------------------------------------------------------


def error_text(fn, *args, **kwargs) -> str:
    with pytest.raises(ValueError) as info:
        fn(*args, **kwargs)
    return str(info.value)


@pytest.mark.parametrize("max_t", [1, 0, -5, 10.0, 2.5, True, False, None, "10", [10]])
def test_bad_max_t(kernels, max_t):
    expected = f"max_t must be an integer >= 2, got {max_t!r}"
    assert error_text(kernels.rung_levels, 1, 3, max_t) == expected
    # also with explicit levels: max_t is always validated
    assert error_text(kernels.rung_levels, 1, 3, max_t, rung_levels=[1]) == expected


@pytest.mark.parametrize("g", [0, -1, 1.0, 0.5, True, None, "1"])
def test_bad_grace_period(kernels, g):
    text = error_text(kernels.rung_levels, g, 3, 100)
    assert text.startswith("grace_period must be")
    assert f"got {g!r}" in text


@pytest.mark.parametrize("eta", [1, 0, -2, 1.5, 2.0, True, None, "3"])
def test_bad_reduction_factor(kernels, eta):
    text = error_text(kernels.rung_levels, 1, eta, 100)
    assert text == f"reduction_factor must be an integer >= 2, got {eta!r}"


def test_reduction_factor_message_from_spec(kernels):
    assert (
        error_text(kernels.rung_levels, 1, 1.5, 10)
        == "reduction_factor must be an integer >= 2, got 1.5"
    )


@pytest.mark.parametrize(("g", "max_t"), [(10, 10), (11, 10), (1000, 2)])
def test_grace_period_not_below_max_t(kernels, g, max_t):
    text = error_text(kernels.rung_levels, g, 2, max_t)
    assert text == f"grace_period must be < max_t (= {max_t}), got {g}"


BAD_EXPLICIT = [
    [],  # nothing at all
    [20],  # nothing left after dropping the trailing max_t
    (20,),
    [0, 5],  # levels are >= 1
    [-1, 5],
    [5, 5],  # strictly increasing
    [5, 3],
    [1, 20, 20],
    [1, 25, 20],
    [1, 30],  # every level < max_t
    [1, 21],
    [1.0, 5],  # integers only
    [1, 5.5],
    [True, 5],
    [1, None],
    [1, "5"],
    "15",  # a list or a tuple
    {1, 5},
    5,
    np.array([1, 5]),
]


def names_value(text: str, bad) -> bool:
    """The message shows the bad list, one of its items, or (not a list) its type."""
    if repr(bad) in text or type(bad).__name__ in text:
        return True
    return isinstance(bad, (list, tuple)) and any(repr(x) in text for x in bad)


@pytest.mark.parametrize("bad", BAD_EXPLICIT, ids=repr)
def test_bad_explicit_levels(kernels, bad):
    text = error_text(kernels.rung_levels, 1, 3, 20, rung_levels=bad)
    assert "rung_levels" in text
    assert names_value(text, bad)


ALL_BAD_CALLS = (
    [((1, 3, m), {}) for m in (1, 0, 2.5, True, None)]
    + [((g, 3, 100), {}) for g in (0, -1, 1.0, True, None)]
    + [((1, e, 100), {}) for e in (1, 0, 1.5, True, None)]
    + [((10, 2, 10), {}), ((11, 2, 10), {})]
    + [((1, 3, 20), {"rung_levels": bad}) for bad in BAD_EXPLICIT]
    # several things wrong at once: the first check wins, the same one on both backends
    + [((0, 1, 1), {}), ((0, 1, 100), {}), ((100, 1, 10), {}), ((1, 3, 1), {"rung_levels": []})]
)


@pytest.mark.parametrize(("args", "kwargs"), ALL_BAD_CALLS, ids=repr)
def test_error_texts_match_the_twin(kernels, args, kwargs):
    expected = error_text(_reference.rung_levels, *args, **kwargs)
    assert error_text(kernels.rung_levels, *args, **kwargs) == expected


# -- properties ------------------------------------------------------------------------------


geometric_args = st.one_of(
    st.tuples(st.integers(1, 50), st.integers(2, 12), st.integers(2, 100_000)),
    st.tuples(st.integers(1, 10**6), st.integers(2, 10**6), st.integers(2, INT64_MAX)),
).filter(lambda a: a[0] < a[2])


@fixture_ok
@given(geometric_args)
def test_levels_match_integer_loop(kernels, args):
    g, eta, max_t = args
    levels, quantiles = kernels.rung_levels(g, eta, max_t)
    assert levels == brute_levels(g, eta, max_t)
    assert quantiles == brute_quantiles(levels, max_t)
    assert levels[0] == g
    assert all(a < b for a, b in itertools.pairwise(levels))
    assert all(level < max_t for level in levels)
    assert levels[-1] * eta >= max_t
    assert all(0.0 < q < 1.0 for q in quantiles)


@fixture_ok
@given(
    st.lists(st.integers(1, 10**6), min_size=1, max_size=12, unique=True),
    st.integers(0, 3),
    st.booleans(),
)
def test_explicit_levels_property(kernels, raw, extra, with_trailing):
    given_levels = sorted(raw)
    max_t = given_levels[-1] + extra + 1
    levels = list(given_levels)
    if with_trailing:
        given_levels = [*given_levels, max_t]
    got_levels, got_quantiles = kernels.rung_levels(None, None, max_t, rung_levels=given_levels)
    assert got_levels == levels
    assert got_quantiles == brute_quantiles(levels, max_t)
