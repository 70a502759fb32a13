"""The task/reporter runtime under FIFOScheduler: results, limits and every failure.

Each failure case must end as a failed task with a clear reason within seconds, give
its resources back, and let ``run()``/``join_jobs()`` return.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import scheduler as sch

BACKENDS = ["thread", "process"]


def _fifo(train_fn, backend, **kw):
    kw.setdefault("num_trials", 3)
    kw.setdefault("resource", {"num_cpus": 1, "num_gpus": 0})
    kw.setdefault("total_resources", {"num_cpus": 2, "num_gpus": 0})
    kw.setdefault("reward_attr", "accuracy")
    kw.setdefault("time_attr", "epoch")
    kw.setdefault("progress", False)
    # these tests fail trials on purpose: fail_fast has tests of its own
    kw.setdefault("fail_fast", False)
    return sch.FIFOScheduler(train_fn, backend=backend, **kw)


def _run(s, timeout=30):
    t0 = time.monotonic()
    s.run()
    assert s.join_jobs(timeout=timeout), "join_jobs timed out"
    return time.monotonic() - t0


def _statuses(s):
    return [s.history.tasks[t].status for t in sorted(s.history.tasks)]


# -- train functions (module level: the process backend ships them by reference) --


@sch.args(lr=sch.space.Real(1e-3, 1e-2, log=True), epochs=4)
def good_fn(args, reporter):
    for e in range(args.epochs):
        reporter(epoch=e + 1, accuracy=1 - 1 / (e + 2) + args.lr)


@sch.args(x=sch.space.Int(0, 1000))
def raising_fn(args, reporter):
    reporter(epoch=1, accuracy=0.5)
    raise RuntimeError(f"boom at task {args.task_id}")


@sch.args(x=sch.space.Int(0, 1000))
def exit_fn(args, reporter):
    reporter(epoch=1, accuracy=0.5)
    os._exit(3)


@sch.args(x=sch.space.Int(0, 1000))
def sigkill_fn(args, reporter):
    reporter(epoch=1, accuracy=0.5)
    os.kill(os.getpid(), signal.SIGKILL)


@sch.args(x=sch.space.Int(0, 1000))
def segfault_fn(args, reporter):
    reporter(epoch=1, accuracy=0.5)
    ctypes.string_at(0)


@sch.args(x=sch.space.Int(0, 1000))
def hang_fn(args, reporter):
    reporter(epoch=1, accuracy=0.5)
    time.sleep(60)


@sch.args(x=sch.space.Int(0, 1000))
def silent_fn(args, reporter):
    return 42


BAD_REPORTS = {
    "missing reward": (dict(epoch=1), "no reward_attr 'accuracy'"),
    "None reward": (dict(epoch=1, accuracy=None), "must be a real number, got None"),
    "string reward": (dict(epoch=1, accuracy="high"), "must be a real number, got 'high'"),
    "float time": (dict(epoch=1.5, accuracy=0.1), "must be a positive integer, got 1.5"),
    "negative time": (dict(epoch=-1, accuracy=0.1), "must be an integer >= 0, got -1"),
}


@sch.args(case=sch.space.Categorical(*sorted(BAD_REPORTS)))
def bad_report_fn(args, reporter):
    reporter(**BAD_REPORTS[args.case][0])


@sch.args(x=sch.space.Int(0, 1000))
def decreasing_time_fn(args, reporter):
    reporter(epoch=2, accuracy=0.1)
    reporter(epoch=2, accuracy=0.2)


@sch.args(x=sch.space.Int(0, 1000))
def nan_fn(args, reporter):
    reporter(epoch=1, accuracy=0.3)
    reporter(epoch=2, accuracy=float("nan"))
    reporter(epoch=3, accuracy=0.9)


@sch.args(x=sch.space.Int(0, 1000))
def swallow_fn(args, reporter):
    # TaskStopped is a BaseException: `except Exception` must not catch it.
    for e in range(1000):
        with contextlib.suppress(Exception):
            reporter(epoch=e + 1, accuracy=0.1)
        time.sleep(0.01)


@sch.args(x=sch.space.Int(0, 1000))
def gpu_fn(args, reporter):
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    began = time.time()
    time.sleep(0.3)  # long enough for the two workers' tasks to overlap
    reporter(
        epoch=1,
        accuracy=0.5,
        visible=visible,
        gpu_ids=list(args.gpu_ids),
        began=began,
        ended=time.time(),
    )


@sch.args(x=sch.space.Int(0, 1000), epochs=2)
def threshold_fn(args, reporter):
    # only task 3 reaches max_reward (0.9)
    for e in range(1, args.epochs + 1):
        reporter(epoch=e, accuracy=0.9 if args.task_id == 3 else 0.1)


# -- tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_fifo_runs_all_trials_and_records_history(backend, tmp_path):
    s = _fifo(good_fn, backend, num_trials=5, output_dir=tmp_path)
    _run(s)
    assert _statuses(s) == ["completed"] * 5
    assert s.num_finished_tasks == 5
    for task_id, rows in s.training_history.items():
        assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
        assert all(r["time_this_iter"] >= 0 and r["time_since_start"] >= 0 for r in rows)
        assert s.config_history[task_id]["lr"] == pytest.approx(rows[0]["accuracy"] - 0.5)
    best = s.get_best_config()
    assert best["lr"] == max(c["lr"] for c in s.config_history.values())
    assert s.get_best_reward() == pytest.approx(0.8 + best["lr"])
    run_dir = Path(s.run_dir)
    assert run_dir.parent == tmp_path and (tmp_path / "latest").resolve() == run_dir
    assert (run_dir / "results.csv").read_text().count("\n") == 5 * 4 + 1
    assert len((run_dir / "results.jsonl").read_text().splitlines()) == 20


@pytest.mark.parametrize("backend", BACKENDS)
def test_raising_train_fn_fails_task_keeps_traceback(backend):
    s = _fifo(raising_fn, backend)
    _run(s)
    assert _statuses(s) == ["failed"] * 3
    record = s.history.tasks[0]
    assert "RuntimeError: boom at task 0" in record.reason
    assert "raise RuntimeError" in record.traceback


@pytest.mark.parametrize(
    "fn, reason",
    [
        (exit_fn, "exited with code 3"),
        (sigkill_fn, "killed by SIGKILL"),
        (segfault_fn, "killed by SIGSEGV"),
    ],
    ids=["os._exit", "SIGKILL", "SIGSEGV"],
)
def test_dead_worker_process_fails_task_and_is_replaced(fn, reason):
    s = _fifo(fn, "process", num_trials=4)
    elapsed = _run(s)
    assert _statuses(s) == ["failed"] * 4
    assert all(reason in s.history.tasks[t].reason for t in s.history.tasks)
    assert elapsed < 20


@pytest.mark.parametrize("backend", BACKENDS)
def test_hanging_task_is_ended_at_max_task_time(backend):
    s = _fifo(hang_fn, backend, num_trials=2, max_task_time=0.5)
    elapsed = _run(s)
    assert _statuses(s) == ["failed", "failed"]
    assert "exceeded max_task_time=0.5s" in s.history.tasks[0].reason
    assert elapsed < 10


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_reports_fail_the_task_with_the_key_and_value(backend):
    s = _fifo(bad_report_fn, backend, num_trials=len(BAD_REPORTS), searcher="grid")
    _run(s)
    assert _statuses(s) == ["failed"] * len(BAD_REPORTS)
    for record in s.history.tasks.values():
        expected = BAD_REPORTS[record.config["case"]][1]
        assert record.reason.startswith("ValueError: ")
        assert expected in record.reason


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_increasing_time_fails_task(backend):
    s = _fifo(decreasing_time_fn, backend, num_trials=1)
    _run(s)
    assert _statuses(s) == ["failed"]
    assert "must increase from report to report, got 2 after 2" in s.history.tasks[0].reason
    assert len(s.training_history[0]) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_task_that_never_reports_fails(backend):
    s = _fifo(silent_fn, backend, num_trials=2)
    _run(s)
    assert _statuses(s) == ["failed", "failed"]
    assert "without reporting" in s.history.tasks[0].reason


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_reward_ends_task_as_diverged(backend):
    s = _fifo(nan_fn, backend, num_trials=2)
    _run(s)
    assert _statuses(s) == ["diverged", "diverged"]
    assert [r["epoch"] for r in s.training_history[0]] == [1, 2]
    # judged at its highest fidelity, a diverged config has no valid reward
    assert s.get_best_reward() is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_out_stops_running_jobs_at_next_report(backend):
    s = _fifo(swallow_fn, backend, num_trials=None, time_out=0.5)
    elapsed = _run(s)
    assert elapsed < 10
    assert set(_statuses(s)) == {"stopped"}
    assert "time_out=0.5s" in s.history.tasks[0].reason


@pytest.mark.parametrize("backend", BACKENDS)
def test_max_reward_stops_launching(backend):
    """One worker: tasks 0-2 stay below max_reward and the next one is started; task 3
    reaches it, runs to its end (max_reward stops launches, not running tasks), and no
    task is started after it."""
    s = _fifo(
        threshold_fn,
        backend,
        num_trials=50,
        max_reward=0.9,
        total_resources={"num_cpus": 1, "num_gpus": 0},
    )
    _run(s)
    assert sorted(s.history.tasks) == [0, 1, 2, 3]
    assert _statuses(s) == ["completed"] * 4
    assert [row["epoch"] for row in s.training_history[3]] == [1, 2]
    assert s.get_best_reward() == 0.9


def test_ctrl_c_in_driver_stops_tasks_and_returns_control():
    s = _fifo(swallow_fn, "process", num_trials=4)
    s.run()
    timer = threading.Timer(0.5, lambda: __import__("_thread").interrupt_main())
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        s.join_jobs()
    assert time.monotonic() - t0 < 10
    assert "running" not in _statuses(s)


def test_gpu_ids_and_cuda_visible_devices():
    s = _fifo(
        gpu_fn,
        "process",
        num_trials=4,
        resource={"num_cpus": 1, "num_gpus": 1},
        total_resources={"num_cpus": 2, "num_gpus": 2},
    )
    _run(s)
    rows = []
    for task_rows in s.training_history.values():
        (row,) = task_rows
        assert row["visible"] == ",".join(str(i) for i in row["gpu_ids"])
        assert len(row["gpu_ids"]) == 1 and row["gpu_ids"][0] in (0, 1)
        rows.append(row)
    assert len(rows) == 4
    overlapping = [
        (a, b)
        for i, a in enumerate(rows)
        for b in rows[i + 1 :]
        if a["began"] < b["ended"] and b["began"] < a["ended"]
    ]
    assert overlapping, "no two tasks ran at the same time: the test checked nothing"
    for a, b in overlapping:  # two tasks running at once never share a GPU
        assert a["gpu_ids"] != b["gpu_ids"], (a, b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_closure_train_fn(backend):
    offset = 0.25

    @sch.args(x=sch.space.Real(0.0, 1.0))
    def closure_fn(args, reporter):
        reporter(epoch=1, accuracy=offset + args.x)

    s = _fifo(closure_fn, backend, num_trials=3)
    _run(s)
    assert _statuses(s) == ["completed"] * 3
    for task_id, rows in s.training_history.items():
        assert rows[0]["accuracy"] == pytest.approx(0.25 + s.config_history[task_id]["x"])


def test_training_history_callback_is_called():
    calls = []
    s = _fifo(
        good_fn,
        "thread",
        num_trials=4,
        training_history_callback=lambda history, start: calls.append((len(history), start)),
        training_history_callback_delta_secs=0.01,
    )
    _run(s)
    assert calls, "callback never called"
    assert calls[-1][0] == 4
    assert isinstance(calls[-1][1], float)


def test_schedulers_have_their_own_resources_and_task_ids():
    a = _fifo(good_fn, "thread", num_trials=2, total_resources={"num_cpus": 1})
    b = _fifo(good_fn, "thread", num_trials=3, total_resources={"num_cpus": 1})
    a.run()
    b.run()
    assert a.join_jobs(timeout=30) and b.join_jobs(timeout=30)
    assert sorted(a.history.tasks) == [0, 1]
    assert sorted(b.history.tasks) == [0, 1, 2]


def test_run_with_config_runs_in_process():
    s = _fifo(good_fn, "thread")
    value, reports = s.run_with_config({"lr": 0.005})
    assert value is None
    assert [r["epoch"] for r in reports] == [1, 2, 3, 4]
    assert reports[-1]["accuracy"] == pytest.approx(0.8 + 0.005)


def test_state_dict_is_json_and_round_trips(tmp_path):
    import json

    s = _fifo(good_fn, "thread", num_trials=3)
    _run(s)
    state = json.loads(json.dumps(s.state_dict()))
    fresh = _fifo(good_fn, "thread", num_trials=3)
    fresh.load_state_dict(state)
    assert fresh.get_best_config() == s.get_best_config()
    assert fresh.get_best_reward() == s.get_best_reward()
    other = _fifo(raising_fn, "thread")
    with pytest.raises(ValueError, match="different search space"):
        other.load_state_dict(state)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_trials=None), "one of num_trials, time_out must be given"),
        (dict(num_trials=0), "num_trials must be a positive integer, got 0"),
        (dict(time_out=-1), "time_out must be a positive number, got -1"),
        (dict(mode="avg"), "mode must be 'max' or 'min', got 'avg'"),
        (dict(resource={"num_cpus": 3}), "num_cpus=3 exceeds the 2 CPUs"),
        (dict(resource={"num_gpus": 1}), "num_gpus=1 exceeds the 0 GPUs"),
        (dict(resource={"cpus": 1}), "unknown keys ['cpus']"),
        (dict(searcher="bayes"), "bayes"),
        (dict(max_task_time=0), "max_task_time must be a positive number, got 0"),
        (dict(max_reward=float("nan")), "max_reward must be a number (not NaN), got nan"),
        # None used to be let through, and the runtime's loop then compared times with it
        (
            dict(training_history_callback=print, training_history_callback_delta_secs=None),
            "training_history_callback_delta_secs must be a positive number, got None",
        ),
    ],
)
def test_invalid_arguments_name_the_parameter(kwargs, message):
    backend = kwargs.pop("backend", "thread")
    with pytest.raises(ValueError) as info:
        _fifo(good_fn, backend, **kwargs)
    assert message in str(info.value)


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="num_trail"):
        sch.FIFOScheduler(good_fn, num_trail=3)


def test_task_stopped_is_a_base_exception():
    assert issubclass(sch.TaskStopped, BaseException)
    assert not issubclass(sch.TaskStopped, Exception)


def test_results_rows(tmp_path):
    s = _fifo(good_fn, "thread", num_trials=2)
    _run(s)
    rows = s.results()
    n = len(rows)
    assert n == 8
    if not isinstance(rows, list):
        rows = rows.to_dict("records")
    assert {"config.lr", "accuracy", "epoch", "task_id", "time_this_iter"} <= set(rows[0])
    assert np.isfinite([r["accuracy"] for r in rows]).all()


def test_autogluon_save_load_state_dict_round_trip(tmp_path):
    s = _fifo(good_fn, "thread", num_trials=3)
    _run(s)
    sch.save(s.state_dict(), tmp_path / "checkpoint.ag")
    fresh = _fifo(good_fn, "thread", num_trials=3)
    fresh.load_state_dict(sch.load(tmp_path / "checkpoint.ag"))
    assert fresh.get_best_config() == s.get_best_config()
    into = {"mine": 1}
    assert s.state_dict(destination=into) is into and into["mine"] == 1 and "policy" in into


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(dist_ip_addrs=["10.0.0.2"]), "dist_ip_addrs: remote machines are run by the Ray"),
        (
            dict(constraint_attr="latency"),
            "constraint_attr='latency' needs constrained Bayesian optimization: "
            "searcher='bayesopt_constrained'",
        ),
        (dict(training_history_searcher_info=True), "needs a model-based searcher"),
    ],
)
def test_autogluon_parameters_without_the_feature_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        _fifo(good_fn, "thread", **kwargs)
    defaults = dict(dist_ip_addrs=None, constraint_attr=None, training_history_searcher_info=False)
    _fifo(good_fn, "thread", **defaults)  # AutoGluon's defaults are accepted


def test_reserved_report_keys_are_refused():
    @sch.args(x=sch.space.Real(0.0, 1.0))
    def fn(args, reporter):
        reporter(epoch=1, accuracy=args.x, status="ok")

    s = _fifo(fn, "thread", num_trials=1)
    _run(s)
    assert "key 'status' is reserved" in s.history.tasks[0].reason
