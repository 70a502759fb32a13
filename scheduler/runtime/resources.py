"""Per-scheduler resource accounting, first come first served.

Each scheduler owns one resource manager (no process-global singleton), with one
interface (``request``, ``max_concurrency``, ``can_acquire()``, ``acquire()``,
``release(allocation)``, ``num_held``) that the runtime calls under its lock:

* :class:`ResourceManager` hands out CPU counts and GPU ids from fixed totals, detected
  (usable CPU count; GPUs from ``CUDA_VISIBLE_DEVICES`` or ``nvidia-smi -L``) or given:
  the ``thread``, ``process``, ``subprocess`` and ``command`` backends.
* :class:`ClusterResourceManager` hands out trial slots on a cluster whose nodes come
  and go (the ``ray`` backend): fractional requests, per-node fit, totals that change
  during the run; the cluster assigns the GPU ids.

A per-trial request larger than the totals (or than every node) is a ``ValueError`` at
construction, never a hang. Both are thread-safe, and every allocation is released
exactly once (a second release raises).
"""

from __future__ import annotations

import itertools
import math
import os
import shutil
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from scheduler._validation import integer, is_real

__all__ = [
    "Allocation",
    "ClusterResourceManager",
    "ResourceManager",
    "detect_total_resources",
    "parse_resource",
]


@dataclass(frozen=True)
class Allocation:
    """Resources held by one running task (``serial`` tells two equal ones apart)."""

    num_cpus: float
    gpu_ids: tuple[int, ...]
    serial: int = field(default=-1, compare=False)


def _detect_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def _detect_gpus() -> list[int]:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [tok.strip() for tok in visible.split(",") if tok.strip()]
        # Ids are renumbered from 0 inside a process that sees CUDA_VISIBLE_DEVICES.
        return list(range(len([i for i in ids if i != "-1"])))
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return list(range(sum(1 for line in out.splitlines() if line.startswith("GPU "))))


def detect_total_resources() -> dict:
    """``{'num_cpus': usable CPUs, 'num_gpus': visible GPUs}`` of this machine."""
    return {"num_cpus": _detect_cpus(), "num_gpus": len(_detect_gpus())}


def _fractional(name: str, value: object) -> float:
    """A resource amount as Ray accepts it: a number >= 0, whole above 1."""
    if not is_real(value) or not value >= 0 or not math.isfinite(value):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    amount = float(value)
    if amount > 1 and not amount.is_integer():
        raise ValueError(
            f"{name} must be a fraction <= 1 or a whole number (a trial shares at most one "
            f"device), got {amount!r}"
        )
    return int(amount) if amount.is_integer() else amount


def parse_resource(resource: object, *, name: str = "resource", fractional: bool = False) -> dict:
    """Validate a ``{'num_cpus': c, 'num_gpus': g}`` dict; missing keys mean 1 CPU, 0 GPUs.

    ``fractional=True`` (the Ray backend) also accepts fractions of a CPU or GPU
    (``0.5``: two trials share one device); above 1 amounts must be whole.
    """
    if resource is None:
        resource = {}
    if not isinstance(resource, dict):
        raise ValueError(
            f"{name} must be a dict like {{'num_cpus': 1, 'num_gpus': 0}}, got {resource!r}"
        )
    unknown = set(resource) - {"num_cpus", "num_gpus"}
    if unknown:
        raise ValueError(
            f"{name} has unknown keys {sorted(unknown)}; allowed: 'num_cpus', 'num_gpus'"
        )
    if fractional:
        return {
            "num_cpus": _fractional(f"{name}['num_cpus']", resource.get("num_cpus", 1)),
            "num_gpus": _fractional(f"{name}['num_gpus']", resource.get("num_gpus", 0)),
        }
    return {
        "num_cpus": integer(f"{name}['num_cpus']", resource.get("num_cpus", 1), 0),
        "num_gpus": integer(f"{name}['num_gpus']", resource.get("num_gpus", 0), 0),
    }


