"""Searchers: which config to evaluate next.

``RandomSearcher`` (uniform, no repeats) and ``GridSearcher`` (every grid point), both
built on ``BaseSearcher``; ``searcher_factory(name, **options)`` builds one by name.
"""

from scheduler.searchers.base import DEFAULT_RANDOM_SEED, BaseSearcher
from scheduler.searchers.factory import SEARCHERS, searcher_factory
from scheduler.searchers.grid import GridSearcher
from scheduler.searchers.random import RandomSearcher

__all__ = [
    "DEFAULT_RANDOM_SEED",
    "SEARCHERS",
    "BaseSearcher",
    "GridSearcher",
    "RandomSearcher",
    "searcher_factory",
]
