"""Replaying a journal into a runner (resume), and ending the tasks a crash left.

Replay goes through the same transitions as the live run (:mod:`scheduler.runtime.tasks`),
on the caller's thread, before the run starts, with the searcher called directly in
event order. It checks that the policy reproduces every journaled decision and every
promotion; new configs are drawn again from a searcher whose draws are deterministic
(random, grid), checked against the journal, and taken from the journal for the others
(Bayesian optimization, the RL controller: their proposals depend on timing).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from scheduler.schedulers.base import Suggestion, apply_feedback

if TYPE_CHECKING:
    from scheduler.runtime.runner import Runner

__all__ = ["ReplayError", "interrupt_in_flight", "replay"]


class ReplayError(RuntimeError):
    """Replaying the journal did not reproduce the recorded decisions."""


def _feedback(runner: Runner) -> None:
    policy = runner.policy
    if policy.feedback:
        calls, policy.feedback = policy.feedback, []
        if policy.searcher is not None:
            apply_feedback(policy.searcher, calls)


def replay(runner: Runner, events: list[dict]) -> None:
    """Re-apply journaled ``events`` (those after the snapshot) to ``runner``."""
    for event in events:
        kind = event["type"]
        if kind == "start":
            _replay_start(runner, event)
        elif kind == "report":
            task = runner.table.tasks.get(event["task_id"])
            if task is None or task.ended:
                raise ReplayError(
                    f"journal event {event['seq']}: a report of task {event['task_id']}, "
                    "which is not running"
                )
            _, policy_decision, _ = runner.table.report(
                task, event["result"], forced=event["decision"]
            )
            if policy_decision != event["policy"]:
                raise ReplayError(
                    f"journal event {event['seq']}: the policy decided "
                    f"{policy_decision!r} where the journal has {event['policy']!r}"
                )
        elif kind == "end":
            task = runner.table.tasks.get(event["task_id"])
            if task is None or task.ended:
                raise ReplayError(
                    f"journal event {event['seq']}: the end of task {event['task_id']}, "
                    "which is not running"
                )
            runner.table.end(
                task, event["status"], event.get("reason"), event.get("traceback"), time.time()
            )
            if event["status"] == "interrupted":
                runner.restarts.append(runner.table.restart_suggestion(task))
        elif kind in runner.replay_handlers:  # an event the facade journals (add_job)
            runner.replay_handlers[kind](event)
        else:
            raise ReplayError(f"journal event {event['seq']}: unknown type {kind!r}")
        _feedback(runner)


def _replay_start(runner: Runner, event: dict) -> None:
    recorded = Suggestion(**event["suggestion"])
    policy = runner.policy
    if recorded.restart:
        suggestion = recorded
        runner.restarts = [r for r in runner.restarts if r.config_id != recorded.config_id]
    elif not recorded.new_config:
        suggestion = policy.promote()
    else:
        config = recorded.config
        if policy.searcher is not None and policy.deterministic_replay:
            config = policy.searcher.get_config()
        suggestion = None if config is None else policy.add_config(config)
    if suggestion is None or suggestion.to_record() != event["suggestion"]:
        raise ReplayError(
            f"journal event {event['seq']}: the policy suggested {suggestion!r} where "
            f"the journal has {recorded!r} (was the search space, searcher or seed changed?)"
        )
    runner.table.start(
        event["task_id"], suggestion, allocation=None, now=0.0, deadline=None, wall_time=time.time()
    )


def interrupt_in_flight(runner: Runner) -> int:
    """After replay: end the tasks that were running when the driver died, and queue
    their configs to start again. Returns the number of restarts queued."""
    for task in list(runner.table.running.values()):
        if task.pending_status is not None or task.completed:
            # its decision was journaled and heard: it ended the way it was told
            status = task.pending_status or "completed"
            runner.journal_event(
                {"type": "end", "task_id": task.task_id, "status": status, "reason": task.reason}
            )
            runner.table.end(task, status, task.reason, None, time.time())
        else:
            reason = "the driver stopped while the task ran; restarted"
            runner.journal_event(
                {"type": "end", "task_id": task.task_id, "status": "interrupted", "reason": reason}
            )
            runner.table.end(task, "interrupted", reason, None, time.time())
            runner.restarts.append(runner.table.restart_suggestion(task))
        _feedback(runner)
    return len(runner.restarts)
