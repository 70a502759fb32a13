"""The task-side reporter: a thin, thread-safe pipe from ``train_fn`` to the scheduler.

``reporter(**result)`` validates the result (DESIGN §4 "Bad reports"), converts its
values to plain JSON data (:func:`scheduler._jsonable.to_jsonable`: numpy scalars to
numbers, arrays and tuples to lists, any other object to its repr), adds
``time_this_iter`` and ``time_since_start``, sends it over a channel, and waits for the
decision. The conversion happens here, on the task's side, so a report gives the same
row on every backend. It raises :class:`scheduler.TaskStopped` on ``stop`` and
``pause``. It holds no queue, no semaphore and no thread: a dead scheduler side shows
up as an exception from the channel, never as a hang.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from scheduler._exceptions import TaskStopped
from scheduler._jsonable import is_plain_record, to_jsonable
from scheduler._validation import is_integer, is_real

__all__ = ["COMPLETE", "CONTINUE", "PAUSE", "STOP", "Reporter", "validate_result"]

CONTINUE = "continue"
STOP = "stop"
PAUSE = "pause"
COMPLETE = "complete"

# Keys the reporter and the history add themselves; a user result must not carry them.
RESERVED_KEYS = (
    "time_this_iter",
    "time_since_start",
    "task_id",
    "config_id",
    "decision",
    "replay",
    "status",
    "bracket",
)


def validate_result(
    result: dict,
    *,
    reward_attr: str,
    time_attr: str | None,
    require_time: bool,
    last_time: int | None,
) -> int | None:
    """Check one reported result; return its time value (or None when it has none).

    Raises ``ValueError`` naming the key and the value for: a missing ``reward_attr``, a
    missing ``time_attr`` when required, a None or non-numeric reward, a non-integer
    time, a time below 1 where rungs need one (``require_time``: Hyperband) or below 0
    elsewhere (FIFO and RL accept AutoGluon's 0-based ``epoch=i``), a time not larger
    than the previous report's.
    NaN rewards are valid here: the runtime ends such a task as ``diverged``.
    """
    if not result:
        raise ValueError("reporter() needs keyword arguments, got none")
    for key in RESERVED_KEYS:
        if key in result:
            raise ValueError(
                f"reporter() key {key!r} is reserved (added by the scheduler to every "
                f"result); rename it, got {key}={result[key]!r}"
            )
    if reward_attr not in result:
        raise ValueError(
            f"reported result has no reward_attr {reward_attr!r}; got keys {sorted(result)}"
        )
    reward = result[reward_attr]
    if not is_real(reward):
        raise ValueError(
            f"reward_attr {reward_attr!r} must be a real number, got {reward!r} "
            f"of type {type(reward).__name__}"
        )
    if time_attr is None or time_attr not in result:
        if require_time:
            raise ValueError(
                f"reported result has no time_attr {time_attr!r}; got keys {sorted(result)}"
            )
        return None
    t = result[time_attr]
    if not is_integer(t):
        raise ValueError(
            f"time_attr {time_attr!r} must be a positive integer, got {t!r} "
            f"of type {type(t).__name__}"
        )
    t = int(t)
    if t < 1 and require_time:
        raise ValueError(
            f"time_attr {time_attr!r} must be a positive integer (epochs done, counting "
            f"from 1: Hyperband's rung levels), got {t}"
        )
    if t < 0:
        raise ValueError(f"time_attr {time_attr!r} must be an integer >= 0, got {t}")
    if last_time is not None and t <= last_time:
        raise ValueError(
            f"time_attr {time_attr!r} must increase from report to report, "
            f"got {t} after {last_time}"
        )
    return t


class Reporter:
    """Callable handed to ``train_fn(args, reporter)``.

    Parameters
    ----------
    send : callable
        ``send(result: dict) -> str`` delivers a validated result to the scheduler and
        returns its decision (``continue``, ``complete``, ``stop`` or ``pause``).
    reward_attr, time_attr : str
        Names of the reward and time keys.
    require_time : bool
        Whether every report must carry ``time_attr`` (Hyperband) or may omit it (FIFO).
    checkpoint_dir : str
        A per-config folder that survives pauses and promotions, for the train_fn's own
        model checkpoints.
    """

    def __init__(
        self,
        send: Callable[[dict], str],
        *,
        reward_attr: str,
        time_attr: str | None,
        require_time: bool,
        checkpoint_dir: str | None = None,
    ):
        self._send = send
        self.reward_attr = reward_attr
        self.time_attr = time_attr
        self.require_time = require_time
        self._checkpoint_dir = checkpoint_dir
        self._checkpoint_dir_made = False
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._last = self._start
        self._last_time: int | None = None
        self._ended: str | None = None
        self._completed = False
        self.num_reports = 0

    @property
    def checkpoint_dir(self) -> str | None:
        """This config's folder (kept across its pauses and promotions), created on
        first use: a trial that saves nothing costs no folder."""
        path = self._checkpoint_dir
        if path is not None and not self._checkpoint_dir_made:
            os.makedirs(path, exist_ok=True)
            self._checkpoint_dir_made = True
        return path

    def __call__(self, **result):
        with self._lock:
            if self._ended is not None:
                raise TaskStopped(self._ended, f"task already ended ({self._ended})")
            if self._completed:
                # DESIGN §4: the report after the one at max_t stops the task.
                self._ended = STOP
                raise TaskStopped(STOP, "task already reached max_t; no further reports")
            t = validate_result(
                result,
                reward_attr=self.reward_attr,
                time_attr=self.time_attr,
                require_time=self.require_time,
                last_time=self._last_time,
            )
            now = time.monotonic()
            # ``result`` is this call's own keyword dict: used as it is when it holds
            # plain values only (the usual report), converted otherwise
            payload: dict[Any, Any] = result if is_plain_record(result) else to_jsonable(result)
            payload[self.reward_attr] = float(payload[self.reward_attr])
            if t is not None:
                payload[self.time_attr] = t
                self._last_time = t
            payload["time_this_iter"] = now - self._last
            payload["time_since_start"] = now - self._start
            self._last = now
            self.num_reports += 1
            decision = self._send(payload)
            if decision == CONTINUE:
                return None
            if decision == COMPLETE:
                self._completed = True
                return None
            if decision in (STOP, PAUSE):
                self._ended = decision
                raise TaskStopped(decision)
            raise RuntimeError(f"scheduler sent an unknown decision {decision!r}")
