"""A job's training command as a process group: output lines as they come, a kill that
reaches every process the command started.

TEMPORARY PATH (issue 11). The subprocess/``Command`` backend of
``scheduler/runtime/backends/`` (per-task logs, process-group kill, ``[scheduler]``
report lines, ``score_file``) is being built in parallel; until it is on ``main`` the
MMAR executor launches its command with this module. Once it lands, the executor's
``_run_command`` switches to it and this module goes away; nothing else uses it.

The command runs in its own session (``start_new_session``), so its process group id
is its pid: :meth:`JobProcess.kill` sends SIGTERM to the group, then SIGKILL after a
grace period, and :meth:`JobProcess.close` kills whatever the group still holds once
the command has exited (a background child of a training script, say), so nothing a job
starts outlives it. Output is read with a timeout (a grandchild that keeps the pipe
open cannot hang the reader) and teed to a log file and/or the console.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

__all__ = ["DESTINATIONS", "JobProcess"]

#: where a job's output goes (Clara's ``msg_destination``)
DESTINATIONS = ("file", "console", "both", "none")
#: longest line parsed for reports; longer ones go to the log only
MAX_LINE = 1 << 20


class JobProcess:
    """Start ``argv`` in its own process group, stdout and stderr merged.

    Parameters
    ----------
    argv : list of str
        The command.
    cwd : str
        Its working folder.
    env : dict
        Its whole environment.
    log_path : str or None
        Where its output is appended (``destination`` ``file`` or ``both``).
    destination : {'file', 'console', 'both', 'none'}
        Where its output goes.
    """

    def __init__(self, argv, *, cwd: str, env: dict, log_path: str | None, destination: str):
        if destination not in DESTINATIONS:
            raise ValueError(
                f"msg_destination must be one of {list(DESTINATIONS)}, got {destination!r}"
            )
        self.argv = list(argv)
        self._log = None
        if destination in ("file", "both"):
            if log_path is None:
                raise ValueError("a log_path is needed for msg_destination 'file' or 'both'")
            self._log = open(log_path, "ab")  # noqa: SIM115 - closed in close()
        self._console = destination in ("console", "both")
        try:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            self._close_log()
            raise
        self.pid = self.proc.pid
        self._killed = False
        self._kill_at: float | None = None
        self._closed = False
        self.tail: list[str] = []  # the last lines, for error messages

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _emit(self, data: bytes) -> None:
        if self._log is not None:
            self._log.write(data)
            self._log.flush()
        if self._console:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()

    def lines(self, poll_interval: float = 0.2) -> Iterator[str]:
        """Yield output lines (decoded, without the newline) until the command exited
        and its output is drained; a line longer than MAX_LINE is logged, not yielded."""
        fd = self.proc.stdout.fileno()
        os.set_blocking(fd, False)
        buffer = b""
        overflow = False
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            exited_at = None
            while True:
                timeout = poll_interval
                if self._kill_at is not None:
                    left = self._kill_at - time.monotonic()
                    if left <= 0:
                        self._signal(signal.SIGKILL)
                        self._kill_at = None
                    else:
                        timeout = max(0.01, min(timeout, left))
                ready = selector.select(timeout=timeout)
                chunk = b""
                if ready:
                    try:
                        chunk = os.read(fd, 65536)
                    except BlockingIOError:
                        chunk = None
                    if chunk == b"":
                        break  # EOF: every writer closed the pipe
                    if chunk:
                        self._emit(chunk)
                        buffer += chunk
                        while b"\n" in buffer:
                            line, buffer = buffer.split(b"\n", 1)
                            if overflow:
                                overflow = False
                                continue
                            yield self._line(line)
                        if len(buffer) > MAX_LINE:
                            buffer = b""
                            overflow = True
                if self.proc.poll() is not None:
                    # The command exited; a background child may hold the pipe open:
                    # drain for a moment, then stop reading.
                    if exited_at is None:
                        exited_at = time.monotonic()
                    elif not ready and time.monotonic() - exited_at > poll_interval:
                        break
        if buffer and not overflow:
            yield self._line(buffer)

    def _line(self, raw: bytes) -> str:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        self.tail.append(text)
        del self.tail[:-20]
        return text

    def kill(self, grace: float = 5.0) -> None:
        """SIGTERM the whole process group now, SIGKILL it ``grace`` seconds later (sent
        by the thread reading :meth:`lines`, or by :meth:`close`). Returns at once."""
        if self._killed:
            return
        self._killed = True
        self._kill_at = time.monotonic() + grace
        self._signal(signal.SIGTERM)

    @property
    def killed(self) -> bool:
        return self._killed

    def _signal(self, sig) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def wait(self, timeout: float | None = None) -> int:
        return self.proc.wait(timeout=timeout)

    def close(self, timeout: float = 10.0) -> int | None:
        """Kill what is left of the group, reap the command, close the pipe and the log;
        returns the exit code (negative: the signal), or None if it could not be reaped."""
        if self._closed:
            return self.proc.returncode
        self._closed = True
        self._signal(signal.SIGKILL)
        code = None
        with contextlib.suppress(subprocess.TimeoutExpired):
            code = self.proc.wait(timeout=timeout)
        with contextlib.suppress(OSError):
            self.proc.stdout.close()
        self._close_log()
        return code
