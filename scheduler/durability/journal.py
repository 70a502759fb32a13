"""Durable runs: an append-only JSON-lines journal of events plus compact snapshots.

Layout, for ``checkpoint="run/ckpt.json"``:

* ``run/ckpt.json``: the newest snapshot, the scheduler's state plus the sequence
  number ``seq`` of the last event it includes and the name of the journal segment
  that continues it (``journal_next``). Written atomically (temporary file, fsync,
  rename, fsync of the folder): a reader sees the old or the new one.
* ``run/ckpt.json.journal/<first seq, 12 digits>.jsonl``: journal segments. Every event
  the policy acted on is one JSON line ``{"seq": n, "t": seconds, "type": ..., ...,
  "crc": <crc32 of the line without its crc>}``, written with one ``write`` and so
  handed to the operating system *before* the task that caused it hears the decision:
  a killed driver loses nothing that a task was told. A new segment starts at each
  snapshot; older segments are deleted once the snapshot is durable.
* ``run/ckpt.json.lock``: held (``flock``) by the one driver of the run
  (:mod:`scheduler.durability.lock`).

Event types: ``header`` (scheduler class, search space, policy settings and the run's
id: resuming into a different setup is refused), ``start`` (a task for a config: new,
promotion or restart, with its bracket), ``report`` (the validated result, the policy's
decision and the one sent), ``end`` (status and reason).

fsync policy: ``fsync_interval=0`` fsyncs every event before the decision is sent
(survives power loss, costs a disk flush per report); the default ``1.0`` fsyncs at
most once a second from the runtime's loop thread (a killed process loses nothing, a
power cut at most the last second). Snapshots are taken when the events since the last
one reach ``max(snapshot_min_events, events covered by the last snapshot)``, so their
cost per event stays O(1) amortized; the runtime captures the state under its lock and
this module serializes it on the writer thread.

Reading back (:func:`recover`) never unpickles or executes anything, and trusts nothing:
every line's checksum and every field's type are checked, the events after the
snapshot must be contiguous (no gap, no missing segment or folder), and any damage is a
:class:`scheduler.JournalError` naming the file, the line and the field. Only a torn
*last* line (a crash mid-write) is tolerated, with a warning.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from scheduler._exceptions import JournalError
from scheduler._jsonable import to_jsonable
from scheduler.durability.atomic import atomic_write_text, fsync_dir
from scheduler.durability.events import check_event

__all__ = ["FORMAT", "Journal", "JournalError", "Recovery", "atomic_write_text", "recover"]

FORMAT = 2
_SEGMENT_SUFFIX = ".jsonl"
_CRC = re.compile(rb',"crc":(\d+)\}\s*$')


def _dumps(record: dict) -> str:
    try:
        return json.dumps(record, separators=(",", ":"), allow_nan=True, default=to_jsonable)
    except (TypeError, ValueError):  # e.g. a dict with tuple keys in a result
        return json.dumps(to_jsonable(record), separators=(",", ":"), allow_nan=True)


def encode_line(record: dict) -> bytes:
    """One journal line: the record's JSON with its CRC-32 as the last field."""
    body = _dumps(record).encode("utf-8")
    crc = zlib.crc32(body)
    return body[:-1] + b',"crc":%d}\n' % crc


def decode_line(raw: bytes) -> dict:
    """The record of one journal line; ValueError if it is damaged."""
    match = _CRC.search(raw)
    if match is None:
        raise ValueError("no checksum at the end of the line")
    body = raw[: match.start()] + b"}"
    if zlib.crc32(body) != int(match.group(1)):
        raise ValueError("checksum mismatch")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"undecodable bytes: {exc}") from None
    record = json.loads(text)
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    return record


def segment_dir(path: str) -> str:
    return path + ".journal"


def _segment_name(first_seq: int) -> str:
    return f"{first_seq:012d}{_SEGMENT_SUFFIX}"


def _segments(path: str) -> list[tuple[int, str]]:
    folder = segment_dir(path)
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


def _read_snapshot(path: str) -> dict | None:
    if not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
        snapshot = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise JournalError(f"snapshot {path!r} is not valid JSON: {exc}") from None
    except OSError as exc:
        raise JournalError(f"snapshot {path!r} cannot be read: {exc}") from None
    if not isinstance(snapshot, dict) or snapshot.get("journal_format") != FORMAT:
        raise JournalError(
            f"snapshot {path!r} is not a scheduler checkpoint of format {FORMAT} "
            f"(found {type(snapshot).__name__})"
        )
    for key, kind in (("seq", int), ("t", (int, float)), ("header", dict)):
        value = snapshot.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise JournalError(
                f"snapshot {path!r}: field {key!r} must be {getattr(kind, '__name__', 'a number')}"
                f", got {value!r}"
            )
    return snapshot


