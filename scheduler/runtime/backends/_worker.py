"""Main loop of a process-backend worker (runs in the child interpreter).

The driver starts ``python -c "...worker_main(FD)"`` with one end of a socket pair as
file descriptor FD. Protocol over that connection, every message a cloudpickled tuple
sent with ``send_bytes``:

driver -> worker: ``("run", spec, fn_key, fn_bytes_or_None, sys_path)``, ``("exit",)``,
                  and the decision string in reply to each report.
worker -> driver: ``("ready",)`` once imports are done, ``("report", task_id, result)``,
                  ``("end", task_id, outcome)``.

The worker is a fresh interpreter, not a fork of the driver, so the user's ``__main__``
is never re-imported (scripts without an ``if __name__ == "__main__"`` guard work) and
no driver thread or lock state leaks into it. The train_fn is sent once per worker and
cached by ``fn_key``. ``CUDA_VISIBLE_DEVICES`` is set from the task's GPU ids before the
task runs; the driver reuses a worker only for tasks with the same GPU ids (CUDA binds
devices at its first use in a process). A watchdog thread kills the worker (and what it
forked) if the driver dies, so a hung task never outlives its experiment.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection

import cloudpickle

from scheduler.runtime.backends.base import TaskOutcome
from scheduler.runtime.execute import execute


def _watch_driver(interval: float = 1.0) -> None:
    """Kill this worker and its own children if the driver process goes away.

    (Not PR_SET_PDEATHSIG: that fires when the *thread* that spawned the worker ends,
    and the driver spawns workers from whatever thread calls ``run()``.)
    """
    driver = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != driver:
                try:
                    os.killpg(0, signal.SIGKILL)  # the worker leads its own session
                finally:
                    os._exit(1)

    threading.Thread(target=watch, name="scheduler-driver-watch", daemon=True).start()


# Reports and decisions are plain data: the C pickler is several times faster than
# cloudpickle's for them. Only the train_fn travels with cloudpickle.
def _send(conn, message) -> None:
    conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def _recv(conn):
    return pickle.loads(conn.recv_bytes())


def _await_reply(conn, spin_seconds: float = 0.0005) -> str:
    """Wait for the decision, polling briefly first: the reply usually comes within
    ~100-300 us, and a short spin saves this process a sleep/wake-up on the way."""
    deadline = time.perf_counter() + spin_seconds
    while time.perf_counter() < deadline:
        if conn.poll(0):
            break
        os.sched_yield()  # leave the core to the driver if it is waiting for one
    return _recv(conn)


def worker_main(fd: int) -> None:
    """Serve tasks over the connection on ``fd`` until told to exit or the driver goes."""
    _watch_driver()
    conn = Connection(fd)
    functions: dict[int, object] = {}
    _send(conn, ("ready",))
    while True:
        try:
            message = _recv(conn)
        except (EOFError, OSError):
            return  # driver gone
        if message[0] == "exit":
            return
        _, spec, fn_key, fn_bytes, sys_path = message
        spec = cloudpickle.loads(spec)
        for entry in reversed(sys_path):
            if entry not in sys.path:
                sys.path.insert(0, entry)
        if fn_key not in functions:
            functions[fn_key] = cloudpickle.loads(fn_bytes)
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in spec.gpu_ids)
        task_id = spec.task_id

        def send(result, _task_id=task_id):
            _send(conn, ("report", _task_id, result))
            return _await_reply(conn)

        outcome = execute(functions[fn_key], spec, send)
        try:
            _send(conn, ("end", task_id, outcome))
        except (EOFError, OSError):
            return  # driver gone
        except Exception:  # noqa: BLE001 - an unpicklable return value: drop it
            _send(
                conn,
                (
                    "end",
                    task_id,
                    TaskOutcome(
                        outcome.kind,
                        error=outcome.error,
                        traceback=outcome.traceback,
                        num_reports=outcome.num_reports,
                    ),
                ),
            )
