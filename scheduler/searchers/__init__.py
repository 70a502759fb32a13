"""The policy layer (searchers): which config to evaluate next, learned from results.

``RandomSearcher`` (uniform, no repeats), ``GridSearcher`` (every grid point) and the
Gaussian-process searchers of :mod:`scheduler.searchers.bayesopt` (``GPSearcher``,
``GPMultiFidelitySearcher``, ``ConstrainedGPSearcher``), all built on ``BaseSearcher``;
``searcher_factory(name, **options)`` builds one by name; ``rl/`` is the RL scheduler's
LSTM controller, a ``BaseSearcher`` too. Searchers are policy: driven from one thread of
the runtime, they own no threads and do no I/O, and their state is JSON (RUNTIME.md,
"Searchers").

May import the kernels and the shared modules at the package root (``space``,
``_validation``); never the schedulers, the runtime, durability, results or a facade,
and no thread, process or I/O module (checked by import-linter).
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
