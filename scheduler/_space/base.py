"""The base of every search space: what a space answers about its configs.

A *space* describes the values of one (possibly nested) argument. Its *configs* are the
JSON data that pick one of those values (what the searchers propose, the journal
records and the results show); :meth:`Space.build` turns a config into the value the
training function receives (a float, a choice, a dict, a list, a constructed object).

Leaf spaces are :class:`~scheduler.space.Domain` s (``Real``, ``Int``, ``Categorical``,
``Bool``); nested ones are ``Dict``, ``List`` and the searchable objects of ``@obj`` and
``@func``; a ``Categorical`` may hold spaces among its choices.

Every space enumerates its leaf domains with :meth:`Space.leaves` as ``(path, domain)``
pairs, where a path is a tuple of dict keys (str) and list positions (int); the choices
of a ``Categorical`` that are spaces have their leaves under ``path + (i,)``, with ``i``
the choice's index. :meth:`Space.leaf_values` reads the value of each *active* leaf from
a config, and :meth:`Space.config_from_leaf_values` builds a config back from leaf
values (defaults for the leaves not given), which is all a vector encoding needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["Path", "Space", "at_path", "contains_space", "path_name"]

#: A leaf's position in a nested space: dict keys and list (or choice) indices.
Path = tuple


def path_name(path: Path) -> str:
    """A path as a dotted name: ``("opt", "lr")`` -> ``'opt.lr'``, ``("f", 0)`` -> ``'f.0'``."""
    return ".".join(str(part) for part in path)


def at_path(path: Path) -> str:
    """The start of an error message about the config at ``path``."""
    return f"config at {path_name(path)!r}: " if path else "config: "


class Space:
    """Something searchable. Subclasses: ``Domain`` (leaves), ``Dict``, ``List``, the
    searchable objects of ``@obj`` / ``@func``.

    Configs are JSON data (dicts with str keys, lists, str, int, float, bool, None), so
    they survive ``json.loads(json.dumps(config))`` unchanged.
    """

    # -- configs ---------------------------------------------------------------------

    def default_config(self) -> Any:
        """The config of the default value (the first one a searcher proposes)."""
        raise NotImplementedError

    def sample_config(self, rng: np.random.Generator) -> Any:
        """A config drawn at random (each leaf independently, in :meth:`leaves` order)."""
        raise NotImplementedError

    def normalize(self, config: Any, path: Path = ()) -> Any:
        """``config`` checked and in canonical form (numbers as float or int, a
        categorical choice in its config form); ValueError naming the path if ``config``
        is not a config of this space."""
        raise NotImplementedError

    def contains_config(self, config: Any) -> bool:
        """True when :meth:`normalize` accepts ``config``."""
        try:
            self.normalize(config)
        except (ValueError, TypeError):
            return False
        return True

    def build(self, config: Any) -> Any:
        """The value a task receives for ``config`` (objects constructed, choices
        resolved). A value that is not in config form is returned as it is, so that a
        value given directly (an override, or a value built already) passes through."""
        raise NotImplementedError

    # -- size and enumeration --------------------------------------------------------

    @property
    def size(self) -> int | None:
        """Number of configs, or None when there are infinitely many."""
        raise NotImplementedError

    def config_at(self, index: int) -> Any:
        """Config number ``index`` of a finite space (inverse of :meth:`config_index`)."""
        raise NotImplementedError

    def config_index(self, config: Any) -> int:
        """The position of a (normalized) config among the configs of a finite space."""
        raise NotImplementedError

    def grid_configs(self, num_points: int) -> list[Any]:
        """Configs for grid search: the product of the leaves' grids (see
        :meth:`Domain.grid`), the alternatives of a categorical one after the other."""
        raise NotImplementedError

    # -- leaves ------------------------------------------------------------------------

    def leaves(self, path: Path = ()) -> list[tuple[Path, Any]]:
        """Every leaf domain with its path, depth first (dict keys sorted)."""
        raise NotImplementedError

    def leaf_values(self, config: Any, path: Path = ()) -> dict[Path, Any]:
        """``{path: value}`` of the leaves that ``config`` uses (a categorical choice's
        leaves only when it is chosen); values are the domains' own values (a choice
        object for a Categorical), as :meth:`Domain.to_unit` takes them."""
        out: dict[Path, Any] = {}
        self._leaf_values(self.normalize(config, path), path, out)
        return out

    def _leaf_values(self, config: Any, path: Path, out: dict) -> None:
        raise NotImplementedError

    def config_from_leaf_values(self, values: Mapping[Path, Any], path: Path = ()) -> Any:
        """The config whose leaves take ``values`` (``{path: domain value}``); a leaf
        not in ``values`` takes its default."""
        raise NotImplementedError

    # -- identity ----------------------------------------------------------------------

    def fingerprint(self) -> dict[str, Any]:
        """A JSON-able description of the set of configs (defaults and constants left
        out unless they change which configs exist)."""
        raise NotImplementedError

    def _space_fingerprint(self) -> dict[str, Any]:
        # Read by scheduler._space._canonical.canonical: a space inside a value (a
        # categorical choice) is described by its fingerprint.
        return self.fingerprint()

    @property
    def needs_build(self) -> bool:
        """False when :meth:`build` returns every config unchanged (plain leaves)."""
        return True


def contains_space(value: Any, _depth: int = 0) -> bool:
    """True when ``value`` is a space, or a dict, list or tuple holding one (at any depth)."""
    if isinstance(value, Space):
        return True
    if _depth > 64:
        return False
    if isinstance(value, Mapping):
        return any(contains_space(v, _depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_space(v, _depth + 1) for v in value)
    return False
