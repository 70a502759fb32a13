"""``searcher='bayesopt'`` with Hyperband: MOBSTER-style multi-fidelity BO.

Klein, Tiao, Lienart, Archambeau, Seeger (2020), "Model-based Asynchronous
Hyperparameter and Neural Architecture Search", arXiv 2003.10865 (MOBSTER).

The Hyperband policy sends ``update(config, reward, <resource_attr>=r, ...)`` for every
result it passes on (``searcher_data``: the rung levels, by default). The searcher
keeps every ``(config, r, reward)`` and fits one GP over the joint input
``(x, r)``: the config's encoding (:mod:`~scheduler.searchers.bayesopt.encoding`) and
the resource, encoded as ``log(r) / log(max_t)`` in ``[0, 1]``, with a Matern 5/2 ARD
kernel over all of it (Syne Tune's ``gp_resource_kernel='matern52'``; the resource
gets its own lengthscale, so the model learns how far low-fidelity results inform high
ones).

A new config is chosen by expected improvement at a *target resource* ``r_acq``
(``resource_acq``):

- ``'bohb'`` (default, MOBSTER's rule, from BOHB, Falkner et al. 2018): the largest
  resource level with at least ``resource_acq_bohb_threshold`` observations, or the
  smallest observed level when none has that many;
- ``'first'``: the first rung level (where a new config is judged first).

The incumbent of EI is the lowest posterior mean among the configs observed at
``r_acq`` (and the pending ones, fantasized at ``r_acq``'s row). Pending configs (just
started, registered by the policy) are fantasized at their milestone, or at the first
rung level when none is given. A config is not pending any more once its first result
arrives (it may still be running towards its next rung: this searcher does not know
whether the rung stopped or paused it).

:meth:`get_best_config` is the best config at the largest resource level that has
results.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from scheduler._validation import choice, integer, is_integer
from scheduler.searchers.bayesopt.acquisition import log_expected_improvement
from scheduler.searchers.bayesopt.searcher import GPSearcher
from scheduler.space import SearchSpace

__all__ = ["RESOURCE_ACQ", "GPMultiFidelitySearcher"]

#: the rules for the target resource of the acquisition
RESOURCE_ACQ = ("bohb", "first")


class GPMultiFidelitySearcher(GPSearcher):
    """MOBSTER: a GP over (config, resource), EI at a target resource.

    Parameters
    ----------
    space, reward_attr, mode, random_seed
        As for :class:`~scheduler.searchers.BaseSearcher`.
    resource_attr : str
        The result key that holds the resource (the scheduler's ``time_attr``).
    max_t : int
        The largest resource (>= 2).
    rung_levels : list of int, optional
        The rung levels below ``max_t``; the first one is where pending configs are
        fantasized and the target of ``resource_acq='first'`` (default: level 1).
    resource_acq : {'bohb', 'first'}
        The rule for the target resource (module docstring).
    resource_acq_bohb_threshold : int
        Observations a level needs to be the ``'bohb'`` target (default 3, as Syne Tune).
    num_init_random : int
        Initial random configs (default 6, as Syne Tune's MOBSTER).
    first_is_default, num_init_candidates, num_starting_points, num_fantasy_samples,
    opt_nstarts, opt_maxiter, opt_skip_init_length, opt_skip_period,
    max_size_data_for_model
        As for :class:`~scheduler.searchers.bayesopt.GPSearcher`; observations count
        every (config, resource) result.
    """

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        reward_attr: str = "accuracy",
        mode: str = "max",
        random_seed: int | None = None,
        resource_attr: str = "epoch",
        max_t: int | None = None,
        rung_levels: list[int] | None = None,
        resource_acq: str = "bohb",
        resource_acq_bohb_threshold: int = 3,
        num_init_random: int = 6,
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
        if not isinstance(resource_attr, str) or not resource_attr:
            raise ValueError(f"resource_attr must be a non-empty string, got {resource_attr!r}")
        if max_t is None:
            raise ValueError(
                "max_t is required by the multi-fidelity bayesopt searcher (the largest "
                "resource; HyperbandScheduler passes its own), got None"
            )
        self.max_t = integer("max_t", max_t, 2)
        levels = [] if rung_levels is None else list(rung_levels)
        if not all(is_integer(r) and 1 <= r < self.max_t for r in levels) or any(
            b <= a for a, b in itertools.pairwise(levels)
        ):
            raise ValueError(
                f"rung_levels must be strictly increasing integers in [1, max_t={self.max_t}), "
                f"got {rung_levels!r}"
            )
        self.resource_attr = resource_attr
        self.rung_levels = [int(r) for r in levels]
        self.resource_acq = choice("resource_acq", resource_acq, RESOURCE_ACQ)
        self.resource_acq_bohb_threshold = integer(
            "resource_acq_bohb_threshold", resource_acq_bohb_threshold, 1
        )
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

    def _clear_extra(self) -> None:
        super()._clear_extra()
        # key -> {resource: latest reward}, keys in first-result order
        self._observations: dict[int, dict[int, float]] = {}

    @property
    def first_level(self) -> int:
        return self.rung_levels[0] if self.rung_levels else 1

    @property
    def num_observations(self) -> int:
        """Number of (config, resource) results recorded."""
        return sum(len(levels) for levels in self._observations.values())

    def _encode_resource(self, r: int) -> float:
        return min(max(math.log(r) / math.log(self.max_t), 0.0), 1.0)

    # -- results -----------------------------------------------------------------------
    def _parse_update(self, config: Any, reward: Any, result: dict[str, Any]) -> tuple[Any, float]:
        resource = result.get(self.resource_attr)
        if not is_integer(resource) or resource < 1:
            raise ValueError(
                f"update() needs the resource: result[{self.resource_attr!r}] (resource_attr) "
                f"must be an integer >= 1, got {resource!r}"
            )
        return super()._parse_update(config, reward, result)

    def _on_update(self, key: int, reward: float, result: dict[str, Any]) -> None:
        if math.isfinite(reward):
            self._observations.setdefault(key, {})[int(result[self.resource_attr])] = reward

    def _has_data(self) -> bool:
        return bool(self._observations)

    def _level_counts(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for levels in self._observations.values():
            for r in levels:
                counts[r] = counts.get(r, 0) + 1
        return counts

    def target_resource(self) -> int:
        """The resource at which the acquisition is evaluated (``resource_acq``)."""
        if self.resource_acq == "first" or not self._observations:
            return self.first_level
        counts = self._level_counts()
        enough = [r for r, c in counts.items() if c >= self.resource_acq_bohb_threshold]
        return max(enough) if enough else min(counts)

    # -- the model ---------------------------------------------------------------------
    def _training_data(self) -> tuple[np.ndarray, np.ndarray]:
        configs, owners, rewards, resources = [], [], [], []
        for key, levels in self._observations.items():
            configs.append(self._encode_key(key))
            for r, reward in levels.items():
                owners.append(len(configs) - 1)
                rewards.append(reward)
                resources.append(r)
        self._row_resources = np.asarray(resources, dtype=np.int64)
        encoded = np.array(configs).reshape(len(configs), self.encoder.dim)
        column = np.log(self._row_resources) / math.log(self.max_t)
        X = np.concatenate([encoded[owners], np.clip(column, 0.0, 1.0)[:, None]], axis=1)
        return X, self._targets(rewards)

    def _pending_inputs(self) -> np.ndarray | None:
        rows, resources = [], []
        for key, milestone in self._pending.items():
            if key in self._observations:
                continue
            r = self.first_level if milestone is None else int(milestone)
            rows.append(np.append(self._encode_key(key), self._encode_resource(r)))
            resources.append(r)
        self._pending_resources = np.asarray(resources, dtype=np.int64)
        return np.array(rows) if rows else None

    def _acquisition(self, **kwargs: Any) -> Callable[[np.ndarray], np.ndarray]:
        fitted = self._fit()
        r_acq = self.target_resource()
        at_target = np.concatenate(
            [self._row_resources[fitted.rows] == r_acq, self._pending_resources == r_acq]
        )
        means = fitted.mean_at_rows()
        best = (means[at_target] if at_target.any() else means).min(axis=0)
        column = np.full((1, 1), self._encode_resource(r_acq))

        def score(X: np.ndarray) -> np.ndarray:
            inputs = np.concatenate([X, np.repeat(column, X.shape[0], axis=0)], axis=1)
            mean, std = fitted.predict(inputs)
            return log_expected_improvement(mean, std, best)

        return score

    # -- best --------------------------------------------------------------------------
    def _best_at_top(self) -> tuple[int, float] | None:
        counts = self._level_counts()
        if not counts:
            return None
        top = max(counts)
        best: tuple[int, float] | None = None
        for key, levels in self._observations.items():
            if top in levels:
                value = levels[top]
                if best is None or (value > best[1] if self.mode == "max" else value < best[1]):
                    best = (key, value)
        return best

    def _best_key(self) -> int | None:
        best = self._best_at_top()
        return None if best is None else best[0]

    def get_best_reward(self) -> float | None:
        """The best reward at the largest resource level that has results, or None."""
        best = self._best_at_top()
        return None if best is None else best[1]

    # -- state -------------------------------------------------------------------------
    def _extra_state(self) -> dict[str, Any]:
        state = super()._extra_state()
        state["observations"] = [
            [self.space.encode_config(self._configs[key]), [[r, v] for r, v in levels.items()]]
            for key, levels in self._observations.items()
        ]
        return state

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        super()._load_extra_state(state)
        self._observations = {}
        for encoded, levels in state.get("observations", []):
            key = self._load_seen(encoded)
            self._observations[key] = {int(r): float(v) for r, v in levels}

    def __repr__(self) -> str:
        return (
            f"{super().__repr__()[:-1]}, resource_attr={self.resource_attr!r}, "
            f"max_t={self.max_t!r}, resource_acq={self.resource_acq!r})"
        )
