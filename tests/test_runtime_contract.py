"""The runtime keeps its contract under faults (issue 9): I/O failures end a run cleanly
and a resume continues it, one driver per checkpoint, consistent reads during a run,
failures you can see, fail_fast, non-finite rewards, per-run folders."""

from __future__ import annotations

import errno
import glob
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings

import pytest

import scheduler as sch
from scheduler.durability import journal as journal_module
from scheduler.durability.journal import Journal
from scheduler.results.export import ResultsWriter, read_jsonl


@sch.args(x=sch.space.Real(0.0, 1.0), epochs=4)
def steady_fn(args, reporter):
    for e in range(1, args.epochs + 1):
        time.sleep(0.002)
        reporter(epoch=e, accuracy=args.x * e)


def _fifo(fn=steady_fn, **kw):
    kw.setdefault("num_trials", 8)
    kw.setdefault("resource", {"num_cpus": 1, "num_gpus": 0})
    kw.setdefault("total_resources", {"num_cpus": 2, "num_gpus": 0})
    kw.setdefault("backend", "thread")
    kw.setdefault("progress", False)
    return sch.FIFOScheduler(fn, **kw)


def _hb(fn=steady_fn, **kw):
    kw.setdefault("num_trials", 8)
    kw.setdefault("resource", {"num_cpus": 1, "num_gpus": 0})
    kw.setdefault("total_resources", {"num_cpus": 2, "num_gpus": 0})
    kw.setdefault("backend", "thread")
    kw.setdefault("progress", False)
    kw.setdefault("grace_period", 1)
    kw.setdefault("reduction_factor", 2)
    return sch.HyperbandScheduler(fn, **kw)


def _run_expecting(s, error, match, limit=5.0):
    """Run ``s``; it must end within ``limit`` seconds raising ``error``."""
    start = time.monotonic()
    with pytest.raises(error, match=match):
        s.run()
        s.join_jobs(timeout=30)
    assert time.monotonic() - start < limit, "the run did not end within its limit"
    assert s._runner.finished
    assert not [r for r in s.history.tasks.values() if r.status == "running"]
    assert s._runner.resources.can_acquire()  # every resource came back


def _enospc():
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# -- I/O failures ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["start", "report", "end"])
@pytest.mark.parametrize("backend", ["thread", "process"])
def test_journal_write_failure_ends_the_run_and_resume_continues(
    tmp_path, monkeypatch, kind, backend
):
    ckpt = str(tmp_path / "ckpt.json")
    append = Journal.append
    seen = {"n": 0}

    def failing(self, event):
        if event["type"] == kind:
            seen["n"] += 1
            if seen["n"] == 5:
                raise _enospc()
        return append(self, event)

    monkeypatch.setattr(Journal, "append", failing)
    s = _fifo(checkpoint=ckpt, output_dir=tmp_path / "out", backend=backend)
    _run_expecting(s, sch.CheckpointError, r"journal .*ckpt\.json\.journal.*No space left")
    journaled = s.history.rows()
    monkeypatch.undo()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resumed = _fifo(checkpoint=ckpt, output_dir=tmp_path / "out", resume=True)
    assert resumed.run_dir == s.run_dir
    before = {(r["task_id"], r["epoch"]) for r in resumed.history.rows()}
    # what the failed run told its tasks is all there (its last, unjournaled report is
    # not: that task heard 'stop' instead of the decision)
    assert len(before) >= len(journaled) - 2
    resumed.run()
    assert resumed.join_jobs(timeout=60)
    statuses = [r.status for r in resumed.history.tasks.values()]
    assert statuses.count("completed") == 8
    rows = resumed.history.rows()
    files = read_jsonl(os.path.join(resumed.run_dir, "results.jsonl"))
    assert [(r["task_id"], r["epoch"]) for r in files] == [(r["task_id"], r["epoch"]) for r in rows]


def test_results_write_failure_ends_the_run_naming_the_file(tmp_path, monkeypatch):
    write = ResultsWriter._append_jsonl
    seen = {"n": 0}

    def failing(self, records):  # the rows queued meanwhile come in one call
        seen["n"] += len(records)
        if seen["n"] >= 7:
            raise _enospc()
        return write(self, records)

    monkeypatch.setattr(ResultsWriter, "_append_jsonl", failing)
    ckpt = str(tmp_path / "ckpt.json")
    s = _fifo(output_dir=tmp_path / "out", checkpoint=ckpt)
    _run_expecting(s, sch.CheckpointError, r"write results rows to .*results.*No space left")
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resumed = _fifo(checkpoint=ckpt, output_dir=tmp_path / "out", resume=True)
    resumed.run()
    assert resumed.join_jobs(timeout=60)
    files = read_jsonl(os.path.join(resumed.run_dir, "results.jsonl"))
    rows = resumed.history.rows()
    assert [(r["task_id"], r["epoch"]) for r in files] == [(r["task_id"], r["epoch"]) for r in rows]
    assert sum(not r["replay"] for r in rows) == 8 * 4  # each epoch of each config once


