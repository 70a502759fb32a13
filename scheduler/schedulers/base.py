"""What every scheduling policy answers, and the small values it answers with.

A policy is pure: it owns no threads and does no I/O. The runtime asks it what to start
next, tells it about starts, reports and ends, and acts on the :class:`Decision` it
returns. Policies are testable with no trials at all.

**Searchers are driven by the runtime, not by the policy.** A policy that takes its new
configs from a searcher never calls the searcher itself: the runtime draws configs
(:meth:`Policy.add_config` registers one it drew) and the policy writes what the searcher
must learn (``update``, ``register_pending``, ``evaluation_failed``, ...) to
:attr:`Policy.feedback`, a list of ``(method, args, kwargs)`` calls that the runtime
delivers to the searcher in order. Cheap searchers (random, grid) get those calls at
once, under the runtime's lock; model-based ones on a thread of their own, so that a
model fit never delays a decision. Tests apply the feedback by hand
(:func:`apply_feedback`).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from scheduler._decisions import Decision

__all__ = [
    "Decision",
    "Policy",
    "SearcherCall",
    "SearcherPolicy",
    "Suggestion",
    "apply_feedback",
    "drive_suggest",
    "flush_feedback",
]

#: one call the runtime makes on the searcher for the policy: (method, args, kwargs)
SearcherCall = tuple[str, tuple, dict]


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

    @classmethod
    def fresh(cls, config: dict, config_id: int, bracket: int | None = None) -> Suggestion:
        """A new config's suggestion, for policies that numbered it themselves (a dict
        and an id >= 0 by construction): what ``Suggestion(config=config,
        config_id=config_id, bracket=bracket)`` builds, without the frozen dataclass's
        per-field ``object.__setattr__`` and the checks (a few microseconds per trial)."""
        suggestion = object.__new__(cls)
        fields = suggestion.__dict__  # stored one by one: no keyword dict to build
        fields["config"] = config
        fields["config_id"] = config_id
        fields["new_config"] = True
        fields["bracket"] = bracket
        fields["resume_from"] = None
        fields["restart"] = False
        return suggestion

    def to_record(self) -> dict:
        """Plain JSON data (the journal's ``start`` event); ``Suggestion(**record)``
        rebuilds it."""
        return {
            "config_id": self.config_id,
            "config": self.config,
            "new_config": self.new_config,
            "bracket": self.bracket,
            "resume_from": self.resume_from,
            "restart": self.restart,
        }


def apply_feedback(searcher: Any, calls: list[SearcherCall]) -> None:
    """Make the searcher calls a policy queued, in order (what the runtime does)."""
    for method, args, kwargs in calls:
        getattr(searcher, method)(*args, **kwargs)


class Policy(abc.ABC):
    """Interface between the runtime and a scheduling policy."""

    #: whether every report must carry time_attr
    require_time: bool = False
    #: the searcher whose configs this policy starts (drawn by the runtime), or None
    searcher: Any = None

    def __init__(self) -> None:
        #: searcher calls queued for the runtime to deliver, in order
        self.feedback: list[SearcherCall] = []

    def _tell(self, method: str, *args: Any, **kwargs: Any) -> None:
        """Queue ``searcher.<method>(*args, **kwargs)``."""
        self.feedback.append((method, args, kwargs))

    # -- what to start next ------------------------------------------------------
    def promote(self) -> Suggestion | None:
        """A config already started to start again (a Hyperband promotion), or None.
        Asked before any new config; the default policy has none."""
        return None

    @property
    def deterministic_replay(self) -> bool:
        """Whether the configs this policy starts are a pure function of the events
        (so a resumed run can draw them again and check them against the journal)."""
        return self.searcher is None or getattr(self.searcher, "deterministic_replay", True)

    def wants_new(self) -> bool:
        """Whether a new config may start now (the run's budget aside): False while
        the policy waits (an RL batch in flight) or once it is exhausted."""
        return not self.exhausted

    @abc.abstractmethod
    def add_config(self, config: dict) -> Suggestion:
        """Number and register a new config the runtime drew from :attr:`searcher`;
        returns the task to start for it."""

    def close_new(self) -> None:
        """No new config will be started any more (trial budget or time used up)."""
        return None

    @property
    @abc.abstractmethod
    def exhausted(self) -> bool:
        """True once the searcher can propose no new config (finite space used up)."""

    @abc.abstractmethod
    def searcher_exhausted(self) -> None:
        """The searcher returned no config: the space is used up."""

    # -- events ------------------------------------------------------------------
    @abc.abstractmethod
    def on_task_start(self, task_id: int, suggestion: Suggestion) -> None:
        """A task for ``suggestion`` was started with id ``task_id``."""

    @abc.abstractmethod
    def on_report(self, task_id: int, result: dict) -> Decision:
        """Decide on one validated report of a running task."""

    @abc.abstractmethod
    def on_task_end(self, task_id: int, status: str, last_result: dict | None) -> None:
        """The task ended with ``status`` (completed, stopped, paused, failed, diverged,
        interrupted)."""

    # -- state -------------------------------------------------------------------
    @abc.abstractmethod
    def state_dict(self) -> dict:
        """Plain JSON-able state, the searcher's excluded (the runtime saves it)."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output."""

    def capture(self):
        """A zero-argument function that returns :meth:`state_dict` as of now, later:
        cheap to take under the runtime's lock (copies, not conversions), called on
        another thread. The default converts at once."""
        state = self.state_dict()
        return lambda: state


class SearcherPolicy(Policy):
    """A policy whose new configs come from a searcher, numbered 0, 1, 2, ..."""

    def __init__(self, searcher):
        super().__init__()
        self.searcher = searcher
        self._next_config_id = 0
        self._exhausted = False

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    def wants_new(self) -> bool:
        return not self._exhausted  # (the property, read without its call)

    def searcher_exhausted(self) -> None:
        self._exhausted = True

    def _number(self) -> int:
        config_id = self._next_config_id
        self._next_config_id += 1
        return config_id

    def enqueue(self, config: dict) -> None:
        """Have ``config`` proposed as the next new config (``scheduler.add_job``), even
        by a searcher that has run out of configs of its own."""
        self._tell("enqueue", config)
        self._exhausted = False

    def _searcher_state(self) -> dict:
        return {"next_config_id": self._next_config_id, "exhausted": self._exhausted}

    def _load_searcher_state(self, state: dict) -> None:
        self._next_config_id = int(state["next_config_id"])
        self._exhausted = bool(state["exhausted"])


def drive_suggest(policy: Policy, allow_new: bool = True) -> Suggestion | None:
    """What the runtime does to get the next task from ``policy``, synchronously: a
    promotion, else (when ``allow_new`` and the policy wants one) a config drawn from
    its searcher; the searcher calls the policy queued are applied first. For tests,
    benchmarks and single-threaded drivers (the simulated backend)."""
    flush_feedback(policy)
    suggestion = policy.promote()
    if suggestion is None:
        if not allow_new:
            policy.close_new()
        elif policy.wants_new():
            config = policy.searcher.get_config()
            if config is None:
                policy.searcher_exhausted()
            else:
                suggestion = policy.add_config(config)
    flush_feedback(policy)
    return suggestion


def flush_feedback(policy: Policy) -> None:
    """Apply the searcher calls ``policy`` queued (see :func:`drive_suggest`)."""
    if policy.feedback:
        calls, policy.feedback = policy.feedback, []
        searcher = policy.searcher
        if searcher is not None:
            for method, args, kwargs in calls:  # apply_feedback(searcher, calls), inlined
                getattr(searcher, method)(*args, **kwargs)
