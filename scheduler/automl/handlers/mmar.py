"""MMARHandler: the run folder, the leaderboard, top-N job folders, the stop threshold."""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import threading
import time
from typing import TYPE_CHECKING

from scheduler._validation import positive_int
from scheduler.automl.defs import JobStatus, MMARPropKey, MMARStd
from scheduler.automl.events import Handler
from scheduler.automl.handlers._record import job_record
from scheduler.durability.atomic import atomic_write_text

if TYPE_CHECKING:
    from scheduler.automl.context import Context

__all__ = ["KEY_CONTENT", "MMARHandler", "MMARSummary", "format_table"]

log = logging.getLogger("scheduler.automl")

#: what a job folder keeps with ``key_mmar_content_only=True``
KEY_CONTENT = (MMARStd.CONFIG_DIR, MMARStd.MODELS_DIR, MMARStd.TRAIN_STATS, MMARStd.LOG_FILE)


def format_table(headers: list[str], rows: list[list]) -> str:
    """A plain-text table, columns left-aligned."""
    cells = [[str(h) for h in headers]] + [[("" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def _when(t: float | None) -> str:
    return "" if t is None else time.strftime("%H:%M:%S", time.localtime(t))


class MMARSummary:
    """A finished job as the leaderboard shows it."""

    def __init__(self, record: dict):
        self.record = record
        self.root = record["root"]
        self.score = record["score"]
        self.status = record["status"]
        self.kept = True

    @property
    def scored(self) -> bool:
        return self.status in JobStatus.SCORED


class MMARHandler(Handler):
    """Adapts the engine to MMAR training (Clara's).

    Parameters
    ----------
    num_mmars_to_keep : int
        After each job, only the job folders of the best N scored jobs are kept; the
        others are deleted.
    stop_threshold : float, optional
        A job scoring at least this stops the run.
    train_config_file : str, optional
        The training config's file name in ``config/`` (default ``config_train.json``).
    work_dir : str, optional
        The AutoML work folder, relative to the template (default ``automl``) or
        absolute; the run folder is ``<work_dir>/<run_id>``.
    key_mmar_content_only : bool
        Trim kept job folders to ``config/``, ``models/``, ``train_stats.json`` and
        ``log.txt``.
    data_list_file_name : str, optional
        Accepted for Clara's configs; unused.
    keep_bad_mmars : bool
        Keep the folders of failed and aborted jobs (default True: their ``log.txt``
        says why); they do not count towards ``num_mmars_to_keep``.

    ``start_automl`` creates the run folder (an existing one is an error: nothing is
    overwritten) and puts ``RUN_ROOT``/``AUTOML_ROOT`` in the context, so list this
    handler before the handlers that write there. The leaderboard of finished jobs is
    written to ``leaderboard.csv`` in the run folder after each job; the admin command
    ``summary`` shows it.
    """

    def __init__(
        self,
        num_mmars_to_keep: int = 1,
        stop_threshold: float | None = None,
        train_config_file: str | None = None,
        work_dir: str | None = None,
        key_mmar_content_only: bool = False,
        data_list_file_name: str | None = None,
        keep_bad_mmars: bool = True,
    ):
        self.num_mmars_to_keep = positive_int("num_mmars_to_keep", num_mmars_to_keep)
        if stop_threshold is not None and (
            isinstance(stop_threshold, bool) or not isinstance(stop_threshold, (int, float))
        ):
            raise ValueError(f"stop_threshold must be a number or None, got {stop_threshold!r}")
        self.stop_threshold = stop_threshold
        for name, value in (("train_config_file", train_config_file), ("work_dir", work_dir)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"{name} must be a non-empty string or None, got {value!r}")
        self.train_config_file = train_config_file
        self.work_dir = work_dir
        self.key_mmar_content_only = bool(key_mmar_content_only)
        self.data_list_file_name = data_list_file_name
        self.keep_bad_mmars = bool(keep_bad_mmars)
        self.run_root: str | None = None
        self._jobs: list[MMARSummary] = []
        self._lock = threading.Lock()

    # -- events --------------------------------------------------------------------
    def startup(self, ctx: Context) -> None:
        if self.train_config_file is not None:
            ctx.set_prop(MMARPropKey.TRAIN_CONFIG_FILE, self.train_config_file)
        elif not ctx.get_prop(MMARPropKey.TRAIN_CONFIG_FILE):
            ctx.set_prop(MMARPropKey.TRAIN_CONFIG_FILE, MMARStd.TRAIN_CONFIG)
        ctx.add_command_module(self)

    def start_automl(self, ctx: Context) -> None:
        mmar_root = ctx.require_prop(MMARPropKey.MMAR_ROOT, "MMARHandler", " (the template folder)")
        run_id = ctx.require_prop(MMARPropKey.RUN_ID, "MMARHandler", " (--set run_id=...)")
        work_dir = self.work_dir or MMARStd.AUTOML_DIR
        automl_root = work_dir if os.path.isabs(work_dir) else os.path.join(mmar_root, work_dir)
        run_root = os.path.join(automl_root, str(run_id))
        if os.path.exists(run_root):
            raise ValueError(
                f"the run folder {run_root} already exists: choose another run_id "
                "(nothing is overwritten)"
            )
        os.makedirs(run_root)
        config_name = ctx.get_prop(MMARPropKey.TRAIN_CONFIG_FILE) or MMARStd.TRAIN_CONFIG
        base = os.path.join(mmar_root, MMARStd.CONFIG_DIR, config_name)
        if os.path.isfile(base):
            shutil.copy2(base, os.path.join(run_root, config_name))
        self.run_root = run_root
        ctx.set_prop(MMARPropKey.AUTOML_ROOT, automl_root)
        ctx.set_prop(MMARPropKey.RUN_ROOT, run_root)

    def end_job(self, ctx: Context) -> None:
        record = job_record(ctx)
        summary = MMARSummary(record)
        with self._lock:
            self._jobs.append(summary)
            self._prune()
            if summary.kept and summary.scored and self.key_mmar_content_only:
                _trim(summary.root)
            self._write_leaderboard()
        threshold = self.stop_threshold
        if threshold is not None and summary.scored and summary.score >= threshold:
            ctx.stop_work(
                self,
                f"job {record['job_name']} scored {summary.score:g} >= "
                f"stop_threshold {threshold:g}",
            )

    def end_automl(self, ctx: Context) -> None:
        with self._lock:
            self._write_leaderboard()
            best = self._ranked()[:1]
        if best:
            b = best[0]
            log.info("best job: %s, score %s, in %s", b.record["job_name"], b.score, b.root)

    # -- keeping the best job folders ---------------------------------------------
    def _ranked(self) -> list[MMARSummary]:
        scored = [j for j in self._jobs if j.scored]
        scored.sort(key=lambda j: -j.score)  # stable: earlier jobs first on ties
        return scored + [j for j in self._jobs if not j.scored]

    def _prune(self) -> None:
        scored = [j for j in self._ranked() if j.scored]
        for job in scored[self.num_mmars_to_keep :]:
            self._delete(job)
        if not self.keep_bad_mmars:
            for job in self._jobs:
                if not job.scored:
                    self._delete(job)

    @staticmethod
    def _delete(job: MMARSummary) -> None:
        if job.kept and job.root and os.path.isdir(job.root):
            shutil.rmtree(job.root, ignore_errors=True)
        job.kept = False

    # -- leaderboard -------------------------------------------------------------------
    def leaderboard(self) -> list[dict]:
        """Finished jobs, best first (unscored ones last): their records plus ``rank``
        and ``kept`` (whether the job folder still exists)."""
        with self._lock:
            ranked = self._ranked()
        return [{"rank": i, **j.record, "kept": j.kept} for i, j in enumerate(ranked, 1)]

    def _write_leaderboard(self) -> None:
        if self.run_root is None:
            return
        columns = ["rank", "job_name", "worker", "status", "score", "duration", "kept", "root"]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for i, job in enumerate(self._ranked(), 1):
            row = {"rank": i, **job.record, "kept": job.kept}
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        atomic_write_text(os.path.join(self.run_root, MMARStd.LEADERBOARD_FILE), out.getvalue())

    # -- the admin command ------------------------------------------------------------
    def get_spec(self) -> list[dict]:
        return [
            {
                "name": "summary",
                "usage": "summary",
                "description": "the best job folders kept so far (START END ROOT SCORE WORKER)",
                "handler": self.handle_summary,
            }
        ]

    def handle_summary(self, args: list[str]) -> str:
        with self._lock:
            ranked = [j for j in self._ranked() if j.kept and j.scored]
            others = len(self._jobs) - len(ranked)
        rows = [
            [
                _when(j.record["start_time"]),
                _when(j.record["end_time"]),
                j.root,
                f"{j.score:.6g}",
                j.record["worker"],
            ]
            for j in ranked[: self.num_mmars_to_keep]
        ]
        text = f"Top MMARs to keep: {self.num_mmars_to_keep}\n"
        text += format_table(["START", "END", "ROOT", "SCORE", "WORKER"], rows)
        if others:
            text += f"\n({others} other finished job(s) not kept or without a score)"
        return text


def _trim(root: str | None) -> None:
    if not root or not os.path.isdir(root):
        return
    for name in os.listdir(root):
        if name in KEY_CONTENT:
            continue
        path = os.path.join(root, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.remove(path)
            except OSError as exc:
                log.warning("could not trim %s: %s", path, exc)
