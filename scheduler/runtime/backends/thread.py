"""Runs each task in a daemon thread of the driver process.

Cheapest launch and report round trip (a report is a direct call into the runtime),
but a thread cannot be killed: a task that hangs past ``max_task_time`` is recorded as
failed and its resources come back, while its thread is abandoned (it gets ``stop`` if
it ever reports again). ``os._exit`` or a segfault in ``train_fn`` ends the whole
driver; use the process backend for code that can do that.

What the thread backend cannot isolate (every task shares the driver's process): the
environment, working folder, umask, resource limits, signal handlers and ``sys.path``
a task changes are changed for the driver and every other task, at once; processes a
task starts are not killed when it ends (they cannot be told apart from the driver's
own); memory, open files and threads a task leaves stay in the driver. The process
backend restores or contains all of these (see ``backends/_state.py`` and
``backends/_leftovers.py``); the subprocess backend gives each task a fresh interpreter.
Reports are converted to JSON-able values by the reporter on every backend, so a
result gives the same row here as in a worker process.
"""

from __future__ import annotations

import threading

from scheduler.runtime.backends.base import CANCELLED, RAISED, Backend, TaskOutcome, TaskSpec
from scheduler.runtime.execute import execute

__all__ = ["ThreadBackend"]


class ThreadBackend(Backend):
    name = "thread"

    def __init__(self, train_fn, on_report, on_end):
        super().__init__(train_fn, on_report, on_end)
        self._lock = threading.Lock()
        self._threads: dict[int, threading.Thread] = {}
        self._ended: set[int] = set()

    def prepare(self, max_concurrency: int) -> None:
        """Nothing to warm up: a thread starts in well under a millisecond."""
        return None

    def start(self, spec: TaskSpec) -> None:
        thread = threading.Thread(
            target=self._run, args=(spec,), name=f"scheduler-task-{spec.task_id}", daemon=True
        )
        with self._lock:
            self._threads[spec.task_id] = thread
        thread.start()

    def _run(self, spec: TaskSpec) -> None:
        task_id = spec.task_id
        outcome = TaskOutcome(RAISED, error="the task thread ended without an outcome")
        try:
            outcome = execute(self.train_fn, spec, lambda result: self.on_report(task_id, result))
        except BaseException as exc:  # noqa: BLE001 - e.g. a broken Reporter
            outcome = TaskOutcome(RAISED, error=f"{type(exc).__name__}: {exc}")
        finally:
            self._finish(task_id, outcome)

    def _finish(self, task_id: int, outcome: TaskOutcome) -> None:
        with self._lock:
            if task_id in self._ended:
                return
            self._ended.add(task_id)
            self._threads.pop(task_id, None)
        self.on_end(task_id, outcome)

    def cancel(self, task_id: int, reason: str) -> None:
        with self._lock:
            if task_id not in self._threads:
                return
        self._finish(task_id, TaskOutcome(CANCELLED, error=reason))

    def shutdown(self, timeout: float = 5.0) -> None:
        with self._lock:
            running = list(self._threads)
        for task_id in running:
            self.cancel(task_id, "scheduler shut down")
