"""ConfigTable: configs stored once, compactly, found again exactly as their keys say."""

from __future__ import annotations

import numpy as np
import pytest

from scheduler import space
from scheduler.space import ConfigTable


def flat_space():
    return space.SearchSpace(
        lr=space.Real(1e-4, 1.0, log=True),
        layers=space.Int(1, 8),
        act=space.Categorical("relu", "tanh", None, 0.5, True, (1, 2)),
        momentum=space.Real(-1.0, 1.0),
    )


def test_flat_space_rows_are_8_bytes_per_hyperparameter_and_come_back_equal():
    s = flat_space()
    table = ConfigTable(s, index=True)
    rng = np.random.default_rng(0)
    configs = [s.sample(rng) for _ in range(300)]
    for config in configs:
        table.intern(config)
    assert table._rows.width == 8 * len(s)
    # every config packs exactly but those of the list choice (unhashable: found by the
    # slow path, and kept as given)
    assert all(table[row]["act"] == [1, 2] for row in table._given)
    assert len(table._given) < len(table) / 3
    assert [table[row] for row in range(len(table))] == configs
    assert all(type(table[i]["layers"]) is int for i in range(len(table)))
    for row, config in enumerate(configs):
        assert table.find(config) == row
        assert table.intern(config) == (row, False)


def test_rows_are_distinct_exactly_when_config_keys_are():
    s = flat_space()
    table = ConfigTable(s, index=True)
    rng = np.random.default_rng(1)
    base = s.sample(rng)
    variants = [
        base,
        dict(base),  # equal: same row
        {**base, "layers": float(base["layers"])},  # 3.0 for Int 3: the same key
        {**base, "momentum": 0.0},
        {**base, "momentum": -0.0},  # JSON keeps -0.0 apart
        {**base, "momentum": 1},  # an int for a Real: the key of 1.0
        {**base, "momentum": 1.0},
        {**base, "act": {"choice": 0}},  # the choice tag of "relu"
        {**base, "act": "relu"},
        {**base, "act": [1, 2]},
        {**base, "extra": 1},  # an extra key: kept as given
        {**base, "momentum": 5.0},  # outside its domain: kept as given
        {**base, "momentum": np.float64(0.25)},
        {**base, "momentum": 0.25},
    ]
    rows = [table.intern(config)[0] for config in variants]
    keys = [s.config_key(config) for config in variants]
    for i in range(len(variants)):
        for j in range(len(variants)):
            assert (rows[i] == rows[j]) == (keys[i] == keys[j]), (variants[i], variants[j])
    # each row gives back the config as first added (not its canonical form)
    for row in rows:
        first = variants[rows.index(row)]
        assert table[row] == first
        assert {k: type(v) for k, v in table[row].items()} == {k: type(v) for k, v in first.items()}


def test_the_index_grows_and_copies_are_independent():
    s = space.SearchSpace(x=space.Real(0.0, 1.0))
    table = ConfigTable(s, index=True)
    configs = [{"x": i / 5000} for i in range(5000)]
    for i, config in enumerate(configs):
        assert table.intern(config) == (i, True)
    # the index is at most half full: 8 bytes per slot, 2 slots per row at least
    assert table.nbytes >= len(table) * (8 + 9 + 2 * 8)
    snapshot = table.copy()
    table.intern({"x": 2.0})  # outside the domain: kept as given
    table.intern({"x": 0.123456})
    assert len(snapshot) == 5000 and len(table) == 5002
    assert snapshot.find({"x": 0.123456}) == -1
    assert all(snapshot.find(config) == i for i, config in enumerate(configs))
    assert table.find({"x": 2.0}) == 5000
    assert table.nbytes < 60 * len(table)


def test_append_keeps_duplicates_and_needs_no_index():
    s = space.SearchSpace(x=space.Real(0.0, 1.0))
    table = ConfigTable(s)
    assert table.append({"x": 0.5}) == 0
    assert table.append({"x": 0.5}) == 1
    assert list(table) == [{"x": 0.5}, {"x": 0.5}]
    with pytest.raises(TypeError, match="index=False"):
        table.find({"x": 0.5})
    with pytest.raises(IndexError, match="config row must be within"):
        table[2]


@pytest.mark.parametrize(
    "spec",
    [
        {"opt": {"lr": space.Real(0.0, 1.0)}},  # nested: not flat
        {"c": space.Categorical(space.Real(0.0, 1.0), "x")},  # a space among the choices
        {"n": space.Int(2**70, 2**70 + 10)},  # beyond int64
    ],
)
def test_spaces_that_are_not_flat_keep_configs_as_given(spec):
    s = space.SearchSpace(spec)
    table = ConfigTable(s, index=True)
    rng = np.random.default_rng(2)
    configs = [s.sample(rng) for _ in range(50)]
    rows = [table.intern(config)[0] for config in configs]
    assert [table[row] for row in rows] == configs
    assert len(set(rows)) == len({s.config_key(c) for c in configs})


def test_a_table_without_space_keys_configs_canonically():
    table = ConfigTable(None, index=True)
    assert table.intern({"a": (1, 2)}) == (0, True)
    assert table.intern({"a": (1, 2)}) == (0, False)
    assert table.intern({"a": [1, 2]}) == (1, True)
    assert table[0] == {"a": (1, 2)}
