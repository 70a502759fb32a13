"""A virtual clock: trials that take simulated seconds, in virtual-time order.

``backend="simulated"`` runs the real policy, searcher, journal and results code on a
discrete-event simulation of N workers, so that a searcher can be judged by regret per
unit of (virtual) budget over many seeds in seconds. Same seed, same events, same
decisions, every time: one thread does everything (the runtime's
:meth:`~scheduler.runtime.runner.Runner.run_inline`), and events with the same time are
delivered in the order they were created.

Two kinds of trials:

* a **benchmark object** (in place of a train_fn) with ``space``, ``max_epochs`` and
  ``objective(config, epoch) -> (metric, seconds)``: epoch ``e`` of a config is reported
  ``seconds`` after epoch ``e - 1``. No thread, no copy of ``args``: the fast path.
* a **train_fn** that reports the virtual cost of each step under ``elapsed_time_attr``
  (``reporter(epoch=e, accuracy=a, elapsed_time=12.5)``): each task runs in a thread of
  its own, but only one runs at a time (the simulator hands control over and waits), so
  its reports arrive in virtual-time order too.

``time_out`` and ``max_task_time`` count virtual seconds. ``time_this_iter`` and
``time_since_start`` in the rows are virtual too, and so are the tasks' ``start_time``
and ``end_time`` in the history: the run's real start plus the virtual seconds since.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import traceback as tb
from typing import Any

from scheduler._decisions import Decision
from scheduler._exceptions import TaskStopped
from scheduler.runtime.backends.base import (
    CANCELLED,
    RAISED,
    RETURNED,
    STOPPED,
    Backend,
    OnEnd,
    OnReport,
    TaskOutcome,
    TaskSpec,
    spec_suggestion,
)
from scheduler.runtime.execute import execute

__all__ = ["SimulatedBackend", "is_benchmark"]

_GOES_ON = (Decision.CONTINUE.value, Decision.COMPLETE.value)
_HANDOFF_TIMEOUT = 600.0  # a train_fn step that takes this long (real time) is a bug


def is_benchmark(obj: object) -> bool:
    """Whether ``obj`` is a benchmark object (``objective`` and ``space``), not a
    train_fn."""
    return callable(getattr(obj, "objective", None)) and hasattr(obj, "space")


def _seconds(value: object, where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{where} must be a number of virtual seconds >= 0, got {value!r}")
    return float(value)


class _Task:
    __slots__ = (
        "clock",
        "config",
        "decision",
        "ended",
        "epoch",
        "next_event",
        "resume",
        "spec",
        "start",
        "thread",
        "yielded",
    )

    def __init__(self, spec: TaskSpec, start: float):
        self.spec = spec
        self.start = start
        self.clock = start  # the task's own virtual time
        self.ended = False
        self.epoch = 0
        self.config: dict | None = None
        self.thread: threading.Thread | None = None
        self.decision: str | None = None
        self.next_event: tuple[str, float, Any] | None = None  # (kind, time, payload)
        self.resume: threading.Semaphore | None = None
        self.yielded: threading.Semaphore | None = None


class SimulatedBackend(Backend):
    """Runs tasks on a virtual clock; see the module docstring.

    Parameters
    ----------
    elapsed_time_attr : str
        The key under which a train_fn reports each step's virtual cost in seconds.
    """

    name = "simulated"

    def __init__(
        self,
        train_fn: Any,
        on_report: OnReport,
        on_end: OnEnd,
        *,
        elapsed_time_attr: str = "elapsed_time",
    ) -> None:
        super().__init__(train_fn, on_report, on_end)
        self.elapsed_time_attr = elapsed_time_attr
        self.benchmark = train_fn if is_benchmark(train_fn) else None
        self.needs_args = self.benchmark is None
        self.needs_task_folders = self.benchmark is None
        self._now = 0.0
        self._events: list[
            tuple[float, int, int, str, Any]
        ] = []  # (time, seq, task_id, kind, payload)
        self._seq = itertools.count()
        self._tasks: dict[int, _Task] = {}
        self.num_events = 0

    # -- the clock ---------------------------------------------------------------------
    def now(self) -> float:
        """Virtual seconds since the run started."""
        return self._now

    def _push(self, time: float, task_id: int, kind: str, payload: Any) -> None:
        heapq.heappush(self._events, (time, next(self._seq), task_id, kind, payload))

    # -- Backend interface -----------------------------------------------------------
    def prepare(self, max_concurrency: int) -> None:
        return None

    def start(self, spec: TaskSpec) -> None:
        task = _Task(spec, self._now)
        self._tasks[spec.task_id] = task
        if self.benchmark is not None:
            suggestion = spec_suggestion(spec)
            task.config = suggestion.config
            task.epoch = (suggestion.resume_from or 0) + 1
            self._schedule_epoch(task)
        else:
            self._start_thread(task)

    def cancel(self, task_id: int, reason: str) -> None:
        task = self._tasks.get(task_id)
        if task is None or task.ended:
            return
        self._finish(task, TaskOutcome(CANCELLED, error=reason))

    def shutdown(self, timeout: float = 5.0) -> None:
        for task in list(self._tasks.values()):
            if not task.ended:
                self._finish(task, TaskOutcome(CANCELLED, error="scheduler shut down"))
        self._events.clear()

    def _finish(self, task: _Task, outcome: TaskOutcome) -> None:
        task.ended = True
        del self._tasks[task.spec.task_id]
        if task.thread is not None and task.thread.is_alive():
            self._stop_thread(task)
        self.on_end(task.spec.task_id, outcome)

    # -- delivering events -----------------------------------------------------------
    def advance_until_end(self, limit: float | None = None) -> bool:
        """Deliver events in virtual-time order until a task ends (True), the clock
        would pass ``limit`` (True, with the clock at ``limit``), or there is nothing
        left to deliver (False)."""
        events = self._events
        while events:
            time = events[0][0]
            if limit is not None and time > limit:
                self._now = max(self._now, limit)
                return True
            _, _, task_id, kind, payload = heapq.heappop(events)
            task = self._tasks.get(task_id)
            if task is None or task.ended:
                continue  # cancelled meanwhile
            self._now = time
            self.num_events += 1
            if kind == "report":
                if self._deliver(task, payload):
                    return True
            else:
                self._finish(task, payload)
                return True
        return False

    def _deliver(self, task: _Task, result: dict) -> bool:
        """A report reaches the runtime; True if the task ended."""
        try:
            decision = self.on_report(task.spec.task_id, result)
        except Exception as exc:  # noqa: BLE001 - as a backend would, the task ends
            self._finish(task, TaskOutcome(RAISED, error=f"handling its report failed: {exc!r}"))
            return True
        if self.benchmark is not None:
            if decision not in _GOES_ON:
                self._finish(task, TaskOutcome(STOPPED, num_reports=task.epoch))
                return True
            if task.epoch >= self.benchmark.max_epochs:
                self._finish(task, TaskOutcome(RETURNED, num_reports=task.epoch))
                return True
            task.epoch += 1
            self._schedule_epoch(task)
            return False
        self._resume_thread(task, decision)
        return task.ended

    # -- benchmark objects -------------------------------------------------------------
    def _schedule_epoch(self, task: _Task) -> None:
        spec = task.spec
        benchmark = self.benchmark
        if benchmark is None:  # (only a benchmark's tasks have epochs scheduled)
            raise AssertionError("epochs are scheduled for a benchmark object only")
        try:
            metric, seconds = benchmark.objective(task.config, task.epoch)
            seconds = _seconds(seconds, f"the seconds objective() returned for epoch {task.epoch}")
        except Exception as exc:  # noqa: BLE001 - a failing objective fails its task
            self._push(
                self._now,
                spec.task_id,
                "end",
                TaskOutcome(
                    RAISED,
                    error=f"{type(exc).__name__}: {exc}",
                    traceback=tb.format_exc(),
                    num_reports=task.epoch - 1,
                ),
            )
            return
        task.clock += seconds
        result = {
            spec.time_attr: task.epoch,
            spec.reward_attr: float(metric),
            self.elapsed_time_attr: seconds,
            "time_this_iter": seconds,
            "time_since_start": task.clock - task.start,
        }
        self._push(task.clock, spec.task_id, "report", result)

    # -- train functions (one thread each, one at a time) ------------------------------
    def _start_thread(self, task: _Task) -> None:
        resume = task.resume = threading.Semaphore(0)
        yielded = task.yielded = threading.Semaphore(0)
        task_id = task.spec.task_id

        def send(result: dict) -> str:
            cost = _seconds(
                result.get(self.elapsed_time_attr),
                f"reported {self.elapsed_time_attr!r} (elapsed_time_attr: the step's "
                "virtual seconds)",
            )
            task.clock += cost
            result["time_this_iter"] = cost
            result["time_since_start"] = task.clock - task.start
            task.next_event = ("report", task.clock, result)
            yielded.release()  # hand control back to the simulator
            if not resume.acquire(timeout=_HANDOFF_TIMEOUT):
                raise TaskStopped("stop", "the simulator went away")
            if task.decision is None:  # (_resume_thread sets it before the release)
                raise AssertionError(f"task {task_id} was resumed without a decision")
            return task.decision

        def body() -> None:
            outcome = TaskOutcome(RAISED, error="the task thread ended without an outcome")
            try:
                outcome = execute(self.train_fn, task.spec, send)
            finally:
                task.next_event = ("end", task.clock, outcome)
                yielded.release()

        thread = task.thread = threading.Thread(
            target=body, name=f"simulated-task-{task_id}", daemon=True
        )
        thread.start()
        self._await_yield(task)

    def _await_yield(self, task: _Task) -> None:
        """Wait until the task's thread reports or ends, and queue that event."""
        _, _, yielded = _handoff(task)
        if not yielded.acquire(timeout=_HANDOFF_TIMEOUT):
            raise RuntimeError(
                f"task {task.spec.task_id}'s train_fn did not report or return within "
                f"{_HANDOFF_TIMEOUT:.0f} s of real time"
            )
        if task.next_event is None:  # (the thread sets it before it releases yielded)
            raise AssertionError(f"task {task.spec.task_id} yielded without an event")
        kind, time, payload = task.next_event
        self._push(time, task.spec.task_id, kind, payload)

    def _resume_thread(self, task: _Task, decision: str) -> None:
        _, resume, _ = _handoff(task)
        task.decision = decision
        resume.release()
        self._await_yield(task)

    def _stop_thread(self, task: _Task) -> None:
        """A cancelled task's thread: answer its report with stop and let it end."""
        thread, resume, yielded = _handoff(task)
        if task.next_event is not None and task.next_event[0] == "end":
            thread.join(_HANDOFF_TIMEOUT)  # it has returned already
            return
        task.decision = Decision.STOP.value
        resume.release()
        yielded.acquire(timeout=_HANDOFF_TIMEOUT)
        thread.join(_HANDOFF_TIMEOUT)


def _handoff(task: _Task) -> tuple[threading.Thread, threading.Semaphore, threading.Semaphore]:
    """The thread of a train_fn task and its two semaphores (set by _start_thread)."""
    if task.thread is None or task.resume is None or task.yielded is None:
        raise AssertionError(f"task {task.spec.task_id} has no train_fn thread")
    return task.thread, task.resume, task.yielded
