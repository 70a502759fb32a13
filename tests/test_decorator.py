"""The @args decorator, the Args namespace and the task-argument helpers."""

from __future__ import annotations

import argparse
import copy
import functools
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import cloudpickle
import numpy as np
import pytest

import scheduler
from scheduler import space
from scheduler._decorator import (
    Args,
    TrainFunction,
    args,
    get_defaults,
    get_space,
    make_task_args,
)

REPO_ROOT = Path(scheduler.__file__).resolve().parents[1]


@args(
    lr=space.Real(1e-3, 1e-2, log=True),
    wd=space.Real(1e-3, 1e-2),
    epochs=10,
)
def train_fn(args, reporter):
    """Toy training function of AutoGluon's example."""
    for e in range(args.epochs):
        dummy_accuracy = 1 - np.power(1.8, -np.random.uniform(e, 2 * e))
        reporter(epoch=e + 1, accuracy=dummy_accuracy, lr=args.lr, wd=args.wd)


class Recorder:
    def __init__(self):
        self.reports = []

    def __call__(self, **result):
        self.reports.append(result)


def test_autogluon_example_attributes():
    assert isinstance(train_fn, TrainFunction)
    assert train_fn.args.epochs == 10
    assert train_fn.args.lr == pytest.approx(10**-2.5)
    assert train_fn.args.wd == pytest.approx(5.5e-3)
    assert train_fn.space.hyperparameters == ("lr", "wd")
    assert train_fn.kwvars == {
        "lr": space.Real(1e-3, 1e-2, log=True),
        "wd": space.Real(1e-3, 1e-2),
        "epochs": 10,
    }
    assert train_fn.kwspaces == {"lr": space.Real(1e-3, 1e-2, log=True), "wd": train_fn.space["wd"]}
    assert train_fn.__name__ == "train_fn"
    assert train_fn.__doc__ == "Toy training function of AutoGluon's example."
    assert train_fn.__wrapped__ is train_fn.fn
    assert callable(train_fn)


def test_direct_call_with_task_args():
    task_args = make_task_args(
        train_fn, {"lr": 0.005, "wd": 0.002}, task_id=3, config_id=1, resume_from=None, gpu_ids=[]
    )
    reporter = Recorder()
    train_fn(task_args, reporter)
    assert [r["epoch"] for r in reporter.reports] == list(range(1, 11))
    assert all(r["lr"] == 0.005 and r["wd"] == 0.002 for r in reporter.reports)


def test_make_task_args_overlays_config_and_adds_task_info():
    task_args = make_task_args(
        train_fn, {"lr": 0.004}, task_id=7, config_id=2, resume_from=3, gpu_ids=(0, 1)
    )
    assert isinstance(task_args, Args)
    assert task_args.lr == 0.004
    assert task_args.wd == train_fn.args.wd  # not in the config: the default
    assert task_args.epochs == 10
    assert task_args.task_id == 7 and task_args.config_id == 2
    assert task_args.scheduler.resume_from == 3
    assert task_args.gpu_ids == [0, 1]
    fresh = make_task_args(train_fn, {}, task_id=0, config_id=0)
    assert fresh.scheduler.resume_from is None and fresh.gpu_ids == []


def test_make_task_args_copies_values_per_task():
    lock = threading.Lock()

    @args(layers=[64, 32], lock=lock, opt=space.Categorical({"name": "sgd"}, {"name": "adam"}))
    def fn(args, reporter):
        args.layers.append(1)
        args.opt["name"] = "changed"

    config = {"opt": fn.space["opt"].data[1]}
    task_args = make_task_args(fn, config, task_id=0, config_id=0)
    fn(task_args, None)
    assert fn.args.layers == [64, 32]
    assert fn.space["opt"].data == [{"name": "sgd"}, {"name": "adam"}]
    assert config == {"opt": {"name": "adam"}}
    assert task_args.lock is lock  # not copyable: shared


def test_make_task_args_rejects_reserved_and_bad_configs():
    with pytest.raises(ValueError, match="config: 'task_id' is reserved"):
        make_task_args(train_fn, {"task_id": 1}, task_id=0, config_id=0)
    with pytest.raises(ValueError, match="config must be a mapping"):
        make_task_args(train_fn, [("lr", 1)], task_id=0, config_id=0)


