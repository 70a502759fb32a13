"""``scheduler.Evaluator``: DeepHyper's evaluator API (``deephyper.evaluator``, 0.3) on
the project's runtime.

A search loop submits configs, gathers finished jobs and dumps them to ``results.csv``::

    evaluator = Evaluator.create(run, method="process", method_kwargs={"num_workers": 4})
    evaluator.submit([{"x": 0.1}, {"x": 0.7}])
    for job in evaluator.gather("BATCH", size=1):
        cfg, obj = job
    evaluator.dump_evals(log_dir="out")
    evaluator.close()

The evaluator is a facade, not a second executor: jobs run on the same backends
(``thread``, ``process``, ``subprocess``, ``ray``), with the same resource accounting
(``num_workers`` slots, GPUs by id), failure handling (a raising, dying or hung job
fails alone; its slot comes back) and time limits (``timeout`` is the runtime's
``max_task_time``) as the schedulers. The policy is
:class:`scheduler.schedulers.submitted.SubmittedPolicy`, whose "searcher" is the queue of
submitted configs; each job is one task whose ``train_fn`` is a
:class:`scheduler.runtime.function_task.FunctionTask` (one report with the result).
The runtime writes what happens to the jobs into the evaluator's :class:`_JobBook`
(its ``history``), under the runtime's lock, and ``gather`` waits on that lock.

What DeepHyper 0.3 got wrong and this does not: an exception in a job re-raised by
every later ``gather``; ``dump_evals`` writing every other job; ``duration`` measured
from submit to gather; NaN, True or None results failing on ``subprocess``; Ray
ignoring ``num_workers``; no per-job timeout or cancel; ``gather`` failing inside a
running asyncio event loop (Jupyter): nothing here uses asyncio.
"""

from __future__ import annotations

import collections
import copy
import inspect
import math
import os
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scheduler._validation import integer, non_negative_number, positive_int, positive_number
from scheduler.facades._job import CANCELLED_RETURN_VALUE, FAIL_RETURN_VALUE, Job, JobStatus
from scheduler.facades._run_dir import RunDir, new_run_id
from scheduler.results.evaluations import EvaluationsCsv
from scheduler.runtime.backends import BACKENDS
from scheduler.runtime.function_task import (
    DURATION_KEY,
    GPU_IDS_KEY,
    OBJECTIVE_KEY,
    OUTPUT_KEY,
    FunctionTask,
    function_args,
)
from scheduler.runtime.resources import (
    ClusterResourceManager,
    ResourceManager,
    detect_total_resources,
)
from scheduler.runtime.runner import RunFolders, Runner
from scheduler.schedulers.submitted import SubmittedPolicy

__all__ = [
    "Evaluator",
    "ProcessPoolEvaluator",
    "RayEvaluator",
    "SerialEvaluator",
    "SubprocessEvaluator",
    "ThreadPoolEvaluator",
    "methods",
]

#: the evaluator's methods and the backend each runs on (others: any backend that runs
#: Python functions, under its own name)
_METHOD_BACKENDS = {
    "serial": "thread",
    "thread": "thread",
    "process": "process",
    "subprocess": "subprocess",
    "ray": "ray",
}
#: backends that cannot run a run function, and why
_NOT_FOR_FUNCTIONS = {
    "simulated": "it replays a benchmark object on a virtual clock",
    "command": "it runs a program (scheduler.Command), not a Python function",
}
_WAIT_STEP = 0.5  # seconds: gather re-checks that the runtime is alive at least this often


def methods() -> list[str]:
    """The names ``Evaluator.create`` accepts."""
    extra = [b for b in BACKENDS if b not in _METHOD_BACKENDS and b not in _NOT_FOR_FUNCTIONS]
    return [*_METHOD_BACKENDS, *sorted(extra)]


def _backend_of(method: str) -> str:
    """The registered backend a method runs on; ValueError if it has none."""
    if method in _NOT_FOR_FUNCTIONS:
        raise ValueError(
            f"method={method!r} cannot run a run function: {_NOT_FOR_FUNCTIONS[method]}"
        )
    backend = _METHOD_BACKENDS.get(method, method)
    if backend not in BACKENDS:
        if method in _METHOD_BACKENDS:
            raise ValueError(
                f"method={method!r} needs the {backend!r} backend, which this version of "
                f"scheduler does not have (backends: {sorted(BACKENDS)})"
            )
        raise ValueError(f"method must be one of {methods()}, got {method!r}")
    return backend


