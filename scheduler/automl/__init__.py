"""Clara Train-style AutoML over the scheduler's runtime (provisional exports)."""

from scheduler.automl.context import Context
from scheduler.automl.defs import (
    FAILED_SCORE,
    ContextKey,
    JobStatus,
    MMARPropKey,
    MMARStd,
    Outcome,
    Recommendation,
    SearchParam,
    SearchRange,
    SearchResult,
    SearchSpace,
)
from scheduler.automl.events import EventType, Handler
from scheduler.automl.search_space import SearchSpaceManager, apply_search_result
from scheduler.automl.workers import WorkerConfig, WorkerPool, parse_workers

__all__ = [
    "FAILED_SCORE",
    "Context",
    "ContextKey",
    "EventType",
    "Handler",
    "JobStatus",
    "MMARPropKey",
    "MMARStd",
    "Outcome",
    "Recommendation",
    "SearchParam",
    "SearchRange",
    "SearchResult",
    "SearchSpace",
    "SearchSpaceManager",
    "WorkerConfig",
    "WorkerPool",
    "apply_search_result",
    "parse_workers",
]
