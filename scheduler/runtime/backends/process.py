"""Runs tasks in reusable worker processes.

Each worker is a fresh Python interpreter (``subprocess``, its own session so a Ctrl-C
in the terminal reaches only the driver) connected by a socket pair, and each has its
own reader thread in the driver: that thread launches it, answers its reports, and
notices its death (the end of the connection, or its ``pidfd`` when a child it forked
keeps the connection open) and reaps it. So no worker can delay another's reply, and
a worker that dies (``os._exit``, SIGKILL, SIGSEGV, OOM kill) ends its task as ``died``
with the exit code or signal at once.

``start()`` never blocks on a spawn: a task goes to an idle worker with the same GPU ids
(one message), or to a worker being started, or to a new one launched by its own
thread; ``cancel()`` of a task whose worker is still starting ends it at once (the
worker stays, as a warm spare). The pool is kept at ``max_concurrency`` workers plus
one warm spare, replaced in the background as soon as one dies or retires, so a dead
worker's successor is ready by the next launch.

Isolation between the tasks of one worker: after each task the worker kills what the
task left running (its process group and, as child subreaper, what escaped it) and
restores resource limits, environment, working folder, umask, ``sys.path``, signal
handlers and stdio; when it cannot (a hard limit lowered, a thread left running) it
retires and is replaced. ``train_fn`` is shipped with cloudpickle (functions from
``__main__`` and closures work), with its source lines, so tracebacks name the user's
file and line.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import pickle
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import cloudpickle

from scheduler.runtime.backends import _leftovers
from scheduler.runtime.backends._ship import absolute_sys_path, dumps_function
from scheduler.runtime.backends._worker import LOST_CONNECTION
from scheduler.runtime.backends.base import (
    CANCELLED,
    DIED,
    RAISED,
    Backend,
    OnEnd,
    OnReport,
    TaskOutcome,
    TaskSpec,
)

__all__ = ["ProcessBackend", "describe_exit"]

_fn_keys = itertools.count()
log = logging.getLogger("scheduler")
# the folder that holds the ``scheduler`` package (three levels above this file)
_PACKAGE_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
)
_WORKER_START_TIMEOUT = 60.0
_SPARES = 1  # warm workers kept beyond max_concurrency
_POLL = 1.0  # the longest a reader thread blocks before it looks around


def describe_exit(returncode: int | None, what: str = "worker process") -> str:
    """Readable reason for a process's exit status."""
    if returncode is None:
        return f"{what} stopped answering (exit status unknown)"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"{what} was killed by {name}"
    return f"{what} exited with code {returncode} while running the task"


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when ``pid`` exits (Linux >= 5.3)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


class _Run:
    """One task on this backend, from ``start`` to ``on_end``."""

    __slots__ = ("began", "cancel_reason", "ended", "sent", "spec", "spec_bytes", "worker")

    def __init__(self, spec: TaskSpec, spec_bytes: bytes):
        self.spec = spec
        self.spec_bytes = spec_bytes
        self.worker: _Worker | None = None
        self.sent = False  # the run message went out: only a kill can end it now
        self.began: float | None = None  # when it was sent (then None again once running)
        self.cancel_reason: str | None = None
        self.ended = False


