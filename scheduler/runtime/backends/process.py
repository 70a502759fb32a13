"""Runs tasks in reusable worker processes.

Each worker is a fresh Python interpreter (``subprocess``, its own session so a Ctrl-C
in the terminal reaches only the driver) connected by a socket pair. One I/O thread in
the driver multiplexes every worker connection (``multiprocessing.connection.wait``), so
a report is answered as soon as it arrives, and a worker that dies (``os._exit``,
SIGKILL, SIGSEGV, OOM kill) is noticed at once by the end of its connection: its task
ends as ``died`` with the exit code or signal, and a new worker replaces it on the next
launch. Workers are started up front and reused for later tasks with the same GPU ids,
so launching a task is one message. ``train_fn`` is shipped with cloudpickle, so
functions from ``__main__`` and closures work.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection, wait

import cloudpickle

from scheduler.runtime.backends.base import CANCELLED, DIED, Backend, TaskOutcome, TaskSpec

__all__ = ["ProcessBackend", "describe_exit"]

_fn_keys = itertools.count()
log = logging.getLogger("scheduler")
# the folder that holds the ``scheduler`` package (three levels above this file)
_PACKAGE_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
)
_WORKER_START_TIMEOUT = 60.0


def describe_exit(returncode: int | None) -> str:
    """Readable reason for a worker's exit status."""
    if returncode is None:
        return "worker process stopped answering (exit status unknown)"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"worker process was killed by {name}"
    return f"worker process exited with code {returncode} while running the task"


