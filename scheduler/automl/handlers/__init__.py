"""Handlers of engine events: MMARHandler (run folder, top-N job folders, stop
threshold, leaderboard, ``summary``), MMARStatsHandler (``automl_stats_log.json``),
StatsHandler (totals), ResultsHandler (``results.csv``, training curves)."""

from scheduler.automl.events import Handler
from scheduler.automl.handlers.mmar import MMARHandler, MMARSummary
from scheduler.automl.handlers.results import ResultsHandler
from scheduler.automl.handlers.stats import MMARStatsHandler, StatsHandler

__all__ = [
    "Handler",
    "MMARHandler",
    "MMARStatsHandler",
    "MMARSummary",
    "ResultsHandler",
    "StatsHandler",
]
