"""Fit GP hyperparameters: maximum a posteriori under weak priors, by L-BFGS-B.

Targets are standardized first (:func:`standardize`), so the priors are stated for
unit-variance data, inputs live in the unit cube. In ``theta`` coordinates
(``[m, log s, log l_1..l_d, log v]``, see :mod:`~scheduler.searchers.bayesopt.gp`):

- mean ``m ~ N(0, 1)``;
- signal variance ``log s ~ N(0, 1)`` (a log-normal prior, median 1);
- lengthscales ``log l_j ~ N(log 0.5, 1.5^2)`` (95% within [0.03, 9.5] for the unit
  cube);
- noise variance ``v ~ Gamma(shape 0.1, rate 1)`` (mean 0.1, most mass near 0), as a
  density of ``log v``.

Bounds: ``m`` in [-5, 5], ``s`` in [1e-3, 1e3], ``l_j`` in [1e-2, 1e2], ``v`` in
[1e-6, 10]. Each fit runs L-BFGS-B from a warm start (the previous fit, or the prior
medians) and from ``num_restarts - 1`` draws of the priors, keeping the best. These
choices follow the usual practice (Syne Tune's GP uses a log-normal prior on the
signal variance, a gamma prior on the noise and the same kind of box bounds).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize

from scheduler.searchers.bayesopt._blas import one_blas_thread
from scheduler.searchers.bayesopt.gp import neg_log_marginal_likelihood

__all__ = ["bounds", "default_theta", "fit_hyperparameters", "log_prior", "standardize"]

_LOG_L_PRIOR = (math.log(0.5), 1.5)
_NOISE_SHAPE, _NOISE_RATE = 0.1, 1.0
_MEAN_BOUNDS = (-5.0, 5.0)
_AMPLITUDE_BOUNDS = (math.log(1e-3), math.log(1e3))
_LENGTHSCALE_BOUNDS = (math.log(1e-2), math.log(1e2))
_NOISE_BOUNDS = (math.log(1e-6), math.log(10.0))
# L-BFGS-B stops once a step lowers the objective by less than this, relatively (the
# objective is a few hundred nats: a change of 1e-4 nats moves no decision of EI)
_FTOL = 1e-6


def standardize(y: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(y - mu) / sigma`` with ``sigma = 1`` for constant (or single) targets."""
    y = np.asarray(y, dtype=np.float64)
    mu = float(y.mean()) if y.size else 0.0
    sigma = float(y.std()) if y.size > 1 else 1.0
    if not sigma > 1e-12:
        sigma = 1.0
    return (y - mu) / sigma, mu, sigma


def bounds(dim: int) -> list[tuple[float, float]]:
    """L-BFGS-B box bounds of ``theta`` for ``dim`` input columns."""
    return [_MEAN_BOUNDS, _AMPLITUDE_BOUNDS] + [_LENGTHSCALE_BOUNDS] * dim + [_NOISE_BOUNDS]


def default_theta(dim: int) -> np.ndarray:
    """The starting point of the first fit: mean 0, s = 1, l = 0.5, v = 1e-3."""
    return np.concatenate([[0.0, 0.0], np.full(dim, _LOG_L_PRIOR[0]), [math.log(1e-3)]])


def log_prior(theta: np.ndarray) -> tuple[float, np.ndarray]:
    """Log prior density of ``theta`` (up to a constant) and its gradient."""
    grad = np.zeros_like(theta)
    value = -0.5 * theta[0] ** 2 - 0.5 * theta[1] ** 2
    grad[0], grad[1] = -theta[0], -theta[1]
    mu, sd = _LOG_L_PRIOR
    z = (theta[2:-1] - mu) / sd
    value += -0.5 * float(z @ z)
    grad[2:-1] = -z / sd
    # Gamma(shape a, rate b) on v = exp(t), as a density of t: a t - b exp(t)
    t = theta[-1]
    value += _NOISE_SHAPE * t - _NOISE_RATE * math.exp(t)
    grad[-1] = _NOISE_SHAPE - _NOISE_RATE * math.exp(t)
    return float(value), grad


def _sample_prior(dim: int, rng: np.random.Generator) -> np.ndarray:
    mu, sd = _LOG_L_PRIOR
    theta = np.concatenate(
        [
            [rng.normal(0.0, 0.5), rng.normal(0.0, 1.0)],
            rng.normal(mu, sd, size=dim),
            [math.log(10.0 ** rng.uniform(-5.0, -1.0))],
        ]
    )
    lows, highs = np.array(bounds(dim)).T
    return np.clip(theta, lows, highs)


def fit_hyperparameters(
    X: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    warm_start: np.ndarray | None = None,
    num_restarts: int = 2,
    max_iter: int = 50,
) -> np.ndarray:
    """MAP ``theta`` for standardized targets ``y`` at inputs ``X``.

    Parameters
    ----------
    X : array, shape (n, d)
    y : array, shape (n,)
        Standardized targets (see :func:`standardize`).
    rng : numpy.random.Generator
        Draws the restarts' starting points.
    warm_start : array, optional
        The first starting point (e.g. the previous fit); default :func:`default_theta`.
    num_restarts : int
        Starting points in all (the warm start and ``num_restarts - 1`` prior draws).
    max_iter : int
        L-BFGS-B iterations per start.

    A start whose objective fails (a matrix that is not positive definite even with
    jitter) is skipped; if all fail, the warm start is returned unchanged.
    """
    n, d = X.shape
    sqdiff = ((X[:, None, :] - X[None, :, :]) ** 2).reshape(n * n, d)
    box = bounds(d)
    lows, highs = np.array(box).T

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        try:
            nll, grad = neg_log_marginal_likelihood(theta, X, y, sqdiff)
        except np.linalg.LinAlgError:
            return 1e25, np.zeros_like(theta)
        lp, lp_grad = log_prior(theta)
        return nll - lp, grad - lp_grad

    first = default_theta(d) if warm_start is None else np.asarray(warm_start, dtype=np.float64)
    first = np.clip(first, lows, highs)
    starts = [first] + [_sample_prior(d, rng) for _ in range(max(num_restarts, 1) - 1)]
    best_theta, best_value = first, math.inf
    with one_blas_thread():
        for start in starts:
            best_theta, best_value = _run(objective, start, box, max_iter, best_theta, best_value)
    return np.clip(best_theta, lows, highs)


def _run(objective, start, box, max_iter, best_theta, best_value):
    """One L-BFGS-B run; the better of its result and the best so far."""
    result = minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=box,
        options={"maxiter": max_iter, "ftol": _FTOL},
    )
    value = float(result.fun)
    if math.isfinite(value) and value < best_value and value < 1e24:
        return result.x, value
    return best_theta, best_value
