"""Gaussian-process regression: Matern 5/2 ARD kernel, constant mean, Gaussian noise.

The model is ``y = f(x) + eps`` with ``f ~ GP(m, k)`` and ``eps ~ N(0, v)``, where

    k(x, x') = s * (1 + sqrt(5) r + 5 r^2 / 3) * exp(-sqrt(5) r),
    r^2 = sum_j (x_j - x'_j)^2 / l_j^2 .

Hyperparameters are held in one vector ``theta = [m, log s, log l_1..l_d, log v]``
(:class:`GPParams`). :func:`neg_log_marginal_likelihood` gives the negative log
marginal likelihood of data with its gradient in ``theta`` (used by
:mod:`~scheduler.searchers.bayesopt.fit`), :class:`Posterior` the predictive mean and
variance of ``f`` given data, for one or several target columns at once (fantasy
samples share one Cholesky factor). Rasmussen and Williams (2006), "Gaussian Processes
for Machine Learning", algorithm 2.1 and eq. 5.9.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve, cholesky, lapack, solve_triangular

__all__ = ["GPParams", "Posterior", "matern52", "neg_log_marginal_likelihood", "robust_cholesky"]

_SQRT5 = math.sqrt(5.0)
_LOG_2PI = math.log(2.0 * math.pi)
#: smallest predictive variance returned (keeps EI's z finite)
MIN_VARIANCE = 1e-12


@dataclass(frozen=True)
class GPParams:
    """GP hyperparameters: constant mean, signal variance, lengthscales, noise variance."""

    mean: float
    amplitude: float
    lengthscales: np.ndarray
    noise: float

    @property
    def dim(self) -> int:
        return int(self.lengthscales.shape[0])

    def to_theta(self) -> np.ndarray:
        return np.concatenate(
            [
                [self.mean, math.log(self.amplitude)],
                np.log(self.lengthscales),
                [math.log(self.noise)],
            ]
        )

    @classmethod
    def from_theta(cls, theta: np.ndarray) -> GPParams:
        theta = np.asarray(theta, dtype=np.float64)
        return cls(
            mean=float(theta[0]),
            amplitude=float(math.exp(theta[1])),
            lengthscales=np.exp(theta[2:-1]),
            noise=float(math.exp(theta[-1])),
        )


def _scaled_sqdist(X1: np.ndarray, X2: np.ndarray, lengthscales: np.ndarray) -> np.ndarray:
    A = X1 / lengthscales
    B = X2 / lengthscales
    d2 = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * (A @ B.T)
    return np.maximum(d2, 0.0)


def matern52(
    X1: np.ndarray, X2: np.ndarray, lengthscales: np.ndarray, amplitude: float
) -> np.ndarray:
    """The kernel matrix ``k(X1[i], X2[j])``, shape ``(len(X1), len(X2))``."""
    r = np.sqrt(_scaled_sqdist(X1, X2, lengthscales))
    return amplitude * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r * r) * np.exp(-_SQRT5 * r)


def robust_cholesky(K: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of ``K``, adding jitter to the diagonal if needed.

    Tries jitter 0, then 1e-10, 1e-8, ..., 1e-2 times the mean diagonal; raises
    ``numpy.linalg.LinAlgError`` if even the largest fails (a NaN in ``K``).
    """
    try:
        return cholesky(K, lower=True)
    except np.linalg.LinAlgError:
        pass
    scale = float(np.mean(np.diag(K))) if K.size else 1.0
    jitter = 0.0
    for jitter in (1e-10, 1e-8, 1e-6, 1e-4, 1e-2):
        try:
            return cholesky(K + (jitter * scale) * np.eye(K.shape[0]), lower=True)
        except np.linalg.LinAlgError:
            continue
    raise np.linalg.LinAlgError(f"kernel matrix is not positive definite (jitter {jitter})")


