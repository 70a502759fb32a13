"""The policy of submitted jobs (:class:`scheduler.Evaluator`): start what was submitted,
in submission order, each to its end.

Its "searcher" is :class:`SubmittedQueue`, a FIFO queue the evaluator appends configs
to under the runtime's lock; the runtime draws them as slots free up, exactly as it
draws a random searcher's configs. An empty queue is not a used-up space: the policy
then just wants no new config, and the run stays open until the evaluator closes it
(``Runner.shutdown``). Every report is answered ``continue``.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

from scheduler._decisions import CONTINUE
from scheduler.schedulers.base import Decision, SearcherPolicy, Suggestion

__all__ = ["SubmittedPolicy", "SubmittedQueue"]


class SubmittedQueue:
    """The configs submitted and not started yet, oldest first (a cheap searcher: the
    runtime calls it inline, under its lock)."""

    inline_calls = True
    #: what it returns depends only on what was put in, in order
    deterministic_replay = True

    def __init__(self) -> None:
        self._queue: collections.deque[dict] = collections.deque()

    def put(self, configs: Iterable[dict]) -> None:
        """Append ``configs`` (dicts) in order."""
        self._queue.extend(configs)

    def get_config(self) -> dict | None:
        """The oldest queued config, removed from the queue; None when it is empty."""
        return self._queue.popleft() if self._queue else None

    def take_all(self) -> list[dict]:
        """Remove and return every queued config (the evaluator is closing)."""
        configs = list(self._queue)
        self._queue.clear()
        return configs

    def __len__(self) -> int:
        return len(self._queue)

    def state_dict(self) -> dict:
        return {"queued": list(self._queue)}

    def load_state_dict(self, state: dict) -> None:
        self._queue = collections.deque(dict(c) for c in state["queued"])


class SubmittedPolicy(SearcherPolicy):
    """Runs each submitted config once, to its end, in submission order.

    Config ids count from 0 in submission order. Nothing is learned from results, so
    the policy queues no searcher feedback.
    """

    def __init__(self) -> None:
        super().__init__(SubmittedQueue())

    @property
    def queue(self) -> SubmittedQueue:
        return self.searcher

    def wants_new(self) -> bool:
        return len(self.searcher) > 0

    @property
    def exhausted(self) -> bool:
        # more may be submitted at any time: the evaluator ends the run itself
        return False

    def searcher_exhausted(self) -> None:
        """An empty queue is not a used-up space (see :attr:`exhausted`); the runtime
        only draws while :meth:`wants_new` is True, so this is not reached in a run."""
        return None

    def add_config(self, config: dict) -> Suggestion:
        return Suggestion(config=config, config_id=self._number())

    def on_task_start(self, task_id: int, suggestion: Suggestion) -> None:
        return None

    def on_report(self, task_id: int, result: dict) -> Decision:
        return CONTINUE

    def on_task_end(self, task_id: int, status: str, last_result: dict | None) -> None:
        return None

    def state_dict(self) -> dict:
        return self._searcher_state()

    def load_state_dict(self, state: dict) -> None:
        self._load_searcher_state(state)
