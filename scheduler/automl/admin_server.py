"""The admin channel: list, suspend, resume and abort workers, stop the run, while it runs.

A TCP server on 127.0.0.1 only, served by one thread with non-blocking sockets, so no
client (slow, silent, flooding) can block it or the engine. Its port and a random
token go to ``admin.json`` in the run folder, a file only the user can read (mode
0600); the file is removed when the server stops.

Protocol: one JSON object per line each way. A request
``{"token": "...", "command": "list_workers", "args": []}`` gets
``{"ok": true, "reply": "<text>"}`` or ``{"ok": false, "error": "<text>"}``. A wrong or
missing token, a line that is not such an object, an unknown command, or a line longer
than ``max_line`` bytes gets an error reply and the connection is closed; so is a
connection beyond ``max_connections`` (after its error reply) and one idle for
``idle_timeout`` seconds. A command that fails (an unknown worker, say) gets an error
reply and the connection stays open.

Commands come from the context's command modules (``ctx.add_command_module``): the
engine's :class:`AutomlCommandModule` (``list_workers``, ``show_worker W``,
``suspend_worker W``, ``resume_worker W``, ``abort_worker W``, ``stop``), MMARHandler's
``summary``, and ``help [command]``. A module's ``get_spec()`` returns a list of
``{"name", "usage", "description", "handler"}`` with ``handler(args) -> str``; it may
raise :class:`CommandError` to reply with an error.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import secrets
import selectors
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from scheduler.automl.defs import MMARStd
from scheduler.automl.handlers.mmar import format_table

if TYPE_CHECKING:
    from scheduler.automl.context import Context
    from scheduler.automl.engine import Engine

_T = TypeVar("_T")

__all__ = [
    "HOST",
    "AdminServer",
    "AutomlCommandModule",
    "CommandError",
    "start_admin",
    "write_private_json",
]

log = logging.getLogger("scheduler.automl")

#: the only address the server listens on
HOST = "127.0.0.1"
#: how long a closing connection may drain its input so the client reads the reply
_DRAIN_SECONDS = 1.0


class CommandError(Exception):
    """A command's error reply (the connection stays open)."""


