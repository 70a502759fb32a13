"""FlatRows, the kernel behind ConfigTable: draws exactly as the space draws, and the
compiled kernel answers every call as its pure-Python twin does."""

from __future__ import annotations

import importlib
import os
import pickle
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import space
from scheduler.kernels import FlatRows
from scheduler.kernels.twins.rows import FlatRows as TwinRows
from scheduler.space import ConfigTable

FLAG = os.environ.get("SCHEDULER_NO_EXTENSIONS", "").strip().lower()
DISABLED = FLAG not in ("", "0", "false", "no")
needs_extensions = pytest.mark.skipif(
    DISABLED, reason="SCHEDULER_NO_EXTENSIONS is set: compiled kernels disabled"
)


def compiled_rows():
    return importlib.import_module("scheduler._rungs.rows").FlatRows


# -- draws: the same configs and the same generator state as SearchSpace.sample ----------

_int_bounds = st.one_of(
    st.tuples(st.integers(-50, 50), st.integers(0, 60)),
    # ranges around the 32-bit and 63-bit boundaries of numpy's bounded draws
    st.tuples(st.integers(-(2**40), 2**40), st.sampled_from([2**32 - 2, 2**32 - 1, 2**32])),
    st.tuples(st.just(-(2**62)), st.sampled_from([2**62 - 2, 2**63 - 3, 2**63 - 2])),
)
_choices = st.lists(
    st.one_of(
        st.text(max_size=3), st.integers(-3, 3), st.booleans(), st.none(), st.floats(0.5, 2.0)
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda v: (type(v), v),
)


@st.composite
def flat_spaces(draw):
    domains = {}
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["real", "log", "int", "cat", "bool"]))
        if kind == "real":
            low = draw(st.floats(-10.0, 10.0))
            domains[f"h{i}"] = space.Real(low, low + draw(st.floats(1e-3, 5.0)))
        elif kind == "log":
            low = draw(st.floats(1e-6, 1.0))
            domains[f"h{i}"] = space.Real(low, low * draw(st.floats(1.5, 1e4)), log=True)
        elif kind == "int":
            low, span = draw(_int_bounds)
            domains[f"h{i}"] = space.Int(low, low + span)
        elif kind == "cat":
            domains[f"h{i}"] = space.Categorical(*draw(_choices))
        else:
            domains[f"h{i}"] = space.Bool()
    return space.SearchSpace(domains)


def _exact(config):
    return [(k, type(v), v) for k, v in config.items()]


@settings(max_examples=150, deadline=None)
@given(flat_spaces(), st.integers(0, 2**32))
def test_a_table_draws_the_configs_and_draws_the_space_draws(s, seed):
    table = ConfigTable(s, index=True)
    ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
    for _ in range(40):
        assert _exact(table.sample(ours)) == _exact(s.sample(theirs))
    assert ours.bit_generator.state == theirs.bit_generator.state
    assert ours.random() == theirs.random()  # and the 32-bit buffer is left alike


def test_a_space_that_is_not_flat_is_drawn_by_the_space():
    s = space.SearchSpace({"opt": {"lr": space.Real(0.0, 1.0)}, "n": space.Int(0, 3)})
    table = ConfigTable(s, index=True)
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    assert [table.sample(a) for _ in range(5)] == [s.sample(b) for _ in range(5)]
    with pytest.raises(TypeError, match="no space to draw"):
        ConfigTable(None).sample(a)


def test_the_random_searcher_proposes_what_it_proposed_with_space_sample():
    """The stream a seed gives is the one SearchSpace.sample gives (resumed runs and
    recorded seeds stay valid)."""
    from scheduler.searchers import RandomSearcher

    s = space.SearchSpace(
        lr=space.Real(1e-5, 1e-1, log=True), n=space.Int(1, 6), act=space.Categorical("a", "b")
    )
    searcher = RandomSearcher(s, random_seed=11, first_is_default=False)
    rng = np.random.default_rng(11)
    expected, seen = [], set()
    while len(expected) < 50:
        config = s.sample(rng)
        key = s.config_key(config)
        if key not in seen:
            seen.add(key)
            expected.append(config)
    assert [searcher.get_config() for _ in range(50)] == expected


