"""Leaf domains: the values one hyperparameter may take.

- :class:`Real` -- a float in ``[lower, upper]``, optionally on a log scale;
- :class:`Int` -- an integer in ``[lower, upper]`` (both ends included);
- :class:`Categorical` -- one of a list of choices: Python values, objects, or spaces;
- :class:`Bool` -- ``Categorical(False, True)``.

Every domain has an encoding into ``[0, 1]`` (:meth:`Domain.to_unit` and
:meth:`Domain.from_unit`): linear (or logarithmic) for :class:`Real`, the centre of the
value's bin for :class:`Int` and :class:`Categorical`. These work on the domain's own
values (for a Categorical, the choice objects themselves); :meth:`Domain.to_config` and
:meth:`Domain.from_config` convert them to and from the JSON data a config holds.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from scheduler._space._canonical import canonical, canonical_key, dumps, is_json_data, json_form
from scheduler._space._checks import integer as _integer
from scheduler._space._checks import num_points as _num_points
from scheduler._space._checks import real_number as _real_number
from scheduler._space._checks import unit as _unit
from scheduler._space.base import Path, Space, at_path

__all__ = ["Bool", "Categorical", "Domain", "Int", "Real"]

# The largest Int cardinality numpy's integer generator can draw from.
_MAX_INT_CARDINALITY = 2**63 - 1

_MISSING: Any = object()


class Domain(Space):
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

    # -- config level: a leaf's config is the JSON form of its value ---------------------

    def to_config(self, value: Any) -> Any:
        """The config (JSON data) that stands for the domain value ``value``."""
        raise NotImplementedError

    def from_config(self, config: Any) -> Any:
        """The domain value a config stands for; ValueError if it is not a config."""
        raise NotImplementedError

    def default_config(self) -> Any:
        return self.to_config(self.default)

    def sample_config(self, rng: np.random.Generator) -> Any:
        return self.to_config(self.sample(rng))

    def normalize(self, config: Any, path: Path = ()) -> Any:
        try:
            return self.to_config(self.from_config(config))
        except ValueError as exc:
            raise ValueError(f"{at_path(path)}{exc}") from None

    def build(self, config: Any) -> Any:
        return config

    @property
    def needs_build(self) -> bool:
        return False

    @property
    def size(self) -> int | None:
        return self.cardinality

    def config_at(self, index: int) -> Any:
        return self.to_config(self.value_at(index))

    def config_index(self, config: Any) -> int:
        return self.index_of(self.from_config(config))

    def grid_configs(self, num_points: int) -> list[Any]:
        return [self.to_config(value) for value in self.grid(num_points)]

    def leaves(self, path: Path = ()) -> list[tuple[Path, Domain]]:
        return [(tuple(path), self)]

    def _leaf_values(self, config: Any, path: Path, out: dict) -> None:
        out[tuple(path)] = self.from_config(config)

    def config_from_leaf_values(self, values: Mapping[Path, Any], path: Path = ()) -> Any:
        value = values.get(tuple(path), _MISSING)
        return self.default_config() if value is _MISSING else self.to_config(value)

    def _identity(self) -> str:
        return dumps([self.fingerprint(), canonical(self.default)])

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

    def sample_config(self, rng: np.random.Generator) -> float:
        # from_unit(rng.random()) inlined (t is a float in [0, 1)); the value is a float
        # clipped to [lower, upper]: its own config
        t = rng.random()
        a, b = self._ends
        x = a * (1.0 - t) + b * t
        if self._log:
            x = self._lower if t == 0.0 else 10.0**x
        return min(max(x, self._lower), self._upper)

    def contains(self, value: Any) -> bool:
        if type(value) is float or type(value) is int:  # the common case: no ABC check
            return self._lower <= value <= self._upper
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

    def to_config(self, value: Any) -> float:
        if not self.contains(value):
            raise ValueError(
                f"Real: value must be a number within [{self._lower!r}, {self._upper!r}], "
                f"got {value!r}"
            )
        return float(value)

    def from_config(self, config: Any) -> float:
        return self.to_config(config)

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

    def to_config(self, value: Any) -> int:
        return self._check("config", value)

    def from_config(self, config: Any) -> int:
        return self._check("config", config)

    def fingerprint(self) -> dict[str, Any]:
        return {"type": "Int", "lower": self._lower, "upper": self._upper}

    def __repr__(self) -> str:
        parts = [f"lower={self._lower!r}", f"upper={self._upper!r}"]
        if self._default_given:
            parts.append(f"default={self._default!r}")
        return f"Int({', '.join(parts)})"


_TAG = "choice"
_TAG_VALUE = "value"
_NO_FORM: Any = object()  # a choice written as its index tag


def _tag_shaped(data: Any) -> bool:
    """A dict that reads as a choice tag ``{"choice": i}`` / ``{"choice": i, "value": v}``."""
    return isinstance(data, dict) and _TAG in data and set(data) <= {_TAG, _TAG_VALUE}


class Categorical(Domain):
    """One of the given choices: Python values (lists, dicts, objects) or search spaces.

    ``Categorical('a', 'b')`` has two choices; as in AutoGluon, a single list argument
    is a single choice (``Categorical([1, 2])`` always gives ``[1, 2]``; spread it with
    ``Categorical(*[1, 2])`` for two). The default is the first choice. Choices must be
    distinct (``1``, ``1.0`` and ``True`` count as distinct). A choice may be a space
    (``Categorical('relu', Categorical('tanh', 'sigmoid'))``, a ``Dict``, a searchable
    object of ``@obj``; a dict or list holding spaces is a ``Dict`` / ``List``): picking
    it searches that space too.

    Values are compared by their canonical JSON form (:func:`canonical`), then by
    identity, so unhashable choices work. :meth:`sample`, :meth:`from_unit` and
    :meth:`value_at` return the choice object itself, not a copy. The unit encoding maps
    choice ``i`` of ``n`` to ``(i + 0.5) / n``.

    **Configs.** A choice that is JSON data (``None``, bool, int, finite float, str, and
    lists and str-keyed dicts of those) is its own config; a tuple of such data is the
    list of it (the task still gets the tuple). Any other choice has the config
    ``{"choice": i}`` (its index), and a choice that is a space has
    ``{"choice": i, "value": <config of that space>}``. So configs are always JSON data,
    and a task gets the choice itself (a copy of an object choice, or the space's built
    value).
    """

    def __init__(self, *data: Any):
        if not data:
            raise ValueError("Categorical: data must hold at least one choice, got no choices")
        from scheduler._space.nested import to_space

        data = tuple(to_space(choice) for choice in data)
        keys: dict[str, list[int]] = {}
        for i, choice in enumerate(data):
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
        self._branch = tuple(isinstance(choice, Space) for choice in data)
        self._forms, self._form_index = self._config_forms()

    def _config_forms(self) -> tuple[list[Any], dict[str, int]]:
        """The config of each choice that is not a space (_NO_FORM: tagged by index)."""
        forms: list[Any] = [_NO_FORM] * len(self._data)
        taken: dict[str, int] = {}
        # JSON data first, so that a tuple never takes the form of a list choice.
        for exact in (True, False):
            for i, choice in enumerate(self._data):
                if self._branch[i] or forms[i] is not _NO_FORM or is_json_data(choice) != exact:
                    continue
                ok, data = json_form(choice)
                if not ok or _tag_shaped(data):
                    continue
                key = canonical_key(data)
                if key in taken:
                    continue
                taken[key] = i
                forms[i] = choice if exact else data
        return forms, taken

    # -- the domain's values -------------------------------------------------------------

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

    @property
    def has_spaces(self) -> bool:
        """True when some choice is a space (its leaves sit under this one's path)."""
        return any(self._branch)

    # -- configs -------------------------------------------------------------------------

    def _form_of(self, index: int) -> Any:
        form = self._forms[index]
        return {_TAG: index} if form is _NO_FORM else form

    def _config_choice(self, config: Any) -> int:
        """The index of the choice a config stands for (ValueError if none)."""
        if _tag_shaped(config):
            index = config[_TAG]
            if (
                isinstance(index, bool)
                or not isinstance(index, numbers.Integral)
                or not 0 <= int(index) < len(self._data)
            ):
                raise ValueError(
                    f"{self!r}: a choice tag needs an index within [0, {len(self._data)}), "
                    f"got {config!r}"
                )
            index = int(index)
            if self._branch[index] and _TAG_VALUE not in config:
                raise ValueError(
                    f"{self!r}: choice {index} is a space, its config needs a "
                    f"{_TAG_VALUE!r}, got {config!r}"
                )
            return index
        try:
            index = self._form_index.get(canonical_key(config))
        except Exception:  # noqa: BLE001 - a repr that raises: not a config
            index = None
        if index is None:
            # A choice object given directly (an override) stands for itself.
            index = self._find(config)
            if index is None or self._branch[index]:
                raise ValueError(f"{self!r}: value must be one of the choices, got {config!r}")
        return index

    def to_config(self, value: Any) -> Any:
        index = self.index_of(value)
        if self._branch[index]:
            return {_TAG: index, _TAG_VALUE: self._data[index].default_config()}
        return self._form_of(index)

    def from_config(self, config: Any) -> Any:
        return self._data[self._config_choice(config)]

    def default_config(self) -> Any:
        return self._choice_config(0, None)

    def _choice_config(self, index: int, sub: Any) -> Any:
        if not self._branch[index]:
            return self._form_of(index)
        choice = self._data[index]
        return {_TAG: index, _TAG_VALUE: choice.default_config() if sub is None else sub}

    def sample_config(self, rng: np.random.Generator) -> Any:
        index = int(rng.integers(len(self._data)))
        if self._branch[index]:
            return {_TAG: index, _TAG_VALUE: self._data[index].sample_config(rng)}
        return self._form_of(index)

    def normalize(self, config: Any, path: Path = ()) -> Any:
        try:
            index = self._config_choice(config)
        except ValueError as exc:
            raise ValueError(f"{at_path(path)}{exc}") from None
        if self._branch[index]:
            sub = self._data[index].normalize(config[_TAG_VALUE], (*path, index))
            return {_TAG: index, _TAG_VALUE: sub}
        return self._form_of(index)

    def build(self, config: Any) -> Any:
        try:
            index = self._config_choice(config)
        except ValueError:
            return config  # not a config of this domain: an override passes through
        choice = self._data[index]
        if self._branch[index]:
            return choice.build(config[_TAG_VALUE])
        if self._forms[index] is choice:
            return config  # JSON data: the config is (a copy of) the choice
        try:
            return copy.deepcopy(choice)  # each task its own copy, as for any argument
        except Exception:  # noqa: BLE001 - locks, open files, ...: share the object
            return choice

    @property
    def needs_build(self) -> bool:
        return any(form is not choice for form, choice in zip(self._forms, self._data))

    @property
    def size(self) -> int | None:
        total = 0
        for choice, branch in zip(self._data, self._branch):
            n = choice.size if branch else 1
            if n is None:
                return None
            total += n
        return total

    def config_at(self, index: int) -> Any:
        size = self.size
        if size is None or not 0 <= index < size:
            raise ValueError(f"index must be within [0, {size}), got {index!r}")
        for i, (choice, branch) in enumerate(zip(self._data, self._branch)):
            n = choice.size if branch else 1
            if index < n:
                return self._choice_config(i, choice.config_at(index) if branch else None)
            index -= n
        raise ValueError(f"index must be within [0, {size}), got {index!r}")  # unreachable

    def config_index(self, config: Any) -> int:
        chosen = self._config_choice(config)
        offset = 0
        for i in range(chosen):
            offset += self._data[i].size if self._branch[i] else 1
        if self._branch[chosen]:
            return offset + self._data[chosen].config_index(config[_TAG_VALUE])
        return offset

    def grid_configs(self, num_points: int) -> list[Any]:
        _num_points(f"{type(self).__name__}.grid", num_points)
        configs: list[Any] = []
        for i, (choice, branch) in enumerate(zip(self._data, self._branch)):
            if branch:
                configs += [{_TAG: i, _TAG_VALUE: sub} for sub in choice.grid_configs(num_points)]
            else:
                configs.append(self._form_of(i))
        return configs

    def leaves(self, path: Path = ()) -> list[tuple[Path, Domain]]:
        out: list[tuple[Path, Domain]] = [(tuple(path), self)]
        for i, (choice, branch) in enumerate(zip(self._data, self._branch)):
            if branch:
                out += choice.leaves((*path, i))
        return out

    def _leaf_values(self, config: Any, path: Path, out: dict) -> None:
        index = self._config_choice(config)
        out[tuple(path)] = self._data[index]
        if self._branch[index]:
            self._data[index]._leaf_values(config[_TAG_VALUE], (*path, index), out)

    def config_from_leaf_values(self, values: Mapping[Path, Any], path: Path = ()) -> Any:
        value = values.get(tuple(path), _MISSING)
        index = 0 if value is _MISSING else self.index_of(value)
        if self._branch[index]:
            sub = self._data[index].config_from_leaf_values(values, (*path, index))
            return {_TAG: index, _TAG_VALUE: sub}
        return self._form_of(index)

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