class ResourceManager:
    """Hands out CPU counts and GPU ids to tasks, first come first served.

    Thread-safe: :meth:`acquire` and :meth:`release` hold an internal lock, so GPU ids
    handed out at the same time are always distinct. Each :class:`Allocation` is
    released once; releasing it again, or releasing one this manager did not hand out,
    raises ``RuntimeError`` (it would hand the same GPU to two tasks).
    """

    def __init__(self, request: dict | None, total_resources: dict | None = None) -> None:
        self.request = parse_resource(request, name="resource")
        if total_resources is None:
            totals = detect_total_resources()
        else:
            totals = parse_resource(total_resources, name="total_resources")
            if "num_cpus" not in total_resources:
                totals["num_cpus"] = _detect_cpus()
        self.total = totals
        for key, unit in (("num_cpus", "CPUs"), ("num_gpus", "GPUs")):
            if self.request[key] > self.total[key]:
                raise ValueError(
                    f"resource {key}={self.request[key]} exceeds the {self.total[key]} {unit} "
                    f"available (total_resources={self.total}); lower the request or pass "
                    "total_resources="
                )
        if self.request["num_cpus"] == 0 and self.request["num_gpus"] == 0:
            raise ValueError(
                f"resource must ask for at least one CPU or GPU per trial, got {self.request}"
            )
        self._free_cpus = self.total["num_cpus"]
        self._free_gpus = list(range(self.total["num_gpus"]))
        self._lock = threading.Lock()
        self._serials = itertools.count()
        self._held: dict[int, Allocation] = {}  # serial -> allocation not yet released

    @property
    def max_concurrency(self) -> int:
        """How many trials fit at once."""
        fits = []
        if self.request["num_cpus"]:
            fits.append(self.total["num_cpus"] // self.request["num_cpus"])
        if self.request["num_gpus"]:
            fits.append(self.total["num_gpus"] // self.request["num_gpus"])
        return min(fits)

    def can_acquire(self) -> bool:
        with self._lock:
            return self._fits()

    def _fits(self) -> bool:
        return (
            self._free_cpus >= self.request["num_cpus"]
            and len(self._free_gpus) >= self.request["num_gpus"]
        )

    @property
    def num_held(self) -> int:
        """Allocations handed out and not released yet."""
        with self._lock:
            return len(self._held)

    def acquire(self) -> Allocation | None:
        """Take one trial's resources, or return None if they are not free."""
        with self._lock:
            if not self._fits():
                return None
            n = self.request["num_gpus"]
            gpus = tuple(self._free_gpus[:n])
            del self._free_gpus[:n]
            self._free_cpus -= self.request["num_cpus"]
            allocation = Allocation(self.request["num_cpus"], gpus, next(self._serials))
            self._held[allocation.serial] = allocation
            return allocation

    def release(self, allocation: Allocation) -> None:
        """Give one task's resources back; raises RuntimeError if ``allocation`` was
        already released or was not handed out by this manager."""
        with self._lock:
            if self._held.get(allocation.serial) is not allocation:
                raise RuntimeError(
                    f"resources released twice, or not acquired from this manager: {allocation}"
                )
            del self._held[allocation.serial]
            self._free_cpus += allocation.num_cpus
            self._free_gpus.extend(allocation.gpu_ids)
            self._free_gpus.sort()
            self._check()

    def _check(self) -> None:
        """Invariants: what is free plus what is held is exactly the totals."""
        held_gpus = sorted(g for a in self._held.values() for g in a.gpu_ids)
        held_cpus = sum(a.num_cpus for a in self._held.values())
        if self._free_cpus + held_cpus != self.total["num_cpus"] or sorted(
            self._free_gpus + held_gpus
        ) != list(range(self.total["num_gpus"])):
            raise RuntimeError(
                f"resource accounting broken: free {self._free_cpus} CPUs and GPUs "
                f"{self._free_gpus}, held {held_cpus} CPUs and GPUs {held_gpus}, "
                f"totals {self.total}"
            )


def _how_many(available: float, each: float) -> int:
    """How many requests of ``each`` fit in ``available`` (``each > 0``), in Ray's 1e-4
    resource units so that 3 x 0.33 GPU fit one GPU exactly as Ray counts them."""
    return round(available * 10_000) // round(each * 10_000)


class ClusterResourceManager:
    """Trial slots on a cluster whose nodes come and go (the ``ray`` backend).

    Every trial asks for the same ``request`` (fractions allowed). A node holds
    ``min(cpus // c, gpus // g)`` trials (over the amounts requested); the cluster holds
    the sum over its nodes, capped by ``total_resources`` when given (this scheduler's
    share of a cluster it shares). :meth:`set_nodes` replaces the node list while the
    run goes on (autoscaling, a node lost): a grown cluster takes more trials at once,
    a shrunk one fewer; trials running on a node that left keep their slot until their
    end releases it. The cluster places trials and assigns GPU ids, so allocations
    carry none (the trial learns its ids where it runs).

    Thread-safe: the runtime calls it under its own lock, the backend's monitor thread
    calls :meth:`set_nodes`.

    Parameters
    ----------
    request : dict
        Per-trial ``{'num_cpus': c, 'num_gpus': g}``.
    nodes : mapping
        ``{node_id: {'num_cpus': x, 'num_gpus': y}}``: each live node's total resources.
    total_resources : dict, optional
        A cap on the CPUs and GPUs this scheduler's trials use at once.
    """

    def __init__(
        self,
        request: dict | None,
        nodes: Mapping[str, Mapping[str, float]],
        total_resources: dict | None = None,
    ):
        self.request = parse_resource(request, name="resource", fractional=True)
        if self.request["num_cpus"] == 0 and self.request["num_gpus"] == 0:
            raise ValueError(
                f"resource must ask for at least one CPU or GPU per trial, got {self.request}"
            )
        self.cap = self._parse_cap(total_resources)
        self._lock = threading.Lock()
        self._held: dict[int, Allocation] = {}
        self._serials = itertools.count()
        self._node_slots: dict[str, int] = {}
        self._nodes: dict[str, dict] = {}
        self._set_nodes(nodes)
        if not any(self._node_slots.values()):
            raise ValueError(self._no_fit_message(nodes))
        if self.cap is not None:
            for key, unit in (("num_cpus", "CPUs"), ("num_gpus", "GPUs")):
                if self.request[key] > self.cap[key]:
                    raise ValueError(
                        f"resource {key}={self.request[key]} exceeds the {self.cap[key]} "
                        f"{unit} of total_resources={total_resources}; lower the request "
                        "or raise total_resources"
                    )

    @staticmethod
    def _parse_cap(total_resources: object) -> dict | None:
        if total_resources is None:
            return None
        if not isinstance(total_resources, dict):
            raise ValueError(
                "total_resources must be a dict like {'num_cpus': 8, 'num_gpus': 1}, "
                f"got {total_resources!r}"
            )
        unknown = set(total_resources) - {"num_cpus", "num_gpus"}
        if unknown:
            raise ValueError(
                f"total_resources has unknown keys {sorted(unknown)}; allowed: 'num_cpus', "
                "'num_gpus'"
            )
        cap = {"num_cpus": math.inf, "num_gpus": math.inf}
        for key, value in total_resources.items():
            if not is_real(value) or not value >= 0:
                raise ValueError(f"total_resources[{key!r}] must be a number >= 0, got {value!r}")
            cap[key] = float(value)
        return cap

    def _no_fit_message(self, nodes: Mapping[str, Mapping[str, float]]) -> str:
        if not nodes:
            return f"resource={self.request} cannot be placed: the cluster has no live node"
        largest = max(nodes.values(), key=lambda n: (n.get("num_gpus", 0), n.get("num_cpus", 0)))
        return (
            f"resource={self.request} does not fit on any node of the cluster (its "
            f"{len(nodes)} node(s) have at most {largest.get('num_cpus', 0):g} CPUs and "
            f"{largest.get('num_gpus', 0):g} GPUs); lower the request or add a larger node"
        )

    def slots_on(self, node: Mapping[str, float]) -> int:
        """How many trials fit on a node with these total resources."""
        fits = [
            _how_many(node.get(key, 0.0), self.request[key])
            for key in ("num_cpus", "num_gpus")
            if self.request[key] > 0
        ]
        return min(fits)

    def _set_nodes(self, nodes: Mapping[str, Mapping[str, float]]) -> None:
        self._nodes = {node_id: dict(res) for node_id, res in nodes.items()}
        self._node_slots = {node_id: self.slots_on(res) for node_id, res in nodes.items()}

    def set_nodes(self, nodes: Mapping[str, Mapping[str, float]]) -> bool:
        """Replace the live nodes; returns whether the number of slots changed."""
        with self._lock:
            before = self._capacity()
            self._set_nodes(nodes)
            return self._capacity() != before

    def _capacity(self) -> int:
        slots = sum(self._node_slots.values())
        if self.cap is not None:
            for key in ("num_cpus", "num_gpus"):
                if self.request[key] > 0 and math.isfinite(self.cap[key]):
                    slots = min(slots, _how_many(self.cap[key], self.request[key]))
        return slots

    @property
    def node_slots(self) -> dict[str, int]:
        """``{node_id: trials that fit on it}`` for the live nodes."""
        with self._lock:
            return dict(self._node_slots)

    @property
    def total(self) -> dict:
        """The live nodes' CPUs and GPUs summed."""
        with self._lock:
            return {
                key: sum(n.get(key, 0.0) for n in self._nodes.values())
                for key in ("num_cpus", "num_gpus")
            }

    @property
    def max_concurrency(self) -> int:
        """How many trials fit at once now."""
        with self._lock:
            return self._capacity()

    @property
    def in_use(self) -> int:
        with self._lock:
            return len(self._held)

    @property
    def num_held(self) -> int:
        """Allocations handed out and not released yet."""
        return self.in_use

    def can_acquire(self) -> bool:
        with self._lock:
            return len(self._held) < self._capacity()

    def acquire(self) -> Allocation | None:
        """Take one trial slot, or return None if none is free."""
        with self._lock:
            if len(self._held) >= self._capacity():
                return None
            allocation = Allocation(self.request["num_cpus"], (), next(self._serials))
            self._held[allocation.serial] = allocation
            return allocation

    def release(self, allocation: Allocation) -> None:
        """Give one slot back; raises RuntimeError if ``allocation`` was already
        released or was not handed out by this manager."""
        with self._lock:
            if self._held.get(allocation.serial) is not allocation:
                raise RuntimeError(
                    f"resources released twice, or not acquired from this manager: {allocation}"
                )
            del self._held[allocation.serial]
