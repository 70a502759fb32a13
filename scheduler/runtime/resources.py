"""Per-scheduler resource accounting: CPUs and GPUs by id, first come first served.

Each scheduler owns one :class:`ResourceManager` (no process-global singleton). Totals
are detected (usable CPU count; GPUs from ``CUDA_VISIBLE_DEVICES`` or ``nvidia-smi -L``)
or given. A per-trial request larger than the totals is a ``ValueError`` at
construction, never a hang. Acquiring and releasing are thread-safe; every allocation
is released exactly once (a second release raises).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field

from scheduler._validation import integer

__all__ = ["Allocation", "ResourceManager", "detect_total_resources", "parse_resource"]


@dataclass(frozen=True)
class Allocation:
    """Resources held by one running task (``serial`` tells two equal ones apart)."""

    num_cpus: int
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


def parse_resource(resource: object, *, name: str = "resource") -> dict:
    """Validate a ``{'num_cpus': c, 'num_gpus': g}`` dict; missing keys mean 1 CPU, 0 GPUs."""
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

    def __init__(self, request: dict, total_resources: dict | None = None):
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
