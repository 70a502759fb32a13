"""What every scheduling policy answers, and the small values it answers with.

A policy is pure: it owns no threads and does no I/O. The runtime asks it what to start
next (:meth:`Policy.suggest`), tells it about starts, reports and ends, and acts on the
:class:`Decision` it returns. Policies are testable with no trials at all.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass

__all__ = ["Decision", "Policy", "Suggestion"]


class Decision(str, enum.Enum):
    """What happens to a task after one of its reports."""

    CONTINUE = "continue"
    #: the task reached max_t: the reporter returns, the next report stops it
    COMPLETE = "complete"
    STOP = "stop"
    #: promotion-type Hyperband: the task ends, its config may be promoted later
    PAUSE = "pause"


@dataclass(frozen=True)
class Suggestion:
    """A task to start: a new config, or a promotion (resumption) of a paused one."""

    config: dict
    config_id: int
    new_config: bool = True
    bracket: int | None = None
    resume_from: int | None = None
    #: the runtime restarts a task that was running when the driver died (resume)
    restart: bool = False

    def __post_init__(self):
        if not isinstance(self.config, dict):
            raise TypeError(f"Suggestion.config must be a dict, got {type(self.config).__name__}")
        if self.config_id < 0:
            raise ValueError(f"Suggestion.config_id must be >= 0, got {self.config_id}")
        if self.new_config and (self.resume_from is not None or self.restart):
            raise ValueError("a new config cannot have resume_from or restart set")
        if not self.new_config and self.resume_from is None and not self.restart:
            raise ValueError("a promotion needs resume_from")


class Policy(abc.ABC):
    """Interface between the runtime and a scheduling policy."""

    #: whether every report must carry time_attr
    require_time: bool = False

    @abc.abstractmethod
    def suggest(self, allow_new: bool) -> Suggestion | None:
        """The next task to start, or None. ``allow_new=False`` (trial budget or time
        used up) still allows promotions of paused configs."""

    @property
    @abc.abstractmethod
    def exhausted(self) -> bool:
        """True once the searcher can propose no new config (finite space used up)."""

    @abc.abstractmethod
    def on_task_start(self, task_id: int, suggestion: Suggestion) -> None:
        """A task for ``suggestion`` was started with id ``task_id``."""

    @abc.abstractmethod
    def on_report(self, task_id: int, result: dict) -> Decision:
        """Decide on one validated report of a running task."""

    @abc.abstractmethod
    def on_task_end(self, task_id: int, status: str, last_result: dict | None) -> None:
        """The task ended with ``status`` (completed, stopped, paused, failed, diverged)."""

    @abc.abstractmethod
    def state_dict(self) -> dict:
        """Plain JSON-able state."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output."""


class SearcherPolicy(Policy):
    """A policy whose new configs come from a searcher, numbered 0, 1, 2, ..."""

    def __init__(self, searcher):
        self.searcher = searcher
        self._next_config_id = 0
        self._exhausted = False

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    def _draw_config(self) -> tuple[int, dict] | None:
        """``(config_id, config)`` of the searcher's next config, or None once it has
        none left (then :attr:`exhausted` is True)."""
        if self._exhausted:
            return None
        config = self.searcher.get_config()
        if config is None:
            self._exhausted = True
            return None
        config_id = self._next_config_id
        self._next_config_id += 1
        return config_id, dict(config)

    def _searcher_state(self) -> dict:
        return {
            "next_config_id": self._next_config_id,
            "exhausted": self._exhausted,
            "searcher": self.searcher.state_dict(),
        }

    def _load_searcher_state(self, state: dict) -> None:
        self._next_config_id = int(state["next_config_id"])
        self._exhausted = bool(state["exhausted"])
        self.searcher.load_state_dict(state["searcher"])
