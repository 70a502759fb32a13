"""RL policy: configs sampled by an LSTM controller that learns from finished trials.

Zoph & Le (2017), "Neural Architecture Search with Reinforcement Learning",
https://arxiv.org/abs/1611.01578 . The controller (network, REINFORCE, Adam, baseline)
is :class:`scheduler.searchers.rl.controller.RLController`; this module decides when
to sample and when to learn (it queues ``learn(batch, rewards)`` for the controller):

- **sync** (default): configs come in batches of ``batch_size``, run concurrently (as
  far as resources allow); the controller takes one step per batch, once every trial
  of the batch has ended, and only then samples the next batch. The last batch may be
  partial (``num_trials % batch_size`` configs, or whatever was started when the time
  or the budget ran out): it runs and is learned from too.
- **async**: up to ``batch_size`` trials in flight; each finished trial is one
  controller step, and a new config is sampled from the updated controller.

The reward of a trial is its last reported ``reward_attr``, negated for ``mode='min'``.
A failed or diverged trial (or one without a finite reward) gives no gradient: it is
counted in :attr:`RLPolicy.num_failed` and, in sync mode, its batch is learned from the
other trials. A task ended as ``interrupted`` (the driver stopped while it ran) is
neither: its config stays in flight until the runtime starts it again. Every report is
answered ``CONTINUE``. Configs are sampled with
replacement: the controller may propose a config again (it is learning which to
prefer), so the policy is never exhausted.

Pure: no threads, no I/O. The runtime draws configs from the controller (it is the
policy's searcher) while :meth:`RLPolicy.wants_new` says so, and delivers the learning
steps the policy queues (``learn``) on the searcher's thread; ``wants_new`` is False
while the policy waits for trials to end, and the runtime asks again after the next
task end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scheduler._decisions import CONTINUE
from scheduler._validation import is_integer, is_real
from scheduler.schedulers.base import Decision, Policy, Suggestion
from scheduler.searchers.rl.controller import RLController

__all__ = ["RLPolicy"]

STATE_VERSION = 1

# Life of a sampled config.
_SUGGESTED = "suggested"  # returned by suggest, not started yet
_RUNNING = "running"
_INTERRUPTED = "interrupted"  # its task was interrupted; the runtime starts it again
_REWARDED = "rewarded"
_FAILED = "failed"
_IN_FLIGHT = (_SUGGESTED, _RUNNING, _INTERRUPTED)


@dataclass
class _Sample:
    config_id: int
    actions: list[int]
    state: str = _SUGGESTED
    task_id: int | None = None
    reward: float | None = None  # the controller's reward (negated for mode='min')

    def to_json(self) -> list:
        return [self.config_id, list(self.actions), self.state, self.task_id, self.reward]

    @classmethod
    def from_json(cls, data: list) -> _Sample:
        config_id, actions, state, task_id, reward = data
        if state not in (*_IN_FLIGHT, _REWARDED, _FAILED):
            raise ValueError(f"cannot load RL policy state: bad sample state {state!r}")
        return cls(
            int(config_id),
            [int(a) for a in actions],
            state,
            None if task_id is None else int(task_id),
            None if reward is None else float(reward),
        )


class RLPolicy(Policy):
    """Sample configs from an :class:`RLController` and train it on their rewards.

    Parameters
    ----------
    controller : RLController
        Samples configs and learns (owned by the policy; its state is in ours).
    reward_attr : str
        The reported metric whose last value is a trial's reward.
    mode : {'max', 'min'}
        Whether larger or smaller rewards are better.
    batch_size : int
        Sync: configs per controller step. Async: most trials in flight.
    sync : bool
        Synchronous batches (True) or asynchronous steps (False), see the module doc.
    num_trials : int, optional
        The run's trial budget, so that sync mode knows the last (partial) batch is
        complete when the budget is used up. Without it, a partial batch is closed when
        the runtime asks with ``allow_new=False`` (time out, max reward).

    Attributes
    ----------
    num_sampled, num_rewarded, num_failed : int
        Configs suggested; trials that ended with a reward; trials that ended failed,
        diverged or without a finite reward (no gradient).
    """

    require_time = False

    def __init__(
        self,
        controller: RLController,
        *,
        reward_attr: str,
        mode: str = "max",
        batch_size: int = 1,
        sync: bool = True,
        num_trials: int | None = None,
    ):
        if not isinstance(controller, RLController):
            raise ValueError(f"controller must be an RLController, got {controller!r}")
        if not isinstance(reward_attr, str) or not reward_attr:
            raise ValueError(f"reward_attr must be a non-empty string, got {reward_attr!r}")
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        if not is_integer(batch_size):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        if num_trials is not None and (not is_integer(num_trials) or num_trials < 1):
            raise ValueError(f"num_trials must be a positive integer or None, got {num_trials!r}")
        super().__init__()
        self.controller = controller
        self.searcher = controller
        self.reward_attr = reward_attr
        self.mode = mode
        self.batch_size = int(batch_size)
        self.sync = bool(sync)
        self.num_trials = None if num_trials is None else int(num_trials)
        self._clear()

    def _clear(self) -> None:
        self._next_config_id = 0
        self.num_sampled = 0
        self.num_rewarded = 0
        self.num_failed = 0
        self._samples: dict[int, _Sample] = {}  # config_id -> sample, until learned from
        self._tasks: dict[int, int] = {}  # task_id -> config_id of running tasks
        self._batch: list[int] = []  # sync: config ids of the current batch, in order
        self._batch_closed = False

    # -- the Policy interface ----------------------------------------------------

    @property
    def exhausted(self) -> bool:
        return False  # sampling with replacement never runs out

    @property
    def num_updates(self) -> int:
        return self.controller.num_updates

    @property
    def num_in_flight(self) -> int:
        """Configs suggested and not ended yet."""
        return sum(s.state in _IN_FLIGHT for s in self._samples.values())

    def _budget_used(self) -> bool:
        return self.num_trials is not None and self.num_sampled >= self.num_trials

    @property
    def deterministic_replay(self) -> bool:
        # Sync batches draw only after the last batch was learned from (the driver makes
        # the calls in order): the draws are a function of the events. Async steps
        # interleave with draws as trials happen to end.
        return self.sync

    def wants_new(self) -> bool:
        if self._budget_used():
            self.close_new()
            return False
        if self.sync:
            # wait for the batch to end and be learned from
            return not self._batch_closed and len(self._batch) < self.batch_size
        return self.num_in_flight < self.batch_size

    def close_new(self) -> None:
        if self.sync and self._batch:
            self._batch_closed = True
            self._maybe_learn_batch()

    def searcher_exhausted(self) -> None:
        raise RuntimeError("the RL controller samples with replacement: it cannot run out")

    def add_config(self, config: dict) -> Suggestion:
        actions = self.controller.actions_from_config(config)
        sample = _Sample(self._next_config_id, actions)
        self._next_config_id += 1
        self.num_sampled += 1
        self._samples[sample.config_id] = sample
        if self.sync:
            self._batch.append(sample.config_id)
        return Suggestion(config=dict(config), config_id=sample.config_id)

    def enqueue(self, config: dict) -> None:
        """Have ``config`` sampled next (``scheduler.add_job``): the controller proposes
        it before any sample of its own, and learns from it as from the actions nearest
        to it."""
        self.controller.actions_from_config(config)  # a config of the space, or ValueError
        self._tell("enqueue", config)

    def on_task_start(self, task_id: int, suggestion: Suggestion) -> None:
        if suggestion.new_config and not suggestion.restart:
            # Drains a config queued by add_job when a resume is told the journaled
            # configs instead of sampling them again (asynchronous mode).
            self._tell("register_pending", suggestion.config)
        sample = self._samples.get(suggestion.config_id)
        expected = _INTERRUPTED if suggestion.restart else _SUGGESTED
        if sample is None or sample.state != expected:
            return  # not one of ours (or started twice): nothing to learn from
        sample.state = _RUNNING
        sample.task_id = task_id
        self._tasks[task_id] = sample.config_id

    def on_report(self, task_id: int, result: dict) -> Decision:
        return CONTINUE

    def on_task_end(self, task_id: int, status: str, last_result: dict | None) -> None:
        config_id = self._tasks.pop(task_id, None)
        if config_id is None:
            return
        sample = self._samples[config_id]
        if status == "interrupted":
            sample.state = _INTERRUPTED  # the runtime starts the config again
            sample.task_id = None
            return
        reward = self._reward(status, last_result)
        if reward is None:
            sample.state = _FAILED
            self.num_failed += 1
        else:
            sample.state = _REWARDED
            sample.reward = reward
            self.num_rewarded += 1
        if self.sync:
            self._maybe_learn_batch()
        else:
            del self._samples[config_id]
            if reward is not None:
                self._tell("learn", [sample.actions], [reward])

    def _reward(self, status: str, last_result: dict | None) -> float | None:
        if status in ("failed", "diverged") or last_result is None:
            return None
        value = last_result.get(self.reward_attr)
        if not is_real(value) or not math.isfinite(value):
            return None
        return float(value) if self.mode == "max" else -float(value)

    def _maybe_learn_batch(self) -> None:
        """Sync: one controller step once every trial of a complete batch has ended."""
        batch = [self._samples[config_id] for config_id in self._batch]
        if not batch or any(s.state in _IN_FLIGHT for s in batch):
            return
        if len(batch) < self.batch_size and not self._batch_closed and not self._budget_used():
            return
        rewarded = [(s.actions, s.reward) for s in batch if s.state == _REWARDED]
        if rewarded:  # a rewarded sample always has its reward
            self._tell(
                "learn",
                [actions for actions, _ in rewarded],
                [reward for _, reward in rewarded if reward is not None],
            )
        for config_id in self._batch:
            del self._samples[config_id]
        self._batch = []
        self._batch_closed = False

    # -- introspection -------------------------------------------------------------

    def probability(self, config: dict) -> float:
        """The probability that the controller samples ``config`` next."""
        return self.controller.probability(config)

    # -- state ---------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {
            "policy": "RLPolicy",
            "version": STATE_VERSION,
            "sync": self.sync,
            "batch_size": self.batch_size,
            "next_config_id": self._next_config_id,
            "num_sampled": self.num_sampled,
            "num_rewarded": self.num_rewarded,
            "num_failed": self.num_failed,
            "samples": [s.to_json() for s in self._samples.values()],
            "batch": list(self._batch),
            "batch_closed": self._batch_closed,
        }

    def load_state_dict(self, state: dict) -> None:
        expected = (
            ("policy", "RLPolicy"),
            ("version", STATE_VERSION),
            ("sync", self.sync),
            ("batch_size", self.batch_size),
        )
        for field, value in expected:
            if state.get(field) != value:
                raise ValueError(
                    f"cannot load RL policy state: {field} must be {value!r}, "
                    f"got {state.get(field)!r}"
                )
        self._clear()
        self._next_config_id = int(state["next_config_id"])
        self.num_sampled = int(state["num_sampled"])
        self.num_rewarded = int(state["num_rewarded"])
        self.num_failed = int(state["num_failed"])
        for item in state["samples"]:
            sample = _Sample.from_json(item)
            self._samples[sample.config_id] = sample
            if sample.state == _RUNNING and sample.task_id is not None:
                self._tasks[sample.task_id] = sample.config_id
        self._batch = [int(c) for c in state["batch"]]
        if any(c not in self._samples for c in self._batch):
            raise ValueError("cannot load RL policy state: batch lists an unknown config")
        self._batch_closed = bool(state["batch_closed"])
