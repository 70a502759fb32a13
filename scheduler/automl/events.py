"""Engine events, and the handler base class that dispatches them to methods.

Order (Clara's): ``startup``, ``start_automl``, ``search_space_available``,
``recommendations_available`` (the initial ones), then per job, on that job's thread,
``start_job`` ... ``end_job`` (``end_job`` fires whenever ``start_job`` did, also when
the job failed or was aborted), ``recommendations_available`` again on the engine's
thread whenever a finished job brought new recommendations, then ``end_automl`` and
finally ``shutdown`` (from :meth:`Engine.shutdown`). Handlers see each event in the
order of the handlers list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scheduler.automl.context import Context

__all__ = ["EVENTS", "EventType", "Handler"]


class EventType:
    STARTUP = "startup"
    START_AUTOML = "start_automl"
    SEARCH_SPACE_AVAILABLE = "search_space_available"
    RECOMMENDATIONS_AVAILABLE = "recommendations_available"
    START_JOB = "start_job"
    END_JOB = "end_job"
    END_AUTOML = "end_automl"
    SHUTDOWN = "shutdown"


#: every event, in the order of a run
EVENTS = (
    EventType.STARTUP,
    EventType.START_AUTOML,
    EventType.SEARCH_SPACE_AVAILABLE,
    EventType.RECOMMENDATIONS_AVAILABLE,
    EventType.START_JOB,
    EventType.END_JOB,
    EventType.END_AUTOML,
    EventType.SHUTDOWN,
)


class Handler:
    """Base class of handlers: every method is optional.

    ``start_job`` and ``end_job`` run on the job's thread, possibly on several job
    threads at once: protect state shared across jobs with a lock (the job's context is
    its own). The other events run on the engine's thread.
    """

    def handle_event(self, event: str, ctx: Context) -> None:
        """Call the method named after ``event`` (nothing if there is none)."""
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; events are {list(EVENTS)}")
        method = getattr(self, event, None)
        if method is not None:
            method(ctx)

    def startup(self, ctx: Context) -> None:
        """The handler is started (handlers in list order): read settings from ctx."""

    def start_automl(self, ctx: Context) -> None:
        """The run starts."""

    def search_space_available(self, ctx: Context) -> None:
        """``ContextKey.SEARCH_SPACE`` is set."""

    def recommendations_available(self, ctx: Context) -> None:
        """``ContextKey.RECOMMENDATIONS`` holds the new recommendations."""

    def start_job(self, ctx: Context) -> None:
        """A job is about to start (job thread; ``ctx`` is the job's context)."""

    def end_job(self, ctx: Context) -> None:
        """A job ended (job thread): ``JOB_STATUS``, ``SCORE``, ``JOB_NAME`` are set."""

    def end_automl(self, ctx: Context) -> None:
        """The run is over (no job is running any more)."""

    def shutdown(self, ctx: Context) -> None:
        """Release what the handler holds."""
