"""Nested spaces: :class:`Dict` and :class:`List` of spaces and constants.

``Dict(lr=Real(1e-4, 1e-1, log=True), momentum=0.9)`` searches the ``lr`` entry and keeps
``momentum``; a task gets an :class:`~scheduler.Args` (a dict with attribute access:
``args.opt.lr``, ``args.opt['lr']``). ``List(Int(1, 4), Categorical(16, 32))`` gets a
list. They nest to any depth. A plain dict, list or tuple that holds a space anywhere
inside is read as a ``Dict`` / ``List`` (:func:`to_space`), so
``@args(opt=dict(lr=Real(...)))`` searches ``opt.lr``.

Configs: a ``Dict``'s is a dict over its searchable keys (sorted), a ``List``'s is a
list with one entry per element, ``None`` for the elements that are constants.
Constants are not part of configs.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from scheduler._args import Args
from scheduler._space.base import Path, Space, at_path, contains_space

__all__ = ["Dict", "List", "to_space"]


def to_space(value: Any) -> Any:
    """``value`` itself if it is a space or holds none; else the ``Dict`` (for a mapping)
    or ``List`` (for a list or tuple) of it."""
    if isinstance(value, Space) or not contains_space(value):
        return value
    if isinstance(value, Mapping):
        return Dict(value)
    return List(*value, _as_tuple=isinstance(value, tuple))


def _copy(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001 - locks, open files, ...: share the object
        return value


# -- products of spaces: shared by Dict, List, searchable objects and SearchSpace ---------


def product_size(spaces: list[Space]) -> int | None:
    sizes = [space.size for space in spaces]
    return None if None in sizes else math.prod(sizes)  # type: ignore[arg-type]


def product_at(spaces: list[Space], index: int) -> list[Any]:
    """Configs of ``spaces`` at mixed-radix ``index`` (the last space varies fastest)."""
    size = product_size(spaces)
    if size is None:
        raise TypeError("config_at needs a finite search space, this one is infinite")
    if not 0 <= index < size:
        raise ValueError(f"index must be within [0, {size}), got {index!r}")
    configs: list[Any] = []
    for space in reversed(spaces):
        index, position = divmod(index, space.size)  # type: ignore[operator]
        configs.append(space.config_at(position))
    configs.reverse()
    return configs


def product_index(spaces: list[Space], configs: list[Any]) -> int:
    index = 0
    for space, config in zip(spaces, configs):
        index = index * space.size + space.config_index(config)  # type: ignore[operator]
    return index


def product_grid(spaces: list[Space], num_points: int) -> list[list[Any]]:
    return [
        list(combo) for combo in itertools.product(*(s.grid_configs(num_points) for s in spaces))
    ]


class Dict(Space):
    """A dict whose values may be spaces: ``Dict(lr=Real(0.01, 0.1), momentum=0.9)``.

    Parameters
    ----------
    mapping : mapping, optional
        Entries (spaces or constants); keyword arguments add more.

    A task gets an :class:`~scheduler.Args` in the given key order (searched entries
    built, constants deep-copied); the config is ``{key: config}`` over the searched
    keys, sorted.
    """

    def __init__(self, mapping: Mapping[str, Any] | None = None, /, **kwargs: Any):
        if mapping is not None and not isinstance(mapping, Mapping):
            raise ValueError(f"Dict: mapping must be a dict of entries, got {mapping!r}")
        entries = {**(mapping or {}), **kwargs}
        for key in entries:
            if not isinstance(key, str) or not key:
                raise ValueError(f"Dict: keys must be non-empty strings, got {key!r}")
        self._entries = {key: to_space(value) for key, value in entries.items()}
        self._spaces = {k: v for k, v in sorted(self._entries.items()) if isinstance(v, Space)}
        self._keys = tuple(self._spaces)
        self._nodes = list(self._spaces.values())

    @property
    def data(self) -> dict[str, Any]:
        """The entries as given (spaces and constants), a new dict."""
        return dict(self._entries)

    @property
    def kwspaces(self) -> dict[str, Space]:
        """The searched entries (AutoGluon's name)."""
        return dict(self._spaces)

    def __getitem__(self, key: str) -> Any:
        return self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self):
        return iter(self._entries)

    def default_config(self) -> dict[str, Any]:
        return {key: space.default_config() for key, space in self._spaces.items()}

    def sample_config(self, rng: np.random.Generator) -> dict[str, Any]:
        return {key: space.sample_config(rng) for key, space in self._spaces.items()}

    def normalize(self, config: Any, path: Path = ()) -> dict[str, Any]:
        if not isinstance(config, Mapping):
            raise ValueError(f"{at_path(path)}a Dict's config must be a dict, got {config!r}")
        missing = [key for key in self._keys if key not in config]
        extra = sorted(str(key) for key in config if key not in self._spaces)
        if missing or extra:
            raise ValueError(
                f"{at_path(path)}a Dict's config must have the keys {list(self._keys)}, "
                f"got {sorted(map(str, config))}"
            )
        return {
            key: space.normalize(config[key], (*path, key)) for key, space in self._spaces.items()
        }

    def build(self, config: Any) -> Any:
        if not isinstance(config, Mapping):
            return config  # built already, or given directly
        built = Args()
        for key, entry in self._entries.items():
            if isinstance(entry, Space):
                built[key] = entry.build(config[key] if key in config else entry.default_config())
            else:
                built[key] = _copy(entry)
        for key, value in config.items():
            if key not in self._entries:
                built[key] = value
        return built

    @property
    def size(self) -> int | None:
        return product_size(self._nodes)

    def config_at(self, index: int) -> dict[str, Any]:
        return dict(zip(self._keys, product_at(self._nodes, index)))

    def config_index(self, config: Any) -> int:
        return product_index(self._nodes, [config[key] for key in self._keys])

    def grid_configs(self, num_points: int) -> list[Any]:
        return [dict(zip(self._keys, combo)) for combo in product_grid(self._nodes, num_points)]

    def leaves(self, path: Path = ()) -> list[tuple[Path, Any]]:
        out: list[tuple[Path, Any]] = []
        for key, space in self._spaces.items():
            out += space.leaves((*path, key))
        return out

    def _leaf_values(self, config: Any, path: Path, out: dict) -> None:
        for key, space in self._spaces.items():
            space._leaf_values(config[key], (*path, key), out)

    def config_from_leaf_values(self, values: Mapping[Path, Any], path: Path = ()) -> Any:
        return {
            key: space.config_from_leaf_values(values, (*path, key))
            for key, space in self._spaces.items()
        }

    def fingerprint(self) -> dict[str, Any]:
        return {"type": "Dict", "entries": {k: s.fingerprint() for k, s in self._spaces.items()}}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dict):
            return NotImplemented
        return self.fingerprint() == other.fingerprint()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Dict({', '.join(f'{k}={v!r}' for k, v in self._entries.items())})"


