"""Runs tasks as Ray actors, on a local Ray or on a cluster (``backend="ray"``).

Connecting: :func:`connect` starts a local Ray (``ray_address=None``: the machine's
CPUs and GPUs, no dashboard) or joins a running cluster (``"auto"``,
``"ray://host:10001"``, ``"host:6379"``), passing ``ray_init_kwargs`` to ``ray.init``.
The scheduler connects at construction, so that :func:`cluster_resources` can check
the request against the live nodes then: a request larger than every node is an error
at once, never a hang.

Trials: each task runs in a :class:`~scheduler.runtime.backends._ray_actor.Trial`
actor created with the trial's ``num_cpus``/``num_gpus`` (fractions allowed; Ray
assigns the GPU ids, which reach ``args.gpu_ids`` and ``CUDA_VISIBLE_DEVICES``). An
actor that finished a task is reused for the next one, so a launch is one actor call.
Actors are owned by the driver: if the driver dies, Ray ends them.

Channel: a report travels back as the return value of an actor call and its decision
goes out with the call that asks for the next event (see ``_ray_actor``): one actor
call per report. The driver never blocks on a call: Ray's completion callback puts
each result on a queue (Ray runs it on its own I/O thread, which must not wait on the
runtime's lock), and one dispatcher thread answers them in arrival order. Measured
against a driver-side queue actor (two calls per report, 3x the round trip) and a
``ray.wait`` loop (as fast, but O(running trials) per report and a launch waits for
its timeout): ``bench/ray_channels.py``.

Logs: Ray keeps each worker's stdout and stderr in its session folder and forwards
them to the driver (``log_to_driver``); ``TaskSpec.log_dir`` is not used.

Faults: any error of an actor call (the actor's process exited, segfaulted, was
OOM-killed or ``ray.kill``-ed, its node died, the call failed to serialize) ends its
task as ``died`` with Ray's reason (``lost: ...`` when the node died); the actor is
killed and replaced by a new one on the next launch. ``cancel`` (``max_task_time``,
which counts from the actor's placement: ``on_running``; shutdown) kills the actor. A
monitor thread follows the cluster (``ray.nodes()`` every second): the resource
manager's slots grow and shrink with the nodes, idle actors on a node that left are
dropped, and an actor Ray cannot place within ``placement_timeout`` seconds fails its
task instead of waiting for ever.

Checkpoints: ``reporter.checkpoint_dir`` is a path the task's node writes to. With
``pin_configs`` (no ``storage_path``), every later task of a config (promotion,
resume) runs on the node its first task ran on, where its folder is; if that node has
left, the task fails saying so. With a ``storage_path`` every node can reach (a shared
filesystem), configs run anywhere.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cloudpickle

from scheduler.runtime.backends.base import (
    CANCELLED,
    DIED,
    Backend,
    OnEnd,
    OnReport,
    TaskOutcome,
    TaskSpec,
)
from scheduler.runtime.resources import ClusterResourceManager

if TYPE_CHECKING:
    import concurrent.futures

__all__ = ["RayBackend", "cluster_resources", "connect", "describe_ray_error", "import_ray"]

log = logging.getLogger("scheduler")

INSTALL_HINT = 'pip install "scheduler[ray]"'

# What this module connected Ray with: (address, init kwargs, job id), or None.
_connected: tuple | None = None


def import_ray() -> types.ModuleType:
    """``import ray``, or an ImportError that says which extra to install."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(
            f'backend="ray" needs Ray, which is not installed: {INSTALL_HINT} ({exc})'
        ) from exc
    return ray