def test_reserved_names_are_refused_at_decoration():
    with pytest.raises(ValueError, match=r"args\(\): 'scheduler' is reserved"):
        args(scheduler="cosine")
    with pytest.raises(ValueError, match=r"update\(\): 'gpu_ids' is reserved"):
        train_fn_copy().update(gpu_ids=[0])


def train_fn_copy():
    return args(x=space.Int(0, 3), epochs=4)(lambda args, reporter: None)


def test_update_adds_overrides_and_returns_the_function():
    fn = train_fn_copy()
    assert fn.update(y=space.Bool(), epochs=8) is fn
    assert fn.args.epochs == 8 and fn.args.y is False
    assert fn.space.hyperparameters == ("x", "y")
    fn.update(x=2)  # a space replaced by a constant is no longer searched
    assert fn.space.hyperparameters == ("y",)
    assert fn.args.x == 2
    assert fn.kwvars == {"x": 2, "epochs": 8, "y": space.Bool()}


def test_update_keeps_direct_changes_to_args():
    fn = train_fn_copy()
    fn.args.epochs = 20
    fn.update(x=space.Int(0, 9, default=9))
    assert fn.args.epochs == 20 and fn.args.x == 9


def test_default_dict_and_namespace():
    @args(default={"epochs": 3, "lr": space.Real(0, 1), "name": "a"}, epochs=5)
    def fn(args, reporter):
        pass

    assert fn.args.epochs == 5 and fn.args.name == "a" and fn.args.lr == 0.5
    assert fn.space.hyperparameters == ("lr",)
    assert fn.default == {"epochs": 3, "lr": space.Real(0, 1), "name": "a"}

    namespace = argparse.Namespace(batch_size=32, epochs=2)
    fn2 = args(default=namespace, lr=space.Real(0, 1))(lambda args, reporter: None)
    assert fn2.args.batch_size == 32 and fn2.args.epochs == 2

    with pytest.raises(
        ValueError,
        match=r"args\(default=\.\.\.\) must be a dict or an argparse.Namespace, got \[1, 2\]",
    ):
        args(default=[1, 2])


def test_bare_and_stacked_decorators():
    @args
    def bare(args, reporter):
        return "ran"

    assert isinstance(bare, TrainFunction)
    assert len(bare.space) == 0 and len(bare.args) == 0
    assert bare(None, None) == "ran"

    @args(a=space.Int(0, 1), b=1)
    @args(b=space.Bool(), c=2)
    def stacked(args, reporter):
        pass

    assert stacked.args.to_dict() == {"b": 1, "c": 2, "a": 0}
    assert stacked.space.hyperparameters == ("a",)


def test_non_callable_is_refused():
    with pytest.raises(ValueError, match="must decorate a callable, got 3"):
        args(x=1)(3)


# -- undecorated functions -------------------------------------------------------


def plain_fn(args, reporter):
    reporter(value=args.task_id)


def test_undecorated_function_helpers():
    assert get_space(plain_fn) == space.SearchSpace()
    assert get_space(plain_fn).size == 1
    assert get_defaults(plain_fn) == {}
    task_args = make_task_args(plain_fn, {}, task_id=5, config_id=5)
    reporter = Recorder()
    plain_fn(task_args, reporter)
    assert reporter.reports == [{"value": 5}]
    # functools.partial has an unrelated `.args` tuple: it must not be taken as defaults.
    partial = functools.partial(plain_fn)
    assert get_defaults(partial) == {} and len(get_space(partial)) == 0
    assert get_defaults(functools.partial(train_fn))["epochs"] == 10
    assert get_space(functools.partial(train_fn)) == train_fn.space


def test_get_defaults_is_a_copy():
    defaults = get_defaults(train_fn)
    defaults["epochs"] = 1
    assert train_fn.args.epochs == 10


# -- Args ------------------------------------------------------------------------


def test_args_mapping_and_attribute_access():
    a = Args({"lr": 0.1, "epochs": 3}, extra="x")
    assert a.lr == a["lr"] == 0.1
    assert "epochs" in a and "missing" not in a
    assert list(a) == ["lr", "epochs", "extra"]
    assert len(a) == 3
    assert a.get("missing", 7) == 7 and a.get("lr") == 0.1
    assert dict(a.items()) == vars(a) == {"lr": 0.1, "epochs": 3, "extra": "x"}
    assert dict(**a) == a.to_dict()
    a["new"] = 1
    a.other = 2
    del a["extra"]
    assert a == {"lr": 0.1, "epochs": 3, "new": 1, "other": 2}
    assert repr(Args(x=1)) == "Args(x=1)"
    with pytest.raises(AttributeError, match="args has no entry 'missing'"):
        _ = a.missing
    with pytest.raises(KeyError):
        _ = a["missing"]


