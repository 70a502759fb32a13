"""scheduler: asynchronous hyperparameter optimization.

FIFO, Hyperband (stopping and promotion, i.e. ASHA) and RL schedulers over one task/reporter
runtime, with the rung logic compiled in Cython (``scheduler._rungs``). The API follows
AutoGluon's ``core.scheduler``: decorate ``train_fn(args, reporter)`` with
:func:`scheduler.args`, build a scheduler, ``run()``, ``join_jobs()``. Programs run as
trials (:class:`scheduler.Command`) report with :func:`scheduler.report`. The spaces are
also at the top level, as in AutoGluon: ``scheduler.Real``, ``Int``, ``Categorical``,
``Bool``, ``Dict``, ``List``, and the ``obj`` / ``func`` decorators.

``scheduler.KERNEL_BACKEND`` tells which rung kernels are live: ``"cython"`` (the
compiled ``scheduler._rungs``) or ``"python"`` (the twins, with ``SCHEDULER_NO_EXTENSIONS=1``).

Every public name is imported on first use, so that ``import scheduler`` costs next to
nothing: a trial program that only calls ``scheduler.report(...)`` imports the standard
library and ``scheduler.trial``, never numpy or the schedulers.
"""

from __future__ import annotations

import importlib

# (the exceptions need only the standard library: imported at once)
from scheduler._exceptions import (
    CheckpointError,
    CheckpointInUseError,
    JournalError,
    TaskStopped,
    TrialsFailedError,
)

TYPE_CHECKING = False  # (not typing's: importing typing costs a trial program ~5 ms)

__version__ = "0.1.0"

__all__ = [
    "KERNEL_BACKEND",
    "Args",
    "Bool",
    "Categorical",
    "CheckpointError",
    "CheckpointInUseError",
    "Command",
    "Dict",
    "Evaluator",
    "FIFOScheduler",
    "HyperbandScheduler",
    "Int",
    "JournalError",
    "List",
    "RLScheduler",
    "Real",
    "Task",
    "TaskStopped",
    "TrialsFailedError",
    "args",
    "func",
    "load",
    "obj",
    "report",
    "save",
    "searchers",
    "space",
    "trial",
]

# public name -> (module, attribute or None for the module itself)
_LAZY = {
    "Args": ("scheduler._decorator", "Args"),
    "args": ("scheduler._decorator", "args"),
    "Command": ("scheduler._command", "Command"),
    "Evaluator": ("scheduler.facades", "Evaluator"),
    "FIFOScheduler": ("scheduler.facades", "FIFOScheduler"),
    "HyperbandScheduler": ("scheduler.facades", "HyperbandScheduler"),
    "RLScheduler": ("scheduler.facades", "RLScheduler"),
    "load": ("scheduler.durability.persist", "load"),
    "save": ("scheduler.durability.persist", "save"),
    "report": ("scheduler.trial", "report"),
    "searchers": ("scheduler.searchers", None),
    "space": ("scheduler.space", None),
    "trial": ("scheduler.trial", None),
    "KERNEL_BACKEND": ("scheduler.kernels", "BACKEND"),
    "Task": ("scheduler.facades", "Task"),
    # AutoGluon's top-level aliases of the spaces (ag.Real, ag.Categorical, ...)
    **{name: ("scheduler.space", name) for name in ("Bool", "Categorical", "Dict", "Int")},
    **{name: ("scheduler.space", name) for name in ("List", "Real", "func", "obj")},
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from typing import Any

    from scheduler import searchers, space, trial
    from scheduler._command import Command
    from scheduler._decorator import Args, args
    from scheduler.durability.persist import load, save
    from scheduler.facades import (
        Evaluator,
        FIFOScheduler,
        HyperbandScheduler,
        RLScheduler,
        Task,
    )
    from scheduler.space import Bool, Categorical, Dict, Int, List, Real, func, obj
    from scheduler.trial import report


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'scheduler' has no attribute {name!r}")
    module_name, attribute = target
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
