"""Main loop of a process-backend worker (runs in the child process).

Protocol over one duplex ``multiprocessing`` connection, every message a cloudpickled
tuple sent with ``send_bytes``:

driver -> worker: ``("run", spec, fn_key, fn_bytes_or_None, sys_path)``, ``("exit",)``,
                  and the decision string in reply to each report.
worker -> driver: ``("report", task_id, result)``, ``("end", task_id, outcome)``.

The train_fn is sent once per worker and cached by ``fn_key``. ``CUDA_VISIBLE_DEVICES``
is set from the task's GPU ids before the task runs; the driver only reuses a worker
for a task with the same GPU ids (CUDA binds devices at its first use in a process).
"""

from __future__ import annotations

import os
import sys

import cloudpickle

from scheduler.runtime._execute import execute
from scheduler.runtime.backend import TaskOutcome


def _send(conn, message) -> None:
    conn.send_bytes(cloudpickle.dumps(message))


def _recv(conn):
    return cloudpickle.loads(conn.recv_bytes())


def worker_main(conn) -> None:
    """Serve tasks until told to exit or the driver goes away."""
    functions: dict[int, object] = {}
    while True:
        try:
            message = _recv(conn)
        except (EOFError, OSError):
            return  # driver gone
        if message[0] == "exit":
            return
        _, spec, fn_key, fn_bytes, sys_path = message
        for entry in reversed(sys_path):
            if entry not in sys.path:
                sys.path.insert(0, entry)
        if fn_key not in functions:
            functions[fn_key] = cloudpickle.loads(fn_bytes)
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in spec.gpu_ids)
        task_id = spec.task_id

        def send(result, _task_id=task_id):
            _send(conn, ("report", _task_id, result))
            return _recv(conn)

        outcome = execute(functions[fn_key], spec, send)
        try:
            _send(conn, ("end", task_id, outcome))
        except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable return value
            fallback = TaskOutcome(
                outcome.kind,
                error=outcome.error,
                traceback=outcome.traceback,
                num_reports=outcome.num_reports,
            )
            del exc
            _send(conn, ("end", task_id, fallback))
