"""Reading a ``ConfigSpace.ConfigurationSpace`` as a :class:`SearchSpace`.

AutoGluon's searchers take a ConfigSpace; ours take a :class:`SearchSpace` and convert a
ConfigSpace they are given (``pip install "scheduler[configspace]"`` for ConfigSpace
itself). Hyperparameters map one to one:

===============================  ==========================================
``UniformFloatHyperparameter``   ``Real(lower, upper, default, log)``
``UniformIntegerHyperparameter`` ``Int(lower, upper, default)`` (not ``log``)
``CategoricalHyperparameter``    ``Categorical(*choices)``, default first
``OrdinalHyperparameter``        ``Categorical(*sequence)``, default first
``Constant``                     a constant (not searched)
===============================  ==========================================

Anything this library cannot search exactly is refused with a ``ValueError`` naming
the hyperparameter: log-scale integers, normal and beta priors, weighted choices,
conditions and forbidden clauses. Nothing is ever dropped silently.
"""

from __future__ import annotations

from typing import Any

__all__ = ["from_configspace", "is_configspace"]


def is_configspace(value: Any) -> bool:
    """True for a ``ConfigSpace.ConfigurationSpace`` (checked without importing it)."""
    kind = type(value)
    return kind.__name__ == "ConfigurationSpace" and kind.__module__.startswith("ConfigSpace")


def _hyperparameters(cs: Any) -> list[Any]:
    getter = getattr(cs, "get_hyperparameters", None)
    if callable(getter) and not hasattr(cs, "values"):  # ConfigSpace < 1.0
        return list(getter())
    return list(cs.values())


def _clauses(cs: Any, new: str, old: str) -> list[Any]:
    value = getattr(cs, new, None)
    if value is None:
        value = getattr(cs, old)()
    return list(value() if callable(value) else value)


def _python(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) and type(value).__module__ == "numpy" else value


def _refuse(name: str, what: str) -> ValueError:
    return ValueError(
        f"ConfigSpace hyperparameter {name!r}: {what} cannot be searched by this library; "
        "change it in the ConfigurationSpace, or build a scheduler.space.SearchSpace"
    )


def _convert(hp: Any) -> Any:
    from scheduler._space.domains import Categorical, Int, Real

    kind = type(hp).__name__
    name = hp.name
    if kind == "Constant":
        return _python(hp.value)
    if kind == "UniformFloatHyperparameter":
        return Real(float(hp.lower), float(hp.upper), float(hp.default_value), bool(hp.log))
    if kind == "UniformIntegerHyperparameter":
        if hp.log:
            raise _refuse(name, "a log-scale integer (log=True)")
        return Int(int(hp.lower), int(hp.upper), int(hp.default_value))
    if kind in ("CategoricalHyperparameter", "OrdinalHyperparameter"):
        values = [_python(v) for v in (hp.choices if kind.startswith("Cat") else hp.sequence)]
        weights = getattr(hp, "weights", None)
        if weights is not None and len(set(float(w) for w in weights)) > 1:
            raise _refuse(name, f"a weighted choice (weights={list(weights)})")
        default = _python(hp.default_value)
        ordered = [default] + [v for v in values if v != default]
        return Categorical(*ordered)
    raise _refuse(name, f"a {kind}")


def from_configspace(cs: Any) -> Any:
    """The :class:`SearchSpace` of a ConfigurationSpace; ValueError for anything that
    cannot be searched exactly (see the module docstring)."""
    from scheduler._space.search_space import SearchSpace

    if not is_configspace(cs):
        raise ValueError(f"expected a ConfigSpace.ConfigurationSpace, got {cs!r}")
    conditions = _clauses(cs, "conditions", "get_conditions")
    if conditions:
        raise ValueError(
            f"ConfigurationSpace has {len(conditions)} condition(s) ({conditions[0]}); "
            "conditional hyperparameters cannot be read as a flat SearchSpace: express "
            "them with a Categorical of spaces"
        )
    forbidden = _clauses(cs, "forbidden_clauses", "get_forbiddens")
    if forbidden:
        raise ValueError(
            f"ConfigurationSpace has {len(forbidden)} forbidden clause(s) ({forbidden[0]}); "
            "forbidden combinations cannot be searched by this library"
        )
    return SearchSpace({hp.name: _convert(hp) for hp in _hyperparameters(cs)})
