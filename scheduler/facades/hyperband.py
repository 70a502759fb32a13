"""HyperbandScheduler: asynchronous successive halving, stopping or promotion (ASHA)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scheduler._decorator import get_defaults
from scheduler._validation import is_integer
from scheduler.facades._base import BaseScheduler
from scheduler.schedulers.base import Policy

if TYPE_CHECKING:
    from scheduler.schedulers.hyperband import HyperbandPolicy

__all__ = ["HyperbandScheduler"]

log = logging.getLogger("scheduler")


class _Default(int):
    """A default that reads as its int value but tells "not given" apart (the seed
    promises a warning when grace_period or reduction_factor are given along with
    rung_levels, which override them)."""

    def __repr__(self) -> str:
        return repr(int(self))


def _plain(value: object) -> object:
    return int(value) if isinstance(value, _Default) else value


_GRACE_PERIOD = _Default(1)
_REDUCTION_FACTOR = _Default(3)


def _infer_max_t(train_fn: Any, max_t: object) -> int:
    if max_t is not None:
        if not is_integer(max_t) or max_t < 2:
            raise ValueError(f"max_t must be an integer >= 2, got {max_t!r}")
        return int(max_t)
    if callable(getattr(train_fn, "objective", None)):  # a benchmark object
        return int(train_fn.max_epochs)
    defaults = get_defaults(train_fn)
    for key in ("epochs", "max_t"):
        value = defaults.get(key)
        if value is not None:
            if not is_integer(value) or value < 2:
                raise ValueError(
                    f"max_t inferred from train_fn.args.{key} must be an integer >= 2, "
                    f"got {value!r}"
                )
            return int(value)
    raise ValueError(
        "max_t is needed: pass max_t=, or give train_fn an 'epochs' or 'max_t' default "
        "(train_fn.args.epochs, train_fn.args.max_t); found none of the three"
    )


class HyperbandScheduler(BaseScheduler):
    """Asynchronous Hyperband: ``type='stopping'`` or ``type='promotion'`` (ASHA).

    Li et al. (2018), "A System for Massively Parallel Hyperparameter Tuning",
    https://arxiv.org/abs/1810.05934 . Takes every :class:`FIFOScheduler` parameter
    plus:

    Parameters
    ----------
    max_t : int, optional
        R, the largest ``time_attr`` value; default ``train_fn.args.epochs``, then
        ``train_fn.args.max_t``.
    grace_period : int
        r, the first rung level (default 1).
    reduction_factor : int
        eta >= 2 (default 3): rung levels r * eta**k below R.
    brackets : int
        Number of brackets s = 0..brackets-1 (default 1), capped at #levels + 1 (a
        warning with the cap is logged when more are asked for).
    type : {'stopping', 'promotion'}
        Stop poor tasks at rungs, or pause every task at each rung and promote the best
        paused configs when a worker is free (their next task gets
        ``args.scheduler.resume_from`` and the same ``reporter.checkpoint_dir``).
    rung_levels : list of int, optional
        Explicit rung levels; they override grace_period and reduction_factor, and a
        warning is logged if those are given too.
    rung_system_per_bracket : bool
        Separate rung systems per bracket (default) or one shared system.
    random_seed : int
        Seed of the bracket sampler (default 31415927).
    searcher_data : {'rungs', 'all', 'rungs_and_last'}
        Which reports reach ``searcher.update``.

    ``searcher='bayesopt'`` builds the multi-fidelity GP searcher (MOBSTER, Klein et al.
    2020, :class:`~scheduler.searchers.GPMultiFidelitySearcher`), told ``time_attr``,
    ``max_t`` and the rung levels; it learns from the results ``searcher_data`` passes.

    Reports must carry ``time_attr`` as a positive, increasing integer.
    ``num_trials`` counts configs started, not tasks.
    """

    def __init__(
        self,
        train_fn,
        *,
        max_t=None,
        grace_period=_GRACE_PERIOD,
        reduction_factor=_REDUCTION_FACTOR,
        brackets=1,
        type="stopping",  # noqa: A002 - AutoGluon's parameter name
        rung_levels=None,
        rung_system_per_bracket=True,
        random_seed=31415927,
        searcher_data="rungs",
        do_snapshots=False,
        **kwargs,
    ):
        if do_snapshots:
            raise ValueError(
                "do_snapshots=True passes rung snapshots to model-based searchers, which "
                "are not supported yet; got do_snapshots=True"
            )
        self.max_t = _infer_max_t(train_fn, max_t)
        if rung_levels is not None:
            given = [
                f"{name}={value!r}"
                for name, value in (
                    ("grace_period", grace_period),
                    ("reduction_factor", reduction_factor),
                )
                if not isinstance(value, _Default)
            ]
            if given:
                log.warning(
                    "HyperbandScheduler: rung_levels=%r is given, so %s is ignored (the rung "
                    "levels and their ratios set the stop/promote rule)",
                    rung_levels,
                    " and ".join(given),
                )
        self.grace_period = (
            int(grace_period) if isinstance(grace_period, _Default) else grace_period
        )
        self.reduction_factor = (
            int(reduction_factor) if isinstance(reduction_factor, _Default) else reduction_factor
        )
        self.brackets = brackets
        self.type = type
        self.rung_levels = rung_levels
        self.rung_system_per_bracket = rung_system_per_bracket
        if not is_integer(random_seed) or random_seed < 0:
            raise ValueError(f"random_seed must be an integer >= 0, got {random_seed!r}")
        self.random_seed = random_seed
        self.searcher_data = searcher_data
        if kwargs.get("time_attr", "epoch") is None:
            raise ValueError("time_attr is required by HyperbandScheduler, got None")
        super().__init__(train_fn, **kwargs)
        policy: HyperbandPolicy = self._inner_policy()
        if is_integer(brackets) and brackets > policy.num_brackets:
            log.warning(
                "HyperbandScheduler: brackets=%d is more than the %d that rung levels %s "
                "allow (one per rung level, plus one of full-budget runs); using %d brackets",
                brackets,
                policy.num_brackets,
                list(policy.levels),
                policy.num_brackets,
            )

    def _settings(self) -> dict:
        policy: HyperbandPolicy = self._inner_policy()
        return {
            **super()._settings(),
            "type": self.type,
            "max_t": self.max_t,
            "rung_levels": list(policy.levels),
            "brackets": policy.num_brackets,
            "rung_system_per_bracket": bool(self.rung_system_per_bracket),
            "random_seed": self.random_seed,
            "searcher_data": self.searcher_data,
        }

    def _make_searcher(self, searcher, search_options):
        # 'bayesopt' on Hyperband is the multi-fidelity GP (MOBSTER), told the resource.
        if isinstance(searcher, str) and searcher.lower() in ("bayesopt", "bayesopt_hyperband"):
            if self.constraint_attr is not None:
                raise ValueError(
                    f"constraint_attr={self.constraint_attr!r}: constrained Bayesian "
                    "optimization is supported by FIFOScheduler with "
                    "searcher='bayesopt_constrained', not by HyperbandScheduler"
                )
            from scheduler import kernels as _kernels

            levels, _ = _kernels.rung_levels(
                self.grace_period, self.reduction_factor, self.max_t, self.rung_levels
            )
            options = dict(search_options or {})
            options.setdefault("resource_attr", self.time_attr)
            options.setdefault("max_t", self.max_t)
            options.setdefault("rung_levels", [int(level) for level in levels])
            return super()._make_searcher("bayesopt_hyperband", options)
        return super()._make_searcher(searcher, search_options)

    def _make_policy(self) -> Policy:
        from scheduler.schedulers.hyperband import HyperbandPolicy

        if self.time_attr is None:  # (refused by __init__ already)
            raise ValueError("time_attr is required by HyperbandScheduler, got None")
        return HyperbandPolicy(
            self.searcher,
            reward_attr=self.reward_attr,
            time_attr=self.time_attr,
            max_t=self.max_t,
            grace_period=self.grace_period,
            reduction_factor=self.reduction_factor,
            brackets=self.brackets,
            type=self.type,
            rung_levels=self.rung_levels,
            rung_system_per_bracket=self.rung_system_per_bracket,
            random_seed=self.random_seed,
            searcher_data=self.searcher_data,
            mode=self.mode,
        )
