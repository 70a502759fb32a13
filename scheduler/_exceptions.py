"""Exceptions users see."""

from __future__ import annotations

__all__ = ["TaskStopped"]


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