def neg_log_marginal_likelihood(
    theta: np.ndarray, X: np.ndarray, y: np.ndarray, sqdiff: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """``-log p(y | X, theta)`` and its gradient in ``theta``.

    Parameters
    ----------
    theta : array, shape (d + 3,)
        ``[m, log s, log l_1..l_d, log v]``.
    X : array, shape (n, d)
    y : array, shape (n,)
    sqdiff : array, shape (n * n, d), optional
        ``(X[a, j] - X[b, j])^2`` flattened over ``(a, b)``; passed by callers that
        evaluate many ``theta`` on the same data (computed here otherwise).

    The gradient is ``0.5 tr((K^-1 - alpha alpha^T) dK/dtheta)`` for the kernel
    parameters (R&W eq. 5.9) and ``-1^T alpha`` for the mean.
    """
    n, d = X.shape
    params = GPParams.from_theta(theta)
    if sqdiff is None:
        sqdiff = ((X[:, None, :] - X[None, :, :]) ** 2).reshape(n * n, d)
    s = params.amplitude
    inv_l2 = 1.0 / (params.lengthscales**2)
    # q = sqrt(5) r; k = s (1 + q + q^2 / 3) exp(-q); dk/dlog l_j = s (5/3)(1 + q) exp(-q) D_j
    q = (sqdiff @ (5.0 * inv_l2)).reshape(n, n)
    np.sqrt(q, out=q)
    e = np.exp(-q)
    K = q * q
    K *= 1.0 / 3.0
    K += q
    K += 1.0
    K *= e
    K *= s  # the noise-free kernel matrix K_f
    q += 1.0
    q *= e
    q *= s * (5.0 / 3.0)  # dk/dlog l_j without its D_j factor
    K[np.diag_indices(n)] += params.noise
    L = robust_cholesky(K)
    resid = y - params.mean
    alpha = cho_solve((L, True), resid)
    nll = 0.5 * float(resid @ alpha) + float(np.log(np.diag(L)).sum()) + 0.5 * n * _LOG_2PI
    W = _inverse_from_cholesky(L)
    W -= np.outer(alpha, alpha)  # K^-1 - alpha alpha^T
    grad = np.empty(d + 3)
    grad[0] = -float(alpha.sum())
    trace_w = float(np.trace(W))
    # K_f = K - v I, so sum(W * K_f) = sum(W * K) - v tr(W)
    grad[1] = 0.5 * (float(np.vdot(W, K)) - params.noise * trace_w)
    W *= q
    grad[2:-1] = 0.5 * (W.reshape(n * n) @ sqdiff) * inv_l2
    grad[-1] = 0.5 * params.noise * trace_w
    return nll, grad


def _inverse_from_cholesky(L: np.ndarray) -> np.ndarray:
    """``(L L^T)^-1`` from the lower factor (LAPACK potri: a third of a solve's flops)."""
    inv, info = lapack.dpotri(L, lower=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"potri failed with info={info}")
    # potri fills the lower triangle; the upper one is L's, all zeros
    full = inv + inv.T
    full[np.diag_indices_from(full)] *= 0.5
    return full


class Posterior:
    """The GP posterior given data, for one or several target columns.

    Parameters
    ----------
    X : array, shape (n, d)
    Y : array, shape (n,) or (n, S)
        Targets; S columns (e.g. fantasy samples) share the inputs and one factor.
    params : GPParams
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, params: GPParams):
        self.X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        self.single = Y.ndim == 1
        self.Y = Y[:, None] if self.single else Y
        self.params = params
        K = matern52(self.X, self.X, params.lengthscales, params.amplitude)
        K[np.diag_indices_from(K)] += params.noise
        self.L = robust_cholesky(K)
        self.alpha = cho_solve((self.L, True), self.Y - params.mean)

    @property
    def num_data(self) -> int:
        return int(self.X.shape[0])

    def predict(self, Xs: np.ndarray, full_cov: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of ``f`` at ``Xs``.

        Returns ``(mean, var)``: mean of shape ``(m,)`` (one target column) or
        ``(m, S)``; var of shape ``(m,)`` (at least :data:`MIN_VARIANCE`), or the full
        ``(m, m)`` covariance when ``full_cov``.
        """
        Xs = np.asarray(Xs, dtype=np.float64)
        p = self.params
        Ks = matern52(Xs, self.X, p.lengthscales, p.amplitude)
        mean = p.mean + Ks @ self.alpha
        V = solve_triangular(self.L, Ks.T, lower=True)
        if full_cov:
            cov = matern52(Xs, Xs, p.lengthscales, p.amplitude) - V.T @ V
            out = cov
        else:
            out = np.maximum(p.amplitude - (V * V).sum(0), MIN_VARIANCE)
        return (mean[:, 0] if self.single else mean), out

    def mean_at_data(self) -> np.ndarray:
        """Posterior mean of ``f`` at the training inputs, shape ``(n,)`` or ``(n, S)``:
        ``Y - v K^-1 (Y - m)``, no extra solve."""
        mean = self.Y - self.params.noise * self.alpha
        return mean[:, 0] if self.single else mean

    def sample_joint(
        self, Xs: np.ndarray, num_samples: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Joint draws of the noisy targets ``y`` at ``Xs``, shape ``(m, num_samples)``
        (first target column only)."""
        mean, cov = self.predict(Xs, full_cov=True)
        if not self.single:
            mean = mean[:, 0]
        cov = cov + self.params.noise * np.eye(cov.shape[0])
        L = robust_cholesky(0.5 * (cov + cov.T))
        z = rng.standard_normal((cov.shape[0], num_samples))
        return mean[:, None] + L @ z
