"""``searcher='bayesopt_constrained'``: Bayesian optimization under a black-box constraint.

Gardner, Kusner, Xu, Weinberger, Cunningham (2014), "Bayesian Optimization with
Inequality Constraints", ICML; Gelbart, Snoek, Adams (2014), "Bayesian Optimization
with Unknown Constraints", UAI.

Every result carries the constraint value under ``constraint_attr``; a config is
*feasible* when that value is <= 0. A second GP (same kernel, fitted the same way) models
the constraint; a new config maximizes ``EI(x) * P(c(x) <= 0)`` (in log space), where
EI's incumbent is the lowest posterior mean of the objective among the feasible
evaluated configs. Until one feasible config is known, the acquisition is
``P(c(x) <= 0)`` alone (find the feasible region first). Pending evaluations are
fantasized in the objective model (drawn) and in the constraint model (at the
posterior mean, which narrows its variance there without moving its mean).

:meth:`get_best_config` and :meth:`get_best_reward` consider feasible configs only
(None while there is none).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from scheduler.searchers.bayesopt.acquisition import (
    log_expected_improvement,
    log_probability_feasible,
)
from scheduler.searchers.bayesopt.model import SurrogateModel
from scheduler.searchers.bayesopt.searcher import GPSearcher
from scheduler.space import SearchSpace

__all__ = ["ConstrainedGPSearcher"]


class ConstrainedGPSearcher(GPSearcher):
    """GP BO with EI weighted by the probability of feasibility.

    Parameters
    ----------
    space, reward_attr, mode, random_seed
        As for :class:`~scheduler.searchers.BaseSearcher`.
    constraint_attr : str
        The result key holding the constraint value (feasible when <= 0). Required.
    num_init_random, first_is_default, num_init_candidates, num_starting_points,
    num_fantasy_samples, opt_nstarts, opt_maxiter, opt_skip_init_length,
    opt_skip_period, max_size_data_for_model
        As for :class:`~scheduler.searchers.bayesopt.GPSearcher` (both models).
    """

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        reward_attr: str = "accuracy",
        mode: str = "max",
        random_seed: int | None = None,
        constraint_attr: str | None = None,
        num_init_random: int = 3,
        first_is_default: bool = True,
        num_init_candidates: int = 250,
        num_starting_points: int = 5,
        num_fantasy_samples: int = 20,
        opt_nstarts: int = 2,
        opt_maxiter: int = 50,
        opt_skip_init_length: int = 150,
        opt_skip_period: int = 1,
        max_size_data_for_model: int = 500,
    ):
        if not isinstance(constraint_attr, str) or not constraint_attr:
            raise ValueError(
                "the bayesopt_constrained searcher needs constraint_attr, the result key of "
                f"the constraint value (feasible when <= 0), got {constraint_attr!r}"
            )
        self.constraint_attr = constraint_attr
        super().__init__(
            space,
            reward_attr=reward_attr,
            mode=mode,
            random_seed=random_seed,
            num_init_random=num_init_random,
            first_is_default=first_is_default,
            num_init_candidates=num_init_candidates,
            num_starting_points=num_starting_points,
            num_fantasy_samples=num_fantasy_samples,
            opt_nstarts=opt_nstarts,
            opt_maxiter=opt_maxiter,
            opt_skip_init_length=opt_skip_init_length,
            opt_skip_period=opt_skip_period,
            max_size_data_for_model=max_size_data_for_model,
        )
        m = self.model
        self.constraint_model = SurrogateModel(
            m.opt_nstarts,
            m.opt_maxiter,
            m.opt_skip_init_length,
            m.opt_skip_period,
            m.max_size_data_for_model,
        )

    def _clear_extra(self) -> None:
        super()._clear_extra()
        self._constraints: dict[int, float] = {}  # key -> latest constraint value
        if hasattr(self, "constraint_model"):
            self.constraint_model.load_state_dict(None)

    def is_feasible(self, config: Mapping[str, Any]) -> bool | None:
        """Whether ``config``'s recorded constraint value is <= 0 (None: no value yet)."""
        value = self._constraints.get(self._configs.find(config))
        return None if value is None else value <= 0

    # -- results -----------------------------------------------------------------------
    def _parse_update(self, config: Any, reward: Any, result: dict[str, Any]) -> tuple[Any, float]:
        value = result.get(self.constraint_attr)
        if (
            isinstance(value, (bool, np.bool_))
            or not isinstance(value, numbers.Real)
            or not math.isfinite(value)
        ):
            raise ValueError(
                f"update() needs the constraint: result[{self.constraint_attr!r}] "
                f"(constraint_attr) must be a finite number, got {value!r}"
            )
        return super()._parse_update(config, reward, result)

    def _on_update(self, key: int, reward: float, result: dict[str, Any]) -> None:
        self._constraints[key] = float(result[self.constraint_attr])

    def _has_data(self) -> bool:
        return bool(self._constraints)

    # -- the models --------------------------------------------------------------------
    def _acquisition(self, **kwargs: Any) -> Callable[[np.ndarray], np.ndarray]:
        keys = list(self._constraints)
        Xc = np.array([self._encode_key(key) for key in keys]).reshape(len(keys), self.encoder.dim)
        c = np.array([self._constraints[key] for key in keys])
        pending = self._pending_inputs()
        # The constraint in units of its standardization: P(c <= 0) needs 0 mapped too.
        constraint = self.constraint_model.fit(Xc, c, self.rng, pending=pending, believer=True)
        zero = (0.0 - constraint.mu) / constraint.sigma

        feasible = [key for key in self._results if self._constraints.get(key, 1.0) <= 0]
        if not feasible or not self._results:

            def feasibility(X: np.ndarray) -> np.ndarray:
                mean, std = constraint.predict(X)
                return log_probability_feasible(mean - zero, std)

            return feasibility

        fitted = self._fit()
        data_keys = list(self._results)
        used = [data_keys[i] for i in fitted.rows]
        mask = np.array(
            [self._constraints.get(key, 1.0) <= 0 for key in used] + [False] * fitted.num_pending
        )
        means = fitted.mean_at_rows()
        best = means[mask].min(axis=0) if mask.any() else means.min(axis=0)

        def score(X: np.ndarray) -> np.ndarray:
            mean, std = fitted.predict(X)
            mean_c, std_c = constraint.predict(X)
            return log_expected_improvement(mean, std, best) + log_probability_feasible(
                mean_c - zero, std_c
            )

        return score

    # -- best --------------------------------------------------------------------------
    def _best_key(self) -> int | None:
        best_key, best = None, 0.0
        for key, reward in self._results.items():
            if self._constraints.get(key, 1.0) > 0:
                continue
            if best_key is None or (reward > best if self.mode == "max" else reward < best):
                best_key, best = key, reward
        return best_key

    # -- state -------------------------------------------------------------------------
    def _extra_state(self) -> dict[str, Any]:
        state = super()._extra_state()
        state["constraint_attr"] = self.constraint_attr
        state["constraints"] = [
            [self.space.encode_config(self._configs[key]), value]
            for key, value in self._constraints.items()
        ]
        state["constraint_model"] = self.constraint_model.state_dict()
        return state

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        if state.get("constraint_attr") != self.constraint_attr:
            raise ValueError(
                f"cannot load searcher state: constraint_attr must be {self.constraint_attr!r}, "
                f"got {state.get('constraint_attr')!r}"
            )
        super()._load_extra_state(state)
        self._constraints = {}
        for encoded, value in state.get("constraints", []):
            self._constraints[self._load_seen(encoded)] = float(value)
        self.constraint_model.load_state_dict(state.get("constraint_model"))

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, constraint_attr={self.constraint_attr!r})"
