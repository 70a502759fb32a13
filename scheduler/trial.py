"""The trial side of a :class:`scheduler.Command`: report results, read the task's setup.

A program run as a Command trial reports with::

    import scheduler

    for epoch in range(1, epochs + 1):
        ...
        scheduler.report(epoch=epoch, accuracy=acc)   # blocks for the decision

``report`` sends the result to the scheduler over the file descriptor the program
inherited (``SCHEDULER_REPORT_FD``) and waits for the decision. It returns on
``continue``; on ``stop`` or ``pause`` it raises :class:`scheduler.TaskStopped` (let it
end the program: ``try``/``finally`` for clean-up is fine); a result the scheduler
refuses (a missing reward, a non-increasing epoch...) raises ``ValueError`` with the
scheduler's message, as ``reporter(...)`` does inside a ``train_fn``. Run outside the
scheduler (no ``SCHEDULER_REPORT_FD``), ``report`` prints the result as a report line
``[scheduler] {"epoch": 1, ...}`` and returns, so the script runs standalone too.

This module needs only the standard library, and ``import scheduler`` imports nothing
else, so a trial pays a few milliseconds for it. Programs in other languages use the
same protocol: write one JSON object and a newline to the descriptor, read one line
back (``continue``, ``stop``, ``pause`` or ``error: <message>``); or print report lines
on stdout (no reply: a stopped program gets SIGTERM).
"""

from __future__ import annotations

import errno
import json
import os
import sys
import threading

from scheduler._exceptions import TaskStopped

__all__ = [
    "LINE_PREFIX",
    "TaskStopped",
    "checkpoint_dir",
    "config",
    "config_id",
    "in_trial",
    "report",
    "resume_from",
    "task_id",
]

#: the prefix of a report line on stdout: ``[scheduler] {"epoch": 3, "accuracy": 0.91}``
LINE_PREFIX = "[scheduler] "

_lock = threading.Lock()
_ended: str | None = None
_hook_installed = False


def _plain(value):
    """JSON fallback for values json cannot encode: numpy scalars and arrays by their
    Python value, anything else by its repr (as the in-process reporter stores it)."""
    for method in ("item", "tolist"):
        convert = getattr(value, method, None)
        if callable(convert):
            try:
                return convert()
            except (TypeError, ValueError):
                pass
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return repr(value)


def _encode(result: dict) -> bytes:
    return json.dumps(result, default=_plain, separators=(",", ":")).encode() + b"\n"


def _fd() -> int | None:
    raw = os.environ.get("SCHEDULER_REPORT_FD")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise RuntimeError(
            f"SCHEDULER_REPORT_FD must be a file descriptor number, got {raw!r}"
        ) from None


def in_trial() -> bool:
    """Whether this program runs as a scheduler trial with a report connection."""
    return _fd() is not None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_line(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            return b""  # the scheduler closed the connection
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            return b"".join(chunks)


def _install_hook() -> None:
    """An uncaught TaskStopped ends the program with one line, not a traceback."""
    global _hook_installed
    if _hook_installed:
        return
    _hook_installed = True
    previous = sys.excepthook

    def hook(kind, value, tb):
        if isinstance(value, TaskStopped):
            sys.stderr.write(f"scheduler: {value}\n")
            return
        previous(kind, value, tb)

    sys.excepthook = hook


def report(**result: object) -> None:
    """Report one result (``epoch=3, accuracy=0.91``) and wait for the decision.

    Raises
    ------
    scheduler.TaskStopped
        When the scheduler stops or pauses the task (and on every later call).
    ValueError
        When the scheduler refuses the result; the message names the key and value.
    OSError
        When the report descriptor was closed by the program.
    """
    global _ended
    fd = _fd()
    if fd is None:
        sys.stdout.write(LINE_PREFIX + _encode(result).decode())
        sys.stdout.flush()
        return
    _install_hook()
    with _lock:
        if _ended is not None:
            raise TaskStopped(_ended, f"task already ended ({_ended})")
        data = _encode(result)
        try:
            _write_all(fd, data)
            reply = _read_line(fd)
        except OSError as exc:
            if exc.errno == errno.EBADF:
                raise OSError(
                    errno.EBADF,
                    f"scheduler.report: the report file descriptor {fd} "
                    "(SCHEDULER_REPORT_FD) is closed; the program must keep it open",
                ) from None
            if exc.errno in (errno.EPIPE, errno.ECONNRESET):
                reply = b""
            else:
                raise
        text = reply.decode(errors="replace").strip()
        if not text:
            _ended = "stop"
            raise TaskStopped("stop", "the scheduler closed the report connection")
        if text == "continue":
            return
        if text in ("stop", "pause"):
            _ended = text
            raise TaskStopped(text)
        if text.startswith("error: "):
            raise ValueError(text[len("error: ") :])
        raise RuntimeError(f"scheduler.report: unexpected reply from the scheduler: {text!r}")


def config() -> dict:
    """The task's config (hyperparameters over defaults), from ``SCHEDULER_CONFIG``;
    ``{}`` outside a trial."""
    return json.loads(os.environ.get("SCHEDULER_CONFIG") or "{}")


def _int_env(name: str) -> int | None:
    raw = os.environ.get(name)
    return int(raw) if raw else None


def task_id() -> int | None:
    """``SCHEDULER_TASK_ID``: this task's id (None outside a trial)."""
    return _int_env("SCHEDULER_TASK_ID")


def config_id() -> int | None:
    """``SCHEDULER_CONFIG_ID``: the config's id, stable across pauses and promotions."""
    return _int_env("SCHEDULER_CONFIG_ID")


def resume_from() -> int | None:
    """``SCHEDULER_RESUME_FROM``: the epoch a promoted config resumes from (None: fresh)."""
    return _int_env("SCHEDULER_RESUME_FROM")


def checkpoint_dir() -> str | None:
    """``SCHEDULER_CHECKPOINT_DIR``: the config's own folder, kept across pauses."""
    return os.environ.get("SCHEDULER_CHECKPOINT_DIR") or None
