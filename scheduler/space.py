"""Search spaces: the domain of each hyperparameter, and the space they span.

A *domain* describes the values one hyperparameter may take:

- :class:`Real` -- a float in ``[lower, upper]``, optionally on a log scale;
- :class:`Int` -- an integer in ``[lower, upper]`` (both ends included);
- :class:`Categorical` -- one of a list of arbitrary Python values;
- :class:`Bool` -- ``Categorical(False, True)``.

A :class:`SearchSpace` maps names to domains (plus constants, which are carried but
not searched). Configs are plain dicts ``{name: value}`` over the searchable names.

Every domain has an encoding into ``[0, 1]`` (:meth:`Domain.to_unit` and
:meth:`Domain.from_unit`): linear (or logarithmic) for :class:`Real`, the centre of the
value's bin for :class:`Int` and :class:`Categorical`. A space encodes a config as a
vector with one coordinate per hyperparameter, in :attr:`SearchSpace.hyperparameters`
order (sorted by name, so the order does not depend on how the dict was built).

Configs also have a canonical JSON encoding (:meth:`SearchSpace.encode_config`) and key
(:meth:`SearchSpace.config_key`): searchers use the key to recognise a config they have
seen, and the encoding to save their state as plain JSON. :meth:`SearchSpace.fingerprint`
describes the space itself, so that a checkpoint saved for one space is refused by
another.

Example
-------
>>> import numpy as np
>>> from scheduler import space
>>> s = space.SearchSpace(lr=space.Real(1e-3, 1e-2, log=True), layers=space.Int(1, 4))
>>> s.default_config()
{'layers': 2, 'lr': 0.0031622776601683794}
>>> s.size is None
True
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = [
    "Bool",
    "Categorical",
    "Domain",
    "Int",
    "Real",
    "SearchSpace",
    "canonical",
    "canonical_key",
]

#: Version of the layout of :meth:`SearchSpace.fingerprint`.
FINGERPRINT_VERSION = 1

# The largest Int cardinality numpy's integer generator can draw from.
_MAX_INT_CARDINALITY = 2**63 - 1


# ---------------------------------------------------------------------------
# canonical JSON form of arbitrary Python values


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def canonical(value: Any) -> Any:
    """A JSON-native description of ``value``, equal for equal values.

    ``None``, booleans, strings, integers and finite floats map to themselves (numpy
    scalars to the Python scalar), lists to lists. Tuples, dicts, sets and non-finite
    floats are tagged (``{"__tuple__": [...]}``, ``{"__dict__": [[key, value], ...]}``,
    ``{"__set__": [...]}``, ``{"__float__": "nan"}``) so that they stay distinct from
    lists and from each other. Any other object becomes
    ``{"__object__": "module.Type", "repr": repr(value)}`` with memory addresses removed
    from the repr. JSON keeps ``1``, ``1.0`` and ``true`` apart, so they stay distinct.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else {"__float__": repr(number)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    if isinstance(value, tuple):
        return {"__tuple__": [canonical(item) for item in value]}
    if isinstance(value, Mapping):
        pairs = [[canonical(k), canonical(v)] for k, v in value.items()]
        return {"__dict__": sorted(pairs, key=lambda pair: _dumps(pair[0]))}
    if isinstance(value, (set, frozenset)):
        return {"__set__": sorted((canonical(item) for item in value), key=_dumps)}
    kind = type(value)
    return {
        "__object__": f"{kind.__module__}.{kind.__qualname__}",
        "repr": _ADDRESS.sub("", repr(value)),
    }


def _decanonical(data: Any) -> Any:
    """Invert :func:`canonical` (objects come back as their ``__object__`` description)."""
    if isinstance(data, list):
        return [_decanonical(item) for item in data]
    if isinstance(data, dict):
        if "__tuple__" in data:
            return tuple(_decanonical(item) for item in data["__tuple__"])
        if "__dict__" in data:
            return {_decanonical(k): _decanonical(v) for k, v in data["__dict__"]}
        if "__set__" in data:
            return {_decanonical(item) for item in data["__set__"]}
        if "__float__" in data:
            return float(data["__float__"])
        return dict(data)
    return data


def _dumps(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def canonical_key(value: Any) -> str:
    """A string that is equal for equal values: compact JSON of :func:`canonical`."""
    return _dumps(canonical(value))


# ---------------------------------------------------------------------------
# argument validation


def _real_number(owner: str, name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{owner}: {name} must be a real number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{owner}: {name} must be finite, got {value!r}")
    return number


def _integer(owner: str, name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{owner}: {name} must be an integer, got {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and value == int(value):
        return int(value)
    raise ValueError(f"{owner}: {name} must be an integer, got {value!r}")


def _num_points(owner: str, num_points: Any) -> int:
    if isinstance(num_points, (bool, np.bool_)) or not isinstance(num_points, numbers.Integral):
        raise ValueError(f"{owner}: num_points must be an integer >= 1, got {num_points!r}")
    if num_points < 1:
        raise ValueError(f"{owner}: num_points must be >= 1, got {num_points!r}")
    return int(num_points)


def _unit(owner: str, u: Any) -> float:
    if isinstance(u, (bool, np.bool_)) or not isinstance(u, numbers.Real):
        raise ValueError(f"{owner}.from_unit: u must be a real number, got {u!r}")
    number = float(u)
    if math.isnan(number):
        raise ValueError(f"{owner}.from_unit: u must not be NaN, got {u!r}")
    return min(max(number, 0.0), 1.0)


# ---------------------------------------------------------------------------
# domains


class Domain:
    """The values one hyperparameter may take. Subclasses: Real, Int, Categorical.

    Domains are immutable after construction; two domains are equal when they
    describe the same values and have the same default.
    """

    @property
    def default(self) -> Any:
        """The value used when the hyperparameter is not searched (the first config)."""
        raise NotImplementedError

    @property
    def cardinality(self) -> int | None:
        """Number of values, or None for a continuous domain."""
        raise NotImplementedError

    @property
    def is_finite(self) -> bool:
        """True when the domain has finitely many values."""
        return self.cardinality is not None

    def sample(self, rng: np.random.Generator) -> Any:
        """Draw one value uniformly (log-uniformly for ``Real(log=True)``)."""
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        """True when ``value`` belongs to the domain."""
        raise NotImplementedError

    def to_unit(self, value: Any) -> float:
        """Encode ``value`` as a float in ``[0, 1]``; ValueError if not in the domain."""
        raise NotImplementedError

    def from_unit(self, u: float) -> Any:
        """Decode a float (clipped to ``[0, 1]``) into a value of the domain."""
        raise NotImplementedError

    def grid(self, num_points: int) -> list[Any]:
        """Values for grid search: about ``num_points`` of them, in increasing order."""
        raise NotImplementedError

    def index_of(self, value: Any) -> int:
        """Position of ``value`` among the values of a finite domain."""
        raise TypeError(f"{self!r} is not a finite domain: its values have no index")

    def value_at(self, index: int) -> Any:
        """The value at position ``index`` of a finite domain (inverse of index_of)."""
        raise TypeError(f"{self!r} is not a finite domain: its values have no index")

    def to_json(self, value: Any) -> Any:
        """A JSON-native encoding of ``value`` (which must be in the domain)."""
        raise NotImplementedError

    def from_json(self, data: Any) -> Any:
        """Invert :meth:`to_json`."""
        raise NotImplementedError

    def fingerprint(self) -> dict[str, Any]:
        """A JSON-able description of the set of values (not of the default)."""
        raise NotImplementedError

    def _identity(self) -> str:
        return _dumps([self.fingerprint(), canonical(self.default)])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Domain):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())


class Real(Domain):
    """A float in ``[lower, upper]``.

    Parameters
    ----------
    lower, upper : float
        Finite bounds, ``lower < upper``. Both are included.
    default : float, optional
        Must lie in ``[lower, upper]``. Defaults to the midpoint, or the geometric
        midpoint ``sqrt(lower * upper)`` when ``log`` is true.
    log : bool
        Search on a logarithmic scale: samples are log-uniform, the unit encoding and
        the grid are evenly spaced in ``log(value)``. Needs ``lower > 0``.

    Raises
    ------
    ValueError
        Naming the parameter, the rule and the value, e.g.
        ``Real: upper must be > lower, got lower=3, upper=1``.
    """

    def __init__(self, lower: float, upper: float, default: float | None = None, log: bool = False):
        low = _real_number("Real", "lower", lower)
        high = _real_number("Real", "upper", upper)
        if not high > low:
            raise ValueError(f"Real: upper must be > lower, got lower={lower!r}, upper={upper!r}")
        if not isinstance(log, (bool, np.bool_)):
            raise ValueError(f"Real: log must be a bool, got log={log!r}")
        if log and low <= 0:
            raise ValueError(f"Real: lower must be > 0 when log=True, got lower={lower!r}")
        self._lower = low
        self._upper = high
        self._log = bool(log)
        if self._log:
            # Base 10: decades of the usual 1e-k bounds fall on exact grid points.
            self._ends = (math.log10(low), math.log10(high))
        else:
            self._ends = (low, high)
        self._default_given = default is not None
        if default is None:
            middle = math.sqrt(low) * math.sqrt(high) if self._log else low / 2 + high / 2
            self._default = self._clip(middle)
        else:
            value = _real_number("Real", "default", default)
            if not low <= value <= high:
                raise ValueError(
                    f"Real: default must be within [lower, upper] = [{lower!r}, {upper!r}], "
                    f"got default={default!r}"
                )
            self._default = value

    @property
    def lower(self) -> float:
        return self._lower

    @property
    def upper(self) -> float:
        return self._upper

    @property
    def log(self) -> bool:
        return self._log

    @property
    def default(self) -> float:
        return self._default

    @property
    def cardinality(self) -> None:
        return None

    def _clip(self, value: float) -> float:
        return min(max(value, self._lower), self._upper)

    def sample(self, rng: np.random.Generator) -> float:
        return self.from_unit(float(rng.random()))

    def contains(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            return False
        return self._lower <= float(value) <= self._upper

    def to_unit(self, value: Any) -> float:
        if not self.contains(value):
            raise ValueError(
                f"Real.to_unit: value must be a number within [{self._lower!r}, "
                f"{self._upper!r}], got {value!r}"
            )
        x = math.log10(float(value)) if self._log else float(value)
        a, b = self._ends
        # Halved to stay finite when upper - lower overflows.
        u = (x / 2 - a / 2) / (b / 2 - a / 2)
        return min(max(u, 0.0), 1.0)

    def from_unit(self, u: float) -> float:
        t = _unit("Real", u)
        a, b = self._ends
        # Exact at both ends: t = 0 gives a, t = 1 gives b.
        x = a * (1.0 - t) + b * t
        if self._log:
            x = 10.0**x
            if t == 0.0:
                x = self._lower
            elif t == 1.0:
                x = self._upper
        return self._clip(x)

    def grid(self, num_points: int) -> list[float]:
        """``num_points`` values evenly spaced (in log scale if ``log``), ends included.

        A single point is the default. Values are rounded to 15 significant digits, so
        that ``Real(1e-3, 1, log=True).grid(4)`` is ``[0.001, 0.01, 0.1, 1.0]``.
        """
        n = _num_points("Real.grid", num_points)
        if n == 1:
            return [self._default]
        a, b = self._ends
        values = [self._lower]
        for i in range(1, n - 1):
            if math.isfinite(b - a):
                x = a + (b - a) * i / (n - 1)  # exact at decades: -5 + 3 * 1 / 3 == -4
            else:
                x = a * (1.0 - i / (n - 1)) + b * (i / (n - 1))
            values.append(self._clip(float(f"{10.0**x if self._log else x:.15g}")))
        values.append(self._upper)
        return values

    def to_json(self, value: Any) -> float:
        if not self.contains(value):
            raise ValueError(
                f"Real: value must be a number within [{self._lower!r}, {self._upper!r}], "
                f"got {value!r}"
            )
        return float(value)

    def from_json(self, data: Any) -> float:
        return float(data)

    def fingerprint(self) -> dict[str, Any]:
        return {"type": "Real", "lower": self._lower, "upper": self._upper, "log": self._log}

    def __repr__(self) -> str:
        parts = [f"lower={self._lower!r}", f"upper={self._upper!r}"]
        if self._default_given:
            parts.append(f"default={self._default!r}")
        if self._log:
            parts.append("log=True")
        return f"Real({', '.join(parts)})"


class Int(Domain):
    """An integer in ``[lower, upper]``, both ends included.

    Parameters
    ----------
    lower, upper : int
        Bounds with ``lower <= upper`` (a single value is allowed). Floats with an
        integral value (``1e3``) are accepted and converted.
    default : int, optional
        Must lie in ``[lower, upper]``. Defaults to the midpoint rounded down,
        ``(lower + upper) // 2``.

    The unit encoding maps value ``v`` to the centre of its bin,
    ``(v - lower + 0.5) / cardinality``.
    """

    def __init__(self, lower: int, upper: int, default: int | None = None):
        low = _integer("Int", "lower", lower)
        high = _integer("Int", "upper", upper)
        if high < low:
            raise ValueError(f"Int: upper must be >= lower, got lower={lower!r}, upper={upper!r}")
        if high - low + 1 > _MAX_INT_CARDINALITY:
            raise ValueError(
                f"Int: upper - lower must be < 2**63 - 1, got lower={lower!r}, upper={upper!r}"
            )
        self._lower = low
        self._upper = high
        self._default_given = default is not None
        if default is None:
            self._default = (low + high) // 2
        else:
            value = _integer("Int", "default", default)
            if not low <= value <= high:
                raise ValueError(
                    f"Int: default must be within [lower, upper] = [{lower!r}, {upper!r}], "
                    f"got default={default!r}"
                )
            self._default = value

    @property
    def lower(self) -> int:
        return self._lower

    @property
    def upper(self) -> int:
        return self._upper

    @property
    def default(self) -> int:
        return self._default

    @property
    def cardinality(self) -> int:
        return self._upper - self._lower + 1

    def sample(self, rng: np.random.Generator) -> int:
        return self._lower + int(rng.integers(self.cardinality))

    def contains(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return False
        if isinstance(value, numbers.Integral):
            return self._lower <= int(value) <= self._upper
        if isinstance(value, (float, np.floating)) and math.isfinite(value):
            return value == int(value) and self._lower <= int(value) <= self._upper
        return False

    def _check(self, method: str, value: Any) -> int:
        if not self.contains(value):
            raise ValueError(
                f"Int.{method}: value must be an integer within [{self._lower}, "
                f"{self._upper}], got {value!r}"
            )
        return int(value)

    def index_of(self, value: Any) -> int:
        return self._check("index_of", value) - self._lower

    def value_at(self, index: int) -> int:
        if not 0 <= index < self.cardinality:
            raise ValueError(
                f"Int.value_at: index must be within [0, {self.cardinality}), got {index!r}"
            )
        return self._lower + int(index)

    def to_unit(self, value: Any) -> float:
        return (self._check("to_unit", value) - self._lower + 0.5) / self.cardinality

    def from_unit(self, u: float) -> int:
        t = _unit("Int", u)
        n = self.cardinality
        return self._lower + min(int(t * n), n - 1)

    def grid(self, num_points: int) -> list[int]:
        """Distinct integers evenly spread over ``[lower, upper]``, ends included.

        All values when ``num_points >= cardinality``; the default for a single point;
        otherwise ``lower + round(i * (upper - lower) / (num_points - 1))`` (halves
        rounded up, in exact integer arithmetic) for ``i = 0 .. num_points - 1``.
        """
        n = _num_points("Int.grid", num_points)
        if n >= self.cardinality:
            return list(range(self._lower, self._upper + 1))
        if n == 1:
            return [self._default]
        span = self._upper - self._lower
        values = (self._lower + (2 * i * span + (n - 1)) // (2 * (n - 1)) for i in range(n))
        return sorted(set(values))

    def to_json(self, value: Any) -> int:
        return self._check("to_json", value)

    def from_json(self, data: Any) -> int:
        return int(data)

    def fingerprint(self) -> dict[str, Any]:
        return {"type": "Int", "lower": self._lower, "upper": self._upper}

    def __repr__(self) -> str:
        parts = [f"lower={self._lower!r}", f"upper={self._upper!r}"]
        if self._default_given:
            parts.append(f"default={self._default!r}")
        return f"Int({', '.join(parts)})"


class Categorical(Domain):
    """One of the given choices, which may be any Python values (lists, dicts, objects).

    ``Categorical('a', 'b')`` has two choices; as in AutoGluon, a single list argument
    is a single choice (``Categorical([1, 2])`` always gives ``[1, 2]``; spread it with
    ``Categorical(*[1, 2])`` for two). The default is the first choice. Choices must be
    distinct (``1``, ``1.0`` and ``True`` count as distinct) and may not be domains
    themselves (nested spaces are not supported).

    Values are compared by their canonical JSON form (:func:`canonical`), then by
    identity, so unhashable choices work. Sampling returns the choice object itself,
    not a copy. The unit encoding maps choice ``i`` of ``n`` to ``(i + 0.5) / n``.
    """

    def __init__(self, *data: Any):
        if not data:
            raise ValueError("Categorical: data must hold at least one choice, got no choices")
        keys: dict[str, list[int]] = {}
        for i, choice in enumerate(data):
            if isinstance(choice, Domain):
                raise ValueError(
                    f"Categorical: choices must be plain values (nested search spaces are "
                    f"not supported), got choice {i}: {choice!r}"
                )
            key = canonical_key(choice)
            for j in keys.get(key, ()):
                # Equal canonical forms are equal values, except for objects without a
                # JSON form, whose repr may coincide: those are told apart by identity.
                if "__object__" not in key or _same(data[j], choice):
                    raise ValueError(
                        f"Categorical: choices must be distinct, got {choice!r} at positions "
                        f"{j} and {i}"
                    )
            keys.setdefault(key, []).append(i)
        self._data = tuple(data)
        self._keys = keys

    @property
    def data(self) -> list[Any]:
        """The choices, in order (a new list)."""
        return list(self._data)

    @property
    def default(self) -> Any:
        return self._data[0]

    @property
    def cardinality(self) -> int:
        return len(self._data)

    def _find(self, value: Any) -> int | None:
        try:
            key: str | None = canonical_key(value)
        except Exception:  # noqa: BLE001 - a repr that raises: compare by identity and equality
            key = None
        if key is None:
            candidates: Any = range(len(self._data))
        else:
            candidates = self._keys.get(key)
            if not candidates:
                return None
            if len(candidates) == 1:
                return candidates[0]
        # Several objects share a repr (or there is no key): identity, then equality.
        for i in candidates:
            if self._data[i] is value:
                return i
        for i in candidates:
            if _same(self._data[i], value):
                return i
        return None if key is None else candidates[0]

    def contains(self, value: Any) -> bool:
        return self._find(value) is not None

    def index_of(self, value: Any) -> int:
        index = self._find(value)
        if index is None:
            raise ValueError(f"{self!r}: value must be one of the choices, got {value!r}")
        return index

    def value_at(self, index: int) -> Any:
        if not 0 <= index < len(self._data):
            raise ValueError(
                f"{type(self).__name__}.value_at: index must be within [0, {len(self._data)}), "
                f"got {index!r}"
            )
        return self._data[index]

    def sample(self, rng: np.random.Generator) -> Any:
        return self._data[int(rng.integers(len(self._data)))]

    def to_unit(self, value: Any) -> float:
        return (self.index_of(value) + 0.5) / len(self._data)

    def from_unit(self, u: float) -> Any:
        t = _unit(type(self).__name__, u)
        n = len(self._data)
        return self._data[min(int(t * n), n - 1)]

    def grid(self, num_points: int) -> list[Any]:
        """All choices, in order (``num_points`` is validated, then ignored)."""
        _num_points(f"{type(self).__name__}.grid", num_points)
        return list(self._data)

    def to_json(self, value: Any) -> int:
        """The index of the choice (choices need not be JSON-serializable)."""
        return self.index_of(value)

    def from_json(self, data: Any) -> Any:
        return self.value_at(int(data))

    def fingerprint(self) -> dict[str, Any]:
        return {"type": "Categorical", "choices": [canonical(choice) for choice in self._data]}

    def __repr__(self) -> str:
        return f"Categorical({', '.join(repr(choice) for choice in self._data)})"


class Bool(Categorical):
    """``Categorical(False, True)``: the default is ``False`` and values are real bools.

    (AutoGluon's ``Bool`` is ``Int(0, 1)`` and yields 0/1; ``0 == False`` and
    ``1 == True``, so code that tests the value's truth works the same.)
    """

    def __init__(self) -> None:
        super().__init__(False, True)

    def __repr__(self) -> str:
        return "Bool()"


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(type(a) is type(b) and a == b)
    except Exception:  # noqa: BLE001 - e.g. numpy arrays: ambiguous truth value
        return False


# ---------------------------------------------------------------------------
# search space


class SearchSpace:
    """A set of named domains (the searchable hyperparameters) and constants.

    Parameters
    ----------
    spec : mapping or SearchSpace, optional
        ``{name: domain or constant}``. Keyword arguments add more entries.

    Attributes
    ----------
    hyperparameters : tuple of str
        The searchable names, sorted. This fixes the order of unit vectors, of the
        grid and of the random draws in :meth:`sample`.
    constants : mapping
        The entries that are not domains; they are not part of configs.

    Configs are dicts over exactly the searchable names. An empty space has one config,
    ``{}``.
    """

    def __init__(self, spec: Mapping[str, Any] | SearchSpace | None = None, /, **kwargs: Any):
        if isinstance(spec, SearchSpace):
            items: dict[Any, Any] = {**spec._constants, **spec._domains}
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
        self._domains: dict[str, Domain] = {
            n: v for n, v in sorted(items.items()) if isinstance(v, Domain)
        }
        self._constants: dict[str, Any] = {
            n: v for n, v in items.items() if not isinstance(v, Domain)
        }
        self._names = tuple(self._domains)
        cards = [d.cardinality for d in self._domains.values()]
        self._size = None if None in cards else math.prod(cards)  # type: ignore[arg-type]
        # Mixed-radix strides of config_at/index_of: the last name varies fastest.
        self._strides: list[int] = []
        if self._size is not None:
            stride = 1
            for card in reversed(cards):
                self._strides.append(stride)
                stride *= card  # type: ignore[operator]
            self._strides.reverse()

    # -- mapping-like access -------------------------------------------------

    @property
    def hyperparameters(self) -> tuple[str, ...]:
        return self._names

    @property
    def domains(self) -> Mapping[str, Domain]:
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

    def __getitem__(self, name: str) -> Domain:
        return self._domains[name]

    # -- size ----------------------------------------------------------------

    @property
    def is_finite(self) -> bool:
        return self._size is not None

    @property
    def size(self) -> int | None:
        """Number of configs: the product of the cardinalities, or None if infinite."""
        return self._size

    # -- configs -------------------------------------------------------------

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """A config with each hyperparameter drawn independently, in name order."""
        return {name: domain.sample(rng) for name, domain in self._domains.items()}

    def default_config(self) -> dict[str, Any]:
        return {name: domain.default for name, domain in self._domains.items()}

    def _require(self, config: Mapping[str, Any], name: str) -> Any:
        try:
            return config[name]
        except KeyError:
            raise ValueError(f"config is missing hyperparameter {name!r}, got {config!r}") from None

    def to_unit_vector(self, config: Mapping[str, Any]) -> np.ndarray:
        """The config as a float64 vector in ``[0, 1]^d`` (extra keys are ignored)."""
        return np.array(
            [d.to_unit(self._require(config, n)) for n, d in self._domains.items()],
            dtype=np.float64,
        )

    def from_unit_vector(self, x: Any) -> dict[str, Any]:
        """The config encoded by ``x`` (coordinates are clipped to ``[0, 1]``)."""
        vector = np.asarray(x, dtype=np.float64)
        if vector.shape != (len(self._names),):
            raise ValueError(
                f"x must have shape ({len(self._names)},), one coordinate per hyperparameter, "
                f"got shape {vector.shape}"
            )
        return {
            name: domain.from_unit(float(u))
            for (name, domain), u in zip(self._domains.items(), vector)
        }

    def contains(self, config: Mapping[str, Any]) -> bool:
        """True when ``config`` has exactly the searchable names, each value in its domain."""
        if not isinstance(config, Mapping) or set(config) != set(self._names):
            return False
        return all(d.contains(config[n]) for n, d in self._domains.items())

    # -- finite spaces: configs by index ------------------------------------

    def config_at(self, index: int) -> dict[str, Any]:
        """Config number ``index`` of a finite space (last name varies fastest)."""
        if self._size is None:
            raise TypeError("config_at needs a finite search space, this one is infinite")
        if not 0 <= index < self._size:
            raise ValueError(f"index must be within [0, {self._size}), got {index!r}")
        config = {}
        for (name, domain), stride in zip(self._domains.items(), self._strides):
            position, index = divmod(index, stride)
            config[name] = domain.value_at(position)
        return config

    def index_of(self, config: Mapping[str, Any]) -> int | None:
        """Inverse of :meth:`config_at`; None if the space is infinite or lacks ``config``."""
        if self._size is None or not self.contains(config):
            return None
        return sum(
            d.index_of(config[n]) * stride
            for (n, d), stride in zip(self._domains.items(), self._strides)
        )

    def grid_axes(self, num_points: int) -> list[list[Any]]:
        """Per hyperparameter (in name order), its :meth:`Domain.grid` values."""
        return [domain.grid(num_points) for domain in self._domains.values()]

    # -- JSON ----------------------------------------------------------------

    def encode_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON-native encoding of ``config``, inverted by :meth:`decode_config`.

        A value in its domain is encoded by :meth:`Domain.to_json` (a float, an int, or
        a choice index); any other value (or key) as ``{"raw": canonical(value)}``, which
        decodes exactly unless the value is an object without a JSON form.
        """
        out: dict[str, Any] = {}
        for name, value in config.items():
            if not isinstance(name, str):
                raise ValueError(f"config keys must be strings, got {name!r}")
            domain = self._domains.get(name)
            if domain is not None and domain.contains(value):
                out[name] = domain.to_json(value)
            else:
                out[name] = {"raw": canonical(value)}
        return out

    def decode_config(self, data: Mapping[str, Any]) -> dict[str, Any]:
        config = {}
        for name, item in data.items():
            if isinstance(item, dict):
                config[name] = _decanonical(item["raw"])
            elif name in self._domains:
                config[name] = self._domains[name].from_json(item)
            else:
                raise ValueError(f"encoded config has unknown hyperparameter {name!r}")
        return config

    def config_key(self, config: Mapping[str, Any]) -> str:
        """A string equal for equal configs: ``encoding_key(encode_config(config))``."""
        return _dumps(self.encode_config(config))

    @staticmethod
    def encoding_key(encoded: Mapping[str, Any]) -> str:
        """The key of an encoded config: compact JSON with sorted keys."""
        return _dumps(encoded)

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
        return self._domains == other._domains

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = [f"{n}={d!r}" for n, d in self._domains.items()]
        parts += [f"{n}={v!r}" for n, v in self._constants.items()]
        return f"SearchSpace({', '.join(parts)})"
