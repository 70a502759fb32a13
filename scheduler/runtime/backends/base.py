"""The interface every execution backend implements, and what crosses it.

A backend starts a task, carries its reports to the runtime and decisions back,
cancels it, and tells the runtime exactly once when and how it ended. It never makes
scheduling decisions.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scheduler._args import Args
from scheduler.schedulers.base import Suggestion

__all__ = ["Backend", "OnEnd", "OnReport", "TaskOutcome", "TaskSpec"]

# How a task ended, as seen by the backend.
RETURNED = "returned"  # train_fn returned normally
STOPPED = "stopped"  # train_fn let TaskStopped propagate (stop or pause decision)
RAISED = "raised"  # train_fn raised an exception (error and traceback given)
DIED = "died"  # the process running it exited or was killed from outside
CANCELLED = "cancelled"  # the runtime cancelled it (timeout, shutdown)


@dataclass(frozen=True)
class TaskSpec:
    """Everything a backend needs to run one task; picklable."""

    task_id: int
    #: the train_fn's Args; the task's Suggestion for a backend without needs_args
    args: Args | Suggestion
    reward_attr: str
    time_attr: str | None
    require_time: bool
    checkpoint_dir: str
    gpu_ids: tuple[int, ...] = ()
    #: this task's own folder for logs (``stdout.log``, ``stderr.log``); created by a
    #: backend that writes there, removed with the run's temporary folder
    log_dir: str | None = None


@dataclass(frozen=True)
class TaskOutcome:
    """How a task ended.

    ``error`` is one line (``"ValueError: ..."``, ``"the program exited with code 3"``);
    ``traceback`` the full text when there is one (for a program: its stderr's tail).
    """

    kind: str
    error: str | None = None
    traceback: str | None = None
    num_reports: int = 0
    return_value: object = field(default=None, repr=False)


def spec_args(spec: TaskSpec) -> Args:
    """``spec.args`` for a backend that needs args (the runtime built an Args)."""
    if not isinstance(spec.args, Args):
        raise TypeError(
            f"task {spec.task_id}: this backend runs a train_fn with its Args, "
            f"got {type(spec.args).__name__}"
        )
    return spec.args


def spec_suggestion(spec: TaskSpec) -> Suggestion:
    """``spec.args`` for a backend without ``needs_args``: the task's Suggestion."""
    if not isinstance(spec.args, Suggestion):
        raise TypeError(
            f"task {spec.task_id}: this backend runs the task's Suggestion, "
            f"got {type(spec.args).__name__}"
        )
    return spec.args


def _ignore(task_id: int) -> None:
    return None


OnReport = Callable[[int, dict], str]
OnEnd = Callable[[int, TaskOutcome], None]


class Backend(abc.ABC):
    """Runs tasks. ``on_report(task_id, result) -> decision`` and ``on_end(task_id,
    outcome)`` are called from backend threads; ``on_end`` exactly once per started task.
    """

    name: str = "abstract"
    #: the runtime creates each config's checkpoint folder before a start
    needs_task_folders: bool = True
    #: ``TaskSpec.args`` is the train_fn's ``Args`` (else the task's ``Suggestion``)
    needs_args: bool = True
    #: True for a backend that calls ``on_running`` for every task it starts: the
    #: runtime then starts ``max_task_time`` there, not at registration (a task that
    #: waits for its worker or program to start is not charged for the wait; the
    #: backend ends a start that fails or hangs itself)
    announces_running: bool = False

    def __init__(self, train_fn: Any, on_report: OnReport, on_end: OnEnd) -> None:
        self.train_fn = train_fn
        self.on_report = on_report
        self.on_end = on_end
        #: ``on_running(task_id)``: a backend that starts tasks asynchronously (a worker
        #: to spawn, an actor to place) calls it when the task's code begins, so that
        #: ``max_task_time`` counts the task's own time (set by the runtime)
        self.on_running: Callable[[int], None] = _ignore

    @abc.abstractmethod
    def prepare(self, max_concurrency: int) -> None:
        """Warm up for up to ``max_concurrency`` concurrent tasks."""

    @abc.abstractmethod
    def start(self, spec: TaskSpec) -> None:
        """Start a task; return at once."""

    @abc.abstractmethod
    def cancel(self, task_id: int, reason: str) -> None:
        """End a running task as soon as possible; ``on_end`` follows with CANCELLED or
        the outcome it reached first. Unknown or finished ids are ignored."""

    @abc.abstractmethod
    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel everything and release processes and threads within ``timeout``."""
