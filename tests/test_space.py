"""Search-space domains and SearchSpace: defaults, validation, sampling, encodings."""

from __future__ import annotations

import copy
import json
import math
import pickle

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from scheduler import space
from scheduler.space import Bool, Categorical, Int, Real, SearchSpace, canonical_key

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
UNIT = st.floats(min_value=0.0, max_value=1.0)


@st.composite
def real_domains(draw):
    log = draw(st.booleans())
    if log:
        lower = draw(st.floats(min_value=1e-12, max_value=1e6))
        ratio = draw(st.floats(min_value=1.0 + 1e-6, max_value=1e9))
        upper = lower * ratio
    else:
        lower = draw(st.floats(min_value=-1e6, max_value=1e6))
        width = draw(st.floats(min_value=1e-6, max_value=1e6))
        upper = lower + width
    assume(upper > lower)
    return Real(lower, upper, log=log)


@st.composite
def int_domains(draw):
    lower = draw(st.integers(min_value=-1000, max_value=1000))
    upper = lower + draw(st.integers(min_value=0, max_value=2000))
    return Int(lower, upper)


# -- defaults ------------------------------------------------------------------


def test_real_default_is_midpoint():
    assert Real(0, 10).default == 5.0
    assert Real(-3, 1).default == -1.0


def test_real_log_default_is_geometric_midpoint():
    assert Real(1e-4, 1, log=True).default == pytest.approx(1e-2)
    assert Real(1, 100, log=True).default == pytest.approx(10.0)


def test_explicit_defaults():
    assert Real(0, 1, default=0.25).default == 0.25
    assert Real(1e-3, 1, default=1e-3, log=True).default == 1e-3
    assert Int(0, 10, default=10).default == 10


@pytest.mark.parametrize(
    ("lower", "upper", "expected"),
    [(1, 4, 2), (1, 5, 3), (0, 1, 0), (-3, 0, -2), (5, 5, 5), (-4, -1, -3)],
)
def test_int_default_is_midpoint_rounded_down(lower, upper, expected):
    domain = Int(lower, upper)
    assert domain.default == expected
    assert type(domain.default) is int


def test_categorical_default_is_first_choice():
    assert Categorical("b", "a").default == "b"
    assert Categorical([1, 2], {"x": 1}).default == [1, 2]


def test_bool_is_categorical_false_true():
    domain = Bool()
    assert domain.default is False
    assert domain.data == [False, True]
    assert domain.cardinality == 2
    assert domain == Categorical(False, True)
    assert repr(domain) == "Bool()"


def test_int_accepts_integral_floats():
    domain = Int(1e3, 1e4)
    assert (domain.lower, domain.upper) == (1000, 10000)
    assert type(domain.lower) is int


