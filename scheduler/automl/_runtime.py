"""The engine's coupling to the shared runtime (``scheduler.runtime.runner.Runner``).

Everything the AutoML engine knows about the runner is in this module, so that the
runner's refactoring touches one file:

- :class:`RecommendationPolicy`: the runner's ``Policy``. Its new tasks come from a
  FIFO queue of the controller's recommendations (``suggest`` pops one); it forwards
  starts, reports and ends to the controller's hooks (a Hyperband controller decides on
  per-epoch reports there), and tells the engine each task end, so that the engine calls
  ``refine_recommendation`` on its own thread. Once the engine closes it (the run is
  over or stopping) it suggests nothing, and the engine ends the runner with
  ``shutdown()``.
- :func:`make_runner`: a runner over the ``thread`` backend, whose task threads are the
  engine's job threads, and over a :class:`~scheduler.automl.workers.WorkerPool` as its
  resource manager (one job per worker, GPUs fixed per worker).
- :func:`wake`, :func:`runner_error`, :func:`allocation_of`, :func:`checkpoint_dir`: the
  few runner details the engine needs (the runner calls ``make_args`` outside its
  lock, after registering the task: the task's worker is read from its table).

Locks: the runner calls the policy under its own lock; the policy's lock is taken
inside it, never the other way round, and the engine's callbacks it calls take only the
engine's lock.
"""

from __future__ import annotations

import collections
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from scheduler.runtime.runner import RunFolders, Runner
from scheduler.schedulers.base import Decision, Policy, Suggestion

if TYPE_CHECKING:
    from scheduler.automl.controllers import Controller
    from scheduler.automl.defs import Recommendation
    from scheduler.automl.workers import WorkerAllocation, WorkerPool
    from scheduler.results.history import History

__all__ = [
    "RecommendationPolicy",
    "RecommendationQueue",
    "allocation_of",
    "checkpoint_dir",
    "make_runner",
    "runner_error",
    "wake",
]

REWARD_ATTR = "score"
TIME_ATTR = "epoch"


class RecommendationQueue:
    """The "searcher" the runner draws new tasks from: the queue of recommendations.

    ``get_config()`` pops the next recommendation and returns its values (the runner
    hands that same dict to :meth:`RecommendationPolicy.add_config` at once, under its
    lock); None when the queue is empty (the policy's ``wants_new`` keeps the runner
    from asking then).
    """

    inline_calls = True  # cheap: called under the runner's lock, never on a thread
    deterministic_replay = True

    def __init__(self, lock: threading.Lock):
        self._lock = lock
        self.queue: collections.deque[Recommendation] = collections.deque()
        # id(values) -> (values, rec), until add_config
        self.drawn: dict[int, tuple[dict, Recommendation]] = {}

    def get_config(self, **kwargs: Any) -> dict | None:
        with self._lock:
            if not self.queue:
                return None
            rec = self.queue.popleft()
            values = dict(rec.search_result.values)
            self.drawn[id(values)] = (values, rec)
            return values

    def state_dict(self) -> dict:
        with self._lock:
            return {"queued": len(self.queue)}


