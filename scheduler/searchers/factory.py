"""Build a searcher from its name and options (a scheduler's ``searcher``/``search_options``)."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator, Mapping
from typing import Any

from scheduler.searchers.base import BaseSearcher
from scheduler.searchers.grid import GridSearcher
from scheduler.searchers.random import RandomSearcher

__all__ = ["CONSTRAINED_SEARCHERS", "SEARCHERS", "searcher_factory"]


class _Registry(Mapping):
    """Searcher classes by name; a class given as ``"module:Name"`` is imported on first
    use (the bayesopt searchers need scipy, which a process worker or a script that
    only uses random search should not pay a second of importing for)."""

    def __init__(self, entries: dict[str, Any]):
        self._entries = dict(entries)

    def __getitem__(self, name: str) -> type[BaseSearcher]:
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            entry = getattr(importlib.import_module(module), attr)
            self._entries[name] = entry
        return entry

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


#: Searcher classes by name. ``'bayesopt_hyperband'`` is what HyperbandScheduler builds
#: for ``searcher='bayesopt'`` (it passes the resource attribute, max_t and rung levels).
SEARCHERS: Mapping[str, type[BaseSearcher]] = _Registry(
    {
        "bayesopt": "scheduler.searchers.bayesopt.searcher:GPSearcher",
        "bayesopt_constrained": "scheduler.searchers.bayesopt.constrained:ConstrainedGPSearcher",
        "bayesopt_hyperband": "scheduler.searchers.bayesopt.multifidelity:GPMultiFidelitySearcher",
        "grid": GridSearcher,
        "random": RandomSearcher,
    }
)

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
