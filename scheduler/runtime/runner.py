"""The runtime: drives one policy over one backend until the experiment is done.

Threads:

* the **loop** thread launches tasks when resources are free, enforces
  ``max_task_time`` and ``time_out``, fsyncs the journal, takes snapshots, logs failures,
  updates the progress bar and calls the history callback;
* **backend** threads deliver reports (:meth:`Runner.handle_report`) and task ends
  (:meth:`Runner.handle_end`);
* the **writer** thread (:mod:`~scheduler.runtime.outputs`) writes results rows and
  snapshots;
* a **searcher** thread (:mod:`~scheduler.runtime.searcher_driver`) for model-based
  searchers.

**Lock discipline.** One lock guards the task table, the policy and the history. Held
only for the decision and its bookkeeping: the kernel call, the task table, the
history's in-memory update, cheap searcher bookkeeping, and the journal line (written
and flushed to the OS, fsynced only with ``checkpoint_fsync_interval=0``). Results
files, snapshot serialization, model fits, progress output, logging and callbacks
happen elsewhere, from queues the lock holder appends to in O(1). The decision a task
receives never depends on how far those queues have drained.

**Nothing waits forever.** Every wait has a timeout, every task end (return, exception,
death, cancellation) reaches :meth:`Runner.handle_end` exactly once, and an I/O failure
on the run's own files (journal, snapshot, results, checkpoint folders) ends the run
cleanly: running tasks are stopped, resources released, and :meth:`Runner.wait_done`
raises :class:`scheduler.CheckpointError` naming the operation and the path.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scheduler._decisions import Decision
from scheduler._exceptions import CheckpointError
from scheduler.runtime import replay as _replay
from scheduler.runtime.backends.base import CANCELLED, DIED, RAISED, RETURNED, TaskOutcome, TaskSpec
from scheduler.runtime.failures import FailureLog
from scheduler.runtime.outputs import InlineOutputs, OutputQueue
from scheduler.runtime.searcher_driver import NOT_READY, InlineDriver, make_driver
from scheduler.runtime.tasks import Task, TaskTable
from scheduler.schedulers.base import Suggestion

if TYPE_CHECKING:
    from scheduler.runtime.backends.base import Backend
    from scheduler.runtime.progress import ProgressBar

__all__ = ["ReplayError", "RunFolders", "Runner"]

ReplayError = _replay.ReplayError
log = logging.getLogger("scheduler")

_STOP = Decision.STOP.value
_CLOSE_TIMEOUT = 10.0  # seconds the end of a run waits for the writer and searcher threads


@dataclass(frozen=True)
class RunFolders:
    """Where a run keeps its per-config checkpoint folders and per-task log folders."""

    checkpoints: str
    tasks: str

    def checkpoint_dir(self, config_id: int) -> str:
        return os.path.join(self.checkpoints, f"config_{config_id}")

    def task_dir(self, task_id: int) -> str:
        return os.path.join(self.tasks, str(task_id))


class Runner:
    """Coordinates policy, backend, resources, history, results files and journal.

    Parameters are set by the scheduler facade; see :class:`scheduler.FIFOScheduler`.
    ``history`` (``start_task``/``add_report``/``end_task``), ``writer``
    (``write(row, config)``/``close()``) and ``journal`` (see
    :mod:`scheduler.durability.journal`) are handed in; the runtime imports neither.
    """

    def __init__(
        self,
        *,
        train_fn: Any,
        policy: Any,
        backend: str,
        resources: Any,
        history: Any,
        make_args: Callable[..., Any],
        reward_attr: str,
        time_attr: str | None,
        mode: str,
        num_trials: int | None,
        time_out: float | None,
        max_reward: float | None,
        stop_jobs_after_time_out: bool,
        max_task_time: float | None,
        callback: Callable[..., Any] | None,
        callback_delta_secs: float,
        progress: bool,
        folders: RunFolders,
        fail_fast: bool | str = "auto",
        backend_options: dict | None = None,
        writer: Any = None,
        journal: Any = None,
        snapshot_state: Callable[[], Any] | None = None,
        synchronous: bool = False,
    ) -> None:
        self.train_fn = train_fn
        self.policy = policy
        self.backend_name = backend
        self.backend_options = dict(backend_options or {})
        self.resources = resources
        self.history = history
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
        self.folders = folders
        self.writer = writer
        self.journal = journal
        self.snapshot_state = snapshot_state

        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self.table = TaskTable(policy, history, reward_attr=reward_attr, time_attr=time_attr)
        self.restarts: list[Suggestion] = []
        self.failures = FailureLog(fail_fast, workers=resources.max_concurrency)
        #: one thread does everything (a simulated backend drives run_inline())
        self.synchronous = synchronous
        self.driver = (
            InlineDriver(policy.searcher, self._searcher_failed, self._wake)
            if synchronous
            else make_driver(policy.searcher, self._searcher_failed, self._wake)
        )
        self.outputs: OutputQueue | InlineOutputs = InlineOutputs(self._output_failed)
        self.elapsed_before = 0.0  # experiment seconds spent before a resume
        self.max_reward_reached = False
        self._exhausted_announced = False
        self._shutdown = False
        self._interrupted = False
        self._broken = False  # the journal or the writer failed: no more writes
        self._launching_done = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._backend: Backend | None = None
        self._error: BaseException | None = None
        self._start_wall = time.time()
        self._start = time.monotonic()
        self._new_results = False
        self._last_callback = time.monotonic()
        self._bar: ProgressBar | None = None
        self._num_promotions = 0
        self._configs_done = 0
        self._finished = False
        self._finish_lock = threading.Lock()
        self._inline = False
        # Issue 16 (AutoGluon's add_job / schedule_next), see "facade extensions" below.
        self.hold_open = False
        self.replay_handlers: dict = {}
        self._exiting = False
        #: the clock deadlines and time_out count on (a simulated backend brings its own)
        self.clock = time.monotonic

    def _wall_time(self) -> float:
        """The timestamp a task's start or end is recorded with: ``time.time()``, or on
        a virtual clock the run's real start plus the virtual seconds since (so that a
        simulated task's ``end_time - start_time`` is its virtual duration)."""
        if self._inline:
            return self._start_wall + (self.clock() - self._start)
        return time.time()

    @property
    def writer(self) -> Any:
        """The results writer (or None); its rows go through the writer thread."""
        return self._writer

    @writer.setter
    def writer(self, writer: Any) -> None:
        self._writer = writer
        # what handle_report queues for the writer thread, built once: a Path joined
        # and formatted per report was a third of handle_report's time with output_dir
        self._write_rows = (
            None
            if writer is None
            else (f"write results rows to {writer.describe()}", writer.write_many)
        )

    # -- state (snapshots) -----------------------------------------------------------
    @property
    def next_task_id(self) -> int:
        return self.table.next_task_id

    @property
    def num_configs_started(self) -> int:
        return self.table.num_configs_started

    def state_dict(self) -> dict:
        """Counters, tasks in flight and queued restarts; call under the lock."""
        return {
            **self.table.state_dict(self.restarts),
            "max_reward_reached": self.max_reward_reached,
        }

    def load_state_dict(self, state: dict) -> None:
        self.restarts = self.table.load_state_dict(state)
        self.max_reward_reached = bool(state["max_reward_reached"])

    # -- resume ------------------------------------------------------------------------
    def replay(self, events: list[dict]) -> None:
        """Re-apply journaled events after a snapshot (resume); raises ReplayError if
        the policy does not reproduce a recorded suggestion or decision."""
        with self._cond:
            _replay.replay(self, events)

    def interrupt_in_flight(self) -> int:
        """After replay: end tasks that were running when the driver died and queue
        their configs to start again. Returns how many."""
        with self._cond:
            return _replay.interrupt_in_flight(self)

    def journal_event(self, event: dict) -> None:
        """Append ``event`` to the journal, if there is one (under the lock)."""
        if self.journal is not None and not self._broken:
            self.journal.append(event)

    # -- life cycle ----------------------------------------------------------------
    def start(self) -> None:
        """Start the backend and the loop thread (idempotent)."""
        if self._thread is not None:
            return
        if self._finished:
            raise RuntimeError("this run has finished; build a new scheduler to run again")
        from scheduler.runtime.backends import make_backend

        if self.writer is not None or self.journal is not None:
            self.outputs = OutputQueue(self._output_failed)
        self._backend = make_backend(
            self.backend_name,
            self.train_fn,
            self.handle_report,
            self.handle_end,
            **self.backend_options,
        )
        self._backend.on_running = self.handle_running
        if self._backend.needs_task_folders:
            # The configs' own folders are made where they are first used (the task's
            # reporter.checkpoint_dir, a Command's launch): a trial that saves nothing
            # costs no mkdir. Their parent is made here, so a run whose folder cannot
            # hold them fails before any task starts.
            try:
                os.makedirs(self.folders.checkpoints, exist_ok=True)
            except OSError as exc:
                self._backend.shutdown()
                self._backend = None
                self.outputs.close(_CLOSE_TIMEOUT)
                error = CheckpointError(
                    exc.errno,
                    f"create the checkpoint folder {self.folders.checkpoints!r} failed: "
                    f"{exc.strerror or exc}",
                )
                raise error from exc
        try:
            self._backend.prepare(self.resources.max_concurrency)
        except BaseException:
            self._backend.shutdown()
            self._backend = None
            raise
        # The experiment clock (time_out) starts once the workers are ready.
        self._start = self.clock() - self.elapsed_before
        self._start_wall = time.time() - self.elapsed_before
        if self.progress_enabled:
            from scheduler.runtime.progress import ProgressBar

            self._bar = ProgressBar(self.num_trials, self.table.num_configs_started)
        self._thread = threading.Thread(
            target=self._loop_guarded, name="scheduler-loop", daemon=True
        )
        self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def error(self) -> BaseException | None:
        return self._error

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
        if self._error is not None and self._done.is_set():
            raise self._error
        return event.is_set()

    def shutdown(
        self, reason: str = "scheduler shut down", timeout: float = 5.0, status: str = "stopped"
    ) -> None:
        """Stop launching, cancel running tasks, release the backend.

        ``status="interrupted"`` (Ctrl-C) ends the running tasks as interrupted without
        journaling their end, so that a resumed run starts their configs again.
        """
        running = self._stop_all(reason, status)
        if self._backend is not None:
            for task_id in running:
                self._backend.cancel(task_id, reason)
        if self._thread is not None and threading.current_thread() is not self._thread:
            self._done.wait(timeout)
        self._finish()

    def _stop_all(self, reason: str, status: str) -> list[int]:
        """Under the lock: stop launching, mark running tasks cancelled with ``status``."""
        with self._cond:
            self._shutdown = True
            if status == "interrupted":
                self._interrupted = True
            running = list(self.table.running)
            for task_id in running:
                task = self.table.tasks[task_id]
                if task.cancel_status is None:
                    task.cancel_status = status
                task.cancel_sent = True  # the caller cancels them on the backend
            self._cond.notify_all()
        return running

    def _fail(self, error: BaseException, status: str = "interrupted") -> None:
        """End the run because of ``error`` (kept for :meth:`wait_done` to raise):
        stop launching and cancel every running task. Callable from any thread."""
        with self._cond:
            if self._error is None:
                self._error = error
        running = self._stop_all(f"the run is ending: {error}", status)
        backend = self._backend
        if backend is not None:
            for task_id in running:
                backend.cancel(task_id, f"the run is ending: {error}")

    def _output_failed(self, operation: str, exc: BaseException) -> None:
        """The writer thread (or an inline write) failed: no more writes to the run's
        files; the tasks end as interrupted, so a resume starts them again."""
        with self._cond:
            self._broken = True
        error = exc
        if isinstance(exc, OSError) and not isinstance(exc, CheckpointError):
            error = CheckpointError(exc.errno, f"{operation} failed: {exc.strerror or exc}")
            error.__cause__ = exc
        elif not isinstance(exc, CheckpointError):
            error = CheckpointError(f"{operation} failed: {exc!r}")
            error.__cause__ = exc
        self._fail(error)

    def _journal_failed(self, exc: OSError, what: str) -> None:
        """Under the lock: the journal could not be written; end the run."""
        self._broken = True
        if self.journal is not None:
            self.journal.abandon()
        path = self.journal.file_path if self.journal is not None else "?"
        error = CheckpointError(
            exc.errno,
            f"append the {what} event to the journal {path!r} failed: {exc.strerror or exc}",
        )
        error.__cause__ = exc
        if self._error is None:
            self._error = error
        self._shutdown = True
        self._interrupted = True
        for task in self.table.running.values():
            if task.cancel_status is None:
                task.cancel_status = "interrupted"
        log.error("%s; stopping the run", error)
        self._cond.notify_all()

    def _searcher_failed(self, exc: BaseException) -> None:
        self._fail(RuntimeError(f"the searcher raised: {exc!r}"), status="stopped")

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def wake(self) -> None:
        """Make the loop decide again now: call after changing, under :attr:`lock`,
        what the policy wants to start (the evaluator queues submitted jobs)."""
        self._wake()

    def _finish(self) -> None:
        with self._finish_lock:
            if self._finished:
                return
            self._finished = True
        try:
            if self._backend is not None:
                self._backend.shutdown()
            with self._cond:
                if (
                    not self._interrupted
                    and not self._broken
                    and self.journal is not None
                    and self.snapshot_state is not None
                ):
                    # After Ctrl-C the journal, not a snapshot, has the last word: its
                    # tasks in flight are restarted on resume.
                    self._begin_snapshot()
            if not self.driver.close(_CLOSE_TIMEOUT):
                self._record_error(
                    RuntimeError(
                        f"the searcher did not finish its work within {_CLOSE_TIMEOUT:.0f} s"
                    )
                )
            if not self.outputs.close(_CLOSE_TIMEOUT):
                self._record_error(
                    CheckpointError(
                        f"writing the run's files did not finish within {_CLOSE_TIMEOUT:.0f} s "
                        "(is the disk responding?)"
                    )
                )
            if self.journal is not None:
                try:
                    self.journal.close()
                except OSError as exc:
                    self._record_error(
                        CheckpointError(
                            exc.errno,
                            f"closing the journal {self.journal.file_path!r} failed: {exc}",
                        )
                    )
            if self.writer is not None:
                try:
                    self.writer.close()
                except OSError as exc:
                    self._record_error(CheckpointError(exc.errno, f"closing results failed: {exc}"))
            self._emit_failures()
            summary = self.failures.summary()
            if summary:
                log.warning("%s", summary)
            self._call_callback(force=True)
        finally:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            self._launching_done.set()
            self._done.set()

    def _record_error(self, error: BaseException) -> None:
        log.error("%s", error)
        if self._error is None:
            self._error = error

    # -- facade extensions (issue 16: AutoGluon's add_job / schedule_next) -----------
    # ``hold_open``: while True the loop does not declare launching done when the
    # budget is used up (the facade raises ``num_trials`` one trial at a time).
    # ``replay_handlers``: {event type: handler(event)} for events the facade journals
    # with :meth:`record`; replayed in journal order with the runner's own events.
    def record(self, event: dict | None, apply: Callable[[], object]) -> None:
        """Journal ``event`` (if given) and call ``apply()``, atomically under the lock;
        deliver the searcher calls it queued, then wake the loop. Raises RuntimeError
        once the run has ended."""
        with self._cond:
            if self._finished or self._exiting or self._done.is_set():
                raise RuntimeError("this run has ended; build a new scheduler to run more trials")
            if event is not None:
                self.journal_event(event)
            apply()
            self._flush_feedback()
            self._cond.notify_all()

    # -- the loop thread -----------------------------------------------------------
    def _loop_guarded(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # noqa: BLE001 - surfaced by wait_*()
            log.error("the runtime loop failed: %r; stopping the run", exc)
            self._fail(exc)
        finally:
            self._finish()

    def _allow_new(self, now: float) -> bool:
        if self._shutdown or self.max_reward_reached or self.policy.exhausted:
            return False
        if self.num_trials is not None and self.table.num_configs_started >= self.num_trials:
            return False
        return self.time_out is None or now - self._start < self.time_out

    def _launches_stopped(self, now: float) -> bool:
        """No task at all is started any more: shutdown, time_out, max_reward. (After
        num_trials, paused configs are still promoted and interrupted ones restarted.)"""
        if self._shutdown or self.max_reward_reached:
            return True
        return self.time_out is not None and now - self._start >= self.time_out

    def _next_suggestion(self, now: float) -> Suggestion | None:
        """Under the lock: the next task to start, or None (nothing now)."""
        if self._launches_stopped(now):
            return None
        if self.restarts:
            return self.restarts.pop(0)
        suggestion = self.policy.promote()
        if suggestion is not None:
            return suggestion
        if not self._allow_new(now):
            self.policy.close_new()
            self._flush_feedback()
            return None
        if not self.policy.wants_new():
            self._flush_feedback()
            return None
        config = self.driver.draw()
        if config is NOT_READY:
            return None
        if config is None:
            self.policy.searcher_exhausted()
            return None
        return self.policy.add_config(config)

    def _flush_feedback(self) -> None:
        policy = self.policy
        if policy.feedback:
            calls, policy.feedback = policy.feedback, []
            self.driver.push(calls)

    def _decide(self, now: float) -> tuple[list, list, bool]:
        """Under the lock: one round of the loop's decisions at ``now`` (deadlines,
        launches, the end of launching, snapshots). Returns ``(launches, cancels,
        finished)``; the caller acts on them outside the lock."""
        launches: list[tuple[Task, Suggestion]] = []
        cancels: list[tuple[int, str]] = []
        for running in self.table.running.values():
            if running.cancel_status is None:
                if running.deadline is not None and now >= running.deadline:
                    running.cancel_status = "failed"
                    running.cancel_sent = True
                    cancels.append(
                        (running.task_id, f"exceeded max_task_time={self.max_task_time}s")
                    )
            elif not running.cancel_sent:  # marked by a failure under the lock
                running.cancel_sent = True
                cancels.append((running.task_id, f"the run is ending: {self._error}"))
        while not self._shutdown and self.resources.can_acquire():
            suggestion = self._next_suggestion(now)
            if suggestion is None:
                break
            task = self._register(suggestion, now)
            if task is None:
                break
            launches.append((task, suggestion))
        if not self._allow_new(now):
            # e.g. an RL batch cut short by time_out is learned from once its last
            # trial ends
            self.policy.close_new()
            self._flush_feedback()
        if (
            not self._allow_new(now)
            and (not self.restarts or self._launches_stopped(now))
            and not self.hold_open
        ):
            if self.policy.exhausted and not self._exhausted_announced:
                self._exhausted_announced = True
                log.warning(
                    "search space exhausted after %d configs; no more new trials",
                    self.table.num_configs_started,
                )
            self._launching_done.set()
        if self._launching_done.is_set() and not self.table.running and not launches:
            return launches, cancels, not cancels
        if (
            self.journal is not None
            and not self._broken
            and self.snapshot_state is not None
            and self.journal.wants_snapshot()
        ):
            self._begin_snapshot()
        return launches, cancels, False

    def _act(self, launches: list, cancels: list) -> None:
        """Outside the lock: carry out a round's decisions."""
        for task, suggestion in launches:
            self._launch(task, suggestion)
        backend = self._started_backend()
        for task_id, reason in cancels:
            backend.cancel(task_id, reason)

    def _started_backend(self) -> Backend:
        """The backend, which exists from start() on (the loop runs only after it)."""
        backend = self._backend
        if backend is None:
            raise RuntimeError("the runner's backend is used before start()")
        return backend

    def _loop(self) -> None:
        while True:
            with self._cond:
                now = self.clock()
                launches, cancels, finished = self._decide(now)
                if finished:
                    self._exiting = True  # under the lock: record() refuses from now on
                    return
                if not launches and not cancels:
                    self._cond.wait(self._wait_timeout(now))
                callback_due = self._callback_due()
            self._act(launches, cancels)
            self._sync_journal()
            self._emit_failures()
            self._update_bar()
            if callback_due:
                self._call_callback(force=False)

    def run_inline(self) -> None:
        """Run the whole experiment on this thread, driven by a backend that owns the
        clock (the simulated backend: ``backend.advance()`` delivers its next event in
        virtual-time order). No loop, writer or searcher thread: same seed, same
        events, same decisions."""
        if self._thread is not None or self._finished:
            raise RuntimeError("this run has already started")
        if not self.synchronous:
            raise RuntimeError("run_inline() needs a Runner built with synchronous=True")
        from scheduler.runtime.backends import make_backend

        simulator: Any = make_backend(  # a synchronous backend: now(), advance_until_end()
            self.backend_name,
            self.train_fn,
            self.handle_report,
            self.handle_end,
            **self.backend_options,
        )
        self._backend = simulator
        simulator.on_running = self.handle_running
        self.clock = simulator.now
        simulator.prepare(self.resources.max_concurrency)
        self._start = self.clock() - self.elapsed_before
        self._start_wall = time.time() - self.elapsed_before
        self._inline = True
        if self.progress_enabled:
            from scheduler.runtime.progress import ProgressBar

            self._bar = ProgressBar(self.num_trials, self.table.num_configs_started)
        try:
            while True:
                with self._cond:
                    launches, cancels, finished = self._decide(self.clock())
                if finished:
                    break
                self._act(launches, cancels)
                self._emit_failures()
                self._update_bar()
                # decisions can change only when a task ends (resources, promotions)
                # or time passes; events until the next end are delivered at once
                with self._cond:
                    limit = self._next_deadline()
                if not simulator.advance_until_end(limit):
                    with self._cond:
                        if not self.table.running:
                            self._launching_done.set()
                            break
        except BaseException as exc:
            self._fail(exc)
            raise
        finally:
            self._finish()

    def _next_deadline(self) -> float | None:
        """Under the lock: the earliest time the loop must decide again by itself (a
        task's deadline, the time_out), or None."""
        times = [
            t.deadline
            for t in self.table.running.values()
            if t.deadline is not None and t.cancel_status is None
        ]
        if self.time_out is not None and not self._launching_done.is_set():
            times.append(self._start + self.time_out)
        return min(times) if times else None

    def _begin_snapshot(self) -> None:
        """Under the lock: capture the state at the current seq; the searcher adds its
        own state after the events up to here; the writer serializes and writes it."""
        journal, snapshot_state = self.journal, self.snapshot_state
        if journal is None or snapshot_state is None:
            raise RuntimeError("a snapshot needs a journal and the facade's snapshot_state")
        try:
            pending = journal.begin_snapshot(snapshot_state())
        except OSError as exc:
            self._journal_failed(exc, "snapshot")
            return
        operation = f"write the snapshot {journal.path!r}"

        def write(searcher_state, pending=pending):
            self.outputs.put(operation, journal.finish_snapshot, pending, searcher_state)

        self.driver.with_state(write)

    def snapshot_now(self, timeout: float = 60.0) -> None:
        """Take a snapshot and wait until it is on disk (``scheduler.save()``)."""
        if self.journal is None or self.snapshot_state is None:
            raise RuntimeError("this run has no checkpoint to save a snapshot to")
        with self._cond:
            if self._broken:
                raise self._error or CheckpointError("the run's files can no longer be written")
            self._begin_snapshot()
        if not self.outputs.drain(timeout):
            raise CheckpointError(f"writing the snapshot did not finish within {timeout} s")
        error = self._write_error()  # the writer thread may have failed meanwhile
        if error is not None:
            raise error

    def _write_error(self) -> BaseException | None:
        """Why the run's files can no longer be written, or None."""
        return self._error if self._broken else None

    def _sync_journal(self) -> None:
        if self.journal is None or self._broken:
            return
        try:
            self.journal.sync()
        except OSError as exc:
            with self._cond:
                self._journal_failed(exc, "fsync")

    def _wait_timeout(self, now: float) -> float:
        timeout = 1.0
        for task in self.table.running.values():
            if task.deadline is not None and task.cancel_status is None:
                timeout = min(timeout, max(0.0, task.deadline - now) + 0.001)
        if self.time_out is not None and not self._launching_done.is_set():
            timeout = min(timeout, max(0.0, self._start + self.time_out - now) + 0.001)
        if self.callback is not None and self._new_results:
            timeout = min(timeout, max(0.0, self._last_callback + self.callback_delta_secs - now))
        if self.journal is not None and self.journal.fsync_interval > 0:
            timeout = min(timeout, self.journal.fsync_interval)
        if self.failures.has_lines():
            timeout = 0.0
        return timeout

    # -- live: registering and launching -------------------------------------------
    def _register(self, suggestion: Suggestion, now: float) -> Task | None:
        """Under the lock: journal and record the start; None if the journal failed."""
        task_id = self.table.next_task_id
        try:
            self.journal_event(
                {"type": "start", "task_id": task_id, "suggestion": suggestion.to_record()}
            )
        except OSError as exc:
            self._journal_failed(exc, "start")
            if suggestion.restart:
                self.restarts.insert(0, suggestion)
            return None
        allocation = self.resources.acquire()
        deadline = None if self.max_task_time is None else now + self.max_task_time
        if getattr(self._backend, "announces_running", False):
            deadline = None  # max_task_time counts from on_running (after a spawn)
        task = self.table.start(
            task_id,
            suggestion,
            allocation=allocation,
            now=now,
            deadline=deadline,
            wall_time=self._wall_time(),
        )
        self._flush_feedback()
        if not suggestion.new_config and not suggestion.restart:
            self._num_promotions += 1
        return task

    def _launch(self, task: Task, suggestion: Suggestion) -> None:
        """Outside the lock: the task's args and the backend start."""
        task_id = task.task_id
        checkpoint_dir = self.folders.checkpoint_dir(suggestion.config_id)
        log_dir = self.folders.task_dir(task_id)
        backend = self._started_backend()
        try:
            if backend.needs_args:
                args = self.make_args(
                    self.train_fn,
                    suggestion.config,
                    task_id=task_id,
                    config_id=suggestion.config_id,
                    resume_from=suggestion.resume_from,
                    gpu_ids=list(task.allocation.gpu_ids) if task.allocation is not None else [],
                )
            else:  # the backend reads the config itself (a simulated benchmark)
                args = suggestion
            spec = TaskSpec(
                task_id=task_id,
                args=args,
                reward_attr=self.reward_attr,
                time_attr=self.time_attr,
                require_time=self.policy.require_time,
                checkpoint_dir=checkpoint_dir,
                gpu_ids=tuple(task.allocation.gpu_ids) if task.allocation is not None else (),
                log_dir=log_dir,
            )
            backend.start(spec)
        except Exception as exc:  # noqa: BLE001 - a launch failure fails that task only
            self.handle_end(task_id, TaskOutcome(RAISED, error=f"launch failed: {exc!r}"))

    # -- reports and ends (backend threads) -------------------------------------------
    def handle_report(self, task_id: int, result: dict) -> str:
        """Decide on one report; returns the decision string for the reporter.

        The journal line is written (and flushed to the OS) before returning, so the
        task never hears a decision that a crash could lose.
        """
        with self._cond:
            task = self.table.tasks.get(task_id)
            if task is None or task.ended or task.cancel_status is not None or self._broken:
                return _STOP
            stop_reason = None
            if (
                self.stop_jobs_after_time_out
                and self.time_out is not None
                and self.clock() - self._start >= self.time_out
            ):
                stop_reason = f"time_out={self.time_out}s reached"
            decision, policy_decision, row = self.table.report(
                task, result, stop_reason=stop_reason
            )
            self._flush_feedback()
            if (
                self.max_reward is not None
                and policy_decision is not None
                and not self.max_reward_reached
                and self._reaches_max_reward(result[self.reward_attr])
            ):
                self.max_reward_reached = True
                self._cond.notify_all()
            try:
                self.journal_event(
                    {
                        "type": "report",
                        "task_id": task_id,
                        "result": result,
                        "decision": decision,
                        "policy": policy_decision,
                    }
                )
            except OSError as exc:
                self._journal_failed(exc, "report")
                return _STOP
            if self._write_rows is not None:
                operation, write_many = self._write_rows
                self.outputs.put_batched(operation, write_many, (row, task.suggestion.config))
            self._new_results = True
            if self.callback is not None and (
                time.monotonic() - self._last_callback >= self.callback_delta_secs
            ):
                self._cond.notify_all()
        return decision

    def handle_running(self, task_id: int) -> None:
        """The backend says the task's code began (after a spawn or a placement):
        ``max_task_time`` counts from now."""
        if self.max_task_time is None:
            return
        with self._cond:
            task = self.table.tasks.get(task_id)
            if task is not None and not task.ended and task.cancel_status is None:
                task.deadline = self.clock() + self.max_task_time

    def _reaches_max_reward(self, reward: float) -> bool:
        if self.max_reward is None:
            return False
        if self.mode == "max":
            return reward >= self.max_reward
        return reward <= self.max_reward

    def handle_end(self, task_id: int, outcome: TaskOutcome) -> None:
        """Record how a task ended; free its resources; wake the loop. The end is
        applied even when journaling it fails (the run then ends)."""
        with self._cond:
            task = self.table.tasks.get(task_id)
            if task is None or task.ended:
                return
            status, reason, traceback = self._end_status(task, outcome)
            try:
                if status != "interrupted":
                    self.journal_event(
                        {
                            "type": "end",
                            "task_id": task_id,
                            "status": status,
                            "reason": reason,
                            "traceback": traceback,
                        }
                    )
            except OSError as exc:
                self._journal_failed(exc, "end")
            finally:
                try:
                    self.table.end(task, status, reason, traceback, self._wall_time())
                    self._flush_feedback()
                finally:
                    if task.allocation is not None:
                        self.resources.release(task.allocation)
                    if task.suggestion.new_config:
                        self._configs_done += 1
                    stop = self.failures.record(
                        task_id, task.suggestion.config_id, status, reason, traceback
                    )
                    self._cond.notify_all()
        if stop is not None:
            self._fail(stop, status="stopped")

    def _end_status(self, task: Task, outcome: TaskOutcome) -> tuple[str, str | None, str | None]:
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
        if self._broken and status != "interrupted":
            # its end cannot be journaled: for the durable record the task is in
            # flight, and a resume starts its config again; say the same here
            status = "interrupted"
        return status, reason, traceback

    # -- visibility ------------------------------------------------------------------
    def _emit_failures(self) -> None:
        with self._cond:
            lines = self.failures.take_lines()
        for line in lines:
            log.warning("%s", line)

    def _update_bar(self) -> None:
        if self._bar is None:
            return
        with self._cond:
            counters = (
                self._configs_done,
                self.history.best_reward(),
                self._num_promotions,
                self.failures.num_failed,
            )
        self._bar.update(*counters)

    # -- callbacks -----------------------------------------------------------------
    def _callback_due(self) -> bool:
        return (
            self.callback is not None
            and self._new_results
            and time.monotonic() - self._last_callback >= self.callback_delta_secs
        )

    def _call_callback(self, force: bool) -> None:
        if self.callback is None:
            return
        with self._cond:
            now = time.monotonic()
            if not self._new_results or (
                not force and now - self._last_callback < self.callback_delta_secs
            ):
                return
            self._new_results = False
            self._last_callback = now
            history = {k: list(v) for k, v in self.history.training_history.items()}
        try:
            self.callback(history, self._start_wall)
        except Exception:
            log.exception("training_history_callback raised; the run goes on")

    # -- reads from other threads ------------------------------------------------------
    @property
    def lock(self) -> threading.Lock:
        """The runtime's lock, for consistent reads while the run goes on."""
        return self._lock

    def _check(self) -> None:
        """Raise AssertionError if the runtime's bookkeeping is inconsistent (tests)."""
        with self._cond:
            self.table._check()
