"""Searchers: random (no repeats, exhaustion, reproducibility, state) and grid; factory."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.searchers import (
    DEFAULT_RANDOM_SEED,
    BaseSearcher,
    GridSearcher,
    RandomSearcher,
    searcher_factory,
)
from scheduler.space import Bool, Categorical, Int, Real, SearchSpace


def drain(searcher, limit=100_000, **kwargs):
    """Every config the searcher proposes until it returns None."""
    configs = []
    for _ in range(limit):
        config = searcher.get_config(**kwargs)
        if config is None:
            return configs
        configs.append(config)
    raise AssertionError(f"not exhausted after {limit} configs")


def keys(space, configs):
    return [space.config_key(config) for config in configs]


def json_round_trip(state):
    return json.loads(json.dumps(state, allow_nan=False))


MIXED = SearchSpace(
    lr=Real(1e-4, 1e-1, log=True),
    layers=Int(1, 4),
    act=Categorical("relu", [1, 2], {"k": None}),
    flag=Bool(),
    epochs=10,
)
SMALL = SearchSpace(a=Categorical(1, 2, 3), b=Bool())


# -- RandomSearcher ----------------------------------------------------------------


def test_random_first_config_is_the_default():
    searcher = RandomSearcher(MIXED)
    assert searcher.get_config() == MIXED.default_config()
    assert searcher.get_config() != MIXED.default_config()
    other = RandomSearcher(MIXED, first_is_default=False, random_seed=5)
    assert other.get_config() != MIXED.default_config()


def test_random_exhausts_a_small_space_exactly():
    searcher = RandomSearcher(SMALL)
    configs = drain(searcher)
    assert len(configs) == 6
    assert sorted((c["a"], c["b"]) for c in configs) == [
        (a, b) for a in (1, 2, 3) for b in (False, True)
    ]
    assert searcher.get_config() is None  # and it stays exhausted
    assert searcher.num_seen == 6


def test_random_single_config_space():
    assert drain(RandomSearcher(SearchSpace(x=Int(3, 3)))) == [{"x": 3}]
    assert drain(RandomSearcher(SearchSpace({"epochs": 5}))) == [{}]


class CountingSpace(SearchSpace):
    draws = 0

    def sample(self, rng):
        CountingSpace.draws += 1
        return super().sample(rng)


def test_random_enumerates_ten_thousand_configs_without_stalling():
    space = CountingSpace(a=Int(0, 99), b=Categorical(*range(50)), c=Bool())
    assert space.size == 10_000
    CountingSpace.draws = 0
    configs = drain(RandomSearcher(space, random_seed=1))
    assert len(configs) == 10_000
    assert len(set(keys(space, configs))) == 10_000
    # Rejection sampling stops at half the space: about size * ln 2 draws in all.
    assert CountingSpace.draws < 1.2 * math.log(2) * 10_000


def test_random_draws_are_uniform_over_a_finite_space():
    space = SearchSpace(a=Int(0, 3), b=Bool())
    first = [
        RandomSearcher(space, random_seed=s, first_is_default=False).get_config()
        for s in range(4000)
    ]
    counts = np.bincount([space.index_of(c) for c in first], minlength=8) / len(first)
    assert np.allclose(counts, 1 / 8, atol=0.025)


def test_random_infinite_space_no_repeats_and_in_space():
    searcher = RandomSearcher(MIXED, random_seed=3)
    configs = [searcher.get_config() for _ in range(500)]
    assert len(set(keys(MIXED, configs))) == 500
    assert all(MIXED.contains(c) for c in configs)


def test_random_seeded_reproducibility():
    one, two, three = (RandomSearcher(MIXED, random_seed=s) for s in (11, 11, 12))
    s1 = [one.get_config() for _ in range(30)]
    s2 = [two.get_config() for _ in range(30)]
    s3 = [three.get_config() for _ in range(30)]
    assert s1 == s2
    assert s1[1:] != s3[1:]
    assert RandomSearcher(MIXED).random_seed == DEFAULT_RANDOM_SEED == 31415927


def test_random_never_proposes_registered_or_failed_configs():
    searcher = RandomSearcher(SMALL, random_seed=0)
    searcher.register_pending({"a": 1, "b": False}, milestone=1)
    searcher.evaluation_failed({"a": 2, "b": True})
    searcher.update({"a": 3, "b": True}, 0.5)
    configs = drain(searcher)
    assert len(configs) == 3
    assert {(c["a"], c["b"]) for c in configs} == {(2, False), (3, False), (1, True)}


@given(
    seed=st.integers(0, 2**32 - 1),
    ops=st.lists(
        st.tuples(st.sampled_from(["get", "pending", "update", "fail"]), st.integers(0, 23))
    ),
)
def test_random_never_repeats_under_any_operations(seed, ops):
    space = SearchSpace(a=Int(1, 4), b=Categorical("x", [1], None), c=Bool())
    searcher = RandomSearcher(space, random_seed=seed)
    seen = set()
    for op, index in ops:
        if op == "get":
            config = searcher.get_config()
            if config is None:
                assert len(seen) == 24
                continue
            key = space.config_key(config)
            assert key not in seen
        else:
            config = space.config_at(index)
            key = space.config_key(config)
            if op == "pending":
                searcher.register_pending(config)
            elif op == "update":
                searcher.update(config, float(index))
            else:
                searcher.evaluation_failed(config)
        seen.add(key)
        assert searcher.num_seen == len(seen)
    rest = drain(searcher)
    assert len(seen) + len(rest) == 24
    assert not seen & set(keys(space, rest))


@pytest.mark.parametrize("space", [MIXED, SMALL, SearchSpace(a=Int(0, 9), b=Int(0, 9))])
@pytest.mark.parametrize("split", [0, 1, 4, 30, 70])
def test_random_state_round_trip_continues_the_same_stream(space, split):
    original = RandomSearcher(space, random_seed=21)
    for i in range(split):
        config = original.get_config()
        if config is None:
            break
        if i % 3 == 0:
            original.update(config, float(i))
        elif i % 3 == 1:
            original.register_pending(config, milestone=i)
        else:
            original.evaluation_failed(config)
    state = json_round_trip(original.state_dict())
    restored = RandomSearcher(space, random_seed=999)
    restored.load_state_dict(state)
    assert restored.state_dict() == state
    assert restored.get_best_config() == original.get_best_config()
    assert restored.get_best_reward() == original.get_best_reward()
    assert restored.pending_configs() == original.pending_configs()
    assert restored.num_failed == original.num_failed
    for _ in range(120):
        assert restored.get_config() == original.get_config()


def test_state_saved_before_config_tables_loads_the_same():
    """Checkpoints written before the searcher kept its configs in a ConfigTable listed
    each encoded config as the JSON of its key (keys sorted at every level); they load
    into the same searcher state and continue the same stream."""
    original = RandomSearcher(MIXED, random_seed=5)
    for i in range(40):
        config = original.get_config()
        if i % 2:
            original.update(config, float(i))
        else:
            original.register_pending(config)
    state = json_round_trip(original.state_dict())

    def sorted_keys(encoded):
        return json.loads(MIXED.encoding_key(encoded))

    old = dict(state)
    old["seen"] = [sorted_keys(item) for item in state["seen"]]
    old["pending"] = [[sorted_keys(item), m] for item, m in state["pending"]]
    old["results"] = [[sorted_keys(item), r] for item, r in state["results"]]
    restored = RandomSearcher(MIXED, random_seed=999)
    restored.load_state_dict(old)
    assert restored.state_dict() == state
    assert restored.get_best_config() == original.get_best_config()
    for _ in range(50):
        assert restored.get_config() == original.get_config()


def test_random_state_includes_generator_state_and_is_json():
    searcher = RandomSearcher(MIXED)
    searcher.get_config()
    state = searcher.state_dict()
    assert state["rng"] == searcher.rng.bit_generator.state
    assert state["rng"]["bit_generator"] == "PCG64"
    assert json_round_trip(state) == state


def test_load_state_refuses_other_space_searcher_mode():
    state = RandomSearcher(SMALL).state_dict()
    with pytest.raises(ValueError, match="space must be"):
        RandomSearcher(SearchSpace(a=Categorical(1, 2), b=Bool())).load_state_dict(state)
    with pytest.raises(ValueError, match="searcher must be 'GridSearcher', got 'RandomSearcher'"):
        GridSearcher(SMALL).load_state_dict(state)
    with pytest.raises(ValueError, match="mode must be 'min', got 'max'"):
        RandomSearcher(SMALL, mode="min").load_state_dict(state)
    with pytest.raises(ValueError, match="bad rng state"):
        RandomSearcher(SMALL).load_state_dict({**state, "rng": {"bit_generator": "nope"}})


# -- results -----------------------------------------------------------------------


def test_best_config_and_reward_max_and_min():
    configs = [SMALL.config_at(i) for i in range(4)]
    best_max, best_min = RandomSearcher(SMALL), RandomSearcher(SMALL, mode="min")
    assert best_max.get_best_config() is None and best_max.get_best_reward() is None
    for searcher in (best_max, best_min):
        for config, reward in zip(configs, [0.3, 0.9, 0.1, 0.9]):
            searcher.update(config, reward)
    assert best_max.get_best_config() == configs[1]  # ties: the first recorded wins
    assert best_max.get_best_reward() == 0.9
    assert best_min.get_best_config() == configs[2]
    assert best_min.get_best_reward() == 0.1
    best_max.update(configs[1], 0.2)  # the latest reward of a config counts
    assert best_max.get_best_config() == configs[3]
    assert best_max.num_results == 4


def test_update_signatures_and_diverged_rewards():
    searcher = RandomSearcher(SMALL, reward_attr="acc")
    a, b, c, d = (SMALL.config_at(i) for i in range(4))
    searcher.update(config=a, acc=0.4, epoch=3)  # AutoGluon's keyword style
    searcher.update(b, 0.3, reward=0.99, config="report keys may clash", epoch=1)
    searcher.update(c, math.nan)
    searcher.update(d, reward=0.1)
    assert searcher.get_best_config() == a and searcher.get_best_reward() == 0.4
    assert searcher.num_results == 3  # the NaN is not recorded
    assert searcher.num_seen == 4
    with pytest.raises(ValueError, match=r"update\(\) needs a reward: .* report 'acc'"):
        searcher.update(a, epoch=1)
    with pytest.raises(ValueError, match="reward must be a number, got 'high'"):
        searcher.update(a, "high")
    with pytest.raises(ValueError, match="config must be a dict"):
        searcher.update([1, 2], 0.5)


def test_pending_bookkeeping():
    searcher = RandomSearcher(SMALL)
    a, b = SMALL.config_at(0), SMALL.config_at(1)
    searcher.register_pending(a, milestone=1)
    searcher.register_pending(b)
    assert searcher.pending_configs() == [a, b]
    searcher.update(a, 0.5)
    searcher.evaluation_failed(b)
    assert searcher.pending_configs() == []
    assert searcher.num_failed == 1
    with pytest.raises(
        ValueError, match=re.escape("milestone must be an integer or None, got 1.5")
    ):
        searcher.register_pending(a, milestone=1.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "maximize"}, "mode must be 'max' or 'min', got 'maximize'"),
        ({"reward_attr": ""}, "reward_attr must be a non-empty string, got ''"),
        ({"random_seed": -1}, "random_seed must be an integer >= 0 or None, got -1"),
        ({"random_seed": 1.5}, "random_seed must be an integer >= 0 or None, got 1.5"),
    ],
)
def test_searcher_argument_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RandomSearcher(SMALL, **kwargs)


def test_searcher_accepts_a_dict_space_and_rejects_others():
    searcher = RandomSearcher({"x": Int(0, 2), "epochs": 3})
    assert searcher.space.hyperparameters == ("x",)
    with pytest.raises(ValueError, match="space must be a SearchSpace, a dict of spaces or a"):
        RandomSearcher([Int(0, 2)])
    with pytest.raises(NotImplementedError):
        BaseSearcher(SMALL).get_config()


def test_state_with_unhashable_and_object_choices_is_json():
    class Opaque:
        def __repr__(self):
            return "Opaque()"

    space = SearchSpace(c=Categorical(Opaque(), [1, 2], {"x": (1, 2)}))
    searcher = RandomSearcher(space)
    for config in drain(searcher):
        searcher.update(config, 1.0)
    restored = RandomSearcher(space)
    restored.load_state_dict(json_round_trip(searcher.state_dict()))
    # Configs are JSON data: an object choice is its index, a tuple inside a choice a
    # list; building the config gives the choice itself back (a copy of it).
    best = restored.get_best_config()
    assert best == {"c": {"choice": 0}} == searcher.get_best_config()
    assert isinstance(space.build(best)["c"], Opaque)
    assert {space.config_key(c) for c in drain(RandomSearcher(space))} == {
        space.config_key(c) for c in ({"c": {"choice": 0}}, {"c": [1, 2]}, {"c": {"x": [1, 2]}})
    }
    assert space.build({"c": {"x": [1, 2]}}) == {"c": {"x": (1, 2)}}
    assert restored.get_config() is None


# -- GridSearcher ------------------------------------------------------------------


def test_grid_count_and_order():
    space = SearchSpace(
        lr=Real(1e-3, 1e-1, log=True), n=Int(1, 3), c=Categorical("x", "y"), epochs=5
    )
    searcher = GridSearcher(space, num_points=3)
    assert searcher.grid_size == 18
    configs = drain(searcher, elapsed_time=1.0, bracket=0)  # unknown kwargs are ignored
    assert len(configs) == 18
    assert configs[:4] == [
        {"c": "x", "lr": 0.001, "n": 1},
        {"c": "x", "lr": 0.001, "n": 2},
        {"c": "x", "lr": 0.001, "n": 3},
        {"c": "x", "lr": 0.01, "n": 1},
    ]
    assert configs[-1] == {"c": "y", "lr": 0.1, "n": 3}
    assert configs == drain(GridSearcher(space, num_points=3))  # deterministic
    assert searcher.get_config() is None and searcher.get_config(foo=1) is None


def test_grid_over_every_space_type():
    space = SearchSpace(w=Real(0, 1), k=Int(0, 100), b=Bool(), c=Categorical([1], {"a": 2}))
    configs = drain(GridSearcher(space))
    assert len(configs) == 4 * 4 * 2 * 2
    assert sorted({c["w"] for c in configs}) == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert sorted({c["k"] for c in configs}) == [0, 33, 67, 100]
    assert len(set(keys(space, configs))) == 64


def test_grid_single_point_is_default_and_empty_space_has_one_config():
    space = SearchSpace(w=Real(0, 2), k=Int(1, 9))
    assert drain(GridSearcher(space, num_points=1)) == [space.default_config()]
    assert drain(GridSearcher(SearchSpace())) == [{}]


def test_grid_skips_seen_configs_and_round_trips_state():
    space = SearchSpace(a=Int(0, 2), b=Bool())
    searcher = GridSearcher(space)
    searcher.register_pending({"a": 0, "b": True})
    first = [searcher.get_config() for _ in range(2)]
    assert first == [{"a": 0, "b": False}, {"a": 1, "b": False}]
    restored = GridSearcher(space)
    restored.load_state_dict(json_round_trip(searcher.state_dict()))
    assert (
        drain(restored)
        == drain(searcher)
        == [
            {"a": 1, "b": True},
            {"a": 2, "b": False},
            {"a": 2, "b": True},
        ]
    )
    with pytest.raises(ValueError, match="num_points must be 2, got 4"):
        GridSearcher(space, num_points=2).load_state_dict(searcher.state_dict())


@pytest.mark.parametrize("num_points", [0, -1, 2.5, True])
def test_grid_num_points_validation(num_points):
    with pytest.raises(ValueError, match="num_points must be"):
        GridSearcher(SMALL, num_points=num_points)


# -- factory -----------------------------------------------------------------------


def test_factory_builds_searchers():
    random = searcher_factory("random", space=SMALL, random_seed=3, mode="min")
    assert type(random) is RandomSearcher and random.mode == "min" and random.random_seed == 3
    grid = searcher_factory("Grid", space=SMALL, num_points=2, reward_attr="acc")
    assert type(grid) is GridSearcher and grid.num_points == 2 and grid.reward_attr == "acc"


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        (
            "tpe",
            {"space": SMALL},
            "searcher must be one of 'bayesopt', 'bayesopt_constrained', 'bayesopt_hyperband', "
            "'grid', 'random', got 'tpe'",
        ),
        (None, {"space": SMALL}, "searcher must be one of 'bayesopt', .*, got None"),
        (
            "random",
            {"space": SMALL, "num_points": 3},
            r"'random' searcher: unknown option\(s\) 'num_points'",
        ),
        ("grid", {}, "'grid' searcher: space is required"),
    ],
)
def test_factory_errors(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        searcher_factory(name, **kwargs)


def test_a_space_s_own_sample_is_what_the_random_searcher_draws_from():
    """A SearchSpace subclass's sample() is honoured (the table's kernel draws only
    for SearchSpace.sample itself)."""

    class EvenSpace(SearchSpace):
        def sample(self, rng):
            config = super().sample(rng)
            config["n"] -= config["n"] % 2
            return config

    space = EvenSpace(n=Int(0, 99), x=Real(0.0, 1.0))
    configs = [
        RandomSearcher(space, random_seed=s, first_is_default=False).get_config() for s in range(40)
    ]
    assert all(config["n"] % 2 == 0 for config in configs)


def test_a_searcher_s_own_mark_seen_hears_every_lookup():
    calls = []

    class Marking(RandomSearcher):
        def _mark_seen(self, config):
            calls.append(dict(config))
            return super()._mark_seen(config)

    searcher = Marking(SearchSpace(x=Real(0.0, 1.0)), random_seed=0, first_is_default=False)
    config = searcher.get_config()
    searcher.register_pending(config)
    searcher.update(config, 0.5)
    assert calls == [config, config]  # register_pending and update (a draw marks its own)


def test_a_pickled_searcher_continues_the_same_stream():
    import pickle

    space = SearchSpace(x=Real(0.0, 1.0), n=Int(1, 9), c=Categorical("a", "b", "c"))
    searcher = RandomSearcher(space, random_seed=3)
    for _ in range(20):
        config = searcher.get_config()
        searcher.register_pending(config)
        searcher.update(config, float(config["x"]))
    copy = pickle.loads(pickle.dumps(searcher))
    assert [copy.get_config() for _ in range(30)] == [searcher.get_config() for _ in range(30)]
    assert copy.get_best_config() == searcher.get_best_config()