@dataclass(frozen=True)
class _JobFolders(RunFolders):
    """One checkpoint folder for every job (a run function gets no checkpoint folder;
    the runtime still creates one per task), and per-task log folders."""

    def checkpoint_dir(self, config_id: int) -> str:
        return self.checkpoints


def _unpack(output: Any) -> tuple[Any, dict]:
    """``(result, metadata)`` of a run function's result (as JSON data)."""
    if isinstance(output, dict) and "objective" in output:
        metadata = {k: v for k, v in output.items() if k not in ("objective", "metadata")}
        extra = output.get("metadata")
        if isinstance(extra, dict):
            metadata.update(extra)
        elif extra is not None:
            metadata["metadata"] = extra
        return output["objective"], metadata
    return output, {}


class _JobBook:
    """The evaluator's jobs as the runtime sees them: the ``history`` the runner writes
    into (``start_task``, ``add_report``, ``end_task``, called under the runtime's lock)
    and ``make_args`` (outside it). Keeps each job's status and result, and the jobs
    that finished and were not gathered yet, in the order they finished."""

    def __init__(self, created: float, timeout: float | None) -> None:
        self.created = created  # wall time of the evaluator's creation
        self.timeout = timeout
        self.jobs: dict[int, Job] = {}
        self.finished: collections.deque[Job] = collections.deque()
        #: ``gather`` is woken once this many jobs are finished (math.inf: no waiter)
        self.wanted: float = math.inf
        self.cond: threading.Condition | None = None  # on the runtime's lock
        self.runner: Runner | None = None
        self._by_task: dict[int, Job] = {}
        self._reports: dict[int, dict] = {}

    # -- what the runtime calls --------------------------------------------------
    def make_args(self, train_fn, config, *, task_id, config_id, resume_from, gpu_ids):
        self.jobs[config["id"]].gpu_ids = tuple(int(g) for g in gpu_ids)
        # the run function gets a copy of its own, which it may change
        return function_args(
            copy.deepcopy(config), task_id=task_id, config_id=config_id, gpu_ids=gpu_ids
        )

    def start_task(
        self, task_id, config_id, config, *, bracket=None, resume_from=None, start_time=None
    ):
        job = self.jobs[config["id"]]
        job.status = JobStatus.RUNNING
        job.timestamp_start = (start_time if start_time is not None else time.time()) - self.created
        self._by_task[task_id] = job

    def add_report(self, task_id, result, *, decision, replay=False):
        self._reports[task_id] = result
        return result

    def end_task(self, task_id, status, *, reason=None, traceback=None, end_time=None):
        job = self._by_task.pop(task_id)
        report = self._reports.pop(task_id, None)
        job.timestamp_end = (end_time if end_time is not None else time.time()) - self.created
        job.elapsed_sec = job.timestamp_end
        task = self.runner.table.tasks.get(task_id) if self.runner is not None else None
        cancel_status = task.cancel_status if task is not None else None
        if report is not None:  # the run function returned: its result is here
            job.duration = report[DURATION_KEY]
            job.gpu_ids = tuple(report[GPU_IDS_KEY])  # as the job saw them (Ray: its node's)
            # when the function began, on this clock (the task may have waited for its
            # worker: an interpreter to start, an actor to be placed)
            job.timestamp_start = max(_started(job), job.timestamp_end - job.duration)
            job.result, job.metadata = _unpack(report[OUTPUT_KEY])
            if status == "diverged":  # a NaN or infinite objective
                job.result = FAIL_RETURN_VALUE
            job.status = JobStatus.DONE
        else:
            job.duration = job.timestamp_end - _started(job)
            if cancel_status is not None or status in ("stopped", "interrupted"):
                # the runtime's deadline cancel records "failed": that is the timeout
                job.error = (
                    f"cancelled: the job ran longer than timeout={self.timeout} s"
                    if cancel_status == "failed"
                    else f"cancelled: {reason or 'the evaluator was closed'}"
                )
                job.result = CANCELLED_RETURN_VALUE
                job.status = JobStatus.CANCELLED
            else:
                job.error = reason or f"the job ended as {status} without a result"
                job.traceback = traceback
                job.result = FAIL_RETURN_VALUE
                job.status = JobStatus.FAILED
        self.finish(job)

    # -- what the evaluator calls (under the runtime's lock) ---------------------
    def finish(self, job: Job) -> None:
        self.finished.append(job)
        if len(self.finished) >= self.wanted and self.cond is not None:
            self.cond.notify_all()

    def cancel_unstarted(self, job: Job, why: str) -> None:
        job.status = JobStatus.CANCELLED
        job.result = CANCELLED_RETURN_VALUE
        job.error = f"cancelled before it started: {why}"
        job.timestamp_end = job.elapsed_sec = time.time() - self.created
        self.finish(job)

    def abandon_running(self, why: str) -> None:
        """Jobs whose end the runtime will never deliver (it stopped): cancelled."""
        for task_id in list(self._by_task):
            job = self._by_task.pop(task_id)
            self._reports.pop(task_id, None)
            job.status = JobStatus.CANCELLED
            job.result = CANCELLED_RETURN_VALUE
            job.error = f"cancelled: {why}"
            job.timestamp_end = job.elapsed_sec = time.time() - self.created
            job.duration = job.timestamp_end - _started(job)
            self.finish(job)


