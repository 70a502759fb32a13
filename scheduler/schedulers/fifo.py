"""FIFO policy: start configs in the searcher's order, let every task run to its end."""

from __future__ import annotations

from scheduler._decisions import CONTINUE
from scheduler.schedulers.base import Decision, SearcherPolicy, Suggestion
from scheduler.searchers.base import BaseSearcher

__all__ = ["FIFOPolicy"]


class FIFOPolicy(SearcherPolicy):
    """Runs each config once, to completion.

    The searcher proposes configs; a config's reward is the last ``reward_attr`` it
    reported, which is passed to ``searcher.update`` when its task ends. Failed and
    diverged tasks are reported with ``searcher.evaluation_failed``.
    """

    def __init__(self, searcher: BaseSearcher, *, reward_attr: str, time_attr: str | None = None):
        super().__init__(searcher)
        self.reward_attr = reward_attr
        self.time_attr = time_attr
        self._configs: dict[int, dict] = {}  # task_id -> config of running tasks

    def add_config(self, config: dict) -> Suggestion:
        return Suggestion.fresh(dict(config), self._number())

    def on_task_start(self, task_id: int, suggestion: Suggestion) -> None:
        self._configs[task_id] = suggestion.config
        self._tell("register_pending", suggestion.config)

    def on_report(self, task_id: int, result: dict) -> Decision:
        return CONTINUE

    def on_task_end(self, task_id: int, status: str, last_result: dict | None) -> None:
        config = self._configs.pop(task_id, None)
        if config is None or status == "interrupted":
            return  # interrupted: the runtime starts the config again
        if status in ("failed", "diverged") or last_result is None:
            self._tell("evaluation_failed", config)
        else:
            result = {k: v for k, v in last_result.items() if k != self.reward_attr}
            self._tell("update", config, last_result[self.reward_attr], **result)

    def state_dict(self) -> dict:
        return {
            **self._searcher_state(),
            "running": [[task_id, config] for task_id, config in self._configs.items()],
        }

    def load_state_dict(self, state: dict) -> None:
        self._load_searcher_state(state)
        self._configs = {int(task_id): dict(config) for task_id, config in state["running"]}