# -- the compiled kernel against its twin --------------------------------------------------

COLUMNS = [
    ("x", "r", (0.0, 1.0, 0.0, 1.0, False)),
    ("n", "i", (-3, 40)),
    ("c", "c", ({(str, "a"): 0, (int, 2): 1, (type(None), None): 2}, ["a", 2, None])),
    ("m", "m", ({(str, "z"): 0}, ["z", [1, 2]])),
]

_values = {
    "x": st.one_of(st.floats(-0.5, 1.5), st.integers(0, 1), st.just(-0.0)),
    "n": st.one_of(st.integers(-5, 45), st.floats(0, 3)),
    "c": st.one_of(st.sampled_from(["a", 2, None, "q", 0.0, True, [1]])),
    "m": st.sampled_from(["z", [1, 2], "y"]),
}
_configs = st.one_of(
    st.fixed_dictionaries(_values),
    st.fixed_dictionaries({k: _values[k] for k in ("x", "n", "c")}),
    st.fixed_dictionaries({**_values, "extra": st.just(1)}),
)
_ops = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["append", "find", "intern", "pack"]), _configs),
        st.tuples(st.just("blank"), st.none()),
        st.tuples(st.sampled_from(["get", "packed"]), st.integers(-2, 30)),
    ),
    max_size=60,
)


def _apply(rows, ops):
    out = []
    for op, arg in ops:
        try:
            if op == "append":
                out.append(rows.append(arg))
            elif op == "find":
                out.append(rows.find(arg))
            elif op == "intern":
                out.append(rows.intern(arg))
            elif op == "pack":
                packed = rows.pack(arg)
                out.append(packed)
                if packed is not None:
                    out.append((rows.intern_packed(packed), rows.find_packed(packed)))
            elif op == "blank":
                out.append(rows.append_blank())
            elif op == "get":
                out.append(_exact(rows.get(arg)))
            else:
                out.append(rows.packed(arg))
        except Exception as exc:
            out.append((type(exc).__name__, str(exc)))
        out.append((len(rows), rows.nbytes))
    return out


@needs_extensions
@settings(max_examples=300, deadline=None)
@given(_ops)
def test_the_compiled_kernel_answers_as_the_twin(ops):
    compiled, twin = compiled_rows()(COLUMNS, index=True), TwinRows(COLUMNS, index=True)
    assert _apply(compiled, ops) == _apply(twin, ops)
    copies = compiled.copy(), pickle.loads(pickle.dumps(compiled))
    for copy in copies:
        assert [copy.packed(r) for r in range(len(copy))] == [
            twin.packed(r) for r in range(len(twin))
        ]
        assert all(copy.find(twin.get(r)) == twin.find(twin.get(r)) for r in range(len(twin)))
    compiled.append({"x": 0.5, "n": 1, "c": "a", "m": "z"})
    assert len(copies[0]) == len(twin) == len(copies[1])


@needs_extensions
@pytest.mark.parametrize(
    "columns",
    [
        [],
        "xy",
        [("x", "r")],
        [(1, "r", (0.0, 1.0, 0.0, 1.0, False))],
        [("x", "q", ())],
        [("x", "r", (0.0, 1.0))],
        [("c", "c", ([], []))],
    ],
)
def test_bad_columns_are_refused_alike(columns):
    errors = []
    for kind in (compiled_rows(), TwinRows):
        with pytest.raises(ValueError) as info:
            kind(columns)
        errors.append(str(info.value))
    assert errors[0] == errors[1]


def test_errors_name_the_rule():
    rows = FlatRows(COLUMNS)
    with pytest.raises(TypeError, match=r"index=False\) cannot look rows up"):
        rows.find({"x": 0.5})
    with pytest.raises(ValueError, match="packed must be 32 bytes long, got 3"):
        rows.append_packed(b"abc")
    with pytest.raises(TypeError, match="packed must be bytes, got str"):
        rows.append_packed("a" * 32)
    with pytest.raises(IndexError, match=r"row must be within \[0, 0\), got 0"):
        rows.get(0)


