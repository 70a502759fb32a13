"""BracketSampler: the bracket distribution and its splitmix64 stream, on both backends.

The oracle below is written from the contract: splitmix64 (Steele, Lea, Flood 2014) over
Python ints masked to 64 bits, u = (next() >> 11) * 2**-53, first s with u < cumulative[s].
It is itself checked against the published splitmix64 test vectors.
"""

from __future__ import annotations

import copy
import json
import math
import pickle
from fractions import Fraction

import pytest
from _oracles import COPY_WAYS, assert_plain_json, copied, fixture_ok
from hypothesis import given
from hypothesis import strategies as st

from scheduler.kernels import twins as _reference

MASK64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed: int) -> None:
        self.state = seed & MASK64

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self) -> float:
        return (self.next() >> 11) * 2.0**-53


def probabilities(levels, max_t, brackets) -> list[float]:
    """w_s = L / ((L - s) * r_s), normalised with a plain sequential sum."""
    big_l = len(levels) + 1
    rs = [*list(levels), max_t]
    weights = [big_l / ((big_l - s) * rs[s]) for s in range(min(brackets, big_l))]
    total = 0.0
    for w in weights:
        total += w
    return [w / total for w in weights]


def oracle_samples(levels, max_t, brackets, seed, n) -> list[int]:
    cumulative, acc = [], 0.0
    for p in probabilities(levels, max_t, brackets):
        acc += p
        cumulative.append(acc)
    rng = SplitMix64(seed)
    out = []
    for _ in range(n):
        u = rng.uniform()
        out.append(next((s for s, c in enumerate(cumulative) if u < c), len(cumulative) - 1))
    return out


def test_oracle_matches_published_splitmix64_vectors():
    # Vigna's splitmix64.c; also the Rosetta Code task "Pseudo-random numbers/Splitmix64"
    rng = SplitMix64(1234567)
    assert [rng.next() for _ in range(5)] == [
        0x599ED017FB08FC85,
        0x2C73F08458540FA5,
        0x883EBCE5A3F27C77,
        0x3FBEF740E9177B3F,
        0xE3B8346708CB5ECD,
    ]
    assert SplitMix64(0).next() == 0xE220A8397B1DCDAF


# -- pinned sequences -------------------------------------------------------------------------

# (levels, max_t, brackets, seed) -> the first 20 samples, computed once with the oracle above
PINNED = [
    (
        [1, 3, 9, 27],
        81,
        5,
        31415927,  # the scheduler's default random_seed
        [1, 0, 0, 0, 0, 3, 3, 0, 2, 0, 0, 2, 4, 1, 0, 1, 0, 0, 1, 1],
    ),
    (
        [1, 10, 100],
        1000,
        2,
        0,
        [1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ),
    (
        [2, 4, 8, 16],
        32,
        3,
        2**64 + 12345,  # taken mod 2**64
        [0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 1, 2, 2, 0, 1, 1, 2, 0],
    ),
    (
        [1, 2, 4, 8, 16, 32],
        64,
        7,
        7,
        [0, 0, 4, 1, 1, 0, 1, 0, 0, 1, 0, 6, 5, 4, 4, 1, 4, 0, 1, 2],
    ),
    (
        [1, 3, 9],
        27,
        4,
        2**63 + 5,  # above int64: the state is a uint64
        [0, 0, 0, 0, 3, 0, 0, 3, 0, 0, 0, 1, 0, 0, 3, 0, 0, 0, 0, 0],
    ),
]


@pytest.mark.parametrize(("levels", "max_t", "brackets", "seed", "expected"), PINNED)
def test_pinned_sequences(kernels, levels, max_t, brackets, seed, expected):
    assert oracle_samples(levels, max_t, brackets, seed, 20) == expected
    sampler = kernels.BracketSampler(levels, max_t, brackets, seed)
    got = [sampler.sample() for _ in range(20)]
    assert all(type(s) is int for s in got)
    assert got == expected


@fixture_ok
@given(
    levels=st.lists(st.integers(1, 500), min_size=1, max_size=7, unique=True).map(sorted),
    extra=st.integers(1, 500),
    brackets=st.integers(1, 10),
    seed=st.one_of(st.integers(0, 2**64 - 1), st.integers(0, 10), st.integers(2**64, 2**70)),
)
def test_sequence_matches_oracle(kernels, levels, extra, brackets, seed):
    max_t = levels[-1] + extra
    sampler = kernels.BracketSampler(levels, max_t, brackets, seed)
    assert [sampler.sample() for _ in range(200)] == oracle_samples(
        levels, max_t, brackets, seed, 200
    )


def test_same_sequence_as_twin(kernels):
    for seed in (0, 1, 31415927, 2**63, 2**64 - 1):
        a = kernels.BracketSampler([1, 3, 9, 27], 81, 5, seed)
        b = _reference.BracketSampler([1, 3, 9, 27], 81, 5, seed)
        assert [a.sample() for _ in range(2000)] == [b.sample() for _ in range(2000)]


def test_seed_is_taken_mod_2_64(kernels):
    a = kernels.BracketSampler([1, 3, 9], 27, 4, 5)
    b = kernels.BracketSampler([1, 3, 9], 27, 4, 2**64 + 5)
    c = kernels.BracketSampler([1, 3, 9], 27, 4, 6)
    seq_a = [a.sample() for _ in range(100)]
    assert seq_a == [b.sample() for _ in range(100)]
    assert seq_a != [c.sample() for _ in range(100)]


# -- probabilities ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("levels", "max_t", "brackets"),
    [
        ([1, 3, 9, 27], 81, 5),
        ([1, 3, 9, 27], 81, 100),
        ([1, 3, 9, 27], 81, 1),
        ([1, 3, 9], 10, 4),
        ([1, 10, 100], 1000, 2),
        ([5], 6, 3),
        ([1, 2, 4, 8, 16, 32], 64, 7),
        ([3, 7, 50, 51], 52, 5),
    ],
)
def test_probabilities_formula(kernels, levels, max_t, brackets):
    sampler = kernels.BracketSampler(levels, max_t, brackets, 0)
    big_l = len(levels) + 1
    assert sampler.num_brackets == min(brackets, big_l)
    probs = sampler.probabilities
    assert type(probs) is list and all(type(p) is float for p in probs)
    assert probs == probabilities(levels, max_t, brackets)  # same float operations
    # and independently, with exact fractions: p_s proportional to L / ((L - s) r_s)
    rs = [*list(levels), max_t]
    exact = [Fraction(big_l, (big_l - s) * rs[s]) for s in range(sampler.num_brackets)]
    total = sum(exact)
    for p, e in zip(probs, exact):
        assert math.isclose(p, e / total, rel_tol=1e-14)
    assert math.isclose(sum(probs), 1.0, rel_tol=1e-14)


