"""Encode configs as points of the unit cube for the GP, and decode points back.

Each leaf domain of the search space takes some columns of the encoded vector:

- :class:`~scheduler.space.Real`: one column, ``to_unit`` (linear, or log10 for
  ``log=True``), so that a uniform draw of the column is the space's own distribution;
- :class:`~scheduler.space.Int`: one column, the centre of the value's bin
  (``(v - lower + 0.5) / cardinality``), rounded to a bin centre after optimization;
- :class:`~scheduler.space.Bool`: one column, 0 or 1, rounded after optimization;
- :class:`~scheduler.space.Categorical`: one column per choice (one-hot); a point
  decodes to the choice with the largest coordinate.

A domain with a single value takes no column. The leaves are reached through a small
interface (:class:`Leaves`: ``paths``, ``domains``, ``values(config)``,
``config(values)``): :func:`leaves_of` builds :class:`FlatLeaves` for a flat
:class:`~scheduler.space.SearchSpace` whose configs hold the domains' values
themselves, and :class:`SpaceLeaves` (over :meth:`SearchSpace.leaves`) for any other:
nested spaces (``Dict``, ``List``, ``@obj``, a Categorical of spaces), and Categoricals
whose choices are objects (their configs hold a JSON stand-in, not the object). A
Categorical with space choices is one leaf (its choice), its choices' leaves are leaves
of their own; a leaf that a config does not use is encoded at its default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast

import numpy as np

from scheduler.space import Bool, Categorical, Domain, Int, Real, SearchSpace

__all__ = ["Encoder", "FlatLeaves", "Leaves", "SpaceLeaves", "leaves_of"]

# Column kinds.
_REAL, _INT, _BOOL, _ONEHOT = "real", "int", "bool", "onehot"


class Leaves(Protocol):
    """The leaf domains of a search space, and how configs map to their values."""

    #: one path per leaf (a tuple of keys), in a fixed order
    paths: Sequence[tuple[Any, ...]]
    #: the domain of each leaf, in the same order
    domains: Sequence[Domain]

    def values(self, config: Mapping[str, Any]) -> list[Any]:
        """The value of each leaf in ``config``, in :attr:`paths` order."""
        ...

    def config(self, values: Sequence[Any]) -> dict[str, Any]:
        """The config whose leaves hold ``values`` (inverse of :meth:`values`)."""
        ...


class FlatLeaves:
    """The leaves of a flat :class:`~scheduler.space.SearchSpace`: one per name.

    Raises
    ------
    ValueError
        When a hyperparameter's domain is not a Real, Int, Categorical or Bool, or is a
        Categorical whose choices are themselves search spaces.
    """

    def __init__(self, space: SearchSpace):
        self.names = tuple(space.hyperparameters)
        self.paths: Sequence[tuple[Any, ...]] = [(name,) for name in self.names]
        domains = [space[name] for name in self.names]
        for name, domain in zip(self.names, domains):
            _check_encodable(name, domain)
        self.domains: Sequence[Domain] = cast("list[Domain]", domains)  # checked: leaves

    def values(self, config: Mapping[str, Any]) -> list[Any]:
        try:
            return [config[name] for name in self.names]
        except KeyError as exc:
            raise ValueError(
                f"config is missing hyperparameter {exc.args[0]!r}, got {dict(config)!r}"
            ) from None

    def config(self, values: Sequence[Any]) -> dict[str, Any]:
        return dict(zip(self.names, values))


class SpaceLeaves:
    """The leaves of any :class:`~scheduler.space.SearchSpace`, through
    :meth:`SearchSpace.leaves`: values are the domains' own (a Categorical's choice
    object), an unused leaf (a choice not taken) reads as its default."""

    def __init__(self, space: SearchSpace):
        self.space = space
        pairs = space.leaves()
        self.paths: Sequence[tuple[Any, ...]] = [path for path, _ in pairs]
        self.domains: Sequence[Domain] = [domain for _, domain in pairs]
        for path, domain in pairs:
            _check_encodable(SearchSpace.leaf_name(path), domain, nested=True)

    def values(self, config: Mapping[str, Any]) -> list[Any]:
        used = self.space.leaf_values(config)
        return [used.get(path, domain.default) for path, domain in zip(self.paths, self.domains)]

    def config(self, values: Sequence[Any]) -> dict[str, Any]:
        return self.space.config_from_leaf_values(dict(zip(self.paths, values)))


def _check_encodable(name: str, domain: Any, nested: bool = False) -> None:
    if not isinstance(domain, (Real, Int, Categorical)):
        raise ValueError(
            f"bayesopt cannot encode hyperparameter {name!r}: its domain must be a Real, Int, "
            f"Categorical or Bool, got {domain!r}"
        )
    if isinstance(domain, Categorical) and not nested:
        for choice in domain.data:
            if isinstance(choice, (Domain, SearchSpace)):
                raise ValueError(
                    f"bayesopt cannot encode hyperparameter {name!r} yet: a Categorical whose "
                    f"choices are search spaces (nested spaces), got choice {choice!r}"
                )


def leaves_of(space: SearchSpace | Leaves) -> Leaves:
    """The :class:`Leaves` of ``space`` (a :class:`Leaves` object is returned as is)."""
    if isinstance(space, SearchSpace):
        return SpaceLeaves(space) if space.is_nested or space.needs_build else FlatLeaves(space)
    if hasattr(space, "paths") and hasattr(space, "domains") and hasattr(space, "config"):
        for path, domain in zip(space.paths, space.domains):
            _check_encodable(".".join(map(str, path)), domain)
        return space
    raise ValueError(f"space must be a SearchSpace or a Leaves view, got {space!r}")


class Encoder:
    """Maps configs to vectors in ``[0, 1]^dim`` and back (see the module docstring).

    Parameters
    ----------
    space : SearchSpace or Leaves
        The space to encode.

    Attributes
    ----------
    dim : int
        Number of columns.
    """

    def __init__(self, space: SearchSpace | Leaves):
        self.leaves = leaves_of(space)
        self._columns: list[tuple[str, int, int, Domain]] = []  # kind, start, stop, domain
        start = 0
        for domain in self.leaves.domains:
            card = domain.cardinality
            if card == 1:
                kind, width = "const", 0
            elif isinstance(domain, Real):
                kind, width = _REAL, 1
            elif isinstance(domain, Int):
                kind, width = _INT, 1
            elif isinstance(domain, Bool):
                kind, width = _BOOL, 1
            elif card is not None:
                kind, width = _ONEHOT, int(card)
            else:  # _check_encodable refused every domain without a finite cardinality
                raise ValueError(f"{domain!r} has no finite number of choices to one-hot")
            self._columns.append((kind, start, start + width, domain))
            start += width
        self.dim = start
        self._int_cols = np.array([s for k, s, _, _ in self._columns if k == _INT], dtype=np.intp)
        self._int_card = np.array(
            [float(d.cardinality or 0) for k, _, _, d in self._columns if k == _INT],
            dtype=np.float64,
        )
        self._bool_cols = np.array([s for k, s, _, _ in self._columns if k == _BOOL], dtype=np.intp)
        self._onehots = [(s, e) for k, s, e, _ in self._columns if k == _ONEHOT]
        self._cont_cols = np.array(
            [s for k, s, _, _ in self._columns if k in (_REAL, _INT)], dtype=np.intp
        )
        # discrete leaves resampled by :meth:`neighbours`: (kind, start, stop)
        self._discrete = [(k, s, e) for k, s, e, _ in self._columns if k in (_BOOL, _ONEHOT)]

    # -- configs <-> vectors -------------------------------------------------------
    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """The config as a vector of shape ``(dim,)``; ValueError for a value outside
        its domain."""
        x = np.zeros(self.dim, dtype=np.float64)
        for (kind, start, _stop, domain), value in zip(self._columns, self.leaves.values(config)):
            if kind == "const":
                if not domain.contains(value):
                    raise ValueError(f"value {value!r} is not in {domain!r}")
            elif kind in (_REAL, _INT):
                x[start] = domain.to_unit(value)
            elif kind == _BOOL:
                x[start] = float(domain.index_of(value))
            else:
                x[start + domain.index_of(value)] = 1.0
        return x

    def encode_many(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Configs as rows of an array of shape ``(len(configs), dim)``."""
        out = np.zeros((len(configs), self.dim), dtype=np.float64)
        for i, config in enumerate(configs):
            out[i] = self.encode(config)
        return out

    def decode(self, x: Any) -> dict[str, Any]:
        """The config encoded by ``x`` (projected first: see :meth:`project`)."""
        vector = np.asarray(x, dtype=np.float64)
        if vector.shape != (self.dim,):
            raise ValueError(f"x must have shape ({self.dim},), got shape {vector.shape}")
        values = []
        for kind, start, stop, domain in self._columns:
            if kind == "const":
                values.append(domain.default)
            elif kind in (_REAL, _INT):
                values.append(domain.from_unit(float(vector[start])))
            elif kind == _BOOL:
                values.append(bool(vector[start] >= 0.5))
            else:
                values.append(domain.value_at(int(np.argmax(vector[start:stop]))))
        return self.leaves.config(values)

    # -- the feasible set ---------------------------------------------------------
    def project(self, X: np.ndarray) -> np.ndarray:
        """Rows of ``X`` moved to the nearest encodings of configs (a new array).

        Coordinates are clipped to ``[0, 1]``, Int columns rounded to their bin centre,
        Bool columns to 0 or 1, one-hot blocks to the one-hot of their largest entry.
        """
        out = np.clip(np.array(X, dtype=np.float64, copy=True, ndmin=2), 0.0, 1.0)
        if self._int_cols.size:
            card = self._int_card
            bins = np.minimum(np.floor(out[:, self._int_cols] * card), card - 1)
            out[:, self._int_cols] = (bins + 0.5) / card
        if self._bool_cols.size:
            out[:, self._bool_cols] = (out[:, self._bool_cols] >= 0.5).astype(np.float64)
        for start, stop in self._onehots:
            best = np.argmax(out[:, start:stop], axis=1)
            out[:, start:stop] = 0.0
            out[np.arange(out.shape[0]), start + best] = 1.0
        return out

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` encodings of configs drawn as :meth:`SearchSpace.sample` draws them
        (uniform, log-uniform for ``Real(log=True)``), shape ``(n, dim)``."""
        X = rng.random((n, self.dim))
        for start, stop in self._onehots:
            X[:, start:stop] = 0.0
            X[np.arange(n), start + rng.integers(stop - start, size=n)] = 1.0
        return self.project(X)

    def neighbours(
        self, X: np.ndarray, rng: np.random.Generator, scale: Any, flip: float = 0.2
    ) -> np.ndarray:
        """A random neighbour of each row of ``X`` (projected).

        Continuous columns (Real and Int) move by a normal step of standard deviation
        ``scale`` (a float, or one per row); each discrete leaf (Bool, Categorical) is
        redrawn with probability ``flip``.
        """
        out = np.array(X, dtype=np.float64, copy=True)
        n = out.shape[0]
        if self._cont_cols.size:
            sd = np.asarray(scale, dtype=np.float64)
            sd = sd[:, None] if sd.ndim == 1 else sd
            out[:, self._cont_cols] += sd * rng.standard_normal((n, self._cont_cols.size))
        for kind, start, stop in self._discrete:
            redraw = np.asarray(rng.random(n) < flip)
            if not redraw.any():
                continue
            rows = np.flatnonzero(redraw)
            if kind == _BOOL:
                out[rows, start] = 1.0 - out[rows, start]
            else:
                out[rows, start:stop] = 0.0
                out[rows, start + rng.integers(stop - start, size=rows.size)] = 1.0
        return self.project(out)

    def __repr__(self) -> str:
        return f"Encoder(dim={self.dim}, leaves={len(self._columns)})"
