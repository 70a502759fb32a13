"""The search space of a training function: named spaces and constants.

A :class:`SearchSpace` maps names to spaces (searched) and constants (carried, not
searched). Its configs are dicts ``{name: config}`` over the searched names, each value
JSON data (see :class:`~scheduler._space.base.Space`), so configs survive the journal
and snapshots exactly.

Leaves: :meth:`SearchSpace.leaves` lists every leaf domain with its path (the first
element is the name), in a fixed order -- names sorted, then depth first. The unit
vectors of :meth:`SearchSpace.to_unit_vector` have one coordinate per leaf, in that
order; for a flat space that is one per hyperparameter, sorted by name.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from scheduler._space._canonical import canonical, dumps, uncanonical
from scheduler._space.base import Path, Space, path_name
from scheduler._space.configspace import from_configspace, is_configspace
from scheduler._space.domains import Domain
from scheduler._space.nested import product_at, product_index, to_space

__all__ = ["FINGERPRINT_VERSION", "SearchSpace", "as_search_space"]

#: Version of the layout of :meth:`SearchSpace.fingerprint`.
FINGERPRINT_VERSION = 1


class SearchSpace:
    """A set of named spaces (the searchable hyperparameters) and constants.

    Parameters
    ----------
    spec : mapping, SearchSpace or ConfigSpace.ConfigurationSpace, optional
        ``{name: space or constant}``; a dict, list or tuple holding spaces is a nested
        space (:func:`~scheduler.space.to_space`). A ConfigurationSpace is converted
        (:func:`~scheduler.space.from_configspace`). Keyword arguments add more entries.

    Attributes
    ----------
    hyperparameters : tuple of str
        The searchable names, sorted. This fixes the order of unit vectors, of the
        grid and of the random draws in :meth:`sample`.
    constants : mapping
        The entries that are not spaces; they are not part of configs.

    Configs are dicts over exactly the searchable names. An empty space has one config,
    ``{}``.
    """

    def __init__(self, spec: Any = None, /, **kwargs: Any):
        if isinstance(spec, SearchSpace):
            items: dict[Any, Any] = {**spec._constants, **spec._domains}
        elif is_configspace(spec):
            converted = from_configspace(spec)
            items = {**converted._constants, **converted._domains}
        elif spec is None:
            items = {}
        elif isinstance(spec, Mapping):
            items = dict(spec)
        else:
            raise ValueError(f"SearchSpace: spec must be a mapping of names, got {spec!r}")
        items.update(kwargs)
        for name in items:
            if not isinstance(name, str) or not name:
                raise ValueError(
                    f"SearchSpace: hyperparameter names must be non-empty strings, got {name!r}"
                )
        spaces = {name: to_space(value) for name, value in items.items()}
        self._domains: dict[str, Space] = {
            n: v for n, v in sorted(spaces.items()) if isinstance(v, Space)
        }
        self._constants: dict[str, Any] = {
            n: v for n, v in items.items() if not isinstance(spaces[n], Space)
        }
        self._names = tuple(self._domains)
        self._nodes = list(self._domains.values())
        sizes = [node.size for node in self._nodes]
        self._size = None if None in sizes else math.prod(sizes)  # type: ignore[arg-type]
        self._leaves: list[tuple[Path, Domain]] = []
        for name, node in self._domains.items():
            self._leaves += node.leaves((name,))
        seen: dict[str, Path] = {}
        for path, _ in self._leaves:
            dotted = path_name(path)
            if dotted in seen:
                raise ValueError(
                    f"SearchSpace: two hyperparameters share the dotted name {dotted!r} "
                    f"(paths {seen[dotted]} and {path}); rename one"
                )
            seen[dotted] = path
        self._build = [name for name, node in self._domains.items() if node.needs_build]

    # -- mapping-like access -------------------------------------------------

    @property
    def hyperparameters(self) -> tuple[str, ...]:
        return self._names

    @property
    def domains(self) -> Mapping[str, Space]:
        """``{name: space}`` of the searched names (a leaf domain or a nested space)."""
        return MappingProxyType(self._domains)

    @property
    def constants(self) -> Mapping[str, Any]:
        return MappingProxyType(self._constants)

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._domains

    def __getitem__(self, name: str) -> Space:
        return self._domains[name]

    @property
    def is_nested(self) -> bool:
        """True when some hyperparameter is not a single leaf domain."""
        return len(self._leaves) != len(self._names) or not all(
            isinstance(node, Domain) for node in self._nodes
        )

    # -- leaves (for vector encodings: Bayesian optimization, the RL controller) -------

    def leaves(self) -> list[tuple[Path, Domain]]:
        """Every leaf domain with its path, e.g. ``[(('lr',), Real(...)), (('opt',
        'momentum'), Real(...)), (('opt', 'name'), Categorical(...))]``.

        Names sorted, then depth first (dict keys sorted, list elements in order); the
        leaves of a Categorical's space choice ``i`` follow the Categorical, under
        ``path + (i,)``, and are active only when that choice is picked.
        """
        return list(self._leaves)

    @staticmethod
    def leaf_name(path: Path) -> str:
        """The dotted name of a leaf path: ``('opt', 'lr')`` -> ``'opt.lr'``."""
        return path_name(path)

    def leaf_values(self, config: Mapping[str, Any]) -> dict[Path, Any]:
        """``{path: value}`` of the leaves ``config`` uses (values as the domains take
        them: a Categorical's choice object). Extra keys of ``config`` are ignored."""
        out: dict[Path, Any] = {}
        for name, node in self._domains.items():
            value = self._require(config, name)
            node._leaf_values(node.normalize(value, (name,)), (name,), out)
        return out

    def config_from_leaf_values(self, values: Mapping[Path, Any]) -> dict[str, Any]:
        """The config whose leaves take ``values`` (``{path: domain value}``); leaves
        missing from ``values`` (or inactive) take their defaults."""
        return {
            name: node.config_from_leaf_values(values, (name,))
            for name, node in self._domains.items()
        }

    # -- size ----------------------------------------------------------------

    @property
    def is_finite(self) -> bool:
        return self._size is not None

    @property
    def size(self) -> int | None:
        """Number of configs: the product of the entries' sizes, or None if infinite."""
        return self._size

    # -- configs -------------------------------------------------------------

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """A config with each leaf drawn independently, in :meth:`leaves` order."""
        return {name: node.sample_config(rng) for name, node in self._domains.items()}

    def default_config(self) -> dict[str, Any]:
        return {name: node.default_config() for name, node in self._domains.items()}

    def _require(self, config: Mapping[str, Any], name: str) -> Any:
        try:
            return config[name]
        except KeyError:
            raise ValueError(f"config is missing hyperparameter {name!r}, got {config!r}") from None

    def normalize(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` checked (ValueError naming the path of the first bad value) and in
        canonical form; extra keys are dropped."""
        if not isinstance(config, Mapping):
            raise ValueError(f"config must be a dict of hyperparameter values, got {config!r}")
        return {
            name: node.normalize(self._require(config, name), (name,))
            for name, node in self._domains.items()
        }

    def build(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` with each nested value built (objects constructed, choices
        resolved): what the training function receives. Other keys pass through."""
        built = dict(config)
        for name in self._build:
            if name in built:
                built[name] = self._domains[name].build(built[name])
        return built

    @property
    def needs_build(self) -> bool:
        """False when :meth:`build` returns every config unchanged (plain leaves only)."""
        return bool(self._build)

    def to_unit_vector(self, config: Mapping[str, Any]) -> np.ndarray:
        """The config as a float64 vector in ``[0, 1]^d``, one coordinate per leaf (an
        inactive leaf is encoded at its default). Extra keys are ignored."""
        if not self.is_nested:
            return np.array(
                [
                    # not nested: every domain is a leaf (a Domain)
                    d.to_unit(d.from_config(self._require(config, n)))  # type: ignore[attr-defined]
                    for n, d in self._domains.items()
                ],
                dtype=np.float64,
            )
        values = self.leaf_values(config)
        return np.array(
            [domain.to_unit(values.get(path, domain.default)) for path, domain in self._leaves],
            dtype=np.float64,
        )

    def from_unit_vector(self, x: Any) -> dict[str, Any]:
        """The config encoded by ``x`` (coordinates are clipped to ``[0, 1]``)."""
        vector = np.asarray(x, dtype=np.float64)
        if vector.shape != (len(self._leaves),):
            what = "leaf" if self.is_nested else "hyperparameter"
            raise ValueError(
                f"x must have shape ({len(self._leaves)},), one coordinate per {what}, "
                f"got shape {vector.shape}"
            )
        values = {
            path: domain.from_unit(float(u)) for (path, domain), u in zip(self._leaves, vector)
        }
        return self.config_from_leaf_values(values)

    def contains(self, config: Mapping[str, Any]) -> bool:
        """True when ``config`` has exactly the searchable names, each value a config of
        its space."""
        if not isinstance(config, Mapping) or set(config) != set(self._names):
            return False
        return all(node.contains_config(config[n]) for n, node in self._domains.items())

    # -- finite spaces: configs by index ------------------------------------

    def config_at(self, index: int) -> dict[str, Any]:
        """Config number ``index`` of a finite space (last name varies fastest)."""
        if self._size is None:
            raise TypeError("config_at needs a finite search space, this one is infinite")
        return dict(zip(self._names, product_at(self._nodes, index)))

    def index_of(self, config: Mapping[str, Any]) -> int | None:
        """Inverse of :meth:`config_at`; None if the space is infinite or lacks ``config``."""
        if self._size is None:
            return None
        try:
            normal = self.normalize(config)
        except (ValueError, TypeError):
            return None
        if set(config) != set(self._names):
            return None
        return product_index(self._nodes, [normal[n] for n in self._names])

    def grid_axes(self, num_points: int) -> list[list[Any]]:
        """Per hyperparameter (in name order), its grid of configs (:meth:`Space.grid_configs`)."""
        return [node.grid_configs(num_points) for node in self._nodes]

    # -- JSON ----------------------------------------------------------------

    def encode_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON-native encoding of ``config``, inverted by :meth:`decode_config`.

        A leaf value in its domain is encoded by :meth:`Domain.to_json` (a float, an int,
        or a choice index); a nested value by ``{"nested": normalized config}``; any
        other value (or key) as ``{"raw": canonical(value)}``, which decodes exactly
        unless the value is an object without a JSON form.
        """
        out: dict[str, Any] = {}
        for name, value in config.items():
            if not isinstance(name, str):
                raise ValueError(f"config keys must be strings, got {name!r}")
            node = self._domains.get(name)
            out[name] = {"raw": canonical(value)}
            if node is None:
                continue
            try:
                if isinstance(node, Domain) and not (getattr(node, "has_spaces", False)):
                    out[name] = node.to_json(node.from_config(value))
                else:
                    out[name] = {"nested": node.normalize(value)}
            except (ValueError, TypeError):
                pass
        return out

    def decode_config(self, data: Mapping[str, Any]) -> dict[str, Any]:
        config = {}
        for name, item in data.items():
            if isinstance(item, dict) and "raw" in item:
                config[name] = uncanonical(item["raw"])
            elif isinstance(item, dict) and "nested" in item:
                config[name] = item["nested"]
            elif name in self._domains:
                node = self._domains[name]
                config[name] = node.to_config(node.from_json(item))  # type: ignore[attr-defined]
            else:
                raise ValueError(f"encoded config has unknown hyperparameter {name!r}")
        return config

    def config_key(self, config: Mapping[str, Any]) -> str:
        """A string equal for equal configs: ``encoding_key(encode_config(config))``."""
        return dumps(self.encode_config(config))

    @staticmethod
    def encoding_key(encoded: Mapping[str, Any]) -> str:
        """The key of an encoded config: compact JSON with sorted keys."""
        return dumps(encoded)

    def fingerprint(self) -> dict[str, Any]:
        """A JSON-able description of the searchable part of the space.

        Defaults and constants are left out: they do not change which configs exist,
        so a run may resume after they change.
        """
        return {
            "version": FINGERPRINT_VERSION,
            "hyperparameters": {n: d.fingerprint() for n, d in self._domains.items()},
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SearchSpace):
            return NotImplemented
        return self.fingerprint() == other.fingerprint() and self._domains == other._domains

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = [f"{n}={d!r}" for n, d in self._domains.items()]
        parts += [f"{n}={v!r}" for n, v in self._constants.items()]
        return f"SearchSpace({', '.join(parts)})"


def as_search_space(space: Any, what: str = "space") -> SearchSpace:
    """``space`` as a :class:`SearchSpace`: a SearchSpace itself, a ConfigSpace
    ``ConfigurationSpace`` converted, or a dict of spaces; anything else is refused."""
    if isinstance(space, SearchSpace):
        return space
    if is_configspace(space) or isinstance(space, Mapping):
        return SearchSpace(space)
    raise ValueError(
        f"{what} must be a SearchSpace, a dict of spaces or a ConfigSpace "
        f"ConfigurationSpace, got {space!r}"
    )
