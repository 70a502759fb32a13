"""The ``@args`` decorator, the ``Args`` namespace and the task-argument helpers.

``@scheduler.args(...)`` declares a training function's arguments, as AutoGluon's
``@ag.args`` does::

    @scheduler.args(lr=space.Real(1e-3, 1e-2, log=True), epochs=10)
    def train_fn(args, reporter):
        ...

    train_fn.args.epochs     # 10: the defaults, a space replaced by its default
    train_fn.space           # SearchSpace(lr=Real(...)): the searchable entries
    train_fn.kwvars          # {'lr': Real(...), 'epochs': 10}: as given

The runtime builds each task's ``args`` with :func:`make_task_args` (the defaults,
overlaid with the config, plus ``task_id``, ``config_id``, ``scheduler.resume_from`` and
``gpu_ids``); in the task's own process or thread, :func:`build_task_args` turns the
nested configs in it into values (a ``Dict`` into an :class:`Args`, a searchable object
into the object) and the task calls ``train_fn(args, reporter)``. Undecorated functions are accepted
too: :func:`get_space` and :func:`get_defaults` give them an empty space and no defaults.
"""

from __future__ import annotations

import argparse
import copy
import functools
import importlib
import sys
from collections.abc import (
    Callable,
    Iterable,
    Mapping,
)
from typing import Any

from scheduler._args import Args
from scheduler.space import Domain, SearchSpace, Space, contains_space, to_space

__all__ = [
    "RESERVED_NAMES",
    "Args",
    "TrainFunction",
    "args",
    "build_task_args",
    "get_defaults",
    "get_space",
    "make_task_args",
]

#: Names the runtime sets on every task's args; a train function may not declare them.
RESERVED_NAMES = frozenset({"task_id", "config_id", "scheduler", "gpu_ids"})


def _entries(value: Any, what: str) -> dict[str, Any]:
    """A dict from a mapping, an Args or an argparse.Namespace, with checked names."""
    if value is None:
        entries: dict[Any, Any] = {}
    elif isinstance(value, Args):
        entries = dict(value.items())
    elif isinstance(value, Mapping):
        entries = dict(value)
    elif isinstance(value, argparse.Namespace):
        entries = dict(vars(value))
    else:
        raise ValueError(f"{what} must be a dict or an argparse.Namespace, got {value!r}")
    for name in entries:
        if not isinstance(name, str):
            raise ValueError(f"{what}: argument names must be strings, got {name!r}")
        if name in RESERVED_NAMES:
            raise ValueError(
                f"{what}: {name!r} is reserved (the scheduler sets args.{name} on every task; "
                f"reserved names: {', '.join(sorted(RESERVED_NAMES))}), rename the argument"
            )
    return entries


def _default_of(value: Any) -> Any:
    """The default of an argument: a leaf domain's default value, a nested space's
    default config (nothing is constructed at decoration time), or the constant."""
    value = to_space(value)
    if isinstance(value, Domain) and not getattr(value, "has_spaces", False):
        return value.default
    if isinstance(value, Space):
        return value.default_config()
    return value


