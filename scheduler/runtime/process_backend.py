"""Runs tasks in reusable worker processes.

One I/O thread in the driver multiplexes every worker's connection and process
sentinel (``multiprocessing.connection.wait``), so a report is answered as soon as it
arrives and a worker that dies (``os._exit``, SIGKILL, SIGSEGV, OOM kill) is noticed at
once: its task ends as ``died`` with the exit code or signal, and the worker is
replaced on the next launch. Workers are started from a ``forkserver`` (``spawn`` where
that is unavailable) and reused for later tasks with the same GPU ids, so launching a
task is one message. ``train_fn`` is shipped with cloudpickle, so functions from
``__main__`` and closures work.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import signal
import sys
import threading
from multiprocessing.connection import wait

import cloudpickle

from scheduler.runtime._worker import worker_main
from scheduler.runtime.backend import CANCELLED, DIED, Backend, TaskOutcome, TaskSpec

__all__ = ["ProcessBackend"]

_fn_keys = itertools.count()


def _context():
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["numpy", "cloudpickle", "scheduler.runtime._worker"])
    return ctx


def describe_exit(exitcode: int | None) -> str:
    """Readable reason for a worker's exit code."""
    if exitcode is None:
        return "worker process ended (exit code unknown)"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"worker process was killed by {name}"
    return f"worker process exited with code {exitcode} while running the task"


class _Worker:
    __slots__ = ("process", "conn", "gpu_ids", "task_id", "fn_keys", "cancel_reason")

    def __init__(self, process, conn, gpu_ids):
        self.process = process
        self.conn = conn
        self.gpu_ids = gpu_ids
        self.task_id: int | None = None
        self.fn_keys: set[int] = set()
        self.cancel_reason: str | None = None


class ProcessBackend(Backend):
    name = "process"

    def __init__(self, train_fn, on_report, on_end):
        super().__init__(train_fn, on_report, on_end)
        self._ctx = _context()
        self._fn_key = next(_fn_keys)
        self._fn_bytes = cloudpickle.dumps(train_fn)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy: dict[int, _Worker] = {}
        self._closing = False
        self._wake_r, self._wake_w = mp.Pipe(duplex=False)
        self._io = threading.Thread(target=self._io_loop, name="scheduler-process-io", daemon=True)
        self._io.start()

    # -- workers -------------------------------------------------------------------
    def _spawn(self, gpu_ids) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=worker_main, args=(child,), name="scheduler-worker", daemon=True
        )
        process.start()
        child.close()
        return _Worker(process, parent, gpu_ids)

    def prepare(self, max_concurrency: int) -> None:
        """Start the workers up front, so that the first launches are cheap too."""
        with self._lock:
            missing = max(0, max_concurrency - len(self._idle) - len(self._busy))
        fresh = [self._spawn(None) for _ in range(missing)]
        with self._lock:
            self._idle.extend(fresh)

    def _take_worker(self, gpu_ids) -> _Worker:
        with self._lock:
            for i, worker in enumerate(self._idle):
                if worker.process.is_alive() and worker.gpu_ids in (None, gpu_ids):
                    del self._idle[i]
                    worker.gpu_ids = gpu_ids
                    return worker
        return self._spawn(gpu_ids)

    def _wake(self) -> None:
        try:
            self._wake_w.send_bytes(b"x")
        except OSError:
            pass

    # -- Backend interface -------------------------------------------------------
    def start(self, spec: TaskSpec) -> None:
        worker = self._take_worker(tuple(spec.gpu_ids))
        send_fn = self._fn_key not in worker.fn_keys
        message = ("run", spec, self._fn_key, self._fn_bytes if send_fn else None, list(sys.path))
        data = cloudpickle.dumps(message)
        worker.task_id = spec.task_id
        worker.cancel_reason = None
        with self._lock:
            self._busy[spec.task_id] = worker
        try:
            worker.conn.send_bytes(data)
        except OSError:
            pass  # the worker is dead: its sentinel fires and the I/O thread ends the task
        worker.fn_keys.add(self._fn_key)
        self._wake()

    def cancel(self, task_id: int, reason: str) -> None:
        with self._lock:
            worker = self._busy.get(task_id)
            if worker is None:
                return
            worker.cancel_reason = reason
        try:
            worker.process.kill()
        except (OSError, ValueError):
            pass

    def shutdown(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._closing = True
            busy = list(self._busy.values())
            idle, self._idle = self._idle, []
        for worker in busy:
            worker.cancel_reason = "scheduler shut down"
            try:
                worker.process.kill()
            except (OSError, ValueError):
                pass
        for worker in idle:
            try:
                worker.conn.send_bytes(cloudpickle.dumps(("exit",)))
            except OSError:
                pass
        self._wake()
        self._io.join(timeout)
        for worker in idle + busy:
            worker.process.join(timeout=max(0.1, timeout / 4))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=1.0)
            worker.conn.close()

    # -- the I/O thread ----------------------------------------------------------
    def _io_loop(self) -> None:
        while True:
            with self._lock:
                if self._closing and not self._busy:
                    return
                busy = list(self._busy.values())
            waitables = [self._wake_r]
            for worker in busy:
                waitables.append(worker.conn)
                waitables.append(worker.process.sentinel)
            ready = wait(waitables, timeout=1.0)
            for obj in ready:
                if obj is self._wake_r:
                    try:
                        while self._wake_r.poll():
                            self._wake_r.recv_bytes()
                    except (EOFError, OSError):
                        pass
                    continue
                worker = next((w for w in busy if obj is w.conn or obj == w.process.sentinel), None)
                if worker is None or worker.task_id is None:
                    continue
                if obj is worker.conn:
                    self._serve(worker)
                else:
                    self._drain_then_bury(worker)

    def _serve(self, worker: _Worker) -> None:
        try:
            message = cloudpickle.loads(worker.conn.recv_bytes())
        except (EOFError, OSError):
            self._bury(worker)
            return
        kind, task_id = message[0], message[1]
        if kind == "report":
            decision = self.on_report(task_id, message[2])
            try:
                worker.conn.send_bytes(cloudpickle.dumps(decision))
            except OSError:
                self._bury(worker)
        elif kind == "end":
            with self._lock:
                self._busy.pop(task_id, None)
                worker.task_id = None
                if not self._closing and worker.cancel_reason is None:
                    self._idle.append(worker)
            self.on_end(task_id, message[2])

    def _drain_then_bury(self, worker: _Worker) -> None:
        # Messages sent just before the exit (e.g. the final "end") still count.
        try:
            while worker.task_id is not None and worker.conn.poll():
                self._serve(worker)
        except (EOFError, OSError):
            pass
        if worker.task_id is not None:
            self._bury(worker)

    def _bury(self, worker: _Worker) -> None:
        task_id = worker.task_id
        if task_id is None:
            return
        worker.process.join(timeout=1.0)
        with self._lock:
            self._busy.pop(task_id, None)
            worker.task_id = None
        worker.conn.close()
        if worker.cancel_reason is not None:
            outcome = TaskOutcome(CANCELLED, error=worker.cancel_reason)
        else:
            outcome = TaskOutcome(DIED, error=describe_exit(worker.process.exitcode))
        self.on_end(task_id, outcome)
