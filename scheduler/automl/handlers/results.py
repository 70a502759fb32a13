"""ResultsHandler: every job into the results layer (``results.csv``/``.jsonl``, curves)."""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING

from scheduler.automl.defs import FAILED_SCORE, ContextKey, MMARPropKey
from scheduler.automl.events import Handler
from scheduler.automl.handlers._record import job_record

if TYPE_CHECKING:
    from scheduler.automl.context import Context
    from scheduler.results.export import ResultsWriter

__all__ = ["ResultsHandler"]

log = logging.getLogger("scheduler.automl")


class ResultsHandler(Handler):
    """Write one row per report of every job, and the training curves at the end.

    Parameters
    ----------
    output_dir : str, optional
        Where ``results.csv``, ``results.jsonl`` and ``training_curves.png`` go;
        default the run folder (``RUN_ROOT``).
    plot : bool
        Save ``training_curves.png`` at ``end_automl`` (score against epoch, one line
        per config; needs matplotlib).

    A row holds ``job_name``, ``worker``, ``rec_id``, ``status`` (the job's), the
    report (``score``, ``epoch``... and the reporter's ``time_this_iter``,
    ``time_since_start``), then the search values as ``config.<prl>`` columns. A job
    that reported nothing (it failed) gets one row with ``score`` -1e6.
    """

    def __init__(self, output_dir: str | None = None, plot: bool = True):
        if output_dir is not None and (not isinstance(output_dir, str) or not output_dir):
            raise ValueError(f"output_dir must be a non-empty string or None, got {output_dir!r}")
        self.output_dir = output_dir
        self.plot = bool(plot)
        self.writer: ResultsWriter | None = None
        self._lock = threading.Lock()

    def start_automl(self, ctx: Context) -> None:
        from scheduler.results.export import ResultsWriter

        folder = self.output_dir or ctx.require_prop(
            MMARPropKey.RUN_ROOT,
            "ResultsHandler",
            " (the run folder): pass output_dir= or list MMARHandler first",
        )
        self.output_dir = folder
        with self._lock:
            self.writer = ResultsWriter(folder)

    def end_job(self, ctx: Context) -> None:
        record = job_record(ctx)
        reports = ctx.get_prop(ContextKey.JOB_REPORTS) or []
        head = {
            "job_name": record["job_name"],
            "worker": record["worker"],
            "rec_id": record["rec_id"],
            "status": record["status"],
        }
        rows = [{**head, **report} for report in reports] or [{**head, "score": FAILED_SCORE}]
        with self._lock:
            if self.writer is None or self.writer.closed:
                return
            for row in rows:
                self.writer.write(row, record["search_values"])

    def end_automl(self, ctx: Context) -> None:
        with self._lock:
            if self.writer is not None:
                self.writer.close()
        history = ctx.get_prop(ContextKey.HISTORY)
        if self.plot and history is not None and self.output_dir and history.num_reports:
            from scheduler.results.plot import plot_training_curves

            path = os.path.join(self.output_dir, "training_curves.png")
            try:
                plot_training_curves(history, filename=path)
            except Exception as exc:  # noqa: BLE001 - a plot never fails the run
                ctx.exception_occurred(self, f"could not plot the training curves: {exc!r}")