def test_mutable_choices_come_back_as_copies():
    rows = FlatRows(COLUMNS, index=True)
    row = rows.append_packed(
        rows.pack({"x": 0.5, "n": 1, "c": "a", "m": "z"})[:24] + bytes([1, 0, 0, 0, 0, 0, 0, 0])
    )
    first, second = rows.get(row)["m"], rows.get(row)["m"]
    assert first == [1, 2] and first is not second


# -- Rewards: the compiled kernel against its twin ------------------------------------------

_reward_ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("set"),
            st.one_of(st.integers(-2, 40), st.just(True), st.just(1.0)),
            st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3)),
        ),
        st.tuples(st.sampled_from(["get", "in", "item"]), st.integers(-2, 45), st.none()),
        st.tuples(st.sampled_from(["best_max", "best_min", "clear", "copy"]), st.none(), st.none()),
    ),
    max_size=80,
)


def _apply_rewards(rewards, ops):
    out = []
    for op, row, value in ops:
        try:
            if op == "set":
                rewards[row] = value
            elif op == "get":
                out.append(rewards.get(row, "none"))
            elif op == "in":
                out.append(row in rewards)
            elif op == "item":
                out.append(rewards[row])
            elif op in ("best_max", "best_min"):
                out.append(rewards.best(op == "best_max"))
            elif op == "clear":
                rewards.clear()
            else:
                rewards = rewards.copy()
        except Exception as exc:
            out.append((type(exc).__name__, str(exc)))
        out.append((len(rewards), bool(rewards), rewards.items(), list(rewards)))
    out.append(pickle.loads(pickle.dumps(rewards)).items())
    return out


@needs_extensions
@settings(max_examples=300, deadline=None)
@given(_reward_ops)
def test_compiled_rewards_answer_as_the_twin(ops):
    from scheduler._rungs.rewards import Rewards as CompiledRewards
    from scheduler.kernels.twins.rewards import Rewards as TwinRewards

    assert _apply_rewards(CompiledRewards(), ops) == _apply_rewards(TwinRewards(), ops)


def test_rewards_keep_the_latest_finite_reward_in_first_record_order():
    from scheduler.kernels import Rewards

    rewards = Rewards()
    rewards[5] = 1.0
    rewards[2] = 3.0
    rewards[5] = 0.5
    assert rewards.items() == [(5, 0.5), (2, 3.0)]
    assert rewards.best(True) == 2 and rewards.best(False) == 5
    with pytest.raises(ValueError, match="must be finite, got nan"):
        rewards[1] = float("nan")
    assert 1 not in rewards and rewards.get(1) is None
    with pytest.raises(KeyError):
        rewards[7]


# -- what the kernels refuse, alike, instead of reading out of bounds ------------------------

BACKENDS = [pytest.param(TwinRows, id="twin")] + (
    [] if DISABLED else [pytest.param(compiled_rows(), id="cy")]
)


@pytest.mark.parametrize("kind", BACKENDS)
def test_raw_rows_must_hold_choice_indices(kind):
    rows = kind(COLUMNS, index=True)
    good = rows.pack({"x": 0.5, "n": 1, "c": "a", "m": "z"})
    for index in (3, -1, 10**9):
        bad = good[:16] + int(index).to_bytes(8, "little", signed=True) + good[24:]
        for method in (rows.append_packed, rows.intern_packed):
            with pytest.raises(ValueError, match=rf"column 'c' holds choice index {index}"):
                method(bad)
    assert len(rows) == 0


@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize(
    "info, match",
    [
        (({}, []), "non-empty list"),
        (({(str, "a"): 5}, ["a"]), r"every index in forms must be an int in \[0, 1\)"),
    ],
)
def test_choice_columns_must_be_consistent(kind, info, match):
    with pytest.raises(ValueError, match=match):
        kind([("c", "c", info)])


