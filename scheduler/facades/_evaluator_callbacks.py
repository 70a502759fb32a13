"""Callbacks of :class:`scheduler.Evaluator` (DeepHyper 0.3's ``deephyper.evaluator.callback``).

A callback is any object with ``on_launch(job)`` and/or ``on_done(job)``: the evaluator
calls ``on_launch`` in ``submit`` for each submitted job and ``on_done`` in ``gather``
for each gathered job, in the order of the returned list, on the caller's thread, in
the order the callbacks were given. An exception from a callback does not lose a job:
every other call of that ``submit``/``gather`` is made, then the first exception is
raised.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any, TextIO

from scheduler._validation import is_real, positive_int
from scheduler.facades._job import FAIL_RETURN_VALUE, Job
from scheduler.results.export import results_table

__all__ = [
    "Callback",
    "LoggerCallback",
    "ProfilingCallback",
    "SearchEarlyStopping",
    "SearchTerminationError",
]


class SearchTerminationError(RuntimeError):
    """Raised by :class:`SearchEarlyStopping` from ``on_done``, out of ``gather``: the
    search should stop (DeepHyper 0.3.3). The jobs of that gather are recorded all the
    same (``dump_evals`` writes them; ``evaluator.jobs`` has them)."""


class Callback:
    """Base class; both hooks do nothing."""

    def on_launch(self, job: Job) -> None:
        """``job`` was submitted (status READY, or already RUNNING)."""

    def on_done(self, job: Job) -> None:
        """``job`` was gathered (finished: DONE, FAILED or CANCELLED)."""


def _objective(value: Any) -> float | None:
    """``value`` as a float if it is a finite real number (not a bool) other than
    ``FAIL_RETURN_VALUE``, else None: failures never count as a best result."""
    if is_real(value):
        number = float(value)
        if math.isfinite(number) and number != FAIL_RETURN_VALUE:
            return number
    return None


class ProfilingCallback(Callback):
    """Records when each job started and ended, and how many ran at once.

    ``profile`` is a table (a pandas DataFrame when pandas is installed, else a list of
    dicts) with one row per start and end of the jobs gathered so far, in time order:
    ``timestamp`` (seconds since the evaluator's creation, when the run function
    started or ended: the real start, not the submit), ``n_jobs_running`` just after
    that event, ``job_id`` and ``event`` (``"start"`` or ``"end"``). A job that never
    started (cancelled while READY) has no rows.
    """

    def __init__(self) -> None:
        self._events: list[tuple[float, int, int, str]] = []

    def on_done(self, job: Job) -> None:
        if job.timestamp_start is None or job.timestamp_end is None:
            return
        self._events.append((job.timestamp_start, 1, job.id, "start"))
        self._events.append((job.timestamp_end, -1, job.id, "end"))

    @property
    def profile(self):
        rows = []
        running = 0
        # at equal times an end comes before a start: a slot handed over is not overlap
        for timestamp, step, job_id, event in sorted(self._events, key=lambda e: (e[0], e[1])):
            running += step
            rows.append(
                {
                    "timestamp": timestamp,
                    "n_jobs_running": running,
                    "job_id": job_id,
                    "event": event,
                }
            )
        return results_table(rows)


class LoggerCallback(Callback):
    """Prints one line per gathered job: ``[00042] -- best objective: 0.91 -- received
    objective: 0.87`` (the best over the numeric results so far, maximized; failures
    never count).

    Parameters
    ----------
    file : file object, optional
        Where to print (default: ``sys.stdout`` at the time of each line).
    """

    def __init__(self, file: TextIO | None = None) -> None:
        self.file = file
        self.best: float | None = None
        self.count = 0

    def on_done(self, job: Job) -> None:
        self.count += 1
        value = _objective(job.result)
        if value is not None and (self.best is None or value > self.best):
            self.best = value
        print(
            f"[{self.count:05d}] -- best objective: {self.best} -- received objective: "
            f"{job.result}",
            file=self.file if self.file is not None else sys.stdout,
        )


class SearchEarlyStopping(Callback):
    """Stops a search after ``patience`` gathered jobs in a row without a better result.

    The objective is maximized; ``objective_func(job)`` gives it (default: ``job.result``);
    non-numeric values (``"F_..."``, lists, None) and ``FAIL_RETURN_VALUE`` never count
    as better.
    When patience runs out, :attr:`search_stopped` becomes True and ``on_done`` raises
    :class:`SearchTerminationError` (once), out of ``gather``.

    Parameters
    ----------
    patience : int
        Jobs without improvement to accept (>= 1).
    objective_func : callable, optional
        ``objective_func(job) -> number``.
    """

    def __init__(self, patience: int = 10, objective_func: Callable | None = None) -> None:
        self.patience = positive_int("patience", patience)
        if objective_func is not None and not callable(objective_func):
            raise ValueError(f"objective_func must be callable or None, got {objective_func!r}")
        self.objective_func = objective_func or (lambda job: job.result)
        self.best: float | None = None
        self.count_without_improvement = 0
        self.search_stopped = False

    def on_done(self, job: Job) -> None:
        if self.search_stopped:
            return
        value = _objective(self.objective_func(job))
        if value is not None and (self.best is None or value > self.best):
            self.best = value
            self.count_without_improvement = 0
            return
        self.count_without_improvement += 1
        if self.count_without_improvement >= self.patience:
            self.search_stopped = True
            raise SearchTerminationError(
                f"no better objective in the last {self.patience} jobs (best: {self.best}); "
                "stopping the search"
            )
