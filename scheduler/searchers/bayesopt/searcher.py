"""``searcher='bayesopt'``: Gaussian-process Bayesian optimization for FIFO scheduling.

Each :meth:`~GPSearcher.get_config` past the initial random configs fits a GP
(:mod:`~scheduler.searchers.bayesopt.model`) to the rewards recorded so far, fantasizes
the pending evaluations, and proposes the unseen config that maximizes expected
improvement (:mod:`~scheduler.searchers.bayesopt.acquisition`) over random candidates
refined by a local search (:mod:`~scheduler.searchers.bayesopt.optimize`). The
incumbent of EI is the lowest posterior mean at the evaluated and pending configs
(robust to noise, as in Syne Tune).

The option names and defaults are AutoGluon's / Syne Tune's ``search_options`` for
``'bayesopt'``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from scheduler._validation import integer
from scheduler.searchers.base import BaseSearcher
from scheduler.searchers.bayesopt._blas import one_blas_thread
from scheduler.searchers.bayesopt.acquisition import log_expected_improvement
from scheduler.searchers.bayesopt.encoding import Encoder
from scheduler.searchers.bayesopt.model import FittedModel, SurrogateModel
from scheduler.searchers.bayesopt.optimize import maximize_acquisition
from scheduler.space import SearchSpace

__all__ = ["GPSearcher"]

# Random draws per call before a finite space switches to enumerating unseen configs.
_MAX_REJECTIONS = 64
# Random draws per call in an infinite space before giving up.
_MAX_DRAWS_INFINITE = 1000


class GPSearcher(BaseSearcher):
    """Bayesian optimization with a Gaussian process (Matern 5/2 ARD) and EI.

    Parameters
    ----------
    space, reward_attr, mode, random_seed
        As for :class:`~scheduler.searchers.BaseSearcher`.
    num_init_random : int
        The first ``num_init_random`` configs are drawn at random (default 3); the
        model is used from then on, once at least one reward is recorded.
    first_is_default : bool
        The first random config is the space's default config (default True).
    num_init_candidates : int
        Random candidates scored by the acquisition per proposal (default 250).
    num_starting_points : int
        Best candidates a local search starts from (default 5; 0: none).
    num_fantasy_samples : int
        Fantasy draws of the pending evaluations (default 20).
    opt_nstarts, opt_maxiter : int
        Hyperparameter fitting: L-BFGS-B starting points (default 2) and iterations
        per start (default 50).
    opt_skip_init_length, opt_skip_period : int
        Past ``opt_skip_init_length`` observations (default 150), hyperparameters are
        re-optimized (from the previous fit) only every ``opt_skip_period``-th
        proposal (default 1: each time); the posterior is always recomputed.
    max_size_data_for_model : int
        Past this many observations (default 500) the model sees a subsample of this
        size (see :class:`~scheduler.searchers.bayesopt.model.SurrogateModel`).

    Notes
    -----
    A call refits the model (tens of milliseconds), so :attr:`inline_calls` is False: the
    runtime makes the calls on a thread of its own, never under its lock. Proposals
    depend on the fitted model (floating-point results of a BLAS build), so
    :attr:`deterministic_replay` is False: a resumed run tells the searcher the journaled
    configs instead of asking it again.
    :meth:`state_dict` holds the observations, the random generator and the fitted
    hyperparameters (the warm start of the next fit), so a searcher restored by
    :meth:`load_state_dict` proposes the same next configs as the original.
    """

    inline_calls = False
    deterministic_replay = False

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        reward_attr: str = "accuracy",
        mode: str = "max",
        random_seed: int | None = None,
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
        super().__init__(space, reward_attr=reward_attr, mode=mode, random_seed=random_seed)
        self.num_init_random = integer("num_init_random", num_init_random, 0)
        if not isinstance(first_is_default, (bool, np.bool_)):
            raise ValueError(f"first_is_default must be a bool, got {first_is_default!r}")
        self.first_is_default = bool(first_is_default)
        self.num_init_candidates = integer("num_init_candidates", num_init_candidates, 1)
        self.num_starting_points = integer("num_starting_points", num_starting_points, 0)
        self.num_fantasy_samples = integer("num_fantasy_samples", num_fantasy_samples, 1)
        self.model = SurrogateModel(
            opt_nstarts=integer("opt_nstarts", opt_nstarts, 1),
            opt_maxiter=integer("opt_maxiter", opt_maxiter, 1),
            opt_skip_init_length=integer("opt_skip_init_length", opt_skip_init_length, 0),
            opt_skip_period=integer("opt_skip_period", opt_skip_period, 1),
            max_size_data_for_model=integer("max_size_data_for_model", max_size_data_for_model, 2),
        )
        self.encoder = Encoder(self.space)
        self._clear_extra()

    def _clear_extra(self) -> None:
        self._num_proposed = 0
        self._encoded: dict[int, np.ndarray] = {}  # key -> encoded config (a cache)
        self.model.load_state_dict(None)

    # -- proposing ---------------------------------------------------------------------
    def _propose(self, **kwargs: Any) -> dict[str, Any] | None:
        if self.space.is_finite and self._seen_in_space >= (self.space.size or 0):
            return None
        config = None
        if self._num_proposed >= self.num_init_random and self.encoder.dim > 0:
            with one_blas_thread():
                config = self._model_config(**kwargs)
        if config is None:
            config = self._random_config()
        if config is not None:
            self._num_proposed += 1
        return config

    def _has_data(self) -> bool:
        return bool(self._results)

    def _model_config(self, **kwargs: Any) -> dict[str, Any] | None:
        """The acquisition's best unseen config, or None without data."""
        if not self._has_data():
            return None
        score = self._acquisition(**kwargs)
        ranked = maximize_acquisition(
            score,
            self.encoder,
            self.rng,
            num_candidates=self.num_init_candidates,
            num_starting_points=self.num_starting_points,
        )
        return self._first_unseen(ranked)

    def _first_unseen(self, ranked: np.ndarray) -> dict[str, Any] | None:
        for x in ranked:
            config = self.encoder.decode(x)
            if not self._is_seen(config):
                return config
        return None

    def _random_config(self) -> dict[str, Any] | None:
        space = self.space
        if self.first_is_default and self._num_proposed == 0:
            config = space.default_config()
            if not self._is_seen(config):
                return config
        if space.size is None:
            for _ in range(_MAX_DRAWS_INFINITE):
                config = space.sample(self.rng)
                if not self._is_seen(config):
                    return config
            return None
        for _ in range(_MAX_REJECTIONS):
            config = space.sample(self.rng)
            if not self._is_seen(config):
                return config
        seen = {index for index in self._seen.values() if index is not None}
        unseen = [i for i in range(space.size) if i not in seen]
        if not unseen:
            return None
        return space.config_at(unseen[int(self.rng.integers(len(unseen)))])

    # -- the model ---------------------------------------------------------------------
    def _encode_key(self, key: int) -> np.ndarray:
        x = self._encoded.get(key)
        if x is None:
            x = self.encoder.encode(self._configs[key])
            self._encoded[key] = x
        return x

    def _targets(self, rewards: list[float]) -> np.ndarray:
        """Rewards as minimization targets."""
        y = np.asarray(rewards, dtype=np.float64)
        return -y if self.mode == "max" else y

    def _training_data(self) -> tuple[np.ndarray, np.ndarray]:
        keys = list(self._results)
        X = np.array([self._encode_key(key) for key in keys]).reshape(len(keys), self.encoder.dim)
        return X, self._targets([self._results[key] for key in keys])

    def _pending_inputs(self) -> np.ndarray | None:
        keys = [key for key in self._pending if key not in self._results]
        if not keys:
            return None
        return np.array([self._encode_key(key) for key in keys])

    def _fit(self) -> FittedModel:
        X, y = self._training_data()
        return self.model.fit(
            X,
            y,
            self.rng,
            pending=self._pending_inputs(),
            num_fantasy_samples=self.num_fantasy_samples,
        )

    def _acquisition(self, **kwargs: Any) -> Callable[[np.ndarray], np.ndarray]:
        """``score(X) -> log EI`` of the freshly fitted model."""
        fitted = self._fit()
        best = fitted.mean_at_rows().min(axis=0)

        def score(X: np.ndarray) -> np.ndarray:
            mean, std = fitted.predict(X)
            return log_expected_improvement(mean, std, best)

        return score

    # -- bookkeeping -------------------------------------------------------------------
    def _check_in_space(self, config: Any) -> None:
        if isinstance(config, Mapping) and not self.space.contains(
            {name: config.get(name) for name in self.space.hyperparameters}
        ):
            raise ValueError(
                f"{type(self).__name__} can only model configs of its search space, got "
                f"{dict(config)!r} for {self.space!r}"
            )

    def _parse_update(self, config: Any, reward: Any, result: dict[str, Any]) -> tuple[Any, float]:
        config, value = super()._parse_update(config, reward, result)
        self._check_in_space(config)
        return config, value

    def register_pending(self, config: Mapping[str, Any], milestone: int | None = None) -> None:
        self._check_in_space(config)
        super().register_pending(config, milestone)

    # -- state -------------------------------------------------------------------------
    def _extra_state(self) -> dict[str, Any]:
        return {
            "num_proposed": self._num_proposed,
            "first_is_default": self.first_is_default,
            "model": self.model.state_dict(),
        }

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        self._num_proposed = int(state.get("num_proposed", 0))
        self.first_is_default = bool(state.get("first_is_default", self.first_is_default))
        self.model.load_state_dict(state.get("model"))

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, num_init_random={self.num_init_random!r})"
