"""Workers: named slots that each own a fixed list of GPUs.

``parse_workers("0,1:2,3")`` gives two workers, W1 with GPUs 0 and 1 and W2 with 2
and 3 (``:`` separates workers, ``,`` a worker's GPUs); ``"0:0"`` gives two workers
that share GPU 0. :class:`WorkerPool` hands the workers to jobs: it has the interface
of :class:`scheduler.runtime.resources.ResourceManager` (``can_acquire``, ``acquire``,
``release``, ``max_concurrency``), so the runtime schedules jobs onto workers, plus
``suspend``/``resume`` for the admin channel. Idle workers are taken in rotation (W1,
W2, W3, W1, ...), skipping busy and suspended ones.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from scheduler._validation import is_integer

__all__ = ["WorkerAllocation", "WorkerConfig", "WorkerPool", "parse_workers"]


class WorkerConfig:
    """One worker: its name and the GPU ids its jobs see.

    Parameters
    ----------
    name : str
        The worker's name (``W1``, ``W2``, ... when parsed from a ``workers`` string).
    gpus : list of int
        GPU ids, given to the worker's jobs as ``CUDA_VISIBLE_DEVICES``; may be empty.
    """

    def __init__(self, name: str, gpus: Iterable[int]) -> None:
        if not isinstance(name, str) or not name or any(c.isspace() for c in name):
            raise ValueError(f"worker name must be a non-empty string without spaces, got {name!r}")
        if isinstance(gpus, (str, bytes)) or not hasattr(gpus, "__iter__"):
            raise ValueError(f"worker {name}: gpus must be a list of GPU ids, got {gpus!r}")
        gpus = list(gpus)
        for gpu in gpus:
            if not is_integer(gpu) or gpu < 0:
                raise ValueError(f"worker {name}: GPU ids must be integers >= 0, got {gpu!r}")
        if len(set(gpus)) != len(gpus):
            raise ValueError(f"worker {name}: a GPU id appears twice, got {gpus!r}")
        self.name = name
        self.gpus = [int(g) for g in gpus]

    def gpu_list_string(self) -> str:
        """The GPU ids as ``CUDA_VISIBLE_DEVICES`` wants them: ``"0,1"``."""
        return ",".join(str(g) for g in self.gpus)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WorkerConfig) and (self.name, self.gpus) == (
            other.name,
            other.gpus,
        )

    def __hash__(self) -> int:
        return hash((self.name, tuple(self.gpus)))

    def __repr__(self) -> str:
        return f"WorkerConfig({self.name!r}, {self.gpus!r})"


def parse_workers(spec: str) -> list[WorkerConfig]:
    """Workers W1..Wn from a string such as ``"0:1"``, ``"0,1:2,3"`` or ``"0:0"``.

    Raises ``ValueError`` naming the position and the text for an empty worker
    (``"0::1"``), a GPU id that is not an integer >= 0, or a GPU listed twice for one
    worker.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(
            f"workers must be a string like '0:1' or '0,1:2,3' (':' between workers, ',' "
            f"between one worker's GPUs), got {spec!r}"
        )
    workers = []
    for number, part in enumerate(spec.strip().split(":"), start=1):
        tokens = [tok.strip() for tok in part.split(",")]
        if not part.strip() or any(not tok for tok in tokens):
            raise ValueError(
                f"workers {spec!r}: worker {number} has an empty GPU id ({part!r}); use "
                "':' between workers and ',' between one worker's GPUs"
            )
        gpus = []
        for tok in tokens:
            if not tok.isdigit():
                raise ValueError(
                    f"workers {spec!r}: worker {number} has GPU id {tok!r}, which is not an "
                    "integer >= 0"
                )
            gpus.append(int(tok))
        if len(set(gpus)) != len(gpus):
            raise ValueError(f"workers {spec!r}: worker {number} lists a GPU twice ({part!r})")
        workers.append(WorkerConfig(f"W{number}", gpus))
    return workers


@dataclass(frozen=True)
class WorkerAllocation:
    """A worker held by one job (what the runtime releases when the job ends)."""

    num_cpus: int
    gpu_ids: tuple[int, ...]
    worker: str
    #: the worker's number (1 for W1 in a parsed list: its position, from 1)
    worker_number: int
    #: how many jobs the worker has been given, this one included
    serial: int