def _started(job: Job) -> float:
    """When a job the runtime started began (``start_task`` set it)."""
    if job.timestamp_start is None:
        raise AssertionError(f"job {job.id} ended without having started")
    return job.timestamp_start


def _shutdown_at_exit(runner: Runner, run_dir: RunDir) -> None:
    """An evaluator that was never closed: stop its jobs and workers."""
    runner.shutdown("the evaluator was garbage-collected (or the interpreter exited)")
    run_dir.remove_if_temporary()


def _check_callbacks(callbacks: object) -> list:
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise ValueError(f"callbacks must be a list of callbacks or None, got {callbacks!r}")
    for cb in callbacks:
        if not callable(getattr(cb, "on_launch", None)) and not callable(
            getattr(cb, "on_done", None)
        ):
            raise ValueError(
                f"each callback needs an on_launch(job) or on_done(job) method, got {cb!r}"
            )
    return list(callbacks)


def _gpus_per_task(value: float | None, *, fractional: bool = False) -> float:
    if value is None:
        return 0
    if fractional:
        return non_negative_number("num_gpus_per_task", value)
    return integer("num_gpus_per_task", value, 0)


class Evaluator:
    """Runs ``run_function(config, **run_function_kwargs)`` for submitted configs.

    Build one with :meth:`create` (DeepHyper's factory) or a class of a method
    (:class:`ThreadPoolEvaluator`, :class:`ProcessPoolEvaluator`,
    :class:`SubprocessEvaluator`, :class:`RayEvaluator`, :class:`SerialEvaluator`);
    ``Evaluator(run_function, method=...)`` takes any method that runs on a fixed pool
    of slots. The workers start at construction; :meth:`close` (or a ``with`` block)
    cancels what is outstanding and stops them.

    Parameters
    ----------
    run_function : callable
        ``run_function(config: dict, **run_function_kwargs) -> result``. The result may
        be a number, a string (``"F_..."`` marks a failure, DeepHyper 0.4), a list,
        None, a bool, or ``{"objective": ..., "metadata": {...}}``. It may be a closure
        or live in ``__main__`` on every method (it is shipped with cloudpickle).
    num_workers : int
        Jobs that run at once (default 1).
    callbacks : list, optional
        Objects with ``on_launch(job)`` / ``on_done(job)``
        (see :mod:`scheduler.evaluator.callback`).
    run_function_kwargs : dict, optional
        Extra keyword arguments for every call.
    timeout : float, optional
        Seconds a job may run; then it is cancelled (status ``CANCELLED``, result
        ``"F_CANCELLED"``): its process killed, or on ``thread`` its thread abandoned
        (a thread cannot be killed: it runs on, unseen, and its slot goes to the next
        job).
    num_gpus_per_task : int, optional
        GPUs each job gets, by id (``job.gpu_ids``; ``CUDA_VISIBLE_DEVICES`` in the
        job's process on ``process`` and ``subprocess``). Jobs wait for free GPUs.
    num_gpus : int, optional
        GPUs to hand out (default: the machine's, detected when ``num_gpus_per_task``
        is set).
    method : str
        The backend (``"thread"`` for the base class).

    Attributes
    ----------
    num_workers : int
        How many jobs can run at once (``num_workers``, or fewer if the GPUs allow fewer).
    jobs : list of Job
        Every submitted job, in submission order.
    FAIL_RETURN_VALUE : float
        The result of a failed (or NaN/infinite) job: -3.4028235e+38.
    """

    FAIL_RETURN_VALUE = FAIL_RETURN_VALUE
    method = "thread"

    def __init__(
        self,
        run_function: Callable,
        num_workers: int = 1,
        callbacks: list | tuple | None = None,
        run_function_kwargs: dict | None = None,
        timeout: float | None = None,
        num_gpus_per_task: int | None = None,
        num_gpus: int | None = None,
        *,
        method: str | None = None,
    ) -> None:
        method = type(self).method if method is None else method
        backend = _backend_of(method)
        if backend == "ray" and type(self) is not RayEvaluator:
            raise ValueError("method='ray' takes Ray's parameters: use RayEvaluator or create()")
        workers = positive_int("num_workers", num_workers)
        gpus_each = _gpus_per_task(num_gpus_per_task)
        if num_gpus is None:
            total_gpus = detect_total_resources()["num_gpus"] if gpus_each else 0
        else:
            total_gpus = integer("num_gpus", num_gpus, 0)
        if gpus_each > total_gpus:
            raise ValueError(
                f"num_gpus_per_task={gpus_each} exceeds the {total_gpus} GPUs available "
                f"(num_gpus={num_gpus!r}); lower it or pass num_gpus="
            )
        resources = ResourceManager(
            {"num_cpus": 1, "num_gpus": gpus_each},
            {"num_cpus": workers, "num_gpus": total_gpus},
        )
        if resources.max_concurrency < workers:
            warnings.warn(
                f"num_workers={workers}, but only {resources.max_concurrency} jobs fit at "
                f"once on {total_gpus} GPUs with num_gpus_per_task={gpus_each}",
                UserWarning,
                stacklevel=2,
            )
        self._setup(
            run_function,
            method=method,
            backend=backend,
            resources=resources,
            callbacks=callbacks,
            run_function_kwargs=run_function_kwargs,
            timeout=timeout,
            backend_options={},
        )

    def _setup(
        self,
        run_function: Callable,
        *,
        method: str,
        backend: str,
        resources: ResourceManager | ClusterResourceManager,
        callbacks: list | tuple | None,
        run_function_kwargs: Mapping[str, Any] | None,
        timeout: float | None,
        backend_options: dict,
    ) -> None:
        if not callable(run_function):
            raise TypeError(f"run_function must be callable, got {run_function!r}")
        if run_function_kwargs is not None and not isinstance(run_function_kwargs, Mapping):
            raise ValueError(
                f"run_function_kwargs must be a dict or None, got {run_function_kwargs!r}"
            )
        self.run_function = run_function
        self.method = method
        self.backend = backend
        self.callbacks = _check_callbacks(callbacks)
        self.run_function_kwargs = dict(run_function_kwargs or {})
        self.timeout = positive_number("timeout", timeout, allow_none=True)
        self.resources = resources
        self.num_workers = resources.max_concurrency
        self.jobs: list[Job] = []
        self._created = time.time()
        self._next_id = 1
        self._num_outstanding = 0  # submitted and not gathered
        self._to_dump: list[Job] = []  # gathered and not written by dump_evals
        self._csv: dict[str, EvaluationsCsv] = {}
        self._submit_lock = threading.Lock()
        self._dump_lock = threading.Lock()
        self._closed = False
        self._policy = SubmittedPolicy()
        self._book = _JobBook(self._created, self.timeout)
        self._run_dir = RunDir(output_dir=None, checkpoint=None, run_id=new_run_id())
        folders = _JobFolders(
            checkpoints=self._run_dir.folders.checkpoints, tasks=self._run_dir.folders.tasks
        )
        self._runner = Runner(
            train_fn=FunctionTask(run_function, self.run_function_kwargs),
            policy=self._policy,
            backend=backend,
            resources=resources,
            history=self._book,
            make_args=self._book.make_args,
            reward_attr=OBJECTIVE_KEY,
            time_attr=None,
            mode="max",
            num_trials=None,
            time_out=None,
            max_reward=None,
            stop_jobs_after_time_out=False,
            max_task_time=self.timeout,
            callback=None,
            callback_delta_secs=60.0,
            progress=False,
            folders=folders,
            # every job stands alone: failing jobs never stop the evaluator
            fail_fast=False,
            backend_options=backend_options,
        )
        # task ids and config ids are the job ids (1, 2, ...), so that the runtime's
        # log lines ("task 3 (config 3) failed: ...") name the job
        self._runner.table.next_task_id = 1
        self._policy.load_state_dict({"next_config_id": 1, "exhausted": False})
        self._book.runner = self._runner
        self._book.cond = threading.Condition(self._runner.lock)
        try:
            self._runner.start()
        except BaseException:
            self._run_dir.remove_if_temporary()
            raise
        # the clock of elapsed_sec and the timestamps starts once the workers are ready
        self._created = self._book.created = time.time()
        self._finalizer = weakref.finalize(self, _shutdown_at_exit, self._runner, self._run_dir)

    # -- the factory -----------------------------------------------------------------
    @staticmethod
    def create(
        run_function: Callable, method: str = "subprocess", method_kwargs: dict | None = None
    ) -> Evaluator:
        """An evaluator of ``method`` built with ``method_kwargs`` (DeepHyper's factory).

        Parameters
        ----------
        run_function : callable
            See :class:`Evaluator`.
        method : str
            ``"serial"``, ``"thread"``, ``"process"``, ``"subprocess"`` (the default,
            as in DeepHyper 0.3) or ``"ray"``.
        method_kwargs : dict, optional
            The method's parameters (``num_workers``, ``callbacks``,
            ``run_function_kwargs``, ``timeout``, ...; for ``ray`` also ``address``,
            ``password``, ``num_cpus``, ``num_gpus``, ``num_cpus_per_task``,
            ``num_gpus_per_task``, ``ray_kwargs``). Not modified.

        Raises
        ------
        ValueError
            For an unknown method (the message lists the valid ones) or a key of
            ``method_kwargs`` the method does not take (listing those it takes).
        """
        if not isinstance(method, str):
            raise ValueError(f"method must be one of {methods()}, got {method!r}")
        _backend_of(method)  # an unknown method, or one this version cannot run
        if method_kwargs is None:
            method_kwargs = {}
        if not isinstance(method_kwargs, Mapping):
            raise ValueError(f"method_kwargs must be a dict, got {method_kwargs!r}")
        cls = _CLASSES.get(method, Evaluator)
        accepted = [
            name
            for name in inspect.signature(cls.__init__).parameters
            if name not in ("self", "run_function", "method")
        ]
        unknown = sorted(set(method_kwargs) - set(accepted))
        if unknown:
            raise ValueError(
                f"method_kwargs has unknown keys {unknown} for method={method!r}; "
                f"accepted: {accepted}"
            )
        if cls is Evaluator:
            return Evaluator(run_function, method=method, **method_kwargs)
        return cls(run_function, **method_kwargs)

    # -- submit and gather -----------------------------------------------------------
    def submit(self, configs: Sequence[dict]) -> list[Job]:
        """Queue one job per config (dicts); returns the new jobs at once (never waits
        for a worker). Jobs start in submission order as slots free up.

        Each job's config is a deep copy with ``"id"`` set to the job id (an ``"id"``
        the config had is replaced). Callbacks' ``on_launch(job)`` is called for each.
        """
        if isinstance(configs, Mapping):
            raise ValueError("submit() takes a list of configs (dicts), got one dict; wrap it")
        configs = list(configs)
        for i, config in enumerate(configs):
            if not isinstance(config, Mapping):
                raise ValueError(f"configs[{i}] must be a dict, got {config!r}")
        book = self._book
        with self._submit_lock:
            if self._closed:
                raise RuntimeError("this evaluator is closed; create a new one to submit jobs")
            now = time.time() - self._created
            jobs = []
            for config in configs:
                job_config = copy.deepcopy(dict(config))
                job_config["id"] = self._next_id
                job = Job(self._next_id, job_config, self.run_function)
                job.timestamp_submit = now
                self._next_id += 1
                jobs.append(job)
            with self._runner.lock:
                if self._runner.finished:
                    error = self._runner.error
                    raise RuntimeError(
                        "the evaluator's runtime has stopped"
                        + (f": {error!r}" if error is not None else "")
                    ) from error
                for job in jobs:
                    book.jobs[job.id] = job
                self._policy.queue.put(job.config for job in jobs)
                self._num_outstanding += len(jobs)
            self.jobs.extend(jobs)
        self._runner.wake()
        self._call_back("on_launch", jobs)
        return jobs

    def gather(self, type: str, size: int = 1) -> list[Job]:  # noqa: A002 - the seed's name
        """Wait for finished jobs and return them, in the order they finished.

        Parameters
        ----------
        type : {"ALL", "BATCH"}
            ``"ALL"``: wait until every submitted job not gathered yet has finished.
            ``"BATCH"``: wait until at least ``size`` have, then return all finished at
            that moment (possibly more than ``size``).
        size : int
            For ``"BATCH"``. Larger than the jobs outstanding: a ``UserWarning``, and
            ``size`` is that number.

        A job that failed or was cancelled is returned like any other (its ``status``,
        ``result`` and ``error`` say so); it never makes a later gather raise.
        Callbacks' ``on_done(job)`` is called for each returned job, in order. Blocks
        the calling thread without asyncio, so it also works inside a running event
        loop (Jupyter).
        """
        if type not in ("ALL", "BATCH"):
            raise ValueError(f"gather type must be 'ALL' or 'BATCH', got {type!r}")
        if type == "BATCH":
            size = positive_int("size", size)
        book = self._book
        cond = book.cond
        if cond is None:  # (set by _setup, before the evaluator is returned)
            raise RuntimeError("the evaluator's runtime was never started")
        with cond:
            outstanding = self._num_outstanding
            if type == "ALL":
                wanted = outstanding
            else:
                wanted = size
                if size > outstanding:
                    warnings.warn(
                        f"gather('BATCH', size={size}) asks for more jobs than the "
                        f"{outstanding} not gathered yet; waiting for {outstanding}",
                        UserWarning,
                        stacklevel=2,
                    )
                    wanted = outstanding
            book.wanted = wanted
            try:
                while len(book.finished) < wanted:
                    if self._runner.finished:
                        self._runtime_stopped()
                        break
                    cond.wait(_WAIT_STEP)
            finally:
                book.wanted = math.inf
            batch = list(book.finished)
            book.finished.clear()
            self._num_outstanding -= len(batch)
        gathered = time.time() - self._created
        for job in batch:
            job.timestamp_gather = gathered
        with self._dump_lock:
            self._to_dump.extend(batch)
        self._call_back("on_done", batch)
        return batch

    def _runtime_stopped(self) -> None:
        """Under the runtime's lock, once it has stopped: end the jobs it will not run."""
        error = self._runner.error
        why = "the evaluator was closed" if self._closed else f"the runtime stopped ({error!r})"
        for config in self._policy.queue.take_all():
            self._book.cancel_unstarted(self._book.jobs[config["id"]], why)
        self._book.abandon_running(why)

    def _call_back(self, hook: str, jobs: list[Job]) -> None:
        """Call ``hook`` of every callback for every job; then raise the first error."""
        first = None
        for job in jobs:
            for callback in self.callbacks:
                method = getattr(callback, hook, None)
                if method is None:
                    continue
                try:
                    method(job)
                except Exception as exc:  # noqa: BLE001 - raised below, after the others
                    if first is None:
                        first = exc
        if first is not None:
            raise first

    # -- results -----------------------------------------------------------------
    @staticmethod
    def convert_for_csv(val: Any) -> Any:
        """A value as ``dump_evals`` writes it: a list as its ``str``, else unchanged."""
        if isinstance(val, list):
            return str(val)
        return val

    def dump_evals(
        self, saved_keys: Sequence[str] | Callable[[Job], object] | None = None, log_dir: str = "."
    ) -> None:
        """Write the jobs gathered since the last call to ``<log_dir>/results.csv``.

        Each row: the job's config (with its ``id``), or only the ``saved_keys`` given
        as a list (list values as their ``str``), or the dict ``saved_keys(job)``
        returns; then ``id``, ``objective`` (the result), ``elapsed_sec``, ``duration``,
        and ``m:<key>`` for each entry of the job's ``metadata``. The first call writes
        the header, later calls append; every gathered job is written exactly once; a
        key that appears later widens the file (rewritten atomically) instead of
        failing. If the write fails (``OSError``) nothing is marked written: the next
        call writes those jobs again.
        """
        if not (
            saved_keys is None
            or callable(saved_keys)
            or (
                isinstance(saved_keys, (list, tuple))
                and all(isinstance(k, str) for k in saved_keys)
            )
        ):
            raise ValueError(
                f"saved_keys must be None, a list of config keys or a callable, got {saved_keys!r}"
            )
        path = os.path.abspath(os.path.join(os.fspath(log_dir), "results.csv"))
        with self._dump_lock:
            rows = [self._row(job, saved_keys) for job in self._to_dump]
            writer = self._csv.get(path) or EvaluationsCsv(path)
            writer.write(rows)
            self._csv[path] = writer
            self._to_dump.clear()

    def _row(self, job: Job, saved_keys: Sequence[str] | Callable[[Job], object] | None) -> dict:
        if saved_keys is None:
            row = {k: self.convert_for_csv(v) for k, v in job.config.items()}
        elif callable(saved_keys):
            returned = saved_keys(job)
            if not isinstance(returned, Mapping):
                raise ValueError(
                    f"saved_keys(job) must return a dict, got {returned!r} for job {job.id}"
                )
            row = dict(returned)
        else:
            row = {k: self.convert_for_csv(job.config.get(k)) for k in saved_keys}
        row["id"] = job.id
        row["objective"] = self.convert_for_csv(job.result)
        row["elapsed_sec"] = job.elapsed_sec
        row["duration"] = job.duration
        for key, value in job.metadata.items():
            row[f"m:{key}"] = self.convert_for_csv(value)
        return row

    # -- the end -----------------------------------------------------------------
    def close(self) -> None:
        """Cancel the jobs not finished (status ``CANCELLED``, result ``"F_CANCELLED"``;
        running ones are killed, or abandoned on ``thread``) and stop the workers. The
        finished and cancelled jobs can still be gathered and dumped. Idempotent."""
        with self._submit_lock:
            if self._closed:
                return
            self._closed = True
        with self._runner.lock:
            for config in self._policy.queue.take_all():
                self._book.cancel_unstarted(
                    self._book.jobs[config["id"]], "the evaluator was closed"
                )
        self._runner.shutdown("the evaluator was closed")
        with self._runner.lock:
            self._book.abandon_running("the evaluator was closed")
        self._finalizer.detach()
        self._run_dir.remove_if_temporary()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(method={self.method!r}, num_workers={self.num_workers}, "
            f"jobs={len(self.jobs)}, closed={self._closed})"
        )


