"""The journal's event schema, checked field by field when a journal is read back.

A hand-edited or damaged journal must never resume silently wrong: an epoch edited to
the string ``"3"`` would reach the user's code as ``resume_from="3"``. Every field of
every event is checked for its type and range here; a violation is a
:class:`scheduler.JournalError` naming the file, the line and the field.
"""

from __future__ import annotations

import math
from typing import Any

from scheduler._decisions import DECISIONS, END_STATUSES
from scheduler._exceptions import JournalError
from scheduler._validation import is_integer, is_real

__all__ = ["EVENT_TYPES", "check_event"]

#: "enqueue": a config asked for with ``scheduler.add_job`` (issue 16), proposed before
#: the searcher's own; it carries the (JSON) config and no task id.
EVENT_TYPES = ("header", "start", "report", "end", "enqueue")


class _Where:
    def __init__(self, file: str, line: int):
        self.file = file
        self.line = line

    def fail(self, field: str, rule: str, value: Any) -> None:
        raise JournalError(
            f"journal {self.file!r}, line {self.line}: field {field!r} must be {rule}, "
            f"got {value!r}"
        )


def _int(
    where: _Where, event: dict, field: str, minimum: int = 0, *, optional: bool = False
) -> None:
    value = event.get(field) if optional else event.get(field, _MISSING)
    if optional and value is None:
        return
    if not is_integer(value) or value < minimum:
        where.fail(field, f"an integer >= {minimum}" + (" or null" if optional else ""), value)


def _bool(where: _Where, event: dict, field: str) -> None:
    value = event.get(field, _MISSING)
    if not isinstance(value, bool):
        where.fail(field, "true or false", value)


def _text(where: _Where, event: dict, field: str) -> None:
    value = event.get(field)
    if value is not None and not isinstance(value, str):
        where.fail(field, "a string or null", value)


_MISSING = object()


def check_event(
    event: Any, *, file: str, line: int, reward_attr: str | None, time_attr: str | None
) -> None:
    """Raise JournalError unless ``event`` is a well-formed journal event."""
    where = _Where(file, line)
    if not isinstance(event, dict):
        where.fail("<line>", "a JSON object", event)
    _int(where, event, "seq", 0)
    kind = event.get("type")
    if kind not in EVENT_TYPES:
        where.fail("type", f"one of {list(EVENT_TYPES)}", kind)
    if kind == "header":
        return
    t = event.get("t")
    if not is_real(t) or not math.isfinite(t) or t < 0:
        where.fail("t", "a number of seconds >= 0", t)
    if kind == "enqueue":
        if not isinstance(event.get("config"), dict):
            where.fail("config", "an object", event.get("config"))
        return
    _int(where, event, "task_id", 0)
    if kind == "start":
        suggestion = event.get("suggestion")
        if not isinstance(suggestion, dict):
            where.fail("suggestion", "an object", suggestion)
        if not isinstance(suggestion.get("config"), dict):
            where.fail("suggestion.config", "an object", suggestion.get("config"))
        _int(where, suggestion, "config_id", 0)
        _bool(where, suggestion, "new_config")
        _bool(where, suggestion, "restart")
        _int(where, suggestion, "bracket", 0, optional=True)
        _int(where, suggestion, "resume_from", 1, optional=True)
    elif kind == "report":
        result = event.get("result")
        if not isinstance(result, dict):
            where.fail("result", "an object", result)
        if reward_attr is not None:
            reward = result.get(reward_attr, _MISSING)
            if not is_real(reward):
                where.fail(f"result.{reward_attr}", "a number (reward_attr)", reward)
        if time_attr is not None and time_attr in result:
            t_value = result[time_attr]
            if not is_integer(t_value) or t_value < 0:
                where.fail(f"result.{time_attr}", "an integer >= 0 (time_attr)", t_value)
        if event.get("decision") not in DECISIONS:
            where.fail("decision", f"one of {list(DECISIONS)}", event.get("decision"))
        policy = event.get("policy")
        if policy is not None and policy not in DECISIONS:
            where.fail("policy", f"one of {list(DECISIONS)} or null", policy)
    elif kind == "end":
        if event.get("status") not in END_STATUSES:
            where.fail("status", f"one of {list(END_STATUSES)}", event.get("status"))
        _text(where, event, "reason")
        _text(where, event, "traceback")