class _Worker:
    __slots__ = ("cancel_reason", "conn", "fn_keys", "gpu_ids", "popen", "task_id")

    def __init__(self, popen, conn, gpu_ids):
        self.popen = popen
        self.conn = conn
        self.gpu_ids = gpu_ids
        self.task_id: int | None = None
        self.fn_keys: set[int] = set()
        self.cancel_reason: str | None = None

    def kill(self) -> None:
        """SIGKILL the worker and everything it forked (it leads its own session), so
        that no child holding the connection keeps a dead task looking alive."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        except OSError:
            with contextlib.suppress(OSError):
                self.popen.kill()


class ProcessBackend(Backend):
    name = "process"

    def __init__(self, train_fn, on_report, on_end):
        super().__init__(train_fn, on_report, on_end)
        self._fn_key = next(_fn_keys)
        self._fn_bytes = cloudpickle.dumps(train_fn)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy: dict[int, _Worker] = {}
        self._closing = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._io = threading.Thread(target=self._io_loop, name="scheduler-process-io", daemon=True)
        self._io.start()

    # -- workers -------------------------------------------------------------------
    def _launch_worker(self) -> tuple[subprocess.Popen, Connection]:
        parent_sock, child_sock = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [_PACKAGE_ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        )
        fd = child_sock.fileno()
        code = f"from scheduler.runtime.backends._worker import worker_main; worker_main({fd})"
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
        conn = Connection(os.dup(parent_sock.fileno()))
        parent_sock.close()
        return popen, conn

    def _spawn(self, count: int, gpu_ids) -> list[_Worker]:
        """Start ``count`` workers in parallel and wait until each has imported."""
        started = [self._launch_worker() for _ in range(count)]
        try:
            return self._await_ready(started, gpu_ids)
        except BaseException:
            for popen, conn in started:  # never leave a half-started pool behind
                _Worker(popen, conn, gpu_ids).kill()
                conn.close()
                try:
                    popen.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    log.warning("worker %d did not exit after SIGKILL", popen.pid)
            raise

    def _await_ready(self, started, gpu_ids) -> list[_Worker]:
        workers = []
        for popen, conn in started:
            ok = conn.poll(_WORKER_START_TIMEOUT)
            message = None
            if ok:
                try:
                    message = pickle.loads(conn.recv_bytes())
                except (EOFError, OSError):
                    message = None
            if message != ("ready",):
                popen.kill()
                popen.wait(timeout=5)
                conn.close()
                raise RuntimeError(
                    f"a worker process failed to start ({describe_exit(popen.returncode)}); "
                    f"command: {sys.executable} -c "
                    "'from scheduler.runtime.backends._worker import ...'"
                )
            workers.append(_Worker(popen, conn, gpu_ids))
        return workers

    def prepare(self, max_concurrency: int) -> None:
        """Start the workers up front, so that the first launches are cheap too."""
        with self._lock:
            missing = max(0, max_concurrency - len(self._idle) - len(self._busy))
        fresh = self._spawn(missing, None)
        with self._lock:
            self._idle.extend(fresh)

    def _take_worker(self, gpu_ids) -> _Worker:
        with self._lock:
            dead = [w for w in self._idle if w.popen.poll() is not None]
            self._idle = [w for w in self._idle if w.popen.poll() is None]
            for i, worker in enumerate(self._idle):
                if worker.gpu_ids in (None, gpu_ids):
                    del self._idle[i]
                    worker.gpu_ids = gpu_ids
                    break
            else:
                worker = None
        for gone in dead:
            gone.conn.close()
        return worker if worker is not None else self._spawn(1, gpu_ids)[0]

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    # -- Backend interface -------------------------------------------------------
    def start(self, spec: TaskSpec) -> None:
        spec_bytes = cloudpickle.dumps(spec)  # before taking a worker: this may raise
        worker = self._take_worker(tuple(spec.gpu_ids))
        send_fn = self._fn_key not in worker.fn_keys
        message = (
            "run",
            spec_bytes,
            self._fn_key,
            self._fn_bytes if send_fn else None,
            list(sys.path),
        )
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        worker.task_id = spec.task_id
        worker.cancel_reason = None
        with self._lock:
            self._busy[spec.task_id] = worker
        with contextlib.suppress(OSError):  # a dead worker: the I/O thread sees its end
            worker.conn.send_bytes(data)
        worker.fn_keys.add(self._fn_key)
        self._wake()

    def cancel(self, task_id: int, reason: str) -> None:
        with self._lock:
            worker = self._busy.get(task_id)
            if worker is None:
                return
            worker.cancel_reason = reason
        worker.kill()

    def shutdown(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._closing = True
            busy = list(self._busy.values())
            idle, self._idle = self._idle, []
        for worker in busy:
            worker.cancel_reason = "scheduler shut down"
            worker.kill()
        for worker in idle:
            with contextlib.suppress(OSError):
                worker.conn.send_bytes(pickle.dumps(("exit",)))
        self._wake()
        self._io.join(timeout)
        for worker in idle + busy:
            try:
                worker.popen.wait(timeout=max(0.1, timeout / 4))
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.popen.wait(timeout=5)
            worker.conn.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- the I/O thread ----------------------------------------------------------
    def _io_loop(self) -> None:
        while True:
            with self._lock:
                if self._closing and not self._busy:
                    return
                busy = {w.conn: w for w in self._busy.values()}
            ready = wait([self._wake_r, *busy], timeout=0.5)
            for obj in ready:
                if obj is self._wake_r:
                    try:
                        while self._wake_r.recv(4096):
                            pass
                    except (BlockingIOError, OSError):
                        pass
                    continue
                worker = busy[obj]
                if worker.task_id is not None:
                    self._serve(worker)
            # A worker whose forked children still hold its connection never shows
            # EOF when it dies: check the process itself too.
            for worker in busy.values():
                if worker.task_id is not None and worker.popen.poll() is not None:
                    while worker.task_id is not None and worker.conn.poll():
                        self._serve(worker)  # messages sent just before the exit count
                    if worker.task_id is not None:
                        self._bury(worker)

    def _serve(self, worker: _Worker) -> None:
        try:
            message = pickle.loads(worker.conn.recv_bytes())
        except (EOFError, OSError):
            self._bury(worker)
            return
        kind, task_id = message[0], message[1]
        if kind == "report":
            try:
                decision = self.on_report(task_id, message[2])
            except Exception:
                log.exception("handling a report of task %s failed; stopping the task", task_id)
                decision = "stop"
            try:
                worker.conn.send_bytes(pickle.dumps(decision, protocol=pickle.HIGHEST_PROTOCOL))
            except OSError:
                self._bury(worker)
        elif kind == "end":
            with self._lock:
                self._busy.pop(task_id, None)
                worker.task_id = None
                reuse = not self._closing and worker.cancel_reason is None
                if reuse:
                    self._idle.append(worker)
            if not reuse:
                worker.kill()
                worker.conn.close()
            try:
                self.on_end(task_id, message[2])
            except Exception:
                log.exception("recording the end of task %s failed", task_id)

    def _bury(self, worker: _Worker) -> None:
        """The worker's connection ended: it died (or was killed)."""
        task_id = worker.task_id
        if task_id is None:
            return
        try:
            returncode = worker.popen.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            worker.kill()
            returncode = None
        with self._lock:
            self._busy.pop(task_id, None)
            worker.task_id = None
        worker.conn.close()
        if worker.cancel_reason is not None:
            outcome = TaskOutcome(CANCELLED, error=worker.cancel_reason)
        else:
            outcome = TaskOutcome(DIED, error=describe_exit(returncode))
        self.on_end(task_id, outcome)
