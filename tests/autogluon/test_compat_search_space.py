"""What AutoGluon's search-space unit tests check, stated for this package.

Source: AutoGluon v0.2.0 ``core/tests/unittests/test_search_space.py`` and v0.0.15
``tests/unittests/test_search_space.py`` (Apache-2.0). Their files run unchanged but for
the imports with ``python tests/autogluon/run_upstream.py <autogluon checkout>``; this
module restates their checks in this repository's words and checks the trials' outcomes
too (AutoGluon's tests assert inside ``train_fn``, where a failed assertion only fails
that trial). The process backend is used, as there: the spaces and the classes they
build travel to the worker processes.

Checked: ``Real`` (log and linear), ``Int``, ``Categorical`` of values, ``Bool``,
``List`` of spaces, ``Dict`` of spaces (item and attribute access in the task), a
``Categorical`` whose choice is a ``Categorical`` (v0.2.0) or a searchable object
(v0.0.15), ``@obj`` classes and ``@func`` functions, ``ag.Real`` at the top level, and a
hyperparameter whose name holds a dot (``args['model.name']``).
"""

from __future__ import annotations

import pytest

import scheduler as ag


def _run(train_fn, **kwargs):
    options = dict(reward_attr="accuracy", time_attr="epoch", checkpoint=None, progress=False)
    scheduler = ag.FIFOScheduler(train_fn, **{**options, **kwargs})
    scheduler.run()
    scheduler.join_jobs()
    return scheduler


def _check_outcomes(scheduler, n):
    tasks = list(scheduler.history.tasks.values())
    assert len(tasks) == n
    failed = [(t.task_id, t.reason) for t in tasks if t.status != "completed"]
    assert failed == []


@pytest.mark.cpus(4)
def test_v0_2_0_nested_spaces_reach_the_task_as_values():
    @ag.args(
        a=ag.space.Real(1e-3, 1e-2, log=True),
        b=ag.space.Real(1e-3, 1e-2),
        c=ag.space.Int(1, 10),
        d=ag.space.Categorical("a", "b", "c", "d"),
        e=ag.space.Bool(),
        f=ag.space.List(ag.space.Int(1, 2), ag.space.Categorical(4, 5)),
        g=ag.space.Dict(a=ag.Real(0, 10), obj=ag.space.Categorical("auto", "gluon")),
        h=ag.space.Categorical("test", ag.space.Categorical("auto", "gluon")),
        i=ag.space.Categorical("mxnet", "pytorch"),
    )
    def train_fn(args, reporter):
        class Holder:
            def __init__(self, name):
                self.name = name

        assert 1e-3 <= args.a <= 1e-2 and 1e-3 <= args.b <= 1e-2
        assert 1 <= args.c <= 10 and args.d in "abcd"
        assert args.e in (True, False)
        assert args.f[0] in (1, 2) and args.f[1] in (4, 5)
        assert 0 <= args.g["a"] <= 10 and 0 <= args.g.a <= 10
        assert Holder(args.g.obj).name in ("auto", "gluon")
        assert args.h in ("test", "auto", "gluon")
        assert args.i in ("mxnet", "pytorch")
        reporter(epoch=1, accuracy=0)

    scheduler = _run(train_fn, resource={"num_cpus": 4, "num_gpus": 0}, num_trials=10)
    _check_outcomes(scheduler, 10)
    h_values = {str(c["h"]) for c in scheduler.config_history.values()}
    assert len(h_values) > 1  # the nested Categorical's branch was searched too


@ag.space.obj(name=ag.space.Categorical("auto", "gluon"))
class Named:
    def __init__(self, name):
        self.name = name


@ag.space.func(framework=ag.space.Categorical("mxnet", "pytorch"))
def pick(framework):
    return framework


@pytest.mark.cpus(4)
def test_v0_0_15_searchable_objects_and_functions():
    @ag.args(
        a=ag.space.Real(1e-3, 1e-2, log=True),
        c=ag.space.Int(1, 10),
        e=ag.space.Bool(),
        f=ag.space.List(ag.space.Int(1, 2), ag.space.Categorical(4, 5)),
        g=ag.space.Dict(a=ag.Real(0, 10), obj=Named()),
        h=ag.space.Categorical("test", Named()),
        i=pick(),
    )
    def train_fn(args, reporter):
        assert 1e-3 <= args.a <= 1e-2 and 1 <= args.c <= 10
        assert args.f[0] in (1, 2) and args.f[1] in (4, 5)
        assert 0 <= args.g["a"] <= 10
        assert isinstance(args.g.obj, Named) and args.g.obj.name in ("auto", "gluon")
        assert hasattr(args.h, "name") or args.h == "test"
        assert args.i in ("mxnet", "pytorch")
        reporter(epoch=1, accuracy=0)

    scheduler = _run(train_fn, resource={"num_cpus": 4, "num_gpus": 0}, num_trials=10)
    _check_outcomes(scheduler, 10)
    config = scheduler.config_history[0]
    assert config["g"]["obj"] == {"name": "auto"}  # the config holds the arguments
    assert config["i"] == {"framework": "mxnet"}


def test_a_hyperparameter_name_may_hold_a_dot():
    @ag.args(**{"model.name": ag.space.Categorical("mxnet", "pytorch")})
    def train_fn(args, reporter):
        assert args["model.name"] in ("mxnet", "pytorch")
        reporter(epoch=1, accuracy=1)

    scheduler = _run(train_fn, num_trials=2)
    _check_outcomes(scheduler, 2)
    assert {c["model.name"] for c in scheduler.config_history.values()} == {"mxnet", "pytorch"}
