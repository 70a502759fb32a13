"""Every scheduler method the seed (AutoGluon's core.scheduler docs) lists, on this
runtime (issue 16): add_job / add_task, run_job, schedule_next, on_task_add,
on_task_report, sync_schedule_tasks, add_remote / upload_files, and the warnings the
seed promises for rung_levels and brackets."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest

import scheduler as sch
from scheduler.facades.rl import RLScheduler

SEED = next(Path("/work/shared/seeds").glob("003_*.txt"), None)
REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEDULERS = (sch.FIFOScheduler, sch.HyperbandScheduler, RLScheduler)


@sch.args(lr=sch.Real(0.0, 1.0), n=sch.Int(1, 8), opt={"m": sch.Categorical(0.0, 0.9)}, epochs=3)
def train_fn(args, reporter):
    for epoch in range(1, args.epochs + 1):
        reporter(epoch=epoch, accuracy=args.lr * epoch / 3)
    return {"lr": args.lr, "m": args.opt.m}


def _fifo(**kwargs):
    options = {"num_trials": 4, "backend": "thread", "progress": False, **kwargs}
    return sch.FIFOScheduler(train_fn, **options)


def _methods_in_seed(cls_name):
    text = SEED.read_text()
    block = text.split(f"class autogluon.core.scheduler.{cls_name}")[1].split("Methods")[1]
    block = block.split("join_tasks")[0]
    return sorted(set(re.findall(r"^(\w+)\(", block, re.M)))


@pytest.mark.skipif(SEED is None, reason="the seed documents are not on this machine")
@pytest.mark.parametrize("cls", SCHEDULERS, ids=lambda c: c.__name__)
def test_every_method_the_seed_lists_exists(cls):
    names = _methods_in_seed(cls.__name__)
    assert {"add_job", "schedule_next", "on_task_report", "upload_files"} <= set(names)
    missing = [name for name in names if not callable(getattr(cls, name, None))]
    assert missing == []
    assert callable(cls.join_tasks)
    if cls is RLScheduler:
        assert callable(cls.sync_schedule_tasks)


# -- schedule_next -------------------------------------------------------------------


def test_schedule_next_before_run_runs_step_by_step():
    s = _fifo(num_trials=10)
    for _ in range(3):
        s.schedule_next()
    assert s.join_jobs(timeout=60)
    assert len(s.history.tasks) == 3  # only the trials asked for, not num_trials
    assert s.history.status_counts()["completed"] == 3
    with pytest.raises(RuntimeError, match="this run has ended"):
        s.schedule_next()


def test_schedule_next_during_a_run_adds_a_trial():
    gate = threading.Event()

    @sch.args(x=sch.Int(0, 100))
    def slow(args, reporter):
        gate.wait(30)
        reporter(epoch=1, accuracy=args.x)

    s = sch.FIFOScheduler(slow, num_trials=2, backend="thread", progress=False)
    s.run()
    s.schedule_next()
    gate.set()
    assert s.join_jobs(timeout=60)
    assert len(s.history.tasks) == 3


def test_run_after_schedule_next_launches_num_trials_more():
    s = _fifo(num_trials=3)
    s.schedule_next()
    s.run()
    assert s.join_jobs(timeout=60)
    assert len(s.history.tasks) == 4


# -- add_job -------------------------------------------------------------------------


def test_add_job_runs_the_given_configs_first():
    s = _fifo(num_trials=2)
    wanted = {"lr": 0.25, "n": 3, "opt": {"m": 0.9}}
    s.add_job(sch.Task(config=wanted))
    ag_task = types.SimpleNamespace(args={"config": {"lr": 0.75, "n": 1, "opt": {"m": 0.0}}})
    s.add_job(ag_task)  # AutoGluon's Task shape: task.args['config']
    s.run()
    assert s.join_jobs(timeout=60)
    configs = [s.config_history[t] for t in sorted(s.config_history)]
    assert configs[:2] == [wanted, ag_task.args["config"]]
    assert len(configs) == 4  # added jobs come on top of num_trials, as in AutoGluon


def test_add_job_refuses_bad_configs_and_policy_decisions():
    s = _fifo()
    with pytest.raises(ValueError, match=r"config at 'opt.m': .*got 0.5"):
        s.add_job({"lr": 0.1, "n": 1, "opt": {"m": 0.5}})
    with pytest.raises(ValueError, match=r"not hyperparameters of the search space: \['typo'\]"):
        s.add_job({"lr": 0.1, "n": 1, "opt": {"m": 0.0}, "typo": 1})
    with pytest.raises(ValueError, match="config is missing hyperparameter 'n'"):
        s.add_job({"lr": 0.1, "opt": {"m": 0.0}})
    with pytest.raises(ValueError, match=r"decided by the scheduler's policy.*'bracket': 1"):
        s.add_job({"lr": 0.1, "n": 1, "opt": {"m": 0.0}}, bracket=1)
    with pytest.raises(ValueError, match="'new_config': False"):
        s.add_job({"lr": 0.1, "n": 1, "opt": {"m": 0.0}}, new_config=False)
    with pytest.raises(ValueError, match=r"task must be a scheduler\.Task or a config dict"):
        s.add_job(42)
    assert not s._runner.started  # nothing was started by the refused calls


def test_add_task_is_the_deprecated_add_job():
    s = _fifo()
    with pytest.warns(DeprecationWarning, match="add_task.. is deprecated in favor of add_job"):
        s.add_task({"lr": 0.5, "n": 2, "opt": {"m": 0.0}})
    assert s.join_jobs(timeout=60)
    assert list(s.config_history.values()) == [{"lr": 0.5, "n": 2, "opt": {"m": 0.0}}]


@pytest.mark.parametrize("kind", ["stopping", "promotion"])
def test_add_job_under_hyperband(kind):
    s = sch.HyperbandScheduler(
        train_fn, num_trials=3, backend="thread", progress=False, type=kind, grace_period=1
    )
    s.add_job({"lr": 1.0, "n": 8, "opt": {"m": 0.9}})
    s.run()
    assert s.join_jobs(timeout=60)
    assert s.config_history[0] == {"lr": 1.0, "n": 8, "opt": {"m": 0.9}}
    assert len({t.config_id for t in s.history.tasks.values()}) == 4


def test_add_job_under_rl():
    s = RLScheduler(train_fn, num_trials=2, backend="thread", progress=False)
    s.add_job({"lr": 0.125, "n": 5, "opt": {"m": 0.9}})
    s.run()
    assert s.join_jobs(timeout=60)
    assert s.config_history[0] == {"lr": 0.125, "n": 5, "opt": {"m": 0.9}}
    assert len(s.history.tasks) == 3
    assert s.policy.num_rewarded == 3  # the controller learned from the added config too


ADD_JOB_CRASH = """
import json, os, sys
import scheduler as sch