def test_hyperband_example_probabilities(kernels):
    # L = 5, r = 1, 3, 9, 27, 81: weights 5/5, 5/12, 5/27, 5/54, 5/81
    sampler = kernels.BracketSampler([1, 3, 9, 27], 81, 5, 0)
    exact = [Fraction(1), Fraction(5, 12), Fraction(5, 27), Fraction(5, 54), Fraction(5, 81)]
    total = sum(exact)
    for p, e in zip(sampler.probabilities, exact):
        assert math.isclose(p, e / total, rel_tol=1e-14)
    assert sampler.probabilities[0] > sampler.probabilities[1] > sampler.probabilities[-1]


def test_single_bracket_always_zero(kernels):
    sampler = kernels.BracketSampler([1, 3, 9], 27, 1, 123)
    assert sampler.num_brackets == 1
    assert sampler.probabilities == [1.0]
    assert {sampler.sample() for _ in range(500)} == {0}


def test_cap_at_len_levels_plus_one(kernels):
    for brackets in (4, 5, 1000):
        sampler = kernels.BracketSampler([1, 3, 9], 27, brackets, 1)
        assert sampler.num_brackets == 4
        assert len(sampler.probabilities) == 4
    sampler = kernels.BracketSampler([1, 3, 9], 27, 1000, 1)
    assert max(sampler.sample() for _ in range(5000)) == 3  # the full-budget bracket occurs


@pytest.mark.parametrize(
    ("levels", "max_t", "brackets", "seed"),
    [([1, 3, 9, 27], 81, 5, 31415927), ([1, 2, 4, 8, 16, 32], 64, 7, 99), ([2, 3], 4, 3, 1)],
)
def test_empirical_frequencies(kernels, levels, max_t, brackets, seed):
    n = 20000
    sampler = kernels.BracketSampler(levels, max_t, brackets, seed)
    counts = [0] * sampler.num_brackets
    for _ in range(n):
        counts[sampler.sample()] += 1
    for count, p in zip(counts, sampler.probabilities):
        sigma = math.sqrt(p * (1 - p) / n)
        assert abs(count / n - p) <= 5 * sigma + 1e-12, (counts, sampler.probabilities)


# -- validation -----------------------------------------------------------------------------------


def error_text(fn, *args) -> str:
    with pytest.raises(ValueError) as info:
        fn(*args)
    return str(info.value)


