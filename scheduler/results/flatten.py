"""One row per report with its config: the flattening that ``results.csv``,
``results.jsonl``, ``scheduler.results()`` and the plot legends share.

A config's entries become ``config.<name>`` keys; a nested config (a ``Dict``, a
searchable object, a Categorical's ``{"choice": i, "value": ...}``) is flattened with
dotted names -- ``config.opt.lr``, ``config.net.choice``, ``config.net.value.depth`` --
so that every leaf hyperparameter is a column of its own. Lists (a ``List`` space's
config, a list choice) stay one value: their positions are not names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["CONFIG_PREFIX", "flatten_config", "flatten_values"]

CONFIG_PREFIX = "config."


def flatten_values(config: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """``config`` with nested dicts flattened into dotted keys (``{"opt": {"lr": 1}}`` ->
    ``{"opt.lr": 1}``); an empty nested dict stays a value. Keys are made strings."""
    flat: dict[str, Any] = {}
    for name, value in (config or {}).items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_values(value, f"{key}."))
        else:
            flat[key] = value
    return flat


def flatten_config(row: Mapping[str, Any], config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return a new dict: ``row``'s items, then ``config`` as ``config.<dotted name>``
    items. A key the row already has is not overwritten by a config item."""
    flat = dict(row)
    for key, value in flatten_values(config, CONFIG_PREFIX).items():
        flat.setdefault(key, value)
    return flat
