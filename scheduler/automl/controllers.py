"""Controllers: what to run next (Clara's ``Controller`` contract) over our searchers.

- :class:`Controller`: the interface. ``set_search_space(space, ctx)`` once,
  ``initial_recommendation(ctx)`` once (an empty list ends the run at once), then
  ``refine_recommendation(outcome, ctx)`` once per finished job, on the engine's thread,
  so a controller need not be thread-safe.
- :class:`SearcherController`: any searcher of :func:`scheduler.searchers.searcher_factory`
  by name (``random``, ``grid``, ``bayesopt`` once it exists); keeps up to one job per
  worker in flight, ``max_rounds`` jobs in all.
- :class:`ReinforcementController`: Clara's name; the RL controller (an LSTM trained with
  REINFORCE, :class:`scheduler.searchers.rl.controller.RLController`) proposes
  ``batch_size`` recommendations (default 1: one job at a time, as in Clara) and learns
  from their scores before proposing more, up to ``max_rounds``.
- :class:`HyperbandController`: a whole Hyperband scheduler (stopping, or promotion, i.e.
  ASHA) over jobs that report per epoch (``ContextKey.REPORT``).

Every controller enumerates a space made only of enums exhaustively (every combination,
in grid order, all at once: the engine runs them as workers free up), as Clara's
examples show, unless ``exhaustive_enums=False``. Scores are maximized.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Any

from scheduler._validation import positive_int
from scheduler.automl.defs import (
    ContextKey,
    MMARPropKey,
    Outcome,
    Recommendation,
    SearchResult,
    SearchSpace,
)
from scheduler.schedulers.base import Decision, Suggestion, drive_suggest
from scheduler.searchers import searcher_factory

if TYPE_CHECKING:
    from scheduler import space as sch_space
    from scheduler.automl.context import Context
    from scheduler.schedulers.hyperband import HyperbandPolicy
    from scheduler.searchers.base import BaseSearcher
    from scheduler.searchers.rl.controller import RLController

__all__ = [
    "Controller",
    "HyperbandController",
    "ReinforcementController",
    "SearcherController",
]

#: the result key jobs report their score under (the runtime's reward_attr)
SCORE_ATTR = "score"
#: the result key of the epoch in per-epoch reports (the runtime's time_attr)
EPOCH_ATTR = "epoch"


class Controller:
    """Base class: proposes recommendations and learns from outcomes.

    Subclasses implement :meth:`set_search_space`, :meth:`initial_recommendation` and
    :meth:`refine_recommendation`. :meth:`make_recommendation` numbers them.
    """

    #: whether every report of a job must carry ``epoch`` (Hyperband)
    require_time = False

    def __init__(self) -> None:
        self._next_rec_id = 1
        self.space: SearchSpace | None = None

    def set_search_space(self, space: SearchSpace | None, ctx: Context) -> None:
        """Keep the space to search; raise (or ``ctx.stop_work``) if it is unusable."""
        raise NotImplementedError

    def initial_recommendation(self, ctx: Context) -> list[Recommendation]:
        raise NotImplementedError

    def refine_recommendation(self, outcome: Outcome, ctx: Context) -> list[Recommendation]:
        raise NotImplementedError

    def shutdown(self, ctx: Context) -> None:
        """Release what the controller holds (called by ``Engine.shutdown``)."""

    def make_recommendation(
        self, values: dict, suggestion: Suggestion | None = None
    ) -> Recommendation:
        rec = Recommendation(self._next_rec_id, SearchResult(self.space, values), suggestion)
        self._next_rec_id += 1
        return rec

    # -- optional hooks the engine calls under the runtime's lock (Hyperband) ---------
    def on_job_start(self, task_id: int, suggestion: Suggestion) -> None:
        """The runtime started a task for ``suggestion``."""

    def on_job_report(self, task_id: int, result: dict) -> Decision:
        """Decide on one intermediate report of a job: continue by default."""
        return Decision.CONTINUE

    def on_job_end(self, task_id: int, status: str, last_result: dict | None) -> None:
        """The runtime ended a task (its status as the runtime recorded it)."""


def _num_workers(ctx: Context, max_concurrent: int | None) -> int:
    if max_concurrent is not None:
        return max_concurrent
    return int(ctx.get_prop(ContextKey.NUM_WORKERS, 1) or 1)


def _check_space(space: SearchSpace | None, who: str) -> sch_space.SearchSpace:
    if space is None or not len(space):
        raise ValueError(
            f"{who}: the search space is empty; annotate the training config with 'search' "
            "items (or 'lr_search')"
        )
    return space.to_space()


def _enumeration(space: sch_space.SearchSpace, max_rounds: int | None) -> list[dict]:
    size = space.size
    if size is None:  # (an enum-only space is finite)
        raise TypeError("an exhaustive enumeration needs a finite search space")
    count = size if max_rounds is None else min(size, max_rounds)
    return [space.config_at(i) for i in range(count)]


class _Rounds(Controller):
    """Shared bookkeeping: max_rounds, jobs in flight, exhaustive enumeration."""

    def __init__(
        self, max_rounds: int | None, max_concurrent: int | None, exhaustive_enums: bool
    ) -> None:
        super().__init__()
        self.max_rounds = positive_int("max_rounds", max_rounds, allow_none=True)
        self.max_concurrent = positive_int("max_concurrent", max_concurrent, allow_none=True)
        self.exhaustive_enums = bool(exhaustive_enums)
        self.num_issued = 0
        self.num_outcomes = 0
        self._enumerated: list[dict] | None = None
        self._sch_space: sch_space.SearchSpace | None = None

    @property
    def in_flight(self) -> int:
        return self.num_issued - self.num_outcomes

    def _left(self) -> int | None:
        return None if self.max_rounds is None else self.max_rounds - self.num_issued

    def set_search_space(self, space: SearchSpace | None, ctx: Context) -> None:
        self.space = space
        converted = self._sch_space = _check_space(space, type(self).__name__)
        if space is None:  # (refused by _check_space)
            raise AssertionError("no search space")
        if self.exhaustive_enums and space.enum_only:
            self._enumerated = _enumeration(converted, self.max_rounds)
            return
        if self.max_rounds is None and not converted.is_finite:
            raise ValueError(
                f"{type(self).__name__}: max_rounds is needed for a search space with float "
                f"ranges ({[p for p in space.prls if '.float' in p]}), got max_rounds=None"
            )
        self._set_up(ctx)

    def _set_up(self, ctx: Context) -> None:
        """Build the searcher once the space is known."""

    def _issue(self, values: dict, suggestion: Suggestion | None = None) -> Recommendation:
        self.num_issued += 1
        return self.make_recommendation(values, suggestion)

    def initial_recommendation(self, ctx: Context) -> list[Recommendation]:
        if self._enumerated is not None:
            return [self._issue(values) for values in self._enumerated]
        return self._more(ctx)

    def refine_recommendation(self, outcome: Outcome, ctx: Context) -> list[Recommendation]:
        self.num_outcomes += 1
        if self._enumerated is not None:
            return []
        self._learn(outcome)
        return self._more(ctx)

    def _learn(self, outcome: Outcome) -> None:
        raise NotImplementedError

    def _more(self, ctx: Context) -> list[Recommendation]:
        raise NotImplementedError


class SearcherController(_Rounds):
    """Recommendations from one of our searchers.

    Parameters
    ----------
    searcher : str
        A :func:`scheduler.searchers.searcher_factory` name: ``random``, ``grid``, ...
    max_rounds : int, optional
        Jobs to run in all; needed unless the space is finite (the searcher stops when
        it has nothing new).
    search_options : dict, optional
        The searcher's own options (``random_seed``, ``num_points``...).
    max_concurrent : int, optional
        Jobs in flight at once; default one per worker.
    exhaustive_enums : bool
        Enumerate an enum-only space exhaustively (default True).

    The searcher is told every outcome: ``update(config, score)`` when the job gave a
    score, ``evaluation_failed(config)`` otherwise.
    """

    def __init__(
        self,
        searcher: str = "random",
        max_rounds: int | None = None,
        search_options: dict | None = None,
        max_concurrent: int | None = None,
        exhaustive_enums: bool = True,
    ) -> None:
        super().__init__(max_rounds, max_concurrent, exhaustive_enums)
        if not isinstance(searcher, str):
            raise ValueError(f"searcher must be a searcher name such as 'random', got {searcher!r}")
        if search_options is not None and not isinstance(search_options, dict):
            raise ValueError(f"search_options must be a dict or None, got {search_options!r}")
        self.searcher_name = searcher
        self.search_options = dict(search_options or {})
        self.searcher: BaseSearcher | None = None
        self._exhausted = False

    def _set_up(self, ctx: Context) -> None:
        options = {"reward_attr": SCORE_ATTR, "mode": "max", **self.search_options}
        self.searcher = searcher_factory(self.searcher_name, space=self._sch_space, **options)

    def _searcher(self) -> BaseSearcher:
        if self.searcher is None:
            raise RuntimeError("SearcherController: set_search_space() was not called")
        return self.searcher

    def _learn(self, outcome: Outcome) -> None:
        rec = outcome.recommendation
        if rec is None:  # (the engine gives every outcome its recommendation)
            raise ValueError(f"outcome {outcome!r} has no recommendation")
        values = dict(rec.search_result.values)
        if outcome.succeeded:
            self._searcher().update(values, float(outcome.score))
        else:
            self._searcher().evaluation_failed(values)

    def _more(self, ctx: Context) -> list[Recommendation]:
        recs = []
        while not self._exhausted and self.in_flight < _num_workers(ctx, self.max_concurrent):
            left = self._left()
            if left is not None and left <= 0:
                break
            config = self._searcher().get_config()
            if config is None:
                self._exhausted = True
                break
            self._searcher().register_pending(config)
            recs.append(self._issue(config))
        return recs


class ReinforcementController(_Rounds):
    """Clara's RL controller: an LSTM policy trained with REINFORCE on the jobs' scores.

    Parameters
    ----------
    max_rounds : int
        Jobs to run in all (needed unless the space is enum-only).
    batch_size : int
        Recommendations per controller step (default 1: one job at a time, as in
        Clara); the next batch is proposed once every job of the current one ended.
    hidden_size, num_bins, lr, entropy_weight, random_seed
        As for :class:`scheduler.searchers.rl.controller.RLController` (floats are
        discretized into ``num_bins`` levels).
    exhaustive_enums : bool
        Enumerate an enum-only space exhaustively instead (default True).

    A job without a score (failed, aborted) gives no gradient.
    """

    def __init__(
        self,
        max_rounds: int | None = None,
        batch_size: int = 1,
        hidden_size: int = 100,
        num_bins: int = 10,
        lr: float = 1e-3,
        entropy_weight: float = 0.0,
        random_seed: int | None = None,
        exhaustive_enums: bool = True,
    ) -> None:
        super().__init__(max_rounds, None, exhaustive_enums)
        self.batch_size = positive_int("batch_size", batch_size)
        self._options: dict[str, Any] = {
            "hidden_size": hidden_size,
            "num_bins": num_bins,
            "lr": lr,
            "entropy_weight": entropy_weight,
            "random_seed": random_seed,
        }
        self.controller: RLController | None = None
        self._batch: dict[int, list[int]] = {}  # rec_id -> actions, current batch
        self._scored: list[tuple[list[int], float]] = []
        self.num_updates = 0

    def _set_up(self, ctx: Context) -> None:
        from scheduler.searchers.rl.controller import RLController

        if self._sch_space is None:  # (set_search_space sets it first)
            raise AssertionError("no search space")
        self.controller = RLController(self._sch_space, **self._options)

    def _controller(self) -> RLController:
        if self.controller is None:
            raise RuntimeError("ReinforcementController: set_search_space() was not called")
        return self.controller

    def _learn(self, outcome: Outcome) -> None:
        actions = self._batch.pop(outcome.recommendation_id, None)
        if actions is not None and outcome.succeeded:
            self._scored.append((actions, float(outcome.score)))
        if not self._batch and self._scored:
            self._controller().learn([a for a, _ in self._scored], [s for _, s in self._scored])
            self.num_updates += 1
            self._scored = []

    def _more(self, ctx: Context) -> list[Recommendation]:
        if self._batch:
            return []  # the current batch is not finished
        count = self.batch_size
        left = self._left()
        if left is not None:
            count = min(count, left)
        recs = []
        for _ in range(count):
            actions = self._controller().sample()
            rec = self._issue(self._controller().config_from_actions(actions))
            self._batch[rec.rec_id] = actions
            recs.append(rec)
        return recs


class HyperbandController(Controller):
    """A Hyperband scheduler over jobs that report per epoch.

    Jobs report ``report(epoch=k, score=s)`` through ``ContextKey.REPORT`` (the MMAR
    executor does this for each ``[scheduler] {"epoch": k, ...}`` line its training
    prints). At rung levels, poor jobs are stopped (``type='stopping'``) or paused and
    the best paused configs promoted to resume from their level (``type='promotion'``,
    ASHA; the job context carries ``RESUME_FROM`` and a per-config ``CHECKPOINT_DIR``).

    Parameters
    ----------
    max_rounds : int
        New configs to start in all (promotions are not counted); needed unless the
        space is finite.
    max_t : int, optional
        R, the last epoch; default the training config's top-level ``epochs``.
    grace_period, reduction_factor, brackets, type, rung_levels, rung_system_per_bracket,
    random_seed, searcher_data
        As for :class:`scheduler.HyperbandScheduler`.
    searcher, search_options
        The searcher of new configs (default ``random``).
    max_concurrent : int, optional
        Jobs in flight at once; default one per worker.
    """

    require_time = True

    def __init__(
        self,
        max_rounds: int | None = None,
        max_t: int | None = None,
        grace_period: int = 1,
        reduction_factor: int = 3,
        brackets: int = 1,
        type: str = "stopping",  # noqa: A002 - the scheduler's parameter name
        rung_levels: list[int] | None = None,
        rung_system_per_bracket: bool = True,
        random_seed: int = 31415927,
        searcher_data: str = "rungs",
        searcher: str = "random",
        search_options: dict | None = None,
        max_concurrent: int | None = None,
    ) -> None:
        super().__init__()
        self.max_rounds = positive_int("max_rounds", max_rounds, allow_none=True)
        self.max_concurrent = positive_int("max_concurrent", max_concurrent, allow_none=True)
        if max_t is not None:
            positive_int("max_t", max_t)
        self.max_t = max_t
        self._policy_options: dict[str, Any] = {
            "grace_period": grace_period,
            "reduction_factor": reduction_factor,
            "brackets": brackets,
            "type": type,
            "rung_levels": rung_levels,
            "rung_system_per_bracket": rung_system_per_bracket,
            "random_seed": random_seed,
            "searcher_data": searcher_data,
        }
        self.searcher_name = searcher
        self.search_options = dict(search_options or {})
        self.policy: HyperbandPolicy | None = None
        self._lock = threading.Lock()  # the policy is called from several threads
        self.num_issued = 0
        self.num_outcomes = 0

    def set_search_space(self, space: SearchSpace | None, ctx: Context) -> None:
        from scheduler.schedulers.hyperband import HyperbandPolicy

        self.space = space
        sch_space = _check_space(space, "HyperbandController")
        if self.max_rounds is None and not sch_space.is_finite:
            raise ValueError(
                "HyperbandController: max_rounds is needed for a search space with float "
                "ranges, got max_rounds=None"
            )
        max_t = self.max_t
        if max_t is None:
            train_config = ctx.get_prop(MMARPropKey.TRAIN_CONFIG) or {}
            max_t = train_config.get("epochs") if isinstance(train_config, dict) else None
            if max_t is None:
                raise ValueError(
                    "HyperbandController: max_t is needed: pass max_t=, or give the training "
                    "config a top-level 'epochs'; found neither"
                )
            max_t = positive_int("the training config's epochs (HyperbandController max_t)", max_t)
        self.max_t = max_t
        options = {"reward_attr": SCORE_ATTR, "mode": "max", **self.search_options}
        searcher = searcher_factory(self.searcher_name, space=sch_space, **options)
        self.policy = HyperbandPolicy(
            searcher,
            reward_attr=SCORE_ATTR,
            time_attr=EPOCH_ATTR,
            max_t=max_t,
            mode="max",
            **self._policy_options,
        )

    def _policy(self) -> HyperbandPolicy:
        if self.policy is None:
            raise RuntimeError("HyperbandController: set_search_space() was not called")
        return self.policy

    def _fill(self, ctx: Context) -> list[Recommendation]:
        """Ask the policy for tasks until one job per worker is in flight. The searcher
        calls the policy queued in the hooks are applied here first, on the engine's
        thread (so a model fit never holds the runtime's lock)."""
        recs = []
        with self._lock:
            while self.num_issued - self.num_outcomes < _num_workers(ctx, self.max_concurrent):
                started = len(self._policy().configs)  # new configs drawn so far
                allow_new = self.max_rounds is None or started < self.max_rounds
                suggestion = drive_suggest(self._policy(), allow_new)
                if suggestion is None:
                    break
                self.num_issued += 1
                recs.append(self.make_recommendation(dict(suggestion.config), suggestion))
        return recs

    def initial_recommendation(self, ctx: Context) -> list[Recommendation]:
        return self._fill(ctx)

    def refine_recommendation(self, outcome: Outcome, ctx: Context) -> list[Recommendation]:
        with self._lock:
            self.num_outcomes += 1
        return self._fill(ctx)

    def on_job_start(self, task_id: int, suggestion: Suggestion) -> None:
        with self._lock:
            self._policy().on_task_start(task_id, suggestion)

    def on_job_report(self, task_id: int, result: dict) -> Decision:
        with self._lock:
            return self._policy().on_report(task_id, result)

    def on_job_end(self, task_id: int, status: str, last_result: dict | None) -> None:
        if last_result is not None and not math.isfinite(last_result.get(SCORE_ATTR, 0.0)):
            status = "diverged"
        with self._lock:
            self._policy().on_task_end(task_id, status, last_result)
