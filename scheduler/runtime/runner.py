"""The runtime: drives one policy over one backend until the experiment is done.

Threads: one loop thread launches tasks when resources are free, enforces
``max_task_time`` and ``time_out``, syncs the journal, writes snapshots and calls the
history callback; backend threads (task threads, or the process backend's I/O thread)
deliver reports and task ends. All shared state sits behind one lock that is held only
for the policy's decision and the bookkeeping around it (history, results row, journal
line): no fsync (unless asked for every event), no callbacks, no launches under it.
Nothing waits forever: every wait has a timeout, and every task end (return,
exception, death, cancellation) reaches :meth:`Runner.handle_end` exactly once.

Every change of policy state goes through three functions, ``_apply_start``,
``_apply_report`` and ``_apply_end``, used both live and when a journal is replayed on
resume, so that a resumed run rebuilds exactly the state the interrupted one had.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass

from scheduler.runtime.backends.base import CANCELLED, DIED, RAISED, RETURNED, TaskOutcome, TaskSpec
from scheduler.schedulers.base import Decision, Suggestion

__all__ = ["ReplayError", "Runner"]

_ENDED_BY_DECISION = {Decision.STOP: "stopped", Decision.PAUSE: "paused"}
log = logging.getLogger("scheduler")


class ReplayError(RuntimeError):
    """Replaying the journal did not reproduce the recorded decisions."""


@dataclass
class _Task:
    task_id: int
    suggestion: Suggestion
    allocation: object
    start_time: float
    deadline: float | None
    restart: bool = False
    last_result: dict | None = None
    last_time: int | None = None
    pending_status: str | None = None  # stopped / paused / diverged, set by a decision
    reason: str | None = None
    completed: bool = False  # got COMPLETE (reached max_t)
    cancel_status: str | None = None
    ended: bool = False


def _suggestion_record(s: Suggestion) -> dict:
    return {
        "config_id": s.config_id,
        "config": s.config,
        "new_config": s.new_config,
        "bracket": s.bracket,
        "resume_from": s.resume_from,
        "restart": s.restart,
    }


class Runner:
    """Coordinates policy, backend, resources, history, results files and journal.

    Parameters are set by the scheduler facade; see :class:`scheduler.FIFOScheduler`.
    """

    def __init__(
        self,
        *,
        train_fn,
        policy,
        backend: str,
        resources,
        history,
        writer,
        make_args,
        reward_attr: str,
        time_attr: str | None,
        mode: str,
        num_trials: int | None,
        time_out: float | None,
        max_reward: float | None,
        stop_jobs_after_time_out: bool,
        max_task_time: float | None,
        callback,
        callback_delta_secs: float,
        progress: bool,
        checkpoint_root: str,
        journal=None,
        snapshot_state=None,
    ):
        self.train_fn = train_fn
        self.policy = policy
        self.backend_name = backend
        self.resources = resources
        self.history = history
        self.writer = writer
        self.make_args = make_args
        self.reward_attr = reward_attr
        self.time_attr = time_attr
        self.mode = mode
        self.num_trials = num_trials
        self.time_out = time_out
        self.max_reward = max_reward
        self.stop_jobs_after_time_out = stop_jobs_after_time_out
        self.max_task_time = max_task_time
        self.callback = callback
        self.callback_delta_secs = callback_delta_secs
        self.progress_enabled = progress
        self.checkpoint_root = checkpoint_root
        self.journal = journal
        self.snapshot_state = snapshot_state

        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._tasks: dict[int, _Task] = {}
        self._running: set[int] = set()
        self._restarts: list[Suggestion] = []
        self._restart_state: dict[int, tuple] = {}  # config_id -> (last_result, last_time)
        self.next_task_id = 0
        self.num_configs_started = 0
        self.elapsed_before = 0.0  # experiment seconds spent before a resume
        self._max_reward_reached = False
        self._exhausted_announced = False
        self._shutdown = False
        self._launching_done = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._backend = None
        self._error: BaseException | None = None
        self._start_wall = time.time()
        self._start = time.monotonic()
        self._new_results = False
        self._last_callback = time.monotonic()
        self._bar = None
        self._num_promotions_done = 0
        self._finished = False
        self._interrupted = False

    # -- state (for snapshots) -------------------------------------------------------
    def state_dict(self) -> dict:
        """Counters and in-flight tasks; call under the lock (or before start)."""
        running = []
        for task_id in sorted(self._running):
            task = self._tasks[task_id]
            running.append(
                {
                    "task_id": task_id,
                    "suggestion": _suggestion_record(task.suggestion),
                    "restart": task.restart,
                    "last_time": task.last_time,
                    "last_result": task.last_result,
                    "pending_status": task.pending_status,
                    "reason": task.reason,
                    "completed": task.completed,
                }
            )
        return {
            "next_task_id": self.next_task_id,
            "num_configs_started": self.num_configs_started,
            "max_reward_reached": self._max_reward_reached,
            "running": running,
            "restarts": [_suggestion_record(r) for r in self._restarts],
            "interrupted": [[c, r, t] for c, (r, t) in self._restart_state.items()],
        }

    def load_state_dict(self, state: dict) -> None:
        self.next_task_id = int(state["next_task_id"])
        self.num_configs_started = int(state["num_configs_started"])
        self._max_reward_reached = bool(state["max_reward_reached"])
        self._restarts = [Suggestion(**record) for record in state["restarts"]]
        self._restart_state = {int(c): (r, t) for c, r, t in state.get("interrupted", [])}
        for item in state["running"]:
            suggestion = Suggestion(**item["suggestion"])
            task = _Task(item["task_id"], suggestion, None, 0.0, None, restart=item["restart"])
            task.last_time = item["last_time"]
            task.last_result = item["last_result"]
            task.pending_status = item["pending_status"]
            task.reason = item["reason"]
            task.completed = item["completed"]
            self._tasks[task.task_id] = task
            self._running.add(task.task_id)

    # -- resume ----------------------------------------------------------------------
    def replay(self, events: list[dict]) -> None:
        """Re-apply journaled events after a snapshot (resume). Raises ReplayError if
        the policy does not reproduce a recorded suggestion or decision."""
        with self._cond:
            for event in events:
                self._replay_one(event)

    def _replay_one(self, event: dict) -> None:
        kind = event["type"]
        if kind == "start":
            self._replay_start(event)
        elif kind == "report":
            task = self._tasks[event["task_id"]]
            _, policy_decision, _ = self._apply_report(
                task, event["result"], forced=event["decision"]
            )
            if policy_decision != event["policy"]:
                raise ReplayError(
                    f"journal event {event['seq']}: the policy decided "
                    f"{policy_decision!r} where the journal has {event['policy']!r}"
                )
        elif kind == "end":
            task = self._tasks[event["task_id"]]
            self._apply_end(task, event["status"], event.get("reason"), event.get("traceback"))
            if event["status"] == "interrupted":
                self._queue_restart(task)
        else:
            raise ReplayError(f"journal event {event['seq']}: unknown type {kind!r}")

    def _replay_start(self, event: dict) -> None:
        recorded = Suggestion(**event["suggestion"])
        if recorded.restart:
            suggestion = recorded
            self._restarts = [r for r in self._restarts if r.config_id != recorded.config_id]
        else:
            suggestion = self.policy.suggest(recorded.new_config)
            if suggestion is None or _suggestion_record(suggestion) != event["suggestion"]:
                raise ReplayError(
                    f"journal event {event['seq']}: the policy suggested "
                    f"{suggestion!r} where the journal has {recorded!r} (was the search "
                    "space, searcher or seed changed?)"
                )
        self._apply_start(event["task_id"], suggestion, None)

    def interrupt_in_flight(self) -> int:
        """After replay: end tasks that were running when the driver died and queue
        their configs to start again. Returns how many."""
        with self._cond:
            return self._interrupt_in_flight()

    def _interrupt_in_flight(self) -> int:
        for task_id in sorted(self._running):
            task = self._tasks[task_id]
            if task.pending_status is not None or task.completed:
                # its decision was journaled and heard: it ended the way it was told
                status = task.pending_status or "completed"
                self._journal(
                    {"type": "end", "task_id": task_id, "status": status, "reason": task.reason}
                )
                self._apply_end(task, status, task.reason, None)
                continue
            reason = "the driver stopped while the task ran; restarted"
            self._journal(
                {"type": "end", "task_id": task_id, "status": "interrupted", "reason": reason}
            )
            self._apply_end(task, "interrupted", reason, None)
            self._queue_restart(task)
        return len(self._restarts)

    def _queue_restart(self, task) -> None:
        s = task.suggestion
        resume_from = task.last_time if task.last_time is not None else s.resume_from
        self._restart_state[s.config_id] = (task.last_result, task.last_time)
        self._restarts.append(
            Suggestion(
                config=s.config,
                config_id=s.config_id,
                new_config=False,
                bracket=s.bracket,
                resume_from=resume_from,
                restart=True,
            )
        )

    # -- life cycle ----------------------------------------------------------------
    def start(self) -> None:
        """Start the loop thread (idempotent)."""
        if self._thread is not None:
            return
        if self._finished:
            raise RuntimeError("this scheduler was shut down; build a new one to run again")
        from scheduler.runtime.backends import make_backend

        self._backend = make_backend(
            self.backend_name, self.train_fn, self.handle_report, self.handle_end
        )
        self._backend.prepare(self.resources.max_concurrency)
        # The experiment clock (time_out) starts once the workers are ready.
        self._start = time.monotonic() - self.elapsed_before
        self._start_wall = time.time() - self.elapsed_before
        if self.progress_enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=self.num_trials,
                initial=min(self.num_configs_started, self.num_trials or 0),
                unit="trial",
                desc="trials",
                leave=True,
            )
        self._thread = threading.Thread(
            target=self._loop_guarded, name="scheduler-loop", daemon=True
        )
        self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def wait_launching_done(self, timeout: float | None = None) -> bool:
        return self._wait(self._launching_done, timeout)

    def wait_done(self, timeout: float | None = None) -> bool:
        return self._wait(self._done, timeout)

    def _wait(self, event: threading.Event, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not event.is_set():
                # Short waits keep Ctrl-C responsive in the main thread.
                step = 0.2 if deadline is None else min(0.2, max(0.0, deadline - time.monotonic()))
                event.wait(step)
                if deadline is not None and time.monotonic() >= deadline:
                    break
        except KeyboardInterrupt:
            self.shutdown("interrupted by the user (KeyboardInterrupt)", status="interrupted")
            raise
        if self._error is not None:
            raise RuntimeError("the scheduler's runtime loop failed") from self._error
        return event.is_set()

    def shutdown(
        self, reason: str = "scheduler shut down", timeout: float = 5.0, status: str = "stopped"
    ) -> None:
        """Stop launching, cancel running tasks, release the backend.

        ``status="interrupted"`` (Ctrl-C) ends the running tasks as interrupted without
        journaling their end, so that a resumed run starts their configs again.
        """
        with self._cond:
            self._shutdown = True
            self._interrupted = status == "interrupted"
            running = sorted(self._running)
            for task_id in running:
                self._tasks[task_id].cancel_status = status
            self._cond.notify_all()
        if self._backend is not None:
            for task_id in running:
                self._backend.cancel(task_id, reason)
        if self._thread is not None:
            self._done.wait(timeout)
        self._finish()

    def _finish(self) -> None:
        with self._lock:
            if self._finished:
                return
            self._finished = True
        try:
            if self._backend is not None:
                self._backend.shutdown()
            if not self._interrupted:
                # After Ctrl-C the journal, not a snapshot, has the last word: its
                # tasks in flight are restarted on resume.
                self._snapshot(force=True)
            if self.journal is not None:
                self.journal.close()
            if self.writer is not None:
                self.writer.close()
            self._call_callback(force=True)
        finally:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            self._launching_done.set()
            self._done.set()

    # -- the loop thread -----------------------------------------------------------
    def _loop_guarded(self) -> None:
        try:
            self._loop()
            self._finish()
        except BaseException as exc:  # noqa: BLE001 - surfaced by wait_*()
            self._error = exc
            log.error("the runtime loop failed: %r; stopping the run", exc)
            with self._cond:
                # As after Ctrl-C: the tasks end 'interrupted' (not journaled), so a
                # resumed run starts their configs again.
                self._shutdown = True
                self._interrupted = True
                running = sorted(self._running)
                for task_id in running:
                    self._tasks[task_id].cancel_status = "interrupted"
            try:
                for task_id in running:
                    self._backend.cancel(task_id, f"runtime loop failed: {exc!r}")
                self._finish()
            finally:
                self._launching_done.set()
                self._done.set()

    def _allow_new(self, now: float) -> bool:
        if self._shutdown or self._max_reward_reached or self.policy.exhausted:
            return False
        if self.num_trials is not None and self.num_configs_started >= self.num_trials:
            return False
        return not (self.time_out is not None and now - self._start >= self.time_out)

    def _launches_stopped(self, now: float) -> bool:
        """No task at all is started any more: shutdown, time_out, max_reward. (After
        num_trials, paused configs are still promoted and interrupted ones restarted.)"""
        if self._shutdown or self._max_reward_reached:
            return True
        return self.time_out is not None and now - self._start >= self.time_out

    def _next_suggestion(self, now: float) -> Suggestion | None:
        if self._launches_stopped(now):
            return None
        if self._restarts:
            return self._restarts.pop(0)
        return self.policy.suggest(self._allow_new(now))

    def _loop(self) -> None:
        while True:
            launches: list[TaskSpec] = []
            cancels: list[tuple[int, str]] = []
            with self._cond:
                now = time.monotonic()
                for task_id in sorted(self._running):
                    task = self._tasks[task_id]
                    if (
                        task.deadline is not None
                        and now >= task.deadline
                        and task.cancel_status is None
                    ):
                        task.cancel_status = "failed"
                        cancels.append((task_id, f"exceeded max_task_time={self.max_task_time}s"))
                while not self._shutdown and self.resources.can_acquire():
                    suggestion = self._next_suggestion(now)
                    if suggestion is None:
                        break
                    launches.append(self._register(suggestion, now))
                if not self._allow_new(now) and (not self._restarts or self._launches_stopped(now)):
                    if self.policy.exhausted and not self._exhausted_announced:
                        self._exhausted_announced = True
                        log.warning(
                            "search space exhausted after %d configs; no more new trials",
                            self.num_configs_started,
                        )
                    self._launching_done.set()
                if (
                    self._launching_done.is_set()
                    and not self._running
                    and not launches
                    and not cancels
                ):
                    return
                pending_snapshot = None
                if self.journal is not None and self.journal.wants_snapshot():
                    pending_snapshot = self.journal.begin_snapshot(self.snapshot_state())
                if not launches and not cancels and pending_snapshot is None:
                    self._cond.wait(self._wait_timeout(now))
            for spec in launches:
                self._launch(spec)
            for task_id, reason in cancels:
                self._backend.cancel(task_id, reason)
            if pending_snapshot is not None:
                self.journal.finish_snapshot(pending_snapshot)
            if self.journal is not None:
                self.journal.sync()
            self._call_callback(force=False)

    def _snapshot(self, force: bool) -> None:
        if self.journal is None or self.snapshot_state is None:
            return
        with self._lock:
            if not force and not self.journal.wants_snapshot():
                return
            pending = self.journal.begin_snapshot(self.snapshot_state())
        self.journal.finish_snapshot(pending)

    def _wait_timeout(self, now: float) -> float:
        timeout = 1.0
        deadlines = [
            self._tasks[t].deadline for t in self._running if self._tasks[t].deadline is not None
        ]
        if deadlines:
            timeout = min(timeout, max(0.0, min(deadlines) - now) + 0.001)
        if self.time_out is not None and not self._launching_done.is_set():
            timeout = min(timeout, max(0.0, self._start + self.time_out - now) + 0.001)
        if self.callback is not None and self._new_results:
            timeout = min(timeout, max(0.0, self._last_callback + self.callback_delta_secs - now))
        if self.journal is not None and self.journal.fsync_interval > 0:
            timeout = min(timeout, self.journal.fsync_interval)
        return timeout

    def _journal(self, event: dict) -> None:
        if self.journal is not None:
            self.journal.append(event)

    # -- applying events (live and replay) -----------------------------------------
    def _apply_start(self, task_id, suggestion, allocation, *, now=None):
        if now is None:
            now = time.monotonic()
        self.next_task_id = max(self.next_task_id, task_id + 1)
        if suggestion.new_config:
            self.num_configs_started += 1
        deadline = None if self.max_task_time is None else now + self.max_task_time
        task = _Task(task_id, suggestion, allocation, now, deadline, restart=suggestion.restart)
        if suggestion.restart and suggestion.config_id in self._restart_state:
            task.last_result, task.last_time = self._restart_state.pop(suggestion.config_id)
        self._tasks[task_id] = task
        self._running.add(task_id)
        self.history.start_task(
            task_id,
            suggestion.config_id,
            suggestion.config,
            bracket=suggestion.bracket,
            resume_from=suggestion.resume_from,
            start_time=time.time(),
        )
        self.policy.on_task_start(task_id, suggestion)
        return task

    def _apply_report(self, task: _Task, result: dict, *, forced=None):
        """Record one report; returns ``(decision, policy decision or None, row)``.

        ``forced``: the decision to record (replay); otherwise it is computed here.
        """
        reward = result[self.reward_attr]
        t = result.get(self.time_attr) if self.time_attr else None
        resume_from = task.suggestion.resume_from
        replay = resume_from is not None and t is not None and t <= resume_from
        if task.suggestion.bracket is not None:
            result["bracket"] = task.suggestion.bracket
        policy_decision = None
        if math.isnan(reward):
            decision = Decision.STOP
            task.pending_status = "diverged"
            task.reason = f"reward_attr {self.reward_attr!r} is NaN at {self.time_attr}={t}"
        elif replay:
            decision = Decision.CONTINUE
        else:
            policy_decision = Decision(self.policy.on_report(task.task_id, result)).value
            decision = Decision(policy_decision)
            task.last_result = result
            if t is not None:
                task.last_time = t
            if forced is None and (
                decision == Decision.CONTINUE
                and self.stop_jobs_after_time_out
                and self.time_out is not None
                and time.monotonic() - self._start >= self.time_out
            ):
                decision = Decision.STOP
                task.reason = f"time_out={self.time_out}s reached"
            if (
                self.max_reward is not None
                and (reward >= self.max_reward if self.mode == "max" else reward <= self.max_reward)
                and not self._max_reward_reached
            ):
                self._max_reward_reached = True
                self._cond.notify_all()
        if forced is not None:
            if Decision(forced) == Decision.STOP and decision != Decision.STOP:
                task.reason = task.reason or f"time_out={self.time_out}s reached"
            decision = Decision(forced)
        if decision in _ENDED_BY_DECISION and task.pending_status is None:
            task.pending_status = _ENDED_BY_DECISION[decision]
        if decision == Decision.COMPLETE:
            task.completed = True
        row = self.history.add_report(task.task_id, result, decision=decision.value, replay=replay)
        return decision.value, policy_decision, row

    def _apply_end(self, task: _Task, status: str, reason, traceback) -> None:
        task.ended = True
        self._running.discard(task.task_id)
        self.history.end_task(
            task.task_id, status, reason=reason, traceback=traceback, end_time=time.time()
        )
        self.policy.on_task_end(task.task_id, status, task.last_result)

    # -- live -------------------------------------------------------------------------
    def _register(self, suggestion: Suggestion, now: float) -> TaskSpec:
        allocation = self.resources.acquire()
        task_id = self.next_task_id
        self._journal(
            {"type": "start", "task_id": task_id, "suggestion": _suggestion_record(suggestion)}
        )
        self._apply_start(task_id, suggestion, allocation, now=now)
        checkpoint_dir = os.path.join(self.checkpoint_root, f"config_{suggestion.config_id}")
        args = self.make_args(
            self.train_fn,
            suggestion.config,
            task_id=task_id,
            config_id=suggestion.config_id,
            resume_from=suggestion.resume_from,
            gpu_ids=list(allocation.gpu_ids),
        )
        return TaskSpec(
            task_id=task_id,
            args=args,
            reward_attr=self.reward_attr,
            time_attr=self.time_attr,
            require_time=self.policy.require_time,
            checkpoint_dir=checkpoint_dir,
            gpu_ids=tuple(allocation.gpu_ids),
        )

    def _launch(self, spec: TaskSpec) -> None:
        try:
            self._backend.start(spec)
        except Exception as exc:  # noqa: BLE001 - a launch failure fails that task only
            self.handle_end(spec.task_id, TaskOutcome(RAISED, error=f"launch failed: {exc!r}"))

    def handle_report(self, task_id: int, result: dict) -> str:
        """Decide on one report; returns the decision string for the reporter.

        The journal line is written (and flushed to the OS) before returning, so the
        task never hears a decision that a crash could lose.
        """
        with self._cond:
            task = self._tasks.get(task_id)
            if task is None or task.ended or task.cancel_status is not None:
                return Decision.STOP.value
            decision, policy_decision, row = self._apply_report(task, result)
            self._journal(
                {
                    "type": "report",
                    "task_id": task_id,
                    "result": result,
                    "decision": decision,
                    "policy": policy_decision,
                }
            )
            if self.writer is not None:
                self.writer.write(row, task.suggestion.config)
            self._new_results = True
            if self.callback is not None and (
                time.monotonic() - self._last_callback >= self.callback_delta_secs
            ):
                self._cond.notify_all()
        return decision

    def handle_end(self, task_id: int, outcome: TaskOutcome) -> None:
        """Record how a task ended; free its resources; wake the loop."""
        with self._cond:
            task = self._tasks.get(task_id)
            if task is None or task.ended:
                return
            traceback = None
            if outcome.kind == CANCELLED and task.cancel_status is not None:
                status, reason = task.cancel_status, outcome.error
            elif task.pending_status is not None:
                status, reason = task.pending_status, task.reason
            elif outcome.kind == RAISED:
                status, reason, traceback = "failed", outcome.error, outcome.traceback
            elif outcome.kind in (DIED, CANCELLED):
                status, reason = "failed", outcome.error
            elif task.completed:
                status, reason = "completed", None
            elif outcome.kind == RETURNED and outcome.num_reports == 0 and task.last_result is None:
                # (a restarted task whose earlier run had reported everything may
                # legitimately have nothing left to report)
                status, reason = "failed", "train_fn returned without reporting any result"
            else:  # returned normally, or TaskStopped raised by the reporter itself
                status, reason = "completed", None
            if status != "interrupted":
                self._journal(
                    {
                        "type": "end",
                        "task_id": task_id,
                        "status": status,
                        "reason": reason,
                        "traceback": traceback,
                    }
                )
            self._apply_end(task, status, reason, traceback)
            if task.allocation is not None:
                self.resources.release(task.allocation)
            if self._bar is not None:
                self._update_bar(task)
            self._cond.notify_all()

    def _update_bar(self, task: _Task) -> None:
        # The bar counts configs (num_trials counts configs): a config's first task
        # ending advances it; promotions show in the postfix.
        if task.suggestion.new_config:
            self._bar.update(1)
        else:
            self._num_promotions_done += 1
        postfix = {}
        best = self.history.best_reward()
        if best is not None:
            postfix["best"] = f"{best:.4g}"
        if self._num_promotions_done:
            postfix["promoted"] = self._num_promotions_done
        self._bar.set_postfix(postfix, refresh=False)

    # -- callbacks -----------------------------------------------------------------
    def _call_callback(self, force: bool) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if not self._new_results or (
            not force and now - self._last_callback < self.callback_delta_secs
        ):
            return
        self._new_results = False
        self._last_callback = now
        try:
            self.callback(self.history.training_history, self._start_wall)
        except Exception:
            log.exception("training_history_callback raised; the run goes on")
