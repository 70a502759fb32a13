"""Searchable objects: ``@obj`` on a class, ``@func`` on a function.

::

    @space.obj(lr=space.Real(1e-4, 1e-1, log=True), momentum=0.9)
    class SGD:
        def __init__(self, lr, momentum): ...

    @args(optimizer=SGD())           # SGD() is a space, not an instance
    def train_fn(args, reporter):
        args.optimizer               # an SGD built with this task's lr

Calling the decorated class (or function) gives a :class:`ObjectSpace`: its keyword
arguments are the decorator's, overridden by the call's (constants or spaces);
positional arguments are passed as they are. The config holds the searched arguments
(``{"lr": 0.01}``); building it calls the class (or function) with them and the
constants, once per task, in the task's process.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from scheduler._space.base import Path, Space, at_path, contains_space
from scheduler._space.nested import product_at, product_grid, product_index, product_size, to_space

__all__ = ["ObjectSpace", "SearchableCallable", "func", "obj"]


def _copy(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001 - locks, open files, ...: share the object
        return value


def _target_name(target: Callable[..., Any]) -> str:
    module = getattr(target, "__module__", None) or "?"
    return f"{module}.{getattr(target, '__qualname__', repr(target))}"


class ObjectSpace(Space):
    """The space of the objects ``target(*args, **kwargs)``, searched over the keyword
    arguments that are spaces.

    Parameters
    ----------
    target : callable
        A class (``kind='obj'``) or a function (``kind='func'``).
    args : tuple
        Positional arguments, passed as given (they may not hold spaces).
    kwargs : dict
        Keyword arguments: spaces (searched) or constants (deep-copied per task).
    kind : {'obj', 'func'}
    """

    def __init__(
        self,
        target: Callable[..., Any],
        args: tuple = (),
        kwargs: Mapping[str, Any] | None = None,
        kind: str = "obj",
    ):
        if not callable(target):
            raise ValueError(f"{kind}: the decorated object must be callable, got {target!r}")
        if kind not in ("obj", "func"):
            raise ValueError(f"kind must be 'obj' or 'func', got {kind!r}")
        for i, arg in enumerate(args):
            if contains_space(arg):
                raise ValueError(
                    f"{_target_name(target)}: positional argument {i} holds a search space; "
                    "pass searchable arguments by keyword"
                )
        self.target = target
        self.kind = kind
        self.args = tuple(args)
        self._kwargs = {key: to_space(value) for key, value in (kwargs or {}).items()}
        self._spaces = {k: v for k, v in sorted(self._kwargs.items()) if isinstance(v, Space)}
        self._keys = tuple(self._spaces)
        self._nodes = list(self._spaces.values())

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments as given (spaces and constants), a new dict."""
        return dict(self._kwargs)

    @property
    def kwspaces(self) -> dict[str, Space]:
        """The searched keyword arguments (AutoGluon's name)."""
        return dict(self._spaces)

    def default_config(self) -> dict[str, Any]:
        return {key: space.default_config() for key, space in self._spaces.items()}

    def sample_config(self, rng: np.random.Generator) -> dict[str, Any]:
        return {key: space.sample_config(rng) for key, space in self._spaces.items()}

    def normalize(self, config: Any, path: Path = ()) -> dict[str, Any]:
        if not isinstance(config, Mapping) or set(config) != set(self._keys):
            raise ValueError(
                f"{at_path(path)}the config of {_target_name(self.target)} must be a dict "
                f"with the keys {list(self._keys)}, got {config!r}"
            )
        return {
            key: space.normalize(config[key], (*path, key)) for key, space in self._spaces.items()
        }

    def build(self, config: Any) -> Any:
        if not isinstance(config, Mapping):
            return config  # an object given directly, or built already
        kwargs = {}
        for key, entry in self._kwargs.items():
            if isinstance(entry, Space):
                kwargs[key] = entry.build(config[key] if key in config else entry.default_config())
            else:
                kwargs[key] = _copy(entry)
        return self.target(*_copy(self.args), **kwargs)

    @property
    def default(self) -> Any:
        """The object built from the default config."""
        return self.build(self.default_config())

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
        return {
            "type": self.kind,
            "target": _target_name(self.target),
            "kwargs": {key: space.fingerprint() for key, space in self._spaces.items()},
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ObjectSpace):
            return NotImplemented
        return self.target is other.target and self.fingerprint() == other.fingerprint()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self._kwargs.items()]
        name = getattr(self.target, "__qualname__", repr(self.target))
        return f"{self.kind}:{name}({', '.join(parts)})"


class SearchableCallable:
    """A class or function decorated with :func:`obj` / :func:`func`.

    Calling it gives an :class:`ObjectSpace` (not an instance): the decorator's keyword
    arguments overridden by the call's. The undecorated callable is :attr:`target`
    (also ``__wrapped__``); ``isinstance(x, Decorated)`` tests for an instance of it.
    """

    def __init__(self, target: Callable[..., Any], kwvars: Mapping[str, Any], kind: str):
        if not callable(target):
            raise ValueError(f"{kind}() must decorate a callable, got {target!r}")
        functools.update_wrapper(self, target, updated=())
        self.target = target
        self.kind = kind
        self.kwvars = dict(kwvars)

    @property
    def kwspaces(self) -> dict[str, Any]:
        """The searchable keyword arguments of the decorator."""
        return {k: v for k, v in self.kwvars.items() if contains_space(v)}

    def __call__(self, *args: Any, **kwargs: Any) -> ObjectSpace:
        return ObjectSpace(self.target, args, {**self.kwvars, **kwargs}, kind=self.kind)

    # ``isinstance(args.optimizer, SGD)`` works with the decorated name of a class.
    def __instancecheck__(self, instance: Any) -> bool:
        return isinstance(self.target, type) and isinstance(instance, self.target)

    def __subclasscheck__(self, subclass: Any) -> bool:
        return isinstance(self.target, type) and issubclass(subclass, self.target)

    def __repr__(self) -> str:
        return f"<searchable {self.kind} {_target_name(self.target)}>"


def _decorator(kind: str, target: Any, kwvars: dict[str, Any]) -> Any:
    if target is not None:  # bare @obj / @func
        return SearchableCallable(target, {}, kind)
    return lambda fn: SearchableCallable(fn, kwvars, kind)


def obj(_target: Any = None, /, **kwvars: Any) -> Any:
    """Decorate a class whose constructor arguments are searchable.

    ``@obj(name=Categorical('a', 'b'))`` on ``class Net``: ``Net()`` is then a space; a
    task gets ``Net(name=...)`` built with its config. ``@obj`` without arguments works
    too (the spaces are then given when calling: ``Net(name=Categorical(...))``).
    """
    return _decorator("obj", _target, kwvars)


def func(_target: Any = None, /, **kwvars: Any) -> Any:
    """Decorate a function whose arguments are searchable: ``fn()`` is a space, a task
    gets ``fn(**its config)``'s return value."""
    return _decorator("func", _target, kwvars)
