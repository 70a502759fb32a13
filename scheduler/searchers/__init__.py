"""Searchers: which config to evaluate next.

``RandomSearcher`` (uniform, no repeats), ``GridSearcher`` (every grid point) and the
Gaussian-process searchers of :mod:`scheduler.searchers.bayesopt` (``GPSearcher``,
``GPMultiFidelitySearcher``, ``ConstrainedGPSearcher``), all built on ``BaseSearcher``;
``searcher_factory(name, **options)`` builds one by name.
"""

from scheduler.searchers.base import DEFAULT_RANDOM_SEED, BaseSearcher
from scheduler.searchers.factory import CONSTRAINED_SEARCHERS, SEARCHERS, searcher_factory
from scheduler.searchers.grid import GridSearcher
from scheduler.searchers.random import RandomSearcher

__all__ = [
    "CONSTRAINED_SEARCHERS",
    "DEFAULT_RANDOM_SEED",
    "SEARCHERS",
    "BaseSearcher",
    "ConstrainedGPSearcher",
    "GPMultiFidelitySearcher",
    "GPSearcher",
    "GridSearcher",
    "RandomSearcher",
    "searcher_factory",
]


_BAYESOPT = ("ConstrainedGPSearcher", "GPMultiFidelitySearcher", "GPSearcher")


def __getattr__(name):
    # The GP searchers import scipy: only when first asked for.
    if name in _BAYESOPT:
        from scheduler.searchers import bayesopt

        return getattr(bayesopt, name)
    raise AttributeError(f"module 'scheduler.searchers' has no attribute {name!r}")