def test_snapshot_write_failure_ends_the_run(tmp_path, monkeypatch):
    def failing(path, text):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(journal_module, "atomic_write_text", failing)
    monkeypatch.setattr(Journal, "wants_snapshot", lambda self: self.seq - self._covered >= 6)
    ckpt = str(tmp_path / "ckpt.json")
    s = _hb(checkpoint=ckpt)
    _run_expecting(s, sch.CheckpointError, r"write the snapshot .*ckpt\.json.*Input/output")
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resumed = _hb(checkpoint=ckpt, resume=True)
    resumed.run()
    assert resumed.join_jobs(timeout=60)
    assert len({r.config_id for r in resumed.history.tasks.values()}) == 8


def test_a_full_disk_ends_the_run_cleanly(tmp_path):
    """A real full disk: a 256 KiB tmpfs (needs root; skipped otherwise)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)]).returncode:
        pytest.skip("could not mount a tmpfs (no privileges in this container)")
    try:

        @sch.args(x=sch.space.Real(0.0, 1.0), epochs=50)
        def chatty(args, reporter):
            for e in range(1, args.epochs + 1):
                reporter(epoch=e, accuracy=args.x, log="x" * 2000)

        s = _fifo(chatty, num_trials=100, checkpoint=str(disk / "ckpt.json"), output_dir=disk)
        _run_expecting(s, sch.CheckpointError, r"No space left", limit=20)
    finally:
        subprocess.run(["umount", "-l", str(disk)])


# -- one driver per checkpoint -----------------------------------------------------------


def test_a_second_driver_on_one_checkpoint_is_refused(tmp_path):
    ckpt = str(tmp_path / "ckpt.json")
    first = _fifo(checkpoint=ckpt)
    with pytest.raises(sch.CheckpointInUseError, match=rf"in use by process {os.getpid()}"):
        _fifo(checkpoint=ckpt, resume=True)
    first.run()
    assert first.join_jobs(timeout=60)
    again = _fifo(checkpoint=ckpt, resume=True, num_trials=9)  # released at the end
    again.run()
    assert again.join_jobs(timeout=60)
    assert len(again.history.tasks) == 9


def test_the_lock_of_a_killed_driver_is_taken_over(tmp_path):
    ckpt = str(tmp_path / "ckpt.json")
    code = (
        "import os, scheduler as sch\n"
        "@sch.args(x=sch.space.Real(0, 1))\n"
        "def fn(args, reporter):\n"
        "    reporter(accuracy=args.x)\n"
        f"s = sch.FIFOScheduler(fn, num_trials=2, checkpoint={ckpt!r}, backend='thread')\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    s = _fifo(checkpoint=ckpt, resume=True)  # no run yet: resumes as a new one
    s.run()
    assert s.join_jobs(timeout=60)


# -- reads while the run goes on ---------------------------------------------------------


def test_reads_from_another_thread_during_a_run_are_consistent():
    s = _hb(num_trials=60, reduction_factor=2, type="promotion")
    errors, calls = [], [0]
    stop = threading.Event()

    def reader():
        try:
            while not stop.is_set():
                s.get_best_config()
                s.get_best_reward()
                s.get_best_task_id()
                s.results()
                _ = s.training_history
                with s._runner.lock:
                    s.history._check()
                calls[0] += 1
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    s.run()
    assert s.join_jobs(timeout=120)
    stop.set()
    thread.join(10)
    assert not errors, errors
    assert calls[0] > 0
    s.history._check()


# -- failures you can see ----------------------------------------------------------------


@sch.args(x=sch.space.Real(0.0, 1.0), epochs=2)
def misspelled_fn(args, reporter):
    reporter(epoch=1, acc=args.x)  # the scheduler waits for 'accuracy'


def test_each_failure_is_logged_once_with_its_reason_and_a_summary(caplog):
    caplog.set_level(logging.WARNING, logger="scheduler")
    s = _fifo(misspelled_fn, num_trials=6, fail_fast=False)
    s.run()
    assert s.join_jobs(timeout=60)
    lines = [r.getMessage() for r in caplog.records]
    first = [line for line in lines if "failed: ValueError" in line]
    assert len(first) == 1, lines  # repeats are counted, not repeated
    assert "task" in first[0] and "config" in first[0] and "reward_attr 'accuracy'" in first[0]
    assert __file__ in first[0]  # the user's file and line
    assert any("6 of 6 tasks failed; most common reason: ValueError" in line for line in lines)


def test_fail_fast_auto_stops_when_the_first_tasks_all_fail_alike():
    s = _fifo(misspelled_fn, num_trials=50)
    with pytest.raises(sch.TrialsFailedError, match="first 4 tasks all failed") as info:
        s.run()
        s.join_jobs(timeout=60)
    assert "reward_attr 'accuracy'" in info.value.reason
    assert "misspelled_fn" in info.value.traceback
    assert len(s.history.tasks) < 50


def test_fail_fast_true_stops_at_the_first_failure_and_false_never():
    s = _fifo(misspelled_fn, num_trials=20, fail_fast=True, total_resources={"num_cpus": 1})
    with pytest.raises(sch.TrialsFailedError, match="first failed task"):
        s.run()
        s.join_jobs(timeout=60)
    assert len(s.history.tasks) <= 2
    s = _fifo(misspelled_fn, num_trials=10, fail_fast=False)
    s.run()
    assert s.join_jobs(timeout=60)
    assert [r.status for r in s.history.tasks.values()] == ["failed"] * 10


def test_fail_fast_auto_keeps_going_when_one_early_task_succeeds():
    @sch.args(x=sch.space.Categorical(*range(12)))
    def mostly_failing(args, reporter):
        if args.x != 0:
            raise RuntimeError("broken config")
        reporter(accuracy=1.0)

    s = _fifo(mostly_failing, num_trials=12, searcher="grid")
    s.run()
    assert s.join_jobs(timeout=60)
    assert len(s.history.tasks) == 12


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_rewards_end_the_task_as_diverged(value):
    @sch.args(x=sch.space.Real(0.0, 1.0))
    def fn(args, reporter):
        reporter(epoch=1, accuracy=0.5)
        reporter(epoch=2, accuracy=value)

    s = _fifo(fn, num_trials=2)
    s.run()
    assert s.join_jobs(timeout=60)
    for record in s.history.tasks.values():
        assert record.status == "diverged"
        assert repr(value) in record.reason
    # judged at its highest fidelity, a diverged config never wins
    assert s.get_best_reward() is None and s.get_best_config() is None


# -- folders -----------------------------------------------------------------------------


def test_a_new_run_in_the_same_output_dir_never_sees_the_last_runs_files(tmp_path):
    seen = []

    @sch.args(x=sch.space.Real(0.0, 1.0))
    def fn(args, reporter):
        path = os.path.join(reporter.checkpoint_dir, "model.json")
        seen.append(os.path.exists(path))
        with open(path, "w") as f:
            json.dump({"x": args.x}, f)
        reporter(epoch=1, accuracy=args.x)

    runs = []
    for _ in range(2):
        s = _fifo(fn, num_trials=3, output_dir=tmp_path)
        s.run()
        assert s.join_jobs(timeout=60)
        runs.append(s.run_dir)
    assert seen == [False] * 6
    assert runs[0] != runs[1] and all(os.path.isdir(r) for r in runs)
    assert os.path.realpath(tmp_path / "latest") == os.path.realpath(runs[1])


def test_the_temporary_run_folder_is_removed_at_the_end():
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "scheduler-run-*")))
    s = _fifo(num_trials=3)
    assert os.path.isdir(s.run_dir)
    s.run()
    assert s.join_jobs(timeout=60)
    assert not os.path.exists(s.run_dir)
    after = set(glob.glob(os.path.join(tempfile.gettempdir(), "scheduler-run-*")))
    assert after <= before


def test_a_second_run_raises():
    s = _fifo(num_trials=2)
    s.run()
    assert s.join_jobs(timeout=60)
    with pytest.raises(RuntimeError, match="has already run"):
        s.run()


def test_results_rows_queued_behind_a_slow_write_reach_the_writer_in_one_call():
    import threading

    from scheduler.runtime.outputs import OutputQueue

    gate = threading.Event()
    calls = []
    q = OutputQueue(lambda operation, exc: calls.append(("error", operation)))
    q.put("slow", gate.wait, 5)
    for i in range(5):
        q.put_batched("rows", calls.append, i)
    q.put("other", calls.append, "after")
    q.put_batched("rows", calls.append, 5)
    gate.set()
    assert q.close(5)
    assert calls == [[0, 1, 2, 3, 4], "after", [5]]
