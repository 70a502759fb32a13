"""What a benchmark is: a search space and an objective with a known optimum.

A :class:`Benchmark` answers ``objective(config, epoch) -> (metric, seconds)``: the
metric a training run with ``config`` reports after ``epoch`` epochs (1 <= epoch <=
``max_epochs``), and the seconds that epoch took (the cost a simulated clock charges
for it). Single-fidelity benchmarks have ``max_epochs == 1``. ``optimum`` is the best
metric any config reaches at ``max_epochs``, so the simple regret of a run is
``|best metric found at max_epochs - optimum|``. Objectives are deterministic: the same
call gives the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from scheduler.space import SearchSpace

__all__ = ["Benchmark", "check_epoch", "regret"]


@runtime_checkable
class Benchmark(Protocol):
    """A search space and a deterministic objective with a known optimum."""

    #: short name, e.g. ``"branin"``
    name: str
    #: the configs (``config`` dicts are over ``space.hyperparameters``)
    space: SearchSpace
    #: the largest epoch (1 for single-fidelity benchmarks)
    max_epochs: int
    #: the metric's name, e.g. ``"value"`` or ``"val_error"``
    metric: str
    #: ``"min"`` or ``"max"``: which way the metric is better
    mode: str
    #: the best metric at ``max_epochs`` over the whole space
    optimum: float

    def objective(self, config: Mapping[str, Any], epoch: int) -> tuple[float, float]:
        """``(metric after epoch epochs, seconds the epoch took)``."""
        ...


def check_epoch(name: str, epoch: Any, max_epochs: int) -> int:
    """``epoch`` as an int in ``[1, max_epochs]``; ValueError naming the benchmark."""
    if isinstance(epoch, bool) or not hasattr(epoch, "__index__"):
        raise ValueError(f"{name}: epoch must be an integer in [1, {max_epochs}], got {epoch!r}")
    value = int(epoch)
    if not 1 <= value <= max_epochs:
        raise ValueError(f"{name}: epoch must be an integer in [1, {max_epochs}], got {epoch!r}")
    return value


def regret(benchmark: Benchmark, metric: float) -> float:
    """Simple regret of ``metric`` (>= 0 up to rounding): its distance to the optimum
    in the benchmark's direction."""
    if benchmark.mode == "min":
        return float(metric) - benchmark.optimum
    return benchmark.optimum - float(metric)