class ThreadPoolEvaluator(Evaluator):
    """Jobs in threads of this process (``method="thread"``): the cheapest launch; the
    GIL limits it to I/O-bound or GIL-releasing run functions; a job past its timeout
    is abandoned, not killed. See :class:`Evaluator` for the parameters."""

    method = "thread"

    def __init__(
        self,
        run_function: Callable,
        num_workers: int = 1,
        callbacks: list | tuple | None = None,
        run_function_kwargs: dict | None = None,
        timeout: float | None = None,
        num_gpus_per_task: int | None = None,
        num_gpus: int | None = None,
    ) -> None:
        super().__init__(
            run_function,
            num_workers,
            callbacks,
            run_function_kwargs,
            timeout,
            num_gpus_per_task,
            num_gpus,
        )


class ProcessPoolEvaluator(Evaluator):
    """Jobs in reusable worker processes (``method="process"``): a job that crashes its
    process fails alone, one past its timeout is killed. See :class:`Evaluator`."""

    method = "process"

    def __init__(
        self,
        run_function: Callable,
        num_workers: int = 1,
        callbacks: list | tuple | None = None,
        run_function_kwargs: dict | None = None,
        timeout: float | None = None,
        num_gpus_per_task: int | None = None,
        num_gpus: int | None = None,
    ) -> None:
        super().__init__(
            run_function,
            num_workers,
            callbacks,
            run_function_kwargs,
            timeout,
            num_gpus_per_task,
            num_gpus,
        )


