"""A plain function as a task: ``run_function(config, **kwargs) -> result``.

:class:`FunctionTask` is the ``train_fn`` the runtime runs for :class:`scheduler.Evaluator`
jobs. It calls the function once and hands its result to the runtime in one report, so
a result travels the same way on every backend (a direct call on threads, a message
from a worker process, an actor's return value on Ray):

* ``output``: the result as plain JSON data (:func:`scheduler._jsonable.to_jsonable`:
  numpy scalars become Python numbers, tuples lists; NaN stays NaN);
* ``objective``: the number the runtime checks (its ``reward_attr``): the result itself
  when it is a real number, the ``"objective"`` entry of a dict result when that is
  one, else 0.0 (strings, lists, None, booleans: the result is in ``output``). A NaN or
  infinite one ends the task as ``diverged``, which the evaluator turns into
  ``FAIL_RETURN_VALUE``;
* ``duration``: seconds the call took, measured where it ran;
* ``gpu_ids``: the task's GPU ids as the backend gave them (Ray assigns them on the
  node).

``args`` is the task's :class:`~scheduler._decorator.Args` (what every backend reads:
``config_id``, ``gpu_ids``, ...) with the job's config as ``args.config``; see
:func:`function_args`.

An exception from the function is not caught: the task fails with its traceback, like
any failing ``train_fn``. Picklable (cloudpickle ships the function by value when it is
not importable by name), and this module imports only what a worker already has.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from scheduler._decorator import Args
from scheduler._jsonable import to_jsonable
from scheduler._validation import is_real

__all__ = [
    "DURATION_KEY",
    "GPU_IDS_KEY",
    "OBJECTIVE_KEY",
    "OUTPUT_KEY",
    "FunctionTask",
    "function_args",
    "objective_number",
]

#: keys of the one report a FunctionTask makes
OBJECTIVE_KEY = "objective"
OUTPUT_KEY = "output"
DURATION_KEY = "duration"
GPU_IDS_KEY = "gpu_ids"


def function_args(config: dict, *, task_id: int, config_id: int, gpu_ids: Iterable[int]) -> Args:
    """The ``args`` of one FunctionTask: the task fields every backend reads, and the
    config (not copied: the caller passes the task's own copy)."""
    return Args(
        config=config,
        task_id=task_id,
        config_id=config_id,
        scheduler=Args(resume_from=None),
        gpu_ids=[int(g) for g in gpu_ids],
    )


def objective_number(output: Any) -> float:
    """The number the runtime checks for a result (see the module docstring)."""
    value = output.get("objective") if isinstance(output, dict) else output
    if is_real(value):
        return float(value)
    return 0.0


class FunctionTask:
    """``train_fn(args, reporter)`` that runs ``run_function(args.config, **kwargs)`` once.

    Parameters
    ----------
    run_function : callable
        ``run_function(config, **kwargs) -> result``.
    kwargs : dict, optional
        Extra keyword arguments for every call.
    """

    def __init__(self, run_function: Callable[..., Any], kwargs: dict | None = None):
        if not callable(run_function):
            raise TypeError(f"run_function must be callable, got {run_function!r}")
        self.run_function = run_function
        self.kwargs = dict(kwargs or {})

    def __call__(self, args: Args, reporter: Callable[..., object]) -> None:
        start = time.perf_counter()
        value = self.run_function(args.config, **self.kwargs)
        duration = time.perf_counter() - start
        output = to_jsonable(value)
        reporter(
            **{
                OBJECTIVE_KEY: objective_number(output),
                OUTPUT_KEY: output,
                DURATION_KEY: duration,
                GPU_IDS_KEY: list(args.gpu_ids),
            }
        )

    def __repr__(self) -> str:
        name = getattr(self.run_function, "__qualname__", repr(self.run_function))
        return f"FunctionTask({name})"
