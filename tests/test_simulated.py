"""The simulated backend: a virtual clock, events in virtual-time order, determinism."""

from __future__ import annotations

import math

import pytest

import scheduler as sch
from scheduler.results.export import read_jsonl


class Curves:
    """A benchmark object: learning curves that cross, epochs of config-dependent cost."""

    max_epochs = 9

    def __init__(self):
        self.space = {"x": sch.space.Real(0.0, 1.0), "y": sch.space.Real(0.0, 1.0)}
        self.calls = []

    def objective(self, config, epoch):
        self.calls.append((config["x"], epoch))
        final = 1 - (config["x"] - 0.3) ** 2 - (config["y"] - 0.6) ** 2
        speed = 1 + 4 * config["y"]
        return final * (1 - math.exp(-epoch / speed)), 10.0 + 20.0 * config["x"]


def _hb(bench, **kw):
    kw.setdefault("num_trials", 60)
    kw.setdefault("resource", {"num_cpus": 1, "num_gpus": 0})
    kw.setdefault("total_resources", {"num_cpus": 4, "num_gpus": 0})
    kw.setdefault("reduction_factor", 3)
    kw.setdefault("progress", False)
    return sch.HyperbandScheduler(bench, backend="simulated", **kw)


def _events(s):
    return [
        (r["task_id"], r["epoch"], r["accuracy"], r["decision"], r["time_since_start"])
        for r in s.history.rows()
    ]


@pytest.mark.parametrize("kind", ["stopping", "promotion"])
def test_same_seed_same_events_and_decisions(kind):
    runs = []
    for _ in range(2):
        s = _hb(Curves(), type=kind)
        s.run()
        assert s.join_jobs()
        runs.append(s)
    assert _events(runs[0]) == _events(runs[1])
    assert runs[0].get_best_config() == runs[1].get_best_config()
    other = _hb(Curves(), type=kind, search_options={"random_seed": 7})
    other.run()
    assert _events(other) != _events(runs[0])


def test_reports_arrive_in_virtual_time_order_with_parallel_workers():
    s = _hb(Curves(), type="stopping")
    clock_at_report = []
    inner = s._runner.handle_report

    def recording(task_id, result):
        clock_at_report.append(s._runner.clock())
        return inner(task_id, result)

    s._runner.handle_report = recording
    s.run()
    assert clock_at_report == sorted(clock_at_report)
    assert len(set(clock_at_report)) > 10
    rows = s.history.rows()
    # per task, epochs cost exactly what the objective said
    for task_id, task_rows in s.training_history.items():
        x = s.history.tasks[task_id].config["x"]
        for k, row in enumerate(task_rows, start=1):
            assert row["elapsed_time"] == pytest.approx(10.0 + 20.0 * x)
            assert row["time_since_start"] == pytest.approx(k * (10.0 + 20.0 * x))
    # 4 workers in parallel: the virtual makespan is far below the sum of all epochs
    total = sum(r["elapsed_time"] for r in rows)
    assert s._runner.clock() < total / 3


def test_task_start_and_end_times_are_virtual():
    s = _hb(Curves(), type="stopping")
    s.run()
    tasks = list(s.history.tasks.values())
    t0 = min(t.start_time for t in tasks)
    for task in tasks:
        rows = s.training_history[task.task_id]
        # a task's recorded duration is its virtual one (its epochs' cost)
        assert task.end_time - task.start_time == pytest.approx(rows[-1]["time_since_start"])
    # 4 workers: tasks start over the run's virtual span, not within real milliseconds
    assert max(t.end_time for t in tasks) - t0 == pytest.approx(s._runner.clock())


def test_time_out_counts_virtual_seconds():
    s = _hb(Curves(), type="stopping", num_trials=None, time_out=500.0)
    s.run()
    assert s.join_jobs()
    assert s._runner.clock() <= 500.0 + 30.0 * 9  # tasks stop at their next report
    starts = [t.start_time for t in s.history.tasks.values()]
    assert len(starts) > 4


def test_a_train_fn_reporting_its_step_cost():
    @sch.args(x=sch.space.Real(0.0, 1.0), epochs=6)
    def train_fn(args, reporter):
        for e in range(1, args.epochs + 1):
            reporter(epoch=e, accuracy=args.x * e, elapsed_time=5.0 + args.x)

    s = sch.HyperbandScheduler(
        train_fn,
        backend="simulated",
        num_trials=30,
        type="promotion",
        resource={"num_cpus": 1, "num_gpus": 0},
        total_resources={"num_cpus": 3, "num_gpus": 0},
        reduction_factor=2,
        progress=False,
    )
    s.run()
    assert s.join_jobs()
    statuses = s.history.status_counts()
    assert statuses["paused"] > 0 and statuses["completed"] > 0
    again = sch.HyperbandScheduler(
        train_fn,
        backend="simulated",
        num_trials=30,
        type="promotion",
        resource={"num_cpus": 1, "num_gpus": 0},
        total_resources={"num_cpus": 3, "num_gpus": 0},
        reduction_factor=2,
        progress=False,
    )
    again.run()
    assert _events(again) == _events(s)


def test_a_missing_step_cost_fails_the_task_naming_the_key():
    @sch.args(x=sch.space.Real(0.0, 1.0), epochs=3)
    def train_fn(args, reporter):
        reporter(epoch=1, accuracy=args.x)

    s = sch.FIFOScheduler(train_fn, backend="simulated", num_trials=3, fail_fast=False)
    s.run()
    reasons = {t.reason for t in s.history.tasks.values()}
    assert all("'elapsed_time'" in r and "elapsed_time_attr" in r for r in reasons), reasons


def test_max_task_time_is_virtual():
    class Slow(Curves):
        def objective(self, config, epoch):
            metric, _ = super().objective(config, epoch)
            return metric, 1000.0 if config["x"] > 0.5 else 1.0

    s = _hb(Slow(), type="stopping", max_task_time=100.0, fail_fast=False)
    s.run()
    failed = [t for t in s.history.tasks.values() if t.status == "failed"]
    assert failed and all("max_task_time=100.0" in t.reason for t in failed)
    assert all(t.config["x"] > 0.5 for t in failed)


def test_a_benchmark_needs_the_simulated_backend():
    with pytest.raises(ValueError, match="backend='simulated'"):
        sch.HyperbandScheduler(Curves(), backend="thread", num_trials=3)


def test_results_and_checkpoint_resume_on_the_virtual_clock(tmp_path):
    ckpt = str(tmp_path / "ckpt.json")
    s = _hb(Curves(), type="promotion", output_dir=tmp_path, checkpoint=ckpt)
    s.run()
    assert len(read_jsonl(f"{s.run_dir}/results.jsonl")) == len(s.history.rows())
    resumed = _hb(Curves(), type="promotion", checkpoint=ckpt, resume=True, num_trials=80)
    assert len(resumed.history.rows()) == len(s.history.rows())
    resumed.run()
    assert len({t.config_id for t in resumed.history.tasks.values()}) == 80
