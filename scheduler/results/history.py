"""Training history and the best config (DESIGN §7).

:class:`History` records what the runtime tells it: a task started (for a config), a
task reported (with the scheduler's decision), a task ended (with its status). From
that it keeps

* ``training_history``: task id -> the stored report rows, in order;
* ``config_history``: task id -> the task's config;
* ``tasks``: task id -> :class:`TaskRecord`; ``configs``: config id -> :class:`ConfigRecord`;
* the best config, updated as reports arrive.

**The best config.** Each config is judged by the reward it reported at the highest
fidelity it reached: the largest ``time_attr`` over its counted reports, and the reward of
the last counted report at that time (a config that looked great at a low rung and worse
after its promotion is judged by the later, worse value). Without a ``time_attr`` value in
a row, the fidelity is the config's count of counted reports. Configs are then compared
by ``mode`` (``'max'`` or ``'min'``); a tie goes to the config that reached its value
first. A non-finite reward (NaN, +-inf) at a config's highest fidelity (a diverged task)
never wins: that config drops out until it reports a valid reward at a fidelity at
least as high.

Counted reports are those with ``replay=False`` and a real-number reward. Replay rows --
reports a restarted promoted task makes again at times ``<= resume_from`` -- are kept for
the record and for the plots but never counted.

Each ``add_report`` updates the best in O(log n) (n = number of reports), with a heap of
(value, order) entries invalidated lazily: it never rescans the history or rebuilds the
heap, so no single report pays for the others.

The class does no locking: the runtime calls it under its own lock.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scheduler._decisions import DECISIONS, END_STATUSES, TASK_STATUSES
from scheduler._jsonable import to_jsonable
from scheduler._validation import is_real
from scheduler.results.export import flatten_config

__all__ = ["DECISIONS", "TASK_STATUSES", "ConfigRecord", "History", "TaskRecord"]

MODES = ("max", "min")
STATE_FORMAT = 1

# Keys History adds to every stored row (they overwrite user keys of the same name).
ROW_KEYS = ("task_id", "config_id", "decision", "replay")


@dataclass
class TaskRecord:
    """One task: one run of ``train_fn`` for one config (DESIGN §5)."""

    task_id: int
    config_id: int
    config: dict
    bracket: int | None = None
    resume_from: int | None = None
    status: str = "running"
    reason: str | None = None
    traceback: str | None = None
    start_time: float | None = None
    end_time: float | None = None

    @property
    def finished(self) -> bool:
        return self.status != "running"


@dataclass
class ConfigRecord:
    """One config, its tasks in start order, and its value at its highest fidelity.

    ``fidelity`` is None until a counted report; ``reward`` is that report's reward (NaN
    for a diverged one); ``reward_task_id`` and ``reward_index`` locate the row in
    ``History.training_history``.
    """

    config_id: int
    config: dict
    task_ids: list[int] = field(default_factory=list)
    num_reports: int = 0
    fidelity: float | None = None
    reward: float | None = None
    reward_task_id: int | None = None
    reward_index: int | None = None
    # Order of the report that set ``reward`` (ties go to the smaller), and the version
    # that invalidates older heap entries.
    _order: int = field(default=-1, repr=False, compare=False)
    _version: int = field(default=0, repr=False, compare=False)
    #: its value's row satisfies the constraint (always, without constraint_attr)
    feasible: bool = field(default=True, compare=False)


def _require(condition: bool, message: str) -> None:
    """An invariant check of :meth:`History._check` (an explicit raise, kept under -O)."""
    if not condition:
        raise AssertionError(message)


def _identity(value: Any) -> Any:
    return value


def _task_state(t: TaskRecord, conv: Callable[[Any], Any] = _identity) -> dict:
    return {
        "task_id": t.task_id,
        "config_id": t.config_id,
        "config": conv(t.config),
        "bracket": t.bracket,
        "resume_from": t.resume_from,
        "status": t.status,
        "reason": t.reason,
        "traceback": t.traceback,
        "start_time": t.start_time,
        "end_time": t.end_time,
    }


def _real(value: Any) -> float | None:
    """``value`` as a float if it is a real number (not a bool), else None."""
    if is_real(value):
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            return None
    return None


class History:
    """Training history of one run, and its best config.

    Parameters
    ----------
    reward_attr:
        The reported key that holds the reward.
    time_attr:
        The reported key that holds the fidelity (epochs done, say), or None.
    mode:
        ``'max'`` (default) or ``'min'``: whether larger or smaller rewards are better.
    """

    def __init__(
        self,
        reward_attr: str,
        time_attr: str | None,
        mode: str = "max",
        constraint_attr: str | None = None,
    ) -> None:
        if not isinstance(reward_attr, str) or not reward_attr:
            raise ValueError(f"reward_attr must be a non-empty string, got {reward_attr!r}")
        if time_attr is not None and (not isinstance(time_attr, str) or not time_attr):
            raise ValueError(f"time_attr must be a non-empty string or None, got {time_attr!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.reward_attr = reward_attr
        self.time_attr = time_attr
        self.mode = mode
        #: with constrained search: a config counts for the best only where the row's
        #: ``constraint_attr`` value is a number <= 0 (feasible)
        self.constraint_attr = constraint_attr
        self._reset()

    def _reset(self) -> None:
        self.training_history: dict[int, list[dict]] = {}
        self.config_history: dict[int, dict] = {}
        self.tasks: dict[int, TaskRecord] = {}
        self.configs: dict[int, ConfigRecord] = {}
        self._rows: list[dict] = []  # every stored row, in report order
        self._last_row_position: dict[int, int] = {}  # running task -> its last row in _rows
        self._counts = dict.fromkeys(TASK_STATUSES, 0)
        self._order = 0
        self._heap: list[tuple[float, int, int, int]] = []

    # ------------------------------------------------------------------ events

    def start_task(
        self,
        task_id: int,
        config_id: int,
        config: Mapping[str, Any],
        *,
        bracket: int | None = None,
        resume_from: int | None = None,
        start_time: float,
    ) -> None:
        """Record that ``task_id`` started for ``config_id``.

        A config id seen before (a promotion, a resumed pause) adds the task to that
        config; its config stays the one first recorded. Raises ``ValueError`` for a task
        id already recorded.
        """
        if task_id in self.tasks:
            raise ValueError(f"task {task_id} was already started")
        config = dict(config)
        self.tasks[task_id] = TaskRecord(
            task_id=task_id,
            config_id=config_id,
            config=config,
            bracket=bracket,
            resume_from=resume_from,
            start_time=start_time,
        )
        self.training_history[task_id] = []
        self.config_history[task_id] = config
        record = self.configs.get(config_id)
        if record is None:
            record = self.configs[config_id] = ConfigRecord(config_id=config_id, config=config)
        record.task_ids.append(task_id)
        self._counts["running"] += 1

    def add_report(
        self, task_id: int, result: Mapping[str, Any], *, decision: str, replay: bool = False
    ) -> dict:
        """Store a copy of ``result`` for ``task_id`` and return the stored row.

        The row gets ``task_id``, ``config_id``, ``decision`` and ``replay``. A report of a
        task with a ``resume_from`` at a time ``<= resume_from`` is a replay even if
        ``replay`` is False. Raises ``ValueError`` for an unknown or ended task or an
        unknown decision.
        """
        task = self.tasks.get(task_id)
        if task is None:
            raise ValueError(f"task {task_id} reported but was never started")
        if task.status != "running":
            raise ValueError(f"task {task_id} reported after it ended ({task.status})")
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, got {decision!r}")
        row = dict(result)
        t = _real(row.get(self.time_attr)) if self.time_attr is not None else None
        if not replay and task.resume_from is not None and t is not None:
            replay = t <= task.resume_from
        row["task_id"] = task_id
        row["config_id"] = task.config_id
        row["decision"] = decision
        row["replay"] = bool(replay)
        rows = self.training_history[task_id]
        rows.append(row)
        self._last_row_position[task_id] = len(self._rows)
        self._rows.append(row)
        if not replay:
            self._count(task, len(rows) - 1, row, t)
        return row

    def _count(self, task: TaskRecord, index: int, row: dict, t: float | None) -> None:
        """Update the config's value at its highest fidelity with a non-replay row."""
        reward = _real(row.get(self.reward_attr))
        if reward is None:
            return
        record = self.configs[task.config_id]
        record.num_reports += 1
        fidelity = t if t is not None else float(record.num_reports)
        if record.fidelity is not None and fidelity < record.fidelity:
            return
        self._order += 1
        record.fidelity = fidelity
        record.reward = reward
        record.reward_task_id = task.task_id
        record.reward_index = index
        record._order = self._order
        record._version += 1
        record.feasible = self._feasible(row)
        if math.isfinite(reward) and record.feasible:
            self._push(record, reward)

    def _feasible(self, row: dict) -> bool:
        if self.constraint_attr is None:
            return True
        value = _real(row.get(self.constraint_attr))
        return value is not None and value <= 0

    def _push(self, record: ConfigRecord, reward: float) -> None:
        # Lazy deletion: superseded entries stay until they reach the top of the heap
        # and are popped by a query. The heap holds at most one entry per counted
        # report (like the rows themselves) and is never rebuilt, so no report pays
        # an O(number of configs) pause while the runtime waits on it.
        key = -reward if self.mode == "max" else reward
        heapq.heappush(self._heap, (key, record._order, record.config_id, record._version))

    def end_task(
        self,
        task_id: int,
        status: str,
        *,
        reason: str | None = None,
        traceback: str | None = None,
        end_time: float,
    ) -> None:
        """Record that ``task_id`` ended with ``status`` (one of ``TASK_STATUSES`` but
        ``'running'``). Its last stored row, if any, gets a ``status`` key. Raises
        ``ValueError`` for an unknown task, a task already ended, or a bad status."""
        if status not in END_STATUSES:
            raise ValueError(f"status must be one of {END_STATUSES}, got {status!r}")
        task = self.tasks.get(task_id)
        if task is None:
            raise ValueError(f"task {task_id} ended but was never started")
        if task.status != "running":
            raise ValueError(f"task {task_id} already ended ({task.status})")
        # A new record, not a mutation: a snapshot captured earlier holds the old one.
        task = self.tasks[task_id] = dataclasses.replace(
            task, status=status, reason=reason, traceback=traceback, end_time=end_time
        )
        self._counts["running"] -= 1
        self._counts[status] += 1
        rows = self.training_history[task_id]
        if rows:
            # A new dict, not a mutation: a snapshot being serialized in another
            # thread may hold the old one.
            last = {**rows[-1], "status": status}
            rows[-1] = last
            self._rows[self._last_row_position.pop(task_id)] = last

    # ------------------------------------------------------------------ queries

    @property
    def num_finished_tasks(self) -> int:
        """Number of tasks that ended, whatever their status."""
        return len(self.tasks) - self._counts["running"]

    @property
    def num_reports(self) -> int:
        return len(self._rows)

    def status_counts(self) -> dict[str, int]:
        """Number of tasks per status, every status of ``TASK_STATUSES`` present."""
        return dict(self._counts)

    def _best_record(self) -> ConfigRecord | None:
        heap = self._heap
        while heap:
            _, _, config_id, version = heap[0]
            record = self.configs[config_id]
            if record._version == version:
                return record
            heapq.heappop(heap)
        return None

    def best_config_id(self) -> int | None:
        """Id of the best config, or None before any counted valid report."""
        record = self._best_record()
        return None if record is None else record.config_id

    def best_task_id(self) -> int | None:
        """Id of the task that reported the best config's value at its highest fidelity."""
        record = self._best_record()
        return None if record is None else record.reward_task_id

    def best_config(self) -> dict | None:
        """A copy of the best config, or None."""
        record = self._best_record()
        return None if record is None else dict(record.config)

    def best_reward(self) -> float | None:
        """The best config's reward at its highest fidelity, or None."""
        record = self._best_record()
        return None if record is None else record.reward

    def best_row(self) -> dict | None:
        """The stored row that holds the best reward, or None."""
        record = self._best_record()
        if record is None:
            return None
        task_id, index = record.reward_task_id, record.reward_index
        if task_id is None or index is None:
            raise AssertionError(f"config {record.config_id} is ranked without a reward row")
        return self.training_history[task_id][index]

    def config_ranking(self) -> list[int]:
        """Config ids, best first by value at highest fidelity (ties: reached earlier);
        configs without a valid value last, in start order. O(n log n)."""
        sign = -1.0 if self.mode == "max" else 1.0
        # (_order is unique among rewarded configs: the config id never breaks a tie)
        valid = [
            (sign * r.reward, r._order, r.config_id)
            for r in self.configs.values()
            if r.reward is not None and math.isfinite(r.reward) and r.feasible
        ]
        valid.sort()
        ranked = [config_id for _, _, config_id in valid]
        seen = set(ranked)
        return ranked + [cid for cid in self.configs if cid not in seen]

    def rows(self, *, with_config: bool = False) -> list[dict]:
        """Every stored row in report order (the same dicts; copies ``with_config``, which
        adds the config as ``config.<name>`` keys, as in ``results.csv``)."""
        if not with_config:
            return list(self._rows)
        return [flatten_config(row, self.config_history[row["task_id"]]) for row in self._rows]

    # ------------------------------------------------------------------ state

    def state_dict(self, *, convert: bool = True) -> dict:
        """The whole history as plain JSON data (lists, str keys; no tuples).

        Values JSON cannot hold are converted (numpy scalars to Python, arrays to lists,
        else ``repr``). NaN rewards stay float NaN, which :mod:`json` writes as ``NaN``.
        ``convert=False`` skips that conversion and returns the stored row dicts
        themselves, which are never mutated afterwards: cheap enough to take under the
        runtime's lock and serialize outside it (``json.dumps(..., default=to_jsonable)``).
        """
        conv = to_jsonable if convert else _identity
        return {
            "format": STATE_FORMAT,
            "reward_attr": self.reward_attr,
            "time_attr": self.time_attr,
            "mode": self.mode,
            **({"constraint_attr": self.constraint_attr} if self.constraint_attr else {}),
            "tasks": [_task_state(t, conv) for t in self.tasks.values()],
            "reports": [conv(row) for row in self._rows] if convert else list(self._rows),
        }

    def capture(self):
        """A zero-argument function that returns ``state_dict(convert=False)`` as of
        now, later: only the lists of records and rows are copied here (task records
        and rows are replaced, never mutated, once stored), so the runtime's lock is
        held for two pointer copies."""
        head = {
            "format": STATE_FORMAT,
            "reward_attr": self.reward_attr,
            "time_attr": self.time_attr,
            "mode": self.mode,
            **({"constraint_attr": self.constraint_attr} if self.constraint_attr else {}),
        }
        tasks, rows = list(self.tasks.values()), list(self._rows)

        def build() -> dict:
            return {**head, "tasks": [_task_state(t) for t in tasks], "reports": rows}

        return build

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replace this history by the one in ``state`` (from :meth:`state_dict`, possibly
        through ``json.dumps``/``json.loads``). The best config is recomputed from the
        rows in their order, so it equals the saved one."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(
                f"history state format must be {STATE_FORMAT}, got {state.get('format')!r}"
            )
        for name in ("reward_attr", "time_attr", "mode"):
            if state.get(name) != getattr(self, name):
                raise ValueError(
                    f"history state has {name}={state.get(name)!r}, "
                    f"but this history has {name}={getattr(self, name)!r}"
                )
        self._reset()
        for t in state["tasks"]:
            task_id = int(t["task_id"])
            self.start_task(
                task_id,
                int(t["config_id"]),
                t["config"],
                bracket=t.get("bracket"),
                resume_from=t.get("resume_from"),
                start_time=t.get("start_time"),
            )
            task = self.tasks[task_id]
            task.status = t.get("status", "running")
            task.reason = t.get("reason")
            task.traceback = t.get("traceback")
            task.end_time = t.get("end_time")
            if task.status not in TASK_STATUSES:
                raise ValueError(f"task {task_id} has an unknown status {task.status!r}")
            self._counts["running"] -= 1
            self._counts[task.status] += 1
        for saved in state["reports"]:
            row = dict(saved)
            reported_id = row.get("task_id")
            owner = None if reported_id is None else self.tasks.get(reported_id)
            if owner is None:
                raise ValueError(f"history state has a report of unknown task {reported_id!r}")
            rows = self.training_history[owner.task_id]
            rows.append(row)
            if owner.status == "running":
                self._last_row_position[owner.task_id] = len(self._rows)
            self._rows.append(row)
            if not row.get("replay", False):
                t = _real(row.get(self.time_attr)) if self.time_attr is not None else None
                self._count(owner, len(rows) - 1, row, t)

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> History:
        history = cls(
            state["reward_attr"],
            state["time_attr"],
            state["mode"],
            constraint_attr=state.get("constraint_attr"),
        )
        history.load_state_dict(state)
        return history

    def _check(self) -> None:
        """Assert the invariants (for tests): counts, indexes and the best config."""
        _require(sum(self._counts.values()) == len(self.tasks), "status counts != tasks")
        for status, n in self._counts.items():
            actual = sum(t.status == status for t in self.tasks.values())
            _require(n == actual, f"count of {status!r} is {n}, tasks say {actual}")
        _require(
            len(self._rows) == sum(len(rows) for rows in self.training_history.values()),
            "report rows != rows per task",
        )
        _require(
            set(self.training_history) == set(self.tasks) == set(self.config_history),
            "training_history, tasks and config_history have different task ids",
        )
        for record in self.configs.values():
            for task_id in record.task_ids:
                _require(
                    self.tasks[task_id].config_id == record.config_id,
                    f"task {task_id} is listed under config {record.config_id}",
                )
        ranking = self.config_ranking()
        best = self.best_config_id()
        if best is None:
            _require(
                all(
                    r.reward is None or not math.isfinite(r.reward) or not r.feasible
                    for r in self.configs.values()
                ),
                "no best config although a config has a valid reward",
            )
        else:
            _require(ranking[0] == best, f"ranking starts at {ranking[0]}, best is {best}")

    def __repr__(self) -> str:
        return (
            f"History(reward_attr={self.reward_attr!r}, time_attr={self.time_attr!r}, "
            f"mode={self.mode!r}, tasks={len(self.tasks)}, reports={len(self._rows)})"
        )
