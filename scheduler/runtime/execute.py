"""Runs one task's ``train_fn`` and turns whatever happens into a TaskOutcome.

Shared by the thread backend and the worker interpreters of the process and
subprocess backends. A traceback starts at the user's code (the frames of this module
and of the ``@args`` wrapper are dropped) and ``TaskOutcome.where`` names the user's
file and line that raised.
"""

from __future__ import annotations

import os
import sysconfig
import traceback as tb

from scheduler._exceptions import TaskStopped
from scheduler.runtime.backends.base import RAISED, RETURNED, STOPPED, TaskOutcome, TaskSpec
from scheduler.runtime.reporter import Reporter

__all__ = ["execute", "user_frame"]

# the folder holding the ``scheduler`` package's own files
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_WRAPPERS = (os.path.abspath(__file__), os.path.join(_PACKAGE, "_decorator.py"))
_LIBRARIES = tuple(
    {
        os.path.abspath(path) + os.sep
        for path in (sysconfig.get_paths().get(k) for k in ("stdlib", "purelib", "platlib"))
        if path
    }
)


def _ours(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE)


def user_frame(stack: tb.StackSummary) -> str | None:
    """``"file:line"`` of the innermost frame in the user's own code: outside this
    package, and outside the standard library and installed packages if any frame is."""
    candidates = [f for f in stack if not _ours(f.filename)]
    mine = [f for f in candidates if not os.path.abspath(f.filename).startswith(_LIBRARIES)]
    frames = mine or candidates
    if not frames:
        return None
    frame = frames[-1]
    return f"{frame.filename}:{frame.lineno}"


def _describe(exc: BaseException) -> tuple[str, str | None]:
    """(traceback text without the runtime's own leading frames, user frame)."""
    info = tb.TracebackException.from_exception(exc)
    stack = list(info.stack)
    while stack and os.path.abspath(stack[0].filename) in _WRAPPERS:
        stack.pop(0)
    info.stack = tb.StackSummary.from_list(stack)
    return "".join(info.format()), user_frame(info.stack)


def execute(train_fn, spec: TaskSpec, send) -> TaskOutcome:
    """Call ``train_fn(args, reporter)`` with a reporter whose decisions come from
    ``send(result) -> decision``."""
    reporter = Reporter(
        send,
        reward_attr=spec.reward_attr,
        time_attr=spec.time_attr,
        require_time=spec.require_time,
        checkpoint_dir=spec.checkpoint_dir,
    )
    try:
        os.makedirs(spec.checkpoint_dir, exist_ok=True)
        value = train_fn(spec.args, reporter)
    except TaskStopped:
        return TaskOutcome(STOPPED, num_reports=reporter.num_reports)
    except BaseException as exc:  # noqa: BLE001 - every failure becomes an outcome
        text, where = _describe(exc)
        return TaskOutcome(
            RAISED,
            error=f"{type(exc).__name__}: {exc}",
            traceback=text,
            num_reports=reporter.num_reports,
            where=where,
        )
    return TaskOutcome(RETURNED, num_reports=reporter.num_reports, return_value=value)