class _Worker:
    __slots__ = (
        "conn",
        "exit_sent",
        "failure",
        "fn_keys",
        "gpu_ids",
        "kill_requested",
        "loaded",
        "pidfd",
        "popen",
        "ready",
        "run",
        "send_lock",
        "thread",
        "token",
    )

    def __init__(self, gpu_ids: tuple[int, ...] | None, serve: Callable[[_Worker], None]) -> None:
        self.popen: subprocess.Popen | None = None
        self.conn: Connection | None = None
        self.pidfd: int | None = None
        self.gpu_ids = gpu_ids  # None: not bound yet (any task may take it)
        self.token = _leftovers.new_token()
        self.ready = False  # imported the runtime: can take a task
        self.loaded = False  # has also loaded the train_fn (and what it imports)
        self.run: _Run | None = None
        self.fn_keys: set[int] = set()
        self.kill_requested = False
        self.exit_sent = False
        self.failure: str | None = None  # why it failed to start
        self.send_lock = threading.Lock()
        self.thread = threading.Thread(
            target=serve, args=(self,), name="scheduler-process-worker", daemon=True
        )

    def send(self, data: bytes) -> bool:
        with self.send_lock:
            return self._send(data)

    def _send(self, data: bytes) -> bool:
        if self.conn is None:
            return False  # not launched: its reader thread sees the end
        try:
            self.conn.send_bytes(data)
        except (OSError, AttributeError):
            return False  # a dead worker: its reader thread sees the end
        return True

    def send_function(self, key: int, payload: object) -> bool:
        """Ship the train_fn once (``load``), unless this worker has it already."""
        with self.send_lock:
            if key in self.fn_keys:
                return True
            self.fn_keys.add(key)
            message = ("load", key, payload, absolute_sys_path(sys.path))
            return self._send(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def kill(self) -> None:
        """SIGKILL the worker and everything in its session's group, so that no child
        holding the connection keeps a dead task looking alive."""
        self.kill_requested = True
        popen = self.popen
        if popen is None:
            return  # not launched yet: its thread kills it right after the launch
        if not _leftovers.kill_group(popen.pid) and popen.poll() is None:
            with contextlib.suppress(OSError):
                popen.kill()


class ProcessBackend(Backend):
    name = "process"
    announces_running = True  # the worker's ("running", task_id)
    #: run one task per interpreter (the subprocess backend) instead of reusing it
    one_shot = False

    def __init__(self, train_fn: Any, on_report: OnReport, on_end: OnEnd) -> None:
        super().__init__(train_fn, on_report, on_end)
        self._fn_key = next(_fn_keys)
        self._fn_payload = dumps_function(train_fn)
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []  # every live worker, in launch order
        self._runs: dict[int, _Run] = {}
        self._target = 0  # workers to keep: max_concurrency + spares
        self._closing = False
        self._start_failure: str | None = None  # the last worker that failed to start
        self._ready_cond = threading.Condition(self._lock)

    # -- launching workers -----------------------------------------------------------
    def _launch_worker(self, token: str) -> tuple[subprocess.Popen, Connection]:
        parent_sock, child_sock = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [_PACKAGE_ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        )
        env[_leftovers.TOKEN_VARIABLE] = token
        fd = child_sock.fileno()
        code = (
            "from scheduler.runtime.backends._worker import worker_main; "
            f"worker_main({fd}, one_shot={self.one_shot})"
        )
        try:
            popen = subprocess.Popen(
                [sys.executable, "-c", code],
                pass_fds=(fd,),
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        finally:
            child_sock.close()
        conn = Connection(parent_sock.detach())
        return popen, conn

    def _new_worker(self, gpu_ids: tuple[int, ...] | None = None) -> _Worker:
        """A worker object and its thread (call under the lock; start the thread after)."""
        worker = _Worker(gpu_ids, self._serve)
        self._workers.append(worker)
        return worker

    def _top_up(self) -> None:
        """Start workers until the pool holds ``max_concurrency`` plus the spares."""
        fresh = []
        with self._lock:
            if self._closing or self._start_failure is not None:
                return
            live = [w for w in self._workers if not w.kill_requested and not w.exit_sent]
            for _ in range(self._target - len(live)):
                fresh.append(self._new_worker())
        for worker in fresh:
            worker.thread.start()

    def prepare(self, max_concurrency: int) -> None:
        """Start ``max_concurrency`` workers and wait until each has imported and loaded
        the train_fn (so the first tasks start at once); then one more spare in the
        background."""
        with self._lock:
            self._start_failure = None
            missing = max(0, max_concurrency - len(self._workers))
            fresh = [self._new_worker() for _ in range(missing)]
        for worker in fresh:
            worker.thread.start()
        deadline = time.monotonic() + _WORKER_START_TIMEOUT
        with self._lock:
            while True:
                failure = next((w.failure for w in fresh if w.failure), None)
                if failure is not None or all(w.loaded for w in fresh):
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    failure = f"a worker process did not start within {_WORKER_START_TIMEOUT:.0f} s"
                    break
                self._ready_cond.wait(min(remaining, _POLL))
        if failure is not None:
            for worker in fresh:  # never leave a half-started pool behind
                worker.kill()
            for worker in fresh:
                worker.thread.join(10.0)
            raise RuntimeError(
                f"{failure}; command: {sys.executable} -c "
                "'from scheduler.runtime.backends._worker import ...'"
            )
        with self._lock:
            self._target = max_concurrency + _SPARES
        self._top_up()

    # -- Backend interface -------------------------------------------------------
    def start(self, spec: TaskSpec) -> None:
        spec_bytes = cloudpickle.dumps(spec)  # before anything else: this may raise
        gpu_ids = tuple(spec.gpu_ids)
        run = _Run(spec, spec_bytes)
        launch = retire = None
        with self._lock:
            if self._closing:
                raise RuntimeError("the process backend was shut down")
            self._runs[spec.task_id] = run
            worker = self._pick(gpu_ids)
            if worker is None:
                retire = self._surplus_idle()
                if retire is not None:
                    retire.exit_sent = True  # (under the lock: nobody else takes it)
                worker = launch = self._new_worker(gpu_ids)
            worker.gpu_ids = gpu_ids
            worker.run = run
            run.worker = worker
            send_now = worker.ready
            if send_now:
                run.sent = True
        if retire is not None:
            self._retire(retire)
        if launch is not None:
            launch.thread.start()
        if send_now:
            self._send_run(worker, run)
        self._top_up()

    def _pick(self, gpu_ids: tuple[int, ...]) -> _Worker | None:
        """An idle worker for these GPU ids: one with the train_fn loaded first, else
        one still loading it, else one starting."""
        best, rank = None, 3
        for worker in self._workers:
            if worker.run is not None or worker.kill_requested or worker.exit_sent:
                continue
            if worker.gpu_ids not in (None, gpu_ids):
                continue
            if worker.loaded and self._fn_key in worker.fn_keys:
                return worker
            mine = 1 if worker.ready else 2
            if mine < rank:
                best, rank = worker, mine
        return best

    def _surplus_idle(self) -> _Worker | None:
        """An idle worker bound to other GPU ids, when the pool is full (to retire)."""
        live = [w for w in self._workers if not w.kill_requested and not w.exit_sent]
        if not self._target or len(live) < self._target:
            return None
        for worker in live:
            if worker.run is None and worker.ready:
                return worker
        return None

    def _retire(self, worker: _Worker) -> None:
        """Ask an idle worker to exit (its thread buries it)."""
        worker.exit_sent = True
        if not worker.send(pickle.dumps(("exit",))):
            worker.kill()

    def _send_run(self, worker: _Worker, run: _Run) -> None:
        worker.send_function(self._fn_key, self._fn_payload)
        message = ("run", run.spec_bytes, self._fn_key)
        run.began = time.monotonic()
        worker.send(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def _running(self, task_id: int) -> None:
        try:
            self.on_running(task_id)
        except Exception:
            log.exception("recording the start of task %s failed", task_id)

    def cancel(self, task_id: int, reason: str) -> None:
        end_now = False
        with self._lock:
            run = self._runs.get(task_id)
            if run is None or run.ended:
                return
            run.cancel_reason = reason
            worker = run.worker
            if not run.sent:
                # still waiting for its worker to start: end it now; the worker, fresh,
                # stays as a spare
                run.ended = end_now = True
                self._runs.pop(task_id, None)
                if worker is not None and worker.run is run:
                    worker.run = None
        if end_now:
            self._end(task_id, TaskOutcome(CANCELLED, error=reason))
        elif worker is not None:
            worker.kill()

    def shutdown(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closing = True
            workers = list(self._workers)
            unsent = [run for run in self._runs.values() if not run.sent and not run.ended]
            for run in unsent:
                run.ended = True
                run.cancel_reason = "scheduler shut down"
                if run.worker is not None and run.worker.run is run:
                    run.worker.run = None
                self._runs.pop(run.spec.task_id, None)
            self._ready_cond.notify_all()
        for run in unsent:
            self._end(run.spec.task_id, TaskOutcome(CANCELLED, error="scheduler shut down"))
        for worker in workers:
            busy = worker.run
            if busy is not None:
                busy.cancel_reason = busy.cancel_reason or "scheduler shut down"
                worker.kill()
            elif worker.ready:
                self._retire(worker)
            else:
                worker.kill()
        for worker in workers:
            if worker.thread.is_alive():
                worker.thread.join(max(0.05, deadline - time.monotonic()))
        for worker in workers:  # what did not exit in time
            if worker.thread.is_alive():
                worker.kill()
                worker.thread.join(5.0)

    # -- one worker's thread -----------------------------------------------------------
    def _serve(self, worker: _Worker) -> None:
        if worker.kill_requested and worker.run is None:  # (shut down before it began)
            self._gone(worker, None, None)
            return
        try:
            popen, conn = self._launch_worker(worker.token)
        except Exception as exc:  # noqa: BLE001 - a launch failure fails its task only
            self._gone(worker, None, f"a worker process could not be launched: {exc!r}")
            return
        worker.popen, worker.conn = popen, conn
        worker.pidfd = _pidfd(popen.pid)
        if worker.kill_requested:
            worker.kill()
        started = time.monotonic()
        try:
            self._read(worker, popen, conn, started)
        finally:
            self._bury(worker, popen, conn)

    def _read(
        self, worker: _Worker, popen: subprocess.Popen, conn: Connection, started: float
    ) -> None:
        # one selector for the reader's life: multiprocessing's wait() builds and
        # registers a new one per call (about 10 us a report)
        selector = selectors.PollSelector()
        try:
            selector.register(conn, selectors.EVENT_READ)
            if worker.pidfd is not None:
                selector.register(worker.pidfd, selectors.EVENT_READ)
        except (OSError, ValueError):
            selector.close()
            return
        try:
            self._read_loop(worker, popen, conn, started, selector)
        finally:
            selector.close()

    def _read_loop(
        self,
        worker: _Worker,
        popen: subprocess.Popen,
        conn: Connection,
        started: float,
        selector: selectors.BaseSelector,
    ) -> None:
        while True:
            timeout = _POLL if worker.pidfd is not None else 0.2
            try:
                ready = [key.fileobj for key, _ in selector.select(timeout)]
            except (OSError, ValueError):
                return
            if conn in ready:
                try:
                    message = pickle.loads(conn.recv_bytes())
                except (EOFError, OSError, pickle.UnpicklingError):
                    return  # the worker is gone (or garbled its stream)
                if not self._handle(worker, message):
                    return
                continue
            if ready or popen.poll() is not None:
                # The process exited; a forked child may still hold the connection
                # open, so take what it sent before it died and stop there.
                while conn.poll(0):
                    try:
                        message = pickle.loads(conn.recv_bytes())
                    except (EOFError, OSError, pickle.UnpicklingError):
                        return
                    if not self._handle(worker, message):
                        return
                return
            now = time.monotonic()
            if not worker.ready and now - started > _WORKER_START_TIMEOUT:
                worker.failure = (
                    f"a worker process did not start within {_WORKER_START_TIMEOUT:.0f} s"
                )
                worker.kill()
            run = worker.run
            if (
                run is not None
                and run.began is not None
                and now - run.began > _WORKER_START_TIMEOUT
            ):
                # (max_task_time starts when the task begins: this bounds the wait before)
                worker.failure = (
                    f"the task did not begin within {_WORKER_START_TIMEOUT:.0f} s of reaching "
                    "its worker (did loading the train_fn hang?)"
                )
                worker.kill()

    def _handle(self, worker: _Worker, message: tuple) -> bool:
        """Act on one message; False when the worker is done with."""
        kind = message[0]
        if kind == "ready":
            with self._lock:
                worker.ready = True
                self._start_failure = None
                run = worker.run
                send = run is not None and not run.sent
                if run is not None and send:
                    run.sent = True
                self._ready_cond.notify_all()
            if run is not None and send:
                self._send_run(worker, run)
            else:  # load the train_fn (and what it imports) before a task needs it
                worker.send_function(self._fn_key, self._fn_payload)
            return True
        if kind == "loaded":
            with self._lock:
                worker.loaded = True
                self._ready_cond.notify_all()
            return True
        if kind == "running":
            run = worker.run
            if run is not None and not run.ended and run.spec.task_id == message[1]:
                run.began = None
                self._running(message[1])
            return True
        if kind == "report":
            task_id, result = message[1], message[2]
            run = worker.run
            if run is None or run.ended or run.spec.task_id != task_id:
                decision = "stop"
            else:
                try:
                    decision = self.on_report(task_id, result)
                except Exception:
                    log.exception("handling a report of task %s failed; stopping the task", task_id)
                    decision = "stop"
            return worker.send(pickle.dumps(decision, protocol=pickle.HIGHEST_PROTOCOL))
        if kind == "end":
            task_id, outcome, retire = message[1], message[2], message[3]
            with self._lock:
                run = worker.run
                worker.run = None
                ours = run is not None and run.spec.task_id == task_id and not run.ended
                if run is not None and ours:
                    run.ended = True
                    self._runs.pop(task_id, None)
                if retire is not None:
                    worker.exit_sent = True  # it exits by itself; count it out now
                keep = retire is None and not self._closing and not worker.kill_requested
                if keep and self._target and len(self._live()) > self._target:
                    keep = False  # more workers than the pool needs (GPU-bound ones)
            if retire is not None and not self.one_shot:
                pid = worker.popen.pid if worker.popen is not None else None
                log.info("worker %s retires after task %s: %s", pid, task_id, retire)
            if retire is None and not keep:
                self._retire(worker)
            if ours:
                self._end(task_id, outcome)
            self._top_up()
            return True  # a retiring worker is read to its end, then buried
        log.warning("worker sent an unknown message %r; ignored", kind)
        return True

    def _live(self) -> list[_Worker]:
        return [w for w in self._workers if not w.kill_requested and not w.exit_sent]

    def _bury(self, worker: _Worker, popen: subprocess.Popen, conn: Connection) -> None:
        """The worker's connection ended or it exited: reap it, kill what it left, end
        its task if it had one, and replace it."""
        killed = worker.kill_requested  # (by us: cancel, shutdown, a start timeout)
        try:
            # The connection ends a moment before the process: let it finish exiting
            # (this thread serves this worker only), so that its exit code is known.
            returncode = popen.wait(timeout=0 if killed else 5.0)
        except subprocess.TimeoutExpired:
            returncode = None
        if returncode is None:
            worker.kill()
            try:
                returncode = popen.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                log.warning("worker %d did not exit after SIGKILL", popen.pid)
        # What the worker or its task left: its process group, and what escaped it.
        _leftovers.kill_group(popen.pid)
        if returncode != 0:
            _leftovers.kill_leftovers(token=worker.token, timeout=1.0)
        with contextlib.suppress(OSError):
            conn.close()
        if worker.pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(worker.pidfd)
        failure = worker.failure  # (a start that timed out)
        if not worker.ready and not killed:
            failure = f"a worker process failed to start ({describe_exit(returncode)})"
        self._gone(worker, returncode, failure)

    def _gone(self, worker: _Worker, returncode: int | None, failure: str | None) -> None:
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
            run = worker.run
            worker.run = None
            ours = run is not None and not run.ended
            if run is not None and ours:
                run.ended = True
                self._runs.pop(run.spec.task_id, None)
            if failure is not None:
                self._start_failure = worker.failure = failure
            self._ready_cond.notify_all()
        if failure is not None:
            log.warning("%s", failure)
        if run is not None and ours:
            if run.cancel_reason is not None:
                outcome = TaskOutcome(CANCELLED, error=run.cancel_reason)
            elif failure is not None:
                outcome = TaskOutcome(RAISED, error=f"launch failed: {failure}")
            elif returncode == LOST_CONNECTION:
                outcome = TaskOutcome(
                    DIED,
                    error="the worker process lost its connection to the driver while "
                    "running the task (did the task close the worker's file descriptors?)",
                )
            else:
                outcome = TaskOutcome(DIED, error=describe_exit(returncode))
            self._end(run.spec.task_id, outcome)
        self._top_up()

    def _end(self, task_id: int, outcome: TaskOutcome) -> None:
        try:
            self.on_end(task_id, outcome)
        except Exception:
            log.exception("recording the end of task %s failed", task_id)
