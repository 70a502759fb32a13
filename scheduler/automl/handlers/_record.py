"""One finished job as a plain dict, read from its context (shared by the handlers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scheduler.automl.defs import ContextKey, MMARPropKey

if TYPE_CHECKING:
    from scheduler.automl.context import Context


def job_record(ctx: Context) -> dict:
    """``{job_name, worker, gpus, rec_id, start_time, end_time, duration, status, score,
    reason, root, search_values}`` of the job whose context is ``ctx``."""
    rec = ctx.get_prop(ContextKey.RECOMMENDATION)
    start = ctx.get_prop(ContextKey.JOB_START_TIME)
    end = ctx.get_prop(ContextKey.JOB_END_TIME)
    return {
        "job_name": ctx.get_prop(ContextKey.JOB_NAME),
        "worker": ctx.get_prop(ContextKey.WORKER_NAME),
        "gpus": list(ctx.get_prop(ContextKey.GPUS) or []),
        "rec_id": None if rec is None else rec.rec_id,
        "start_time": start,
        "end_time": end,
        "duration": None if start is None or end is None else end - start,
        "status": ctx.get_prop(ContextKey.JOB_STATUS),
        "score": ctx.get_prop(ContextKey.SCORE),
        "reason": ctx.get_prop(ContextKey.JOB_REASON),
        "root": ctx.get_prop(MMARPropKey.JOB_MMAR_ROOT),
        "search_values": dict(rec.search_result.values) if rec is not None else {},
    }