def test_args_entries_named_like_methods():
    a = Args(get=1, items=2)
    assert a.get == 1 and a["items"] == 2
    assert Args.keys(a) == {"get", "items"}


def test_args_pickle_and_copy():
    a = Args(lr=0.1, scheduler=Args(resume_from=2), layers=[1, 2])
    for restored in (
        pickle.loads(pickle.dumps(a)),
        copy.deepcopy(a),
        cloudpickle.loads(cloudpickle.dumps(a)),
    ):
        assert restored == a
        assert restored.scheduler.resume_from == 2
    assert a.to_dict() == {"lr": 0.1, "scheduler": {"resume_from": 2}, "layers": [1, 2]}


# -- pickling decorated functions --------------------------------------------------


def test_module_level_function_pickles_by_name_with_its_updates():
    fn = pickle.loads(pickle.dumps(train_fn))
    assert isinstance(fn, TrainFunction)
    assert fn.fn is train_fn.fn
    assert fn.space == train_fn.space and fn.args == train_fn.args
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        updated = copy.copy(train_fn.kwvars)
        try:
            train_fn.update(epochs=3)
            restored = loads(dumps(train_fn))
            assert restored.args.epochs == 3
            assert restored.kwvars["epochs"] == 3
        finally:
            train_fn.kwvars.clear()
            train_fn.update(**updated)
    assert train_fn.args.epochs == 10


def make_closure():
    offset = 0.25  # captured by the closure

    @args(lr=space.Real(0.0, 1.0), epochs=2, layers=space.Categorical([8], [8, 8]))
    def closure_fn(args, reporter):
        for epoch in range(1, args.epochs + 1):
            reporter(epoch=epoch, accuracy=args.lr + offset, depth=len(args.layers))

    return closure_fn


def test_closure_cloudpickle_round_trip_in_process():
    fn = make_closure()
    fn.update(epochs=3)
    restored = cloudpickle.loads(cloudpickle.dumps(fn))
    assert isinstance(restored, TrainFunction)
    assert restored.space == fn.space and restored.args == fn.args
    reporter = Recorder()
    restored(
        make_task_args(restored, {"lr": 0.5, "layers": [8, 8]}, task_id=0, config_id=0), reporter
    )
    assert reporter.reports[-1] == {"epoch": 3, "accuracy": 0.75, "depth": 2}


def test_closure_cloudpickle_round_trip_in_a_fresh_interpreter():
    fn = make_closure()
    task_args = make_task_args(fn, {"lr": 0.5, "layers": [8]}, task_id=4, config_id=2, gpu_ids=[1])
    payload = cloudpickle.dumps((fn, task_args))
    script = (
        "import sys, cloudpickle\n"
        "fn, task_args = cloudpickle.loads(sys.stdin.buffer.read())\n"
        "reports = []\n"
        "fn(task_args, lambda **r: reports.append(r))\n"
        "print(type(fn).__name__, fn.space.hyperparameters, task_args.task_id,\n"
        "      task_args.gpu_ids, reports[-1])\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=payload,
        capture_output=True,
        cwd=os.path.dirname(REPO_ROOT),
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().split() == [
        "TrainFunction",
        "('layers',",
        "'lr')",
        "4",
        "[1]",
        "{'epoch':",
        "2,",
        "'accuracy':",
        "0.75,",
        "'depth':",
        "1}",
    ]


def test_repr_of_a_decorated_callable_without_a_name():
    """A functools.partial (or any callable object) has no __qualname__ to copy."""

    def fit(args, reporter, scale=1.0):
        pass

    train_fn = scheduler.args(lr=0.1)(functools.partial(fit, scale=2.0))
    assert repr(train_fn).startswith("<train function functools.partial(")
    assert repr(train_fn).endswith("(lr=0.1)>")


def test_attribute_assignment_sets_an_entry():
    task_args = scheduler.Args(lr=0.1)
    task_args.lr = 0.2
    task_args.epochs = 3
    assert task_args["lr"] == 0.2 and dict(task_args.items()) == {"lr": 0.2, "epochs": 3}
