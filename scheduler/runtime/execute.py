"""Runs one task's ``train_fn`` and turns whatever happens into a TaskOutcome.

Shared by the thread backend and the worker interpreters of the process and
subprocess backends. A traceback starts at the user's code: the frames of this module
and of the ``@args`` wrapper are dropped.
"""

from __future__ import annotations

import os
import traceback as tb
from collections.abc import Callable
from typing import Any

from scheduler._decorator import build_task_args
from scheduler._exceptions import TaskStopped
from scheduler.runtime.backends.base import (
    RAISED,
    RETURNED,
    STOPPED,
    TaskOutcome,
    TaskSpec,
    spec_args,
)
from scheduler.runtime.reporter import Reporter

__all__ = ["execute"]

_WRAPPERS = (
    os.path.abspath(__file__),
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "_decorator.py"),
)


def _traceback(exc: BaseException) -> str:
    """The traceback text, without the runtime's own leading frames."""
    info = tb.TracebackException.from_exception(exc)
    stack = list(info.stack)
    while stack and os.path.abspath(stack[0].filename) in _WRAPPERS:
        stack.pop(0)
    info.stack = tb.StackSummary.from_list(stack)
    return "".join(info.format())


def execute(
    train_fn: Callable[..., Any], spec: TaskSpec, send: Callable[[dict], Any]
) -> TaskOutcome:
    """Call ``train_fn(args, reporter)`` with a reporter whose decisions come from
    ``send(result) -> decision``. The nested configs in ``spec.args`` are built here,
    in the task's own process (a failure to build is the task's failure)."""
    reporter = Reporter(
        send,
        reward_attr=spec.reward_attr,
        time_attr=spec.time_attr,
        require_time=spec.require_time,
        checkpoint_dir=spec.checkpoint_dir,
    )
    try:
        value = train_fn(build_task_args(train_fn, spec_args(spec)), reporter)
    except TaskStopped:
        return TaskOutcome(STOPPED, num_reports=reporter.num_reports)
    except BaseException as exc:  # noqa: BLE001 - every failure becomes an outcome
        return TaskOutcome(
            RAISED,
            error=f"{type(exc).__name__}: {exc}",
            traceback=_traceback(exc),
            num_reports=reporter.num_reports,
        )
    return TaskOutcome(RETURNED, num_reports=reporter.num_reports, return_value=value)
