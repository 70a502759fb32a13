"""Execution backends behind one interface (:class:`Backend`): start a task, carry its
reports both ways, cancel it, and say exactly once how it ended.

May import the rest of the runtime and the shared modules; no policy.
"""

from __future__ import annotations

from typing import Any

from scheduler.runtime.backends.base import Backend, OnEnd, OnReport

__all__ = ["BACKENDS", "SYNCHRONOUS", "Backend", "make_backend"]

#: backend name -> "module:class", imported on first use
BACKENDS = {
    "thread": "scheduler.runtime.backends.thread:ThreadBackend",
    "process": "scheduler.runtime.backends.process:ProcessBackend",
    "subprocess": "scheduler.runtime.backends.subprocess:SubprocessBackend",
    "command": "scheduler.runtime.backends.command:CommandBackend",
    "simulated": "scheduler.runtime.backends.simulated:SimulatedBackend",
    "ray": "scheduler.runtime.backends.ray:RayBackend",
}

#: backends that own the clock and drive the run on one thread (Runner.run_inline)
SYNCHRONOUS = frozenset({"simulated"})


def make_backend(
    name: str, train_fn: Any, on_report: OnReport, on_end: OnEnd, **options: Any
) -> Backend:
    """Build a backend by name (a key of :data:`BACKENDS`); ``options`` are passed to
    its constructor (the Ray backend's ``resources`` and ``pin_configs``)."""
    import importlib

    target = BACKENDS.get(name)
    if target is None:
        raise ValueError(f"backend must be one of {sorted(BACKENDS)}, got {name!r}")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)(train_fn, on_report, on_end, **options)
