"""Runs each task in a daemon thread of the driver process, reusing idle threads.

Cheapest launch and report round trip (a report is a direct call into the runtime),
but a thread cannot be killed: a task that hangs past ``max_task_time`` is recorded as
failed and its resources come back, while its thread is abandoned (it gets ``stop`` if
it ever reports again). ``os._exit`` or a segfault in ``train_fn`` ends the whole
driver; use the process backend for code that can do that.

Threads are reused, as ``concurrent.futures.ThreadPoolExecutor`` does: a task that
ends leaves its thread idle for the next one (``Thread.start()`` waits until the new
thread runs, about 0.1-0.3 ms, more than the rest of a launch); an idle thread exits
after :attr:`ThreadBackend.idle_timeout` seconds. A task runs in a thread named
``scheduler-task-<task_id>``. Thread-local state a task sets and does not reset
(``threading.local`` values; a library's per-thread mode left switched) is seen by the
next task of that thread, as in any thread pool.

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


class _Slot:
    """An idle thread's mailbox: the task it is handed, and the event that wakes it."""

    __slots__ = ("spec", "wake")

    def __init__(self) -> None:
        self.spec: TaskSpec | None = None
        self.wake = threading.Event()


class ThreadBackend(Backend):
    name = "thread"
    #: seconds an idle thread waits for its next task before it exits
    idle_timeout = 10.0

    def __init__(self, train_fn, on_report, on_end):
        super().__init__(train_fn, on_report, on_end)
        self._lock = threading.Lock()
        self._live: set[int] = set()  # tasks started whose end was not reported yet
        self._idle: list[_Slot] = []  # last idle first: the warmest thread runs next
        self._closed = False

    def prepare(self, max_concurrency: int) -> None:
        """Nothing to warm up: threads start on demand and are then reused."""
        return None

    def start(self, spec: TaskSpec) -> None:
        with self._lock:
            self._live.add(spec.task_id)
            slot = self._idle.pop() if self._idle else None
            if slot is not None:
                slot.spec = spec  # under the lock: a thread timing out now still sees it
        if slot is not None:
            slot.wake.set()
            return
        thread = threading.Thread(
            target=self._serve,
            args=(spec,),
            name=f"scheduler-task-{spec.task_id}",
            daemon=True,
        )
        thread.start()

    def _serve(self, spec: TaskSpec | None) -> None:
        """A pool thread: run the task it was started with, then each one it is handed
        while idle, until it idles for ``idle_timeout`` or the backend shuts down."""
        slot = _Slot()
        me = threading.current_thread()
        while spec is not None:
            me.name = f"scheduler-task-{spec.task_id}"
            self._run(spec)
            me.name = "scheduler-task-idle"
            spec = None
            slot.wake.clear()
            with self._lock:
                if self._closed:
                    return
                self._idle.append(slot)
            slot.wake.wait(self.idle_timeout)
            with self._lock:
                if slot in self._idle:  # timed out, nobody handed it a task: leave
                    self._idle.remove(slot)
                    return
                # handed a task (or None: the backend shut down)
                spec, slot.spec = slot.spec, None

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
            if task_id not in self._live:
                return  # cancelled before it ended: its end was reported then
            self._live.discard(task_id)
        self.on_end(task_id, outcome)

    def cancel(self, task_id: int, reason: str) -> None:
        self._finish(task_id, TaskOutcome(CANCELLED, error=reason))

    def shutdown(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._closed = True
            running = list(self._live)
            idle, self._idle = self._idle, []
        for slot in idle:  # no task: the thread leaves
            slot.spec = None
            slot.wake.set()
        for task_id in running:
            self.cancel(task_id, "scheduler shut down")
