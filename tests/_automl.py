"""Helpers of the AutoML tests: in-process executors and a recording handler."""

from __future__ import annotations

import threading
import time

from scheduler.automl import ContextKey, Executor, Handler, SearchSpaceManager

#: a float and an enum: 2 parameters
SMALL_CONFIG = {
    "learning_rate": 0.01,
    "search": [
        {"domain": "lr", "type": "float", "args": "learning_rate", "targets": [0.001, 0.1]},
    ],
    "train": {
        "model": {
            "name": "Net",
            "args": {"depth": 1},
            "search": [
                {"domain": "net", "type": "enum", "args": "depth", "targets": [[1], [2], [3]]}
            ],
        }
    },
}
LR = "lr.float.search[0]"
DEPTH = "net.enum.train.model.search[0]"


def enum_config(n: int) -> dict:
    """A config with n binary enums (2**n combinations)."""
    return {
        "train": {
            f"c{i}": {
                "name": "C",
                "args": {"flag": False},
                "search": [
                    {"domain": "net", "type": "enum", "args": "flag", "targets": [[False], [True]]}
                ],
            }
            for i in range(n)
        }
    }


class FnExecutor(Executor):
    """Runs ``fn(rec, ctx, abort_event) -> score`` in the job thread; ``abort`` sets the
    job's event. Records the threads it was called on."""

    def __init__(self, config=None, fn=None):
        self.config = SMALL_CONFIG if config is None else config
        self.fn = fn or (lambda rec, ctx, ev: rec.search_result.values.get(LR, 0.0) * 10)
        self._lock = threading.Lock()
        self._events: dict[str, threading.Event] = {}
        self.aborted: list[str] = []
        self.abort_threads: list[int] = []
        self.space_thread = None
        self.seen: list[dict] = []  # per job: name, worker, gpus, thread

    def event(self, job_name: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(job_name, threading.Event())

    def determine_search_space(self, ctx):
        self.space_thread = threading.get_ident()
        self.manager = SearchSpaceManager(self.config)
        return self.manager.extract_search_space()

    def execute(self, rec, ctx):
        name = ctx.get_prop(ContextKey.JOB_NAME)
        with self._lock:
            self.seen.append(
                {
                    "name": name,
                    "worker": ctx.get_prop(ContextKey.WORKER_NAME),
                    "gpus": ctx.get_prop(ContextKey.GPU_STRING),
                    "thread": threading.get_ident(),
                    "start": time.monotonic(),
                }
            )
        return self.fn(rec, ctx, self.event(name))

    def abort(self, ctx):
        name = ctx.get_prop(ContextKey.JOB_NAME)
        with self._lock:
            self.aborted.append(name)
            self.abort_threads.append(threading.get_ident())
        self.event(name).set()


class GateExecutor(FnExecutor):
    """Each job blocks until :meth:`release` (score: its rec id) or an abort (raises)."""

    def __init__(self, config=None):
        super().__init__(config, self._gate)
        self.started = threading.Condition()
        self.running: list[str] = []
        self._released: set[str] = set()

    def _gate(self, rec, ctx, abort_event):
        name = ctx.get_prop(ContextKey.JOB_NAME)
        with self.started:
            self.running.append(name)
            self.started.notify_all()
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if abort_event.wait(0.01):
                    raise RuntimeError(f"{name} aborted")
                with self.started:
                    if name in self._released:
                        return float(rec.rec_id)
            raise RuntimeError(f"{name} was never released")
        finally:
            with self.started:
                self.running.remove(name)
                self.started.notify_all()

    def release(self, name: str) -> None:
        with self.started:
            self._released.add(name)

    def wait_for(self, predicate, timeout: float = 10.0):
        """Wait until ``predicate(running job names)`` is true; returns them."""
        deadline = time.monotonic() + timeout
        with self.started:
            while not predicate(list(self.running)):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; running: {self.running}")
                self.started.wait(left)
            return list(self.running)


class RecordingHandler(Handler):
    """Records (event, job name, thread id) for every event."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events: list[tuple] = []

    def handle_event(self, event, ctx):
        with self.lock:
            self.events.append((event, ctx.get_prop(ContextKey.JOB_NAME), threading.get_ident()))
        super().handle_event(event, ctx)

    def names(self) -> list[str]:
        return [e for e, _, _ in self.events]