class SubprocessEvaluator(Evaluator):
    """Each job in a fresh interpreter that exits after it (``method="subprocess"``):
    nothing a job leaves behind reaches the next. Any result (NaN, True, None, dicts)
    comes back as data, not parsed from printed text. See :class:`Evaluator`."""

    method = "subprocess"

    def __init__(
        self,
        run_function: Callable,
        num_workers: int = 1,
        callbacks: list | tuple | None = None,
        run_function_kwargs: dict | None = None,
        timeout: float | None = None,
        num_gpus_per_task: int | None = None,
        num_gpus: int | None = None,
    ) -> None:
        super().__init__(
            run_function,
            num_workers,
            callbacks,
            run_function_kwargs,
            timeout,
            num_gpus_per_task,
            num_gpus,
        )


class SerialEvaluator(Evaluator):
    """One job at a time, in submission order, in this process (``method="serial"``),
    for debugging and for run functions that cannot run side by side. A job past its
    timeout is abandoned like a thread's. See :class:`Evaluator`."""

    method = "serial"

    def __init__(
        self,
        run_function: Callable,
        num_workers: int = 1,
        callbacks: list | tuple | None = None,
        run_function_kwargs: dict | None = None,
        timeout: float | None = None,
    ) -> None:
        if num_workers != 1:
            raise ValueError(
                f"method='serial' runs one job at a time: num_workers must be 1, got "
                f"{num_workers!r} (use method='thread' or 'process' for more)"
            )
        super().__init__(run_function, 1, callbacks, run_function_kwargs, timeout)