def write_private_json(path: str, data: dict) -> None:
    """Write ``data`` to ``path`` atomically, readable and writable by the user only."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".admin-", dir=folder)  # created with mode 0600
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class _Conn:
    def __init__(self, sock: socket.socket, now: float):
        self.sock = sock
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.last = now
        self.closing = False  # reply sent (or being sent), then close
        self.drain_until: float | None = None


class AdminServer:
    """Serve the admin commands of a run.

    Parameters
    ----------
    ctx : Context
        The run's main context (its command modules are the commands).
    port : int
        0 for a free port.
    folder : str
        Where ``admin.json`` goes.
    max_connections : int
        Connections served at once; more are refused with an error reply.
    max_line : int
        The longest request line, in bytes.
    idle_timeout : float
        Seconds after which a silent connection is closed.
    """

    def __init__(
        self,
        ctx: Context,
        port: int = 0,
        folder: str | None = None,
        max_connections: int = 16,
        max_line: int = 65536,
        idle_timeout: float = 60.0,
    ) -> None:
        if folder is None:
            raise ValueError("AdminServer needs a folder for admin.json, got folder=None")
        for name, value in (("max_connections", max_connections), ("max_line", max_line)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(idle_timeout, (int, float)) or not idle_timeout > 0:
            raise ValueError(f"idle_timeout must be a positive number, got {idle_timeout!r}")
        self.ctx = ctx
        self.requested_port = port
        self.folder = folder
        self.max_connections = max_connections
        self.max_line = max_line
        self.idle_timeout = float(idle_timeout)
        self.info_path = os.path.join(folder, MMARStd.ADMIN_FILE)
        self.token = secrets.token_hex(32)
        self.port: int | None = None
        self._listener: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._conns: dict[int, _Conn] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.num_served = 0  # commands answered (ok or command error)
        self.num_refused = 0  # connections refused or closed on a protocol error

    # -- life cycle ----------------------------------------------------------------
    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((HOST, self.requested_port))
            listener.listen(128)
            listener.setblocking(False)
        except OSError as exc:
            listener.close()
            raise OSError(
                f"the admin server cannot listen on {HOST}:{self.requested_port}: {exc}"
            ) from exc
        self._listener = listener
        self.port = listener.getsockname()[1]
        wake_r, wake_w = socket.socketpair()
        self._wake_r, self._wake_w = wake_r, wake_w
        wake_r.setblocking(False)
        selector = self._selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ, "listener")
        selector.register(wake_r, selectors.EVENT_READ, "wake")
        try:
            write_private_json(
                self.info_path,
                {"host": HOST, "port": self.port, "token": self.token, "pid": os.getpid()},
            )
        except BaseException:
            self._close_all()
            raise
        self._thread = threading.Thread(target=self._serve, name="automl-admin", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, close every connection, remove ``admin.json``."""
        self._stop.set()
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
        if self._thread is not None:
            self._thread.join(timeout)
        self._close_all()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.info_path)

    def _close_all(self) -> None:
        for conn in list(self._conns.values()):
            self._close(conn)
        for sock in (self._listener, self._wake_r, self._wake_w):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        if self._selector is not None:
            with contextlib.suppress(Exception):
                self._selector.close()
        self._listener = self._wake_r = self._wake_w = None

    # -- the serving thread ------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                self._serve_once()
            except Exception:
                # The admin channel never takes the run down: log, drop the connections
                # (one of them may be the cause), go on serving.
                log.exception("admin server error; closing its connections and going on")
                for conn in list(self._conns.values()):
                    self._close(conn)
                time.sleep(0.05)

    def _started(self) -> tuple[selectors.BaseSelector, socket.socket, socket.socket]:
        """The selector, listener and wake-up socket (set by :meth:`start`)."""
        if self._selector is None or self._listener is None or self._wake_r is None:
            raise RuntimeError("the admin server is not started")
        return self._selector, self._listener, self._wake_r

    def _serve_once(self) -> None:
        selector, _, wake_r = self._started()
        for key, mask in selector.select(timeout=0.2):
            if key.data == "listener":
                self._accept()
            elif key.data == "wake":
                with contextlib.suppress(OSError):
                    wake_r.recv(4096)
            else:
                conn = key.data
                if mask & selectors.EVENT_READ:
                    self._read(conn)
                if mask & selectors.EVENT_WRITE and conn.sock.fileno() != -1:
                    self._flush(conn)
        self._sweep()

    def _accept(self) -> None:
        selector, listener, _ = self._started()
        now = time.monotonic()
        while True:
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors: try again later
                log.warning("admin server: accept failed: %s", exc)
                return
            sock.setblocking(False)
            conn = _Conn(sock, now)
            self._conns[sock.fileno()] = conn
            selector.register(sock, selectors.EVENT_READ, conn)
            active = sum(1 for c in self._conns.values() if not c.closing)
            if active > self.max_connections:
                self.num_refused += 1
                self._reply_and_close(
                    conn,
                    {
                        "ok": False,
                        "error": f"too many connections (at most {self.max_connections})",
                    },
                )
            if len(self._conns) > 4 * self.max_connections:
                # Too many closing connections draining: drop the oldest at once.
                oldest = min(
                    (c for c in self._conns.values() if c.closing),
                    key=lambda c: c.last,
                    default=None,
                )
                if oldest is not None:
                    self._close(oldest)

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if not data:
            self._close(conn)
            return
        conn.last = time.monotonic()
        if conn.closing:
            return  # draining: the reply is out, the rest is dropped
        conn.inbuf += data
        while not conn.closing:
            end = conn.inbuf.find(b"\n")
            if end < 0:
                if len(conn.inbuf) > self.max_line:
                    self.num_refused += 1
                    conn.inbuf.clear()
                    self._reply_and_close(
                        conn, {"ok": False, "error": f"line longer than {self.max_line} bytes"}
                    )
                return
            if end > self.max_line:
                self.num_refused += 1
                conn.inbuf.clear()
                self._reply_and_close(
                    conn, {"ok": False, "error": f"line longer than {self.max_line} bytes"}
                )
                return
            line = bytes(conn.inbuf[:end])
            del conn.inbuf[: end + 1]
            reply, keep = self._handle(line)
            if keep:
                self._send(conn, reply)
            else:
                self.num_refused += 1
                self._reply_and_close(conn, reply)

    def _handle(self, line: bytes) -> tuple[dict, bool]:
        """The reply to one request line, and whether the connection stays open."""
        try:
            request = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return {"ok": False, "error": "malformed line: expected one JSON object"}, False
        if not isinstance(request, dict) or not set(request) <= {"token", "command", "args"}:
            return {
                "ok": False,
                "error": 'malformed request: expected {"token", "command", "args"}',
            }, False
        token = request.get("token")
        if not isinstance(token, str) or not hmac.compare_digest(
            token.encode("utf-8", "replace"), self.token.encode()
        ):
            return {"ok": False, "error": "wrong or missing token"}, False
        command = request.get("command")
        args = request.get("args", [])
        if (
            not isinstance(command, str)
            or not isinstance(args, list)
            or not all(isinstance(a, str) for a in args)
        ):
            return {
                "ok": False,
                "error": "malformed request: command must be a string, args a list of strings",
            }, False
        commands = self.commands()
        if command not in commands:
            return {
                "ok": False,
                "error": f"unknown command {command!r}; commands: {', '.join(sorted(commands))}",
            }, False
        self.num_served += 1
        try:
            return {"ok": True, "reply": commands[command]["handler"](args)}, True
        except CommandError as exc:
            return {"ok": False, "error": str(exc)}, True
        except Exception as exc:
            log.exception("admin command %r failed", command)
            return {"ok": False, "error": f"{command} failed: {exc!r}"}, True

    def commands(self) -> dict[str, dict]:
        table = {
            "help": {
                "name": "help",
                "usage": "help [command]",
                "description": "the commands, or one command's usage",
                "handler": self._help,
            }
        }
        for module in self.ctx.command_modules:
            for spec in module.get_spec():
                table[spec["name"]] = spec
        return table

    def _help(self, args: list[str]) -> str:
        commands = self.commands()
        if args:
            spec = commands.get(args[0])
            if spec is None:
                raise CommandError(
                    f"no command {args[0]!r}; commands: {', '.join(sorted(commands))}"
                )
            return f"usage: {spec['usage']}\n{spec['description']}"
        rows = [[name, commands[name]["description"]] for name in sorted(commands)]
        return format_table(["COMMAND", "DESCRIPTION"], rows)

    # -- writing and closing --------------------------------------------------------
    def _send(self, conn: _Conn, reply: dict) -> None:
        conn.outbuf += json.dumps(reply).encode("utf-8") + b"\n"
        self._flush(conn)

    def _reply_and_close(self, conn: _Conn, reply: dict) -> None:
        conn.closing = True
        conn.drain_until = time.monotonic() + _DRAIN_SECONDS
        self._send(conn, reply)

    def _flush(self, conn: _Conn) -> None:
        if conn.sock.fileno() == -1:
            return
        try:
            while conn.outbuf:
                sent = conn.sock.send(conn.outbuf)
                del conn.outbuf[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self._close(conn)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.outbuf else 0)
        with contextlib.suppress(KeyError, ValueError):
            self._started()[0].modify(conn.sock, events, conn)
        if conn.closing and not conn.outbuf:
            # Reply out: no more writes; keep reading (and dropping) the client's input
            # for a moment so that closing does not reset the connection under the reply.
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_WR)

    def _close(self, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        if fd != -1:
            with contextlib.suppress(KeyError, ValueError):
                self._started()[0].unregister(conn.sock)
        with contextlib.suppress(OSError):
            conn.sock.close()
        for key, value in list(self._conns.items()):
            if value is conn:
                del self._conns[key]

    def _sweep(self) -> None:
        now = time.monotonic()
        for conn in list(self._conns.values()):
            if conn.closing and conn.drain_until is not None and now > conn.drain_until:
                self._close(conn)
            elif not conn.closing and now - conn.last > self.idle_timeout:
                self.num_refused += 1
                self._reply_and_close(conn, {"ok": False, "error": "idle for too long; closing"})


class AutomlCommandModule:
    """The engine's admin commands (Clara's names)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get_spec(self) -> list[dict]:
        return [
            self._spec("list_workers", "list_workers", "NAME, GPUS, STATE, JOBS of every worker"),
            self._spec("show_worker", "show_worker <name>", "one worker's details"),
            self._spec(
                "suspend_worker",
                "suspend_worker <name>",
                "give the worker no new job (its current job goes on)",
            ),
            self._spec("resume_worker", "resume_worker <name>", "make the worker eligible again"),
            self._spec(
                "abort_worker",
                "abort_worker <name>",
                "abort the worker's current job (the worker stays available)",
            ),
            self._spec("stop", "stop", "stop the run: no new jobs, running jobs aborted"),
        ]

    def _spec(self, name: str, usage: str, description: str) -> dict:
        return {
            "name": name,
            "usage": usage,
            "description": description,
            "handler": getattr(self, f"handle_{name}"),
        }

    @staticmethod
    def _worker(args: list[str], usage: str) -> str:
        if len(args) != 1:
            raise CommandError(f"usage: {usage}")
        return args[0]

    def _call(self, method: Callable[[str], _T], name: str) -> _T:
        try:
            return method(name)
        except KeyError as exc:
            raise CommandError(exc.args[0]) from None

    def handle_list_workers(self, args: list[str]) -> str:
        if args:
            raise CommandError("usage: list_workers")
        rows = [
            [
                s["name"],
                ",".join(map(str, s["gpus"])),
                s["state"],
                s["jobs"],
                s["current_job"] or "",
            ]
            for s in self.engine.worker_states()
        ]
        return format_table(["NAME", "GPUS", "STATE", "JOBS", "CURRENT"], rows)

    def handle_show_worker(self, args: list[str]) -> str:
        name = self._worker(args, "show_worker <name>")
        state = self._call(self.engine.worker_state, name)
        lines = [
            f"name: {state['name']}",
            f"gpus: {','.join(map(str, state['gpus']))}",
            f"state: {state['state']}",
            f"jobs: {state['jobs']}",
        ]
        if state["current_job"]:
            seconds = state["running_seconds"] or 0.0
            lines.append(f"current job: {state['current_job']} (running {seconds:.1f} s)")
        last = state["last_job"]
        if last is not None:
            lines.append(f"last job: {last['name']} {last['status']}, score {last['score']:g}")
        return "\n".join(lines)

    def handle_suspend_worker(self, args: list[str]) -> str:
        name = self._worker(args, "suspend_worker <name>")
        if not self._call(self.engine.suspend_worker, name):
            return f"{name} was already suspended"
        return f"{name} suspended: it gets no new job (a job it runs goes on)"

    def handle_resume_worker(self, args: list[str]) -> str:
        name = self._worker(args, "resume_worker <name>")
        if not self._call(self.engine.resume_worker, name):
            return f"{name} was not suspended"
        return f"{name} resumed"

    def handle_abort_worker(self, args: list[str]) -> str:
        name = self._worker(args, "abort_worker <name>")
        job = self._call(self.engine.abort_worker, name)
        if job is None:
            raise CommandError(f"{name} runs no job: nothing to abort")
        return f"aborting {job} on {name}"

    def handle_stop(self, args: list[str]) -> str:
        if args:
            raise CommandError("usage: stop")
        self.engine.ask_to_stop("the admin stop command")
        return "stopping the run: no new jobs, running jobs aborted"


def start_admin(
    engine: Engine, admin_port: int, ctx: Context, folder: str | None = None
) -> AdminServer:
    """Clara's ``start_admin(engine, admin_port, ctx)``: register the engine's commands in
    ``ctx`` and serve them on 127.0.0.1:``admin_port`` (0: a free port); ``admin.json``
    goes to ``folder``, default the run folder (``RUN_ROOT``). Returns the running server
    (``stop()`` it). :meth:`Engine.run` does this itself unless ``admin_port=None``."""
    from scheduler.automl.defs import MMARPropKey

    if not any(isinstance(m, AutomlCommandModule) for m in ctx.command_modules):
        ctx.add_command_module(AutomlCommandModule(engine))
    folder = folder or ctx.get_prop(MMARPropKey.RUN_ROOT)
    server = AdminServer(ctx, port=admin_port, folder=folder)
    server.start()
    return server
