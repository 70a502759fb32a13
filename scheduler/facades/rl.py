"""The RLScheduler facade: AutoGluon's ``RLScheduler`` over :class:`RLPolicy`."""

from __future__ import annotations

import numbers
import warnings

from scheduler._validation import integer, real
from scheduler.facades._base import BaseScheduler
from scheduler.schedulers.base import Policy
from scheduler.schedulers.rl import RLPolicy
from scheduler.searchers.base import DEFAULT_RANDOM_SEED
from scheduler.searchers.rl.controller import RLController

__all__ = ["RLScheduler"]


class RLScheduler(BaseScheduler):
    """Configs sampled by an LSTM controller trained with REINFORCE on trial rewards.

    Zoph & Le (2017), "Neural Architecture Search with Reinforcement Learning",
    https://arxiv.org/abs/1611.01578 . The controller makes one decision per
    hyperparameter (sorted by name): Categorical and Bool choices natively, Real and Int
    discretized into ``num_bins`` levels (log-spaced for ``log=True``; every value of a
    small Int range), see :mod:`scheduler.searchers.rl.controller`. A trial's reward
    is its last reported ``reward_attr`` (negated for ``mode='min'``); every trial runs
    to its end. Takes every :class:`~scheduler.FIFOScheduler` parameter (``searcher``
    aside) plus:

    Parameters
    ----------
    controller_lr : float
        Adam's step size for the controller (default 1e-3).
    ema_baseline_decay : float
        Decay of the exponential-moving-average reward baseline b, in ``[0, 1)``
        (default 0.95); b starts at the first reward.
    controller_batch_size : int
        ``sync=True``: configs per batch, run concurrently, one controller step per
        batch once all of it ended; the last batch may be partial, so exactly
        ``num_trials`` trials run. ``sync=False``: most trials in flight, one step per
        finished trial. Default 1.
    sync : bool
        Synchronous batches (default) or asynchronous steps.
    entropy_weight : float
        Weight (>= 0) of the entropy bonus in the REINFORCE loss (default 0).
    controller_hidden_size : int
        Hidden (and embedding) size of the LSTM (default 100).
    num_bins : int
        Levels of a Real hyperparameter, and of an Int with more values (default 10).
    random_seed : int, optional
        Seed of the controller's weights and samples (default 31415927).
    searcher : optional
        ``None``, ``'rl'`` or an :class:`RLController` over the same space (then its own
        hidden size, bins, learning rate, decay, entropy weight and seed are used).
        Anything else is ignored with a warning: this scheduler's searcher is its
        controller.
    controller_resource : optional
        Accepted for compatibility and ignored: the numpy controller runs in the
        scheduler's own process and needs no resources of its own.

    A failed or diverged trial gives the controller no gradient; such trials are
    counted (``scheduler.policy.num_failed``) and a warning tells how many when
    :meth:`join_jobs` returns. The controller's state (weights, Adam moments, baseline,
    generator, the batch in progress) is part of :meth:`state_dict` and of the
    checkpoint's snapshots; ``resume=True`` needs the same controller settings and
    replays the journal to the exact controller of the interrupted run.
    """

    def __init__(
        self,
        train_fn,
        *,
        controller_lr=1e-3,
        ema_baseline_decay=0.95,
        controller_batch_size=1,
        sync=True,
        entropy_weight=0.0,
        controller_hidden_size=100,
        num_bins=10,
        random_seed=DEFAULT_RANDOM_SEED,
        searcher=None,
        search_options=None,
        controller_resource=None,
        **kwargs,
    ):
        self.controller_lr = real("controller_lr", controller_lr, "a number > 0", lambda x: x > 0)
        self.ema_baseline_decay = real(
            "ema_baseline_decay", ema_baseline_decay, "a number within [0, 1)", lambda x: 0 <= x < 1
        )
        self.controller_batch_size = integer("controller_batch_size", controller_batch_size, 1)
        if not isinstance(sync, bool):
            raise ValueError(f"sync must be a bool, got {sync!r}")
        self.sync = sync
        self.entropy_weight = real(
            "entropy_weight", entropy_weight, "a number >= 0", lambda x: x >= 0
        )
        self.controller_hidden_size = integer("controller_hidden_size", controller_hidden_size, 1)
        self.num_bins = integer("num_bins", num_bins, 2)
        if random_seed is None:
            random_seed = DEFAULT_RANDOM_SEED
        self.random_seed = integer("random_seed", random_seed, 0)
        if controller_resource is not None and (
            isinstance(controller_resource, bool)
            or not isinstance(controller_resource, (dict, numbers.Integral))
        ):
            raise ValueError(
                f"controller_resource must be a dict, an integer or None, "
                f"got {controller_resource!r}"
            )
        self._given_controller = None
        if isinstance(searcher, RLController):
            self._given_controller = searcher
        elif searcher is not None and not (isinstance(searcher, str) and searcher.lower() == "rl"):
            warnings.warn(
                f"RLScheduler samples configs with its LSTM controller; searcher={searcher!r} "
                "is ignored",
                UserWarning,
                stacklevel=2,
            )
        if search_options:
            warnings.warn(
                f"RLScheduler has no searcher options; search_options={search_options!r} "
                "is ignored",
                UserWarning,
                stacklevel=2,
            )
        self._num_failed_warned = 0
        super().__init__(train_fn, **kwargs)

    def _make_searcher(self, searcher, search_options):
        # The controller is this scheduler's searcher; it is built with the policy.
        return None

    def _make_policy(self) -> Policy:
        controller = self._given_controller
        if controller is None:
            controller = RLController(
                self.space,
                hidden_size=self.controller_hidden_size,
                num_bins=self.num_bins,
                lr=self.controller_lr,
                ema_baseline_decay=self.ema_baseline_decay,
                entropy_weight=self.entropy_weight,
                random_seed=self.random_seed,
                reward_attr=self.reward_attr,
                mode=self.mode,
            )
        elif controller.space.fingerprint() != self.space.fingerprint():
            raise ValueError(
                "searcher must be an RLController over train_fn's search space, got one over "
                f"{controller.space!r} for {self.space!r}"
            )
        self.controller = controller
        self.searcher = controller
        return RLPolicy(
            controller,
            reward_attr=self.reward_attr,
            mode=self.mode,
            batch_size=self.controller_batch_size,
            sync=self.sync,
            num_trials=self.num_trials,
        )

    def _settings(self) -> dict:
        c = self.controller
        return {
            **super()._settings(),
            "sync": self.sync,
            "controller_batch_size": self.controller_batch_size,
            "controller_hidden_size": c.hidden_size,
            "num_bins": c.num_bins,
            "controller_lr": c.lr,
            "ema_baseline_decay": c.ema_baseline_decay,
            "entropy_weight": c.entropy_weight,
            "random_seed": c.random_seed,
        }

    def join_jobs(self, timeout=None):
        done = super().join_jobs(timeout)
        self._warn_failures()
        return done

    join_tasks = join_jobs

    def sync_schedule_tasks(self):
        """AutoGluon's synchronous RL loop, run to its end: batches of
        ``controller_batch_size`` configs run together, one controller step per finished
        batch (the last batch may be partial), until ``num_trials`` configs ran. On this
        runtime that is :meth:`run` with ``sync=True`` followed by :meth:`join_jobs`;
        returns what ``join_jobs`` returns."""
        if not self.sync:
            raise ValueError(
                "sync_schedule_tasks runs synchronous batches, but this RLScheduler was built "
                "with sync=False; build it with sync=True, or call run() and join_jobs()"
            )
        self.run()
        return self.join_jobs()

    def _warn_failures(self) -> None:
        policy: RLPolicy = self._inner_policy()
        failed = policy.num_failed
        if failed > self._num_failed_warned:
            self._num_failed_warned = failed
            total = failed + policy.num_rewarded
            warnings.warn(
                f"RLScheduler: {failed} of {total} finished trials failed, diverged or "
                f"reported no finite {self.reward_attr!r}; they gave the controller no "
                "gradient",
                RuntimeWarning,
                stacklevel=3,
            )

    def __repr__(self) -> str:
        return (
            f"{super().__repr__()[:-1]}, controller_batch_size={self.controller_batch_size}, "
            f"sync={self.sync}, controller_lr={self.controller_lr!r})"
        )
