"""The context the engine's components share (Clara's ``automl.defs.Context``).

One main context per run; one child per job, which sees its parent's properties and
keeps its own. Properties may be read and written from any thread. A stop request
(:meth:`Context.stop_work`) made on any context reaches the root, where the engine
sees it; the first request's message is kept.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["Context"]

log = logging.getLogger("scheduler.automl")

_MISSING = object()


def _issuer_name(issuer: Any) -> str:
    if issuer is None:
        return "unknown"
    if isinstance(issuer, str):
        return issuer
    return type(issuer).__name__


class Context:
    """Properties shared across components, a stop request, and a trace.

    Parameters
    ----------
    parent : Context, optional
        A child context reads its parent's properties when it has none of its own
        (:meth:`get_prop`); :meth:`set_prop` always sets on this context.
    """

    def __init__(self, parent: Context | None = None):
        if parent is not None and not isinstance(parent, Context):
            raise ValueError(f"parent must be a Context or None, got {parent!r}")
        self.parent = parent
        self._props: dict[str, Any] = {}
        self._lock = threading.Lock()
        # root-only state
        self._stop_message: str | None = None
        self._stop_issuer: str | None = None
        self._stop_listeners: list[Callable[[], None]] = []
        self._exceptions: list[tuple[str, str]] = []
        self._trace: TextIO | None = None
        self._trace_console = False
        self._command_modules: list[Any] = []

    @property
    def root(self) -> Context:
        ctx = self
        while ctx.parent is not None:
            ctx = ctx.parent
        return ctx

    # -- properties ------------------------------------------------------------
    def get_prop(self, name: str, default: Any = None) -> Any:
        """This context's ``name`` property, else its parent's, else ``default``."""
        ctx: Context | None = self
        while ctx is not None:
            with ctx._lock:
                value = ctx._props.get(name, _MISSING)
            if value is not _MISSING:
                return value
            ctx = ctx.parent
        return default

    def set_prop(self, name: str, value: Any) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"property name must be a non-empty string, got {name!r}")
        with self._lock:
            self._props[name] = value

    def has_prop(self, name: str) -> bool:
        return self.get_prop(name, _MISSING) is not _MISSING

    def require_prop(self, name: str, who: str, hint: str = "") -> Any:
        """``get_prop(name)``, or a ``ValueError`` saying who needs it (and ``hint``)."""
        value = self.get_prop(name, _MISSING)
        if value is _MISSING or value is None:
            raise ValueError(f"{who} needs the context property {name!r}{hint}")
        return value

    # -- stop requests -----------------------------------------------------------
    def stop_work(self, issuer: Any, msg: str) -> None:
        """Ask the engine to stop the run (``issuer`` is who asks, usually ``self``)."""
        root = self.root
        with root._lock:
            first = root._stop_message is None
            if first:
                root._stop_message = str(msg)
                root._stop_issuer = _issuer_name(issuer)
            listeners = list(root._stop_listeners)
        if first:
            log.info("stop requested by %s: %s", _issuer_name(issuer), msg)
            for listener in listeners:
                listener()

    # Clara's controllers call ctx.ask_to_stop() (named in its docs).
    def ask_to_stop(self, issuer: Any = None, msg: str = "stop requested") -> None:
        self.stop_work(issuer, msg)

    def stop_work_asked(self) -> bool:
        root = self.root
        with root._lock:
            return root._stop_message is not None

    def get_stop_message(self) -> str | None:
        """``"<issuer>: <message>"`` of the first stop request, or None."""
        root = self.root
        with root._lock:
            if root._stop_message is None:
                return None
            return f"{root._stop_issuer}: {root._stop_message}"

    def add_stop_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (from the requesting thread) when a stop is requested."""
        root = self.root
        with root._lock:
            root._stop_listeners.append(listener)

    # -- errors, trace -------------------------------------------------------------
    def exception_occurred(self, issuer: Any, msg: str) -> None:
        """Record (and log) an error a component caught and survived."""
        root = self.root
        with root._lock:
            root._exceptions.append((_issuer_name(issuer), str(msg)))
        log.error("%s: %s", _issuer_name(issuer), msg)

    @property
    def exceptions(self) -> list[tuple[str, str]]:
        root = self.root
        with root._lock:
            return list(root._exceptions)

    def set_trace(self, file: TextIO | None = None, console: bool = False) -> None:
        """Send :meth:`trace` lines to ``file`` (an open text file) and/or the console."""
        root = self.root
        with root._lock:
            root._trace = file
            root._trace_console = bool(console)

    @property
    def tracing(self) -> bool:
        """Whether a trace file or the console trace is set."""
        root = self.root
        with root._lock:
            return root._trace is not None or root._trace_console

    def close_trace(self) -> None:
        root = self.root
        with root._lock:
            trace, root._trace = root._trace, None
            root._trace_console = False
        if trace is not None:
            trace.close()

    def trace(self, issuer: Any, msg: str) -> None:
        """One line ``[issuer] msg`` to the trace (if one is set)."""
        root = self.root
        line = f"[{_issuer_name(issuer)}] {msg}\n"
        with root._lock:
            if root._trace is not None:
                root._trace.write(line)
                root._trace.flush()
            if root._trace_console:
                sys.stdout.write(line)
                sys.stdout.flush()

    # -- admin commands ----------------------------------------------------------------
    def add_command_module(self, module: Any) -> None:
        """Offer ``module``'s commands (its ``get_spec()``) on the admin channel."""
        if not callable(getattr(module, "get_spec", None)):
            raise ValueError(f"a command module needs a get_spec() method, got {module!r}")
        root = self.root
        with root._lock:
            root._command_modules.append(module)

    @property
    def command_modules(self) -> list[Any]:
        root = self.root
        with root._lock:
            return list(root._command_modules)

    def __repr__(self) -> str:
        with self._lock:
            names = sorted(self._props)
        return f"Context(props={names}, parent={'yes' if self.parent else 'no'})"
