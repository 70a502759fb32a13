"""The admin client: ``python -m scheduler.automl admin --run-dir DIR [command ...]``.

It reads the port and the token from ``DIR/admin.json`` (the run folder, or the folder
given to the engine as ``admin_dir``). With a command it sends it, prints the reply and
exits (1 on an error reply); without one it prompts (``AutoML> ``) for commands until
``bye``. ``help`` lists the server's commands, ``? cmd`` shows one's usage, ``lpwd``
prints the local working folder.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from typing import TextIO

from scheduler.automl.defs import MMARStd

__all__ = ["AdminClient", "AdminError", "main"]

#: the longest reply line read
MAX_REPLY = 16 << 20


class AdminError(Exception):
    """The server replied with an error, or could not be reached."""


class AdminClient:
    """Send admin commands to a running AutoML engine (one connection per command).

    Parameters
    ----------
    run_dir : str, optional
        The folder holding ``admin.json``.
    host, port, token : optional
        Given directly instead of ``run_dir``.
    timeout : float
        Seconds to wait for a connection and a reply.
    """

    def __init__(self, run_dir=None, *, host=None, port=None, token=None, timeout=10.0):
        if run_dir is not None:
            path = os.path.join(run_dir, MMARStd.ADMIN_FILE)
            try:
                with open(path, encoding="utf-8") as f:
                    info = json.load(f)
            except FileNotFoundError:
                raise AdminError(
                    f"no {path}: is an AutoML run with an admin server going on in {run_dir}?"
                ) from None
            except (OSError, json.JSONDecodeError) as exc:
                raise AdminError(f"cannot read {path}: {exc}") from None
            host = host or info.get("host")
            port = port or info.get("port")
            token = token or info.get("token")
        if not host or not isinstance(port, int) or not isinstance(token, str):
            raise AdminError("need run_dir, or host, port and token")
        self.host, self.port, self.token, self.timeout = host, port, token, timeout

    def request(self, command: str, *args: str) -> dict:
        """Send one command; returns the reply object (``ok``, ``reply`` or ``error``)."""
        line = json.dumps({"token": self.token, "command": command, "args": list(args)})
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as sock:
                sock.sendall(line.encode("utf-8") + b"\n")
                data = b""
                while b"\n" not in data:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    if len(data) > MAX_REPLY:
                        raise AdminError(f"reply longer than {MAX_REPLY} bytes")
        except OSError as exc:
            raise AdminError(
                f"cannot reach the admin server at {self.host}:{self.port}: {exc} "
                "(has the run ended?)"
            ) from None
        if not data:
            raise AdminError("the admin server closed the connection without a reply")
        try:
            return json.loads(data.split(b"\n", 1)[0])
        except json.JSONDecodeError as exc:
            raise AdminError(f"malformed reply from the admin server: {exc}") from None

    def command(self, command: str, *args: str) -> str:
        """Send one command; returns its reply text, raises AdminError on an error."""
        reply = self.request(command, *args)
        if not reply.get("ok"):
            raise AdminError(reply.get("error", "error"))
        return reply.get("reply", "")


def _run_line(client: AdminClient, line: str, out: TextIO) -> bool:
    """Run one interactive line; False to quit."""
    words = line.split()
    if not words:
        return True
    if words[0] in ("bye", "exit", "quit"):
        return False
    if words[0] == "lpwd":
        print(os.getcwd(), file=out)
        return True
    if words[0] == "?":
        words = ["help", *words[1:]]
    try:
        print(client.command(words[0], *words[1:]), file=out)
    except AdminError as exc:
        print(f"error: {exc}", file=out)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scheduler.automl admin",
        description="Send admin commands to a running AutoML engine.",
    )
    parser.add_argument("--run-dir", required=True, help="the run folder (holds admin.json)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per command")
    parser.add_argument("--prompt", default="AutoML> ", help="the interactive prompt")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="one command and its args")
    options = parser.parse_args(argv)
    try:
        client = AdminClient(options.run_dir, timeout=options.timeout)
    except AdminError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if options.command:
        try:
            print(client.command(options.command[0], *options.command[1:]))
        except AdminError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input(options.prompt if interactive else "")
        except EOFError:
            return 0
        if not _run_line(client, line, sys.stdout):
            return 0
