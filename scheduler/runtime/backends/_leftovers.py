"""Finding and killing the processes a task left behind (Linux ``/proc``).

A task may start processes that outlive it: children it forgot (``subprocess.Popen``
without a wait, ``os.fork``), and children that escaped its process group on purpose
(``setsid``, a double fork, a daemon). Three marks find them:

* the process group: a task's program or worker leads its own session and group, and
  what it forks stays in that group unless it moves;
* ancestry: a worker that is a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``)
  inherits every orphaned descendant, so whatever escaped its group is still its
  descendant while it lives;
* a token in the environment: every process a task starts inherits
  ``SCHEDULER_TASK_TOKEN=<random>``, which survives ``setsid`` and the death of all its
  ancestors (unless the process rewrites its own environment).

Each is a scan of ``/proc`` (1-2 ms for a few hundred processes), done off the report
path: in the worker after its task, or in the driver after a program or worker ended.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time

__all__ = [
    "TOKEN_VARIABLE",
    "has_children",
    "kill_group",
    "kill_leftovers",
    "new_token",
    "reap_children",
    "set_child_subreaper",
]

TOKEN_VARIABLE = "SCHEDULER_TASK_TOKEN"
_PR_SET_CHILD_SUBREAPER = 36


def new_token() -> str:
    return os.urandom(12).hex()


def set_child_subreaper() -> bool:
    """Make this process inherit its orphaned descendants (Linux >= 3.4). False when
    the platform cannot."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _stat(pid: str) -> tuple[int, int, str] | None:
    """``(ppid, pgid, state)`` of a process, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses
    fields = data[data.rfind(b")") + 2 :].split()
    if len(fields) < 3:
        return None
    return int(fields[1]), int(fields[2]), fields[0].decode()


def _has_token(pid: str, marker: bytes) -> bool:
    # /proc/<pid>/environ is "NAME=value\0NAME=value\0...": the first entry has no
    # leading NUL, hence the one prepended before looking for "\0NAME=value\0".
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return marker in b"\0" + f.read()
    except OSError:
        return False


def _find(*, root: int | None, pgid: int | None, token: str | None) -> list[int]:
    """Live processes (not zombies) that descend from ``root``, belong to group
    ``pgid`` or carry ``token``; never this process or ``root`` itself."""
    me = os.getpid()
    marker = f"\0{TOKEN_VARIABLE}={token}\0".encode() if token else None
    if root is None and pgid is None:
        return [] if marker is None else _find_token(marker, me)
    parents: dict[int, int] = {}
    matched: set[int] = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid in (me, root):
            continue
        stat = _stat(entry)
        if stat is None or stat[2] in ("Z", "X"):
            continue
        parents[pid] = stat[0]
        if (pgid is not None and stat[1] == pgid) or (
            marker is not None and _has_token(entry, marker)
        ):
            matched.add(pid)
    if root is not None:
        for pid in parents:
            seen = set()
            ancestor = parents.get(pid)
            while ancestor is not None and ancestor not in seen:
                if ancestor == root:
                    matched.add(pid)
                    break
                seen.add(ancestor)
                ancestor = parents.get(ancestor)
    return sorted(matched)


def _find_token(marker: bytes, me: int) -> list[int]:
    """Processes whose environment holds ``marker`` (one read per process; a zombie's
    environment reads empty, so it never matches)."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if entry.isdigit() and int(entry) != me and _has_token(entry, marker):
            found.append(int(entry))
    return found


def reap_children() -> int:
    """Collect every exited child of this process (no wait); returns how many."""
    reaped = 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        except OSError as exc:  # pragma: no cover - EINTR is retried by Python
            if exc.errno == errno.EINTR:
                continue
            return reaped
        if pid == 0:
            return reaped
        reaped += 1


def has_children() -> bool | None:
    """Whether this process has any child (live or zombie); None when the kernel does
    not say (no ``/proc/<pid>/task/<tid>/children``)."""
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/children", "rb") as f:
                if f.read().strip():
                    return True
        except FileNotFoundError:
            continue  # a thread that just ended
        except OSError:
            return None
    return False


def kill_leftovers(
    *,
    root: int | None = None,
    pgid: int | None = None,
    token: str | None = None,
    reap: bool = False,
    timeout: float = 2.0,
) -> bool:
    """SIGKILL every process found by :func:`_find` until none is left (or ``timeout``).

    ``reap``: also collect this process's exited children (a worker reaps what it
    inherited as subreaper). Returns True when nothing is left.
    """
    deadline = time.monotonic() + timeout
    while True:
        if reap:
            reap_children()
        victims = _find(root=root, pgid=pgid, token=token)
        if not victims:
            if reap:
                reap_children()
            return True
        for pid in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.001)


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> bool:
    """Send ``sig`` to a process group; False when the group is empty or gone."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True
