"""Hartmann6, and its multi-fidelity version (Kandasamy et al. 2017).

Hartmann6 on the unit cube [0, 1]^6 (Dixon and Szegoe 1978):

    f(x) = -sum_i alpha_i exp(-sum_j A_ij (x_j - P_ij)^2),  alpha = (1, 1.2, 3, 3.2),

minimum -3.32236801141551 at (0.20169, 0.150011, 0.476874, 0.275332, 0.311652,
0.6573). The multi-fidelity version (Kandasamy, Dasarathy, Schneider, Poczos 2017,
arXiv 1703.06240, appendix; also Dragonfly's ``hartmann6_4``) lowers the weights with
the fidelity z in [0, 1]: alpha(z) = alpha - 0.1 (1 - z). Here z = epoch / max_epochs,
so the optimum at max_epochs is Hartmann6's. Every epoch costs ``seconds_per_epoch``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from scheduler.benchmarks.base import check_epoch
from scheduler.space import Real, SearchSpace

__all__ = [
    "HARTMANN6_MINIMIZER",
    "HARTMANN6_MINIMUM",
    "Hartmann6",
    "MultiFidelityHartmann6",
    "hartmann6",
]

HARTMANN6_MINIMUM = -3.32236801141551
HARTMANN6_MINIMIZER = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_A = np.array(
    [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ]
)
_P = 1e-4 * np.array(
    [
        [1312.0, 1696.0, 5569.0, 124.0, 8283.0, 5886.0],
        [2329.0, 4135.0, 8307.0, 3736.0, 1004.0, 9991.0],
        [2348.0, 1451.0, 3522.0, 2883.0, 3047.0, 6650.0],
        [4047.0, 8828.0, 8732.0, 5743.0, 1091.0, 381.0],
    ]
)
_NAMES = tuple(f"x{j}" for j in range(1, 7))


def hartmann6(x: Any, z: float = 1.0) -> float:
    """Hartmann6 at fidelity ``z`` (``z = 1``: the usual function); ``x`` has 6 entries."""
    point = np.asarray(x, dtype=np.float64)
    alpha = _ALPHA - 0.1 * (1.0 - z)
    return float(-(alpha @ np.exp(-((_A * (point - _P) ** 2).sum(axis=1)))))


def _space() -> SearchSpace:
    return SearchSpace({name: Real(0.0, 1.0) for name in _NAMES})


def _point(config: Mapping[str, Any]) -> list[float]:
    return [float(config[name]) for name in _NAMES]


class Hartmann6:
    """Hartmann6 as a single-fidelity benchmark (minimize ``value``; one epoch)."""

    name = "hartmann6"
    metric = "value"
    mode = "min"
    optimum = HARTMANN6_MINIMUM
    max_epochs = 1

    def __init__(self, seconds: float = 1.0):
        self.space = _space()
        self.seconds = float(seconds)

    def objective(self, config: Mapping[str, Any], epoch: int = 1) -> tuple[float, float]:
        check_epoch(self.name, epoch, 1)
        return hartmann6(_point(config)), self.seconds

    def __repr__(self) -> str:
        return "Hartmann6()"


class MultiFidelityHartmann6:
    """Kandasamy et al.'s multi-fidelity Hartmann6, fidelity ``epoch / max_epochs``."""

    name = "mf_hartmann6"
    metric = "value"
    mode = "min"
    optimum = HARTMANN6_MINIMUM

    def __init__(self, max_epochs: int = 81, seconds_per_epoch: float = 1.0):
        self.space = _space()
        self.max_epochs = check_epoch("MultiFidelityHartmann6: max_epochs", max_epochs, 10**9)
        self.seconds_per_epoch = float(seconds_per_epoch)

    def objective(self, config: Mapping[str, Any], epoch: int) -> tuple[float, float]:
        e = check_epoch(self.name, epoch, self.max_epochs)
        return hartmann6(_point(config), e / self.max_epochs), self.seconds_per_epoch

    def __repr__(self) -> str:
        return f"MultiFidelityHartmann6(max_epochs={self.max_epochs})"
