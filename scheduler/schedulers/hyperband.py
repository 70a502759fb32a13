"""Asynchronous Hyperband policy: stopping and promotion (ASHA) over the rung kernels.

Li, Jamieson, Rostamizadeh, Gonina, Hardt, Recht, Talwalkar (2018), "A System for
Massively Parallel Hyperparameter Tuning", https://arxiv.org/abs/1810.05934 .
Symbols: r (``grace_period``), eta (``reduction_factor``), R (``max_t``), s (bracket).

Every rung decision is taken by a kernel from :mod:`scheduler.kernels`
(``StoppingRungs``, ``PromotionRungs``, ``BracketSampler``); this module only routes
reports to the right rung system and turns the kernels' answers into decisions.

Per config the policy keeps its row in a :class:`~scheduler.space.ConfigTable` (8 bytes
per hyperparameter of a flat space) and its bracket (one byte); the config dict itself
only while a task of it runs.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

from scheduler import kernels as _kernels
from scheduler._decisions import COMPLETE, CONTINUE
from scheduler.schedulers.base import Decision, SearcherPolicy, Suggestion
from scheduler.schedulers.rung_systems import RUNG_SYSTEMS, RungSystem
from scheduler.space import ConfigTable, SearchSpace

__all__ = ["RUNG_SYSTEMS", "SEARCHER_DATA", "HyperbandPolicy"]

SEARCHER_DATA = ("rungs", "all", "rungs_and_last")


class HyperbandPolicy(SearcherPolicy):
    """Asynchronous successive halving with brackets.

    Parameters
    ----------
    searcher : BaseSearcher
        Proposes new configs.
    max_t : int
        R, the largest ``time_attr`` value a task reaches; a report at ``t >= R``
        completes it.
    grace_period, reduction_factor : int
        r and eta: rung levels r * eta**k below R (ignored if ``rung_levels`` is given).
    brackets : int
        Number of brackets (capped at the number of rung levels + 1).
    type : {'stopping', 'promotion'}
        Stop tasks at rungs, or pause them and promote the best paused configs (ASHA).
    rung_levels : list of int, optional
        Explicit rung levels.
    rung_system_per_bracket : bool
        One rung system per bracket (True) or one shared system where bracket s skips the
        lowest s rungs (False).
    random_seed : int
        Seed of the bracket sampler.
    searcher_data : {'rungs', 'all', 'rungs_and_last'}
        Which reports reach ``searcher.update``.
    """

    require_time = True

    def __init__(
        self,
        searcher: Any,
        *,
        reward_attr: str,
        time_attr: str,
        max_t: int,
        grace_period: int = 1,
        reduction_factor: int = 3,
        brackets: int = 1,
        type: str = "stopping",  # noqa: A002 - AutoGluon's parameter name
        rung_levels: Sequence[int] | None = None,
        rung_system_per_bracket: bool = True,
        random_seed: int = 31415927,
        searcher_data: str = "rungs",
        mode: str = "max",
    ) -> None:
        if type not in RUNG_SYSTEMS:
            raise ValueError(f"type must be one of {sorted(RUNG_SYSTEMS)}, got {type!r}")
        if searcher_data not in SEARCHER_DATA:
            raise ValueError(
                f"searcher_data must be one of {list(SEARCHER_DATA)}, got {searcher_data!r}"
            )
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        super().__init__(searcher)
        self.reward_attr = reward_attr
        self.time_attr = time_attr
        self.type = type
        self.mode = mode
        self.searcher_data = searcher_data
        self.max_t = max_t
        self.levels, self.quantiles = _kernels.rung_levels(
            grace_period, reduction_factor, max_t, rung_levels
        )
        self.rung_system_per_bracket = bool(rung_system_per_bracket)
        self.random_seed = random_seed
        self.sampler = _kernels.BracketSampler(self.levels, max_t, brackets, random_seed)
        self.num_brackets = self.sampler.num_brackets
        self._level_set = frozenset(self.levels)
        self.systems = self._make_systems()
        self._routes = self._make_routes()
        # stopping-type systems never promote: promote() need not ask them
        self._promoting = any(
            s is not None and s.__class__.promote is not RungSystem.promote for s in self.systems
        )
        space = getattr(searcher, "space", None)
        self._space = space if isinstance(space, SearchSpace) else None
        self.configs = ConfigTable(self._space)  # config_id -> config (its row)
        self._append_packable = self.configs.append_packable
        self.brackets = array("B")  # config_id -> bracket
        self._dead: set[int] = set()  # configs whose task failed: never promoted
        # running task_id -> (config_id, config, (system, skip_rungs, fail decision))
        self._tasks: dict[int, tuple] = {}
        self._last_unsent: dict[int, dict] = {}  # task_id -> last report not given to searcher

    # -- rung systems ------------------------------------------------------------------
    def _new_system(self, first: int) -> RungSystem | None:
        levels, quantiles = self.levels[first:], self.quantiles[first:]
        if not levels:
            return None  # the full-budget bracket: no rungs, tasks run to max_t
        return RUNG_SYSTEMS[self.type].create(levels, quantiles, self.max_t, self.mode)

    def _make_systems(self) -> list[RungSystem | None]:
        if self.rung_system_per_bracket:
            return [self._new_system(s) for s in range(self.num_brackets)]
        return [self._new_system(0)]

    def _system(self, bracket: int) -> tuple[RungSystem | None, int]:
        """(rung system, skip_rungs) for a bracket."""
        if self.rung_system_per_bracket:
            return self.systems[bracket], 0
        return self.systems[0], bracket

    def _make_routes(self) -> list[tuple]:
        """Per bracket: (rung system, skip_rungs, the decision when a rung is failed,
        the system's ``on_report(config_id, time, reward, skip_rungs)``, its
        ``add(config_id, skip_rungs)`` or None when it keeps no per-config state)."""
        routes: list[tuple] = []
        for bracket in range(self.num_brackets):
            system, skip = self._system(bracket)
            if system is None:
                routes.append((None, skip, None, None, None))
            else:
                fail = Decision(system.fail_decision)
                add = system.add if system.tracks_configs else None
                routes.append((system, skip, fail, system.report_fn(), add))
        return routes

    # -- Policy ------------------------------------------------------------------------
    def promote(self) -> Suggestion | None:
        """The best promotable config of the highest rung that has one (DESIGN.md
        section 4), scanning the systems in order; None for stopping-type Hyperband."""
        if not self._promoting:
            return None
        for system in self.systems:
            if system is None:
                continue
            while True:
                found = system.promote()
                if found is None:
                    break
                config_id, resume_from = found
                if config_id in self._dead:
                    continue  # flagged promoted by the kernel, so never returned again
                return Suggestion(
                    config=self.configs[config_id],
                    config_id=config_id,
                    new_config=False,
                    bracket=self.brackets[config_id],
                    resume_from=int(resume_from),
                )
        return None

    def add_config(self, config: dict) -> Suggestion:
        config_id = self._number()
        bracket = self.sampler.sample()
        append = self._append_packable
        row = append(config) if append is not None else -1
        if row < 0:
            row = self.configs.append(config)
        if row != config_id:  # cannot happen: both count the configs added
            raise RuntimeError(f"config table row {row} differs from config_id {config_id}")
        self.brackets.append(bracket)
        _, skip, _, _, add = self._routes[bracket]
        if add is not None:
            add(config_id, skip)
        return Suggestion.fresh(dict(config), config_id, bracket)

    def on_task_start(self, task_id: int, suggestion: Suggestion) -> None:
        config_id = suggestion.config_id
        route = self._routes[self.brackets[config_id]]
        # the config as the policy stored it (not the suggestion's dict, which the
        # runtime hands on), kept only while the task runs: for a new config, a copy
        # of the dict add_config just made from the same config
        if suggestion.new_config:
            self._tasks[task_id] = (config_id, dict(suggestion.config), route)
            self.feedback.append(("register_pending", (suggestion.config,), {}))
        else:
            self._tasks[task_id] = (config_id, self.configs[config_id], route)

    def on_report(self, task_id: int, result: dict) -> Decision:
        config_id, config, (_, skip, fail, report, _) = self._tasks[task_id]
        t = int(result[self.time_attr])
        reward = float(result[self.reward_attr])
        go = True if report is None else report(config_id, t, reward, skip)
        if t >= self.max_t:
            decision = COMPLETE
        elif go:
            decision = CONTINUE
        else:
            decision = fail
        if t in self._level_set or t >= self.max_t or self.searcher_data == "all":
            # searcher.update(config, reward, **rest): the report but the reward
            rest = result.copy()
            del rest[self.reward_attr]
            self.feedback.append(("update", (config, reward), rest))
            if self._last_unsent:
                self._last_unsent.pop(task_id, None)
        elif self.searcher_data == "rungs_and_last":
            self._last_unsent[task_id] = result
        return decision

    def _update_searcher(self, config: dict, result: dict) -> None:
        rest = result.copy()
        reward = rest.pop(self.reward_attr)
        self.feedback.append(("update", (config, float(reward)), rest))

    def on_task_end(self, task_id: int, status: str, last_result: dict | None) -> None:
        running = self._tasks.pop(task_id, None)
        if running is None:
            return
        config_id, config, _ = running
        pending = self._last_unsent.pop(task_id, None) if self._last_unsent else None
        if status == "interrupted":
            return  # the runtime starts the config again
        if status in ("failed", "diverged"):
            self._dead.add(config_id)
            self._tell("evaluation_failed", config)
        elif pending is not None:
            self._update_searcher(config, pending)

    # -- state -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "type": self.type,
            "levels": list(self.levels),
            "max_t": self.max_t,
            **self._searcher_state(),
            "configs": [
                [cid, config, b] for cid, (config, b) in enumerate(zip(self.configs, self.brackets))
            ],
            "dead": sorted(self._dead),
            "running": [[t, c[0]] for t, c in self._tasks.items()],
            "unsent": [[t, r] for t, r in self._last_unsent.items()],
            "sampler": self.sampler.state_dict(),
            "systems": [None if s is None else s.state_dict() for s in self.systems],
        }

    def capture(self):
        """The state as of now, built later: kernels copied at memcpy speed, the dicts
        shallow-copied (their values are never mutated), so the runtime's lock is held
        for copies only."""
        head = {"type": self.type, "levels": list(self.levels), "max_t": self.max_t}
        head.update(self._searcher_state())
        configs, brackets = self.configs.copy(), array("B", self.brackets)
        dead, unsent = set(self._dead), dict(self._last_unsent)
        tasks = {t: c[0] for t, c in self._tasks.items()}
        sampler = self.sampler.copy()
        systems = [None if s is None else s.copy() for s in self.systems]

        def build() -> dict:
            return {
                **head,
                "configs": [[cid, c, b] for cid, (c, b) in enumerate(zip(configs, brackets))],
                "dead": sorted(dead),
                "running": [[t, c] for t, c in tasks.items()],
                "unsent": [[t, r] for t, r in unsent.items()],
                "sampler": sampler.state_dict(),
                "systems": [None if s is None else s.state_dict() for s in systems],
            }

        return build

    def load_state_dict(self, state: dict) -> None:
        if state["type"] != self.type or state["levels"] != list(self.levels):
            raise ValueError(
                f"state is for type={state['type']!r} with rung levels {state['levels']}, "
                f"this scheduler has type={self.type!r} with rung levels {list(self.levels)}"
            )
        self._load_searcher_state(state)
        self.configs = ConfigTable(self._space)
        self._append_packable = self.configs.append_packable
        self.brackets = array("B")
        for i, (cid, cfg, b) in enumerate(state["configs"]):
            if int(cid) != i:
                raise ValueError(
                    f"state's configs must be numbered 0, 1, 2, ... in order, got config_id "
                    f"{cid} at position {i}"
                )
            self.configs.append(cfg)
            self.brackets.append(int(b))
        self._dead = {int(c) for c in state["dead"]}
        self._last_unsent = {int(t): dict(r) for t, r in state["unsent"]}
        self.sampler = type(self.sampler).from_state_dict(state["sampler"])
        if len(state["systems"]) != len(self.systems):
            raise ValueError(
                f"state has {len(state['systems'])} rung systems, this scheduler has "
                f"{len(self.systems)}"
            )
        for system, saved in zip(self.systems, state["systems"]):
            if (system is None) != (saved is None):
                raise ValueError("state's rung systems do not match this scheduler's brackets")
            if system is not None:
                system.load_state_dict(saved)
        self._routes = self._make_routes()  # they hold the systems' new kernels
        self._tasks = {}
        for t, c in state["running"]:
            cid = int(c)
            self._tasks[int(t)] = (cid, self.configs[cid], self._routes[self.brackets[cid]])
