"""scheduler: asynchronous hyperparameter optimization.

FIFO, Hyperband (stopping and promotion, i.e. ASHA) and RL schedulers over one task/reporter
runtime, with the rung logic compiled in Cython (``scheduler._rungs``). The API follows
AutoGluon's ``core.scheduler``: decorate ``train_fn(args, reporter)`` with
:func:`scheduler.args`, build a scheduler, ``run()``, ``join_jobs()``.

``scheduler.KERNEL_BACKEND`` tells which rung kernels are live: ``"cython"`` (the
compiled ``scheduler._rungs``) or ``"python"`` (the twins, with ``SCHEDULER_NO_EXTENSIONS=1``).
"""

from scheduler import searchers, space
from scheduler._decorator import Args, args
from scheduler._exceptions import (
    CheckpointError,
    CheckpointInUseError,
    JournalError,
    TaskStopped,
    TrialsFailedError,
)
from scheduler.durability.persist import load, save
from scheduler.facades import FIFOScheduler, HyperbandScheduler, RLScheduler

__version__ = "0.1.0"

__all__ = [
    "KERNEL_BACKEND",
    "Args",
    "CheckpointError",
    "CheckpointInUseError",
    "FIFOScheduler",
    "HyperbandScheduler",
    "JournalError",
    "RLScheduler",
    "TaskStopped",
    "TrialsFailedError",
    "args",
    "load",
    "save",
    "searchers",
    "space",
]


def __getattr__(name):
    # Imported on first use: FIFO does not need the rung kernels.
    if name == "KERNEL_BACKEND":
        from scheduler.kernels import BACKEND

        return BACKEND
    raise AttributeError(f"module 'scheduler' has no attribute {name!r}")
