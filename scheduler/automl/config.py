"""``config_automl.json``: which handlers, executor and controller a run uses.

::

    {
      "handlers": [
        {"name": "MMARHandler",
         "args": {"num_mmars_to_keep": 3, "train_config_file": "{trainconf}"}},
        {"name": "MMARStatsHandler"}
      ],
      "executor": {"name": "MMARExecutor", "args": {"remove_search_augs": true}},
      "controller": {"name": "ReinforcementController", "args": {"max_rounds": 8}},
      "engine": {"job_poll_interval": 0.5}
    }

Each component is ``{"name": <built-in class>, "args": {...}}`` or ``{"path":
"module.Class", "args": {...}}`` for your own class (importable from ``PYTHONPATH`` or
the template folder); a component may carry both a ``name`` label and a ``path``, the
``path`` wins. A handler with ``"disabled": true`` is skipped. The optional ``engine``
object holds :class:`~scheduler.automl.engine.Engine` arguments.

``{name}`` placeholders in strings are filled from ``--set name=value``. A string that
is one placeholder and nothing else takes the value as JSON when it parses as a number,
true, false or null (``"max_rounds": "{rounds}"`` with ``--set rounds=8`` gives 8), else
as a string. A placeholder with no value, an unknown class name, a missing section or
an unknown argument is a ``ValueError`` naming the file, the JSON path and the rule.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from scheduler.automl.search_space import json_path

__all__ = [
    "BUILTIN_CONTROLLERS",
    "BUILTIN_EXECUTORS",
    "BUILTIN_HANDLERS",
    "AutomlConfig",
    "fill_placeholders",
    "load_automl_config",
]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

#: built-in class names -> "module:Class"
BUILTIN_HANDLERS = {
    "MMARHandler": "scheduler.automl.handlers.mmar:MMARHandler",
    "MMARStatsHandler": "scheduler.automl.handlers.stats:MMARStatsHandler",
    "StatsHandler": "scheduler.automl.handlers.stats:StatsHandler",
    "ResultsHandler": "scheduler.automl.handlers.results:ResultsHandler",
}
BUILTIN_EXECUTORS = {"MMARExecutor": "scheduler.automl.executors:MMARExecutor"}
BUILTIN_CONTROLLERS = {
    "ReinforcementController": "scheduler.automl.controllers:ReinforcementController",
    "SearcherController": "scheduler.automl.controllers:SearcherController",
    "HyperbandController": "scheduler.automl.controllers:HyperbandController",
}
_COMPONENT_KEYS = ("name", "path", "args", "disabled")
#: what the ``engine`` section may set
ENGINE_ARGS = (
    "job_poll_interval",
    "trace",
    "max_job_run_time",
    "max_sys_run_time",
    "admin_port",
    "abort_timeout",
    "admin_options",
)


@dataclass
class AutomlConfig:
    """The built components of a ``config_automl.json``."""

    handlers: list = field(default_factory=list)
    executor: Any = None
    controller: Any = None
    engine_args: dict = field(default_factory=dict)
    source: str = ""


def fill_placeholders(data: Any, variables: dict, *, location: str = "", keys: tuple = ()) -> Any:
    """A copy of ``data`` with ``{name}`` placeholders filled from ``variables``."""
    if isinstance(data, dict):
        return {
            k: fill_placeholders(v, variables, location=location, keys=(*keys, k))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [
            fill_placeholders(v, variables, location=location, keys=(*keys, i))
            for i, v in enumerate(data)
        ]
    if not isinstance(data, str):
        return data
    for name in _PLACEHOLDER.findall(data):
        if name not in variables:
            prefix = f"{location}: " if location else ""
            raise ValueError(
                f"{prefix}{json_path(keys)}: placeholder {{{name}}} has no value; "
                f"pass --set {name}=..."
            )
    whole = _PLACEHOLDER.fullmatch(data)
    if whole:
        value = str(variables[whole.group(1)])
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return value
        return parsed if parsed is None or isinstance(parsed, (bool, int, float)) else value
    return _PLACEHOLDER.sub(lambda m: str(variables[m.group(1)]), data)


def _import(target: str, what: str) -> Any:
    module_name, _, attr = target.rpartition(".") if ":" not in target else target.partition(":")
    if not module_name or not attr:
        raise ValueError(f"{what}: 'path' must be a dotted 'module.Class', got {target!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(
            f"{what}: cannot import module {module_name!r} of path {target!r} ({exc}); is it "
            "on PYTHONPATH or in the template folder?"
        ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"{what}: module {module_name!r} has no {attr!r}") from None


def _build(spec: Any, kind: str, builtins: dict, where: str) -> Any:
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: a {kind} must be an object {{name | path, args}}, got {spec!r}")
    unknown = [k for k in spec if k not in _COMPONENT_KEYS]
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; a {kind} has {list(_COMPONENT_KEYS)}")
    args = spec.get("args", {})
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ValueError(f"{where}.args: args must be an object, got {args!r}")
    if "path" in spec:
        if not isinstance(spec["path"], str):
            raise ValueError(f"{where}.path: must be a string 'module.Class', got {spec['path']!r}")
        cls = _import(spec["path"], f"{where}.path")
        label = spec["path"]
    elif "name" in spec:
        name = spec["name"]
        if name not in builtins:
            raise ValueError(
                f"{where}.name: unknown {kind} {name!r}; built-in {kind}s: "
                f"{', '.join(sorted(builtins))} (or give 'path': 'module.Class' for your own)"
            )
        cls = _import(builtins[name], f"{where}.name")
        label = name
    else:
        raise ValueError(f"{where}: a {kind} needs a 'name' (built-in) or a 'path' (your class)")
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        params = signature.parameters
        takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
        unknown = [a for a in args if a not in params]
        if unknown and not takes_kwargs:
            raise ValueError(
                f"{where}.args: {label} has no argument(s) {unknown}; it takes "
                f"{', '.join(n for n in params if n != 'self') or 'none'}"
            )
    try:
        return cls(**args)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: cannot build {label}: {exc}") from exc


def load_automl_config(
    path: str, variables: dict | None = None, *, search_path: list[str] | None = None
) -> AutomlConfig:
    """Read, fill and build a ``config_automl.json``.

    Parameters
    ----------
    path : str
        The file.
    variables : dict
        Placeholder values (``--set``).
    search_path : list of str, optional
        Folders added to ``sys.path`` for ``path`` components (the template folder).
    """
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except FileNotFoundError:
        raise ValueError(f"the AutoML config {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: $: must be a JSON object with handlers, executor, controller")
    unknown = [k for k in raw if k not in ("handlers", "executor", "controller", "engine")]
    if unknown:
        raise ValueError(
            f"{path}: $: unknown section(s) {unknown}; sections are handlers, executor, "
            "controller, engine"
        )
    for key in ("executor", "controller"):
        if key not in raw:
            raise ValueError(f"{path}: $.{key}: missing; config_automl.json needs an {key}")
    data = fill_placeholders(raw, dict(variables or {}), location=path)
    for folder in search_path or []:
        if folder not in sys.path:
            sys.path.insert(0, folder)
    handlers = []
    specs = data.get("handlers", [])
    if not isinstance(specs, list):
        raise ValueError(f"{path}: $.handlers: must be a list, got {specs!r}")
    for i, spec in enumerate(specs):
        if isinstance(spec, dict) and spec.get("disabled") is True:
            continue
        handlers.append(_build(spec, "handler", BUILTIN_HANDLERS, f"{path}: $.handlers[{i}]"))
    executor = _build(data["executor"], "executor", BUILTIN_EXECUTORS, f"{path}: $.executor")
    controller = _build(
        data["controller"], "controller", BUILTIN_CONTROLLERS, f"{path}: $.controller"
    )
    engine_args = data.get("engine", {})
    if not isinstance(engine_args, dict):
        raise ValueError(f"{path}: $.engine: must be an object of Engine arguments")
    unknown = [k for k in engine_args if k not in ENGINE_ARGS]
    if unknown:
        raise ValueError(
            f"{path}: $.engine: unknown Engine argument(s) {unknown}; allowed: "
            f"{', '.join(ENGINE_ARGS)}"
        )
    return AutomlConfig(handlers, executor, controller, dict(engine_args), path)
