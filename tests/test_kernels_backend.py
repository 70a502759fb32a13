"""The backend selector and the parity of the two backends' public surface.

``scheduler.kernels`` must load the compiled ``_rungs`` unless ``SCHEDULER_NO_EXTENSIONS``
is set (no silent fallback), and the compiled kernels must expose the same names,
signatures, docstrings and state_dicts as the twins in ``scheduler.kernels.twins``.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import inspect
import json
import math
import os
import re

import numpy as np
import pytest

from scheduler import kernels as _kernels
from scheduler.kernels import twins as _reference

NAMES = (
    "rung_levels",
    "StoppingRungs",
    "PromotionRungs",
    "BracketSampler",
    "FlatRows",
    "Rewards",
)
#: the kernels with a state_dict (FlatRows and Rewards are rebuilt by their searcher)
STATEFUL = ("StoppingRungs", "PromotionRungs", "BracketSampler")
MODULES = {
    "rung_levels": "scheduler._rungs.levels",
    "StoppingRungs": "scheduler._rungs.stopping",
    "PromotionRungs": "scheduler._rungs.promotion",
    "BracketSampler": "scheduler._rungs.brackets",
    "FlatRows": "scheduler._rungs.rows",
    "Rewards": "scheduler._rungs.rewards",
}
FLAG = os.environ.get("SCHEDULER_NO_EXTENSIONS", "").strip().lower()
DISABLED = FLAG not in ("", "0", "false", "no")

needs_extensions = pytest.mark.skipif(
    DISABLED, reason="SCHEDULER_NO_EXTENSIONS is set: compiled kernels disabled"
)


def compiled(name: str):
    return getattr(importlib.import_module(MODULES[name]), name)


# -- selection --------------------------------------------------------------------------------


def test_backend_follows_environment():
    assert _kernels.NO_EXTENSIONS is DISABLED
    assert ("python" if DISABLED else "cython") == _kernels.BACKEND


def test_selected_objects_come_from_the_backend():
    for name in NAMES:
        live = getattr(_kernels, name)
        if DISABLED:
            assert live is getattr(_reference, name)
        else:
            assert live is compiled(name)
            assert live is not getattr(_reference, name)
    assert set(_kernels.__all__) == {"BACKEND", *NAMES}


@needs_extensions
def test_compiled_kernels_are_extension_modules():
    for name, module_name in MODULES.items():
        module = importlib.import_module(module_name)
        assert module.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), (
            module.__file__
        )
        obj = getattr(module, name)
        assert obj.__module__ == module_name
        assert not obj.__module__.startswith("scheduler.kernels")


@needs_extensions
def test_compiled_classes_are_extension_types():
    for name, obj in sample_instances(compiled_ns()).items():
        assert not isinstance(obj, getattr(_reference, name))
        assert not hasattr(obj, "__dict__"), name  # a cdef class, not a Python class


# -- parity of the public surface ----------------------------------------------------------------


def sample_instances(ns):
    levels, quantiles = ns.rung_levels(1, 3, 27)
    return {
        "StoppingRungs": ns.StoppingRungs(levels, quantiles, "max"),
        "PromotionRungs": ns.PromotionRungs(levels, quantiles, 27, "max"),
        "BracketSampler": ns.BracketSampler(levels, 27, 4, 0),
    }


def public(names) -> set[str]:
    return {n for n in names if not n.startswith("_")}


def compiled_ns():
    import types

    return types.SimpleNamespace(**{name: compiled(name) for name in NAMES})


@needs_extensions
def test_same_public_names():
    twins = sample_instances(_reference)
    comps = sample_instances(compiled_ns())
    for name in twins:
        assert public(dir(comps[name])) == public(dir(twins[name])), name
        assert public(dir(compiled(name))) >= {"state_dict", "from_state_dict"}
        for extra in ("_check", "state_dict", "from_state_dict"):
            assert callable(getattr(comps[name], extra))
            assert callable(getattr(twins[name], extra))
        # read-only attributes (levels, mode, probabilities, ...) hold the same values
        for attr in public(dir(twins[name])):
            value = getattr(twins[name], attr)
            if not callable(value):
                assert getattr(comps[name], attr) == value, f"{name}.{attr}"


def signature_text(fn) -> str:
    """The full signature: names, kinds, defaults and annotations."""
    return str(inspect.signature(fn))


def public_callables(cls) -> list[str]:
    names = public(dir(cls)) | {"__init__", "_check"}
    return sorted(n for n in names if callable(getattr(cls, n, None)))


@needs_extensions
def test_same_signatures():
    assert signature_text(compiled("rung_levels")) == signature_text(_reference.rung_levels)
    for name in NAMES[1:]:
        twin, comp = getattr(_reference, name), compiled(name)
        assert signature_text(comp) == signature_text(twin), name  # the constructor
        for method in public_callables(twin):
            if method == "__init__":
                continue
            assert signature_text(getattr(comp, method)) == signature_text(getattr(twin, method)), (
                f"{name}.{method}"
            )


def _strip_embedded_signature(doc: str | None, name: str) -> str:
    """Cython's embedsignature may prepend 'name(...)' to a docstring: drop it."""
    doc = doc or ""
    lines = doc.lstrip("\n").splitlines()
    if lines and re.match(rf"^(\w+\.)*{re.escape(name)}\(.*\)", lines[0]):
        lines = lines[1:]
        if lines and lines[0].strip() == "--":
            lines = lines[1:]
    return inspect.cleandoc("\n".join(lines))


