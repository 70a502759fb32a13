"""Failures you can see: one warning per failed task, a summary, and ``fail_fast``.

:class:`FailureLog` is told of every task end under the runtime's lock (cheap: counters
and a list of lines); the runtime's loop thread emits the lines outside the lock.

* Each failed task gives one WARNING line with its task id, config id and reason (the
  first line of the error and, when there is a traceback, the user's file and line).
  Repeats of a reason are counted, not repeated: the line is logged the first time,
  then at 10, 100, 1000, ... occurrences with the count.
* At the end of a run with failures: "N of M tasks failed; most common reason: ... (K
  times)".
* ``fail_fast="auto"`` (default): if the first ``max(2, 2 x workers)`` tasks to end all
  failed with the same reason, the run stops and ``join_jobs()`` raises
  :class:`scheduler.TrialsFailedError` with that reason and the first traceback (a
  misspelled ``reward_attr`` fails every trial: better to say so after 4 than after
  400). ``fail_fast=True`` stops at the very first failure; ``False`` never stops.
"""

from __future__ import annotations

import collections
import logging
import re

from scheduler._exceptions import TrialsFailedError

__all__ = ["FailureLog", "where_in_user_code"]

log = logging.getLogger("scheduler")

_FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+), in (.+)$')
_OWN_CODE = (
    "/scheduler/runtime/",
    "/scheduler/_decorator.py",
    "/scheduler/trial.py",  # scheduler.report, in a Command's program
    "<frozen ",
    "/cloudpickle/",
)


def where_in_user_code(traceback: str | None) -> str | None:
    """``"file.py:12 in train_fn"`` of the innermost traceback frame outside this
    package's runtime (the user's code), or None."""
    if not traceback:
        return None
    found = None
    for line in traceback.splitlines():
        m = _FRAME.match(line)
        if m and not any(part in m.group(1) for part in _OWN_CODE):
            found = f"{m.group(1)}:{m.group(2)} in {m.group(3)}"
    return found


def _first_line(text: str | None) -> str:
    if not text:
        return "no reason given"
    return text.strip().splitlines()[0] if text.strip() else "no reason given"


class FailureLog:
    """Counts failures by reason and decides ``fail_fast``.

    Parameters
    ----------
    fail_fast : {"auto", True, False}
        See the module docstring.
    workers : int
        Tasks that can run at once (for the ``"auto"`` threshold).
    """

    def __init__(self, fail_fast: bool | str = "auto", workers: int = 1) -> None:
        if fail_fast not in ("auto", True, False):
            raise ValueError(f"fail_fast must be 'auto', True or False, got {fail_fast!r}")
        self.fail_fast = fail_fast
        self.threshold = max(2, 2 * workers)
        self.num_ended = 0
        self.num_failed = 0
        self.reasons: collections.Counter[str] = collections.Counter()
        self._first_ends: list[str | None] = []  # reasons of the first ended tasks (None: ok)
        self._first_traceback: str | None = None
        self._lines: list[str] = []
        self.stop_error: TrialsFailedError | None = None

    def record(
        self, task_id: int, config_id: int, status: str, reason: str | None, traceback: str | None
    ) -> TrialsFailedError | None:
        """A task ended; returns the error to stop the run with (once), or None."""
        if status == "interrupted":
            return None  # not an outcome of the task: the driver stopped
        self.num_ended += 1
        failed = status == "failed"
        key = _first_line(reason) if failed else None
        if len(self._first_ends) < self.threshold:
            self._first_ends.append(key)
        if key is None:  # (not failed)
            return None
        self.num_failed += 1
        self.reasons[key] += 1
        if self._first_traceback is None and traceback:
            self._first_traceback = traceback
        count = self.reasons[key]
        where = where_in_user_code(traceback)
        at = f" ({where})" if where else ""
        if count == 1:
            self._lines.append(f"task {task_id} (config {config_id}) failed: {key}{at}")
        elif _is_power_of_ten(count):
            self._lines.append(f"{count} tasks have failed with: {key} (latest: task {task_id})")
        return self._check_fail_fast(key)

    def _check_fail_fast(self, key: str) -> TrialsFailedError | None:
        if self.stop_error is not None or self.fail_fast is False:
            return None
        if self.fail_fast is True:
            stop = f"the first failed task (fail_fast=True): {key}"
        elif len(self._first_ends) == self.threshold and all(r == key for r in self._first_ends):
            stop = (
                f"the first {self.threshold} tasks all failed with the same reason: {key} "
                "(fail_fast='auto'; pass fail_fast=False to keep going)"
            )
        else:
            return None
        self.stop_error = TrialsFailedError(
            f"run stopped after {stop}", reason=key, traceback=self._first_traceback
        )
        return self.stop_error

    def has_lines(self) -> bool:
        return bool(self._lines)

    def take_lines(self) -> list[str]:
        """Warning lines recorded since the last call."""
        lines, self._lines = self._lines, []
        return lines

    def summary(self) -> str | None:
        """The end-of-run line, or None without failures."""
        if not self.num_failed:
            return None
        reason, count = self.reasons.most_common(1)[0]
        return (
            f"{self.num_failed} of {self.num_ended} tasks failed; most common reason: "
            f"{reason} ({count} times)"
        )


def _is_power_of_ten(n: int) -> bool:
    while n >= 10 and n % 10 == 0:
        n //= 10
    return n == 1