@sch.args(lr=sch.Real(0.0, 1.0), obj={"k": sch.Int(1, 9)}, epochs=2)
def train_fn(args, reporter):
    marker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "crashed")
    if args.lr == 0.5 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(3)  # the driver dies while the second added config runs
    for epoch in (1, 2):
        reporter(epoch=epoch, accuracy=args.lr + args.obj.k)

# num_trials counts every config started, so the resumed run (4) starts 2 new ones.
s = sch.FIFOScheduler(train_fn, num_trials=4, backend="thread", progress=False,
                      total_resources={"num_cpus": 1, "num_gpus": 0},
                      resource={"num_cpus": 1, "num_gpus": 0},
                      checkpoint=sys.argv[2], resume=sys.argv[1] == "resume")
if sys.argv[1] == "crash":
    s.add_job({"lr": 0.25, "obj": {"k": 2}})
    s.add_job({"lr": 0.5, "obj": {"k": 3}})
    s.join_jobs()
else:
    s.run()
    s.join_jobs()
print(json.dumps([[t.config_id, t.config, t.status] for t in s.history.tasks.values()]))
"""


def test_added_jobs_survive_a_crash_and_resume(tmp_path):
    script = tmp_path / "add_job_crash.py"
    script.write_text(ADD_JOB_CRASH)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))

    def run(mode):
        return subprocess.run(
            [sys.executable, str(script), mode, str(tmp_path / "ckpt.json")],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )

    crashed = run("crash")
    assert crashed.returncode == 3, crashed.stderr[-3000:]
    resumed = run("resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    tasks = json.loads(resumed.stdout)
    assert tasks[0] == [0, {"lr": 0.25, "obj": {"k": 2}}, "completed"]
    assert tasks[1] == [1, {"lr": 0.5, "obj": {"k": 3}}, "interrupted"]
    assert tasks[2] == [1, {"lr": 0.5, "obj": {"k": 3}}, "completed"]  # restarted
    assert len(tasks) == 5 and {t[2] for t in tasks[3:]} == {"completed"}


# -- hooks ---------------------------------------------------------------------------


class StopAtTwo(sch.FIFOScheduler):
    def __init__(self, *args, **kwargs):
        self.added = []
        super().__init__(*args, **kwargs)

    def on_task_add(self, task, **kwargs):
        self.added.append((task.task_id, task.config_id, dict(task.config), kwargs))

    def on_task_report(self, task, result):
        return result["epoch"] < 2


def test_on_task_report_can_stop_tasks_and_on_task_add_sees_starts():
    s = StopAtTwo(train_fn, num_trials=3, backend="thread", progress=False)
    s.run()
    assert s.join_jobs(timeout=60)
    assert s.history.status_counts()["stopped"] == 3
    assert all(len(rows) == 2 for rows in s.training_history.values())
    assert [a[:2] for a in s.added] == [(0, 0), (1, 1), (2, 2)]
    assert s.added[0][2] == s.config_history[0]
    assert s.added[0][3] == {"new_config": True, "bracket": None, "resume_from": None}


def test_hooks_not_overridden_leave_the_policy_unwrapped():
    from scheduler.schedulers.fifo import FIFOPolicy

    assert type(_fifo().policy) is FIFOPolicy
    assert type(StopAtTwo(train_fn, num_trials=1).policy).__name__ == "_HookedPolicy"
    assert _fifo().on_task_report(sch.Task(config={}), {}) is True


def test_a_raising_hook_is_logged_and_the_run_goes_on(caplog):
    class Broken(sch.FIFOScheduler):
        def on_task_report(self, task, result):
            raise RuntimeError("hook bug")

    s = Broken(train_fn, num_trials=2, backend="thread", progress=False)
    with caplog.at_level(logging.ERROR, logger="scheduler"):
        s.run()
        assert s.join_jobs(timeout=60)
    assert s.history.status_counts()["completed"] == 2
    assert "on_task_report raised for task 0" in caplog.text


# -- run_job, remote machines, RL ------------------------------------------------------


def test_run_job_runs_once_synchronously_outside_the_search():
    s = _fifo()
    value = s.run_job(sch.Task(config={"lr": 0.5, "n": 2, "opt": {"m": 0.9}}))
    assert value == {"lr": 0.5, "m": 0.9}  # the nested config was built for the task
    assert len(s.history.tasks) == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda: _fifo().add_remote(["10.0.0.2"]),
        lambda: sch.HyperbandScheduler.upload_files(["data.csv"]),
        lambda: _fifo(dist_ip_addrs=["10.0.0.2"]),
    ],
)
def test_remote_machines_point_to_the_ray_backend(call):
    with pytest.raises((NotImplementedError, ValueError), match=r'backend="ray" and ray_address='):
        call()


def test_rl_sync_schedule_tasks():
    s = RLScheduler(
        train_fn, num_trials=5, controller_batch_size=2, backend="thread", progress=False
    )
    assert s.sync_schedule_tasks() is True
    assert len(s.history.tasks) == 5 and s.policy.num_updates == 3
    with pytest.raises(ValueError, match="built with sync=False"):
        RLScheduler(train_fn, num_trials=1, sync=False).sync_schedule_tasks()


# -- the warnings the seed promises ----------------------------------------------------


def test_rung_levels_with_grace_period_or_reduction_factor_logs_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="scheduler"):
        sch.HyperbandScheduler(train_fn, num_trials=1, rung_levels=[1, 2])
    assert caplog.text == ""
    with caplog.at_level(logging.WARNING, logger="scheduler"):
        s = sch.HyperbandScheduler(
            train_fn, num_trials=1, rung_levels=[1, 2], grace_period=1, reduction_factor=4
        )
    assert "rung_levels=[1, 2] is given, so grace_period=1 and reduction_factor=4 is ignored" in (
        caplog.text
    )
    assert list(s.policy.levels) == [1, 2]


def test_brackets_above_the_cap_log_the_cap(caplog):
    with caplog.at_level(logging.WARNING, logger="scheduler"):
        s = sch.HyperbandScheduler(train_fn, num_trials=1, brackets=5, max_t=9)
    assert s.policy.num_brackets == 3
    assert "brackets=5 is more than the 3 that rung levels [1, 3] allow" in caplog.text
    assert "using 3 brackets" in caplog.text