class RayEvaluator(Evaluator):
    """Jobs as Ray tasks on a local Ray or a cluster (``method="ray"``).

    Parameters
    ----------
    run_function, callbacks, run_function_kwargs, timeout
        See :class:`Evaluator`.
    address : str, optional
        A running cluster (``"auto"``, ``"host:6379"``, ``"ray://host:10001"``); None
        starts a local Ray (sized by ``num_cpus``/``num_gpus``).
    password : str, optional
        The cluster's Redis password (``ray.init(_redis_password=...)``).
    num_cpus, num_gpus : int, optional
        Size of a local Ray started here.
    num_cpus_per_task : float
        CPUs per job (default 1; fractions allowed).
    num_gpus_per_task : float, optional
        GPUs per job (fractions allowed); Ray sets ``CUDA_VISIBLE_DEVICES``.
    ray_kwargs : dict, optional
        More ``ray.init`` keywords (copied, never modified).
    num_workers : int, optional
        Jobs that run at once; None or -1: as many as the cluster fits, counting GPUs
        as well as CPUs. Enforced either way.
    """

    method = "ray"

    def __init__(
        self,
        run_function: Callable,
        callbacks: list | tuple | None = None,
        address: str | None = None,
        password: str | None = None,
        num_cpus: int | None = None,
        num_gpus: int | None = None,
        num_cpus_per_task: float = 1,
        num_gpus_per_task: float | None = None,
        ray_kwargs: dict | None = None,
        num_workers: int | None = None,
        run_function_kwargs: dict | None = None,
        timeout: float | None = None,
    ) -> None:
        backend = _backend_of("ray")
        from scheduler.runtime.backends.ray import cluster_resources

        if ray_kwargs is not None and not isinstance(ray_kwargs, Mapping):
            raise ValueError(f"ray_kwargs must be a dict or None, got {ray_kwargs!r}")
        init = dict(ray_kwargs or {})
        if password is not None:
            init["_redis_password"] = password
        if num_cpus is not None:
            init["num_cpus"] = integer("num_cpus", num_cpus, 1)
        if num_gpus is not None:
            init["num_gpus"] = integer("num_gpus", num_gpus, 0)
        cpus_each = non_negative_number("num_cpus_per_task", num_cpus_per_task)
        gpus_each = _gpus_per_task(num_gpus_per_task, fractional=True)
        cap = None
        if num_workers is not None and num_workers != -1:
            workers = positive_int("num_workers", num_workers)
            cap = {"num_cpus": workers * cpus_each, "num_gpus": workers * gpus_each}
        resources = cluster_resources(
            {"num_cpus": cpus_each, "num_gpus": gpus_each},
            cap,
            address=address,
            init_kwargs=init,
        )
        self._setup(
            run_function,
            method="ray",
            backend=backend,
            resources=resources,
            callbacks=callbacks,
            run_function_kwargs=run_function_kwargs,
            timeout=timeout,
            backend_options={"resources": resources},
        )


_CLASSES: dict[str, type[Evaluator]] = {
    "serial": SerialEvaluator,
    "thread": ThreadPoolEvaluator,
    "process": ProcessPoolEvaluator,
    "subprocess": SubprocessEvaluator,
    "ray": RayEvaluator,
}
