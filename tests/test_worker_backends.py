"""The worker backends (``process``: reused interpreters; ``subprocess``: one fresh
interpreter per task): I/O that no worker can stall, spawning off the caller, the warm
spare, isolation between the tasks of a worker, tracebacks with the user's file and
line, reports serialized the same way on every backend, and the fault matrix."""

from __future__ import annotations

import ctypes
import os
import queue
import resource
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from _procs import assert_none_left, live_with, open_fds

import scheduler as sch
from scheduler._decorator import make_task_args
from scheduler.runtime.backends._state import ProcessState
from scheduler.runtime.backends.base import CANCELLED, RETURNED, TaskSpec
from scheduler.runtime.backends.process import ProcessBackend
from scheduler.runtime.backends.subprocess import SubprocessBackend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = f"{os.getpid()}{int.from_bytes(os.urandom(3), 'big')}"
WORKERS = ["process", "subprocess"]


def _fifo(train_fn, backend, **kw):
    kw.setdefault("num_trials", 2)
    kw.setdefault("resource", {"num_cpus": 1, "num_gpus": 0})
    kw.setdefault("total_resources", {"num_cpus": 1, "num_gpus": 0})
    kw.setdefault("reward_attr", "accuracy")
    kw.setdefault("time_attr", "epoch")
    kw.setdefault("progress", False)
    return sch.FIFOScheduler(train_fn, backend=backend, **kw)


def _run(s, timeout=60):
    s.run()
    assert s.join_jobs(timeout=timeout), "join_jobs timed out"


def _records(s):
    return [s.history.tasks[t] for t in sorted(s.history.tasks)]


def _leave_children(marker):
    """A forgotten child, one that escaped with setsid, one double-forked and setsid."""
    sleeper = ["sleep", f"1000.{marker}"]
    subprocess.Popen(sleeper)
    subprocess.Popen(sleeper, start_new_session=True)
    if os.fork() == 0:
        if os.fork() == 0:
            os.setsid()
            os.execvp("sleep", sleeper)
        os._exit(0)
    os.wait()


# -- train functions (module level: shipped by reference) -----------------------------


@sch.args(x=sch.space.Real(0.0, 1.0), marker="0")
def leaving_fn(args, reporter):
    if args.task_id == 0:
        _leave_children(args.marker)
    reporter(epoch=1, accuracy=args.x, seen=len(live_with(f"1000.{args.marker}")))


@sch.args(x=sch.space.Real(0.0, 1.0))
def changing_fn(args, reporter):
    limit = resource.getrlimit(resource.RLIMIT_AS)
    state = dict(
        pid=os.getpid(),
        limit=list(limit),
        env=os.environ.get("SCHEDULER_TEST_VAR"),
        cwd=os.getcwd(),
        umask=os.umask(0o022),
    )
    os.umask(state["umask"])
    if args.task_id == 0:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 34, limit[1]))
        os.environ["SCHEDULER_TEST_VAR"] = "leaked"
        os.chdir("/")
        os.umask(0o077)
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    reporter(epoch=1, accuracy=args.x, **state)


@sch.args(x=sch.space.Real(0.0, 1.0))
def thread_leaving_fn(args, reporter):
    if args.task_id == 0:
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
    reporter(epoch=1, accuracy=args.x, pid=os.getpid())


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __repr__(self):
        return f"Point({self.x}, {self.y})"


@sch.args(x=sch.space.Real(0.0, 1.0))
def object_fn(args, reporter):
    import numpy as np

    reporter(epoch=1, accuracy=np.float32(0.5), point=Point(1, 2), pair=(1, 2), v=np.arange(2))


# -- isolation between tasks ------------------------------------------------------------


@pytest.mark.parametrize("backend", WORKERS)
def test_children_a_task_leaves_are_killed_when_it_ends(backend):
    s = _fifo(leaving_fn, backend, num_trials=2, args={"marker": MARKER})
    _run(s)
    assert [r.status for r in _records(s)] == ["completed", "completed"]
    assert s.training_history[1][0]["seen"] == 0  # gone before the next task started
    assert_none_left(MARKER)


def test_a_reused_worker_is_restored_between_tasks():
    s = _fifo(changing_fn, "process", num_trials=2)
    _run(s)
    first, second = (s.training_history[t][0] for t in (0, 1))
    assert first["pid"] == second["pid"], "the worker was not reused"
    assert second["limit"] == first["limit"]  # RLIMIT_AS set by task 0 is gone
    assert second["env"] is None and first["env"] is None
    assert second["cwd"] == first["cwd"] and second["umask"] == first["umask"]