def _read_segment(file: str, *, is_last: bool, settings: dict) -> tuple[list[dict], int | None]:
    """The events of one segment and, if its last line is torn (allowed only in the
    last segment), the byte offset where that line starts."""
    with open(file, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    complete = data.endswith(b"\n") or not data
    events: list[dict] = []
    offset = 0
    for number, raw in enumerate(lines, start=1):
        start, offset = offset, offset + len(raw) + 1
        if not raw.strip():
            if number < len(lines):
                raise JournalError(f"journal {file!r} is damaged at line {number}: an empty line")
            continue
        last = number == len(lines) or (number == len(lines) - 1 and complete)
        try:
            event = decode_line(raw)
        except ValueError as exc:
            if is_last and last and not complete:
                warnings.warn(
                    f"journal {file!r}: ignoring a torn last line {number} "
                    f"({len(raw)} bytes; the run was killed while writing it)",
                    RuntimeWarning,
                    stacklevel=4,
                )
                return events, start
            raise JournalError(f"journal {file!r} is damaged at line {number}: {exc}") from None
        check_event(
            event,
            file=file,
            line=number,
            reward_attr=settings.get("reward_attr"),
            time_attr=settings.get("time_attr"),
        )
        if event["type"] == "header" and not settings:
            settings.update(event.get("settings") or {})  # checks the lines after it
        events.append(event)
    return events, None


def recover(path: str) -> Recovery:
    """Load the newest snapshot at ``path`` and the journal events after it, checking
    everything; raises :class:`scheduler.JournalError` on any damage."""
    snapshot = _read_snapshot(path)
    covered = snapshot["seq"] if snapshot else 0
    header = snapshot.get("header") if snapshot else None
    folder = segment_dir(path)
    if not os.path.isdir(folder):
        if snapshot is not None:
            raise JournalError(
                f"journal folder {folder!r} is missing but snapshot {path!r} exists: the "
                f"events after seq {covered} would be lost"
            )
        return Recovery(None, None)
    segments = _segments(path)
    if snapshot is not None:
        expected = snapshot.get("journal_next", _segment_name(covered + 1))
        if not any(os.path.basename(f) == expected for _, f in segments):
            raise JournalError(
                f"journal segment {os.path.join(folder, expected)!r} is missing: snapshot "
                f"{path!r} covers events up to seq {covered} and continues there"
            )
    elif segments and segments[0][0] != 1:
        raise JournalError(
            f"journal {segments[0][1]!r} starts at seq {segments[0][0]} but there is no "
            f"snapshot {path!r} covering the events before it"
        )
    settings = dict((header or {}).get("settings") or {})
    events: list[dict] = []
    torn = None
    live = [(first, f) for first, f in segments if first > covered]  # older: superseded
    for i, (first, file) in enumerate(live):
        read, torn_at = _read_segment(file, is_last=i == len(live) - 1, settings=settings)
        if torn_at is not None:
            torn = (file, torn_at)
        expected_seq = covered + 1 if not events else events[-1]["seq"] + 1
        if first != expected_seq:
            raise JournalError(
                f"journal {file!r} starts at seq {first}, expected {expected_seq} (missing events)"
            )
        for number, event in enumerate(read, start=1):
            if event["type"] == "header":
                if header is None:
                    header = event
                if event["seq"] != first - 1:
                    raise JournalError(
                        f"journal {file!r}, line {number}: header has seq {event['seq']}, "
                        f"expected {first - 1}"
                    )
                continue
            want = covered + 1 if not events else events[-1]["seq"] + 1
            if event["seq"] != want:
                raise JournalError(
                    f"journal {file!r}, line {number}: event seq {event['seq']} where "
                    f"{want} was expected (missing or reordered events)"
                )
            events.append(event)
    last_seq = events[-1]["seq"] if events else covered
    last_t = events[-1]["t"] if events else (snapshot.get("t", 0.0) if snapshot else 0.0)
    return Recovery(snapshot, header, events, last_seq, float(last_t), torn)


class Journal:
    """Appends events and writes snapshots for one run.

    Not thread-safe by itself: the runtime calls :meth:`append` and
    :meth:`begin_snapshot` under its lock; :meth:`sync` from its loop thread and
    :meth:`finish_snapshot` from its writer thread take this journal's own I/O lock.
    An ``OSError`` from :meth:`append` means the event is not on disk: the runtime then
    calls :meth:`abandon` and ends the run (the task never hears that decision).
    """

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
        import threading

        self.path = os.path.abspath(path)
        self.header = dict(header, type="header", journal_format=FORMAT)
        self.seq = seq
        self.fsync_interval = fsync_interval
        self.snapshot_min_events = snapshot_min_events
        self._clock0 = time.monotonic() - t0
        self._covered = seq  # events included in the newest snapshot
        self._last_sync = time.monotonic()
        self._dirty = False
        self.broken = False
        os.makedirs(segment_dir(self.path), exist_ok=True)
        self._fd: int | None = None
        self.file_path = ""
        self._io_lock = threading.Lock()  # sync/finish_snapshot/close vs each other
        self._written = -1  # seq of the newest snapshot on disk
        self._retire(self._open_segment(seq + 1))

    # -- events --------------------------------------------------------------------
    def elapsed(self) -> float:
        """Seconds of experiment time, continued across resumes."""
        return time.monotonic() - self._clock0

    def _write(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def _open_segment(self, first_seq: int) -> tuple[int, str] | None:
        """Start a new segment; returns the previous one (fd, path), still open (the
        caller fsyncs and closes it outside the runtime's lock)."""
        name = os.path.join(segment_dir(self.path), _segment_name(first_seq))
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            self._write(fd, encode_line({"seq": first_seq - 1, **self.header}))
        except BaseException:
            os.close(fd)
            raise
        old = None if self._fd is None else (self._fd, self.file_path)
        self._fd, self.file_path = fd, name
        return old

    def _retire(self, old: tuple[int, str] | None) -> None:
        if old is not None:
            fd, _ = old
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(segment_dir(self.path))

    def append(self, event: dict) -> int:
        """Write one event and hand it to the OS; returns its seq. O(1).

        The line is encoded before the seq is taken, so a value JSON cannot hold
        (converted like the results files) never leaves a gap in the journal."""
        if self.broken or self._fd is None:
            raise OSError("the journal was abandoned after a failed write")
        line = encode_line({"seq": self.seq + 1, "t": round(self.elapsed(), 6), **event})
        self._write(self._fd, line)
        self.seq += 1
        self._dirty = True
        if self.fsync_interval == 0:
            os.fsync(self._fd)
            self._dirty = False
        return self.seq

    def abandon(self) -> None:
        """Stop writing (after a failed write): close the segment as it is. A partly
        written last line is a torn line, dropped with a warning on resume."""
        self.broken = True
        with self._io_lock:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
                self._fd = None

    def sync(self, force: bool = False) -> None:
        """fsync the journal if the interval has passed (or ``force``)."""
        with self._io_lock:
            now = time.monotonic()
            if (
                self._fd is not None
                and self._dirty
                and (force or now - self._last_sync >= self.fsync_interval)
            ):
                self._dirty = False
                os.fsync(self._fd)
                self._last_sync = now

    # -- snapshots -----------------------------------------------------------------
    def wants_snapshot(self) -> bool:
        """True when the events since the last snapshot reach
        ``max(snapshot_min_events, events the last snapshot covered)``: each snapshot
        costs O(history), so doubling intervals keep the cost per event O(1)
        amortized and a resume replays at most about half of the history."""
        pending = self.seq - self._covered
        return pending > 0 and pending >= max(self.snapshot_min_events, self._covered)

    def begin_snapshot(self, state: dict | Callable[[], dict]) -> tuple:
        """Take ``state`` (as of the current seq: a dict, or a function that builds it
        later from what it captured) and start a new segment. Call under the lock that
        orders events; ``state`` is serialized by :meth:`finish_snapshot`, off it."""
        if self.broken:
            raise OSError("the journal was abandoned after a failed write")
        extra = {
            "journal_format": FORMAT,
            "seq": self.seq,
            "t": round(self.elapsed(), 6),
            "header": self.header,
            "journal_next": _segment_name(self.seq + 1),
        }
        old = self._open_segment(self.seq + 1)
        self._covered = self.seq
        return self.seq, (state, extra), old

    def finish_snapshot(self, pending: tuple, searcher_state: dict | None = None) -> None:
        """Make the old segment durable, serialize and write the snapshot atomically
        (with the searcher's state as of its seq), then drop the segments it covers.
        Runs outside the runtime's lock; snapshots finished out of order (a user's
        ``save()`` racing the runtime's own) never replace a newer one."""
        seq, (state, extra), old = pending
        with self._io_lock:
            self._retire(old)
            if seq < self._written:
                return
            snapshot = {**(state() if callable(state) else state), **extra}
            snapshot["searcher"] = searcher_state
            atomic_write_text(self.path, _dumps(snapshot))
            self._written = seq
            for first, file in _segments(self.path):
                if first <= seq:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(file)

    def close(self) -> None:
        with self._io_lock:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