def docs_of(obj, name):
    return _strip_embedded_signature(inspect.getdoc(obj) or obj.__doc__, name)


@needs_extensions
def test_same_docstrings():
    assert docs_of(compiled("rung_levels"), "rung_levels") == docs_of(
        _reference.rung_levels, "rung_levels"
    )
    for name in NAMES[1:]:
        twin, comp = getattr(_reference, name), compiled(name)
        assert docs_of(comp, name) == docs_of(twin, name), name
        for method in public_callables(twin):
            if method == "__init__":
                continue
            assert docs_of(getattr(comp, method), method) == docs_of(
                getattr(twin, method), method
            ), f"{name}.{method}"
        for attr in public(dir(twin)):
            if isinstance(getattr(twin, attr), property):
                assert getattr(comp, attr).__doc__ == getattr(twin, attr).__doc__, attr


def test_twins_are_documented():
    assert (_reference.rung_levels.__doc__ or "").strip()
    for name in NAMES[1:]:
        cls = getattr(_reference, name)
        assert (cls.__doc__ or "").strip(), name
        for method in public_callables(cls):
            if method != "__init__":
                assert (getattr(cls, method).__doc__ or "").strip(), f"{name}.{method}"


# -- identical state across backends ----------------------------------------------------------


def stopping_history(obj):
    for task, time, reward in [(0, 1, 1.0), (1, 3, 2.0), (2, 1, 0.5), (1, 9, 4.0), (3, 27, 1.0)]:
        obj.on_report(task, time, reward)
    obj.on_reports([4, 5, 6], [1, 1, 4], [0.25, 3.0, -1.0])


def promotion_history(obj):
    base = 10 * sum(obj.num_recorded(j) for j in range(3))  # fresh ids on every call
    for cid in range(base, base + 6):
        obj.add(cid, 1 if cid == base + 5 else 0)
    for cid, reward in zip(range(base, base + 5), [1.0, 3.0, 2.0, 5.0, 0.0]):
        obj.on_report(cid, 1, reward)
    obj.on_report(base + 5, 3, 1.5)
    obj.promote()


def bracket_history(obj):
    for _ in range(7):
        obj.sample()


HISTORIES = {
    "StoppingRungs": stopping_history,
    "PromotionRungs": promotion_history,
    "BracketSampler": bracket_history,
}