def test_restore_reports_what_it_cannot_undo(monkeypatch):
    state = ProcessState()

    def refuse(which, limits):
        raise ValueError("not allowed to raise the hard limit")

    current = resource.getrlimit(resource.RLIMIT_AS)
    monkeypatch.setattr(
        resource, "getrlimit", lambda n: (1, 1) if n == resource.RLIMIT_AS else current
    )
    monkeypatch.setattr(resource, "setrlimit", refuse)
    reason = state.restore()
    assert reason is not None and "RLIMIT_AS could not be restored" in reason


def test_a_worker_that_cannot_be_restored_is_replaced():
    s = _fifo(thread_leaving_fn, "process", num_trials=3)
    _run(s)
    pids = [s.training_history[t][0]["pid"] for t in range(3)]
    assert pids[1] != pids[0]  # task 0 left a thread running: its worker retired
    assert [r.status for r in _records(s)] == ["completed"] * 3


def test_reports_are_the_same_rows_on_thread_and_process():
    rows = {}
    for backend in ("thread", "process"):
        s = _fifo(object_fn, backend, num_trials=1)
        _run(s)
        (record,) = _records(s)
        assert record.status == "completed", record.reason
        (row,) = s.training_history[0]
        rows[backend] = {k: row[k] for k in ("accuracy", "point", "pair", "v")}
    assert rows["thread"] == rows["process"]
    assert rows["process"] == {"accuracy": 0.5, "point": "Point(1, 2)", "pair": [1, 2], "v": [0, 1]}


# -- tracebacks ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["thread", *WORKERS])
def test_traceback_names_the_users_file_and_line(backend):
    def helper(value):
        raise ZeroDivisionError(f"cannot divide {value}")  # the failing line

    @sch.args(x=sch.space.Real(0.0, 1.0))
    def closure_fn(args, reporter):  # a closure: pickled by value
        reporter(epoch=1, accuracy=args.x)
        helper(args.x)

    s = _fifo(closure_fn, backend, num_trials=1)
    _run(s)
    (record,) = _records(s)
    assert record.status == "failed"
    text = record.traceback
    assert "<dynamic-code>" not in text
    line = helper.__code__.co_firstlineno + 1
    assert f'File "{__file__}", line {line}, in helper' in text
    assert "# the failing line" in text  # the source line itself is shown
    assert text.splitlines()[1].startswith(f'  File "{__file__}"')  # no runtime frames first


def test_a_failure_warning_names_the_users_line_from_a_worker(caplog):
    @sch.args(x=sch.space.Real(0.0, 1.0))
    def bad_report_fn(args, reporter):
        reporter(epoch=1)  # raises inside the reporter

    s = _fifo(bad_report_fn, "process", num_trials=1)
    with caplog.at_level("WARNING", logger="scheduler"):
        _run(s)
    line = bad_report_fn.fn.__code__.co_firstlineno + 2  # (the first line is the decorator)
    assert f"{__file__}:{line}" in caplog.text


def test_traceback_of_a_script_function_shows_its_source(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """\
            import scheduler as ag

            @ag.args(x=ag.space.Real(0.0, 1.0))
            def train_fn(args, reporter):
                reporter(epoch=1, accuracy=args.x)
                raise KeyError("missing-thing")

            s = ag.FIFOScheduler(train_fn, num_trials=1, backend="process", progress=False)
            s.run()
            s.join_jobs()
            print(s.history.tasks[0].traceback)
            """
        )
    )
    env = dict(os.environ, PYTHONPATH=ROOT)  # this checkout's scheduler, not an installed one
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f'File "{script}", line 6, in train_fn' in done.stdout
    assert 'raise KeyError("missing-thing")' in done.stdout


# -- the backend's own threads ------------------------------------------------------------


def _spec(train_fn, task_id, gpu_ids=()):
    return TaskSpec(
        task_id=task_id,
        args=make_task_args(train_fn, {}, task_id=task_id, config_id=task_id),
        reward_attr="accuracy",
        time_attr="epoch",
        require_time=False,
        checkpoint_dir=os.path.join(os.environ.get("TMPDIR", "/tmp"), f"sched-test-{task_id}"),
        gpu_ids=tuple(gpu_ids),
    )


@sch.args(epochs=3)
def reporting_fn(args, reporter):
    for e in range(args.epochs):
        reporter(epoch=e + 1, accuracy=0.5)


def test_one_worker_waiting_for_a_decision_does_not_stall_another():
    release = threading.Event()
    ends = queue.Queue()

    def on_report(task_id, result):
        if task_id == 0:
            release.wait(20)  # task 0's decision takes its time
        return "continue"

    backend = ProcessBackend(reporting_fn, on_report, lambda t, o: ends.put((t, o)))
    try:
        backend.prepare(2)
        backend.start(_spec(reporting_fn, 0))
        backend.start(_spec(reporting_fn, 1))
        task_id, outcome = ends.get(timeout=20)  # task 1 finishes while task 0 waits
        assert (task_id, outcome.kind) == (1, RETURNED)
        release.set()
        task_id, outcome = ends.get(timeout=20)
        assert (task_id, outcome.kind) == (0, RETURNED)
    finally:
        release.set()
        backend.shutdown(timeout=5)


