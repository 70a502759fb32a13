"""Results export: incremental ``results.csv`` / ``results.jsonl`` and a results table.

:class:`ResultsWriter` writes one row per report, as the run goes (DESIGN §7):

* ``results.jsonl``: one JSON object per line, appended and flushed per row.
* ``results.csv``: the header comes from the first row's keys. A later row that brings a
  new key makes the writer rewrite the file atomically with the widened header (write a
  temporary file in the same folder, flush, ``os.fsync``, ``os.replace``); otherwise the
  row is appended and flushed. Rows lacking a header key get an empty cell. Lines end in
  CRLF (RFC 4180).

A row is the dict :meth:`scheduler.results.history.History.add_report` stored, followed by the
config flattened as ``config.<name>`` columns, nested configs with dotted names
(:mod:`scheduler.results.flatten`). Both files hold the same flat records.

Values are never a reason to crash the run: numpy scalars become Python numbers, arrays
become lists, tuples and sets become lists, anything else that JSON cannot hold becomes
its ``repr``. Non-finite floats are written the way Python's :mod:`json` writes them
(``NaN``, ``Infinity``), so a diverged reward reads back as NaN. An ``OSError`` while
writing (a full disk, say) propagates: the runtime ends the run and names the file,
never silently dropping a row.

The writer does no locking: the runtime calls it from its writer thread, off its lock.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from scheduler._jsonable import is_plain_record, safe_repr, to_jsonable
from scheduler.results.flatten import CONFIG_PREFIX, flatten_config

__all__ = [
    "CONFIG_PREFIX",
    "CSV_NAME",
    "JSONL_NAME",
    "ResultsWriter",
    "csv_cell",
    "flatten_config",
    "read_jsonl",
    "results_table",
]

CSV_NAME = "results.csv"
#: csv line ends: CRLF (RFC 4180), so that the csv module quotes a cell holding a bare
#: carriage return (with "\n" it does not, and the cell reads back as two rows)
_EOL = "\r\n"
#: characters of the old csv padded per step of a widening (each step a read, a
#: replace and a write of about 128 K, each well under a millisecond here)
_WIDEN_CHUNK = 1 << 17
JSONL_NAME = "results.jsonl"


def csv_cell(value: Any) -> str:
    """Return the csv text of one value.

    None is an empty cell; str, bool, int and float are written as themselves (floats
    in their shortest round-trip form: ``0.1``, ``nan``, ``inf``); numpy scalars as the
    Python scalar; anything else (lists, dicts, arrays, ...) JSON-encoded.
    """
    kind = type(value)
    if kind is float:
        return repr(value)
    if kind is str:
        return value
    if kind is int:
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return ""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value))
    try:
        return json.dumps(to_jsonable(value))
    except (TypeError, ValueError):  # pragma: no cover - to_jsonable output always dumps
        return safe_repr(value)


#: rows converted between two yields of the writer thread (see :func:`_in_steps`)
_STEP = 64


def _in_steps(items: Sequence[Any], convert: Callable[[Sequence[Any]], list[Any]]) -> list[Any]:
    """``convert`` applied to ``items`` a slice of :data:`_STEP` at a time, the
    interpreter yielded between slices.

    The writer runs on a background thread. A long batch (rows that queued while a
    widening was written) converted in one go would hold the GIL for milliseconds, and a
    trial's thread that wants it waits out the switch interval (5 ms) before CPython
    takes it back; ``time.sleep(0)`` hands it over at once."""
    if len(items) <= _STEP:
        return convert(items)
    out: list[Any] = []
    for start in range(0, len(items), _STEP):
        if start:
            time.sleep(0)
        out.extend(convert(items[start : start + _STEP]))
    return out


def _fsync_dir(path: Path) -> None:
    """Best effort: make a rename in ``path`` durable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _write_atomically(path: Path, write: Callable[[TextIO], object]) -> None:
    """Write ``path`` through ``write(file)`` into a temporary file, fsync, rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


class ResultsWriter:
    """Write ``results.csv`` and ``results.jsonl`` in ``output_dir``, one row per report.

    Parameters
    ----------
    output_dir:
        Folder of the two files; created (with its parents) if missing.
    records:
        None (default): start both files empty. A list of ``(row, config)`` pairs (a
        resumed run: the history as rebuilt from the journal): both files are rewritten
        atomically to hold exactly these rows, whatever they held before (rows a crash
        wrote past the journal are dropped, rows it missed are written), and later rows
        are appended.

    Attributes
    ----------
    csv_path, jsonl_path:
        The two files.
    header:
        The csv columns, in order (a copy).
    rows_written:
        Rows in the files.

    Usable as a context manager; :meth:`close` is idempotent. Not thread-safe: the
    runtime calls it from its writer thread only. Errors (``OSError``: a full disk, a
    vanished folder) propagate: the runtime ends the run naming the file.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        *,
        records: Iterable[tuple[Mapping[str, Any], Mapping[str, Any] | None]] | None = None,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.output_dir / CSV_NAME
        self.jsonl_path = self.output_dir / JSONL_NAME
        self._header: list[str] = []
        self._header_set: set[str] = set()
        self.rows_written = 0
        self._closed = False
        #: a cell written so far spans lines (so widening must parse the file)
        self._multiline = False
        flat = [flatten_config(row, config) for row, config in (records or ())]
        for record in flat:
            for key in record:
                if key not in self._header_set:
                    self._header.append(key)
                    self._header_set.add(key)
        _write_atomically(self.jsonl_path, lambda f: self._dump_jsonl(f, flat))
        _write_atomically(self.csv_path, lambda f: self._dump_csv(f, flat))
        self.rows_written = len(flat)
        self._jsonl = open(self.jsonl_path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        self._csv = open(self.csv_path, "a", newline="", encoding="utf-8")  # noqa: SIM115 - kept open

    @staticmethod
    def _dump_jsonl(f: TextIO, records: list[dict[str, Any]]) -> None:
        for record in records:
            f.write(json.dumps(to_jsonable(record), ensure_ascii=False) + "\n")

    def _dump_csv(self, f: TextIO, records: list[dict[str, Any]]) -> None:
        if self._header:
            f.write(self._render([self._header]))
            f.write(self._render(self._cells(self._header, records)))

    @property
    def header(self) -> list[str]:
        return list(self._header)

    @property
    def closed(self) -> bool:
        return self._closed

    def describe(self) -> str:
        """``<folder>/results.{csv,jsonl}``, for error messages."""
        return f"{str(self.output_dir / 'results')!r}.{{csv,jsonl}}"

    def write(self, row: Mapping[str, Any], config: Mapping[str, Any] | None) -> None:
        """Append one report: ``row`` (as stored by ``History.add_report``) and its config.

        Both files are flushed to the OS before this returns. Raises ``ValueError`` if
        the writer is closed, ``OSError`` if a write fails.
        """
        if self._closed:
            raise ValueError(f"ResultsWriter for {str(self.output_dir)!r} is closed")
        self.write_many([(row, config)])

    def write_many(
        self, rows: Iterable[tuple[Mapping[str, Any], Mapping[str, Any] | None]]
    ) -> None:
        """Append several reports (``(row, config)`` pairs) in order, as :meth:`write`
        does one: one flush per file, and at most one rewrite of the csv, with every new
        key of the batch, however many of its rows bring new keys."""
        if self._closed:
            raise ValueError(f"ResultsWriter for {str(self.output_dir)!r} is closed")
        if not isinstance(rows, list):
            rows = list(rows)  # any iterable of pairs (sliced below)
        records = _in_steps(rows, lambda part: [flatten_config(r, c) for r, c in part])
        if not records:
            return
        self._append_jsonl(records)
        self._append_csv(records)

    def _append_csv(self, records: list[dict[str, Any]]) -> None:
        new_keys: list[str] = []
        seen = set(self._header_set)
        for record in records:
            for key in record:
                if key not in seen:
                    seen.add(key)
                    new_keys.append(key)
        if new_keys and self._header:
            self._widen(self._header + new_keys, records)
            return
        if new_keys:
            self._set_header(new_keys)
            self._csv.write(self._render([self._header]))
        header = self._header
        self._csv.write(
            "".join(_in_steps(records, lambda part: [self._render(self._cells(header, part))]))
        )
        self._csv.flush()

    @staticmethod
    def _cells(header: list[str], records: Sequence[Mapping[str, Any]]) -> list[list[str]]:
        """The cells of ``records`` under ``header`` (each record's keys are in it).

        Filled by position from each record's own keys: a wide header (a run whose
        reports bring many keys) costs a list copy per row, not a cell per column."""
        position = {key: i for i, key in enumerate(header)}
        blank = [""] * len(header)
        rows = []
        for record in records:
            cells = blank.copy()
            for key, value in record.items():
                cells[position[key]] = csv_cell(value)
            rows.append(cells)
        return rows

    def _render(self, rows: list[list[str]]) -> str:
        """The csv text of ``rows``; notes whether a cell spans lines (a quoted newline),
        which rules out widening the file line by line."""
        text = io.StringIO()
        csv.writer(text, lineterminator=_EOL).writerows(rows)
        out = text.getvalue()
        if not self._multiline and (out.count("\n") != len(rows) or out.count("\r") != len(rows)):
            self._multiline = True
        return out

    def _append_jsonl(self, records: list[dict[str, Any]]) -> None:
        dumps = json.dumps
        lines = _in_steps(
            records,
            lambda part: [
                dumps(r if is_plain_record(r) else to_jsonable(r), ensure_ascii=False) + "\n"
                for r in part
            ],
        )
        self._jsonl.write("".join(lines))
        self._jsonl.flush()
        self.rows_written += len(records)

    def _set_header(self, header: list[str]) -> None:
        self._header = list(header)
        self._header_set = set(header)

    def _widen(self, header: list[str], records: list[dict[str, Any]]) -> None:
        """Rewrite the csv atomically with ``header`` (the old one plus new keys) and
        ``records`` appended.

        The earlier rows get one empty cell per new key. While no cell spans lines (the
        usual case), each line is padded by string replacement over the file's text, in
        steps of :data:`_WIDEN_CHUNK` characters, instead of parsing and writing every row
        again: a widening then costs about a
        copy of the file, not a csv round trip per row."""
        self._csv.flush()
        self._csv.close()
        added = len(header) - len(self._header)
        multiline = self._multiline
        tail = self._render(self._cells(header, records))
        head = self._render([header])

        def write(out: TextIO) -> None:
            with open(self.csv_path, newline="", encoding="utf-8") as old:
                if not multiline:
                    old.readline()  # the old header
                    out.write(head)
                    padded = "," * added + _EOL
                    last = "\n"
                    while True:
                        chunk = old.read(_WIDEN_CHUNK)
                        if not chunk:
                            break
                        if chunk[-1] == "\r":  # keep each CRLF whole
                            chunk += old.read(1)
                        last = chunk[-1]
                        # the writer is a background thread: it lets the trials' threads
                        # have the interpreter after each replace and each write instead
                        # of making them wait out the switch interval (5 ms)
                        chunk = chunk.replace(_EOL, padded)
                        time.sleep(0)
                        out.write(chunk)
                        time.sleep(0)
                    if last != "\n":
                        # a last line that an earlier failed write cut short: end it
                        # (padded) rather than run the first new row into it
                        out.write(padded)
                else:
                    pad = [""] * added
                    writer = csv.writer(out, lineterminator=_EOL)
                    writer.writerow(header)
                    reader = csv.reader(old)
                    next(reader, None)  # the old header
                    for cells in reader:
                        writer.writerow(cells + pad)
            out.write(tail)

        try:
            _write_atomically(self.csv_path, write)
        finally:
            # Keep appending to whichever file is there now: its header matches it.
            self._csv = open(self.csv_path, "a", newline="", encoding="utf-8")  # noqa: SIM115 - kept open
        self._set_header(header)

    def close(self) -> None:
        """Flush and close both files. Calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        error = None
        for f in (self._jsonl, self._csv):
            try:
                f.close()
            except OSError as exc:
                error = error or exc
        if error is not None:
            raise error

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self.rows_written} rows"
        return f"ResultsWriter({str(self.output_dir)!r}, {state})"


def results_table(rows: Iterable[Mapping[str, Any]]) -> Any:
    """Return ``rows`` as a ``pandas.DataFrame`` if pandas is importable, else a list.

    The list fallback holds shallow copies of the rows (dicts). Columns are the union of
    the rows' keys in order of first appearance; a missing value is NaN in the frame.
    """
    records = [dict(row) for row in rows]
    try:
        import pandas as pd
    except ImportError:
        return records
    return pd.DataFrame(records)


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read a ``results.jsonl`` back: one dict per non-empty line; a torn last line is
    skipped."""
    rows: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:  # torn last line
                break
            raise
    return rows