@needs_extensions
@pytest.mark.parametrize("name", STATEFUL)
def test_identical_state_dicts_and_cross_loading(name):
    twin = sample_instances(_reference)[name]
    comp = sample_instances(compiled_ns())[name]
    assert comp.state_dict() == twin.state_dict()  # fresh
    HISTORIES[name](twin)
    HISTORIES[name](comp)
    state = twin.state_dict()
    assert comp.state_dict() == state
    # key order too, so that the journal bytes are the same
    assert json.dumps(comp.state_dict()) == json.dumps(state)
    from_twin = compiled(name).from_state_dict(json.loads(json.dumps(state)))
    from_comp = getattr(_reference, name).from_state_dict(json.loads(json.dumps(comp.state_dict())))
    assert type(from_twin) is compiled(name)
    assert type(from_comp) is getattr(_reference, name)
    from_twin._check()
    from_comp._check()
    assert from_twin.state_dict() == from_comp.state_dict() == state
    # and both continue identically
    HISTORIES[name](from_twin)
    HISTORIES[name](from_comp)
    assert from_twin.state_dict() == from_comp.state_dict()


# -- corrupt states: both backends react alike ------------------------------------------------


def corruptions(state):
    """Copies of ``state`` with one thing wrong: a key gone, a leaf of the wrong type or
    out of range, a list one item short or one item long."""

    def paths(node, path=()):
        yield path
        if isinstance(node, dict):
            for key, value in node.items():
                yield from paths(value, (*path, key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from paths(value, (*path, i))

    def edited(path, edit):
        copy = json.loads(json.dumps(state))
        parent = copy
        for step in path[:-1]:
            parent = parent[step]
        edit(parent, path[-1])
        return copy

    for path in list(paths(state))[1:]:
        node = state
        for step in path:
            node = node[step]
        if isinstance(path[-1], str):
            yield f"del {path}", edited(path, lambda p, k: p.pop(k))
        yield f"str {path}", edited(path, lambda p, k: p.__setitem__(k, "x"))
        yield f"none {path}", edited(path, lambda p, k: p.__setitem__(k, None))
        if isinstance(node, bool):
            yield f"flip {path}", edited(path, lambda p, k: p.__setitem__(k, not p[k]))
        elif isinstance(node, (int, float)):
            for bad in (-1, 0, 2**64, 1.5, float("nan")):
                yield f"{bad} {path}", edited(path, lambda p, k, bad=bad: p.__setitem__(k, bad))
        elif isinstance(node, list):
            if node:
                yield f"short {path}", edited(path, lambda p, k: p[k].pop())
                yield f"long {path}", edited(path, lambda p, k: p[k].append(p[k][-1]))
            yield f"empty {path}", edited(path, lambda p, k: p.__setitem__(k, []))


def load_outcome(cls, state):
    try:
        obj = cls.from_state_dict(state)
    except Exception as exc:  # the type is compared across backends
        return (type(exc).__name__, str(exc)), None
    obj._check()
    return ("ok", obj.state_dict()), obj


@needs_extensions
@pytest.mark.parametrize("name", STATEFUL)
def test_corrupt_states_same_outcome_on_both_backends(name):
    twin = sample_instances(_reference)[name]
    HISTORIES[name](twin)
    cases = list(corruptions(twin.state_dict()))
    assert len(cases) > 30
    for label, bad in cases:
        want, twin_obj = load_outcome(getattr(_reference, name), json.loads(json.dumps(bad)))
        got, comp_obj = load_outcome(compiled(name), json.loads(json.dumps(bad)))
        assert got == want, label
        if twin_obj is not None:  # accepted: the two must also continue alike
            HISTORIES[name](twin_obj)
            HISTORIES[name](comp_obj)
            assert comp_obj.state_dict() == twin_obj.state_dict(), label


@needs_extensions
@pytest.mark.parametrize("levels", [[1, 2**63], [1, 2**64]])
def test_levels_beyond_int64_same_on_both_backends(levels):
    """Found by the corrupt-state test: accepted by the twin, OverflowError when compiled.

    The contract: constructors validate in Python, with the same ValueError in both
    backends; so either both accept (and agree) or both raise the same ValueError.
    """
    want, _ = load_outcome(_reference.StoppingRungs, {**_state_with_levels(levels)})
    got, _ = load_outcome(compiled("StoppingRungs"), {**_state_with_levels(levels)})
    assert got == want
    outcomes = []
    for cls in (_reference.StoppingRungs, compiled("StoppingRungs")):
        try:
            outcomes.append(("ok", cls(levels, [0.5, 0.5]).state_dict()))
        except Exception as exc:
            outcomes.append((type(exc).__name__, str(exc)))
    assert outcomes[1] == outcomes[0]
    assert outcomes[0][0] in ("ok", "ValueError")


def _state_with_levels(levels):
    state = _reference.StoppingRungs([1, 3], [0.5, 0.5]).state_dict()
    state["levels"] = list(levels)
    return state


ODD_VALUES = [
    np.int64(3),
    np.int32(1),
    np.float64(2.0),
    np.float32(0.5),
    2.0,
    2.5,
    True,
    None,
    "1",
    -1,
    2**63,
    -(2**63) - 1,
    math.inf,
    math.nan,
]

METHOD_CALLS = {
    "StoppingRungs": [("on_report", [1, 3, 0.5, 0]), ("cutoff", [0]), ("num_recorded", [0])],
    "PromotionRungs": [
        ("add", [100, 0]),
        ("on_report", [0, 3, 0.5]),
        ("milestone", [0]),
        ("num_recorded", [0]),
    ],
}


@needs_extensions
@pytest.mark.parametrize("name", list(METHOD_CALLS))
def test_odd_method_arguments_same_outcome(name):
    """numpy scalars, bools, floats for ints, None, out-of-range ints, inf, NaN in every
    argument: the same result and state, or the same exception type (and, for
    ValueError, the same text) on both backends."""
    for method, good in METHOD_CALLS[name]:
        for i in range(len(good)):
            for odd in ODD_VALUES:
                args = list(good)
                args[i] = odd
                results = []
                for ns in (_reference, compiled_ns()):
                    obj = sample_instances(ns)[name]
                    HISTORIES[name](obj)
                    try:
                        value = getattr(obj, method)(*args)
                        results.append(("ok", value, obj.state_dict()))
                    except Exception as exc:
                        text = str(exc) if isinstance(exc, ValueError) else ""
                        results.append((type(exc).__name__, text))
                assert results[1] == results[0], (method, args)


def _batch_inputs():
    ids = np.arange(20, dtype=np.int64)
    times = np.array([1, 3, 9, 27] * 5)
    rewards = np.linspace(-1.0, 1.0, 20)
    readonly = [ids.copy(), times.copy(), rewards.copy()]
    for array in readonly:
        array.setflags(write=False)
    return {
        "narrow dtypes": (ids.astype(np.int32), times.astype(np.int16), rewards.astype(np.float32)),
        "strided": (np.arange(40)[::2], np.repeat(times, 2)[::2], np.repeat(rewards, 2)[::2]),
        "reversed": (ids[::-1], times[::-1], rewards[::-1]),
        "numpy scalars in lists": (list(ids), list(times), list(rewards), [np.int64(1)] * 20),
        "read-only": (*readonly, None),
        "python lists": (ids.tolist(), times.tolist(), rewards.tolist(), [0, 1, 2, 3] * 5),
        "2-D": (ids.reshape(4, 5), times.reshape(4, 5), rewards.reshape(4, 5)),
        "lengths differ": (ids, times[:5], rewards),
        "skip_rungs length differs": (ids, times, rewards, [0, 0, 0]),
        "skip_rungs out of range": (ids, times, rewards, [4] * 20),
        "fractional ids": (ids + 0.5, times, rewards),
        "NaN inside": (ids, times, np.where(ids == 7, np.nan, rewards)),
        "empty": ([], [], []),
    }


@needs_extensions
@pytest.mark.parametrize("label", list(_batch_inputs()))
def test_on_reports_input_forms_same_outcome(label):
    args = _batch_inputs()[label]
    results = []
    for cls in (_reference.StoppingRungs, compiled("StoppingRungs")):
        obj = cls([1, 3, 9], [1 / 3, 1 / 3, 1 / 3])
        try:
            got = obj.on_reports(*args)
            results.append(("ok", got.dtype.str, got.tolist(), obj.state_dict()))
        except Exception as exc:
            results.append((type(exc).__name__, str(exc) if isinstance(exc, ValueError) else ""))
    assert results[1] == results[0]
