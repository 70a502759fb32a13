"""What a task may change in the process that runs it, saved before and restored after.

A reused worker runs many tasks; :class:`ProcessState` keeps one task's changes from
reaching the next: resource limits (``resource.setrlimit``), environment variables,
the working folder, the umask, ``sys.path``, signal handlers, ``sys.stdin/stdout/
stderr``, CPU affinity and niceness. What cannot be put back (a hard limit lowered by an
unprivileged process, a raised niceness, a folder that is gone, a thread the task left
running) makes :meth:`ProcessState.restore` return the reason, and the worker is
replaced instead of reused.

Not covered (a reused worker shares them across tasks, as any long-lived interpreter
does): imported modules and their globals, open file descriptors the task did not
close, the global random state of numpy or ``random``, logging and warnings settings.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

try:  # POSIX only
    import resource
except ImportError:  # pragma: no cover
    resource = None  # type: ignore[assignment]

__all__ = ["ProcessState"]


def _rlimit_names() -> dict[int, str]:
    if resource is None:  # pragma: no cover
        return {}  # type: ignore[unreachable]  # not POSIX: mypy checks for this platform
    return {
        getattr(resource, name): name
        for name in dir(resource)
        if name.startswith("RLIMIT_") and isinstance(getattr(resource, name), int)
    }


_RLIMITS = _rlimit_names()


def _signals() -> list[signal.Signals]:
    kept: list[signal.Signals] = []
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.getsignal(sig)
        except (ValueError, OSError):
            continue
        kept.append(sig)
    return kept


class ProcessState:
    """Snapshot of the process state a task can change; :meth:`restore` puts it back.

    Take it in the main thread (signal handlers can only be set there).
    """

    def __init__(self) -> None:
        self.environ = dict(os.environ)
        self.cwd = os.getcwd()
        self.umask = os.umask(0o022)
        os.umask(self.umask)
        self.rlimits = {}
        if resource is not None:
            for number in _RLIMITS:
                with contextlib.suppress(ValueError, OSError):
                    self.rlimits[number] = resource.getrlimit(number)
        self.sys_path = list(sys.path)
        self.signals = {}
        for sig in _signals():
            self.signals[sig] = signal.getsignal(sig)
        self.stdio = (sys.stdin, sys.stdout, sys.stderr)
        self.affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        self.niceness = os.getpriority(os.PRIO_PROCESS, 0) if hasattr(os, "getpriority") else None
        self.threads = set(threading.enumerate())

    def restore(self, thread_grace: float = 0.05) -> str | None:
        """Undo the task's changes; None when all were undone, else why the process
        cannot be reused."""
        problems = []
        if resource is not None:
            for number, limits in self.rlimits.items():
                try:
                    if resource.getrlimit(number) != limits:
                        resource.setrlimit(number, limits)
                except (ValueError, OSError) as exc:
                    problems.append(f"{_RLIMITS[number]} could not be restored ({exc})")
        if dict(os.environ) != self.environ:
            os.environ.clear()
            os.environ.update(self.environ)
        try:
            if os.getcwd() != self.cwd:
                os.chdir(self.cwd)
        except OSError as exc:
            problems.append(f"the working folder could not be restored ({exc})")
        os.umask(self.umask)
        sys.path[:] = self.sys_path
        for sig, handler in self.signals.items():
            if handler is None:
                continue  # set from C: not restorable from Python, left as it is
            try:
                if signal.getsignal(sig) is not handler:
                    signal.signal(sig, handler)
            except (ValueError, OSError, TypeError) as exc:
                problems.append(f"the handler of {sig.name} could not be restored ({exc})")
        sys.stdin, sys.stdout, sys.stderr = self.stdio
        if self.affinity is not None:
            try:
                if os.sched_getaffinity(0) != self.affinity:
                    os.sched_setaffinity(0, self.affinity)
            except OSError as exc:
                problems.append(f"the CPU affinity could not be restored ({exc})")
        if self.niceness is not None:
            try:
                if os.getpriority(os.PRIO_PROCESS, 0) != self.niceness:
                    os.setpriority(os.PRIO_PROCESS, 0, self.niceness)
            except OSError as exc:
                problems.append(f"the niceness could not be restored ({exc})")
        left = [t for t in threading.enumerate() if t not in self.threads and t.is_alive()]
        deadline = time.monotonic() + thread_grace
        for thread in left:
            thread.join(max(0.0, deadline - time.monotonic()))
        names = [t.name for t in left if t.is_alive()]
        if names:
            problems.append(f"the task left {len(names)} thread(s) running ({', '.join(names)})")
        return "; ".join(problems) or None
