"""Build a searcher from its name and options (a scheduler's ``searcher``/``search_options``)."""

from __future__ import annotations

import inspect
from typing import Any

from scheduler.searchers.base import BaseSearcher
from scheduler.searchers.bayesopt import ConstrainedGPSearcher, GPMultiFidelitySearcher, GPSearcher
from scheduler.searchers.grid import GridSearcher
from scheduler.searchers.random import RandomSearcher

__all__ = ["CONSTRAINED_SEARCHERS", "SEARCHERS", "searcher_factory"]

#: Searcher classes by name. ``'bayesopt_hyperband'`` is what HyperbandScheduler builds
#: for ``searcher='bayesopt'`` (it passes the resource attribute, max_t and rung levels).
SEARCHERS: dict[str, type[BaseSearcher]] = {
    "bayesopt": GPSearcher,
    "bayesopt_constrained": ConstrainedGPSearcher,
    "bayesopt_hyperband": GPMultiFidelitySearcher,
    "grid": GridSearcher,
    "random": RandomSearcher,
}

#: Searchers that take ``constraint_attr`` (the schedulers' constrained BO).
CONSTRAINED_SEARCHERS = ("bayesopt_constrained",)


def searcher_factory(name: str, **kwargs: Any) -> BaseSearcher:
    """A new searcher: ``searcher_factory('random', space=space, random_seed=0)``.

    Parameters
    ----------
    name : {'random', 'grid', 'bayesopt', 'bayesopt_constrained', 'bayesopt_hyperband'}
        The searcher (case-insensitive).
    **kwargs
        The searcher's constructor arguments; ``space`` is required.

    Raises
    ------
    ValueError
        For an unknown name (listing the valid ones), an unknown option (listing the
        accepted ones) or a missing ``space``.
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in SEARCHERS:
        valid = ", ".join(repr(n) for n in sorted(SEARCHERS))
        raise ValueError(f"searcher must be one of {valid}, got {name!r}")
    cls = SEARCHERS[key]
    parameters = inspect.signature(cls).parameters
    unknown = sorted(set(kwargs) - set(parameters))
    if unknown:
        raise ValueError(
            f"{key!r} searcher: unknown option(s) {', '.join(map(repr, unknown))}; "
            f"accepted: {', '.join(map(repr, parameters))}"
        )
    if "space" not in kwargs:
        raise ValueError(f"{key!r} searcher: space is required, got options {sorted(kwargs)}")
    return cls(**kwargs)
