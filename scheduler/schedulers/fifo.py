"""FIFO policy: start configs in the searcher's order, let every task run to its end."""

from __future__ import annotations

from scheduler.schedulers.base import Decision, Policy, Suggestion

__all__ = ["FIFOPolicy"]


class FIFOPolicy(Policy):
    """Runs each config once, to completion.

    The searcher proposes configs; a config's reward is the last ``reward_attr`` it
    reported, which is passed to ``searcher.update`` when its task ends. Failed and
    diverged tasks are reported with ``searcher.evaluation_failed``.
    """

    def __init__(self, searcher, *, reward_attr: str, time_attr: str | None = None):
        self.searcher = searcher
        self.reward_attr = reward_attr
        self.time_attr = time_attr
        self._next_config_id = 0
        self._exhausted = False
        self._configs: dict[int, dict] = {}  # task_id -> config of running tasks

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    def _new_config(self) -> Suggestion | None:
        if self._exhausted:
            return None
        config = self.searcher.get_config()
        if config is None:
            self._exhausted = True
            return None
        config_id = self._next_config_id
        self._next_config_id += 1
        return Suggestion(config=dict(config), config_id=config_id)

    def suggest(self, allow_new: bool) -> Suggestion | None:
        return self._new_config() if allow_new else None

    def on_task_start(self, task_id: int, suggestion: Suggestion) -> None:
        self._configs[task_id] = suggestion.config
        self.searcher.register_pending(suggestion.config)

    def on_report(self, task_id: int, result: dict) -> Decision:
        return Decision.CONTINUE

    def on_task_end(self, task_id: int, status: str, last_result: dict | None) -> None:
        config = self._configs.pop(task_id, None)
        if config is None or status == "interrupted":
            return  # interrupted: the runtime starts the config again
        if status in ("failed", "diverged") or last_result is None:
            self.searcher.evaluation_failed(config)
        else:
            result = {k: v for k, v in last_result.items() if k != self.reward_attr}
            self.searcher.update(config, last_result[self.reward_attr], **result)

    def state_dict(self) -> dict:
        return {
            "next_config_id": self._next_config_id,
            "exhausted": self._exhausted,
            "running": [[task_id, config] for task_id, config in self._configs.items()],
            "searcher": self.searcher.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self._next_config_id = int(state["next_config_id"])
        self._exhausted = bool(state["exhausted"])
        self._configs = {int(task_id): dict(config) for task_id, config in state["running"]}
        self.searcher.load_state_dict(state["searcher"])
