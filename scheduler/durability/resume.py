"""Resuming a checkpointed run: check the setup, load the snapshot, replay the journal.

:func:`open_checkpoint` is what a scheduler calls at construction with ``checkpoint=``:
it refuses to overwrite an existing run without ``resume=True``, and with it reads
and checks everything (:func:`scheduler.durability.journal.recover`) before anything
is changed. :func:`resume_into` then rebuilds the state: the snapshot through the
scheduler's ``load_state_dict``, the events after it through the runtime's replay, and
the tasks in flight are ended and their configs queued to start again.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

from scheduler._exceptions import JournalError
from scheduler.durability.journal import Journal, Recovery, recover, segment_dir

if TYPE_CHECKING:
    from scheduler.runtime.runner import Runner

__all__ = ["open_checkpoint", "resume_into"]


def open_checkpoint(checkpoint: str, *, resume: bool) -> Recovery | None:
    """What ``checkpoint`` holds: None for a new run; the checked recovery to resume.

    Raises ValueError if it holds a run and ``resume`` is False (nothing is overwritten),
    JournalError if it is damaged."""
    exists = os.path.exists(checkpoint) or os.path.exists(segment_dir(checkpoint))
    if not resume:
        if exists:
            raise ValueError(
                f"checkpoint {checkpoint!r} already holds a run: pass resume=True to "
                "continue it, or choose another path (nothing is overwritten)"
            )
        return None
    recovery = recover(checkpoint)
    if recovery.snapshot is None and recovery.header is None:
        warnings.warn(
            f"resume=True but checkpoint {checkpoint!r} holds no run yet; "
            "starting a new experiment",
            stacklevel=4,
        )
        return None
    return recovery


def check_setup(checkpoint: str, header: dict, mine: dict) -> None:
    """Refuse to resume a run written by another scheduler, space or settings."""
    for key in ("scheduler", "space", "settings"):
        if header.get(key) != mine[key]:
            raise JournalError(
                f"checkpoint {checkpoint!r} was written by a different setup: "
                f"its {key} is {header.get(key)!r}, this scheduler's is {mine[key]!r}"
            )


def resume_into(
    checkpoint: str,
    recovery: Recovery,
    *,
    header: dict,
    load_state: Callable[[dict], object],
    runner: Runner,
    fsync_interval: float,
) -> Journal:
    """Rebuild the interrupted run in ``runner`` and return the journal to go on with."""
    check_setup(checkpoint, recovery.header or {}, header)
    if recovery.snapshot is not None:
        try:
            load_state(recovery.snapshot)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise JournalError(
                f"snapshot {checkpoint!r} cannot be loaded: {type(exc).__name__}: {exc}"
            ) from exc
    try:
        runner.replay(recovery.events)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise JournalError(
            f"journal {segment_dir(checkpoint)!r} cannot be replayed: {type(exc).__name__}: {exc}"
        ) from exc
    runner.elapsed_before = recovery.last_t
    if recovery.torn is not None:
        file, offset = recovery.torn
        with open(file, "rb+") as f:
            f.truncate(offset)
    journal = Journal(
        checkpoint,
        header,
        seq=recovery.last_seq,
        t0=recovery.last_t,
        fsync_interval=fsync_interval,
    )
    runner.journal = journal
    restarted = runner.interrupt_in_flight()
    if restarted:
        warnings.warn(
            f"resuming {checkpoint!r}: {restarted} task(s) were running when the "
            "run stopped; their configs start again",
            stacklevel=4,
        )
    return journal