# -- validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Real(3, 1), "Real: upper must be > lower, got lower=3, upper=1"),
        (lambda: Real(1, 1), "Real: upper must be > lower, got lower=1, upper=1"),
        (lambda: Real(0, math.inf), "Real: upper must be finite, got inf"),
        (lambda: Real(math.nan, 1), "Real: lower must be finite, got nan"),
        (lambda: Real("0", 1), "Real: lower must be a real number, got '0'"),
        (lambda: Real(True, 2), "Real: lower must be a real number, got True"),
        (lambda: Real(0, 1, log=True), "Real: lower must be > 0 when log=True, got lower=0"),
        (lambda: Real(-1, 1, log=True), "Real: lower must be > 0 when log=True, got lower=-1"),
        (lambda: Real(0, 1, log="yes"), "Real: log must be a bool, got log='yes'"),
        (
            lambda: Real(0, 1, default=2),
            r"Real: default must be within \[lower, upper\] = \[0, 1\], got default=2",
        ),
        (lambda: Real(0, 1, default=math.nan), "Real: default must be finite, got nan"),
        (lambda: Int(3, 1), "Int: upper must be >= lower, got lower=3, upper=1"),
        (lambda: Int(1.5, 3), "Int: lower must be an integer, got 1.5"),
        (lambda: Int(0, "3"), "Int: upper must be an integer, got '3'"),
        (lambda: Int(False, 3), "Int: lower must be an integer, got False"),
        (lambda: Int(0, math.inf), "Int: upper must be an integer, got inf"),
        (
            lambda: Int(0, 10, default=11),
            r"Int: default must be within \[lower, upper\] = \[0, 10\], got default=11",
        ),
        (lambda: Int(0, 2**64), r"Int: upper - lower must be < 2\*\*63 - 1"),
        (lambda: Categorical(), "Categorical: data must hold at least one choice, got no"),
        (
            lambda: Categorical(1, 2, 1),
            "Categorical: choices must be distinct, got 1 at positions 0 and 2",
        ),
        (
            lambda: Categorical([1], [1]),
            r"Categorical: choices must be distinct, got \[1\] at positions 0 and 1",
        ),
        (
            lambda: Categorical(Real(0, 1), Real(0, 1)),
            r"Categorical: choices must be distinct, got Real\(lower=0.0, upper=1.0\)",
        ),
        (lambda: Real(0, 1).grid(0), "Real.grid: num_points must be >= 1, got 0"),
        (lambda: Int(0, 1).grid(2.5), "Int.grid: num_points must be an integer >= 1, got 2.5"),
        (lambda: Bool().grid(-1), "Bool.grid: num_points must be >= 1, got -1"),
        (lambda: Real(0, 1).from_unit(math.nan), "Real.from_unit: u must not be NaN"),
        (lambda: Int(0, 1).from_unit("a"), "Int.from_unit: u must be a real number, got 'a'"),
        (lambda: Real(0, 1).to_unit(2), r"Real.to_unit: value must be a number within"),
        (lambda: Int(0, 3).to_unit(1.5), r"Int.to_unit: value must be an integer within"),
        (lambda: Categorical("a").to_unit("b"), "value must be one of the choices, got 'b'"),
        (lambda: SearchSpace({1: Real(0, 1)}), "names must be non-empty strings, got 1"),
        (lambda: SearchSpace([("a", 1)]), "spec must be a mapping of names"),
    ],
)
def test_validation_errors_name_parameter_rule_and_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_distinct_choices_by_type():
    # 1, 1.0 and True are different values for a search.
    domain = Categorical(1, 1.0, True, "1", (1,), [1])
    assert domain.cardinality == 6
    assert [domain.index_of(v) for v in (1, 1.0, True, "1", (1,), [1])] == list(range(6))


def test_infinite_domain_has_no_index():
    with pytest.raises(TypeError, match="not a finite domain"):
        Real(0, 1).index_of(0.5)
    with pytest.raises(TypeError, match="infinite"):
        SearchSpace(x=Real(0, 1)).config_at(0)


# -- sampling ------------------------------------------------------------------


