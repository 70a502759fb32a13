"""The evaluator's callbacks, where DeepHyper keeps them (``deephyper.evaluator.callback``).

A callback is any object with ``on_launch(job)`` (called in ``submit``) and/or
``on_done(job)`` (called in ``gather``, in the order of the returned jobs).
"""

from scheduler.facades._evaluator_callbacks import (
    Callback,
    LoggerCallback,
    ProfilingCallback,
    SearchEarlyStopping,
    SearchTerminationError,
)

__all__ = [
    "Callback",
    "LoggerCallback",
    "ProfilingCallback",
    "SearchEarlyStopping",
    "SearchTerminationError",
]
