"""Benchmarks that need no download: test functions with a known optimum.

Each is a :class:`Benchmark`: a ``space``, ``max_epochs``, ``objective(config, epoch)
-> (metric, seconds)``, and the ``optimum`` at ``max_epochs`` (for simple regret).

- :class:`Branin`, :class:`Hartmann6`: single fidelity (``max_epochs == 1``).
- :class:`MultiFidelityBranin`, :class:`MultiFidelityHartmann6`: the multi-fidelity
  versions of Kandasamy et al. (2017), fidelity ``epoch / max_epochs``.
- :class:`DigitsCurves`: real learning curves (an MLP on scikit-learn's digits), a
  table shipped with the package.

This package imports only :mod:`scheduler.space` (a contract in ``pyproject.toml``).
"""

from scheduler.benchmarks.base import Benchmark, regret
from scheduler.benchmarks.branin import BRANIN_MINIMUM, Branin, MultiFidelityBranin, branin
from scheduler.benchmarks.digits import DigitsCurves
from scheduler.benchmarks.hartmann import (
    HARTMANN6_MINIMIZER,
    HARTMANN6_MINIMUM,
    Hartmann6,
    MultiFidelityHartmann6,
    hartmann6,
)

__all__ = [
    "BENCHMARKS",
    "BRANIN_MINIMUM",
    "HARTMANN6_MINIMIZER",
    "HARTMANN6_MINIMUM",
    "Benchmark",
    "Branin",
    "DigitsCurves",
    "Hartmann6",
    "MultiFidelityBranin",
    "MultiFidelityHartmann6",
    "branin",
    "hartmann6",
    "regret",
]

#: benchmark classes by name (each builds with no argument)
BENCHMARKS = {
    cls.name: cls
    for cls in (Branin, Hartmann6, MultiFidelityBranin, MultiFidelityHartmann6, DigitsCurves)
}