def test_start_returns_before_the_worker_is_up_and_cancel_ends_it_at_once(monkeypatch):
    gate = threading.Event()
    real = ProcessBackend._launch_worker

    def slow_launch(self, token):
        gate.wait(20)  # a worker that takes its time to start
        return real(self, token)

    monkeypatch.setattr(ProcessBackend, "_launch_worker", slow_launch)
    ends = queue.Queue()
    backend = ProcessBackend(reporting_fn, lambda t, r: "continue", lambda t, o: ends.put((t, o)))
    try:
        backend.start(_spec(reporting_fn, 7))  # no worker yet: returns at once anyway
        assert ends.empty()
        backend.cancel(7, "exceeded max_task_time=0.1s")
        task_id, outcome = ends.get(timeout=1)  # without waiting for the spawn
        assert (task_id, outcome.kind, outcome.error) == (
            7,
            CANCELLED,
            "exceeded max_task_time=0.1s",
        )
        gate.set()
        backend.start(_spec(reporting_fn, 8))  # the worker, still fresh, takes the next
        task_id, outcome = ends.get(timeout=30)
        assert (task_id, outcome.kind) == (8, RETURNED)
        assert ends.empty()  # task 7 ended exactly once
    finally:
        gate.set()
        backend.shutdown(timeout=5)


@sch.args(x=sch.space.Int(0, 1000))
def dying_fn(args, reporter):
    reporter(epoch=1, accuracy=0.5)
    os._exit(3)


def test_a_dead_workers_successor_is_warm_before_the_next_launch():
    ends = queue.Queue()
    backend = ProcessBackend(dying_fn, lambda t, r: "continue", lambda t, o: ends.put((t, o)))
    try:
        backend.prepare(1)  # one worker, and one warm spare in the background
        for task_id in range(3):
            deadline = time.monotonic() + 30
            while sum(w.ready for w in backend._workers) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert sum(w.ready for w in backend._workers) == 2
            backend.start(_spec(dying_fn, task_id))
            ended, outcome = ends.get(timeout=30)
            assert ended == task_id and "exited with code 3" in outcome.error
    finally:
        backend.shutdown(timeout=5)


@sch.args(x=sch.space.Real(0.0, 1.0))
def first_dies_fn(args, reporter):
    reporter(epoch=1, accuracy=args.x)
    if args.task_id == 0:
        os._exit(3)


def test_max_task_time_does_not_count_the_wait_for_a_worker(monkeypatch):
    from scheduler.runtime.backends import process

    monkeypatch.setattr(process, "_SPARES", 0)  # the successor is spawned on demand
    real = ProcessBackend._launch_worker

    def slow_launch(self, token):
        time.sleep(0.8)  # longer than max_task_time
        return real(self, token)

    monkeypatch.setattr(ProcessBackend, "_launch_worker", slow_launch)
    s = _fifo(first_dies_fn, "process", num_trials=2, max_task_time=0.5)
    _run(s)
    assert [r.status for r in _records(s)] == ["failed", "completed"], [
        r.reason for r in _records(s)
    ]


def test_the_subprocess_backend_never_reuses_an_interpreter():
    pids = queue.Queue()

    @sch.args(x=sch.space.Real(0.0, 1.0))
    def pid_fn(args, reporter):
        reporter(epoch=1, accuracy=0.5, pid=os.getpid())

    s = _fifo(pid_fn, "subprocess", num_trials=4)
    _run(s)
    seen = [s.training_history[t][0]["pid"] for t in range(4)]
    assert len(set(seen)) == 4
    assert pids.empty()


def test_backends_release_their_descriptors():
    before = open_fds()
    for cls in (ProcessBackend, SubprocessBackend):
        ends = queue.Queue()
        backend = cls(reporting_fn, lambda t, r: "continue", lambda t, o, q=ends: q.put(t))
        backend.prepare(2)
        for task_id in range(4):
            backend.start(_spec(reporting_fn, task_id))
        for _ in range(4):
            ends.get(timeout=30)
        backend.shutdown(timeout=5)
    assert open_fds() <= before


# -- the fault matrix, on both worker backends --------------------------------------------

FAULTS = {
    # case: (status, text in the reason)
    "ok": ("completed", None),
    "children": ("completed", None),
    "raise": ("failed", "RuntimeError: boom in the trial"),
    "exit": ("failed", "exited with code 3"),
    "segfault": ("failed", "killed by SIGSEGV"),
    "sigkill": ("failed", "killed by SIGKILL"),
    "oom": ("failed", "MemoryError"),
    "hang": ("failed", "exceeded max_task_time"),
    "bad_report": ("failed", "ValueError: reported result has no reward_attr 'accuracy'"),
    "bad_value": ("failed", "must be a real number, got 'high'"),
    "close_fd": ("failed", "lost its connection to the driver"),
}


