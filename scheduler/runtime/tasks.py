"""The task table: every task of a run, and the three transitions that change it.

``start``, ``report`` and ``end`` are the only ways policy state, history and the table
change. The live runtime and the journal replay (resume) both go through them, so a
resumed run rebuilds exactly the state the interrupted one had. The table does no
locking and no I/O: the runner calls it under its lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scheduler._decisions import COMPLETE, CONTINUE, STOP, VALUE_OF, Decision
from scheduler.schedulers.base import Suggestion

__all__ = ["ENDED_BY_DECISION", "Task", "TaskTable"]

#: the status a task ends with when a decision ends it
ENDED_BY_DECISION = {Decision.STOP: "stopped", Decision.PAUSE: "paused"}


@dataclass(eq=False)
class Task:
    """One task of the table: running, or ending while the table tells the history and
    the policy (then it is dropped)."""

    task_id: int
    suggestion: Suggestion
    allocation: Any
    start_time: float
    deadline: float | None
    restart: bool = False
    last_result: dict | None = None
    last_time: int | None = None
    #: stopped / paused / diverged, set by a decision the task was sent
    pending_status: str | None = None
    reason: str | None = None
    #: got COMPLETE (reached max_t)
    completed: bool = False
    #: the runtime cancelled it (deadline, time_out, shutdown): the status it ends with
    cancel_status: str | None = None
    #: the backend was asked to cancel it
    cancel_sent: bool = False
    ended: bool = False


class TaskTable:
    """Tasks by id, the running ones, and the counters a snapshot needs.

    Parameters
    ----------
    policy, history
        Told about every transition (``on_task_start`` / ``start_task`` ...).
    reward_attr, time_attr
        Keys of the reward and the fidelity in reports.
    """

    def __init__(
        self, policy: Any, history: Any, *, reward_attr: str, time_attr: str | None
    ) -> None:
        self.policy = policy
        self.history = history
        self.reward_attr = reward_attr
        self.time_attr = time_attr
        #: tasks by id: the running ones, and one that is ending while it is told about
        #: it; an ended task is dropped (its record stays in the history), so that a
        #: long run does not keep a Task, its Suggestion and its Allocation per trial
        #: for the cyclic garbage collector to walk
        self.tasks: dict[int, Task] = {}
        #: running tasks by id, in start order
        self.running: dict[int, Task] = {}
        self.next_task_id = 0
        self.num_configs_started = 0
        #: config_id -> (last_result, last_time) of an interrupted task, for its restart
        self.restart_state: dict[int, tuple] = {}

    # -- transitions -------------------------------------------------------------
    def start(
        self,
        task_id: int,
        suggestion: Suggestion,
        *,
        allocation: Any,
        now: float,
        deadline: float | None,
        wall_time: float | None,
    ) -> Task:
        """A task for ``suggestion`` starts with id ``task_id``."""
        if task_id < self.next_task_id:
            raise ValueError(
                f"task {task_id} was already started (task ids start in increasing order; "
                f"the next is {self.next_task_id})"
            )
        self.next_task_id = max(self.next_task_id, task_id + 1)
        if suggestion.new_config:
            self.num_configs_started += 1
        task = Task(task_id, suggestion, allocation, now, deadline, restart=suggestion.restart)
        if suggestion.restart and suggestion.config_id in self.restart_state:
            task.last_result, task.last_time = self.restart_state.pop(suggestion.config_id)
        self.tasks[task_id] = task
        self.running[task_id] = task
        self.history.start_task(
            task_id,
            suggestion.config_id,
            suggestion.config,
            bracket=suggestion.bracket,
            resume_from=suggestion.resume_from,
            start_time=wall_time,
        )
        self.policy.on_task_start(task_id, suggestion)
        return task

    def report(
        self,
        task: Task,
        result: dict,
        *,
        stop_reason: str | None = None,
        forced: str | None = None,
    ) -> tuple[str, str | None, dict]:
        """Record one validated report; returns ``(decision, policy decision or None,
        stored row)``.

        A non-finite reward (NaN, +-inf) stops the task as ``diverged`` without asking
        the policy; a report at a time ``<= resume_from`` (a restarted task repeating
        what it did before) is a replay, answered ``continue`` and not shown to the
        policy. ``stop_reason``: if the policy says ``continue``, stop instead, with
        this reason (``time_out``). ``forced``: the decision to record (journal replay).
        """
        reward = result[self.reward_attr]
        t = result.get(self.time_attr) if self.time_attr else None
        resume_from = task.suggestion.resume_from
        replay = resume_from is not None and t is not None and t <= resume_from
        if task.suggestion.bracket is not None:
            result["bracket"] = task.suggestion.bracket
        policy_decision = None
        if not math.isfinite(reward):
            decision = STOP
            task.pending_status = "diverged"
            task.reason = f"reward_attr {self.reward_attr!r} is {reward!r} at {self.time_attr}={t}"
        elif replay:
            decision = CONTINUE
        else:
            decision = self.policy.on_report(task.task_id, result)
            if type(decision) is not Decision:  # a policy may answer with the value
                decision = Decision(decision)
            policy_decision = VALUE_OF[decision]
            task.last_result = result
            if t is not None:
                task.last_time = t
            if stop_reason is not None and decision is CONTINUE:
                decision = STOP
                task.reason = stop_reason
        if forced is not None:
            forced_decision = Decision(forced)
            if forced_decision is STOP and decision is not STOP:
                task.reason = task.reason or "time_out reached"
            decision = forced_decision
        if decision in ENDED_BY_DECISION and task.pending_status is None:
            task.pending_status = ENDED_BY_DECISION[decision]
        if decision is COMPLETE:
            task.completed = True
        value = VALUE_OF[decision]
        row = self.history.add_report(task.task_id, result, decision=value, replay=replay)
        return value, policy_decision, row

    def end(
        self,
        task: Task,
        status: str,
        reason: str | None,
        traceback: str | None,
        wall_time: float | None,
    ) -> None:
        """The task ended with ``status``."""
        task.ended = True
        self.running.pop(task.task_id, None)
        try:
            self.history.end_task(
                task.task_id, status, reason=reason, traceback=traceback, end_time=wall_time
            )
            self.policy.on_task_end(task.task_id, status, task.last_result)
        finally:
            self.tasks.pop(task.task_id, None)

    # -- restarts ----------------------------------------------------------------
    def restart_suggestion(self, task: Task) -> Suggestion:
        """The suggestion that starts an interrupted task's config again, from the last
        time it reported (so a train_fn that checkpoints continues)."""
        s = task.suggestion
        resume_from = task.last_time if task.last_time is not None else s.resume_from
        self.restart_state[s.config_id] = (task.last_result, task.last_time)
        return Suggestion(
            config=s.config,
            config_id=s.config_id,
            new_config=False,
            bracket=s.bracket,
            resume_from=resume_from,
            restart=True,
        )

    # -- state ---------------------------------------------------------------------
    def state_dict(self, restarts: list[Suggestion]) -> dict:
        running = [
            {
                "task_id": task.task_id,
                "suggestion": task.suggestion.to_record(),
                "restart": task.restart,
                "last_time": task.last_time,
                "last_result": task.last_result,
                "pending_status": task.pending_status,
                "reason": task.reason,
                "completed": task.completed,
            }
            for task in self.running.values()
        ]
        return {
            "next_task_id": self.next_task_id,
            "num_configs_started": self.num_configs_started,
            "running": running,
            "restarts": [r.to_record() for r in restarts],
            "interrupted": [[c, r, t] for c, (r, t) in self.restart_state.items()],
        }

    def load_state_dict(self, state: dict) -> list[Suggestion]:
        """Restore :meth:`state_dict` output; returns the queued restarts."""
        self.next_task_id = int(state["next_task_id"])
        self.num_configs_started = int(state["num_configs_started"])
        self.restart_state = {int(c): (r, t) for c, r, t in state.get("interrupted", [])}
        for item in state["running"]:
            suggestion = Suggestion(**item["suggestion"])
            task = Task(item["task_id"], suggestion, None, 0.0, None, restart=item["restart"])
            task.last_time = item["last_time"]
            task.last_result = item["last_result"]
            task.pending_status = item["pending_status"]
            task.reason = item["reason"]
            task.completed = item["completed"]
            self.tasks[task.task_id] = task
            self.running[task.task_id] = task
        return [Suggestion(**record) for record in state["restarts"]]

    def _check(self) -> None:
        """Raise AssertionError if the table is inconsistent (for tests)."""
        for task_id, task in self.running.items():
            if task.ended or self.tasks.get(task_id) is not task:
                raise AssertionError(f"running task {task_id} is ended or unknown")
        for task_id in self.tasks:
            if task_id not in self.running:
                raise AssertionError(f"task {task_id} is kept but not running")
            if task_id >= self.next_task_id:
                raise AssertionError(f"task {task_id} >= next_task_id {self.next_task_id}")
