"""The user-facing scheduler: AutoGluon's API over a policy and the shared runtime.

:class:`BaseScheduler` holds what FIFO, Hyperband and RL share (validation, history,
results, the runtime, state); each subclass only builds its policy.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import tempfile
import threading
from typing import Any

from scheduler._command import Command
from scheduler._decorator import build_task_args, get_space, make_task_args
from scheduler._validation import is_real, positive_int, positive_number
from scheduler.durability.atomic import atomic_write_text
from scheduler.durability.journal import Journal
from scheduler.durability.lock import CheckpointLock
from scheduler.durability.resume import check_setup, open_checkpoint, resume_into
from scheduler.facades._autogluon_methods import AutoGluonMethods
from scheduler.facades._run_dir import RunDir, new_run_id
from scheduler.results.export import ResultsWriter, results_table
from scheduler.results.flatten import flatten_config
from scheduler.results.history import History
from scheduler.runtime.backends import BACKENDS, SYNCHRONOUS
from scheduler.runtime.backends.simulated import is_benchmark
from scheduler.runtime.resources import ClusterResourceManager, ResourceManager
from scheduler.runtime.runner import Runner
from scheduler.schedulers.base import Policy
from scheduler.searchers import CONSTRAINED_SEARCHERS, SEARCHERS, BaseSearcher, searcher_factory
from scheduler.space import SearchSpace, is_configspace

__all__ = ["BaseScheduler"]


def _command_backend(train_fn: object, backend: str) -> str:
    """A Command runs as its own process on the command backend (``process``, the
    default, and ``subprocess`` both mean that); only a Command runs there."""
    if not isinstance(train_fn, Command):
        if backend == "command":
            raise ValueError(
                "backend='command' runs a scheduler.Command; for a train_fn use 'process', "
                f"'subprocess' or 'thread', got train_fn={train_fn!r}"
            )
        return backend
    if backend not in ("process", "subprocess", "command"):
        raise ValueError(
            f"backend={backend!r} cannot run a scheduler.Command (a program is its own "
            "process): use backend='process' (the default) or 'subprocess'"
        )
    return "command"


STATE_VERSION = 1


class BaseScheduler(AutoGluonMethods):
    """Shared machinery of every scheduler; subclasses implement :meth:`_make_policy`.

    AutoGluon's other documented methods (``add_job``, ``schedule_next``, the
    ``on_task_*`` hooks, ...) come from :class:`AutoGluonMethods`."""

    def __init__(
        self,
        train_fn,
        *,
        args=None,
        resource=None,
        searcher="random",
        search_options=None,
        checkpoint=None,
        resume=False,
        num_trials=None,
        time_out=None,
        max_reward=None,
        reward_attr="accuracy",
        time_attr="epoch",
        training_history_callback=None,
        training_history_callback_delta_secs=60,
        delay_get_config=True,
        stop_jobs_after_time_out=True,
        backend="process",
        mode="max",
        total_resources=None,
        max_task_time=None,
        progress=None,
        output_dir=None,
        checkpoint_fsync_interval=1.0,
        fail_fast="auto",
        elapsed_time_attr="elapsed_time",
        dist_ip_addrs=None,
        constraint_attr=None,
        training_history_searcher_info=False,
        ray_address=None,
        ray_init_kwargs=None,
        storage_path=None,
    ):
        # AutoGluon parameters for features this library does not have (yet): accepted
        # at their defaults so that AutoGluon code runs, refused otherwise.
        if dist_ip_addrs:
            raise ValueError(
                "dist_ip_addrs: remote machines are run by the Ray backend; build the "
                'scheduler with backend="ray" and ray_address="<host>:<port>" of the cluster, '
                f"got dist_ip_addrs={dist_ip_addrs!r}"
            )
        if constraint_attr is not None and (
            not isinstance(constraint_attr, str) or not constraint_attr
        ):
            raise ValueError(
                f"constraint_attr must be a non-empty string or None, got {constraint_attr!r}"
            )
        self.constraint_attr = constraint_attr
        if training_history_searcher_info:
            raise ValueError(
                "training_history_searcher_info=True needs a model-based searcher; the "
                "random and grid searchers have no model state to add"
            )
        self.benchmark = is_benchmark(train_fn)
        if self.benchmark and backend != "simulated":
            raise ValueError(
                "a benchmark object (with objective() and space) runs on the virtual "
                f"clock: pass backend='simulated', got backend={backend!r}"
            )
        if not callable(train_fn) and not self.benchmark and not isinstance(train_fn, Command):
            raise TypeError(f"train_fn must be callable (or a scheduler.Command), got {train_fn!r}")
        self.train_fn = train_fn
        if not isinstance(elapsed_time_attr, str) or not elapsed_time_attr:
            raise ValueError(
                f"elapsed_time_attr must be a non-empty string, got {elapsed_time_attr!r}"
            )
        self.elapsed_time_attr = elapsed_time_attr
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.mode = mode
        if not isinstance(reward_attr, str) or not reward_attr:
            raise ValueError(f"reward_attr must be a non-empty string, got {reward_attr!r}")
        if time_attr is not None and (not isinstance(time_attr, str) or not time_attr):
            raise ValueError(f"time_attr must be a non-empty string or None, got {time_attr!r}")
        self.reward_attr = reward_attr
        self.time_attr = time_attr
        self.num_trials = positive_int("num_trials", num_trials, allow_none=True)
        self.time_out = positive_number("time_out", time_out, allow_none=True)
        if self.num_trials is None and self.time_out is None:
            raise ValueError("one of num_trials, time_out must be given, got neither")
        if max_reward is not None and (not is_real(max_reward) or math.isnan(max_reward)):
            raise ValueError(f"max_reward must be a number (not NaN), got {max_reward!r}")
        self.max_reward: float | None = max_reward
        self.max_task_time = positive_number("max_task_time", max_task_time, allow_none=True)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {sorted(BACKENDS)}, got {backend!r}")
        self.backend = _command_backend(train_fn, backend)
        for name, value in (
            ("ray_address", ray_address),
            ("ray_init_kwargs", ray_init_kwargs),
            ("storage_path", storage_path),
        ):
            if value is not None and backend != "ray":
                raise ValueError(f"{name} is only used with backend='ray', got {name}={value!r}")
        if fail_fast not in ("auto", True, False):
            raise ValueError(f"fail_fast must be 'auto', True or False, got {fail_fast!r}")
        self.fail_fast = fail_fast
        if training_history_callback is not None and not callable(training_history_callback):
            raise ValueError(
                f"training_history_callback must be callable, got {training_history_callback!r}"
            )
        self.training_history_callback = training_history_callback
        # (None is refused: the runtime compares times against it)
        self.training_history_callback_delta_secs = positive_number(
            "training_history_callback_delta_secs", training_history_callback_delta_secs
        )
        # get_config is always called when a worker is free (AutoGluon's True), the
        # better choice for adaptive searchers; False is accepted for compatibility.
        self.delay_get_config = bool(delay_get_config)
        self.stop_jobs_after_time_out = bool(stop_jobs_after_time_out)
        self.progress = sys.stderr.isatty() if progress is None else bool(progress)
        self.resources: ResourceManager | ClusterResourceManager
        if backend == "ray":
            from scheduler.runtime.backends.ray import cluster_resources

            self.resources = cluster_resources(
                resource, total_resources, address=ray_address, init_kwargs=ray_init_kwargs
            )
        else:
            self.resources = ResourceManager(resource, total_resources)
        self.extra_args = dict(args) if args is not None else {}

        self.space = SearchSpace(train_fn.space) if self.benchmark else get_space(train_fn)
        self.searcher = self._make_searcher(searcher, search_options)

        self.output_dir = None if output_dir is None else os.path.abspath(os.fspath(output_dir))
        self.checkpoint = None if checkpoint is None else os.path.abspath(os.fspath(checkpoint))
        if not is_real(checkpoint_fsync_interval) or checkpoint_fsync_interval < 0:
            raise ValueError(
                "checkpoint_fsync_interval must be a number of seconds >= 0 "
                f"(0: fsync every event), got {checkpoint_fsync_interval!r}"
            )
        self.checkpoint_fsync_interval = float(checkpoint_fsync_interval)
        if resume and self.checkpoint is None:
            raise ValueError("resume=True needs checkpoint=<path>, got checkpoint=None")

        self.policy: Policy = self._hooked(self._make_policy())
        self.history = History(reward_attr, time_attr, mode, constraint_attr=self.constraint_attr)
        self._journal: Journal | None = None
        self._writer: ResultsWriter | None = None
        self._run_started = False

        # One driver per checkpoint, checked before anything is read; a damaged
        # checkpoint or another setup's is refused before anything is written.
        self._lock: CheckpointLock | None = None
        recovery = None
        if self.checkpoint is not None:
            lock = self._lock = CheckpointLock(self.checkpoint)
            lock.acquire()
            try:
                recovery = open_checkpoint(self.checkpoint, resume=bool(resume))
                if recovery is not None:
                    check_setup(self.checkpoint, recovery.header or {}, self._header(None))
            except BaseException:
                lock.release()
                raise
        header = recovery.header if recovery is not None and recovery.header else {}
        self.run_id = header.get("run_id") or new_run_id()
        if self.output_dir is not None:
            os.makedirs(self.output_dir, exist_ok=True)
        self._run_dir = RunDir(
            output_dir=self.output_dir, checkpoint=self.checkpoint, run_id=self.run_id
        )
        self.run_dir = self._run_dir.path
        self.storage_path = None
        if storage_path is not None:
            # Ray: the trials' checkpoint folders on a path every node can reach
            self.storage_path = os.path.abspath(os.fspath(storage_path))
            self._run_dir.folders = dataclasses.replace(
                self._run_dir.folders, checkpoints=os.path.join(self.storage_path, self.run_id)
            )
        self.checkpoint_root = self._run_dir.folders.checkpoints
        self._runner = self._make_runner()
        self._init_autogluon_methods()
        if recovery is not None and self.checkpoint is not None and self._lock is not None:
            # (a recovery comes only from a checkpoint, read under its lock)
            lock = self._lock
            try:
                self._journal = resume_into(
                    self.checkpoint,
                    recovery,
                    header=self._header(),
                    load_state=self.load_state_dict,
                    runner=self._runner,
                    fsync_interval=self.checkpoint_fsync_interval,
                )
            except BaseException:
                lock.release()
                raise

    # -- to be provided by subclasses --------------------------------------------
    def _make_policy(self) -> Policy:
        raise NotImplementedError

    def _make_searcher(self, searcher, search_options):
        """The searcher from the ``searcher`` and ``search_options`` arguments."""
        if is_configspace(searcher):
            # AutoGluon passes a ConfigSpace as the searcher: random search over it.
            converted = SearchSpace(searcher)
            if len(self.space) and self.space.fingerprint() != converted.fingerprint():
                raise ValueError(
                    f"searcher's space {converted!r} (from the ConfigurationSpace) differs "
                    f"from train_fn's {self.space!r}; give the space in one place"
                )
            self.space = converted
            searcher = "random"
        if isinstance(searcher, str):
            options = dict(search_options or {})
            options.setdefault("reward_attr", self.reward_attr)
            options.setdefault("mode", self.mode)
            if self.constraint_attr is not None:
                self._check_constrained(searcher)
                options.setdefault("constraint_attr", self.constraint_attr)
            return searcher_factory(searcher, space=self.space, **options)
        if isinstance(searcher, BaseSearcher):
            if search_options:
                raise ValueError(
                    "search_options is only used when searcher is a name, "
                    f"got a searcher object and search_options={search_options!r}"
                )
            if self.constraint_attr is not None and (
                getattr(searcher, "constraint_attr", None) != self.constraint_attr
            ):
                raise ValueError(
                    f"constraint_attr={self.constraint_attr!r} needs a searcher that models "
                    f"that constraint (searcher='bayesopt_constrained'), got {searcher!r}"
                )
            return searcher
        valid = ", ".join(repr(name) for name in sorted(SEARCHERS))
        raise ValueError(f"searcher must be one of {valid} or a BaseSearcher, got {searcher!r}")

    def _check_constrained(self, searcher: str) -> None:
        """Refuse ``constraint_attr`` with a searcher that ignores constraints."""
        if searcher.lower() not in CONSTRAINED_SEARCHERS:
            raise ValueError(
                f"constraint_attr={self.constraint_attr!r} needs constrained Bayesian "
                f"optimization: searcher='bayesopt_constrained' (FIFOScheduler), "
                f"got searcher={searcher!r}"
            )

    # -- running -------------------------------------------------------------------
    def _make_args(self, train_fn, config, **kwargs):
        return make_task_args(train_fn, {**self.extra_args, **config}, **kwargs)

    def _settings(self) -> dict:
        """What a checkpoint must match to be resumed by this scheduler."""
        settings = {"reward_attr": self.reward_attr, "time_attr": self.time_attr, "mode": self.mode}
        if self.constraint_attr is not None:
            settings["constraint_attr"] = self.constraint_attr
        return settings

    def _header(self, run_id: str | None = "") -> dict:
        """What the journal's header records (``run_id`` defaults to this run's)."""
        return {
            "scheduler": type(self).__name__,
            "space": self.space.fingerprint(),
            "settings": self._settings(),
            "run_id": self.run_id if run_id == "" else run_id,
        }

    def _make_runner(self) -> Runner:
        return Runner(
            train_fn=self.train_fn,
            policy=self.policy,
            backend=self.backend,
            resources=self.resources,
            history=self.history,
            writer=None,
            make_args=self._make_args,
            reward_attr=self.reward_attr,
            time_attr=self.time_attr,
            mode=self.mode,
            num_trials=self.num_trials,
            time_out=self.time_out,
            max_reward=self.max_reward,
            stop_jobs_after_time_out=self.stop_jobs_after_time_out,
            max_task_time=self.max_task_time,
            callback=self.training_history_callback,
            callback_delta_secs=self.training_history_callback_delta_secs,
            progress=self.progress,
            folders=self._run_dir.folders,
            fail_fast=self.fail_fast,
            backend_options=self._backend_options(),
            snapshot_state=self._snapshot_state,
            synchronous=self.backend in SYNCHRONOUS,
        )

    def _backend_options(self) -> dict:
        """Keyword arguments for the backend's constructor."""
        if self.backend == "simulated":
            return {"elapsed_time_attr": self.elapsed_time_attr}
        if self.backend == "ray":
            # Without a shared storage_path a config's checkpoint_dir is on one node:
            # its later tasks (promotions) run there.
            return {"resources": self.resources, "pin_configs": self.storage_path is None}
        return {}

    def _ensure_runner(self) -> Runner:
        runner = self._runner
        if runner.started:
            return runner
        if self.checkpoint is not None and self._journal is None:
            self._journal = Journal(
                self.checkpoint, self._header(), fsync_interval=self.checkpoint_fsync_interval
            )
            runner.journal = self._journal
        if self.output_dir is not None and runner.writer is None:
            # A resumed run's files are rewritten to hold exactly the journal's rows.
            records = [
                (_row_as_written(row), self.history.config_history[row["task_id"]])
                for row in self.history.rows()
            ]
            self._writer = ResultsWriter(self.run_dir, records=records)
            runner.writer = self._writer
        return runner

    def run(self, **kwargs: Any) -> None:
        """Launch trials; return once the last new trial is launched.

        Running trials go on in the background: call :meth:`join_jobs` to wait for them.
        A scheduler runs once: a second ``run()`` after its run ended raises
        ``RuntimeError`` (to continue a checkpointed run with a larger ``num_trials``,
        build a new scheduler with ``resume=True``). Raises
        :class:`scheduler.CheckpointError` if the run's files cannot be written,
        :class:`scheduler.TrialsFailedError` if ``fail_fast`` stopped it.
        """
        if kwargs:
            raise TypeError(f"run() got unexpected keyword arguments {sorted(kwargs)}")
        self._stepping_into_run()
        # (through a local: mypy would keep `self._runner.finished` narrowed to False
        # below, though the run can finish while this method runs)
        ended = self._runner
        if ended.finished:
            raise RuntimeError(
                f"this {type(self).__name__} has already run ({self.num_finished_tasks} "
                "tasks); build a new scheduler to run again (with checkpoint= and "
                "resume=True to continue this experiment, e.g. with a larger num_trials)"
            )
        if not self._run_started:
            self._run_started = True
            try:
                runner = self._ensure_runner()
                if runner.synchronous:  # a virtual clock: the whole run, here and now
                    runner.run_inline()
                    if runner.error is not None:
                        raise runner.error
                    return
                runner.start()
            except BaseException:
                self._end_of_run()
                raise
            finally:
                if self._runner.finished:
                    self._end_of_run()
        try:
            self._runner.wait_launching_done()
        finally:
            if self._runner.finished:
                self._end_of_run()

    def join_jobs(self, timeout: float | None = None) -> bool:
        """Wait until every trial has ended (or ``timeout`` seconds passed).

        Returns True when the experiment is done. Ctrl-C stops the running trials and
        re-raises ``KeyboardInterrupt``.
        """
        if timeout is not None and (not is_real(timeout) or timeout < 0):
            raise ValueError(f"timeout must be a number of seconds >= 0 or None, got {timeout!r}")
        self._stop_stepping()
        if not self._runner.started:
            return True
        try:
            done = self._runner.wait_done(timeout)
        finally:
            if self._runner.finished:
                self._end_of_run()
        return done

    join_tasks = join_jobs

    def shutdown(self) -> None:
        """Stop launching, stop running trials, release workers."""
        self._stop_stepping()
        self._runner.shutdown()
        self._end_of_run()

    def _end_of_run(self) -> None:
        """Release what the run held: the checkpoint lock, a temporary run folder."""
        if self._lock is not None:
            self._lock.release()
        self._run_dir.remove_if_temporary()

    def run_with_config(self, config: dict) -> tuple[Any, list[dict]]:
        """Run ``train_fn`` once, in this process, with ``config`` over the defaults.

        For a final fit after the search: nothing is stopped; the reports are validated
        and returned with ``train_fn``'s return value as ``(return_value, reports)``.
        """
        from scheduler.runtime.reporter import CONTINUE, Reporter

        if not isinstance(config, dict):
            raise ValueError(f"config must be a dict, got {config!r}")
        reports: list[dict] = []

        def send(result):
            reports.append(result)
            return CONTINUE

        checkpoint_dir = tempfile.mkdtemp(prefix="scheduler-final-")
        reporter = Reporter(
            send,
            reward_attr=self.reward_attr,
            time_attr=self.time_attr,
            require_time=self.policy.require_time,
            checkpoint_dir=checkpoint_dir,
        )
        args = self._make_args(
            self.train_fn, dict(config), task_id=-1, config_id=-1, resume_from=None, gpu_ids=[]
        )
        if isinstance(self.train_fn, Command):
            self._run_command_once(args, checkpoint_dir, send)
            return None, reports
        value = self.train_fn(build_task_args(self.train_fn, args), reporter)
        return value, reports

    def _run_command_once(self, args, checkpoint_dir, send):
        """run_with_config for a Command: run the program once (its logs in
        ``checkpoint_dir/logs``); a RuntimeError with the reason if it fails."""
        from scheduler.runtime.backends.base import RETURNED, TaskSpec
        from scheduler.runtime.backends.command import CommandTask

        spec = TaskSpec(
            task_id=-1,
            args=args,
            reward_attr=self.reward_attr,
            time_attr=self.time_attr,
            require_time=self.policy.require_time,
            checkpoint_dir=checkpoint_dir,
            log_dir=os.path.join(checkpoint_dir, "logs"),
        )
        outcome = CommandTask(self.train_fn, spec, send).run()
        if outcome.kind != RETURNED:
            raise RuntimeError(f"the command failed ({outcome.kind}): {outcome.error}")

    # -- results -------------------------------------------------------------------
    # Reads take the runtime's lock, so they are consistent while the run goes on
    # (from another thread, a callback, a notebook cell) and never race the history.
    @property
    def training_history(self):
        """task id -> the task's report rows (a copy, consistent during a run)."""
        with self._runner.lock:
            return {k: list(v) for k, v in self.history.training_history.items()}

    @property
    def config_history(self):
        """task id -> the task's config (a copy)."""
        with self._runner.lock:
            return dict(self.history.config_history)

    @property
    def num_finished_tasks(self) -> int:
        with self._runner.lock:
            return self.history.num_finished_tasks

    def get_best_config(self):
        """The config with the best reward at the highest fidelity it reached."""
        with self._runner.lock:
            return self.history.best_config()

    def get_best_reward(self):
        with self._runner.lock:
            return self.history.best_reward()

    def get_best_task_id(self):
        with self._runner.lock:
            return self.history.best_task_id()

    def get_training_curves(self, filename=None, plot=False, use_legend=True):
        """Plot reward against ``time_attr``, one line per config; returns the Figure.

        ``filename``: save it there. ``plot=True``: show it; where matplotlib cannot show
        anything (no display) it is saved instead, to ``filename`` or a new
        ``training_curves.png`` in the run's folder (with ``output_dir=`` or
        ``checkpoint=``; else the current folder), and a warning on the ``scheduler``
        logger says where."""
        from scheduler.results.plot import plot_training_curves

        with self._runner.lock:
            history = History.from_state_dict(self.history.state_dict(convert=False))
        return plot_training_curves(
            history,
            filename=filename,
            plot=plot,
            use_legend=use_legend,
            output_dir=None if self._run_dir.temporary else self.run_dir,
        )

    def results(self):
        """Every report as a row: a pandas DataFrame if pandas is installed, else a list
        of dicts. The config's hyperparameters are ``config.<name>`` columns, nested
        ones with dotted names (``config.opt.lr``), as in ``results.csv``."""
        with self._runner.lock:
            pairs = [
                (row, self.history.config_history.get(task_id, {}))
                for task_id in sorted(self.history.training_history)
                for row in self.history.training_history[task_id]
            ]
        rows = [{**flatten_config({}, config), **row} for row, config in pairs]
        return results_table(rows)

    # -- state ---------------------------------------------------------------------
    def state_dict(self, destination: dict | None = None, no_fifo_lock: bool = False) -> dict:
        """Plain JSON-able state: policy (searcher, kernels), history, runtime counters
        and the tasks in flight. Consistent even while the run goes on (taken under the
        runtime's lock unless ``no_fifo_lock``). ``destination``: a dict to update and
        return (AutoGluon's signature). ``scheduler.save(s.state_dict(), path)`` writes
        it."""
        if no_fifo_lock:
            state = self._state_dict_unlocked()
        else:
            with self._runner.lock:
                state = self._state_dict_unlocked()
        state["searcher"] = self._searcher_state()
        if destination is None:
            return state
        if not isinstance(destination, dict):
            raise ValueError(f"destination must be a dict or None, got {destination!r}")
        destination.update(state)
        return destination

    def _state_dict_unlocked(self, convert: bool = True) -> dict:
        return {
            "version": STATE_VERSION,
            **self._header(),
            "policy": self.policy.state_dict(),
            "history": self.history.state_dict(convert=convert),
            "runner": self._runner.state_dict(),
        }

    def _snapshot_state(self):
        """Under the runtime's lock: capture the state (copies, no conversion) and
        return the function that builds it on the writer thread, where the journal
        serializes it. The searcher's state is added by the runtime after exactly the
        events this snapshot covers."""
        head = {"version": STATE_VERSION, **self._header()}
        policy, history = self.policy.capture(), self.history.capture()
        runner = self._runner.state_dict()

        def build() -> dict:
            return {**head, "policy": policy(), "history": history(), "runner": runner}

        return build

    def _searcher_state(self, timeout: float = 60.0) -> dict | None:
        """The searcher's state after every event so far."""
        got: list = []
        done = threading.Event()

        def keep(state):
            got.append(state)
            done.set()

        with self._runner.lock:
            self._runner.driver.with_state(keep)
        if not done.wait(timeout):
            raise RuntimeError(f"the searcher did not give its state within {timeout} s")
        return got[0]

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output; call before :meth:`run`. Tasks that were
        running are ended as ``interrupted`` and their configs start again."""
        if self._runner.started:
            raise RuntimeError("load_state_dict() must be called before run()")
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"state version must be {STATE_VERSION}, got {state.get('version')!r}")
        if state.get("scheduler") != type(self).__name__:
            raise ValueError(
                f"state was saved by {state.get('scheduler')!r}, cannot load it into "
                f"{type(self).__name__!r}"
            )
        if state.get("space") != self.space.fingerprint():
            raise ValueError(
                "state was saved for a different search space: "
                f"{state.get('space')!r} != {self.space.fingerprint()!r}"
            )
        if state.get("settings") != self._settings():
            raise ValueError(
                f"state was saved with settings {state.get('settings')!r}, this scheduler "
                f"has {self._settings()!r}"
            )
        self.policy.load_state_dict(state["policy"])
        if state.get("searcher") is not None and self.policy.searcher is not None:
            self.policy.searcher.load_state_dict(state["searcher"])
        self.history.load_state_dict(state["history"])
        self._runner.load_state_dict(state["runner"])

    def save(self, checkpoint: str | os.PathLike[str] | None = None) -> None:
        """Write :meth:`state_dict` as JSON, atomically, to ``checkpoint`` (default: the
        scheduler's own checkpoint, as a snapshot of its journal)."""
        path = checkpoint or self.checkpoint
        if path is None:
            raise ValueError("save() needs a path: pass checkpoint= here or to the scheduler")
        path = os.path.abspath(os.fspath(path))
        if path == self.checkpoint:
            self._ensure_runner().snapshot_now()
            return
        atomic_write_text(path, json.dumps(self.state_dict()))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_trials={self.num_trials}, time_out={self.time_out}, "
            f"reward_attr={self.reward_attr!r}, mode={self.mode!r}, backend={self.backend!r}, "
            f"resource={self.resources.request})"
        )


def _row_as_written(row: dict) -> dict:
    """A history row as the results files got it live: before its task ended (the
    ``status`` key is added to a task's last row when the task ends)."""
    if "status" not in row:
        return row
    return {k: v for k, v in row.items() if k != "status"}
