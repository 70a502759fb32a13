"""Errors of the AutoML engine."""

from __future__ import annotations

__all__ = ["EngineError", "JobAborted", "JobFailed"]


class JobFailed(Exception):
    """An executor could not produce a score (non-zero exit, no stats file, ...);
    the job ends ``failed`` with score ``FAILED_SCORE`` and the run goes on."""


class JobAborted(JobFailed):
    """The job was aborted (``abort_worker``, ``max_job_run_time``, a stop)."""


class EngineError(RuntimeError):
    """The run could not go on: a component failed outside a job (a malformed search
    annotation, a controller or start-up handler that raised)."""