class List(Space):
    """A list whose elements may be spaces: ``List(Int(1, 4), Categorical(16, 32))``.

    A task gets a list (a tuple if the space was made from a tuple); the config is a
    list with one entry per element, ``None`` for constant elements.
    """

    def __init__(self, *data: Any, _as_tuple: bool = False):
        self._entries = [to_space(value) for value in data]
        self._as_tuple = bool(_as_tuple)
        self._positions = [i for i, e in enumerate(self._entries) if isinstance(e, Space)]
        self._nodes = [self._entries[i] for i in self._positions]

    @property
    def data(self) -> list[Any]:
        """The elements as given (spaces and constants), a new list."""
        return list(self._entries)

    def __getitem__(self, index: int) -> Any:
        return self._entries[index]

    def __len__(self) -> int:
        return len(self._entries)

    def _config(self, parts: list[Any]) -> list[Any]:
        out: list[Any] = [None] * len(self._entries)
        for position, part in zip(self._positions, parts):
            out[position] = part
        return out

    def default_config(self) -> list[Any]:
        return self._config([space.default_config() for space in self._nodes])

    def sample_config(self, rng: np.random.Generator) -> list[Any]:
        return self._config([space.sample_config(rng) for space in self._nodes])

    def normalize(self, config: Any, path: Path = ()) -> list[Any]:
        if not isinstance(config, (list, tuple)) or len(config) != len(self._entries):
            raise ValueError(
                f"{at_path(path)}a List's config must be a list of {len(self._entries)} "
                f"entries, got {config!r}"
            )
        return self._config(
            [
                space.normalize(config[i], (*path, i))
                for i, space in zip(self._positions, self._nodes)
            ]
        )

    def build(self, config: Any) -> Any:
        if not isinstance(config, (list, tuple)) or len(config) != len(self._entries):
            return config
        built = [
            entry.build(part) if isinstance(entry, Space) else _copy(entry)
            for entry, part in zip(self._entries, config)
        ]
        return tuple(built) if self._as_tuple else built

    @property
    def size(self) -> int | None:
        return product_size(self._nodes)

    def config_at(self, index: int) -> list[Any]:
        return self._config(product_at(self._nodes, index))

    def config_index(self, config: Any) -> int:
        return product_index(self._nodes, [config[i] for i in self._positions])

    def grid_configs(self, num_points: int) -> list[Any]:
        return [self._config(combo) for combo in product_grid(self._nodes, num_points)]

    def leaves(self, path: Path = ()) -> list[tuple[Path, Any]]:
        out: list[tuple[Path, Any]] = []
        for i, space in zip(self._positions, self._nodes):
            out += space.leaves((*path, i))
        return out

    def _leaf_values(self, config: Any, path: Path, out: dict) -> None:
        for i, space in zip(self._positions, self._nodes):
            space._leaf_values(config[i], (*path, i), out)

    def config_from_leaf_values(self, values: Mapping[Path, Any], path: Path = ()) -> Any:
        return self._config(
            [
                space.config_from_leaf_values(values, (*path, i))
                for i, space in zip(self._positions, self._nodes)
            ]
        )

    def fingerprint(self) -> dict[str, Any]:
        entries = [e.fingerprint() if isinstance(e, Space) else None for e in self._entries]
        return {"type": "List", "entries": entries}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, List):
            return NotImplemented
        return self.fingerprint() == other.fingerprint() and self._as_tuple == other._as_tuple

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"List({', '.join(repr(e) for e in self._entries)})"
