"""Durable runs: an append-only JSON-lines journal of events plus compact snapshots.

Layout, for ``checkpoint="run/ckpt.json"``:

* ``run/ckpt.json``: the newest snapshot, the scheduler's ``state_dict()`` plus the
  sequence number ``seq`` of the last event it includes. Written atomically (temporary
  file, fsync, rename, fsync of the folder): a reader sees the old or the new one.
* ``run/ckpt.json.journal/<first seq, 12 digits>.jsonl``: journal segments. Every event
  the policy acted on is one JSON line ``{"seq": n, "t": seconds, "type": ..., ...}``,
  written and flushed to the operating system *before* the task that caused it hears
  the decision, so a killed driver loses nothing that a task was told. A new segment
  starts at each snapshot; older segments are deleted once the snapshot is durable.

Event types: ``header`` (scheduler class, search space and policy settings: resuming
into a different setup is refused), ``start`` (a task for a config: new, promotion or
restart, with its bracket), ``report`` (the validated result, the policy's decision
and the one sent), ``end`` (status and reason).

fsync policy: ``fsync_interval=0`` fsyncs every event before the decision is sent
(survives power loss, costs a disk flush per report); the default ``1.0`` fsyncs at
most once a second from the runtime's own thread (a killed process loses nothing, a
power cut at most the last second). Snapshots are taken when the events since the last
one reach ``max(snapshot_min_events, events covered by the last snapshot)``, so their
cost per event stays O(1) amortized; the runtime takes the state under its lock without
converting it and serializes it outside the lock.

Loading never unpickles or executes anything: it is ``json.loads`` only. A torn last
line (a crash mid-write) is dropped with a warning; a corrupt line anywhere else is an
error naming the file and line.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field

from scheduler._jsonable import to_jsonable

__all__ = ["Journal", "JournalError", "Recovery", "recover"]

FORMAT = 1
_SEGMENT_SUFFIX = ".jsonl"


class JournalError(ValueError):
    """A checkpoint that cannot be resumed from (corrupt, or of another setup)."""


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically: temporary file, fsync, rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a checkpoint is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def _segment_dir(path: str) -> str:
    return path + ".journal"


def _segments(path: str) -> list[tuple[int, str]]:
    folder = _segment_dir(path)
    if not os.path.isdir(folder):
        return []
    found = []
    for name in os.listdir(folder):
        stem, ext = os.path.splitext(name)
        if ext == _SEGMENT_SUFFIX and stem.isdigit():
            found.append((int(stem), os.path.join(folder, name)))
    return sorted(found)


@dataclass
class Recovery:
    """What :func:`recover` found: the newest snapshot and the events after it."""

    snapshot: dict | None
    header: dict | None
    events: list[dict] = field(default_factory=list)
    last_seq: int = 0
    last_t: float = 0.0
    torn: tuple | None = None  # (file, byte offset of the skipped last line)


def _read_segment(file: str, *, is_last: bool, torn_at: list | None = None) -> list[dict]:
    events = []
    offset = 0
    with open(file, "rb") as f:
        lines = f.read().split(b"\n")
    # A complete file ends with "\n", so the final element is empty.
    for number, raw in enumerate(lines, start=1):
        start, offset = offset, offset + len(raw) + 1
        if not raw.strip():
            continue
        try:
            event = json.loads(raw)
            if not isinstance(event, dict) or "seq" not in event or "type" not in event:
                raise ValueError("not a journal event")
        except ValueError as exc:
            torn = number == len(lines) or (number == len(lines) - 1 and not lines[-1])
            if is_last and torn:
                warnings.warn(
                    f"journal {file!r}: ignoring a torn last line {number} "
                    f"({len(raw)} bytes; the run was killed while writing it)",
                    RuntimeWarning,
                    stacklevel=3,
                )
                if torn_at is not None:
                    torn_at.append(start)
                break
            raise JournalError(f"journal {file!r} is corrupt at line {number}: {exc}") from exc
        events.append(event)
    return events


def recover(path: str) -> Recovery:
    """Load the newest snapshot at ``path`` and the journal events after it."""
    snapshot = None
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            snapshot = json.loads(text)
        except ValueError as exc:
            raise JournalError(f"snapshot {path!r} is not valid JSON: {exc}") from exc
        if not isinstance(snapshot, dict) or snapshot.get("journal_format") != FORMAT:
            raise JournalError(
                f"snapshot {path!r} is not a scheduler checkpoint of format {FORMAT}"
            )
    covered = snapshot["seq"] if snapshot else 0
    header = snapshot.get("header") if snapshot else None
    segments = _segments(path)
    events: list[dict] = []
    torn = None
    for i, (_, file) in enumerate(segments):
        torn_at: list = []
        read = _read_segment(file, is_last=i == len(segments) - 1, torn_at=torn_at)
        if torn_at:
            torn = (file, torn_at[0])
        for event in read:
            if event["type"] == "header":
                header = header or event
                continue
            if event["seq"] <= covered:
                continue
            if events and event["seq"] != events[-1]["seq"] + 1:
                raise JournalError(
                    f"journal {file!r}: event seq {event['seq']} follows "
                    f"{events[-1]['seq']} (missing events)"
                )
            if not events and event["seq"] != covered + 1:
                raise JournalError(
                    f"journal {file!r}: first event after the snapshot has seq "
                    f"{event['seq']}, expected {covered + 1}"
                )
            events.append(event)
    last_seq = events[-1]["seq"] if events else covered
    last_t = events[-1]["t"] if events else (snapshot.get("t", 0.0) if snapshot else 0.0)
    return Recovery(snapshot, header, events, last_seq, float(last_t), torn)


class Journal:
    """Appends events and writes snapshots for one run. Not thread-safe: the runtime
    calls :meth:`append` and :meth:`begin_snapshot` under its lock, and the slow parts
    (:meth:`sync`, :meth:`finish_snapshot`) from its own thread outside the lock."""

    def __init__(
        self,
        path: str,
        header: dict,
        *,
        seq: int = 0,
        t0: float = 0.0,
        fsync_interval: float = 1.0,
        snapshot_min_events: int = 10_000,
    ):
        self.path = os.path.abspath(path)
        self.header = dict(header, type="header", journal_format=FORMAT)
        self.seq = seq
        self.fsync_interval = fsync_interval
        self.snapshot_min_events = snapshot_min_events
        self._clock0 = time.monotonic() - t0
        self._covered = seq  # events included in the newest snapshot
        self._last_sync = time.monotonic()
        self._dirty = False
        os.makedirs(_segment_dir(self.path), exist_ok=True)
        self._file = None
        self._io_lock = threading.Lock()  # sync/finish_snapshot/close vs each other
        self._written = -1  # seq of the newest snapshot on disk
        self._retire(self._open_segment(seq + 1))

    # -- events --------------------------------------------------------------------
    def elapsed(self) -> float:
        """Seconds of experiment time, continued across resumes."""
        return time.monotonic() - self._clock0

    def _open_segment(self, first_seq: int):
        """Start a new segment file; returns the previous one, still open (the caller
        fsyncs and closes it outside the runtime's lock)."""
        name = os.path.join(_segment_dir(self.path), f"{first_seq:012d}{_SEGMENT_SUFFIX}")
        new = open(name, "a", encoding="utf-8")  # noqa: SIM115 - kept open for appends
        header = {"seq": first_seq - 1, **self.header}
        new.write(json.dumps(header, separators=(",", ":"), allow_nan=True))
        new.write("\n")
        new.flush()
        old, self._file = self._file, new
        return old

    def _retire(self, old) -> None:
        if old is not None:
            old.flush()
            os.fsync(old.fileno())
            old.close()
        _fsync_dir(_segment_dir(self.path))

    def append(self, event: dict) -> int:
        """Write one event and flush it to the OS; returns its seq. O(1).

        The line is serialized before the seq is taken, so a value JSON cannot hold
        (converted like the results files) never leaves a gap in the journal."""
        record = {"seq": self.seq + 1, "t": round(self.elapsed(), 6), **event}
        try:
            line = json.dumps(record, separators=(",", ":"), allow_nan=True, default=to_jsonable)
        except (TypeError, ValueError):  # e.g. a dict with tuple keys in a result
            line = json.dumps(to_jsonable(record), separators=(",", ":"), allow_nan=True)
        self._file.write(line)
        self._file.write("\n")
        self._file.flush()
        self.seq += 1
        self._dirty = True
        if self.fsync_interval == 0:
            os.fsync(self._file.fileno())
            self._dirty = False
        return self.seq

    def sync(self, force: bool = False) -> None:
        """fsync the journal if the interval has passed (or ``force``)."""
        with self._io_lock:
            now = time.monotonic()
            if (
                self._file is not None
                and self._dirty
                and (force or now - self._last_sync >= self.fsync_interval)
            ):
                self._dirty = False
                os.fsync(self._file.fileno())
                self._last_sync = now

    # -- snapshots -----------------------------------------------------------------
    def wants_snapshot(self) -> bool:
        """True when the events since the last snapshot reach
        ``max(snapshot_min_events, events the last snapshot covered)``: each snapshot
        costs O(history), so doubling intervals keep the cost per event O(1)
        amortized and a resume replays at most about half of the history."""
        pending = self.seq - self._covered
        return pending > 0 and pending >= max(self.snapshot_min_events, self._covered)

    def begin_snapshot(self, state: dict) -> tuple:
        """Take ``state`` (as of the current seq) and start a new segment. Call under
        the lock that orders events; no disk flush here, and ``state`` must not be
        mutated afterwards (it is serialized by :meth:`finish_snapshot`)."""
        snapshot = dict(
            state,
            journal_format=FORMAT,
            seq=self.seq,
            t=round(self.elapsed(), 6),
            header=self.header,
        )
        old = self._open_segment(self.seq + 1)
        self._covered = self.seq
        return self.seq, snapshot, old

    def finish_snapshot(self, pending: tuple) -> None:
        """Make the old segment durable, serialize and write the snapshot atomically,
        then drop the segments it covers. Runs outside the runtime's lock; snapshots
        finished out of order (a user's ``save()`` racing the runtime's own) never
        replace a newer one."""
        seq, snapshot, old = pending
        with self._io_lock:
            self._retire(old)
            if seq < self._written:
                return
            try:
                text = json.dumps(
                    snapshot, separators=(",", ":"), allow_nan=True, default=to_jsonable
                )
            except (TypeError, ValueError):  # e.g. a dict with tuple keys in a result
                text = json.dumps(to_jsonable(snapshot), separators=(",", ":"), allow_nan=True)
            atomic_write_text(self.path, text)
            self._written = seq
            for first, file in _segments(self.path):
                if first <= seq:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(file)

    def close(self) -> None:
        with self._io_lock:
            if self._file is not None:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
                self._file = None
