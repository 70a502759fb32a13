"""DeepHyper's evaluator API (``deephyper.evaluator``) on the scheduler's runtime.

Code written for DeepHyper 0.3 runs after replacing ``deephyper.evaluator`` by
``scheduler.evaluator`` (and ``deephyper.evaluator.callback`` by
``scheduler.evaluator.callback``)::

    from scheduler.evaluator import Evaluator

    def run(config):
        return -(config["x"] - 0.3) ** 2

    with Evaluator.create(run, method="process", method_kwargs={"num_workers": 2}) as ev:
        ev.submit([{"x": 0.1}, {"x": 0.5}])
        for cfg, obj in ev.gather("ALL"):
            print(cfg, obj)
        ev.dump_evals(log_dir=".")

See :class:`Evaluator` for the methods, :class:`Job` for what a job holds, and
:mod:`scheduler.evaluator.callback` for the callbacks.
"""

from scheduler.facades._evaluator_callbacks import (
    Callback,
    LoggerCallback,
    ProfilingCallback,
    SearchEarlyStopping,
    SearchTerminationError,
)
from scheduler.facades._job import FAIL_RETURN_VALUE, Job, JobStatus
from scheduler.facades.evaluator import (
    Evaluator,
    ProcessPoolEvaluator,
    RayEvaluator,
    SerialEvaluator,
    SubprocessEvaluator,
    ThreadPoolEvaluator,
    methods,
)

__all__ = [
    "FAIL_RETURN_VALUE",
    "Callback",
    "Evaluator",
    "Job",
    "JobStatus",
    "LoggerCallback",
    "ProcessPoolEvaluator",
    "ProfilingCallback",
    "RayEvaluator",
    "SearchEarlyStopping",
    "SearchTerminationError",
    "SerialEvaluator",
    "SubprocessEvaluator",
    "ThreadPoolEvaluator",
    "methods",
]
