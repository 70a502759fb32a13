"""Stats handlers: ``automl_stats_log.json`` after every job, and the run's totals.

:class:`MMARStatsHandler` rewrites ``<run folder>/automl_stats_log.json`` atomically
(write, fsync, rename) after every ``end_job`` and at ``end_automl``, so a crash still
leaves a complete log of the jobs that ended. Its schema::

    {
      "run_id": str, "start_time": float, "end_time": float | null,
      "total_seconds": float,            # so far, while the run goes on
      "workers": [{"name", "gpus", "jobs"}],
      "search_space": {"name", "params": [{"prl", "domain", "type", "args", ...}]},
      "num_recommendations": int,
      "jobs": [{"job_name", "worker", "gpus", "rec_id", "start_time", "end_time",
                "duration", "status", "score", "reason", "root", "search_values"}],
      "best": {"job_name", "score"} | null,
      "stop_reason": str | null
    }

Times are seconds since the epoch (``time.time()``); ``search_values`` maps each PRL to
its value in the recommendation (a float, or an enum's choice index).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import TYPE_CHECKING

from scheduler._jsonable import to_jsonable
from scheduler.automl.defs import ContextKey, JobStatus, MMARPropKey, MMARStd
from scheduler.automl.events import Handler
from scheduler.automl.handlers._record import job_record
from scheduler.durability.atomic import atomic_write_text

if TYPE_CHECKING:
    from scheduler.automl.context import Context

__all__ = ["MMARStatsHandler", "StatsHandler"]

log = logging.getLogger("scheduler.automl")


def _best(jobs: list[dict]) -> dict | None:
    best = None
    for job in jobs:
        if job["status"] in JobStatus.SCORED and (best is None or job["score"] > best["score"]):
            best = job
    return None if best is None else {"job_name": best["job_name"], "score": best["score"]}


class MMARStatsHandler(Handler):
    """Write the stats log of the run (schema in the module documentation).

    Parameters
    ----------
    stats_file_name : str
        The file, relative to the run folder (``RUN_ROOT``, set by MMARHandler, which
        must come first in the handlers list).
    """

    def __init__(self, stats_file_name: str = MMARStd.AUTOML_STATS_FILE):
        if not isinstance(stats_file_name, str) or not stats_file_name:
            raise ValueError(f"stats_file_name must be a non-empty string, got {stats_file_name!r}")
        self.stats_file_name = stats_file_name
        self.path: str | None = None
        self._lock = threading.Lock()
        self._data: dict = {}
        self._t0 = 0.0

    def start_automl(self, ctx: Context) -> None:
        run_root = ctx.require_prop(
            MMARPropKey.RUN_ROOT,
            "MMARStatsHandler",
            " (the run folder): list MMARHandler before MMARStatsHandler in the handlers",
        )
        self.path = os.path.join(run_root, self.stats_file_name)
        self._t0 = time.monotonic()
        workers = ctx.get_prop(ContextKey.WORKERS) or []
        with self._lock:
            self._data = {
                "run_id": ctx.get_prop(MMARPropKey.RUN_ID),
                "start_time": time.time(),
                "end_time": None,
                "total_seconds": 0.0,
                "workers": [{"name": w.name, "gpus": list(w.gpus), "jobs": 0} for w in workers],
                "search_space": None,
                "num_recommendations": 0,
                "jobs": [],
                "best": None,
                "stop_reason": None,
            }
            self._write()

    def search_space_available(self, ctx: Context) -> None:
        space = ctx.get_prop(ContextKey.SEARCH_SPACE)
        with self._lock:
            self._data["search_space"] = None if space is None else space.to_json()
            self._write()

    def recommendations_available(self, ctx: Context) -> None:
        recs = ctx.get_prop(ContextKey.RECOMMENDATIONS) or []
        with self._lock:
            self._data["num_recommendations"] += len(recs)

    def end_job(self, ctx: Context) -> None:
        record = job_record(ctx)
        with self._lock:
            self._data["jobs"].append(record)
            for worker in self._data["workers"]:
                if worker["name"] == record["worker"]:
                    worker["jobs"] += 1
            self._data["best"] = _best(self._data["jobs"])
            self._write()

    def end_automl(self, ctx: Context) -> None:
        with self._lock:
            self._data["end_time"] = time.time()
            self._data["stop_reason"] = ctx.get_prop(ContextKey.STOP_REASON)
            self._write()

    def _write(self) -> None:
        if self.path is None:
            return
        self._data["total_seconds"] = time.monotonic() - self._t0
        text = json.dumps(to_jsonable(self._data), indent=2)
        atomic_write_text(self.path, text + "\n")


class StatsHandler(Handler):
    """Counts jobs by status and logs the run's totals at ``end_automl``.

    Attributes
    ----------
    counts : dict
        Jobs by status.
    best : dict or None
        ``{job_name, score}`` of the best scored job.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.best: dict | None = None
        self._t0 = 0.0
        self._jobs: list[dict] = []

    def start_automl(self, ctx: Context) -> None:
        self._t0 = time.monotonic()

    def end_job(self, ctx: Context) -> None:
        record = job_record(ctx)
        with self._lock:
            self.counts[record["status"]] = self.counts.get(record["status"], 0) + 1
            self._jobs.append(record)
            self.best = _best(self._jobs)

    def end_automl(self, ctx: Context) -> None:
        with self._lock:
            counts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts.items())) or "no jobs"
            best = self.best
        seconds = time.monotonic() - self._t0
        tail = f"; best {best['job_name']} ({best['score']:.6g})" if best else ""
        log.info("AutoML run: %s in %.1f s%s", counts, seconds, tail)
