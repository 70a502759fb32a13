"""The AutoML engine: Clara's workflow loop as a front end of the shared runtime.

The engine runs on the thread that calls :meth:`Engine.run` (the *engine thread*):

1. fires ``startup`` and ``start_automl``; starts the admin server;
2. asks the executor for the search space (``search_space_available``) and gives it
   to the controller;
3. queues the controller's initial recommendations (``recommendations_available``);
   none ends the run at once;
4. the runtime (:class:`scheduler.runtime.runner.Runner`, thread backend) starts a job
   for each queued recommendation as soon as a worker is idle and not suspended
   (workers in rotation); the job is named ``W<w>_<k>_J<j>`` (worker number, that
   worker's job count, global job number) and runs on its own thread: ``start_job``,
   ``executor.execute(rec, job_ctx)``, ``end_job`` whatever happened;
5. for every job that ended, in the order they ended, the engine thread builds an
   :class:`~scheduler.automl.defs.Outcome`, calls ``controller.refine_recommendation``
   (once per job, serially) and queues what it returns (``recommendations_available``);
6. it aborts (``executor.abort``) a job that runs longer than ``max_job_run_time``,
   and stops the run after ``max_sys_run_time``;
7. the run ends when nothing is queued and nothing runs, or on a stop request
   (``ctx.stop_work`` by any component, :meth:`Engine.ask_to_stop`, the admin ``stop``
   command, ``max_sys_run_time``): nothing new starts, running jobs are aborted, and
   once they ended ``end_automl`` fires. :meth:`Engine.shutdown` then shuts the
   controller, the executor and the handlers down (``shutdown``).

The engine thread wakes as soon as a job ends or a command arrives, and at least
every ``job_poll_interval`` seconds to enforce the time limits. Executors and
controllers are only ever called from the engine thread, except ``execute`` (job
threads). The runner and its wiring live in :mod:`scheduler.automl._runtime`.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scheduler._decorator import Args
from scheduler._exceptions import TaskStopped
from scheduler._validation import is_real, positive_number
from scheduler.automl import _runtime
from scheduler.automl.context import Context
from scheduler.automl.defs import FAILED_SCORE, ContextKey, JobStatus, Outcome, Recommendation
from scheduler.automl.errors import EngineError, JobAborted, JobFailed
from scheduler.automl.events import EventType
from scheduler.automl.workers import WorkerConfig, WorkerPool
from scheduler.results.history import History

if TYPE_CHECKING:
    from scheduler.automl.admin_server import AdminServer
    from scheduler.automl.controllers import Controller
    from scheduler.automl.defs import SearchSpace
    from scheduler.automl.executors import Executor
    from scheduler.runtime.runner import Runner

__all__ = ["Engine"]

log = logging.getLogger("scheduler.automl")


@dataclass
class _Job:
    task_id: int
    job_id: int
    name: str
    worker: str
    gpus: list
    rec: Recommendation
    ctx: Context
    resume_from: int | None = None
    start_time: float | None = None  # time.time() when the job thread started it
    started_at: float | None = None  # time.monotonic() of the same
    end_time: float | None = None
    status: str | None = None
    score: float = FAILED_SCORE
    reason: str | None = None
    reports: list = field(default_factory=list)
    abort_requested: bool = False
    abort_reason: str | None = None
    thread: int | None = None
    ended: bool = False  # the runtime ended its task


def _score(value: object) -> float:
    if not is_real(value):
        raise JobFailed(f"the executor must return a number as the score, got {value!r}")
    score = float(value)
    if not math.isfinite(score):
        raise JobFailed(f"the executor returned a score that is not finite: {score!r}")
    return score


class Engine:
    """Runs AutoML jobs on workers as a controller recommends them.

    Parameters
    ----------
    worker_configs : list of WorkerConfig
        The workers (see :func:`~scheduler.automl.workers.parse_workers`).
    controller : Controller
        Proposes recommendations, learns from outcomes.
    executor : Executor
        Determines the search space, runs a job, aborts it.
    handlers : list of Handler, optional
        See every event, in list order.
    job_poll_interval : float
        The longest the engine thread sleeps between checks of the time limits (it
        wakes at once when a job ends or a command arrives). Default 1.0.
    trace : bool
        Trace job starts and ends to the console (unless the context has a trace).
    max_job_run_time : float, optional
        Seconds after which a running job is aborted (the run goes on).
    max_sys_run_time : float, optional
        Seconds after which the run stops (running jobs are aborted).
    admin_port : int or None
        The admin server's port on 127.0.0.1: 0 (default) picks a free one, None
        serves none. Its port and token go to ``admin.json`` (mode 0600) in
        ``admin_dir``, or the run folder (``RUN_ROOT``).
    admin_dir : str, optional
        Where ``admin.json`` goes when the context has no ``RUN_ROOT``.
    abort_timeout : float
        How long a stop waits for aborted jobs to end before it abandons them.
    admin_options : dict, optional
        Limits of the admin server (see :class:`~scheduler.automl.admin_server.AdminServer`).
    """

    def __init__(
        self,
        worker_configs: list[WorkerConfig],
        controller: Controller,
        executor: Executor,
        handlers: list | None = None,
        job_poll_interval: float = 1.0,
        trace: bool = False,
        max_job_run_time: float | None = None,
        max_sys_run_time: float | None = None,
        admin_port: int | None = 0,
        admin_dir: str | None = None,
        abort_timeout: float = 30.0,
        admin_options: dict | None = None,
    ) -> None:
        self.worker_configs = list(worker_configs)
        self.pool = WorkerPool(self.worker_configs)
        for name, obj, methods in (
            ("controller", controller, ("set_search_space", "initial_recommendation")),
            ("executor", executor, ("determine_search_space", "execute", "abort")),
        ):
            missing = [m for m in methods if not callable(getattr(obj, m, None))]
            if missing:
                raise ValueError(f"{name} {obj!r} lacks the method(s) {missing}")
        self.controller = controller
        self.executor = executor
        self.handlers = list(handlers or [])
        for handler in self.handlers:
            if not callable(getattr(handler, "handle_event", None)):
                raise ValueError(f"handlers must have a handle_event method, got {handler!r}")
        self.job_poll_interval = positive_number("job_poll_interval", job_poll_interval)
        self.trace = bool(trace)
        self.max_job_run_time = positive_number(
            "max_job_run_time", max_job_run_time, allow_none=True
        )
        self.max_sys_run_time = positive_number(
            "max_sys_run_time", max_sys_run_time, allow_none=True
        )
        if admin_port is not None and (
            not isinstance(admin_port, int)
            or isinstance(admin_port, bool)
            or not 0 <= admin_port < 65536
        ):
            raise ValueError(
                f"admin_port must be a port number (0: any free one) or None, got {admin_port!r}"
            )
        self.admin_port = admin_port
        self.admin_dir = admin_dir
        self.admin_options = dict(admin_options or {})
        self.abort_timeout = positive_number("abort_timeout", abort_timeout)
        self.admin: AdminServer | None = None
        self.history = History(_runtime.REWARD_ATTR, _runtime.TIME_ATTR, "max")
        self.stop_reason: str | None = None

        self._cond = threading.Condition()
        self._inbox: list[tuple] = []
        self._jobs: dict[int, _Job] = {}
        self._finished: list[_Job] = []
        self._ctx: Context | None = None
        self._state = "new"  # new, running, stopping, done
        self._early_stop: str | None = None
        self._engine_thread: int | None = None
        self._runner: Runner | None = None
        self._policy: _runtime.RecommendationPolicy | None = None
        self._space: SearchSpace | None = None
        self._run_folder: str | None = None
        self._t0 = 0.0
        self._stop_deadline: float | None = None

    # -- running ------------------------------------------------------------------
    def run(self, ctx: Context) -> None:
        """Run the whole workflow on this thread; returns when the run is over.

        Raises :class:`~scheduler.automl.errors.EngineError` when a component failed
        outside a job (the run was stopped cleanly first).
        """
        if not isinstance(ctx, Context):
            raise ValueError(f"ctx must be a scheduler.automl.Context, got {ctx!r}")
        with self._cond:
            if self._state != "new":
                raise RuntimeError("an Engine runs once; build a new one for another run")
            self._state = "running"
            self._ctx = ctx
        self._engine_thread = threading.get_ident()
        self._t0 = time.monotonic()
        ctx.set_prop(ContextKey.ENGINE, self)
        ctx.set_prop(ContextKey.WORKERS, list(self.worker_configs))
        ctx.set_prop(ContextKey.NUM_WORKERS, len(self.worker_configs))
        ctx.set_prop(ContextKey.HISTORY, self.history)
        if self.trace and not ctx.tracing:
            ctx.set_trace(None, console=True)
        ctx.add_stop_listener(self._notify)
        from scheduler.automl.admin_server import AutomlCommandModule

        ctx.add_command_module(AutomlCommandModule(self))
        if self._early_stop is not None:
            ctx.stop_work(self, self._early_stop)

        error: BaseException | None = None
        automl_started = False
        try:
            self._fire(EventType.STARTUP, ctx, fatal=True)
            automl_started = True
            self._fire(EventType.START_AUTOML, ctx, fatal=True)
            self._start_admin(ctx)
            self._search(ctx)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, after clean-up
            error = exc
            self._set_stop_reason(f"error: {exc}")
        finally:
            self._wind_down(error is not None)
            ctx.set_prop(ContextKey.STOP_REASON, self.stop_reason)
            if automl_started:
                self._fire(EventType.END_AUTOML, ctx, fatal=False)
            self._stop_admin()
            with self._cond:
                self._state = "done"
        if error is not None:
            if isinstance(error, (EngineError, KeyboardInterrupt)):
                raise error
            raise EngineError(f"the AutoML run failed: {error}") from error

    def _search(self, ctx: Context) -> None:
        space = self.executor.determine_search_space(ctx)
        self._space = space
        ctx.set_prop(ContextKey.SEARCH_SPACE, space)
        self._fire(EventType.SEARCH_SPACE_AVAILABLE, ctx, fatal=True)
        self.controller.set_search_space(space, ctx)
        if ctx.stop_work_asked():
            self._set_stop_reason(ctx.get_stop_message())
            return
        recs = self._checked(self.controller.initial_recommendation(ctx), "initial_recommendation")
        if not recs:
            self._set_stop_reason("the controller gave no initial recommendation")
            return
        policy = self._policy = _runtime.RecommendationPolicy(
            self.controller, on_report=self._on_report, on_end=self._on_end
        )
        policy.enqueue(recs)
        ctx.set_prop(ContextKey.RECOMMENDATIONS, recs)
        self._fire(EventType.RECOMMENDATIONS_AVAILABLE, ctx, fatal=False)
        self._run_folder = tempfile.mkdtemp(prefix="scheduler-automl-")
        runner = self._runner = _runtime.make_runner(
            job_fn=self._job,
            policy=policy,
            pool=self.pool,
            history=self.history,
            make_args=self._make_args,
            run_folder=self._run_folder,
        )
        runner.start()
        self._loop(ctx)

    # (what a run has once it got that far; the engine's order guarantees each)
    def _the_ctx(self) -> Context:
        if self._ctx is None:
            raise RuntimeError("the engine is not running")
        return self._ctx

    def _the_space(self) -> SearchSpace:
        if self._space is None:
            raise RuntimeError("the search space is not determined yet")
        return self._space

    def _started(self) -> tuple[_runtime.RecommendationPolicy, Runner]:
        if self._policy is None or self._runner is None:
            raise RuntimeError("the AutoML run has not started its jobs")
        return self._policy, self._runner

    def _checked(self, recs: object, method: str) -> list[Recommendation]:
        if recs is None:
            return []
        if not isinstance(recs, (list, tuple)):
            raise EngineError(
                f"controller.{method} must return a list of Recommendation, got {recs!r}"
            )
        for rec in recs:
            if not isinstance(rec, Recommendation):
                raise EngineError(
                    f"controller.{method} must return Recommendation objects, got {rec!r}"
                )
            try:
                self._the_space().check_values(rec.search_result.values)
            except ValueError as exc:
                raise EngineError(
                    f"controller.{method} gave recommendation {rec.rec_id} that does not fit "
                    f"the search space: {exc}"
                ) from None
        return list(recs)

    def _loop(self, ctx: Context) -> None:
        policy, runner = self._started()
        while True:
            with self._cond:
                if not self._inbox and not ctx.stop_work_asked():
                    self._cond.wait(self._wait_timeout())
                inbox, self._inbox = self._inbox, []
            for i, item in enumerate(inbox):
                try:
                    if item[0] == "end":
                        self._handle_end(item[1], refine=True)
                    elif item[0] == "abort":
                        self._abort(item[1], item[2])
                except BaseException:
                    with self._cond:  # the wind-down still sees the other job ends
                        self._inbox[:0] = inbox[i + 1 :]
                    raise
            now = time.monotonic()
            self._enforce_limits(now)
            if ctx.stop_work_asked() and self._state == "running":
                self._begin_stop(ctx.get_stop_message())
            error = _runtime.runner_error(runner)
            if error is not None:
                raise EngineError(f"the runtime failed: {error!r}") from error
            if policy.idle():
                self._set_stop_reason("done: every recommendation ran")
                return
            if self._state == "stopping" and policy.in_flight == 0:
                return
            if self._stop_deadline is not None and now > self._stop_deadline:
                log.error(
                    "%d job(s) did not end within abort_timeout=%ss of the stop; abandoning them",
                    policy.in_flight,
                    self.abort_timeout,
                )
                return
            _runtime.wake(runner)

    def _wait_timeout(self) -> float:
        timeout = self.job_poll_interval
        now = time.monotonic()
        if self.max_sys_run_time is not None and self._state == "running":
            timeout = min(timeout, self._t0 + self.max_sys_run_time - now)
        if self.max_job_run_time is not None:
            for job in self._jobs.values():
                if job.started_at is not None and not job.ended and not job.abort_requested:
                    timeout = min(timeout, job.started_at + self.max_job_run_time - now)
        if self._stop_deadline is not None:
            timeout = min(timeout, self._stop_deadline - now)
        return max(0.0, timeout) + 0.001

    def _enforce_limits(self, now: float) -> None:
        if (
            self.max_sys_run_time is not None
            and self._state == "running"
            and now - self._t0 >= self.max_sys_run_time
        ):
            self._the_ctx().stop_work(self, f"max_sys_run_time={self.max_sys_run_time:g}s reached")
        if self.max_job_run_time is not None:
            with self._cond:
                overdue = [
                    job
                    for job in self._jobs.values()
                    if job.started_at is not None
                    and not job.ended
                    and not job.abort_requested
                    and now - job.started_at >= self.max_job_run_time
                ]
            for job in overdue:
                self._abort(job.task_id, f"exceeded max_job_run_time={self.max_job_run_time:g}s")

    def _begin_stop(self, reason: str | None) -> None:
        with self._cond:
            if self._state != "running":
                return
            self._state = "stopping"
        self._set_stop_reason(reason or "stop requested")
        log.info("stopping the AutoML run: %s", self.stop_reason)
        if self._policy is not None:
            self._policy.close()
        self._stop_deadline = time.monotonic() + self.abort_timeout
        with self._cond:
            running = [job.task_id for job in self._jobs.values() if not job.ended]
        for task_id in running:
            self._abort(task_id, f"the run is stopping ({self.stop_reason})")
        _runtime.wake(self._runner)

    def _set_stop_reason(self, reason: str | None) -> None:
        if self.stop_reason is None and reason:
            self.stop_reason = reason

    def _wind_down(self, failed: bool) -> None:
        """Stop what still runs: abort jobs, wait for them (up to abort_timeout), end
        the runtime, remove the runtime's folder."""
        try:
            if self._runner is not None:
                policy, runner = self._started()
                if self._state == "running" and not policy.idle():
                    self._begin_stop(self.stop_reason or "the run ended")
                deadline = time.monotonic() + self.abort_timeout
                while policy.in_flight > 0 and time.monotonic() < deadline:
                    with self._cond:
                        if not self._inbox:
                            self._cond.wait(min(0.2, max(0.0, deadline - time.monotonic())))
                        inbox, self._inbox = self._inbox, []
                    for item in inbox:
                        if item[0] == "end":
                            self._handle_end(item[1], refine=not failed)
                policy.close()
                runner.shutdown(self.stop_reason or "AutoML run over", timeout=5.0)
                error = _runtime.runner_error(runner)
                if error is not None:
                    log.error("the runtime ended with an error: %r", error)
        finally:
            if self._run_folder is not None:
                shutil.rmtree(self._run_folder, ignore_errors=True)

    # -- job ends (engine thread) ----------------------------------------------------
    def _handle_end(self, task_id: int, refine: bool) -> None:
        policy, runner = self._started()
        ctx = self._the_ctx()
        with self._cond:
            job = self._jobs.get(task_id)
        if job is None:  # the task failed before its job was set up (a launch failure)
            job = self._unstarted_job(task_id)
            if job is None:
                policy.outcome_handled([])
                return
        if job.status is None:  # the job thread never ran (it could not start)
            job.status = JobStatus.ABORTED if job.abort_requested else JobStatus.FAILED
            job.reason = job.abort_reason or (
                "the job ended before its thread finished (it could not start, or was "
                "abandoned after a stop)"
            )
            job.score = FAILED_SCORE
        outcome = Outcome(
            recommendation_id=job.rec.rec_id,
            score=job.score,
            job_name=job.name,
            status=job.status,
            recommendation=job.rec,
            worker=job.worker,
            reason=job.reason,
            start_time=job.start_time,
            end_time=job.end_time,
            reports=tuple(job.reports),
        )
        with self._cond:
            self._finished.append(job)
        recs: list = []
        try:
            if refine and callable(getattr(self.controller, "refine_recommendation", None)):
                recs = self._checked(
                    self.controller.refine_recommendation(outcome, ctx),
                    "refine_recommendation",
                )
        finally:
            if self._state != "running":
                recs = []
            policy.outcome_handled(recs)
        if recs:
            ctx.set_prop(ContextKey.RECOMMENDATIONS, recs)
            self._fire(EventType.RECOMMENDATIONS_AVAILABLE, ctx, fatal=False)
            _runtime.wake(runner)

    def _unstarted_job(self, task_id: int) -> _Job | None:
        """A record of a task that ended before ``_make_args`` built its job."""
        try:
            rec = self._started()[0].rec_of_task(task_id)
        except KeyError:
            return None
        ctx = Context(parent=self._ctx)
        job = _Job(task_id, task_id + 1, f"J{task_id + 1}", "", [], rec, ctx, ended=True)
        with self._cond:
            self._jobs[task_id] = job
        return job

    def _abort(self, task_id: int, reason: str) -> None:
        with self._cond:
            job = self._jobs.get(task_id)
            if job is None or job.ended or job.abort_requested:
                return
            job.abort_requested = True
            job.abort_reason = reason
        job.ctx.set_prop(ContextKey.ABORT_REQUESTED, True)
        log.info("aborting job %s: %s", job.name, reason)
        job.ctx.trace(self, f"abort {job.name}: {reason}")
        try:
            self.executor.abort(job.ctx)
        except Exception as exc:  # noqa: BLE001 - an abort failure fails no other job
            self._the_ctx().exception_occurred(
                self.executor, f"abort of {job.name} failed: {exc!r}"
            )

    # -- runtime callbacks (runner threads) -------------------------------------------
    def _make_args(
        self,
        train_fn: object,
        config: dict,
        *,
        task_id: int,
        config_id: int,
        resume_from: int | None,
        gpu_ids: list[int],
    ) -> Args:
        policy, runner = self._started()
        space = self._the_space()
        allocation = _runtime.allocation_of(runner, task_id)
        if allocation is None or tuple(allocation.gpu_ids) != tuple(gpu_ids):
            raise RuntimeError(
                f"task {task_id}'s worker allocation {allocation} does not match its GPUs "
                f"{list(gpu_ids)}"
            )
        rec = policy.rec_of_task(task_id)
        job_id = task_id + 1
        name = f"W{allocation.worker_number}_{allocation.serial}_J{job_id}"
        worker = self.pool.config(allocation.worker)
        ctx = Context(parent=self._ctx)
        job = _Job(task_id, job_id, name, worker.name, list(worker.gpus), rec, ctx, resume_from)
        ctx.set_prop(ContextKey.JOB_NAME, name)
        ctx.set_prop(ContextKey.JOB_ID, job_id)
        ctx.set_prop(ContextKey.TASK_ID, task_id)
        ctx.set_prop(ContextKey.RECOMMENDATION, rec)
        concrete = {
            prl: space.params[prl].concrete(value)
            for prl, value in rec.search_result.values.items()
            if prl in space.params
        }
        ctx.set_prop(ContextKey.CONCRETE_SEARCH_VALUE, concrete)
        ctx.set_prop(ContextKey.WORKER_NAME, worker.name)
        ctx.set_prop(ContextKey.GPUS, list(worker.gpus))
        ctx.set_prop(ContextKey.GPU_STRING, worker.gpu_list_string())
        ctx.set_prop(ContextKey.CONFIG_ID, config_id)
        ctx.set_prop(ContextKey.CHECKPOINT_DIR, _runtime.checkpoint_dir(runner, config_id))
        ctx.set_prop(ContextKey.RESUME_FROM, resume_from)
        ctx.set_prop(ContextKey.JOB_REPORTS, job.reports)
        ctx.set_prop(ContextKey.ABORT_REQUESTED, False)
        self.pool.set_current_job(worker.name, name)
        with self._cond:
            self._jobs[task_id] = job
        args = Args(task_id=task_id, config_id=config_id, job_name=name, worker=worker.name)
        args.scheduler = Args(resume_from=resume_from)
        args.gpu_ids = [int(g) for g in gpu_ids]
        return args

    def _on_report(self, task_id: int, result: dict) -> None:
        with self._cond:
            job = self._jobs.get(task_id)
            if job is not None:
                job.reports.append(dict(result))

    def _on_end(self, task_id: int, status: str, last_result: dict | None) -> None:
        with self._cond:
            job = self._jobs.get(task_id)
            if job is not None:
                job.ended = True
            self._inbox.append(("end", task_id))
            self._cond.notify_all()

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # -- the job thread -------------------------------------------------------------
    def _job(self, args: Args, reporter: Callable[..., Any]) -> None:
        with self._cond:
            job = self._jobs[args.task_id]
        ctx = job.ctx
        job.thread = threading.get_ident()
        job.start_time = time.time()
        job.started_at = time.monotonic()
        ctx.set_prop(ContextKey.JOB_START_TIME, job.start_time)

        def report(**result):
            if _runtime.REWARD_ATTR not in result:
                raise ValueError(
                    f"a job's report needs a {_runtime.REWARD_ATTR!r} key, "
                    f"got keys {sorted(result)}"
                )
            return reporter(**result)

        ctx.set_prop(ContextKey.REPORT, report)
        ctx.trace(self, f"start {job.name} on {job.worker} (GPUs {job.gpus}), rec {job.rec.rec_id}")
        self._fire(EventType.START_JOB, ctx, fatal=False)
        raise_after: BaseException | None = None
        try:
            if job.abort_requested:
                raise JobAborted(job.abort_reason)
            value = self.executor.execute(job.rec, ctx)
            if job.abort_requested:
                raise JobAborted(job.abort_reason)
            score = _score(value)
            if not job.reports:
                if getattr(self.controller, "require_time", False):
                    raise JobFailed(
                        f"{type(self.controller).__name__} needs per-epoch reports: print "
                        '\'[scheduler] {"epoch": k, "score": s}\' lines (MMARExecutor) or '
                        "call the job context's REPORT"
                    )
                reporter(score=score)
            job.score, job.status = score, JobStatus.COMPLETED
        except TaskStopped as exc:
            raise_after = exc
            if job.abort_requested:
                job.status, job.reason = JobStatus.ABORTED, job.abort_reason
            else:
                job.status = JobStatus.PAUSED if exc.decision == "pause" else JobStatus.STOPPED
                job.reason = f"{job.status} by the controller at a rung"
                scores = [r[_runtime.REWARD_ATTR] for r in job.reports]
                job.score = scores[-1] if scores and math.isfinite(scores[-1]) else FAILED_SCORE
        except BaseException as exc:  # noqa: BLE001 - every failure ends the job, not the run
            raise_after = exc
            job.score = FAILED_SCORE
            if job.abort_requested:
                job.status, job.reason = JobStatus.ABORTED, job.abort_reason
            else:
                job.status, job.reason = JobStatus.FAILED, f"{type(exc).__name__}: {exc}"
        finally:
            job.end_time = time.time()
            ctx.set_prop(ContextKey.JOB_END_TIME, job.end_time)
            ctx.set_prop(ContextKey.JOB_STATUS, job.status or JobStatus.FAILED)
            ctx.set_prop(ContextKey.SCORE, job.score)
            ctx.set_prop(ContextKey.JOB_REASON, job.reason)
            if job.status in (JobStatus.FAILED, JobStatus.ABORTED):
                log.warning("job %s %s: %s", job.name, job.status, job.reason)
            ctx.trace(self, f"end {job.name}: {job.status}, score {job.score:g}")
            self._fire(EventType.END_JOB, ctx, fatal=False)
        if raise_after is not None:
            if isinstance(raise_after, TaskStopped) and job.status != JobStatus.ABORTED:
                raise raise_after
            raise JobFailed(job.reason) from None

    # -- events ------------------------------------------------------------------------
    def _fire(self, event: str, ctx: Context, fatal: bool) -> None:
        first: tuple | None = None
        for handler in self.handlers:
            try:
                handler.handle_event(event, ctx)
            except Exception as exc:  # noqa: BLE001 - one handler does not stop the others
                ctx.exception_occurred(handler, f"{event} failed: {exc!r}")
                if first is None:
                    first = (handler, exc)
        if fatal and first is not None:
            failed, error = first
            raise EngineError(f"{type(failed).__name__}.{event} failed: {error}") from error

    # -- admin ---------------------------------------------------------------------------
    def _start_admin(self, ctx: Context) -> None:
        if self.admin_port is None:
            return
        from scheduler.automl.admin_server import AdminServer
        from scheduler.automl.defs import MMARPropKey

        folder = ctx.get_prop(MMARPropKey.RUN_ROOT) or self.admin_dir
        if folder is None:
            raise EngineError(
                "the admin server needs a folder for its admin.json: pass admin_dir=, list "
                "MMARHandler (which sets the run folder), or pass admin_port=None"
            )
        admin = self.admin = AdminServer(
            ctx, port=self.admin_port, folder=folder, **self.admin_options
        )
        admin.start()
        log.info("admin server on 127.0.0.1:%d (%s)", admin.port, admin.info_path)

    def _stop_admin(self) -> None:
        if self.admin is not None:
            self.admin.stop()

    def ask_to_stop(self, msg: str = "Engine.ask_to_stop() was called") -> None:
        """Request a stop: nothing new starts, running jobs are aborted."""
        ctx = self._ctx
        if ctx is None:
            self._early_stop = msg
        else:
            ctx.stop_work(self, msg)

    def shutdown(self, ctx: Context) -> None:
        """Shut the controller, the executor and every handler (``shutdown``) down."""
        for name, component in (("controller", self.controller), ("executor", self.executor)):
            method = getattr(component, "shutdown", None)
            if callable(method):
                try:
                    method(ctx)
                except Exception as exc:  # noqa: BLE001 - shut the rest down too
                    ctx.exception_occurred(component, f"{name} shutdown failed: {exc!r}")
        self._fire(EventType.SHUTDOWN, ctx, fatal=False)

    # -- what the admin channel and the CLI read ------------------------------------------
    def _running_job(self, worker: str) -> _Job | None:
        with self._cond:
            for job in self._jobs.values():
                if job.worker == worker and not job.ended and job.status is None:
                    return job
        return None

    def worker_states(self) -> list[dict]:
        """Per worker: name, gpus, state (idle, busy, suspended), jobs, current job."""
        states = self.pool.states()
        for state in states:
            job = self._running_job(state["name"])
            state["current_job"] = None if job is None else job.name
            state["running_seconds"] = (
                None if job is None or job.started_at is None else time.monotonic() - job.started_at
            )
        return states

    def worker_state(self, name: str) -> dict:
        state = next((s for s in self.worker_states() if s["name"] == name), None)
        if state is None:
            self.pool.config(name)  # raises KeyError naming the workers
            raise KeyError(name)  # (every configured worker has a state)
        with self._cond:
            done = [j for j in self._finished if j.worker == name]
        last = done[-1] if done else None
        state["last_job"] = (
            None
            if last is None
            else {"name": last.name, "status": last.status, "score": last.score}
        )
        return state

    def suspend_worker(self, name: str) -> bool:
        return self.pool.suspend(name)

    def resume_worker(self, name: str) -> bool:
        changed = self.pool.resume(name)
        _runtime.wake(self._runner)
        return changed

    def abort_worker(self, name: str, reason: str = "abort_worker command") -> str | None:
        """Abort the worker's current job (on the engine thread); returns its name, or
        None when the worker runs none."""
        self.pool.config(name)
        job = self._running_job(name)
        if job is None:
            return None
        with self._cond:
            self._inbox.append(("abort", job.task_id, reason))
            self._cond.notify_all()
        return job.name

    def jobs(self) -> list[dict]:
        """The finished jobs, in the order they ended."""
        with self._cond:
            finished = list(self._finished)
        return [
            {
                "job_name": j.name,
                "worker": j.worker,
                "gpus": list(j.gpus),
                "rec_id": j.rec.rec_id,
                "status": j.status,
                "score": j.score,
                "reason": j.reason,
                "start_time": j.start_time,
                "end_time": j.end_time,
                "search_values": dict(j.rec.search_result.values),
            }
            for j in finished
        ]

    @property
    def state(self) -> str:
        return self._state
