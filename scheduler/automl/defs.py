"""The values that cross the AutoML engine's components (Clara's ``automl.defs``).

- :class:`SearchRange`, :class:`SearchParam`, :class:`SearchSpace`: what the executor
  found in the training config. ``SearchSpace.targets`` maps each PRL (the key of one
  search range) to a list of ranges: one ``SearchRange(min, max)`` for a float, one
  ``SearchRange(i, i)`` per choice ``i`` of an enum.
- :class:`SearchResult`: one point of the space, ``{prl: float value or choice index}``.
- :class:`Recommendation`: a search result the controller wants run, with its id.
- :class:`Outcome`: what became of a recommendation's job (score, status, job name).
- :class:`ContextKey`, :class:`MMARPropKey`: the names of context properties;
  :class:`MMARStd`: Clara's standard MMAR folder and file names.
- :class:`JobStatus`: how a job ended; :data:`FAILED_SCORE` (-1e6) is the score of a
  job that produced none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scheduler import space as sch_space
from scheduler._validation import is_integer, is_real

__all__ = [
    "FAILED_SCORE",
    "ContextKey",
    "JobStatus",
    "MMARPropKey",
    "MMARStd",
    "Outcome",
    "Recommendation",
    "SearchParam",
    "SearchRange",
    "SearchResult",
    "SearchSpace",
]

#: The score of a job that ended without one (failed, aborted, no stats file), as in Clara.
FAILED_SCORE = -1e6


class ContextKey:
    """Names of the properties the engine puts in a :class:`~scheduler.automl.Context`."""

    #: the :class:`SearchSpace` (main context, from ``search_space_available`` on)
    SEARCH_SPACE = "_searchSpace"
    #: the list of new :class:`Recommendation` (main context, ``recommendations_available``)
    RECOMMENDATIONS = "_recommendations"
    #: the engine itself (main context)
    ENGINE = "_engine"
    #: the list of :class:`~scheduler.automl.WorkerConfig` (main context)
    WORKERS = "_workers"
    #: the number of workers (main context)
    NUM_WORKERS = "_numWorkers"
    #: the runtime's :class:`scheduler.results.history.History` (main context; read it
    #: once the run has ended, e.g. in ``end_automl``)
    HISTORY = "_history"
    #: the stop reason, once the run is stopping or over (main context)
    STOP_REASON = "_stopReason"
    # -- job contexts --------------------------------------------------------------
    JOB_NAME = "_jobName"
    #: the job's :class:`Recommendation`
    RECOMMENDATION = "_recommendation"
    #: ``{prl: [concrete value, one per arg]}`` of the job's recommendation
    CONCRETE_SEARCH_VALUE = "_concreteSearchValue"
    #: the name of the job's worker, its GPU ids (list) and their comma string
    WORKER_NAME = "_workerName"
    GPUS = "_gpus"
    GPU_STRING = "_gpuString"
    #: a :class:`JobStatus` value, set before ``end_job``
    JOB_STATUS = "_jobStatus"
    #: the job's score (``FAILED_SCORE`` when it produced none), set before ``end_job``
    SCORE = "_score"
    #: why the job failed or was aborted (None otherwise), set before ``end_job``
    JOB_REASON = "_jobReason"
    #: ``time.time()`` when the job started / ended
    JOB_START_TIME = "_jobStartTime"
    JOB_END_TIME = "_jobEndTime"
    #: global job number j (1, 2, ...) and the runtime's task id
    JOB_ID = "_jobId"
    TASK_ID = "_taskId"
    #: ``report(**result)``: send an intermediate result (e.g. per epoch) to the engine;
    #: returns normally or raises :class:`scheduler.TaskStopped` (stop or pause)
    REPORT = "_report"
    #: the reports the job sent, in order (list of dicts)
    JOB_REPORTS = "_jobReports"
    #: the runtime's id of the job's config (stable across pauses and promotions)
    CONFIG_ID = "_configId"
    #: a folder per recommended config that survives pauses (promotion-type Hyperband)
    CHECKPOINT_DIR = "_checkpointDir"
    #: the epoch a promoted config resumes from (None for a fresh start)
    RESUME_FROM = "_resumeFrom"
    #: True once the engine asked the executor to abort the job
    ABORT_REQUESTED = "_abortRequested"


class MMARPropKey:
    """Context property names of the MMAR components (Clara's values)."""

    AUTOML_ROOT = "_automlRoot"
    EXEC_SUBPROCESS = "_execSubprocess"
    JOB_MMAR_ROOT = "_jobMmarRoot"
    JOB_START_TIME = "_mmarJobStart"
    MMAR_ROOT = "_mmarRoot"
    MMAR_TRACE = "_mmarTrace"
    MMAR_TRAIN_STATS = "_mmarTrainStats"
    RUN_ID = "_runId"
    RUN_ROOT = "_runRoot"
    TEMP_MMAR_ROOT = "_tempMmarRoot"
    TRAIN_CONFIG_FILE = "_trainConfigFile"
    #: the parsed training config (set by the MMAR executor's ``determine_search_space``)
    TRAIN_CONFIG = "_trainConfig"


class MMARStd:
    """Standard MMAR folder and file names (Clara's)."""

    AUTOML_CONFIG = "config_automl.json"
    AUTOML_DIR = "automl"
    AUTOML_STATS_FILE = "automl_stats_log.json"
    COMMAND_DIR = "commands"
    CONFIG_DIR = "config"
    ENV_CONFIG = "environment.json"
    EVAL_DIR = "eval"
    LOG_CONFIG = "resources/log.config"
    LOG_FILE = "log.txt"
    MODELS_DIR = "models"
    SCORE_KEY = "best_validation_metric"
    TRACE_FILE = "trace.txt"
    TRAIN_CONFIG = "config_train.json"
    TRAIN_ROUND_CMD = "automl_train_round.sh"
    TRAIN_STATS = "train_stats.json"
    #: ours: the admin channel's port and token (mode 0600), in the run folder
    ADMIN_FILE = "admin.json"
    #: ours: the finished jobs by score, in the run folder
    LEADERBOARD_FILE = "leaderboard.csv"


class JobStatus:
    """How a job ended (the value of ``ContextKey.JOB_STATUS``)."""

    #: the executor returned a score
    COMPLETED = "completed"
    #: the executor raised (a non-zero exit, no stats file, an exception)
    FAILED = "failed"
    #: the engine aborted it (``abort_worker``, ``max_job_run_time``, a stop of the run)
    ABORTED = "aborted"
    #: a Hyperband controller stopped it at a rung (its last report is its score)
    STOPPED = "stopped"
    #: a promotion-type Hyperband controller paused it at a rung
    PAUSED = "paused"

    ALL = (COMPLETED, FAILED, ABORTED, STOPPED, PAUSED)
    #: statuses whose score is a real result
    SCORED = (COMPLETED, STOPPED, PAUSED)


@dataclass(frozen=True)
class SearchRange:
    """One range of a search target: ``[min, max]`` for a float, ``min == max == i``
    for choice ``i`` of an enum."""

    min: float
    max: float


@dataclass(frozen=True)
class SearchParam:
    """Everything known about one searched parameter (one ``search`` item).

    Attributes
    ----------
    prl : str
        Its key, ``"<domain>.<type>.<location>"``.
    domain, type : str
        The item's ``domain`` label and ``"float"`` or ``"enum"``.
    args : tuple of str
        The args it sets, as written (``"prob#p1"``, ``"@disabled"``).
    path : str
        The JSON path of the item (``$.train.model.search[0]``).
    min, max : float or None
        A float's bounds.
    choices : tuple of tuple or None
        An enum's choices, each with one value per arg.
    log : bool
        Whether the float is searched on a log scale (domain ``lr`` with ``min > 0``).
    """

    prl: str
    domain: str
    type: str
    args: tuple[str, ...]
    path: str
    min: float | None = None
    max: float | None = None
    choices: tuple[tuple[Any, ...], ...] | None = None
    log: bool = False

    def _bounds(self) -> tuple[float, float]:
        """A float's ``(min, max)``."""
        if self.min is None or self.max is None:
            raise ValueError(f"float search param {self.prl!r} has no min and max")
        return self.min, self.max

    def _choices(self) -> tuple[tuple[Any, ...], ...]:
        """An enum's choices."""
        if self.choices is None:
            raise ValueError(f"enum search param {self.prl!r} has no choices")
        return self.choices

    def ranges(self) -> list[SearchRange]:
        if self.type == "float":
            return [SearchRange(*self._bounds())]
        return [SearchRange(i, i) for i in range(len(self._choices()))]

    def domain_of(self) -> sch_space.Domain:
        """The :mod:`scheduler.space` domain: ``Real`` or ``Categorical`` of indexes."""
        if self.type == "float":
            low, high = self._bounds()
            return sch_space.Real(low, high, log=self.log)
        return sch_space.Categorical(*range(len(self._choices())))

    def concrete(self, value: Any) -> list[Any]:
        """The values written to the args for a search value (one per arg)."""
        if self.type == "float":
            return [value] * len(self.args)
        return list(self._choices()[value])

    def check_value(self, value: Any) -> Any:
        """``value`` if it is a valid search value of this param, else ``ValueError``."""
        if self.type == "float":
            low, high = self._bounds()
            if not is_real(value) or not math.isfinite(value) or not low <= value <= high:
                raise ValueError(
                    f"search result for {self.prl!r} must be a number in "
                    f"[{self.min!r}, {self.max!r}], got {value!r}"
                )
            return float(value)
        n = len(self._choices())
        if not is_integer(value) or not 0 <= value < n:
            raise ValueError(
                f"search result for {self.prl!r} must be a choice index in [0, {n}), got {value!r}"
            )
        return int(value)

    def to_json(self) -> dict:
        data: dict[str, Any] = {
            "prl": self.prl,
            "domain": self.domain,
            "type": self.type,
            "args": list(self.args),
            "path": self.path,
        }
        if self.type == "float":
            data.update(min=self.min, max=self.max, log=self.log)
        else:
            data["choices"] = [list(choice) for choice in self._choices()]
        return data


class SearchSpace:
    """The search space of a training config.

    Parameters
    ----------
    name : str
        Where it comes from (the config's location).
    params : list of SearchParam
        The searched parameters, in the order they appear in the config.

    Attributes
    ----------
    targets : dict
        ``{prl: [SearchRange, ...]}`` (Clara's attribute).
    params : dict
        ``{prl: SearchParam}``.
    """

    def __init__(self, name: str, params: list[SearchParam]):
        self.name = name
        self.params: dict[str, SearchParam] = {}
        for param in params:
            if param.prl in self.params:
                raise ValueError(f"SearchSpace: PRL {param.prl!r} appears twice")
            self.params[param.prl] = param
        self.targets: dict[str, list[SearchRange]] = {
            prl: param.ranges() for prl, param in self.params.items()
        }

    @property
    def prls(self) -> list[str]:
        return list(self.params)

    @property
    def enum_only(self) -> bool:
        """True when every parameter is an enum (the space is finite)."""
        return bool(self.params) and all(p.type == "enum" for p in self.params.values())

    def to_space(self) -> sch_space.SearchSpace:
        """The same space as a :class:`scheduler.space.SearchSpace` over PRL names:
        floats are ``Real``, enums ``Categorical`` of their choice indexes."""
        return sch_space.SearchSpace({prl: p.domain_of() for prl, p in self.params.items()})

    def check_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A validated copy of ``{prl: value}``: every PRL present, each value valid."""
        if not isinstance(values, Mapping):
            raise ValueError(f"search result values must be a dict of PRL -> value, got {values!r}")
        unknown = sorted(set(values) - set(self.params))
        if unknown:
            raise ValueError(
                f"search result has unknown PRL(s) {unknown}; the space has {self.prls}"
            )
        missing = [prl for prl in self.params if prl not in values]
        if missing:
            raise ValueError(f"search result lacks a value for PRL(s) {missing}")
        return {prl: self.params[prl].check_value(values[prl]) for prl in self.params}

    def to_json(self) -> dict:
        return {"name": self.name, "params": [p.to_json() for p in self.params.values()]}

    def __len__(self) -> int:
        return len(self.params)

    def __repr__(self) -> str:
        return f"SearchSpace({self.name!r}, {self.prls})"


@dataclass(frozen=True)
class SearchResult:
    """One point of a search space: ``values`` maps PRL to a float or a choice index."""

    space: SearchSpace | None
    values: dict[str, Any]

    def __post_init__(self):
        if self.space is not None:
            object.__setattr__(self, "values", self.space.check_values(self.values))
        elif not isinstance(self.values, Mapping):
            raise ValueError(f"SearchResult.values must be a dict, got {self.values!r}")


@dataclass(frozen=True)
class Recommendation:
    """A search result to run.

    ``suggestion`` is set by controllers that drive a scheduler policy themselves (the
    Hyperband controller): the runtime then starts exactly that task (a promotion keeps
    its config id and resumes from its level).
    """

    rec_id: int
    search_result: SearchResult
    suggestion: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class Outcome:
    """What became of a recommendation: given to ``refine_recommendation``."""

    recommendation_id: int
    score: float
    job_name: str
    status: str
    recommendation: Recommendation | None = None
    worker: str | None = None
    reason: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    reports: tuple = ()

    @property
    def succeeded(self) -> bool:
        """Whether the score is a real result (completed, or stopped/paused at a rung)."""
        return self.status in JobStatus.SCORED and math.isfinite(self.score)
