"""Branin, and the multi-fidelity Branin of Kandasamy et al. (2017).

Branin (Dixon and Szegoe 1978) on ``x1 in [-5, 10]``, ``x2 in [0, 15]``:

    f(x) = a (x2 - b x1^2 + c x1 - r)^2 + s (1 - t) cos(x1) + s,

with a = 1, b = 5.1 / (4 pi^2), c = 5 / pi, r = 6, s = 10, t = 1 / (8 pi). Its minimum
0.397887357729738 is reached at (-pi, 12.275), (pi, 2.275) and (9.42478, 2.475).

The multi-fidelity version (Kandasamy, Dasarathy, Schneider, Poczos 2017,
"Multi-fidelity Bayesian Optimisation with Continuous Approximations", ICML,
arXiv 1703.06240, appendix) moves three coefficients with a fidelity z in [0, 1]:
b(z) = b - 0.01 (1 - z), c(z) = c - 0.1 (1 - z), t(z) = t + 0.05 (1 - z); at z = 1 it
is Branin. Here the fidelity of epoch e is z = e / max_epochs (all three coordinates
alike), so the optimum at max_epochs is Branin's. Every epoch costs
``seconds_per_epoch``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from scheduler.benchmarks.base import check_epoch
from scheduler.space import Real, SearchSpace

__all__ = ["BRANIN_MINIMUM", "Branin", "MultiFidelityBranin", "branin"]

BRANIN_MINIMUM = 0.397887357729738
_B = 5.1 / (4.0 * math.pi**2)
_C = 5.0 / math.pi
_T = 1.0 / (8.0 * math.pi)


def branin(x1: float, x2: float, z: float = 1.0) -> float:
    """Branin at fidelity ``z`` (``z = 1``: the usual function)."""
    b = _B - 0.01 * (1.0 - z)
    c = _C - 0.1 * (1.0 - z)
    t = _T + 0.05 * (1.0 - z)
    return (x2 - b * x1 * x1 + c * x1 - 6.0) ** 2 + 10.0 * (1.0 - t) * math.cos(x1) + 10.0


def _space() -> SearchSpace:
    return SearchSpace(x1=Real(-5.0, 10.0), x2=Real(0.0, 15.0))


class Branin:
    """Branin as a single-fidelity benchmark (minimize ``value``; one epoch)."""

    name = "branin"
    metric = "value"
    mode = "min"
    optimum = BRANIN_MINIMUM
    max_epochs = 1

    def __init__(self, seconds: float = 1.0):
        self.space = _space()
        self.seconds = float(seconds)

    def objective(self, config: Mapping[str, Any], epoch: int = 1) -> tuple[float, float]:
        check_epoch(self.name, epoch, 1)
        return branin(float(config["x1"]), float(config["x2"])), self.seconds

    def __repr__(self) -> str:
        return "Branin()"


class MultiFidelityBranin:
    """Kandasamy et al.'s multi-fidelity Branin, fidelity ``epoch / max_epochs``."""

    name = "mf_branin"
    metric = "value"
    mode = "min"
    optimum = BRANIN_MINIMUM

    def __init__(self, max_epochs: int = 81, seconds_per_epoch: float = 1.0):
        self.space = _space()
        self.max_epochs = check_epoch("MultiFidelityBranin: max_epochs", max_epochs, 10**9)
        self.seconds_per_epoch = float(seconds_per_epoch)

    def objective(self, config: Mapping[str, Any], epoch: int) -> tuple[float, float]:
        e = check_epoch(self.name, epoch, self.max_epochs)
        z = e / self.max_epochs
        return branin(float(config["x1"]), float(config["x2"]), z), self.seconds_per_epoch

    def __repr__(self) -> str:
        return f"MultiFidelityBranin(max_epochs={self.max_epochs})"