@pytest.mark.parametrize("brackets", [0, -1, 1.5, 2.0, None, "3"])
def test_bad_brackets(kernels, brackets):
    text = error_text(kernels.BracketSampler, [1, 3], 9, brackets, 0)
    assert "brackets" in text and repr(brackets) in text
    assert text == error_text(_reference.BracketSampler, [1, 3], 9, brackets, 0)


@pytest.mark.parametrize("seed", [-1, -(2**64), 1.0, 0.5, None, "1"])
def test_bad_seed(kernels, seed):
    text = error_text(kernels.BracketSampler, [1, 3], 9, 2, seed)
    assert "seed" in text and repr(seed) in text
    assert text == error_text(_reference.BracketSampler, [1, 3], 9, 2, seed)


@pytest.mark.parametrize(
    ("levels", "max_t"),
    [([1, 3], 3), ([1, 3], 2), ([3, 1], 9), ([1, 1], 9), ([0, 3], 9), ([1, 3], 1.5)],
    ids=repr,
)
def test_bad_levels_or_max_t(kernels, levels, max_t):
    text = error_text(kernels.BracketSampler, levels, max_t, 2, 0)
    assert text == error_text(_reference.BracketSampler, levels, max_t, 2, 0)


# -- state ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("drawn", [0, 1, 17, 500])
def test_state_dict_round_trip_continues(kernels, drawn):
    sampler = kernels.BracketSampler([1, 3, 9, 27], 81, 5, 2024)
    for _ in range(drawn):
        sampler.sample()
    state = sampler.state_dict()
    assert_plain_json(state)
    loaded = json.loads(json.dumps(state))
    assert loaded == state
    clone = kernels.BracketSampler.from_state_dict(loaded)
    assert type(clone) is type(sampler)
    clone._check()
    assert clone.num_brackets == sampler.num_brackets
    assert clone.probabilities == sampler.probabilities
    expected = oracle_samples([1, 3, 9, 27], 81, 5, 2024, drawn + 300)[drawn:]
    assert [clone.sample() for _ in range(300)] == expected
    assert [sampler.sample() for _ in range(300)] == expected
    assert clone.state_dict() == sampler.state_dict()


def test_state_dict_holds_a_large_state(kernels):
    # a uint64 state above 2**63 survives JSON (Python ints, not doubles)
    sampler = kernels.BracketSampler([1, 3, 9], 27, 4, 2**64 - 1)
    sampler.sample()
    clone = kernels.BracketSampler.from_state_dict(json.loads(json.dumps(sampler.state_dict())))
    assert [clone.sample() for _ in range(50)] == [sampler.sample() for _ in range(50)]


def test_pickle_round_trip_continues(kernels):
    sampler = kernels.BracketSampler([1, 2, 4, 8, 16, 32], 64, 7, 7)
    head = [sampler.sample() for _ in range(10)]
    assert head == PINNED[3][4][:10]
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        clone = pickle.loads(pickle.dumps(sampler, protocol=protocol))
        assert type(clone) is type(sampler)
        clone._check()
        assert [clone.sample() for _ in range(10)] == PINNED[3][4][10:]
    assert [sampler.sample() for _ in range(10)] == PINNED[3][4][10:]


def test_check_passes(kernels):
    sampler = kernels.BracketSampler([1, 3, 9], 27, 3, 11)
    sampler._check()
    for _ in range(100):
        sampler.sample()
    sampler._check()


# -- copy -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", COPY_WAYS)
@pytest.mark.parametrize("drawn", [0, 1, 17])
def test_copy_draws_the_same_sequence_independently(kernels, how, drawn):
    sampler = kernels.BracketSampler([1, 3, 9, 27], 81, 5, 2**64 - 3)
    for _ in range(drawn):
        sampler.sample()
    state = sampler.state_dict()
    clone = copied(sampler, how)  # equal, same state_dict, passes _check
    assert (clone.levels, clone.max_t, clone.num_brackets, clone.seed) == (
        [1, 3, 9, 27],
        81,
        5,
        2**64 - 3,
    )
    assert clone.probabilities == sampler.probabilities
    expected = oracle_samples([1, 3, 9, 27], 81, 5, 2**64 - 3, drawn + 200)[drawn:]
    assert [sampler.sample() for _ in range(200)] == expected
    assert clone.state_dict() == state  # drawing from the original left the copy alone
    assert [clone.sample() for _ in range(200)] == expected
    assert clone.state_dict() == sampler.state_dict()
    clone._check()


def test_deepcopy_keeps_sharing(kernels):
    """One sampler held twice deep-copies to one copy held twice (the memo is honoured)."""
    sampler = kernels.BracketSampler([1, 3, 9], 27, 3, 11)
    first, second = copy.deepcopy([sampler, sampler])
    assert first is second
    assert first is not sampler
    assert first == sampler