class TrainFunction:
    """A training function decorated with :func:`args`.

    Calling it calls the wrapped function unchanged: ``train_fn(args, reporter)``.

    Attributes
    ----------
    args : Args
        The defaults: ``default`` overlaid with the keyword arguments, each search space
        replaced by its default value.
    space : SearchSpace
        The searchable entries: those whose value is a space (a domain, a ``Dict``,
        ``List`` or searchable object), or a dict or list holding one (a nested space).
    kwvars : dict
        The keyword arguments as given (and as changed by :meth:`update`).
    default : dict
        The ``default`` argument of the decorator, as a dict.
    fn : callable
        The undecorated function (also ``__wrapped__``).

    It pickles with cloudpickle, closures included, and with plain pickle when it is
    reachable by name in an importable module; changes made by :meth:`update` survive.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        default: Mapping[str, Any] | None = None,
        kwvars: Mapping[str, Any] | None = None,
    ):
        if not callable(fn):
            raise ValueError(f"args() must decorate a callable, got {fn!r}")
        functools.update_wrapper(self, fn, updated=())
        self.fn = fn
        self.default = _entries(default, "args(default=...)")
        self.kwvars: dict[str, Any] = {}
        self.args = Args({k: _default_of(v) for k, v in self.default.items()})
        self.space = SearchSpace()
        self.update(**(kwvars or {}))

    def update(self, **kwvars: Any) -> TrainFunction:
        """Add or replace arguments (search spaces or constants); returns the function.

        Entries of :attr:`args` that are not named keep their current value, including
        any change made to them directly.
        """
        kwvars = _entries(kwvars, "update()")
        self.kwvars.update(kwvars)
        for name, value in kwvars.items():
            self.args[name] = _default_of(value)
        merged = {**self.default, **self.kwvars}
        self.space = SearchSpace({k: v for k, v in merged.items() if contains_space(v)})
        return self

    @property
    def kwspaces(self) -> dict[str, Space]:
        """The searchable entries, ``{name: domain}`` (AutoGluon's name)."""
        return dict(self.space.domains)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        entries = ", ".join(f"{k}={v!r}" for k, v in {**self.default, **self.kwvars}.items())
        # the wrapped callable's name (a functools.partial or a callable object has none)
        name = getattr(self.fn, "__qualname__", None) or repr(self.fn)
        return f"<train function {name}({entries})>"

    def __reduce__(self) -> tuple[Any, ...]:
        state = (self.default, self.kwvars, dict(self.args.items()))
        reference = _importable_name(self)
        if reference is not None:
            return (_load_by_name, (*reference, *state))
        # cloudpickle pickles self.fn by value when it is not importable by name
        # (closures, __main__, and module functions whose name is bound to self).
        return (_rebuild, (self.fn, *state))


def _importable_name(obj: TrainFunction) -> tuple[str, str] | None:
    """(module, qualname) when ``obj`` is what that name resolves to, outside __main__."""
    module_name = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module_name or not qualname or module_name == "__main__" or "<locals>" in qualname:
        return None
    target: Any = sys.modules.get(module_name)
    for part in qualname.split("."):
        target = getattr(target, part, None)
    return (module_name, qualname) if target is obj else None


def _rebuild(
    fn: Callable[..., Any], default: dict[str, Any], kwvars: dict[str, Any], values: dict[str, Any]
) -> TrainFunction:
    train_fn = TrainFunction(fn, default, kwvars)
    train_fn.args = Args(values)
    return train_fn


def _load_by_name(
    module_name: str,
    qualname: str,
    default: dict[str, Any],
    kwvars: dict[str, Any],
    values: dict[str, Any],
) -> TrainFunction:
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    fn = target.fn if isinstance(target, TrainFunction) else target
    return _rebuild(fn, default, kwvars, values)


def args(
    default: Mapping[str, Any] | argparse.Namespace | Callable[..., Any] | None = None,
    **kwvars: Any,
) -> Any:
    """Decorate a training function with its default arguments and search spaces.

    Parameters
    ----------
    default : dict, argparse.Namespace or callable, optional
        Defaults, overridden by the keyword arguments.
    **kwvars
        ``name=value``: a constant, or a space to search (a domain, a ``Dict``, ``List``
        or searchable object, or a dict or list holding spaces: a nested space).

    Returns
    -------
    A decorator returning a :class:`TrainFunction`. ``@args`` without parentheses is
    accepted too.

    Raises
    ------
    ValueError
        For a reserved name (``task_id``, ``config_id``, ``scheduler``, ``gpu_ids``,
        which the scheduler sets on every task) or a non-string name.

    Examples
    --------
    >>> from scheduler import space
    >>> @args(lr=space.Real(1e-3, 1e-2, log=True), epochs=10)
    ... def train_fn(args, reporter):
    ...     pass
    >>> train_fn.args.epochs
    10
    """
    if callable(default) and not isinstance(default, (Mapping, argparse.Namespace)) and not kwvars:
        return TrainFunction(default)  # bare @args
    default = _entries(default, "args(default=...)")
    kwvars = _entries(kwvars, "args()")

    def decorate(fn: Callable[..., Any]) -> TrainFunction:
        if isinstance(fn, TrainFunction):  # stacked decorators: merge, outer wins
            merged = {**fn.default, **fn.kwvars, **default}
            return TrainFunction(fn.fn, merged, kwvars)
        return TrainFunction(fn, default, kwvars)

    return decorate


def _unwrap(train_fn: Any) -> Any:
    while isinstance(train_fn, functools.partial):
        train_fn = train_fn.func
    return train_fn


def get_space(train_fn: Callable[..., Any]) -> SearchSpace:
    """The search space of a decorated function; an empty space for any other callable."""
    space = getattr(_unwrap(train_fn), "space", None)
    return space if isinstance(space, SearchSpace) else SearchSpace()


def get_defaults(train_fn: Callable[..., Any]) -> dict[str, Any]:
    """A copy of ``train_fn.args`` as a dict; ``{}`` for an undecorated function."""
    defaults = getattr(_unwrap(train_fn), "args", None)
    if isinstance(defaults, (Args, Mapping)):
        return dict(defaults.items())
    if isinstance(defaults, argparse.Namespace):
        return dict(vars(defaults))
    return {}


def _task_copy(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001 - locks, open files, ...: share the object
        return value


def make_task_args(
    train_fn: Callable[..., Any],
    config: Mapping[str, Any],
    *,
    task_id: int,
    config_id: int,
    resume_from: int | None = None,
    gpu_ids: Iterable[int] = (),
) -> Args:
    """The ``args`` of one task: the defaults overlaid with ``config``, plus task info.

    Every value is deep-copied (as AutoGluon does), so a task that mutates its args
    does not affect other tasks; values that cannot be deep-copied are shared.

    Parameters
    ----------
    train_fn : callable
        Decorated or not.
    config : mapping
        ``{name: value}`` for the searched hyperparameters; it may also override
        constants, or add names the function did not declare.
    task_id, config_id : int
        Set as ``args.task_id`` and ``args.config_id`` (stable across promotions).
    resume_from : int or None
        Set as ``args.scheduler.resume_from``: the rung level a promoted config resumes
        from, or None for a fresh start.
    gpu_ids : iterable of int
        Set as ``args.gpu_ids`` (a list).
    """
    if not isinstance(config, Mapping):
        raise ValueError(f"config must be a mapping of names to values, got {config!r}")
    overrides = _entries(config, "config")
    values = {**get_defaults(train_fn), **overrides}
    task_args = Args({name: _task_copy(value) for name, value in values.items()})
    task_args.task_id = task_id
    task_args.config_id = config_id
    task_args.scheduler = Args(resume_from=resume_from)
    task_args.gpu_ids = [int(gpu) for gpu in gpu_ids]
    return task_args


def build_task_args(train_fn: Callable[..., Any], task_args: Args) -> Args:
    """``task_args`` with the nested configs of ``train_fn``'s space built (in place).

    Called on the task side, right before ``train_fn(args, reporter)``: a ``Dict``'s
    config becomes an :class:`Args`, a ``List``'s a list, a searchable object's the
    object (constructed here, once per task), a Categorical's choice that is not JSON
    data the choice itself. Plain numbers and JSON choices are left as they are, and so
    is any value that is not in config form (an override given directly).
    """
    space = get_space(train_fn)
    if not space.needs_build:
        return task_args
    for name, value in space.build({n: task_args[n] for n in space if n in task_args}).items():
        task_args[name] = value
    return task_args