class _Slot:
    def __init__(self, config: WorkerConfig, number: int):
        self.config = config
        self.number = number
        self.busy = False
        self.suspended = False
        self.jobs = 0
        self.current_job: str | None = None


class WorkerPool:
    """The workers of a run, handed to jobs one at a time (thread-safe).

    Parameters
    ----------
    worker_configs : list of WorkerConfig
        At least one; names must be distinct.
    """

    def __init__(self, worker_configs: list[WorkerConfig]):
        configs = list(worker_configs)
        if not configs:
            raise ValueError("worker_configs must hold at least one WorkerConfig, got none")
        for config in configs:
            if not isinstance(config, WorkerConfig):
                raise ValueError(f"worker_configs must hold WorkerConfig objects, got {config!r}")
        names = [c.name for c in configs]
        if len(set(names)) != len(names):
            raise ValueError(f"worker names must be distinct, got {names}")
        self._slots = [_Slot(config, number) for number, config in enumerate(configs, 1)]
        self._by_name = {slot.config.name: slot for slot in self._slots}
        self._lock = threading.Lock()
        self._next = 0  # where the rotation looks first

    # -- the ResourceManager interface (called under the runtime's lock) ------------
    @property
    def max_concurrency(self) -> int:
        return len(self._slots)

    def can_acquire(self) -> bool:
        with self._lock:
            return any(not s.busy and not s.suspended for s in self._slots)

    def acquire(self) -> WorkerAllocation | None:
        """The next idle, unsuspended worker in rotation, or None if there is none."""
        with self._lock:
            n = len(self._slots)
            for step in range(n):
                slot = self._slots[(self._next + step) % n]
                if not slot.busy and not slot.suspended:
                    self._next = (self._next + step + 1) % n
                    slot.busy = True
                    slot.jobs += 1
                    allocation = WorkerAllocation(
                        0, tuple(slot.config.gpus), slot.config.name, slot.number, slot.jobs
                    )
                    return allocation
            return None

    def release(self, allocation: WorkerAllocation) -> None:
        with self._lock:
            name = getattr(allocation, "worker", None)
            slot = self._by_name.get(name) if isinstance(name, str) else None
            if slot is None or not slot.busy:
                raise RuntimeError(f"worker released twice or never acquired: {allocation}")
            slot.busy = False
            slot.current_job = None

    # -- the engine and the admin channel --------------------------------------------
    def names(self) -> list[str]:
        return [s.config.name for s in self._slots]

    def config(self, name: str) -> WorkerConfig:
        return self._slot(name).config

    def _slot(self, name: str) -> _Slot:
        slot = self._by_name.get(name)
        if slot is None:
            raise KeyError(f"no worker {name!r}; workers are {', '.join(self.names())}")
        return slot

    def set_current_job(self, name: str, job_name: str) -> None:
        with self._lock:
            self._slot(name).current_job = job_name

    def suspend(self, name: str) -> bool:
        """Give the worker no new job (its current one goes on); False if it already was."""
        with self._lock:
            slot = self._slot(name)
            was = slot.suspended
            slot.suspended = True
            return not was

    def resume(self, name: str) -> bool:
        """Make the worker eligible for jobs again; False if it was not suspended."""
        with self._lock:
            slot = self._slot(name)
            was = slot.suspended
            slot.suspended = False
            return was

    def state(self, name: str) -> dict:
        """``{name, gpus, state, jobs, current_job}``; state is idle, busy or suspended
        (a suspended worker that still runs its last job shows ``suspended``)."""
        with self._lock:
            return self._describe(self._slot(name))

    def states(self) -> list[dict]:
        with self._lock:
            return [self._describe(slot) for slot in self._slots]

    @staticmethod
    def _describe(slot: _Slot) -> dict:
        state = "suspended" if slot.suspended else ("busy" if slot.busy else "idle")
        return {
            "name": slot.config.name,
            "gpus": list(slot.config.gpus),
            "state": state,
            "busy": slot.busy,
            "jobs": slot.jobs,
            "current_job": slot.current_job,
        }
