"""Real learning curves: an MLP on scikit-learn's digits data set, as a table.

``bench/make_digits_curves.py`` trained scikit-learn's ``MLPClassifier`` (one hidden
layer, Adam) for 50 epochs on every config of a grid and recorded, per epoch, the
validation error and the CPU seconds the epoch took; the table is
``data/digits_curves.npz`` (shipped with the package: no download, no scikit-learn
needed to use it). The grid (336 configs):

* ``hidden``: 16, 32, 64, 128 units (:class:`~scheduler.space.Categorical`);
* ``batch_size``: 16, 64, 256 (Categorical);
* ``learning_rate_init``: 1e-4 to 1e-1 in half decades, searched as
  ``Real(10**-4.25, 10**-0.75, log=True)``;
* ``alpha`` (L2 penalty): 1e-6, 1e-4, 1e-2, 1, searched as ``Real(1e-7, 10, log=True)``.

A Real value is snapped to the nearest grid value in log scale; the bounds are chosen so
that every grid value owns an equal share of the log range (uniform search is uniform
over the grid). ``objective(config, epoch)`` returns the validation error after that
epoch and the seconds the epoch took; ``optimum`` is the lowest error at the last epoch
over the grid.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from scheduler.benchmarks.base import check_epoch
from scheduler.space import Categorical, Real, SearchSpace

__all__ = ["DIGITS_CURVES_PATH", "DigitsCurves"]

#: the table written by ``bench/make_digits_curves.py``
DIGITS_CURVES_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "data", "digits_curves.npz"
)


class DigitsCurves:
    """Tabulated MLP learning curves on digits (minimize ``val_error``).

    Parameters
    ----------
    path : str, optional
        The ``.npz`` table (default :data:`DIGITS_CURVES_PATH`).
    """

    name = "digits_mlp"
    metric = "val_error"
    mode = "min"

    def __init__(self, path: str | None = None):
        path = DIGITS_CURVES_PATH if path is None else os.fspath(path)
        with np.load(path) as table:
            self.hidden = tuple(int(v) for v in table["hidden"])
            self.batch_sizes = tuple(int(v) for v in table["batch_size"])
            self.learning_rates = np.asarray(table["learning_rate_init"], dtype=np.float64)
            self.alphas = np.asarray(table["alpha"], dtype=np.float64)
            self.val_error = np.asarray(table["val_error"], dtype=np.float64)
            self.seconds = np.asarray(table["seconds"], dtype=np.float64)
        shape = (
            len(self.hidden),
            len(self.learning_rates),
            len(self.alphas),
            len(self.batch_sizes),
        )
        if (
            self.val_error.shape[0] != math.prod(shape)
            or self.seconds.shape != self.val_error.shape
        ):
            raise ValueError(
                f"{path}: table shape {self.val_error.shape} does not match the grid {shape}"
            )
        self._shape = shape
        self.max_epochs = int(self.val_error.shape[1])
        self.optimum = float(self.val_error[:, -1].min())
        self.space = SearchSpace(
            hidden=Categorical(*self.hidden),
            batch_size=Categorical(*self.batch_sizes),
            learning_rate_init=Real(*_log_bounds(self.learning_rates), log=True),
            alpha=Real(*_log_bounds(self.alphas), log=True),
        )

    def grid_index(self, config: Mapping[str, Any]) -> int:
        """Row of the table for ``config`` (Real values snapped to the grid)."""
        h = self.hidden.index(int(config["hidden"]))
        b = self.batch_sizes.index(int(config["batch_size"]))
        lr = _nearest_log(self.learning_rates, float(config["learning_rate_init"]))
        a = _nearest_log(self.alphas, float(config["alpha"]))
        return int(np.ravel_multi_index((h, lr, a, b), self._shape))

    def objective(self, config: Mapping[str, Any], epoch: int) -> tuple[float, float]:
        e = check_epoch(self.name, epoch, self.max_epochs)
        row = self.grid_index(config)
        return float(self.val_error[row, e - 1]), float(self.seconds[row, e - 1])

    def __repr__(self) -> str:
        return f"DigitsCurves({len(self.val_error)} configs, max_epochs={self.max_epochs})"


def _log_bounds(grid: np.ndarray) -> tuple[float, float]:
    """Bounds half a grid step beyond both ends, in log scale (the grid is even in log)."""
    logs = np.log10(grid)
    half = (logs[1] - logs[0]) / 2.0
    return float(10.0 ** (logs[0] - half)), float(10.0 ** (logs[-1] + half))


def _nearest_log(grid: np.ndarray, value: float) -> int:
    if not value > 0:
        raise ValueError(f"value must be > 0 to snap to a log grid, got {value!r}")
    return int(np.argmin(np.abs(np.log10(grid) - math.log10(value))))