def connect(address: str | None = None, init_kwargs: dict | None = None) -> types.ModuleType:
    """Connect this process to Ray once; returns the ``ray`` module.

    ``address=None`` starts a local Ray with the machine's CPUs and GPUs and no
    dashboard (``init_kwargs`` may say otherwise); an address joins that cluster. A
    second scheduler in the same process reuses the connection when it asks for the
    same one; a Ray the user initialized themselves is reused when neither argument is
    given.
    """
    global _connected
    ray = import_ray()
    if address is not None and not isinstance(address, str):
        raise ValueError(
            "ray_address must be None (start a local Ray) or an address string such as "
            f"'auto', 'ray://host:10001' or 'host:6379', got {address!r}"
        )
    if init_kwargs is not None and not isinstance(init_kwargs, dict):
        raise ValueError(f"ray_init_kwargs must be a dict or None, got {init_kwargs!r}")
    kwargs = dict(init_kwargs or {})
    if "address" in kwargs:
        raise ValueError(
            "ray_init_kwargs must not hold 'address'; pass ray_address= instead, got "
            f"ray_init_kwargs={init_kwargs!r}"
        )
    if ray.is_initialized():
        job = ray.get_runtime_context().get_job_id()
        if _connected is not None and _connected[2] == job:
            if (_connected[0], _connected[1]) != (address, kwargs):
                raise ValueError(
                    "Ray is already connected in this process with "
                    f"ray_address={_connected[0]!r}, ray_init_kwargs={_connected[1]!r}; "
                    f"got ray_address={address!r}, ray_init_kwargs={kwargs!r} (call "
                    "ray.shutdown() first to connect elsewhere)"
                )
        elif address is not None or kwargs:
            raise ValueError(
                "Ray is already initialized in this process (by ray.init()); pass neither "
                "ray_address nor ray_init_kwargs to use that connection, or call "
                f"ray.shutdown() first; got ray_address={address!r}, "
                f"ray_init_kwargs={kwargs!r}"
            )
        return ray
    options = dict(kwargs)
    if address is None:
        options.setdefault("include_dashboard", False)
    ray.init(address=address, **options)
    _connected = (address, kwargs, ray.get_runtime_context().get_job_id())
    return ray


def live_nodes(ray: types.ModuleType) -> dict[str, dict]:
    """``{node_id: {'num_cpus': x, 'num_gpus': y}}`` of the cluster's live nodes."""
    nodes = {}
    for node in ray.nodes():
        if not node.get("Alive", node.get("alive", False)):
            continue
        resources = node.get("Resources") or {}
        nodes[node["NodeID"]] = {
            "num_cpus": float(resources.get("CPU", 0.0)),
            "num_gpus": float(resources.get("GPU", 0.0)),
        }
    return nodes


def cluster_resources(
    request: dict | None,
    total_resources: dict | None = None,
    *,
    address: str | None = None,
    init_kwargs: dict | None = None,
) -> ClusterResourceManager:
    """Connect to Ray and build the resource manager of a scheduler's trials."""
    ray = connect(address, init_kwargs)
    return ClusterResourceManager(request, live_nodes(ray), total_resources)


def when_done(ref: Any, callback: Callable[[Any], None]) -> None:
    """Call ``callback(value)`` once ``ref`` resolves (``value`` is the exception when
    the call failed), on Ray's own callback thread: the callback must only hand over.

    ``ObjectRef._on_completed`` costs about 2 us; the public ``future()`` route 25 times
    more per call, once per report. The latter is used where the former is missing.
    """
    on_completed = getattr(ref, "_on_completed", None)
    if on_completed is not None:
        on_completed(callback)
        return

    def done(future: concurrent.futures.Future) -> None:
        error = future.exception()
        callback(error if error is not None else future.result())

    ref.future().add_done_callback(done)


def describe_ray_error(exc: BaseException) -> str:
    """One readable line for why an actor call failed (Ray's text without its noise)."""
    text = str(exc)
    lines = [line.strip() for line in text.splitlines() if line and not line.startswith("\t")]
    cause = " ".join(lines)
    for cut in (" Some common causes", " To troubleshoot"):
        if cut in cause:
            cause = cause[: cause.index(cut)]
    if len(cause) > 400:
        cause = cause[:400] + "..."
    name = type(exc).__name__
    if "node has died" in text or "NODE_DIED" in text or name == "NodeDiedError":
        return f"lost: the Ray node running the task left the cluster ({name}: {cause})"
    if name == "ActorUnavailableError":
        return f"lost: the task's Ray actor stopped answering ({name}: {cause})"
    if name == "ActorUnschedulableError":
        return f"Ray could not place the task's actor ({name}: {cause})"
    return f"the task's Ray actor died ({name}: {cause})"