@pytest.mark.parametrize("kind", BACKENDS)
def test_the_kernel_keeps_its_own_copy_of_the_choices(kind):
    forms, decoded = {(str, "a"): 0, (str, "b"): 1}, ["a", "b"]
    rows = kind([("c", "c", (forms, decoded))])
    decoded.clear()
    forms.clear()
    row = rows.append({"c": "b"})
    assert rows.get(row) == {"c": "b"}
    assert rows.sample(np.random.default_rng(0))["c"] in ("a", "b")


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_kernel_is_initialized_once(kind):
    rows = kind(COLUMNS)
    with pytest.raises(TypeError, match="runs once"):
        rows.__init__(COLUMNS[:1])
    assert rows.width == 32


@pytest.mark.parametrize("kind", BACKENDS)
def test_draws_beyond_numpy_s_int_range_are_refused(kind):
    rows = kind([("n", "i", (-(2**63), 2**63 - 1))])
    with pytest.raises(ValueError, match=r"columns\[0\]: cannot draw from an int range"):
        rows.sample(np.random.default_rng(0))


@pytest.mark.parametrize("kind", BACKENDS)
def test_pickles_round_trip_and_a_torn_one_is_refused(kind):
    rows = kind(COLUMNS, index=True)
    for config in ({"x": 0.5, "n": 1, "c": "a", "m": "z"}, {"x": 0.25, "n": 2, "c": 2, "m": "z"}):
        rows.intern(config)
    rows.append({"x": 0.5, "n": 1, "c": "a", "m": "z"})  # a duplicate: not indexed
    back = pickle.loads(pickle.dumps(rows))
    assert [back.packed(r) for r in range(len(back))] == [rows.packed(r) for r in range(len(rows))]
    assert back.find({"x": 0.5, "n": 1, "c": "a", "m": "z"}) == 0
    rebuild, (columns, index, blob, flags) = rows.__reduce__()
    with pytest.raises(ValueError, match="FlatRows pickle: 3 rows of 32 bytes need 96 bytes"):
        rebuild(columns, index, blob[:-8], flags)


class _TrickyKey(str):
    """A str subclass whose == runs Python code: the dict lookup calls it."""

    calls: ClassVar[list] = []

    def __eq__(self, other):
        for callback in _TrickyKey.calls:
            callback()
        return str.__eq__(self, other)

    __hash__ = str.__hash__


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_lookup_that_runs_python_code_is_not_corrupted(kind):
    columns = [("x", "r", (0.0, 1.0, 0.0, 1.0, False)), ("y", "r", (0.0, 1.0, 0.0, 1.0, False))]
    rows = kind(columns, index=True)
    inner = {"x": 0.875, "y": 0.125}
    _TrickyKey.calls = [lambda: rows.find(inner)]
    try:
        row, added = rows.intern({"x": 0.25, _TrickyKey("y"): 0.75})
    finally:
        _TrickyKey.calls = []
    assert added and rows.get(row) == {"x": 0.25, "y": 0.75}


@pytest.mark.parametrize("kind", BACKENDS)
def test_an_error_in_a_key_comparison_propagates(kind):
    rows = kind([("x", "r", (0.0, 1.0, 0.0, 1.0, False)), ("y", "r", (0.0, 1.0, 0.0, 1.0, False))])

    def fail():
        raise RuntimeError("key comparison failed")

    _TrickyKey.calls = [fail]
    try:
        with pytest.raises(RuntimeError, match="key comparison failed"):
            rows.pack({"x": 0.25, _TrickyKey("y"): 0.75})
    finally:
        _TrickyKey.calls = []


def test_rewards_refuse_rows_no_run_reaches():
    from scheduler.kernels import Rewards

    rewards = Rewards()
    for row in (2**40, 2**61, 2**70):
        with pytest.raises(ValueError, match="a row must be below 2\\*\\*40"):
            rewards[row] = 1.0
    assert not rewards