@given(real_domains(), SEEDS)
def test_real_samples_within_bounds(domain, seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        value = domain.sample(rng)
        assert type(value) is float
        assert domain.lower <= value <= domain.upper


@given(int_domains(), SEEDS)
def test_int_samples_within_bounds(domain, seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        value = domain.sample(rng)
        assert type(value) is int
        assert domain.lower <= value <= domain.upper


def test_real_log_samples_are_log_uniform():
    rng = np.random.default_rng(0)
    domain = Real(1e-4, 1.0, log=True)
    samples = np.array([domain.sample(rng) for _ in range(20_000)])
    decades = np.histogram(np.log10(samples), bins=[-4, -3, -2, -1, 0])[0] / samples.size
    assert np.allclose(decades, 0.25, atol=0.02)
    # A linear Real puts ~90% of its mass in the top decade instead.
    linear = Real(1e-4, 1.0)
    top = np.mean([linear.sample(rng) > 0.1 for _ in range(2_000)])
    assert top > 0.85


def test_real_linear_samples_are_uniform():
    rng = np.random.default_rng(1)
    samples = np.array([Real(-2, 2).sample(rng) for _ in range(20_000)])
    quarters = np.histogram(samples, bins=[-2, -1, 0, 1, 2])[0] / samples.size
    assert np.allclose(quarters, 0.25, atol=0.02)


def test_int_samples_cover_both_ends_uniformly():
    rng = np.random.default_rng(2)
    samples = [Int(1, 4).sample(rng) for _ in range(8_000)]
    counts = np.bincount(samples, minlength=5)[1:] / len(samples)
    assert np.allclose(counts, 0.25, atol=0.03)


def test_categorical_samples_unhashable_choices():
    rng = np.random.default_rng(3)
    choices = ([1, 2], {"a": 1}, None)
    domain = Categorical(*choices)
    drawn = [domain.sample(rng) for _ in range(300)]
    assert all(any(value is choice for choice in choices) for value in drawn)
    assert {domain.index_of(value) for value in drawn} == {0, 1, 2}


# -- unit encoding -------------------------------------------------------------


@given(real_domains(), UNIT)
def test_real_unit_round_trip(domain, u):
    value = domain.from_unit(u)
    assert domain.lower <= value <= domain.upper
    assert 0.0 <= domain.to_unit(value) <= 1.0
    assert domain.to_unit(value) == pytest.approx(u, abs=1e-6)
    assert domain.from_unit(domain.to_unit(value)) == pytest.approx(value, rel=1e-6, abs=1e-9)


def test_real_unit_ends_are_exact():
    for domain in (Real(-1.5, 3.0), Real(1e-5, 1e-2, log=True)):
        assert domain.from_unit(0.0) == domain.lower
        assert domain.from_unit(1.0) == domain.upper
        assert domain.from_unit(-7) == domain.lower
        assert domain.from_unit(7) == domain.upper
        assert domain.to_unit(domain.lower) == 0.0
        assert domain.to_unit(domain.upper) == 1.0


def test_real_log_unit_is_linear_in_log():
    domain = Real(1e-4, 1.0, log=True)
    assert domain.to_unit(1e-2) == pytest.approx(0.5)
    assert domain.from_unit(0.25) == pytest.approx(1e-3)


@given(int_domains(), UNIT)
def test_int_unit_maps_to_bin_centres(domain, u):
    value = domain.from_unit(u)
    assert domain.lower <= value <= domain.upper
    centre = domain.to_unit(value)
    assert centre == pytest.approx((value - domain.lower + 0.5) / domain.cardinality)
    assert abs(centre - u) <= 0.5 / domain.cardinality + 1e-12
    assert domain.from_unit(centre) == value


def test_categorical_unit_bins():
    domain = Categorical("a", [1], {"k": "v"}, 3.5)
    assert [domain.to_unit(v) for v in domain.data] == [0.125, 0.375, 0.625, 0.875]
    assert [domain.from_unit(u) for u in (0.0, 0.3, 0.5, 1.0)] == ["a", [1], {"k": "v"}, 3.5]
    # Equal copies of unhashable choices are found too.
    assert domain.to_unit(copy.deepcopy({"k": "v"})) == 0.625


# -- grids ---------------------------------------------------------------------


def test_real_grids():
    assert Real(0, 1).grid(5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert Real(0, 1).grid(11)[3] == 0.3
    assert Real(1e-3, 1, log=True).grid(4) == [0.001, 0.01, 0.1, 1.0]
    assert Real(1e-4, 1, log=True).grid(5) == [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    assert Real(2, 4).grid(1) == [3.0]
    assert Real(1, 100, log=True).grid(1) == [10.0]


def test_int_grids():
    assert Int(0, 10).grid(4) == [0, 3, 7, 10]
    assert Int(0, 2).grid(10) == [0, 1, 2]
    assert Int(1, 100).grid(2) == [1, 100]
    assert Int(1, 5).grid(1) == [3]
    assert Int(7, 7).grid(3) == [7]


@given(int_domains(), st.integers(min_value=2, max_value=50))
def test_int_grid_values_distinct_sorted_with_ends(domain, n):
    grid = domain.grid(n)
    assert grid == sorted(set(grid))
    assert grid[0] == domain.lower and grid[-1] == domain.upper
    assert len(grid) == min(n, domain.cardinality)


def test_categorical_grid_is_all_choices():
    assert Categorical("x", [1], None).grid(1) == ["x", [1], None]
    assert Bool().grid(4) == [False, True]


# -- repr, equality, canonical keys ---------------------------------------------


def test_reprs():
    assert repr(Real(1e-3, 1e-2, log=True)) == "Real(lower=0.001, upper=0.01, log=True)"
    assert repr(Real(0, 1, default=0.2)) == "Real(lower=0.0, upper=1.0, default=0.2)"
    assert repr(Int(1, 10)) == "Int(lower=1, upper=10)"
    assert repr(Categorical("a", [1])) == "Categorical('a', [1])"
    assert repr(SearchSpace(b=Int(0, 1), a=Bool(), c=3)) == (
        "SearchSpace(a=Bool(), b=Int(lower=0, upper=1), c=3)"
    )


def test_domain_equality():
    assert Real(0, 1) == Real(0.0, 1.0)
    assert Real(0, 1) != Real(0, 1, log=False, default=0.2)
    assert Real(1, 2) != Real(1, 2, log=True)
    assert Int(0, 3) == Int(0, 3) and Int(0, 3) != Int(0, 4)
    assert Categorical([1], "a") == Categorical([1], "a") != Categorical("a", [1])
    assert len({Real(0, 1), Real(0, 1), Int(0, 1)}) == 2


def test_canonical_keys_distinguish_types_and_ignore_dict_order():
    values = [1, 1.0, True, "1", [1], (1,), {"1": 1}, {1}, None, math.nan]
    assert len({canonical_key(v) for v in values}) == len(values)
    assert canonical_key({"a": 1, "b": [2]}) == canonical_key({"b": [2], "a": 1})
    assert canonical_key(np.int64(3)) == canonical_key(3)
    assert canonical_key(np.float32(0.5)) == canonical_key(0.5)


def test_objects_with_equal_reprs_stay_distinct():
    class Choice:
        def __repr__(self):
            return "Choice()"

    a, b = Choice(), Choice()
    domain = Categorical(a, b)
    assert domain.index_of(a) == 0 and domain.index_of(b) == 1


# -- SearchSpace ------------------------------------------------------------------


def make_space():
    return SearchSpace(
        lr=Real(1e-4, 1e-1, log=True),
        layers=Int(1, 4),
        act=Categorical("relu", "tanh", [1, 2]),
        flag=Bool(),
        epochs=10,
    )


def test_search_space_names_constants_size():
    s = make_space()
    assert s.hyperparameters == ("act", "flag", "layers", "lr")
    assert list(s) == list(s.hyperparameters)
    assert dict(s.constants) == {"epochs": 10}
    assert "lr" in s and "epochs" not in s
    assert s["layers"] == Int(1, 4)
    assert not s.is_finite and s.size is None
    finite = SearchSpace(a=Int(1, 4), b=Categorical("x", "y", "z"), c=Bool())
    assert finite.is_finite and finite.size == 24
    empty = SearchSpace({"epochs": 3})
    assert empty.is_finite and empty.size == 1 and len(empty) == 0
    assert empty.default_config() == {}
    assert empty.sample(np.random.default_rng(0)) == {}


def test_search_space_default_and_sample():
    s = make_space()
    assert s.default_config() == {
        "act": "relu",
        "flag": False,
        "layers": 2,
        "lr": pytest.approx(10**-2.5),
    }
    rng = np.random.default_rng(0)
    for _ in range(50):
        config = s.sample(rng)
        assert list(config) == list(s.hyperparameters)
        assert s.contains(config)


def test_search_space_samples_reproducible():
    s = make_space()
    a = [s.sample(np.random.default_rng(7)) for _ in range(3)]
    b = [s.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a == b


@given(SEEDS)
def test_unit_vector_round_trip(seed):
    s = make_space()
    config = s.sample(np.random.default_rng(seed))
    x = s.to_unit_vector(config)
    assert x.shape == (4,) and x.dtype == np.float64
    assert np.all((x >= 0) & (x <= 1))
    back = s.from_unit_vector(x)
    assert {k: v for k, v in back.items() if k != "lr"} == {
        k: v for k, v in config.items() if k != "lr"
    }
    assert back["lr"] == pytest.approx(config["lr"], rel=1e-9)
    assert np.allclose(s.to_unit_vector(back), x)


@given(st.lists(UNIT, min_size=4, max_size=4))
def test_from_unit_vector_gives_configs_in_space(x):
    s = make_space()
    assert s.contains(s.from_unit_vector(x))


def test_unit_vector_errors():
    s = make_space()
    with pytest.raises(ValueError, match=r"x must have shape \(4,\).*got shape \(3,\)"):
        s.from_unit_vector([0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="config is missing hyperparameter 'lr'"):
        s.to_unit_vector({"act": "relu", "flag": True, "layers": 2})


def test_config_at_and_index_of_are_a_bijection():
    s = SearchSpace(a=Int(1, 4), b=Categorical("x", [2], None), c=Bool())
    configs = [s.config_at(i) for i in range(s.size)]
    assert len({s.config_key(c) for c in configs}) == s.size == 24
    assert [s.index_of(c) for c in configs] == list(range(24))
    assert configs[0] == {"a": 1, "b": "x", "c": False}
    assert configs[1] == {"a": 1, "b": "x", "c": True}  # the last name varies fastest
    assert s.index_of({"a": 9, "b": "x", "c": True}) is None
    assert s.index_of({"a": 1, "b": "x"}) is None
    with pytest.raises(ValueError, match=r"index must be within \[0, 24\), got 24"):
        s.config_at(24)


def test_encode_decode_round_trip_and_keys():
    s = make_space()
    config = {"act": [1, 2], "flag": True, "layers": 3, "lr": 0.001}
    encoded = s.encode_config(config)
    assert encoded == {"act": 2, "flag": 1, "layers": 3, "lr": 0.001}
    assert json.loads(json.dumps(encoded)) == encoded
    assert s.decode_config(encoded) == config
    # Equal configs built differently share a key.
    same = {"lr": np.float64(0.001), "layers": np.int64(3), "flag": True, "act": [1, 2]}
    assert s.config_key(same) == s.config_key(config)
    assert s.config_key({**config, "layers": 2}) != s.config_key(config)


def test_encode_values_outside_the_space():
    s = make_space()
    config = {"act": "gelu", "layers": 99, "lr": 0.5, "flag": (1, "x"), "extra": {"k": [1]}}
    encoded = s.encode_config(config)
    assert all(isinstance(item, dict) and "raw" in item for item in encoded.values())
    assert s.decode_config(json.loads(json.dumps(encoded))) == config


def test_fingerprint_is_json_stable_and_ignores_defaults_and_constants():
    s = make_space()
    fp = s.fingerprint()
    assert json.loads(json.dumps(fp)) == fp
    rebuilt = SearchSpace(
        {
            "flag": Bool(),
            "act": Categorical("relu", "tanh", [1, 2]),
            "layers": Int(1, 4, default=1),
            "lr": Real(1e-4, 1e-1, log=True, default=1e-3),
            "epochs": 20,
        }
    )
    assert rebuilt.fingerprint() == fp
    assert SearchSpace(s, lr=Real(1e-4, 1e-1)).fingerprint() != fp
    assert SearchSpace(s, layers=Int(1, 5)).fingerprint() != fp
    assert SearchSpace(s, act=Categorical("tanh", "relu", [1, 2])).fingerprint() != fp


def test_search_space_equality_and_pickle():
    s = make_space()
    assert s == make_space()
    assert s != SearchSpace(s, layers=Int(1, 5))
    restored = pickle.loads(pickle.dumps(s))
    assert restored == s
    assert restored.fingerprint() == s.fingerprint()
    assert space.SearchSpace(s) == s
