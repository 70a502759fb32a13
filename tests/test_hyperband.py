"""HyperbandScheduler (stopping and promotion) driven by deterministic fake workloads.

With one worker the tasks run one after another, so the report sequence is known and a
fresh kernel fed the same sequence must take exactly the scheduler's decisions.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import scheduler as sch
from scheduler import kernels as _kernels

MAX_T = 27


def curve(x: float, epoch: int) -> float:
    """Crossing learning curves: small x starts fast, large x ends high."""
    return float((1 - np.exp(-epoch * (1.5 - x))) * (0.5 + 0.5 * x))


@sch.args(x=sch.space.Real(0.0, 1.0), epochs=MAX_T)
def curve_fn(args, reporter):
    start = args.scheduler.resume_from or 0
    for epoch in range(start + 1, args.epochs + 1):
        reporter(epoch=epoch, accuracy=curve(args.x, epoch))


@sch.args(x=sch.space.Real(0.0, 1.0), epochs=MAX_T)
def scratch_fn(args, reporter):
    # Ignores resume_from: a promoted config restarts from epoch 1.
    for epoch in range(1, args.epochs + 1):
        reporter(epoch=epoch, accuracy=curve(args.x, epoch))


@sch.args(x=sch.space.Real(0.0, 1.0), epochs=MAX_T)
def checkpoint_fn(args, reporter):
    path = os.path.join(reporter.checkpoint_dir, "state.json")
    start = 0
    if args.scheduler.resume_from is not None:
        with open(path) as f:
            saved = json.load(f)
        assert saved["config_id"] == args.config_id
        start = saved["epoch"]
    for epoch in range(start + 1, args.epochs + 1):
        with open(path, "w") as f:
            json.dump({"epoch": epoch, "config_id": args.config_id}, f)
        reporter(epoch=epoch, accuracy=curve(args.x, epoch), start=start)


def _hb(train_fn, type, *, workers=1, backend="thread", **kw):
    kw.setdefault("num_trials", 30)
    # these tests fail trials on purpose: fail_fast has tests of its own
    kw.setdefault("fail_fast", False)
    return sch.HyperbandScheduler(
        train_fn,
        type=type,
        resource={"num_cpus": 1, "num_gpus": 0},
        total_resources={"num_cpus": workers, "num_gpus": 0},
        reward_attr="accuracy",
        time_attr="epoch",
        backend=backend,
        progress=False,
        search_options={"random_seed": 7},
        **kw,
    )


def _run(s):
    s.run()
    assert s.join_jobs(timeout=120)
    return s


def _rows_in_order(s):
    for task_id in sorted(s.history.tasks):
        for row in s.training_history.get(task_id, []):
            yield task_id, row


def _fresh_systems(s):
    levels, quantiles = _kernels.rung_levels(
        s.grace_period, s.reduction_factor, s.max_t, s.rung_levels
    )
    sampler = _kernels.BracketSampler(levels, s.max_t, s.brackets, s.random_seed)
    n = sampler.num_brackets if s.rung_system_per_bracket else 1
    systems = []
    for b in range(n):
        first = b if s.rung_system_per_bracket else 0
        if first >= len(levels):
            systems.append(None)
        elif s.type == "stopping":
            systems.append(_kernels.StoppingRungs(levels[first:], quantiles[first:], s.mode))
        else:
            systems.append(
                _kernels.PromotionRungs(levels[first:], quantiles[first:], s.max_t, s.mode)
            )
    return levels, sampler, systems


def _route(s, systems, bracket):
    if s.rung_system_per_bracket:
        return systems[bracket], 0
    return systems[0], bracket


@pytest.mark.parametrize("brackets, per_bracket", [(1, True), (3, True), (3, False)])
@pytest.mark.parametrize("mode", ["max", "min"])
def test_stopping_decisions_equal_a_replay_through_the_kernel(brackets, per_bracket, mode):
    s = _run(
        _hb(
            curve_fn,
            "stopping",
            brackets=brackets,
            rung_system_per_bracket=per_bracket,
            mode=mode,
            num_trials=40,
        )
    )
    _levels, sampler, systems = _fresh_systems(s)
    # brackets follow the seeded sequence, one draw per new config in config order
    by_config = {r.config_id: r.bracket for r in s.history.tasks.values()}
    assert [by_config[c] for c in sorted(by_config)] == [
        sampler.sample() for _ in range(len(by_config))
    ]
    decisions = {"continue": 0, "stop": 0, "complete": 0}
    for task_id, row in _rows_in_order(s):
        system, skip = _route(s, systems, row["bracket"])
        go = (
            True
            if system is None
            else system.on_report(row["config_id"], row["epoch"], row["accuracy"], skip)
        )
        expected = "complete" if row["epoch"] >= MAX_T else ("continue" if go else "stop")
        assert row["decision"] == expected, (task_id, row)
        decisions[row["decision"]] += 1
    assert decisions["stop"] > 0 and decisions["complete"] > 0
    for mine, theirs in zip(s.policy.systems, systems):
        assert (mine is None) == (theirs is None)
        if mine is not None:
            assert mine.state_dict() == theirs.state_dict()
    statuses = {r.status for r in s.history.tasks.values()}
    assert statuses <= {"completed", "stopped"}
    assert len(s.history.tasks) == 40


@pytest.mark.parametrize("brackets, per_bracket", [(1, True), (2, True), (3, False)])
def test_promotion_decisions_equal_a_replay_through_the_kernel(brackets, per_bracket):
    s = _run(
        _hb(
            curve_fn,
            "promotion",
            brackets=brackets,
            rung_system_per_bracket=per_bracket,
            num_trials=30,
        )
    )
    _levels, sampler, systems = _fresh_systems(s)
    new_configs = 0
    for task_id in sorted(s.history.tasks):
        record = s.history.tasks[task_id]
        promoted = None
        for b in range(len(systems)):
            if systems[b] is not None:
                promoted = systems[b].promote()
                if promoted is not None:
                    break
        if record.resume_from is None:
            assert promoted is None, f"task {task_id} should have been a promotion"
            new_configs += 1
            assert record.bracket == sampler.sample()
            system, skip = _route(s, systems, record.bracket)
            if system is not None:
                system.add(record.config_id, skip)
        else:
            assert promoted == (record.config_id, record.resume_from)
        system, _ = _route(s, systems, record.bracket)
        for row in s.training_history.get(task_id, []):
            go = (
                True
                if system is None
                else system.on_report(record.config_id, row["epoch"], row["accuracy"])
            )
            expected = "complete" if row["epoch"] >= MAX_T else ("continue" if go else "pause")
            assert row["decision"] == expected
    assert new_configs == 30  # num_trials counts configs, not tasks
    assert len(s.history.tasks) > 30
    for mine, theirs in zip(s.policy.systems, systems):
        if mine is not None:
            assert mine.state_dict() == theirs.state_dict()
            assert mine.promote() is None  # nothing promotable left at the end
    statuses = {r.status for r in s.history.tasks.values()}
    assert statuses <= {"completed", "paused"} and "paused" in statuses


def test_promotion_resumes_from_checkpoint_dir_with_resume_from(tmp_path):
    s = _run(_hb(checkpoint_fn, "promotion", workers=2, num_trials=20, output_dir=tmp_path))
    promoted = [r for r in s.history.tasks.values() if r.resume_from is not None]
    assert promoted
    for record in promoted:
        rows = s.training_history[record.task_id]
        assert rows[0]["epoch"] == record.resume_from + 1
        assert rows[0]["start"] == record.resume_from
        assert not any(row["replay"] for row in rows)
    assert sorted(os.listdir(os.path.join(s.run_dir, "checkpoints"))) == sorted(
        f"config_{c}" for c in {r.config_id for r in s.history.tasks.values()}
    )


def test_restarted_from_scratch_reports_do_not_reach_rungs_twice():
    s = _run(_hb(scratch_fn, "promotion", num_trials=20))
    levels = s.policy.levels
    counted = {j: 0 for j in range(len(levels))}
    replayed = 0
    for task_id, row in _rows_in_order(s):
        record = s.history.tasks[task_id]
        if record.resume_from is not None and row["epoch"] <= record.resume_from:
            assert row["replay"] is True
            assert row["decision"] == "continue"
            replayed += 1
        else:
            assert row["replay"] is False
            if row["epoch"] in levels:
                counted[levels.index(row["epoch"])] += 1
    assert replayed > 0
    system = s.policy.systems[0]
    assert [system.num_recorded(j) for j in range(len(levels))] == [
        counted[j] for j in range(len(levels))
    ]


def test_stopping_completes_at_max_t_and_code_after_last_report_runs(tmp_path):
    marker = tmp_path / "after"

    @sch.args(x=sch.space.Real(0.0, 1.0), epochs=3)
    def fn(args, reporter):
        for epoch in range(1, 4):
            reporter(epoch=epoch, accuracy=args.x)
        marker.mkdir(exist_ok=True)
        (marker / str(args.task_id)).write_text("ran")

    s = _run(_hb(fn, "stopping", num_trials=6, grace_period=1, reduction_factor=3))
    completed = [t for t, r in s.history.tasks.items() if r.status == "completed"]
    assert completed
    assert sorted(int(p.name) for p in marker.iterdir()) == sorted(completed)


@pytest.mark.parametrize("type", ["stopping", "promotion"])
@pytest.mark.parametrize("backend", ["thread", "process"])
def test_failures_under_hyperband_do_not_hang(type, backend):
    @sch.args(x=sch.space.Real(0.0, 1.0), epochs=9)
    def fn(args, reporter):
        for epoch in range(1, 10):
            # low x would be stopped at the first rung: fail before reporting
            if args.x < 0.3:
                raise RuntimeError("diverged badly")
            if 0.3 <= args.x < 0.45:
                reporter(epoch=epoch, accuracy=None)
            reporter(epoch=epoch, accuracy=args.x)

    s = _run(_hb(fn, type, workers=2, backend=backend, num_trials=12))
    statuses = [r.status for r in s.history.tasks.values()]
    assert "failed" in statuses
    assert "running" not in statuses
    for record in s.history.tasks.values():
        if record.status == "failed":
            assert "diverged badly" in record.reason or "accuracy" in record.reason


def test_missing_time_attr_fails_the_task():
    @sch.args(x=sch.space.Real(0.0, 1.0), epochs=9)
    def fn(args, reporter):
        reporter(accuracy=args.x)

    s = _run(_hb(fn, "stopping", num_trials=2))
    for record in s.history.tasks.values():
        assert record.status == "failed"
        assert "no time_attr 'epoch'" in record.reason


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(type="median"), "type must be one of ['promotion', 'stopping'], got 'median'"),
        (dict(reduction_factor=1), "reduction_factor must be an integer >= 2, got 1"),
        (dict(grace_period=0), "grace_period"),
        (dict(max_t=1), "max_t must be an integer >= 2, got 1"),
        (dict(brackets=0), "brackets"),
        (dict(searcher_data="some"), "searcher_data must be one of"),
        (dict(rung_levels=[3, 2]), "rung_levels"),
        (dict(random_seed=-1), "random_seed must be an integer >= 0, got -1"),
    ],
)
def test_invalid_parameters_raise_value_error(kwargs, message):
    with pytest.raises(ValueError) as info:
        _hb(curve_fn, kwargs.pop("type", "stopping"), **kwargs)
    assert message in str(info.value)


def test_max_t_inference():
    @sch.args(x=sch.space.Real(0.0, 1.0))
    def no_epochs(args, reporter):
        reporter(epoch=1, accuracy=args.x)

    with pytest.raises(ValueError, match=r"max_t.*epochs.*max_t"):
        _hb(no_epochs, "stopping")
    assert _hb(no_epochs, "stopping", max_t=5).max_t == 5
    assert _hb(curve_fn, "stopping").max_t == MAX_T

    @sch.args(x=sch.space.Real(0.0, 1.0), max_t=12)
    def with_max_t(args, reporter):
        reporter(epoch=1, accuracy=args.x)

    assert _hb(with_max_t, "stopping").max_t == 12


@pytest.mark.parametrize("type", ["stopping", "promotion"])
def test_seed_example_runs(type):
    @sch.args(lr=sch.space.Real(1e-3, 1e-2, log=True), wd=sch.space.Real(1e-3, 1e-2), epochs=10)
    def train_fn(args, reporter):
        for e in range(args.epochs):
            dummy_accuracy = 1 - np.power(1.8, -np.random.uniform(e, 2 * e))
            reporter(epoch=e + 1, accuracy=dummy_accuracy, lr=args.lr, wd=args.wd)

    scheduler = sch.HyperbandScheduler(
        train_fn,
        resource={"num_cpus": 2, "num_gpus": 0},
        num_trials=20,
        reward_attr="accuracy",
        time_attr="epoch",
        grace_period=1,
        reduction_factor=3,
        type=type,
    )
    scheduler.run()
    scheduler.join_jobs()
    fig = scheduler.get_training_curves(plot=False)
    assert fig is not None
    assert len({r.config_id for r in scheduler.history.tasks.values()}) == 20
    assert scheduler.get_best_reward() is not None


@pytest.mark.parametrize("type", ["stopping", "promotion"])
@pytest.mark.parametrize(
    "fn_name, backend, reason",
    [
        ("raising_fn", "thread", "RuntimeError: boom"),
        ("exit_fn", "process", "exited with code 3"),
        ("sigkill_fn", "process", "killed by SIGKILL"),
        ("segfault_fn", "process", "killed by SIGSEGV"),
        ("hang_fn", "thread", "exceeded max_task_time=0.5s"),
        ("hang_fn", "process", "exceeded max_task_time=0.5s"),
        ("silent_fn", "process", "without reporting"),
        ("decreasing_time_fn", "thread", "must increase from report to report"),
    ],
)
def test_runtime_failure_cases_under_hyperband(type, fn_name, backend, reason):
    import test_runtime  # the failing train functions, shared with the FIFO tests

    s = sch.HyperbandScheduler(
        getattr(test_runtime, fn_name),
        type=type,
        max_t=5,
        num_trials=3,
        resource={"num_cpus": 1, "num_gpus": 0},
        total_resources={"num_cpus": 2, "num_gpus": 0},
        reward_attr="accuracy",
        time_attr="epoch",
        backend=backend,
        # Only the hanging task needs a short limit. The limit counts from the launch,
        # so a short one would also end a task whose replacement worker (after a crash)
        # is still starting on a loaded machine, with the wrong reason.
        max_task_time=0.5 if fn_name == "hang_fn" else 30,
        progress=False,
    )
    s.run()
    assert s.join_jobs(timeout=60)
    records = list(s.history.tasks.values())
    failed = [r for r in records if r.status == "failed"]
    assert failed and all(reason in r.reason for r in failed)
    if type == "stopping":
        assert len(records) == 3 and len(failed) == 3
    else:
        # a config pauses at its first rung (before it can fail) until it is promoted
        assert {r.status for r in records} <= {"failed", "paused"}


def test_a_rung_system_of_its_own_hears_every_config_and_report(monkeypatch):
    """A registered rung system that overrides add() or on_report() is called: the
    shortcut to the kernel is taken only for the built-in ones."""
    from scheduler import searchers
    from scheduler.schedulers import rung_systems
    from scheduler.schedulers.base import drive_suggest, flush_feedback
    from scheduler.schedulers.hyperband import HyperbandPolicy

    heard = {"add": 0, "report": 0}

    class Counting(rung_systems.StoppingSystem):
        def add(self, config_id, skip_rungs):
            heard["add"] += 1

        def on_report(self, config_id, time, reward, skip_rungs):
            heard["report"] += 1
            return super().on_report(config_id, time, reward, skip_rungs)

    monkeypatch.setitem(rung_systems.RUNG_SYSTEMS, "stopping", Counting)
    space = sch.space.SearchSpace(x=sch.space.Real(0.0, 1.0))
    searcher = searchers.RandomSearcher(space, reward_attr="acc", random_seed=0)
    policy = HyperbandPolicy(searcher, reward_attr="acc", time_attr="epoch", max_t=9)
    for task_id in range(5):
        suggestion = drive_suggest(policy)
        policy.on_task_start(task_id, suggestion)
        policy.on_report(task_id, {"epoch": 1, "acc": 0.1 * task_id})
        flush_feedback(policy)
    assert heard == {"add": 5, "report": 5}