@sch.args(case=sch.space.Categorical(*sorted(FAULTS)), marker="0")
def fault_fn(args, reporter):
    case = args.case
    if case == "bad_report":
        reporter(epoch=1)
    if case == "bad_value":
        reporter(epoch=1, accuracy="high")
    if case == "close_fd":
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                    os.close(int(fd))
            except OSError:
                pass
    reporter(epoch=1, accuracy=0.5)
    if case == "raise":
        raise RuntimeError("boom in the trial")
    if case == "exit":
        os._exit(3)
    if case == "segfault":
        ctypes.string_at(0)
    if case == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if case == "oom":
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, resource.getrlimit(resource.RLIMIT_AS)[1]))
        _ = bytearray(2 << 30)
    if case in ("hang", "children"):
        _leave_children(args.marker)
    if case == "hang":
        time.sleep(1000)
    reporter(epoch=2, accuracy=0.6)


@pytest.fixture(scope="module", params=WORKERS)
def fault_run(request):
    s = _fifo(
        fault_fn,
        request.param,
        num_trials=len(FAULTS),
        searcher="grid",
        args={"marker": MARKER},
        max_task_time=3.0,
        total_resources={"num_cpus": 2, "num_gpus": 0},
    )
    _run(s, timeout=120)
    return s


@pytest.mark.parametrize("case", sorted(FAULTS))
def test_fault_matrix(case, fault_run):
    (record,) = [r for r in _records(fault_run) if r.config["case"] == case]
    status, text = FAULTS[case]
    assert record.status == status, record.reason
    if text is not None:
        assert text in record.reason


def test_fault_matrix_leaves_nothing_behind(fault_run):
    assert_none_left(MARKER)
    assert fault_run.resources.can_acquire()


@pytest.mark.parametrize("backend", WORKERS)
def test_train_fn_from_the_users_uninstalled_module(backend, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "mymodel.py").write_text(
        textwrap.dedent(
            """\
            import scheduler as ag

            @ag.args(x=ag.space.Real(0.0, 1.0))
            def train_fn(args, reporter):
                reporter(epoch=1, accuracy=args.x)
            """
        )
    )
    (project / "main.py").write_text(
        textwrap.dedent(
            f"""\
            import scheduler as ag
            from mymodel import train_fn

            s = ag.FIFOScheduler(train_fn, num_trials=2, backend={backend!r}, progress=False)
            s.run()
            s.join_jobs()
            print(sorted(r.status for r in s.history.tasks.values()))
            """
        )
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [sys.executable, str(project / "main.py")],
        cwd=elsewhere,  # the module is found only through the script's folder
        env=dict(os.environ, PYTHONPATH=ROOT),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "['completed', 'completed']" in done.stdout, done.stdout + done.stderr[-2000:]


@sch.args(x=sch.space.Real(0.1, 1.0), epochs=9)
def resumable_fn(args, reporter):
    state = os.path.join(reporter.checkpoint_dir, "epoch.txt")
    start = 0
    if os.path.exists(state):
        with open(state) as f:
            start = int(f.read())
    assert (args.scheduler.resume_from or 0) == start, (args.scheduler.resume_from, start)
    for epoch in range(start + 1, args.epochs + 1):
        with open(state, "w") as f:
            f.write(str(epoch))
        reporter(epoch=epoch, accuracy=args.x * epoch, pid=os.getpid())


def test_subprocess_promotion_resumes_from_the_checkpoint_folder_and_the_run_resumes(tmp_path):
    def hyperband(**kw):
        return sch.HyperbandScheduler(
            resumable_fn,
            type="promotion",
            grace_period=1,
            reduction_factor=3,
            resource={"num_cpus": 1, "num_gpus": 0},
            total_resources={"num_cpus": 2, "num_gpus": 0},
            reward_attr="accuracy",
            time_attr="epoch",
            backend="subprocess",
            progress=False,
            checkpoint=tmp_path / "ckpt.json",
            **kw,
        )

    s = hyperband(num_trials=6)
    _run(s, timeout=120)
    records = _records(s)
    assert "failed" not in {r.status for r in records}, [r.reason for r in records]
    promoted = [r for r in records if r.resume_from]
    assert promoted, "no config was promoted"
    for record in promoted:  # continued in a fresh interpreter, from its own folder
        rows = s.training_history[record.task_id]
        assert rows[0]["epoch"] == record.resume_from + 1
    resumed = hyperband(num_trials=8, resume=True)
    assert resumed.get_best_config() == s.get_best_config()
    _run(resumed, timeout=120)
    assert len({r.config_id for r in _records(resumed)}) == 8
    assert "failed" not in {r.status for r in _records(resumed)}
