"""The decisions a scheduler sends back for a report, and the statuses a task ends
with: defined once for every layer.

Shared by the policies (which return them), the runtime (which carries them) and the
reporters (which act on them: return, or raise :class:`scheduler.TaskStopped`). Imports
nothing of ``scheduler``.
"""

from __future__ import annotations

import enum

__all__ = [
    "COMPLETE",
    "CONTINUE",
    "DECISIONS",
    "END_STATUSES",
    "PAUSE",
    "STOP",
    "TASK_STATUSES",
    "VALUE_OF",
    "Decision",
]


class Decision(str, enum.Enum):
    """What happens to a task after one of its reports (a ``str``: compares equal to
    its value, and travels as that string between processes)."""

    #: the task goes on
    CONTINUE = "continue"
    #: the task reached max_t: the reporter returns, the next report stops it
    COMPLETE = "complete"
    #: the task ends (its config is judged not worth continuing, or the run is ending)
    STOP = "stop"
    #: promotion-type Hyperband: the task ends, its config may be promoted later
    PAUSE = "pause"


#: every decision value, as plain strings
DECISIONS = tuple(d.value for d in Decision)

#: the members as plain module constants: ``Decision.CONTINUE`` goes through the enum
#: metaclass (about 0.2 us here), and hot paths read these instead
CONTINUE, COMPLETE, STOP, PAUSE = (
    Decision.CONTINUE,
    Decision.COMPLETE,
    Decision.STOP,
    Decision.PAUSE,
)
#: member -> its value (``.value`` is a descriptor; a dict lookup is cheaper)
VALUE_OF = {d: d.value for d in Decision}


#: a task's status: running, then how it ended. "interrupted": the driver stopped
#: while the task ran; on resume its config is started again as a new task
TASK_STATUSES = (
    "running",
    "completed",
    "stopped",
    "paused",
    "failed",
    "diverged",
    "interrupted",
)
END_STATUSES = TASK_STATUSES[1:]
