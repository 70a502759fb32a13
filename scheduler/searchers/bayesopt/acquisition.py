"""Acquisition functions, in log space: expected improvement and its constrained form.

Every function here *minimizes* (the searchers negate rewards for ``mode='max'``) and
returns log values, which stay finite and ordered far from the incumbent, where EI
itself underflows to 0 and a local search would see a flat surface.

For a Gaussian prediction ``N(mu, sigma^2)`` and incumbent ``best``,
``EI = sigma * h(z)`` with ``z = (best - mu) / sigma`` and
``h(z) = z Phi(z) + phi(z)``. :func:`log_h` computes ``log h`` stably over the whole
real line (the asymptotic branches follow Ament et al. 2023, "Unexpected Improvements
to Expected Improvement for Bayesian Optimization", arXiv 2310.20708).
Constrained EI (Gardner et al. 2014; Gelbart, Snoek and Adams 2014) multiplies EI by
the probability that the constraint ``c(x) <= 0`` holds, ``Phi(-mu_c / sigma_c)``;
when no evaluated config is feasible yet, the probability of feasibility alone is the
acquisition.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfcx, log_ndtr

__all__ = ["log_expected_improvement", "log_h", "log_probability_feasible"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT_HALF_PI = math.sqrt(math.pi / 2.0)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_CUT = -1.0 / math.sqrt(np.finfo(np.float64).eps)  # about -6.7e7


def log_h(z: np.ndarray) -> np.ndarray:
    """``log(z Phi(z) + phi(z))`` elementwise, accurate for any finite ``z``."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    high = z > -1.0
    if high.any():
        zh = z[high]
        out[high] = np.log(zh * np.exp(log_ndtr(zh)) + np.exp(-0.5 * zh * zh - _LOG_SQRT_2PI))
    mid = (~high) & (z > _CUT)
    if mid.any():
        zm = z[mid]
        # h(z) = phi(z) (1 + z Phi(z) / phi(z)), Phi(z) / phi(z) = sqrt(pi/2) erfcx(-z/sqrt2)
        # and 1 + z sqrt(pi/2) erfcx(-z/sqrt2) = 1 - exp(log(-z erfcx(..)) + log sqrt(pi/2))
        log_term = np.log(-zm * erfcx(-zm * _INV_SQRT2)) + math.log(_SQRT_HALF_PI)
        out[mid] = -0.5 * zm * zm - _LOG_SQRT_2PI + _log1mexp(log_term)
    low = ~(high | mid)
    if low.any():
        zl = z[low]
        out[low] = -0.5 * zl * zl - _LOG_SQRT_2PI - 2.0 * np.log(-zl)
    return out


def _log1mexp(a: np.ndarray) -> np.ndarray:
    """``log(1 - exp(a))`` for ``a < 0``."""
    return np.where(a > -math.log(2.0), np.log(-np.expm1(a)), np.log1p(-np.exp(a)))


def log_expected_improvement(mean: np.ndarray, std: np.ndarray, best: np.ndarray) -> np.ndarray:
    """Log EI for minimization, averaged over fantasy samples.

    Parameters
    ----------
    mean : array, shape (m,) or (m, S)
        Predictive means (S fantasy samples share the variance).
    std : array, shape (m,)
        Predictive standard deviations (> 0).
    best : float or array of shape (S,)
        Incumbent (lowest) value, per sample.

    Returns
    -------
    array, shape (m,)
        ``log mean_s EI_s``.
    """
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    if mean.ndim == 1:
        mean = mean[:, None]
    best = np.broadcast_to(np.asarray(best, dtype=np.float64), (mean.shape[1],))
    z = (best[None, :] - mean) / std[:, None]
    log_ei = np.log(std)[:, None] + log_h(z)
    if log_ei.shape[1] == 1:
        return log_ei[:, 0]
    top = log_ei.max(axis=1)
    return top + np.log(np.exp(log_ei - top[:, None]).mean(axis=1))


def log_probability_feasible(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``log P(c <= 0)`` for ``c ~ N(mean, std^2)``, shape of ``mean`` (first column
    of a 2-d mean)."""
    mean = np.asarray(mean, dtype=np.float64)
    if mean.ndim == 2:
        mean = mean[:, 0]
    return log_ndtr(-mean / np.asarray(std, dtype=np.float64))
