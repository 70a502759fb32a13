"""Configs a searcher proposes before its own: what ``scheduler.add_job`` asks for.

:class:`ConfigQueue` keeps them in order. A queued config leaves the queue when the
searcher proposes it (``get_config``), or, when a resumed run is told the journaled
configs instead of asking for them again, when it is registered as started
(``register_pending``); counting the proposals that are not started yet keeps a config
queued twice from leaving twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ConfigQueue"]


class ConfigQueue:
    """FIFO of configs; ``key`` turns a config into its identity (a string)."""

    def __init__(self, key: Callable[[Mapping[str, Any]], str]):
        self._key = key
        #: the queued configs, in order (read them; change them through the methods)
        self.items: list[dict[str, Any]] = []
        #: key -> proposals from the queue not started yet
        self.proposed: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.items)

    def push(self, config: Mapping[str, Any]) -> None:
        if not isinstance(config, Mapping):
            raise ValueError(f"config must be a dict of hyperparameter values, got {config!r}")
        self.items.append(dict(config))

    def pop(self) -> dict[str, Any]:
        config = self.items.pop(0)
        key = self._key(config)
        self.proposed[key] = self.proposed.get(key, 0) + 1
        return config

    def started(self, config: Mapping[str, Any]) -> None:
        """``config`` started: the proposal it came from is done, or (not proposed from
        here) the first queued copy of it leaves the queue."""
        if not self.proposed and not self.items:
            return  # nothing queued: the common case, without computing a key
        key = self._key(config)
        if self.proposed.get(key):
            self.proposed[key] -= 1
            return
        for i, queued in enumerate(self.items):
            if self._key(queued) == key:
                del self.items[i]
                return

    def clear(self) -> None:
        self.items.clear()
        self.proposed.clear()

    def to_list(self) -> list[dict[str, Any]]:
        return [dict(config) for config in self.items]

    def load(self, configs: list[Mapping[str, Any]]) -> None:
        self.clear()
        for config in configs:
            self.push(config)