class RecommendationPolicy(Policy):
    """The runner's policy over the engine's queue of recommendations.

    Parameters
    ----------
    controller
        The engine's controller (its ``on_job_*`` hooks and ``require_time``).
    on_report : callable
        ``on_report(task_id, result)``: the engine records a job's report.
    on_end : callable
        ``on_end(task_id, status, last_result)``: the engine learns that a task ended
        (called under the runner's lock: it must only queue the news).
    """

    def __init__(self, controller: Controller, on_report: Callable, on_end: Callable) -> None:
        super().__init__()
        self.controller = controller
        self.require_time = bool(getattr(controller, "require_time", False))
        self._on_report = on_report
        self._on_end = on_end
        self._lock = threading.Lock()
        self.searcher = RecommendationQueue(self._lock)
        self._closed = False
        self._next_config_id = 0
        self._by_task: dict[int, Recommendation] = {}  # task_id -> rec
        # id(suggestion) -> (suggestion, rec)
        self._started: dict[int, tuple[Suggestion, Recommendation]] = {}
        #: recommendations handed to the runner whose outcome the engine has not yet
        #: given to the controller
        self.in_flight = 0

    # -- the engine's side --------------------------------------------------------------
    def enqueue(self, recs: list[Recommendation]) -> None:
        with self._lock:
            if not self._closed:
                self.searcher.queue.extend(recs)

    def outcome_handled(self, recs: list[Recommendation]) -> None:
        """The engine refined one outcome into ``recs`` (queued unless closed)."""
        with self._lock:
            self.in_flight -= 1
            if not self._closed:
                self.searcher.queue.extend(recs)

    def close(self) -> list[Recommendation]:
        """No more tasks: returns the recommendations that were still queued."""
        with self._lock:
            self._closed = True
            dropped = list(self.searcher.queue)
            self.searcher.queue.clear()
            return dropped

    def idle(self) -> bool:
        """Nothing queued and nothing in flight: the run has nothing left to do."""
        with self._lock:
            return not self.searcher.queue and self.in_flight == 0

    @property
    def num_queued(self) -> int:
        with self._lock:
            return len(self.searcher.queue)

    def rec_of_task(self, task_id: int) -> Recommendation:
        with self._lock:
            return self._by_task[task_id]

    # -- the Policy interface (runner threads, under the runner's lock) --------------
    def wants_new(self) -> bool:
        with self._lock:
            return not self._closed and bool(self.searcher.queue)

    def add_config(self, config: dict) -> Suggestion:
        with self._lock:
            values, rec = self.searcher.drawn.pop(id(config))
            self.in_flight += 1
            suggestion = rec.suggestion
            if suggestion is None:
                suggestion = Suggestion(config=values, config_id=self._next_config_id)
                self._next_config_id += 1
            self._started[id(suggestion)] = (suggestion, rec)
            return suggestion

    @property
    def exhausted(self) -> bool:
        # Never: the engine ends the runner with shutdown() once the run is over (an
        # exhausted policy would make the runner log "search space exhausted").
        return False

    def searcher_exhausted(self) -> None:
        """The queue was empty when the runner drew: more may come (refine)."""

    def on_task_start(self, task_id: int, suggestion: Suggestion) -> None:
        with self._lock:
            _, rec = self._started.pop(id(suggestion))
            self._by_task[task_id] = rec
        self.controller.on_job_start(task_id, suggestion)

    def on_report(self, task_id: int, result: dict) -> Decision:
        self._on_report(task_id, result)
        return Decision(self.controller.on_job_report(task_id, result))

    def on_task_end(self, task_id: int, status: str, last_result: dict | None) -> None:
        try:
            self.controller.on_job_end(task_id, status, last_result)
        finally:
            self._on_end(task_id, status, last_result)

    def state_dict(self) -> dict:
        with self._lock:
            return {"queued": len(self.searcher.queue), "in_flight": self.in_flight}

    def load_state_dict(self, state: dict) -> None:
        raise ValueError("an AutoML run cannot be resumed from a saved state")


def make_runner(
    *,
    job_fn: Callable[..., Any],
    policy: Policy,
    pool: WorkerPool,
    history: History,
    make_args: Callable[..., Any],
    run_folder: str,
) -> Runner:
    """A runner over the thread backend: one task (job thread) per recommendation.

    ``fail_fast`` is off: a failing job is an outcome the controller learns from, and
    the run goes on (Clara's semantics); ``max_task_time`` is off: the engine enforces
    ``max_job_run_time`` through the executor's ``abort``, so the job thread ends (and
    fires ``end_job``) before its worker is given another job.
    """
    return Runner(
        train_fn=job_fn,
        policy=policy,
        backend="thread",
        resources=pool,
        history=history,
        make_args=make_args,
        reward_attr=REWARD_ATTR,
        time_attr=TIME_ATTR,
        mode="max",
        num_trials=None,
        time_out=None,
        max_reward=None,
        stop_jobs_after_time_out=False,
        max_task_time=None,
        callback=None,
        callback_delta_secs=60.0,
        progress=False,
        folders=RunFolders(
            checkpoints=os.path.join(run_folder, "checkpoints"),
            tasks=os.path.join(run_folder, "tasks"),
        ),
        fail_fast=False,
    )


def wake(runner: Runner | None) -> None:
    """Make the runner look for work now (new recommendations, a resumed worker)."""
    if runner is None:
        return
    with runner.lock:
        runner._cond.notify_all()


def runner_error(runner: Runner | None) -> BaseException | None:
    """The exception that ended the runner's loop, if one did."""
    return None if runner is None else runner.error


def allocation_of(runner: Runner, task_id: int) -> WorkerAllocation | None:
    """The worker allocation the runner gave a task (read under its lock)."""
    with runner.lock:
        return runner.table.tasks[task_id].allocation


def checkpoint_dir(runner: Runner, config_id: int) -> str:
    """The per-config folder the runner gives a task (it survives pauses)."""
    return runner.folders.checkpoint_dir(config_id)
