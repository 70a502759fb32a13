"""The Ray actor that runs trials (imported inside Ray worker processes).

One actor runs one task at a time and is reused for the next task of the same
scheduler. ``train_fn`` runs in a thread of the actor; the driver moves it forward with
actor method calls: ``run(spec)`` starts a task and returns its first event, each
``step(decision)`` hands the decision of the last report to the waiting reporter and
returns the next event. An event is ``("report", result)`` or ``("end", outcome)``.
So one report costs one actor call (the decision travels with the call that asks for
the next report), a launch costs one call, and nothing polls.

``train_fn`` arrives cloudpickled with the driver's ``sys.path``: entries the worker
lacks are appended (after its own, so a node's installed packages win) before it is
unpickled, so that a ``train_fn`` defined in a module beside the driver's script
imports on a local cluster as it does in the process backend; on a remote cluster
install the modules it needs on every node (or ship them with ``runtime_env``).

Ray sets ``CUDA_VISIBLE_DEVICES`` for the actor from the GPUs it assigned; the task's
``args.gpu_ids`` and ``TaskSpec.gpu_ids`` are set from the same assignment. After a
task the actor restores the environment variables and the working directory it started
with, and kills the processes the task started and left running (Linux: found in
``/proc``), so the next task sees what the first one saw and nothing a trial started
outlives its task.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import signal
import sys
import threading
from typing import Any

import cloudpickle

from scheduler.runtime.backends.base import TaskOutcome, TaskSpec
from scheduler.runtime.execute import execute

__all__ = ["Trial"]


def _gpu_ids() -> list[int]:
    import ray

    ids = []
    for gpu in ray.get_gpu_ids():
        try:
            ids.append(int(gpu))
        except (TypeError, ValueError):  # a UUID-style id: keep the position
            ids.append(len(ids))
    return ids


def _descendants() -> set[int]:
    """This process's live descendants (empty where there is no ``/proc``)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return set()
    parents = {}
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            parents[int(entry)] = int(fields[1])
    found: set[int] = set()
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


class Trial:
    """Runs tasks of one ``train_fn``; methods are called by the driver only."""

    def __init__(self, fn_bytes: bytes, driver_sys_path: list[str]):
        for entry in driver_sys_path:
            if entry not in sys.path:
                sys.path.append(entry)
        self._train_fn = cloudpickle.loads(fn_bytes)
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._decisions: queue.SimpleQueue = queue.SimpleQueue()
        self._environ = dict(os.environ)
        self._cwd = os.getcwd()
        self._children = _descendants()  # not the tasks': never killed
        self._busy = False

    def where(self) -> tuple[str, list[int], int]:
        """``(node id, GPU ids, pid)``: answered once the actor is placed and started."""
        import ray

        return ray.get_runtime_context().get_node_id(), _gpu_ids(), os.getpid()

    def run(self, spec):
        """Start a task; returns its first event."""
        if self._busy:
            raise RuntimeError("this trial actor is already running a task")
        self._busy = True
        gpu_ids = _gpu_ids()
        spec.args.gpu_ids = list(gpu_ids)
        spec = dataclasses.replace(spec, gpu_ids=tuple(gpu_ids))
        threading.Thread(
            target=self._body, args=(spec,), name=f"scheduler-task-{spec.task_id}", daemon=True
        ).start()
        return self._events.get()

    def step(self, decision: str) -> tuple[str, Any]:
        """Answer the last report with ``decision``; returns the next event."""
        self._decisions.put(decision)
        return self._events.get()

    def _send(self, result: dict) -> str:
        self._events.put(("report", result))
        return self._decisions.get()

    def _body(self, spec: TaskSpec) -> None:
        outcome = TaskOutcome("raised", error="the task thread ended without an outcome")
        try:
            outcome = execute(self._train_fn, spec, self._send)
            if outcome.return_value is not None:
                try:
                    cloudpickle.dumps(outcome.return_value)
                except Exception:  # noqa: BLE001 - an unpicklable return value: drop it
                    outcome = dataclasses.replace(outcome, return_value=None)
        finally:
            self._restore()
            self._busy = False
            self._events.put(("end", outcome))

    def _restore(self) -> None:
        """Undo what the task changed in the process: environment, working directory,
        processes it started."""
        left = _descendants() - self._children
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for pid in left:  # reap the direct children (the others are not ours to wait for)
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
        for key in set(os.environ) - set(self._environ):
            del os.environ[key]
        for key, value in self._environ.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
        with contextlib.suppress(OSError):
            os.chdir(self._cwd)
