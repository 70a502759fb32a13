"""Runs :class:`scheduler.Command` trials: any executable, one process per task.

Each task has one thread in the driver, which starts the program (its own session and
process group) and then waits on one selector for: report lines on the program's
report descriptor (``scheduler.report``, answered with the decision), report lines on
its stdout (``[scheduler] {json}``, read as they come; every stdout line also goes to
``stdout.log``), the program's exit (its ``pidfd``), a cancel, and the deadlines
(``_timeout``, the stop grace). stderr goes straight to ``stderr.log`` (or, with
``_merge_stderr``, into the stdout stream and its log). Both logs are in the task's
folder (``TaskSpec.log_dir``), unless the caller names other files (the AutoML
executor's ``log.txt``).

Every report goes through the same :class:`~scheduler.runtime.reporter.Reporter` as a
``train_fn``'s (validation, timestamps, JSON-able values). A stopped or paused program
that reports on the descriptor hears the decision (``scheduler.report`` raises
``TaskStopped``) and has ``_kill_grace`` seconds to exit; one that reports on stdout
gets SIGTERM at once; in both cases SIGKILL follows after ``_kill_grace``, on its whole
process group. When the task ends, whatever it left (its process group, and any
process carrying its ``SCHEDULER_TASK_TOKEN``, e.g. one that called ``setsid``) is
killed before the runtime hears of the end.

A driver killed with SIGKILL cannot stop its programs: one that reports (its descriptor
or stdout then breaks) ends at its next report, one that never reports runs on. (A
driver that exits normally, even with tasks running, kills them: an ``atexit`` hook.)

How a task ends: the decision's outcome once stopped or paused; ``raised`` with the
message for a refused report or a malformed ``[scheduler]`` line (line number and text);
``died`` with the exit code or signal and the last 20 lines of stderr (of the merged
output with ``_merge_stderr``) for a program that exits non-zero or is killed, or that
runs past ``_timeout``; ``returned`` when it exits 0
(after its ``_score_file``, if any, is read as the final report).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import json
import logging
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, BinaryIO

from scheduler._command import Command
from scheduler._decorator import RESERVED_NAMES
from scheduler._exceptions import TaskStopped
from scheduler._jsonable import to_jsonable
from scheduler.runtime.backends import _leftovers
from scheduler.runtime.backends.base import (
    CANCELLED,
    DIED,
    RAISED,
    RETURNED,
    STOPPED,
    Backend,
    OnEnd,
    OnReport,
    TaskOutcome,
    TaskSpec,
    spec_args,
)
from scheduler.runtime.backends.process import _PACKAGE_ROOT, describe_exit
from scheduler.runtime.reporter import Reporter

__all__ = ["LINE_PREFIX", "STDERR_TAIL_LINES", "CommandBackend", "CommandTask"]

log = logging.getLogger("scheduler")

LINE_PREFIX = b"[scheduler]"
STDERR_TAIL_LINES = 20
_MAX_LINE = 1 << 20  # a longer stdout line is logged in pieces, never parsed
_DRAIN_AFTER_EXIT = 1.0  # seconds to read what the program wrote before it exited


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def stderr_tail(path: str, lines: int = STDERR_TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of a log file (reads at most its last 64 KiB)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 65536))
            data = f.read()
    except OSError:
        return []
    text = data.decode(errors="replace").splitlines()
    return text[-lines:]


class CommandTask:
    """One run of a :class:`~scheduler.Command`: start it, carry its reports, end it.

    Parameters
    ----------
    command : Command
    spec : TaskSpec
    send : callable
        ``send(result) -> decision``, as for a reporter.
    on_running : callable, optional
        ``on_running()`` once the program has started.
    stdout_path, stderr_path : str, optional
        The log files (default ``stdout.log`` and ``stderr.log`` in the task's folder,
        ``spec.log_dir``); their folders are created. ``stderr_path`` is not written
        with ``_merge_stderr``. Each is truncated when the program starts.
    echo : callable, optional
        ``echo(data)`` gets every piece of the stdout stream as it is logged (bytes,
        whole lines), e.g. to show it on the console; an echo that raises is dropped
        (with a warning), the task goes on.
    """

    def __init__(
        self,
        command: Command,
        spec: TaskSpec,
        send: Callable[[dict], str],
        on_running: Callable[[], object] | None = None,
        *,
        stdout_path: str | None = None,
        stderr_path: str | None = None,
        echo: Callable[[bytes], object] | None = None,
    ) -> None:
        self.command = command
        self.on_running = on_running
        self.spec = spec
        self.options = command.options
        self.reporter = Reporter(
            send,
            reward_attr=spec.reward_attr,
            time_attr=spec.time_attr,
            require_time=spec.require_time,
            checkpoint_dir=spec.checkpoint_dir,
        )
        self.token = _leftovers.new_token()
        self.popen: subprocess.Popen | None = None
        self.cancel_reason: str | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._lock = threading.Lock()
        # how the task is ending, set once
        self._ending: TaskOutcome | None = None
        self._term_at: float | None = None
        self._kill_at: float | None = None
        self._term_sent = False
        self._stdout_line = 0
        self._stdout_log: BinaryIO | None = None
        self._cwd_used: str | None = None
        self._report_sock: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
        self._pidfd: int | None = None
        self.task_dir = spec.log_dir or os.path.join(
            os.path.dirname(spec.checkpoint_dir), "tasks", str(spec.task_id)
        )
        self.stdout_path = stdout_path or os.path.join(self.task_dir, "stdout.log")
        self.stderr_path = stderr_path or os.path.join(self.task_dir, "stderr.log")
        self.merged = bool(self.options["merge_stderr"])
        #: the log a failure quotes the tail of, and what it is called there
        self._tail_path = self.stdout_path if self.merged else self.stderr_path
        self._stream_name = "output" if self.merged else "stderr"
        self._echo = echo

    # -- from other threads ------------------------------------------------------------
    def cancel(self, reason: str) -> None:
        with self._lock:
            if self.cancel_reason is None:
                self.cancel_reason = reason
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    # -- setting up --------------------------------------------------------------------
    def _values(self) -> dict:
        return {k: v for k, v in spec_args(self.spec).items() if k not in RESERVED_NAMES}

    def _task_fields(self) -> dict:
        args = spec_args(self.spec)
        return {
            "task_id": self.spec.task_id,
            "config_id": args.get("config_id"),
            "checkpoint_dir": self.spec.checkpoint_dir,
            "resume_from": args.scheduler.resume_from if "scheduler" in args else None,
        }

    def _cwd(self) -> str | None:
        cwd, template = self.options["cwd"], self.options["copy_from"]
        if template is None:
            return cwd
        work = os.path.join(self.task_dir, "work")
        shutil.copytree(template, work, symlinks=True, dirs_exist_ok=True)
        return os.path.join(work, cwd) if cwd else work

    def _env(self, values: dict, report_fd: int) -> dict:
        fields = self._task_fields()
        env = dict(os.environ)
        env.update(self.options["env"] or {})
        resume_from, config_id = fields["resume_from"], fields["config_id"]
        env.update(
            {
                "SCHEDULER_CONFIG": json.dumps(to_jsonable(values)),
                "SCHEDULER_TASK_ID": str(self.spec.task_id),
                "SCHEDULER_CONFIG_ID": "" if config_id is None else str(config_id),
                "SCHEDULER_CHECKPOINT_DIR": self.spec.checkpoint_dir,
                "SCHEDULER_RESUME_FROM": "" if resume_from is None else str(resume_from),
                "CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in self.spec.gpu_ids),
                "SCHEDULER_REPORT_FD": str(report_fd),
                "SCHEDULER_REWARD_ATTR": self.spec.reward_attr,
                _leftovers.TOKEN_VARIABLE: self.token,
                # Python programs: report lines as they are printed, and the same
                # ``scheduler`` package as the driver's for ``scheduler.report``
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(
                    [_PACKAGE_ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
                ),
            }
        )
        if self.spec.time_attr:
            env["SCHEDULER_TIME_ATTR"] = self.spec.time_attr
        return env

    def _argv(self, values: dict) -> list[str]:
        argv = self.command.command_line(values, self._task_fields())
        if argv[0] in ("python", "python3"):
            argv[0] = sys.executable
        return argv

    # -- running -----------------------------------------------------------------------
    def run(self) -> TaskOutcome:
        """Run the program to its end; never raises. Kills what it left behind."""
        try:
            return self._run()
        except Exception as exc:
            log.exception("running task %s failed in the command backend", self.spec.task_id)
            return TaskOutcome(RAISED, error=f"the command backend failed: {exc!r}")
        finally:
            self._clean_up()

    def _run(self) -> TaskOutcome:
        os.makedirs(self.task_dir, exist_ok=True)
        os.makedirs(self.spec.checkpoint_dir, exist_ok=True)
        for path in (self.stdout_path, None if self.merged else self.stderr_path):
            if path is not None and os.path.dirname(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
        values = self._values()
        try:
            argv = self._argv(values)
        except ValueError as exc:
            return TaskOutcome(RAISED, error=f"ValueError: {exc}")
        try:
            cwd = self._cwd_used = self._cwd()
        except OSError as exc:
            return TaskOutcome(
                RAISED, error=f"copying _copy_from={self.options['copy_from']!r} failed: {exc}"
            )
        if self.cancel_reason is not None:  # cancelled while it was being set up
            return TaskOutcome(CANCELLED, error=self.cancel_reason)
        parent_sock, child_sock = socket.socketpair()
        self._report_sock = parent_sock
        stdout_log = self._stdout_log = open(self.stdout_path, "wb")  # noqa: SIM115 - closed in _clean_up
        try:
            stderr_target = (
                contextlib.nullcontext(subprocess.STDOUT)
                if self.merged
                else open(self.stderr_path, "wb")  # noqa: SIM115 - closed by the with
            )
            with stderr_target as stderr_log:
                try:
                    popen = self.popen = subprocess.Popen(
                        argv,
                        cwd=cwd,
                        env=self._env(values, child_sock.fileno()),
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=stderr_log,
                        pass_fds=(child_sock.fileno(),),
                        start_new_session=True,
                    )
                except OSError as exc:
                    return TaskOutcome(
                        RAISED, error=f"launch failed: {exc} (command: {' '.join(argv)})"
                    )
        finally:
            child_sock.close()
        if self.on_running is not None:
            self.on_running()
        return self._serve(popen, parent_sock, stdout_log)

    def _serve(
        self, popen: subprocess.Popen, report_sock: socket.socket, stdout_log: BinaryIO
    ) -> TaskOutcome:
        report_sock.setblocking(False)
        if popen.stdout is None:  # (started with stdout=PIPE)
            raise AssertionError("the program's stdout is not a pipe")
        stdout_fd = popen.stdout.fileno()
        os.set_blocking(stdout_fd, False)
        pidfd = _pidfd(popen.pid)
        selector = selectors.DefaultSelector()
        self._selector = selector
        selector.register(stdout_fd, selectors.EVENT_READ, "stdout")
        selector.register(report_sock, selectors.EVENT_READ, "report")
        selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        if pidfd is not None:
            selector.register(pidfd, selectors.EVENT_READ, "exit")
        self._pidfd = pidfd
        buffers = {"stdout": b"", "report": b""}
        open_streams = {"stdout", "report"}
        timeout = self.options["timeout"]
        deadline = None if timeout is None else time.monotonic() + timeout
        exited_at = None
        escapees_killed = False
        while True:
            now = time.monotonic()
            if exited_at is None and popen.poll() is not None:
                exited_at = now
                self._after_exit(popen)
            if exited_at is not None and (not open_streams or now - exited_at > _DRAIN_AFTER_EXIT):
                break
            if exited_at is not None and not escapees_killed and now - exited_at > 0.05:
                # a process outside the group still holds a pipe: find it by its token
                _leftovers.kill_leftovers(token=self.token, timeout=0.5)
                escapees_killed = True
            if deadline is not None and now >= deadline and self._ending is None:
                self._end_with(
                    TaskOutcome(DIED, error=f"exceeded the Command's _timeout={timeout:g}s"),
                    stop_now=True,
                )
                deadline = None
            self._enforce(now)
            waits = [1.0 if pidfd is not None else 0.05]
            for moment in (deadline, self._term_at, self._kill_at):
                if moment is not None:
                    waits.append(max(0.0, moment - now))
            if exited_at is not None:
                waits.append(max(0.0, exited_at + _DRAIN_AFTER_EXIT - now))
                if not escapees_killed:
                    waits.append(max(0.0, exited_at + 0.05 - now))
            for key, _ in selector.select(min(waits)):
                kind = key.data
                if kind == "wake":
                    with contextlib.suppress(OSError):
                        while self._wake_r.recv(4096):
                            pass
                    if self.cancel_reason is not None and self._ending is None:
                        cancelled = TaskOutcome(CANCELLED, error=self.cancel_reason)
                        self._end_with(cancelled, stop_now=True)
                elif kind == "exit" and pidfd is not None:  # (registered only then)
                    selector.unregister(pidfd)
                elif kind in open_streams:
                    chunk = self._read(key.fileobj)
                    if chunk is None:
                        continue
                    if not chunk:
                        selector.unregister(key.fileobj)
                        open_streams.discard(kind)
                        if buffers[kind]:
                            self._lines(kind, buffers[kind] + b"\n", stdout_log)
                            buffers[kind] = b""
                        continue
                    buffers[kind] = self._lines(kind, buffers[kind] + chunk, stdout_log)
        return self._outcome(popen)

    @staticmethod
    def _read(fileobj: object) -> bytes | None:
        """A chunk of the report socket or the stdout pipe (the two registered)."""
        try:
            if isinstance(fileobj, socket.socket):
                return fileobj.recv(65536)
            if not isinstance(fileobj, int):
                raise TypeError(f"not a registered stream: {fileobj!r}")
            return os.read(fileobj, 65536)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            return b""  # reset: treat as closed

    def _lines(self, kind: str, data: bytes, stdout_log: BinaryIO) -> bytes:
        """Handle every complete line in ``data``; return the incomplete rest."""
        *lines, rest = data.split(b"\n")
        for line in lines:
            if kind == "stdout":
                self._stdout_line += 1
                stdout_log.write(line + b"\n")
                stripped = line.rstrip(b"\r")
                if stripped.startswith(LINE_PREFIX):
                    self._report_line(stripped, self._stdout_line)
            else:
                self._report_fd(line)
        if kind == "stdout":
            logged = b"".join(line + b"\n" for line in lines)
            if len(rest) > _MAX_LINE:  # not a line-oriented output: log it as it is
                stdout_log.write(rest)
                logged += rest
                rest = b""
            stdout_log.flush()
            if logged and self._echo is not None:
                self._echo_out(logged)
        return rest

    def _echo_out(self, data: bytes) -> None:
        if self._echo is None:
            return
        try:
            self._echo(data)
        except Exception:
            log.warning(
                "showing the output of task %s failed; it goes on in %s only",
                self.spec.task_id,
                self.stdout_path,
                exc_info=True,
            )
            self._echo = None

    # -- reports -----------------------------------------------------------------------
    def _report_line(self, line: bytes, number: int) -> None:
        text = line.decode(errors="replace")
        try:
            result = json.loads(line[len(LINE_PREFIX) :].decode())
            if not isinstance(result, dict):
                raise ValueError(f"a report must be a JSON object, got {type(result).__name__}")
        except (ValueError, UnicodeDecodeError) as exc:
            shown = text if len(text) <= 200 else text[:200] + "..."
            stream = "output" if self.merged else "stdout"
            self._end_with(
                TaskOutcome(
                    RAISED,
                    error=f"{stream} line {number} is a malformed report ({exc}): {shown!r}",
                    num_reports=self.reporter.num_reports,
                ),
                stop_now=True,
            )
            return
        self._handle_report(result, reply=None)

    def _report_fd(self, line: bytes) -> None:
        line = line.strip()
        if not line:
            return
        try:
            result = json.loads(line.decode())
            if not isinstance(result, dict):
                raise ValueError(f"a report must be a JSON object, got {type(result).__name__}")
        except (ValueError, UnicodeDecodeError) as exc:
            self._reply(f"error: malformed report: {exc}")
            self._end_with(
                TaskOutcome(RAISED, error=f"malformed report on the report descriptor: {exc}"),
                stop_now=False,
            )
            return
        self._handle_report(result, reply=self._reply)

    def _reply(self, text: str) -> None:
        data = text.replace("\n", " ").encode() + b"\n"
        sock = self._report_sock
        if sock is None:  # (set before the program starts, and replies come after)
            raise AssertionError("a reply before the program started")
        try:
            sock.setblocking(True)
            sock.sendall(data)
        except OSError:
            pass  # the program closed its end: it will not read the decision
        finally:
            with contextlib.suppress(OSError):
                sock.setblocking(False)

    def _handle_report(self, result: dict, reply: Callable[[str], None] | None) -> None:
        """Pass one report through the reporter; act on its decision."""
        if self._ending is not None:
            if reply is not None:
                reply("stop")  # already ending: nothing more is recorded
            return
        key, reward_attr = self.options["score_key"], self.spec.reward_attr
        if key is not None and reward_attr not in result and key in result:
            result = {**result, reward_attr: result[key]}  # the program's name for it
        try:
            self.reporter(**result)
        except TaskStopped as stopped:
            if reply is not None:
                reply(stopped.decision)
            self._end_with(
                TaskOutcome(STOPPED, num_reports=self.reporter.num_reports),
                stop_now=reply is None,
            )
            return
        except (ValueError, TypeError, RuntimeError) as exc:
            if reply is not None:
                reply(f"error: {exc}")
            self._end_with(
                TaskOutcome(
                    RAISED,
                    error=f"{type(exc).__name__}: {exc}",
                    num_reports=self.reporter.num_reports,
                ),
                stop_now=reply is None,
            )
            return
        if reply is not None:
            reply("continue")

    # -- ending --------------------------------------------------------------------------
    def _end_with(self, outcome: TaskOutcome, *, stop_now: bool) -> None:
        """Record how the task ends (the first reason wins) and start stopping it:
        SIGTERM now (``stop_now``), or after the grace if it does not exit by itself."""
        if self._ending is None:
            self._ending = outcome
        if stop_now:
            self._terminate()
        elif self._term_at is None:
            self._term_at = time.monotonic() + self.options["kill_grace"]

    def _terminate(self) -> None:
        """SIGTERM the program's process group; SIGKILL follows after the grace."""
        if self._term_sent or self.popen is None or self.popen.poll() is not None:
            return
        self._term_sent = True
        self._term_at = None
        _leftovers.kill_group(self.popen.pid, signal.SIGTERM)
        self._kill_at = time.monotonic() + self.options["kill_grace"]

    def _enforce(self, now: float) -> None:
        if self._term_at is not None and now >= self._term_at:
            self._terminate()
        if self._kill_at is not None and now >= self._kill_at:
            if self.popen is not None:
                _leftovers.kill_group(self.popen.pid, signal.SIGKILL)
            self._kill_at = now + 1.0  # again, if it has not died yet

    def _after_exit(self, popen: subprocess.Popen) -> None:
        """The program exited: kill its group, so that pipes its children share close
        (what escaped the group is found by its token when the task is cleaned up)."""
        _leftovers.kill_group(popen.pid)

    def _outcome(self, popen: subprocess.Popen) -> TaskOutcome:
        returncode = popen.returncode
        # (through a local: mypy would keep self._ending narrowed to None below, where
        # reading the score file may have set it)
        ending = self._ending
        if ending is not None:
            if ending.kind == RAISED and ending.traceback is None:
                # a refused report: the program's own traceback says where it was made
                tail = stderr_tail(self._tail_path)
                if tail:
                    return dataclasses.replace(ending, traceback="\n".join(tail))
            return ending
        if returncode == 0:
            if self.options["score_file"] is not None:
                failure = self._read_score_file()
                if failure is not None:
                    return failure
                if self._ending is not None:
                    return self._ending
            return TaskOutcome(RETURNED, num_reports=self.reporter.num_reports)
        tail = stderr_tail(self._tail_path)
        reason = describe_exit(returncode, "the program").replace(" while running the task", "")
        if tail:
            reason += f"; {self._stream_name} (last {len(tail)} lines):\n" + "\n".join(tail)
        else:
            reason += f" ({self._stream_name} was empty)"
        return TaskOutcome(
            DIED,
            error=reason,
            traceback="\n".join(tail) or None,
            num_reports=self.reporter.num_reports,
        )

    def _read_score_file(self) -> TaskOutcome | None:
        name = self.options["score_file"]
        path = os.path.join(self._cwd_used or os.getcwd(), name)  # (an absolute name wins)
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return TaskOutcome(
                RAISED,
                error=f"the program exited 0 without writing its _score_file {path!r}",
                num_reports=self.reporter.num_reports,
            )
        except (OSError, ValueError) as exc:
            return TaskOutcome(
                RAISED,
                error=f"_score_file {path!r} is not a JSON file: {exc}",
                num_reports=self.reporter.num_reports,
            )
        if not isinstance(data, dict):
            return TaskOutcome(
                RAISED,
                error=f"_score_file {path!r} must hold a JSON object, got {type(data).__name__}",
                num_reports=self.reporter.num_reports,
            )
        key = self.options["score_key"]
        if key is not None:
            if key not in data:
                return TaskOutcome(
                    RAISED,
                    error=f"_score_file {path!r} has no _score_key {key!r}; keys: {sorted(data)}",
                    num_reports=self.reporter.num_reports,
                )
            data[self.spec.reward_attr] = data[key]
        self._handle_report(data, reply=None)
        return None

    def _clean_up(self) -> None:
        popen = self.popen
        if popen is not None:
            if popen.poll() is None:
                _leftovers.kill_group(popen.pid)
                with contextlib.suppress(OSError):
                    popen.kill()
                try:
                    popen.wait(timeout=5.0)
                except subprocess.TimeoutExpired:
                    log.warning("program of task %s did not exit after SIGKILL", self.spec.task_id)
            _leftovers.kill_group(popen.pid)
            _leftovers.kill_leftovers(token=self.token, timeout=1.0)
            if popen.stdout is not None:
                with contextlib.suppress(OSError):
                    popen.stdout.close()
        if self._selector is not None:
            self._selector.close()
        if self._pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self._pidfd)
        for sock in (self._report_sock, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        if self._stdout_log is not None:
            self._stdout_log.close()


def _kill_at_exit(ref: weakref.ref[CommandBackend]) -> None:
    backend = ref()
    if backend is None:
        return
    with backend._lock:
        tasks = [task for task, _ in backend._tasks.values()]
    for task in tasks:
        if task.popen is not None and task.popen.poll() is None:
            _leftovers.kill_group(task.popen.pid)
            _leftovers.kill_leftovers(token=task.token, timeout=0.5)


class CommandBackend(Backend):
    """Runs each task's :class:`~scheduler.Command` as its own process."""

    name = "command"
    announces_running = True  # once the program is started

    def __init__(self, train_fn: Any, on_report: OnReport, on_end: OnEnd) -> None:
        if not isinstance(train_fn, Command):
            raise TypeError(f"the command backend runs a scheduler.Command, got {train_fn!r}")
        super().__init__(train_fn, on_report, on_end)
        self._lock = threading.Lock()
        self._tasks: dict[int, tuple[CommandTask, threading.Thread]] = {}
        self._closing = False
        # A driver that exits without shutting the run down (an exception in the user's
        # script) must not leave programs running: their threads are daemons.
        self._at_exit = functools.partial(_kill_at_exit, weakref.ref(self))
        atexit.register(self._at_exit)

    def prepare(self, max_concurrency: int) -> None:
        """Nothing to warm up: each task starts its own program."""
        return None

    def start(self, spec: TaskSpec) -> None:
        task = CommandTask(
            self.train_fn,
            spec,
            lambda result: self._send(spec.task_id, result),
            on_running=lambda: self._running(spec.task_id),
        )
        thread = threading.Thread(
            target=self._run, args=(task,), name=f"scheduler-command-{spec.task_id}", daemon=True
        )
        with self._lock:
            if self._closing:
                raise RuntimeError("the command backend was shut down")
            self._tasks[spec.task_id] = (task, thread)
        thread.start()

    def _send(self, task_id: int, result: dict) -> str:
        try:
            return self.on_report(task_id, result)
        except Exception:
            log.exception("handling a report of task %s failed; stopping the task", task_id)
            return "stop"

    def _running(self, task_id: int) -> None:
        try:
            self.on_running(task_id)
        except Exception:
            log.exception("recording the start of task %s failed", task_id)

    def _run(self, task: CommandTask) -> None:
        outcome = task.run()
        with self._lock:
            self._tasks.pop(task.spec.task_id, None)
        try:
            self.on_end(task.spec.task_id, outcome)
        except Exception:
            log.exception("recording the end of task %s failed", task.spec.task_id)

    def cancel(self, task_id: int, reason: str) -> None:
        with self._lock:
            entry = self._tasks.get(task_id)
        if entry is not None:
            entry[0].cancel(reason)

    def shutdown(self, timeout: float = 5.0) -> None:
        atexit.unregister(self._at_exit)
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closing = True
            entries = list(self._tasks.values())
        for task, _ in entries:
            task.cancel("scheduler shut down")
        for task, thread in entries:
            thread.join(max(0.05, deadline - time.monotonic()))
            if thread.is_alive() and task.popen is not None:
                _leftovers.kill_group(task.popen.pid)  # past the grace: no more waiting
                thread.join(5.0)
