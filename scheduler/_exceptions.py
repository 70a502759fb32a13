"""Exceptions users see (all exported by :mod:`scheduler`)."""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "CheckpointInUseError",
    "JournalError",
    "TaskStopped",
    "TrialsFailedError",
]


class TaskStopped(BaseException):
    """Raised by ``reporter(...)`` inside ``train_fn`` when the scheduler ends the task.

    The scheduler stops a task that it judges not worth continuing, pauses one in
    promotion-type Hyperband (it may be resumed later as a new task), and stops running
    tasks at ``time_out`` or on shutdown. It derives from :class:`BaseException`, not
    :class:`Exception`, so that ``except Exception`` blocks in user code do not swallow
    it; let it propagate (``try/finally`` for clean-up is fine).

    Attributes
    ----------
    decision : str
        ``"stop"`` or ``"pause"``.
    """

    def __init__(self, decision: str = "stop", message: str | None = None):
        self.decision = decision
        super().__init__(message or f"task ended by the scheduler (decision: {decision})")


class CheckpointError(OSError):
    """A run's own files could not be written (journal, snapshot, results files, a
    checkpoint or log folder): the run was ended cleanly at that point. The message
    names the operation and the path; what was acknowledged before is on disk, and a
    checkpointed run can be resumed once the cause is fixed."""


class CheckpointInUseError(CheckpointError):
    """Another live driver holds the checkpoint's lock (one driver per checkpoint)."""


class JournalError(ValueError):
    """A checkpoint that cannot be resumed from: damaged (a gap, a cut, a checksum
    mismatch, undecodable bytes, a field of the wrong type) or written by a different
    setup. The message names the file, the line and the field."""


class TrialsFailedError(RuntimeError):
    """The run was stopped early because its first trials all failed the same way
    (``fail_fast``). ``reason`` is the shared failure reason, ``traceback`` the first
    failed trial's traceback (or None)."""

    def __init__(self, message: str, reason: str, traceback: str | None = None):
        super().__init__(message)
        self.reason = reason
        self.traceback = traceback
