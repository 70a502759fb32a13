"""Main loop of a worker interpreter (process and subprocess backends).

The driver starts ``python -c "...worker_main(FD, ONE_SHOT)"`` with one end of a socket
pair as file descriptor FD. Protocol over that connection, every message a pickled
tuple sent with ``send_bytes``:

driver -> worker: ``("load", fn_key, (fn_bytes, sources), sys_path)`` once per
                  train_fn (as soon as the worker is ready, so that what the function
                  imports is imported before a task needs it), ``("run", spec,
                  fn_key)``, ``("exit",)``, and the decision string in reply to each
                  report.
worker -> driver: ``("ready",)`` once imports are done, ``("loaded", fn_key)`` after
                  a ``load``, ``("running", task_id)`` when the task's code begins,
                  ``("report", task_id, result)``,
                  ``("end", task_id, outcome, retire)``: ``retire`` is None when the
                  worker can take another task, else why it cannot (it exits).

The worker is a fresh interpreter, not a fork of the driver, so the user's ``__main__``
is never re-imported (scripts without an ``if __name__ == "__main__"`` guard work) and
no driver thread or lock state leaks into it. It leads its own session, is a child
subreaper, and runs each task with ``SCHEDULER_TASK_TOKEN`` in its environment; after
the task it kills every process the task left (:mod:`._leftovers`) and restores what
the task changed (:mod:`._state`), or retires. The train_fn is sent once per worker and
cached by ``fn_key``; its source lines come along (:mod:`._ship`), so tracebacks name
the user's file and line. ``CUDA_VISIBLE_DEVICES`` is set from the task's GPU ids; the
driver reuses a worker only for tasks with the same GPU ids (CUDA binds devices at its
first use in a process). With ``one_shot`` the worker runs one task and exits (the
subprocess backend). A watchdog thread kills the worker (and its process group) if the
driver dies, so a hung task never outlives its experiment.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import cloudpickle

from scheduler.runtime.backends import _leftovers
from scheduler.runtime.backends._ship import install_sources
from scheduler.runtime.backends._state import ProcessState
from scheduler.runtime.backends.base import RAISED, TaskOutcome
from scheduler.runtime.execute import execute

#: exit status of a worker whose connection to the driver broke during a task (the
#: task closed the worker's descriptor, say); see ``describe_exit`` in ``process``
LOST_CONNECTION = 75


def _watch_driver(interval: float = 1.0) -> None:
    """Kill this worker and its own children if the driver process goes away.

    (Not PR_SET_PDEATHSIG: that fires when the *thread* that spawned the worker ends,
    and the driver spawns workers from short-lived threads.)
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
def _send(conn: Connection, message: tuple) -> None:
    conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def _recv(conn: Connection) -> Any:
    return pickle.loads(conn.recv_bytes())


def _clean_up_after(token: str | None, subreaper: bool) -> str | None:
    """Kill what the task left running; None when nothing is left, else why not."""
    if subreaper and _leftovers.has_children() is False:
        return None  # fast path: no child, so no descendant, nothing escaped
    done = _leftovers.kill_leftovers(
        root=os.getpid(), pgid=os.getpgid(0), token=token, reap=True, timeout=2.0
    )
    return None if done else "processes the task started could not be killed"


def _identity(fd: int) -> tuple[int, int] | None:
    try:
        info = os.fstat(fd)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _broken(conn: Connection, identity: tuple[int, int] | None) -> bool:
    """Whether the connection's descriptor was closed (or reused for another file)."""
    return conn.closed or _identity(conn.fileno()) != identity


def _load(fn_bytes: bytes) -> Callable[..., Any] | TaskOutcome:
    """The train_fn, or a failed outcome saying why it cannot be loaded here (a module
    that does not import in the worker, say)."""
    try:
        return cloudpickle.loads(fn_bytes)
    except BaseException as exc:  # noqa: BLE001 - reported with the task that needs it
        import traceback

        return TaskOutcome(
            RAISED,
            error=f"the train_fn could not be loaded in the worker: {type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
        )


def _without_return_value(outcome: TaskOutcome) -> TaskOutcome:
    return TaskOutcome(
        outcome.kind,
        error=outcome.error,
        traceback=outcome.traceback,
        num_reports=outcome.num_reports,
    )


def worker_main(fd: int, one_shot: bool = False) -> None:
    """Serve tasks over the connection on ``fd`` until told to exit, the driver goes,
    or (``one_shot``) one task is done."""
    _watch_driver()
    subreaper = _leftovers.set_child_subreaper()
    token = os.environ.get(_leftovers.TOKEN_VARIABLE)
    conn = Connection(fd)
    identity = _identity(fd)
    functions: dict[int, Callable[..., Any] | TaskOutcome] = {}
    # What a task may change, as it was before the first task (taken again after a
    # "load", which extends sys.path). A task whose changes restore() undid leaves the
    # process in exactly this state, so one snapshot serves every task (taking it costs
    # about 1 ms: every signal handler and resource limit, read one by one).
    state: ProcessState | None = None
    _send(conn, ("ready",))
    while True:
        try:
            message = _recv(conn)
        except (EOFError, OSError):
            break  # driver gone
        if message[0] == "exit":
            break
        if message[0] == "load":
            _, fn_key, (fn_bytes, sources), sys_path = message
            for entry in reversed(sys_path):
                if entry not in sys.path:
                    sys.path.insert(0, entry)
            install_sources(sources)
            functions[fn_key] = _load(fn_bytes)
            state = None
            _send(conn, ("loaded", fn_key))
            continue
        _, spec, fn_key = message
        spec = cloudpickle.loads(spec)
        train_fn = functions[fn_key]
        if state is None:
            state = ProcessState()
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in spec.gpu_ids)
        task_id = spec.task_id

        def send(result: dict, _task_id: int = task_id) -> str:
            # a plain blocking read: spinning for the reply (polling it for 0.5 ms)
            # took the core from the driver on a machine with as many workers as
            # cores, and measured 200-230 us a round trip against 270-290 with it
            _send(conn, ("report", _task_id, result))
            return _recv(conn)

        _send(conn, ("running", task_id))  # max_task_time counts from here
        # (a TaskOutcome in place of the train_fn says why it could not be loaded)
        outcome = train_fn if isinstance(train_fn, TaskOutcome) else execute(train_fn, spec, send)
        if _broken(conn, identity):
            _leftovers.kill_leftovers(root=os.getpid(), token=token, reap=True)
            os._exit(LOST_CONNECTION)
        retire = _clean_up_after(token, subreaper)
        if not one_shot:
            restored = state.restore()
            retire = "; ".join(r for r in (retire, restored) if r) or None
        else:
            retire = retire or "one task per interpreter"
        try:
            try:
                _send(conn, ("end", task_id, outcome, retire))
            except Exception:  # noqa: BLE001 - an unpicklable return value: drop it
                _send(conn, ("end", task_id, _without_return_value(outcome), retire))
        except (EOFError, OSError):
            break  # driver gone
        if retire is not None:
            break
    # Leave at once: a non-daemon thread the task left would hold up a normal exit.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(0)
