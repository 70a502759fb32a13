"""Adam (Kingma & Ba, 2015, https://arxiv.org/abs/1412.6980) over one flat vector.

The step is the paper's, with the bias corrections folded into the step size::

    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    theta -= lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m / (sqrt(v) + eps)

computed in place through one scratch vector (no allocation per step). float64 numpy
only: no I/O, no threads.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Adam"]


class Adam:
    """Adam's moments and step count for a parameter vector of ``size`` entries.

    Parameters
    ----------
    size : int
        Length of the parameter vector.
    lr : float
        Step size (> 0; validated by the caller).
    betas : tuple of float
        Decays of the first and second moments, each within ``[0, 1)``.
    eps : float
        Added to the denominator (> 0).

    Attributes
    ----------
    m, v : numpy.ndarray
        The first and second moment estimates.
    t : int
        Steps taken.
    """

    def __init__(self, size: int, *, lr: float, betas: tuple[float, float], eps: float):
        self.lr = float(lr)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.m = np.zeros(size)
        self.v = np.zeros(size)
        self.t = 0
        self._tmp = np.zeros(size)

    def step(self, theta: np.ndarray, grad: np.ndarray) -> None:
        """Move ``theta`` (in place) one Adam step against ``grad``."""
        b1, b2 = self.betas
        m, v, tmp = self.m, self.v, self._tmp
        self.t += 1
        np.multiply(grad, 1.0 - b1, out=tmp)
        m *= b1
        m += tmp
        np.multiply(grad, grad, out=tmp)
        tmp *= 1.0 - b2
        v *= b2
        v += tmp
        size = self.lr * math.sqrt(1.0 - b2**self.t) / (1.0 - b1**self.t)
        np.sqrt(v, out=tmp)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= size
        theta -= tmp

    def load(self, m: np.ndarray, v: np.ndarray, t: int) -> None:
        """Restore the moments (copied in place) and the step count."""
        self.m[:] = m
        self.v[:] = v
        self.t = int(t)
