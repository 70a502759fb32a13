"""``scheduler.automl``: NVIDIA Clara Train's config-driven AutoML engine on our runtime.

The search space is written inside the training config itself (``search`` and
``apply`` annotations, :class:`SearchSpaceManager`); an :class:`Engine` runs jobs on
named workers that each own GPUs, as a controller (our searchers, the RL controller, a
whole Hyperband scheduler) recommends them; an executor runs each job (the
:class:`MMARExecutor` clones the template folder and runs its training command);
handlers see every event (:class:`MMARHandler`, :class:`MMARStatsHandler`,
:class:`ResultsHandler`); an admin channel lists, suspends, resumes and aborts workers
while the run goes on. The names are Clara's, so its ``config_automl.json`` and
template folders work unchanged. ``python -m scheduler.automl train -m DIR --set
run_id=R workers=0:0`` runs it from the command line.
"""

from scheduler.automl.admin_client import AdminClient, AdminError
from scheduler.automl.admin_server import (
    AdminServer,
    AutomlCommandModule,
    CommandError,
    start_admin,
)
from scheduler.automl.config import AutomlConfig, load_automl_config
from scheduler.automl.context import Context
from scheduler.automl.controllers import (
    Controller,
    HyperbandController,
    ReinforcementController,
    SearcherController,
)
from scheduler.automl.defs import (
    FAILED_SCORE,
    ContextKey,
    JobStatus,
    MMARPropKey,
    MMARStd,
    Outcome,
    Recommendation,
    SearchParam,
    SearchRange,
    SearchResult,
    SearchSpace,
)
from scheduler.automl.engine import Engine
from scheduler.automl.errors import EngineError, JobAborted, JobFailed
from scheduler.automl.events import EVENTS, EventType, Handler
from scheduler.automl.executors import Executor, MMARExecutor
from scheduler.automl.handlers import (
    MMARHandler,
    MMARStatsHandler,
    MMARSummary,
    ResultsHandler,
    StatsHandler,
)
from scheduler.automl.search_space import SearchSpaceManager, apply_search_result
from scheduler.automl.workers import WorkerConfig, WorkerPool, parse_workers

__all__ = [
    "EVENTS",
    "FAILED_SCORE",
    "AdminClient",
    "AdminError",
    "AdminServer",
    "AutomlCommandModule",
    "AutomlConfig",
    "CommandError",
    "Context",
    "ContextKey",
    "Controller",
    "Engine",
    "EngineError",
    "EventType",
    "Executor",
    "Handler",
    "HyperbandController",
    "JobAborted",
    "JobFailed",
    "JobStatus",
    "MMARExecutor",
    "MMARHandler",
    "MMARPropKey",
    "MMARStatsHandler",
    "MMARStd",
    "MMARSummary",
    "Outcome",
    "Recommendation",
    "ReinforcementController",
    "ResultsHandler",
    "SearchParam",
    "SearchRange",
    "SearchResult",
    "SearchSpace",
    "SearchSpaceManager",
    "SearcherController",
    "StatsHandler",
    "WorkerConfig",
    "WorkerPool",
    "apply_search_result",
    "load_automl_config",
    "parse_workers",
    "start_admin",
]
