"""The admin channel over a real socket, against a live engine whose jobs the test gates:
every command, bad tokens and lines, a 1 MB line, 50 connections at once, suspend,
resume, abort, stop, and the client."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import threading
import time

import pytest
from _automl import GateExecutor

from scheduler.automl import (
    AdminClient,
    AdminError,
    Context,
    Engine,
    MMARPropKey,
    SearcherController,
    parse_workers,
    start_admin,
)
from scheduler.automl import admin_client as client_module


@pytest.fixture
def live(tmp_path):
    executor = GateExecutor()
    engine = Engine(
        parse_workers("0:1"),
        SearcherController("random", max_rounds=40),
        executor,
        job_poll_interval=0.05,
        admin_port=0,
        admin_dir=str(tmp_path),
        admin_options={"idle_timeout": 1.0},
        abort_timeout=10,
    )
    thread = threading.Thread(target=engine.run, args=(Context(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not (tmp_path / "admin.json").exists():
        assert time.monotonic() < deadline, "the admin server did not start"
        time.sleep(0.01)
    executor.wait_for(lambda running: len(running) == 2)
    client = AdminClient(str(tmp_path), timeout=10)
    yield engine, executor, client, tmp_path
    engine.ask_to_stop("test over")
    thread.join(20)
    assert not thread.is_alive(), "the engine did not stop"


def raw(client: AdminClient, payload: bytes, expect: int | None = None):
    """Send raw bytes; read replies until ``expect`` of them came or the server closed.
    Returns (the reply objects, whether the server closed the connection)."""
    with socket.create_connection((client.host, client.port), timeout=10) as sock:
        sock.sendall(payload)
        data = b""
        while expect is None or data.count(b"\n") < expect:
            chunk = sock.recv(65536)
            if not chunk:
                return [json.loads(x) for x in data.splitlines() if x.strip()], True
            data += chunk
    return [json.loads(x) for x in data.splitlines() if x.strip()], False


def request(client, command, *args, token=None) -> bytes:
    body = {
        "token": client.token if token is None else token,
        "command": command,
        "args": list(args),
    }
    return json.dumps(body).encode() + b"\n"


def test_admin_file_is_private_and_the_server_loopback_only(live):
    engine, _, _client, folder = live
    mode = stat.S_IMODE(os.stat(folder / "admin.json").st_mode)
    assert mode == 0o600
    info = json.loads((folder / "admin.json").read_text())
    assert info["host"] == "127.0.0.1" and info["port"] == engine.admin.port
    assert engine.admin._listener.getsockname()[0] == "127.0.0.1"
    assert len(info["token"]) >= 32


def test_list_show_help_and_stop(live):
    engine, _executor, client, folder = live
    table = client.command("list_workers").splitlines()
    assert table[0].split()[:4] == ["NAME", "GPUS", "STATE", "JOBS"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows["W1"][1:4] == ["0", "busy", "1"] and rows["W2"][1:4] == ["1", "busy", "1"]
    shown = client.command("show_worker", "W1")
    assert "name: W1" in shown and "current job: W1_1_J1" in shown
    helptext = client.command("help")
    for name in (
        "list_workers",
        "show_worker",
        "suspend_worker",
        "resume_worker",
        "abort_worker",
        "stop",
    ):
        assert name in helptext
    assert client.command("help", "abort_worker").startswith("usage: abort_worker <name>")
    with pytest.raises(AdminError, match="usage: show_worker <name>"):
        client.command("show_worker")
    assert "stopping the run" in client.command("stop")
    deadline = time.monotonic() + 10
    while engine.state != "done":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert engine.stop_reason == "Engine: the admin stop command"
    assert sorted(j["status"] for j in engine.jobs()) == ["aborted", "aborted"]
    assert not (folder / "admin.json").exists()  # removed when the server stopped


def test_suspend_keeps_a_worker_idle_while_others_run(live):
    _engine, executor, client, _ = live
    assert "W2 suspended" in client.command("suspend_worker", "W2")
    assert client.command("suspend_worker", "W2") == "W2 was already suspended"
    executor.release("W2_1_J2")
    executor.wait_for(lambda running: running == ["W1_1_J1"])
    executor.release("W1_1_J1")
    running = executor.wait_for(lambda running: len(running) == 1 and running[0] != "W1_1_J1")
    assert running[0].startswith("W1_2_")
    time.sleep(0.3)  # W2 stays idle: nothing new starts on it
    assert [name for name in executor.running if name.startswith("W2")] == []
    rows = {
        line.split()[0]: line.split() for line in client.command("list_workers").splitlines()[1:]
    }
    assert rows["W2"][2:4] == ["suspended", "1"]
    assert client.command("resume_worker", "W2") == "W2 resumed"
    assert client.command("resume_worker", "W2") == "W2 was not suspended"
    running = executor.wait_for(lambda running: any(n.startswith("W2_2_") for n in running))
    assert len(running) == 2


def test_abort_worker_ends_the_job_and_the_worker_takes_the_next(live):
    engine, executor, client, _ = live
    assert client.command("abort_worker", "W1") == "aborting W1_1_J1 on W1"
    executor.wait_for(lambda running: any(n.startswith("W1_2_") for n in running))
    done = {j["job_name"]: j for j in engine.jobs()}
    assert done["W1_1_J1"]["status"] == "aborted"
    assert "abort_worker" in done["W1_1_J1"]["reason"]
    assert "W2_1_J2" in executor.running  # the other worker's job goes on


def test_command_errors_keep_the_connection(live):
    _, _, client, _ = live
    both = request(client, "abort_worker", "W9") + request(client, "list_workers")
    replies, closed = raw(client, both, expect=2)
    assert not closed  # a command error keeps the connection open
    assert replies[0]["ok"] is False and "no worker 'W9'" in replies[0]["error"]
    assert replies[1]["ok"] is True and "NAME" in replies[1]["reply"]


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (lambda c: request(c, "list_workers", token="0" * 64), "wrong or missing token"),
        (lambda c: b'{"command": "list_workers"}\n', "wrong or missing token"),
        (lambda c: b"hello admin\n", "malformed line"),
        (lambda c: b"[1, 2]\n", "malformed request"),
        (lambda c: b'{"token": "x", "verb": 1}\n', "malformed request"),
        (lambda c: request(c, "format_disk"), "unknown command 'format_disk'"),
        (lambda c: b"\xff\xfe\n", "malformed line"),
    ],
    ids=["wrong-token", "no-token", "garbage", "not-an-object", "bad-keys", "unknown", "bytes"],
)
def test_protocol_errors_get_a_reply_and_the_connection_closed(live, payload, error):
    _engine, executor, client, _ = live
    replies, closed = raw(client, payload(client))
    assert replies and replies[0]["ok"] is False and error in replies[0]["error"]
    assert closed
    assert "NAME" in client.command("list_workers")  # the server goes on
    assert len(executor.running) == 2  # and the jobs too


def test_a_1mb_line_is_refused(live):
    _, _, client, _ = live
    replies, closed = raw(client, b"x" * (1 << 20))
    assert replies[0] == {"ok": False, "error": "line longer than 65536 bytes"}
    assert closed
    assert "NAME" in client.command("list_workers")


def test_50_connections_at_once(live):
    _engine, executor, client, _ = live
    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(50)

    def one():
        sock = socket.create_connection((client.host, client.port), timeout=10)
        try:
            barrier.wait(10)
            sock.sendall(request(client, "list_workers"))
            data = b""
            while b"\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            with lock:
                results.append(json.loads(data.split(b"\n")[0]) if data else None)
        finally:
            sock.close()

    threads = [threading.Thread(target=one) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 50
    ok = [r for r in results if r and r["ok"]]
    busy = [r for r in results if r and not r["ok"]]
    assert ok and len(ok) + len(busy) == 50
    assert all("too many connections" in r["error"] for r in busy)
    # once the server has seen the 50 close (a moment), a new client is served
    deadline = time.monotonic() + 5
    while True:
        try:
            assert "NAME" in client.command("list_workers")
            break
        except AdminError as exc:
            assert "too many connections" in str(exc) and time.monotonic() < deadline
            time.sleep(0.05)
    assert len(executor.running) == 2


def test_an_idle_connection_is_closed(live):
    _, _, client, _ = live
    with socket.create_connection((client.host, client.port), timeout=10) as sock:
        data = sock.recv(65536)
        assert json.loads(data) == {"ok": False, "error": "idle for too long; closing"}
        assert sock.recv(10) == b""


def test_the_client_one_shot_and_interactive(live, capsys, monkeypatch):
    _, _, _client, folder = live
    assert client_module.main(["--run-dir", str(folder), "list_workers"]) == 0
    assert "NAME" in capsys.readouterr().out
    assert client_module.main(["--run-dir", str(folder), "show_worker", "W7"]) == 1
    assert "no worker 'W7'" in capsys.readouterr().err
    monkeypatch.setattr(
        "sys.stdin", io.StringIO("list_workers\n? stop\nlpwd\nnope\nbye\nlist_workers\n")
    )
    assert client_module.main(["--run-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "NAME" in out and "usage: stop" in out and os.getcwd() in out
    assert "error: unknown command 'nope'" in out
    assert out.count("NAME") == 1  # nothing after bye
    assert client_module.main(["--run-dir", str(folder / "nowhere")]) == 2


def test_start_admin_serves_an_engine_that_is_not_running(tmp_path):
    engine = Engine(parse_workers("0,1:2"), SearcherController(), GateExecutor())
    ctx = Context()
    ctx.set_prop(MMARPropKey.RUN_ROOT, str(tmp_path))
    server = start_admin(engine, 0, ctx)
    try:
        rows = AdminClient(str(tmp_path)).command("list_workers").splitlines()[1:]
        assert [r.split()[:4] for r in rows] == [
            ["W1", "0,1", "idle", "0"],
            ["W2", "2", "idle", "0"],
        ]
        with pytest.raises(AdminError, match="W1 runs no job"):
            AdminClient(str(tmp_path)).command("abort_worker", "W1")
    finally:
        server.stop()
    assert not (tmp_path / "admin.json").exists()