@dataclass(eq=False)
class _Actor:
    handle: Any  # a Ray ActorHandle: its methods are Ray's dynamic attributes
    created: float
    pinned_node: str | None
    where_ref: Any = None  # the ObjectRef of its where() call
    answered: bool = False  # where() came back: Ray placed and started the actor
    node_id: str | None = None  # known once placed
    gpu_ids: tuple = ()
    run: _Run | None = None
    dead: bool = False


@dataclass(eq=False)
class _Run:
    spec: TaskSpec
    node: str | None  # the node this task must run on (a pinned config), or None
    since: float
    actor: _Actor | None = None
    ended: bool = False
    cancel_reason: str | None = None


class RayBackend(Backend):
    """Trials as reusable Ray actors; see the module docstring.

    Parameters
    ----------
    train_fn, on_report, on_end
        As for every backend.
    resources : ClusterResourceManager
        The scheduler's resource manager (its request shapes the actors; the monitor
        thread keeps its nodes current).
    pin_configs : bool
        Run every later task of a config on the node of its first task (the config's
        ``checkpoint_dir`` is local to that node). False when ``storage_path`` is shared.
    """

    name = "ray"
    #: on_running is called for every task, when its actor is placed: max_task_time
    #: counts the task's own time; a placement that never happens ends at
    #: placement_timeout
    announces_running = True
    #: seconds an actor may wait for Ray to place it (or a pinned task for room on its
    #: node) before its task fails
    placement_timeout = 600.0
    #: seconds between two looks at the cluster's nodes
    monitor_interval = 1.0
    #: at most this many actors are started before the first launch
    prestart_limit = 32
    #: seconds prepare() waits for the prestarted actors
    prepare_timeout = 60.0

    def __init__(
        self,
        train_fn: Any,
        on_report: OnReport,
        on_end: OnEnd,
        *,
        resources: ClusterResourceManager,
        pin_configs: bool = True,
    ) -> None:
        super().__init__(train_fn, on_report, on_end)
        ray = import_ray()
        if not ray.is_initialized():
            raise RuntimeError(
                "backend='ray' needs a connected Ray; the scheduler connects when it is "
                "built (ray_address=...), or call ray.init() first"
            )
        from scheduler.runtime.backends._ray_actor import Trial

        self._ray = ray
        self._resources = resources
        self._pin = bool(pin_configs)
        request = resources.request
        self._actor_class = ray.remote(Trial).options(
            num_cpus=request["num_cpus"],
            num_gpus=request["num_gpus"],
            max_restarts=0,
            max_task_retries=0,
        )
        self._fn_ref = ray.put(cloudpickle.dumps(train_fn))
        self._lock = threading.Lock()
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._actors: set[_Actor] = set()
        self._idle: list[_Actor] = []
        self._runs: dict[int, _Run] = {}
        self._waiting: list[_Run] = []
        self._config_node: dict[int, str] = {}
        self._closing = False
        self._stop = threading.Event()
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name="scheduler-ray-dispatch", daemon=True
        )
        self._dispatcher.start()
        self._monitor = threading.Thread(
            target=self._monitor_loop, name="scheduler-ray-monitor", daemon=True
        )
        self._monitor.start()

    # -- actors ----------------------------------------------------------------------
    def _new_actor(self, node: str | None) -> _Actor:
        """Create an actor (Ray places it asynchronously); call under the lock."""
        cls = self._actor_class
        if node is not None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            cls = cls.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node, soft=False)
            )
        actor = _Actor(cls.remote(self._fn_ref, list(sys.path)), time.monotonic(), node)
        actor.where_ref = actor.handle.where.remote()
        self._actors.add(actor)

        def placed(value: Any, actor: _Actor = actor) -> None:
            actor.answered = True
            self._events.put(("placed", actor, value))

        when_done(actor.where_ref, placed)
        return actor

    def _kill(self, actor: _Actor) -> None:
        """Forget an actor and have Ray end it (idempotent)."""
        with self._lock:
            self._forget(actor)
        with contextlib.suppress(Exception):
            self._ray.kill(actor.handle, no_restart=True)

    def _forget(self, actor: _Actor) -> None:
        actor.dead = True
        self._actors.discard(actor)
        if actor in self._idle:
            self._idle.remove(actor)

    def _actors_on(self, node: str) -> int:
        return sum(1 for a in self._actors if (a.node_id or a.pinned_node) == node)

    def _room_on(self, node: str) -> bool:
        """Whether a new actor pinned to ``node`` can be placed now (by our count)."""
        if any(a.node_id is None and a.pinned_node is None for a in self._actors):
            return False  # an actor Ray has not placed yet may land there
        return self._actors_on(node) < self._resources.node_slots.get(node, 0)

    def _next_run_for(self, actor: _Actor) -> tuple[_Run | None, _Actor | None]:
        """The task a freed actor should take next, with the unplaced actor it takes it
        from (to be killed), or (None, None); call under the lock.

        First a pinned task waiting for room on the actor's node; then a task whose own
        new actor Ray has not placed yet (the cluster shrank under it, or someone else
        took the room): a free actor runs it now, instead of both waiting for a slot
        that this free actor itself holds.
        """
        for waiting in self._waiting:
            if waiting.node == actor.node_id:
                self._waiting.remove(waiting)
                return waiting, None
        for other in self._actors:
            run = other.run
            if (
                other is not actor
                and other.node_id is None
                and run is not None
                and not run.ended
                and run.node in (None, actor.node_id)
                and not other.answered
            ):
                other.run = None
                return run, other
        return None, None

    def _take_idle(self, node: str | None) -> _Actor | None:
        for i, actor in enumerate(self._idle):
            if node is None or actor.node_id == node:
                return self._idle.pop(i)
        return None

    # -- Backend interface -------------------------------------------------------------
    def prepare(self, max_concurrency: int) -> None:
        """Start up to ``prestart_limit`` actors and wait (bounded) until Ray placed them."""
        with self._lock:
            missing = min(max_concurrency, self.prestart_limit) - len(self._actors)
            fresh = [self._new_actor(None) for _ in range(max(0, missing))]
            self._idle.extend(fresh)
        if fresh:
            self._ray.wait(
                [a.where_ref for a in fresh],
                num_returns=len(fresh),
                timeout=self.prepare_timeout,
            )

    def start(self, spec: TaskSpec) -> None:
        now = time.monotonic()
        with self._lock:
            if self._closing:
                raise RuntimeError("the Ray backend was shut down")
            node = self._config_node.get(spec.args.config_id) if self._pin else None
            run = _Run(spec, node, now)
            self._runs[spec.task_id] = run
            gone = node is not None and node not in self._resources.node_slots
            actor = None
            if not gone:
                actor = self._take_idle(node)
                if actor is None:
                    if node is None or self._room_on(node):
                        actor = self._new_actor(node)
                    else:
                        self._waiting.append(run)  # an actor on its node frees up soon
                if actor is not None:
                    run.actor, actor.run = actor, run
        if node is not None and gone:
            self._finish(run, TaskOutcome(DIED, error=self._node_gone(spec, node)))
        elif actor is not None:
            self._submit(run, actor, "run", spec)

    def cancel(self, task_id: int, reason: str) -> None:
        with self._lock:
            run = self._runs.get(task_id)
            if run is None or run.ended:
                return
            run.cancel_reason = reason
            actor = run.actor
            if run in self._waiting:
                self._waiting.remove(run)
        if actor is not None:
            self._kill(actor)
        self._finish(run, TaskOutcome(CANCELLED, error=reason))

    def shutdown(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._closing = True
            runs = [r for r in self._runs.values() if not r.ended]
        for run in runs:
            self.cancel(run.spec.task_id, "scheduler shut down")
        with self._lock:
            actors = list(self._actors)
        for actor in actors:
            self._kill(actor)
        self._stop.set()
        self._events.put(("stop",))
        deadline = time.monotonic() + timeout
        for thread in (self._dispatcher, self._monitor):
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    # -- calls and their results ---------------------------------------------------
    def _submit(self, run: _Run, actor: _Actor, method: str, arg: object) -> None:
        try:
            ref = getattr(actor.handle, method).remote(arg)
        except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable spec
            self._kill(actor)
            self._finish(run, TaskOutcome(DIED, error=f"could not send the task to Ray: {exc!r}"))
            return
        when_done(ref, lambda value: self._events.put(("event", run, actor, value)))
        if method == "run" and actor.answered:
            self._running(run)  # a placed actor starts the task at once

    def _running(self, run: _Run) -> None:
        """The task's code begins (its actor is placed): ``max_task_time`` counts from
        here, not from the placement of a new actor (a Ray worker process start)."""
        try:
            self.on_running(run.spec.task_id)
        except Exception:
            log.exception("recording the start of task %s failed", run.spec.task_id)

    def _dispatch_loop(self) -> None:
        while True:
            try:
                item = self._events.get(timeout=1.0)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            kind = item[0]
            try:
                if kind == "event":
                    self._on_event(*item[1:])
                elif kind == "placed":
                    self._on_placed(*item[1:])
                elif kind == "stop":
                    return
            except Exception:
                log.exception("the Ray backend failed to handle %s", kind)

    def _on_placed(self, actor: _Actor, value: Any) -> None:
        if isinstance(value, BaseException):  # the actor could not start
            exc = value
            with self._lock:
                run = actor.run
            self._kill(actor)
            if run is not None:
                reason = describe_ray_error(exc)
                if run.node is not None:
                    reason = f"{self._node_gone(run.spec, run.node)}; {reason}"
                self._finish(run, TaskOutcome(DIED, error=reason))
            return
        node_id, gpu_ids, _pid = value
        with self._lock:
            actor.node_id, actor.gpu_ids = node_id, tuple(gpu_ids)
            run = actor.run
        if run is not None and not run.ended:
            self._running(run)

    def _on_event(self, run: _Run, actor: _Actor, event: Any) -> None:
        if isinstance(event, BaseException):  # the actor died, or the call failed
            exc = event
            self._kill(actor)
            with self._lock:
                if run.actor is not actor:
                    return  # the task moved to another actor (or was cancelled)
            reason = describe_ray_error(exc)
            if reason.startswith("lost"):
                # A node left: shrink the slots before the runtime refills this one.
                with contextlib.suppress(Exception):
                    self._resources.set_nodes(live_nodes(self._ray))
            self._finish(run, TaskOutcome(DIED, error=reason))
            return
        if self._pin and actor.node_id is None:
            # where() ran before run() in the actor; its answer may still be on its way
            with contextlib.suppress(Exception):
                node_id, gpu_ids, _pid = self._ray.get(actor.where_ref, timeout=30)
                actor.node_id, actor.gpu_ids = node_id, tuple(gpu_ids)
        with self._lock:
            # (run.ended through a local: mypy would keep it narrowed to False below,
            # where another thread may have ended the run during on_report)
            ended = run.ended
            if ended or run.actor is not actor:
                return  # cancelled meanwhile; its actor was killed
            if self._pin and actor.node_id is not None:
                self._config_node.setdefault(run.spec.args.config_id, actor.node_id)
        task_id = run.spec.task_id
        if event[0] == "report":
            try:
                decision = self.on_report(task_id, event[1])
            except Exception:
                log.exception("handling a report of task %s failed; stopping the task", task_id)
                decision = "stop"
            with self._lock:
                if run.ended:
                    return
            self._submit(run, actor, "step", decision)
            return
        # ("end", outcome): the actor is free again
        handover = unplaced = None
        with self._lock:
            run.actor, actor.run = None, None
            reuse = not self._closing and not actor.dead
            if reuse:
                handover, unplaced = self._next_run_for(actor)
                if handover is not None:
                    handover.actor, actor.run = actor, handover
                else:
                    self._idle.append(actor)
        if not reuse:
            self._kill(actor)
        if unplaced is not None:
            self._kill(unplaced)
        self._finish(run, event[1])
        if handover is not None:
            self._submit(handover, actor, "run", handover.spec)

    def _finish(self, run: _Run, outcome: TaskOutcome) -> None:
        """End a task exactly once (a cancelled task's killed actor: as cancelled)."""
        with self._lock:
            if run.ended:
                return
            if run.cancel_reason is not None and outcome.kind == DIED:
                outcome = TaskOutcome(CANCELLED, error=run.cancel_reason)
            run.ended = True
            self._runs.pop(run.spec.task_id, None)
            if run.actor is not None and run.actor.run is run:
                run.actor.run = None
            if run in self._waiting:
                self._waiting.remove(run)
        try:
            self.on_end(run.spec.task_id, outcome)
        except Exception:
            log.exception("recording the end of task %s failed", run.spec.task_id)

    def _node_gone(self, spec: TaskSpec, node: str) -> str:
        return (
            f"lost: config {spec.args.config_id} is pinned to Ray node {node[:12]}..., "
            "which holds its checkpoint_dir and has left the cluster (pass storage_path= "
            "a folder every node can reach, so that configs can move between nodes)"
        )

    # -- following the cluster -----------------------------------------------------
    def _monitor_loop(self) -> None:
        while not self._stop.wait(self.monitor_interval):
            if not self._ray.is_initialized():
                log.warning("Ray was shut down under a running scheduler; its trials are lost")
                return
            try:
                self._look_at_cluster()
            except Exception:
                log.exception("the Ray backend failed to read the cluster's nodes")

    def _look_at_cluster(self) -> None:
        nodes = live_nodes(self._ray)
        self._resources.set_nodes(nodes)
        now = time.monotonic()
        kills, fails, creates = [], [], []
        with self._lock:
            for actor in list(self._actors):
                if actor.node_id is not None and actor.node_id not in nodes:
                    if actor.run is None:  # idle on a node that left
                        kills.append(actor)
                elif actor.node_id is None and now - actor.created > self.placement_timeout:
                    kills.append(actor)
                    if actor.run is not None:
                        fails.append((actor.run, self._not_placed()))
            for run in list(self._waiting):
                if run.node is None:  # (only a pinned task waits for room on its node)
                    raise AssertionError(f"task {run.spec.task_id} waits without a node")
                if run.node not in nodes:
                    fails.append((run, self._node_gone(run.spec, run.node)))
                elif now - run.since > self.placement_timeout:
                    fails.append((run, self._not_placed(run.node)))
                elif self._room_on(run.node):
                    self._waiting.remove(run)
                    actor = self._new_actor(run.node)
                    run.actor, actor.run = actor, run
                    creates.append((run, actor))
        for actor in kills:
            self._kill(actor)
        for run, reason in fails:
            self._finish(run, TaskOutcome(DIED, error=reason))
        for run, actor in creates:
            self._submit(run, actor, "run", run.spec)

    def _not_placed(self, node: str | None = None) -> str:
        where = "the cluster" if node is None else f"Ray node {node[:12]}..."
        return (
            f"Ray could not place a trial actor with resource={self._resources.request} on "
            f"{where} within placement_timeout={self.placement_timeout:g}s (live nodes: "
            f"{self._resources.node_slots} trial slots)"
        )
