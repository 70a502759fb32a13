"""Regression tests for defects a review found in the runtime (each one used to hang a
run, kill workers or lose a task)."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from test_runtime import _fifo  # the FIFO test setup (2 CPUs, 1 per trial)

import scheduler as sch


@sch.args(x=sch.space.Real(0.0, 1.0))
def numpy_extra_fn(args, reporter):
    for e in range(3):
        reporter(epoch=e + 1, accuracy=args.x, extra=np.float32(0.1), vec=np.arange(2))


@sch.args(x=sch.space.Int(0, 1000))
def forking_exit_fn(args, reporter):
    reporter(epoch=1, accuracy=0.5)
    if os.fork() == 0:  # a child that inherits the worker's connection and lingers
        time.sleep(20)
        os._exit(0)
    os._exit(3)


@sch.args(x=sch.space.Int(0, 1000))
def forking_hang_fn(args, reporter):
    reporter(epoch=1, accuracy=0.5)
    if os.fork() == 0:
        time.sleep(20)
        os._exit(0)
    time.sleep(20)


@sch.args(x=sch.space.Real(0.0, 1.0))
def quick_fn(args, reporter):
    for e in range(2):
        time.sleep(0.05)
        reporter(epoch=e + 1, accuracy=args.x)


@pytest.mark.parametrize("backend", ["thread", "process"])
def test_numpy_values_in_reports_with_a_checkpoint(backend, tmp_path):
    s = _fifo(numpy_extra_fn, backend, checkpoint=tmp_path / "ckpt.json")
    s.run()
    assert s.join_jobs(timeout=60)
    assert [r.status for r in s.history.tasks.values()] == ["completed"] * 3
    resumed = _fifo(numpy_extra_fn, backend, checkpoint=tmp_path / "ckpt.json", resume=True)
    assert resumed.get_best_config() == s.get_best_config()


@pytest.mark.parametrize("fn", [forking_exit_fn, forking_hang_fn], ids=["exit", "hang"])
def test_a_forked_child_holding_the_connection_does_not_hide_a_dead_task(fn):
    s = _fifo(fn, "process", num_trials=2, max_task_time=1.0)
    t0 = time.monotonic()
    s.run()
    assert s.join_jobs(timeout=15)
    assert time.monotonic() - t0 < 10
    assert [r.status for r in s.history.tasks.values()] == ["failed", "failed"]


def test_run_from_another_thread_does_not_kill_the_workers():
    s = _fifo(quick_fn, "process", num_trials=4)
    starter = threading.Thread(target=s.run)
    starter.start()
    starter.join()
    assert s.join_jobs(timeout=60)
    assert [r.status for r in s.history.tasks.values()] == ["completed"] * 4


def test_a_checkpoint_folder_that_cannot_be_created_ends_the_run(tmp_path):
    s = _fifo(quick_fn, "thread", output_dir=tmp_path)
    with open(os.path.join(s.run_dir, "checkpoints"), "w") as f:
        f.write("not a folder")
    with pytest.raises(sch.CheckpointError, match="create the checkpoint folder"):
        s.run()
        s.join_jobs(timeout=20)
    assert not any(r.status == "running" for r in s.history.tasks.values())
    assert s._runner.resources.can_acquire()


def test_time_out_stops_promotions_too():
    @sch.args(x=sch.space.Real(0.0, 1.0), epochs=9)
    def fn(args, reporter):
        for e in range((args.scheduler.resume_from or 0) + 1, 10):
            time.sleep(0.05)
            reporter(epoch=e, accuracy=args.x * e)

    s = sch.HyperbandScheduler(
        fn,
        type="promotion",
        num_trials=None,
        time_out=1.0,
        stop_jobs_after_time_out=False,
        resource={"num_cpus": 1, "num_gpus": 0},
        total_resources={"num_cpus": 1, "num_gpus": 0},
        reward_attr="accuracy",
        time_attr="epoch",
        backend="thread",
        progress=False,
    )
    s.run()
    assert s.join_jobs(timeout=30)
    late = [r for r in s.history.tasks.values() if r.start_time - s._runner._start_wall > 1.05]
    assert late == []


def test_a_raising_callback_does_not_end_the_run(caplog):
    calls = []  # (reports per task seen by the callback, start time) per call

    def callback(history, start):
        calls.append(({task_id: len(rows) for task_id, rows in history.items()}, start))
        raise KeyError("oops")

    s = _fifo(
        quick_fn,
        "thread",
        num_trials=4,
        training_history_callback=callback,
        training_history_callback_delta_secs=0.01,
    )
    with caplog.at_level("ERROR", logger="scheduler"):
        s.run()
        assert s.join_jobs(timeout=30)
    assert [r.status for r in s.history.tasks.values()] == ["completed"] * 4
    # it ran (and raised) every time, the last call after the run saw every report
    assert calls, "the callback never ran"
    reports = {task_id: len(rows) for task_id, rows in s.training_history.items()}
    assert calls[-1][0] == reports and len(reports) == 4
    assert all(start == s._runner._start_wall for _, start in calls)
    raised = [r for r in caplog.records if "training_history_callback raised" in r.message]
    assert len(raised) == len(calls)


def test_a_worker_that_fails_to_start_takes_no_siblings_with_it(monkeypatch):
    import subprocess
    import sys
    from multiprocessing.connection import Connection

    from scheduler.runtime.backends import process as process_backend

    launched = []
    calls = __import__("itertools").count()  # (workers launch from their own threads)
    real_launch = process_backend.ProcessBackend._launch_worker

    def launch(self, token):
        if next(calls) == 1:  # the second worker dies before it is ready
            parent, child = __import__("socket").socketpair()
            popen = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(5)"])
            child.close()
            pair = (popen, Connection(parent.detach()))
        else:
            pair = real_launch(self, token)
        launched.append(pair)
        return pair

    monkeypatch.setattr(process_backend.ProcessBackend, "_launch_worker", launch)
    backend = process_backend.ProcessBackend(quick_fn, lambda *a: "continue", lambda *a: None)
    with pytest.raises(RuntimeError, match=r"failed to start .*exited with code 5"):
        backend.prepare(3)
    assert len(launched) == 3
    assert all(popen.poll() is not None for popen, _ in launched)  # all reaped, none left
    backend.shutdown(timeout=2)
