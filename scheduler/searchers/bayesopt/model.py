"""The surrogate model a searcher refits: data in, a fitted GP posterior out.

:class:`SurrogateModel` keeps the hyperparameters between fits (each fit is
warm-started from the last one) and decides when to re-optimize them:

- while the data has fewer than ``opt_skip_init_length`` points, every fit optimizes
  the hyperparameters with ``opt_nstarts`` starting points (the previous fit first);
- past that, only every ``opt_skip_period``-th fit does, from the previous fit alone
  (one L-BFGS-B run); the other fits reuse the hyperparameters and only recompute the
  posterior (one Cholesky factorization).

Past ``max_size_data_for_model`` points the model sees a subsample of that size: the
best quarter of the targets, and a uniform draw of the others (seeded by the data size,
so the same data gives the same subsample). The hyperparameters are fitted on at most
:data:`MAX_FIT_SIZE` of those points (subsampled the same way; the posterior then
conditions on all of them), and a warm-started re-optimization past
``opt_skip_init_length`` runs at most :data:`WARM_MAXITER` L-BFGS-B iterations (the
next refit goes on from where it stopped). Together these bound the cost of a refit
whatever the number of observations (``bench/bayesopt_cost.py`` measures it).

Pending evaluations are *fantasized*: their targets are drawn ``num_fantasy_samples``
times from the posterior given the data (jointly), and the returned
:class:`FittedModel` conditions on the data plus each draw, one target column per draw
(one factorization for all). The acquisition averages over the columns, so the
predictive variance collapses at pending configs and the searcher looks elsewhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scheduler.searchers.bayesopt.fit import fit_hyperparameters, standardize
from scheduler.searchers.bayesopt.gp import GPParams, Posterior

__all__ = ["MAX_FIT_SIZE", "WARM_MAXITER", "FittedModel", "SurrogateModel"]

#: largest number of points the hyperparameters are fitted on
MAX_FIT_SIZE = 200
#: L-BFGS-B iterations of a warm-started refit past ``opt_skip_init_length``
WARM_MAXITER = 10


class FittedModel:
    """A posterior over standardized targets, with the rows it was fitted on.

    Attributes
    ----------
    posterior : Posterior
        On the data rows, then the pending rows (if any); one target column per
        fantasy sample.
    rows : numpy.ndarray
        Indices (into the data given to :meth:`SurrogateModel.fit`) of the data rows
        used, in the posterior's order.
    num_pending : int
        Pending rows appended after the data rows.
    mu, sigma : float
        The standardization: ``target = mu + sigma * standardized``.
    """

    def __init__(
        self, posterior: Posterior, rows: np.ndarray, num_pending: int, mu: float, sigma: float
    ) -> None:
        self.posterior = posterior
        self.rows = rows
        self.num_pending = num_pending
        self.mu = float(mu)
        self.sigma = float(sigma)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Standardized predictive mean, shape ``(m, S)``, and standard deviation
        ``(m,)`` of ``f`` at ``X``."""
        mean, var = self.posterior.predict(X)
        if mean.ndim == 1:
            mean = mean[:, None]
        return mean, np.sqrt(var)

    def mean_at_rows(self) -> np.ndarray:
        """Standardized posterior mean at the data rows then the pending rows,
        shape ``(len(rows) + num_pending, S)``."""
        mean = self.posterior.mean_at_data()
        return mean[:, None] if mean.ndim == 1 else mean


class SurrogateModel:
    """Fits GP hyperparameters and posteriors; see the module docstring.

    Parameters
    ----------
    opt_nstarts, opt_maxiter : int
        L-BFGS-B starting points and iterations per start.
    opt_skip_init_length, opt_skip_period : int
        When hyperparameters are re-optimized (module docstring).
    max_size_data_for_model : int
        Largest number of data points the model conditions on.
    """

    def __init__(
        self,
        opt_nstarts: int = 2,
        opt_maxiter: int = 50,
        opt_skip_init_length: int = 150,
        opt_skip_period: int = 1,
        max_size_data_for_model: int = 500,
    ):
        self.opt_nstarts = opt_nstarts
        self.opt_maxiter = opt_maxiter
        self.opt_skip_init_length = opt_skip_init_length
        self.opt_skip_period = opt_skip_period
        self.max_size_data_for_model = max_size_data_for_model
        self.theta: np.ndarray | None = None
        self.num_fits = 0  # fits past opt_skip_init_length, for opt_skip_period

    def subsample(self, y: np.ndarray, limit: int | None = None) -> np.ndarray:
        """Indices of the rows the model uses (all of them up to the size limit,
        ``max_size_data_for_model`` by default)."""
        n = y.shape[0]
        limit = self.max_size_data_for_model if limit is None else limit
        if n <= limit:
            return np.arange(n)
        order = np.argsort(y, kind="stable")  # minimization: best first
        num_best = limit // 4
        best, rest = order[:num_best], order[num_best:]
        rng = np.random.default_rng(n)
        others = rng.choice(rest, size=limit - num_best, replace=False)
        return np.sort(np.concatenate([best, others]))

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        rng: np.random.Generator,
        pending: np.ndarray | None = None,
        num_fantasy_samples: int = 20,
        believer: bool = False,
    ) -> FittedModel:
        """Fit to targets ``y`` (lower is better) at inputs ``X``.

        Parameters
        ----------
        X : array, shape (n, d)
        y : array, shape (n,)
        rng : numpy.random.Generator
            Restarts and fantasy draws.
        pending : array, shape (p, d), optional
            Inputs of pending evaluations, to fantasize.
        num_fantasy_samples : int
            Draws per pending input.
        believer : bool
            Fantasize with the posterior mean (one column) instead of draws.
        """
        rows = self.subsample(y)
        Xd, yd = X[rows], y[rows]
        z, mu, sigma = standardize(yd)
        n, d = Xd.shape
        if self.theta is not None and self.theta.shape[0] != d + 3:
            self.theta = None
        fit_rows = self.subsample(z, MAX_FIT_SIZE)
        Xf, zf = Xd[fit_rows], z[fit_rows]
        if n < self.opt_skip_init_length or self.theta is None:
            self.theta = fit_hyperparameters(
                Xf, zf, rng, self.theta, self.opt_nstarts, self.opt_maxiter
            )
        else:
            if self.num_fits % self.opt_skip_period == 0:
                self.theta = fit_hyperparameters(
                    Xf, zf, rng, self.theta, 1, min(self.opt_maxiter, WARM_MAXITER)
                )
            self.num_fits += 1
        params = GPParams.from_theta(self.theta)
        posterior = Posterior(Xd, z, params)
        num_pending = 0 if pending is None else int(pending.shape[0])
        if pending is not None and num_pending:
            if believer:
                fantasies = posterior.predict(pending)[0][:, None]
            else:
                fantasies = posterior.sample_joint(pending, num_fantasy_samples, rng)
            S = fantasies.shape[1]
            Y = np.concatenate([np.repeat(z[:, None], S, axis=1), fantasies], axis=0)
            posterior = Posterior(np.concatenate([Xd, pending], axis=0), Y, params)
        return FittedModel(posterior, rows, num_pending, mu, sigma)

    # -- state -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "theta": None if self.theta is None else [float(t) for t in self.theta],
            "num_fits": self.num_fits,
        }

    def load_state_dict(self, state: Any) -> None:
        if state is None:
            self.theta, self.num_fits = None, 0
            return
        theta = state.get("theta")
        self.theta = None if theta is None else np.asarray(theta, dtype=np.float64)
        self.num_fits = int(state.get("num_fits", 0))
