"""A job of :class:`scheduler.Evaluator`: one call of the run function for one config."""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["FAIL_RETURN_VALUE", "Job", "JobStatus"]

#: the result of a failed job, and of a NaN or infinite one (DeepHyper 0.3's value: the
#: most negative float32)
FAIL_RETURN_VALUE = float(np.finfo(np.float32).min)
#: the result of a job cancelled by its timeout or by ``close()``
CANCELLED_RETURN_VALUE = "F_CANCELLED"


class JobStatus(enum.IntEnum):
    """Where a job is. READY: submitted, waiting for a worker; RUNNING: its run
    function was started; then one of DONE (it returned), FAILED (it raised, or its
    worker died) or CANCELLED (its timeout, or ``close()``)."""

    READY = 0
    RUNNING = 1
    DONE = 2
    FAILED = 3
    CANCELLED = 4


class Job:
    """One evaluation: ``run_function(config)``.

    Attributes
    ----------
    id : int
        1, 2, 3, ... in submission order.
    config : dict
        A copy of the submitted config, with ``"id"`` set to the job id (the run
        function sees it too, as in DeepHyper 0.3.3).
    run_function : callable
    status : JobStatus
        ``READY`` -> ``RUNNING`` -> ``DONE`` | ``FAILED`` | ``CANCELLED``.
    result
        What the run function returned, as JSON data (numpy scalars as Python numbers,
        tuples as lists); ``FAIL_RETURN_VALUE`` if it raised or returned NaN or an
        infinity; ``"F_CANCELLED"`` if cancelled. A dict result with an ``"objective"``
        key is unpacked: ``result`` is that objective, ``metadata`` the rest.
    metadata : dict
        The ``"metadata"`` (and any other entries) of a dict result; else empty.
    duration : float or None
        Seconds from the start to the end of the run function (not from submit to
        gather), measured where it ran. For a job that did not return (FAILED,
        CANCELLED): from the start of its task to its end, which includes the wait for
        its worker (an interpreter to start on ``subprocess``).
    elapsed_sec : float or None
        Seconds from the evaluator's creation to the end of the job.
    timestamp_submit, timestamp_start, timestamp_end, timestamp_gather : float or None
        When it was submitted, started, ended and gathered, in seconds since the
        evaluator's creation. ``timestamp_start`` is when the runtime started its task,
        and once the job returned, when its run function began (its end minus its
        duration).
    error, traceback : str or None
        Why a FAILED or CANCELLED job ended; the run function's traceback if it raised.
    gpu_ids : tuple of int
        The GPUs the job was given (``num_gpus_per_task``).

    ``cfg, obj = job`` gives the config without ``"id"`` and the result.
    """

    READY = JobStatus.READY
    RUNNING = JobStatus.RUNNING
    DONE = JobStatus.DONE
    FAILED = JobStatus.FAILED
    CANCELLED = JobStatus.CANCELLED

    def __init__(self, id: int, config: dict, run_function: Callable[..., Any]) -> None:  # noqa: A002 - the seed's name
        self.id = id
        self.config = config
        self.run_function = run_function
        self.status = JobStatus.READY
        self.result: Any = None
        self.metadata: dict = {}
        self.duration: float | None = None
        self.elapsed_sec: float | None = None
        self.timestamp_submit: float | None = None
        self.timestamp_start: float | None = None
        self.timestamp_end: float | None = None
        self.timestamp_gather: float | None = None
        self.error: str | None = None
        self.traceback: str | None = None
        self.gpu_ids: tuple[int, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status >= JobStatus.DONE

    def __getitem__(self, index):
        config = copy.deepcopy(self.config)
        config.pop("id", None)
        return (config, self.result)[index]

    def __iter__(self):
        return iter((self[0], self.result))

    def __repr__(self) -> str:
        return f"Job(id={self.id}, status={self.status.name}, result={self.result!r})"
