"""Executors: run one recommendation as a job and return its score.

- :class:`Executor`: the interface. ``determine_search_space(ctx)`` (engine thread),
  ``execute(recommendation, ctx: Context) -> score`` (the job's thread), ``abort(ctx)`` (engine
  thread; must make ``execute`` end soon), ``shutdown(ctx)``.
- :class:`MMARExecutor`: Clara's. Clones the template folder (the MMAR) per job to
  ``<run_root>/<job_name>/``, writes the recommendation applied to the training config
  to its ``config/<train config>``, runs its ``commands/automl_train_round.sh`` there
  (``MMAR_ROOT`` set to the job folder, ``CUDA_VISIBLE_DEVICES`` to the worker's GPUs)
  and returns ``best_validation_metric`` from the job folder's ``train_stats.json``.
  A non-zero exit or a missing or unreadable stats file fails the job (score -1e6) and
  the run goes on. ``abort`` SIGTERMs the command's whole process group at once, and
  SIGKILLs it after ``kill_grace``.

  The command runs through the command backend
  (:class:`~scheduler.runtime.backends.command.CommandTask` of a
  :class:`scheduler.Command` built for the job), as any ``Command`` trial does: its
  own process group, nothing it started left running once it ended, its stdout and
  stderr merged into the job folder's ``log.txt``. It gets no hyperparameters on its
  command line: the applied config is in the job folder. Lines
  ``[scheduler] {"epoch": 3, "best_validation_metric": 0.8}`` that it prints, and
  ``scheduler.report(...)`` calls of a Python training script, are reports (``score``
  is taken from the score key when absent): a Hyperband controller decides on them, and
  a stop or pause ends the command (SIGTERM, SIGKILL after ``kill_grace``).

  The command's environment also has ``PYTHON`` (this interpreter),
  ``SCHEDULER_JOB_NAME``, ``SCHEDULER_CHECKPOINT_DIR`` (a folder per config that
  survives pauses), ``SCHEDULER_RESUME_FROM`` (the epoch a promoted config resumes
  from; empty for a fresh start) and the other variables of a ``Command`` trial
  (``SCHEDULER_CONFIG``: the recommendation's search values, ``SCHEDULER_TASK_ID``,
  ``SCHEDULER_CONFIG_ID``, ``SCHEDULER_REPORT_FD``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
from typing import TYPE_CHECKING

from scheduler._command import Command
from scheduler._decorator import Args
from scheduler._exceptions import TaskStopped
from scheduler._validation import positive_number
from scheduler.automl import _runtime
from scheduler.automl.defs import ContextKey, MMARPropKey, MMARStd
from scheduler.automl.errors import JobAborted, JobFailed
from scheduler.automl.search_space import SearchSpaceManager
from scheduler.durability.atomic import atomic_write_text
from scheduler.runtime.backends.base import CANCELLED, RETURNED, STOPPED, TaskSpec
from scheduler.runtime.backends.command import LINE_PREFIX, CommandTask
from scheduler.runtime.reporter import CONTINUE

if TYPE_CHECKING:
    from scheduler.automl.context import Context

__all__ = ["DESTINATIONS", "REPORT_PREFIX", "Executor", "MMARExecutor", "read_score"]

#: the prefix of a report line in a job's output
REPORT_PREFIX = LINE_PREFIX.decode() + " "
#: where a job's output goes (Clara's ``msg_destination``)
DESTINATIONS = ("file", "console", "both", "none")
#: keys the command backend's reporter adds, that the engine's reporter adds again
_TIMESTAMPS = ("time_this_iter", "time_since_start")


class Executor:
    """Base class of executors."""

    def determine_search_space(self, ctx):
        """The :class:`~scheduler.automl.defs.SearchSpace` to search (engine thread)."""
        raise NotImplementedError

    def execute(self, recommendation, ctx):
        """Run the job; return its score (a real number) or raise (job thread)."""
        raise NotImplementedError

    def abort(self, ctx: Context) -> None:
        """Make the job of ``ctx`` end now (engine thread)."""

    def shutdown(self, ctx: Context) -> None:
        """Release what the executor holds."""


def read_score(path: str, key: str) -> tuple[float, dict]:
    """``(stats[key], stats)`` from a JSON stats file, or :class:`JobFailed` naming the
    file and what is wrong with it."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise JobFailed(f"the training wrote no stats file {path}") from None
    except OSError as exc:
        raise JobFailed(f"cannot read the stats file {path}: {exc}") from None
    try:
        stats = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobFailed(f"the stats file {path} is not valid JSON: {exc}") from None
    if not isinstance(stats, dict) or key not in stats:
        keys = sorted(stats) if isinstance(stats, dict) else type(stats).__name__
        raise JobFailed(f"the stats file {path} has no {key!r} (it has {keys})")
    value = stats[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise JobFailed(f"{key!r} in {path} must be a number, got {value!r}")
    return float(value), stats


class MMARExecutor(Executor):
    """Run each job as the template's training command in a clone of the template.

    Parameters
    ----------
    msg_destination : {'file', 'console', 'both', 'none'}, optional
        Where the command's output (stdout and stderr, merged) goes: the job folder's
        ``log.txt`` (default), the console, both, or nowhere (for ``console`` and
        ``none`` it is logged to a temporary file, for the failure reason, removed when
        the job ends).
    poll_interval : float
        Clara's parameter, checked and kept: the command backend wakes the job thread
        when the command prints, exits or is aborted, so it never polls.
    remove_search_augs : bool
        Remove the ``search``/``apply`` annotations from each job's training config.
    train_stats_file : str
        The stats file, relative to the job folder (``train_stats.json``).
    score_key : str
        The score's key in it (``best_validation_metric``).
    train_command : str
        The command script, relative to the job folder
        (``commands/automl_train_round.sh``), run with ``bash``.
    kill_grace : float
        Seconds between SIGTERM and SIGKILL when a job is aborted or stopped.
    env : dict, optional
        More environment variables for the command.
    """

    def __init__(
        self,
        msg_destination: str | None = None,
        poll_interval: float = 1.0,
        remove_search_augs: bool = False,
        train_stats_file: str = MMARStd.TRAIN_STATS,
        score_key: str = MMARStd.SCORE_KEY,
        train_command: str = f"{MMARStd.COMMAND_DIR}/{MMARStd.TRAIN_ROUND_CMD}",
        kill_grace: float = 5.0,
        env: dict | None = None,
    ):
        destination = "file" if msg_destination is None else msg_destination
        if destination not in DESTINATIONS:
            raise ValueError(
                f"msg_destination must be one of {list(DESTINATIONS)} or None, "
                f"got {msg_destination!r}"
            )
        self.msg_destination = destination
        self.poll_interval = positive_number("poll_interval", poll_interval)
        self.remove_search_augs = bool(remove_search_augs)
        for name, value in (
            ("train_stats_file", train_stats_file),
            ("score_key", score_key),
            ("train_command", train_command),
        ):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        self.train_stats_file = train_stats_file
        self.score_key = score_key
        self.train_command = train_command
        self.kill_grace = positive_number("kill_grace", kill_grace)
        if env is not None and (
            not isinstance(env, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
        ):
            raise ValueError(f"env must be a dict of strings, got {env!r}")
        self.env = dict(env or {})
        self._manager: SearchSpaceManager | None = None
        self._train_config_file = MMARStd.TRAIN_CONFIG
        self._lock = threading.Lock()  # guards each job's process and abort flag

    # -- search space ------------------------------------------------------------------
    def determine_search_space(self, ctx):
        mmar_root = ctx.require_prop(
            MMARPropKey.MMAR_ROOT, "MMARExecutor", " (the template folder)"
        )
        name = ctx.get_prop(MMARPropKey.TRAIN_CONFIG_FILE) or MMARStd.TRAIN_CONFIG
        path = os.path.join(mmar_root, MMARStd.CONFIG_DIR, name)
        try:
            with open(path, encoding="utf-8") as f:
                config = json.load(f)
        except FileNotFoundError:
            raise ValueError(f"MMARExecutor: the training config {path} does not exist") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"MMARExecutor: {path} is not valid JSON: {exc}") from None
        location = os.path.join(MMARStd.CONFIG_DIR, name)
        self._manager = SearchSpaceManager(config, location, self.remove_search_augs)
        self._train_config_file = name
        ctx.set_prop(MMARPropKey.TRAIN_CONFIG, self._manager.train_config)
        return self._manager.extract_search_space()

    # -- one job -----------------------------------------------------------------------
    def execute(self, recommendation, ctx):
        if self._manager is None:
            raise RuntimeError("MMARExecutor.execute() before determine_search_space()")
        mmar_root = ctx.require_prop(MMARPropKey.MMAR_ROOT, "MMARExecutor")
        run_root = ctx.require_prop(
            MMARPropKey.RUN_ROOT,
            "MMARExecutor",
            " (the run folder, set by MMARHandler: list it in the handlers)",
        )
        job_name = ctx.require_prop(ContextKey.JOB_NAME, "MMARExecutor")
        job_root = os.path.join(run_root, job_name)
        self._clone(mmar_root, run_root, job_root)
        ctx.set_prop(MMARPropKey.JOB_MMAR_ROOT, job_root)
        config = self._manager.apply_search_result(recommendation.search_result)
        config_path = os.path.join(job_root, MMARStd.CONFIG_DIR, self._train_config_file)
        os.makedirs(os.path.dirname(config_path), exist_ok=True)
        atomic_write_text(config_path, json.dumps(config, indent=2) + "\n")
        os.makedirs(os.path.join(job_root, MMARStd.MODELS_DIR), exist_ok=True)
        script = os.path.join(job_root, self.train_command)
        if not os.path.isfile(script):
            raise JobFailed(f"the training command {script} does not exist (train_command)")
        self._run_command(["bash", script], job_root, ctx)
        score, stats = read_score(os.path.join(job_root, self.train_stats_file), self.score_key)
        ctx.set_prop(MMARPropKey.MMAR_TRAIN_STATS, stats)
        return score

    @staticmethod
    def _clone(mmar_root: str, run_root: str, job_root: str) -> None:
        """Copy the template to the job folder, leaving out the AutoML work folders."""
        mmar = os.path.realpath(mmar_root)
        run = os.path.realpath(run_root)
        skip = {MMARStd.AUTOML_DIR, "__pycache__"}
        rel = os.path.relpath(run, mmar)
        if not rel.startswith(os.pardir):
            skip.add(rel.split(os.sep)[0])

        def ignore(folder, names):
            if os.path.realpath(folder) == mmar:
                return [n for n in names if n in skip]
            return [n for n in names if n == "__pycache__"]

        if os.path.exists(job_root):
            raise JobFailed(f"the job folder {job_root} already exists")
        shutil.copytree(mmar_root, job_root, ignore=ignore, symlinks=True)

    def _command(self, argv: list[str], job_root: str, ctx: Context) -> Command:
        """The job's command: no hyperparameters on its command line (the applied
        config is in the job folder), stderr merged into its output (``log.txt``)."""
        env = dict(self.env)
        env["MMAR_ROOT"] = job_root
        env["PYTHON"] = sys.executable
        env["SCHEDULER_JOB_NAME"] = str(ctx.get_prop(ContextKey.JOB_NAME))
        return Command(
            argv,
            _cwd=job_root,
            _env=env,
            _score_key=self.score_key,  # a report's score, when it has no "score"
            _kill_grace=self.kill_grace,
            _config_args=False,
            _merge_stderr=True,
        )

    @staticmethod
    def _spec(job_root: str, ctx: Context) -> TaskSpec:
        rec = ctx.get_prop(ContextKey.RECOMMENDATION)
        args = Args(dict(rec.search_result.values) if rec is not None else {})
        args.task_id = ctx.get_prop(ContextKey.TASK_ID)
        args.config_id = ctx.get_prop(ContextKey.CONFIG_ID)
        args.scheduler = Args(resume_from=ctx.get_prop(ContextKey.RESUME_FROM))
        checkpoint_dir = ctx.get_prop(ContextKey.CHECKPOINT_DIR) or os.path.join(
            job_root, MMARStd.MODELS_DIR
        )
        return TaskSpec(
            task_id=args.task_id,
            args=args,
            reward_attr=_runtime.REWARD_ATTR,
            time_attr=_runtime.TIME_ATTR,
            require_time=False,  # the engine's reporter knows what its controller needs
            checkpoint_dir=checkpoint_dir,
            gpu_ids=tuple(ctx.get_prop(ContextKey.GPUS) or ()),
            log_dir=job_root,
        )

    def _run_command(self, argv: list[str], job_root: str, ctx: Context) -> None:
        """Run the command to its end as a :class:`CommandTask`, its reports sent to the
        engine; raise :class:`JobFailed` when it fails, :class:`JobAborted` after an
        abort, the engine's :class:`TaskStopped` after a stop or pause."""
        report = ctx.get_prop(ContextKey.REPORT)
        stopped: list[TaskStopped] = []

        def send(result: dict) -> str:
            if report is None:
                return CONTINUE
            result = {k: v for k, v in result.items() if k not in _TIMESTAMPS}
            try:
                report(**result)
            except TaskStopped as exc:
                stopped.append(exc)
                return exc.decision
            return CONTINUE

        with contextlib.ExitStack() as stack:
            if self.msg_destination in ("file", "both"):
                log_path = os.path.join(job_root, MMARStd.LOG_FILE)
            else:
                scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="mmar-job-"))
                log_path = os.path.join(scratch, MMARStd.LOG_FILE)
            echo = _to_console if self.msg_destination in ("console", "both") else None
            with self._lock:
                if ctx.get_prop(ContextKey.ABORT_REQUESTED):
                    raise JobAborted("aborted before its command started")
                task = CommandTask(
                    self._command(argv, job_root, ctx),
                    self._spec(job_root, ctx),
                    send,
                    stdout_path=log_path,
                    echo=echo,
                )
                ctx.set_prop(MMARPropKey.EXEC_SUBPROCESS, task)
            outcome = task.run()
        if ctx.get_prop(ContextKey.ABORT_REQUESTED) or outcome.kind == CANCELLED:
            raise JobAborted(f"aborted; its command was ended ({outcome.error})")
        if outcome.kind == STOPPED and stopped:
            raise stopped[-1]
        if outcome.kind != RETURNED:
            raise JobFailed(f"the training command failed: {outcome.error}")

    def abort(self, ctx: Context) -> None:
        """End the job's command now: SIGTERM to its process group at once, SIGKILL
        after ``kill_grace`` (sent by the job thread; this returns at once)."""
        with self._lock:
            ctx.set_prop(ContextKey.ABORT_REQUESTED, True)
            task = ctx.get_prop(MMARPropKey.EXEC_SUBPROCESS)
        if task is not None:
            task.cancel(f"aborted ({ctx.get_prop(ContextKey.JOB_NAME)})")


def _to_console(data: bytes) -> None:
    """Show a job's output on this process's stdout (``msg_destination`` console, both)."""
    out = sys.stdout
    out.flush()
    buffer = getattr(out, "buffer", None)
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        out.write(data.decode(errors="replace"))
        out.flush()
