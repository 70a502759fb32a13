"""Results export: incremental ``results.csv`` / ``results.jsonl`` and a results table.

:class:`ResultsWriter` writes one row per report, as the run goes (DESIGN §7):

* ``results.jsonl``: one JSON object per line, appended and flushed per row.
* ``results.csv``: the header comes from the first row's keys. A later row that brings a
  new key makes the writer rewrite the file atomically with the widened header (write a
  temporary file in the same folder, flush, ``os.fsync``, ``os.replace``); otherwise the
  row is appended and flushed. Rows lacking a header key get an empty cell.

A row is the dict :meth:`scheduler.results.history.History.add_report` stored, followed by the
config flattened as ``config.<name>`` columns. Both files hold the same flat records.

Values are never a reason to crash the run: numpy scalars become Python numbers, arrays
become lists, tuples and sets become lists, anything else that JSON cannot hold becomes
its ``repr``. Non-finite floats are written the way Python's :mod:`json` writes them
(``NaN``, ``Infinity``), so a diverged reward reads back as NaN. An ``OSError`` while
writing a row (a full disk, say) is turned into a ``RuntimeWarning``; the run goes on.

The writer does no locking: the runtime calls it under its own lock.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from scheduler._jsonable import safe_repr, to_jsonable

__all__ = [
    "CSV_NAME",
    "JSONL_NAME",
    "ResultsWriter",
    "csv_cell",
    "flatten_config",
    "read_jsonl",
    "results_table",
]

CSV_NAME = "results.csv"
JSONL_NAME = "results.jsonl"
CONFIG_PREFIX = "config."


def flatten_config(row: Mapping[str, Any], config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return a new dict: ``row``'s items, then ``config`` as ``config.<name>`` items.

    A key the row already has is not overwritten by a config item.
    """
    flat = dict(row)
    for name, value in (config or {}).items():
        flat.setdefault(f"{CONFIG_PREFIX}{name}", value)
    return flat


def csv_cell(value: Any) -> str:
    """Return the csv text of one value.

    None is an empty cell; str, bool, int and float are written as themselves (floats
    in their shortest round-trip form: ``0.1``, ``nan``, ``inf``); numpy scalars as the
    Python scalar; anything else (lists, dicts, arrays, ...) JSON-encoded.
    """
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


def _drop_torn_tail(path: Path) -> None:
    """Cut a file back to its last newline: a row torn by a crash is dropped."""
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        block = 1 << 16
        end = size
        while end > 0:
            start = max(0, end - block)
            f.seek(start)
            chunk = f.read(end - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                f.truncate(start + cut + 1)
                return
            end = start
        f.truncate(0)


def _truncate_after_lines(path: Path, keep: int) -> None:
    """Cut ``path`` right after its first ``keep`` non-empty lines."""
    offset = 0
    kept = 0
    with open(path, "rb") as f:
        for line in f:
            if kept == keep:
                break
            offset += len(line)
            if line.strip():
                kept += 1
    with open(path, "rb+") as f:
        f.truncate(offset)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    """Best effort: make a rename in ``path`` durable (POSIX only)."""
    if os.name != "posix":  # pragma: no cover
        return
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


class ResultsWriter:
    """Write ``results.csv`` and ``results.jsonl`` in ``output_dir``, one row per report.

    Parameters
    ----------
    output_dir:
        Folder of the two files; created (with its parents) if missing.
    resume:
        False (default) truncates existing files. True appends to them: the csv header
        is read back from the existing file, and a last line torn by a crash (no
        trailing newline) is dropped from either file first.

    Attributes
    ----------
    csv_path, jsonl_path:
        The two files.
    header:
        The csv columns, in order (a copy).
    rows_written:
        Rows in ``results.jsonl``, counting those found on ``resume``.

    Usable as a context manager; :meth:`close` is idempotent. Not thread-safe: the
    runtime calls it under its own lock.
    """

    def __init__(self, output_dir: str | os.PathLike, *, resume: bool = False) -> None:
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.output_dir / CSV_NAME
        self.jsonl_path = self.output_dir / JSONL_NAME
        self._header: list[str] = []
        self._header_set: set[str] = set()
        self.rows_written = 0
        self._closed = False
        self._warned = False

        if resume and self.jsonl_path.exists():
            _drop_torn_tail(self.jsonl_path)
            with open(self.jsonl_path, "rb") as f:
                self.rows_written = sum(1 for line in f if line.strip())
        if resume and self.csv_path.exists():
            _drop_torn_tail(self.csv_path)
            with open(self.csv_path, newline="", encoding="utf-8") as f:
                header = next(csv.reader(f), None)
            if header:
                self._set_header(header)
        if resume and self._header and self.rows_written:
            with open(self.csv_path, newline="", encoding="utf-8") as f:
                csv_rows = sum(1 for _ in csv.reader(f)) - 1
            if csv_rows < self.rows_written:
                # Killed between the jsonl and the csv write of a row: cut the jsonl
                # back to the csv (one truncate), the runtime writes the rest again.
                _truncate_after_lines(self.jsonl_path, csv_rows)
                self.rows_written = csv_rows
        self._jsonl = open(self.jsonl_path, "a" if resume else "w", encoding="utf-8")  # noqa: SIM115 - kept open
        if resume and self._header:
            self._csv = open(self.csv_path, "a", newline="", encoding="utf-8")  # noqa: SIM115 - kept open
        else:
            # No usable header: start the csv afresh (its first row writes the header).
            self._csv = open(self.csv_path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - kept open
        self._csv_writer = csv.writer(self._csv, lineterminator="\n")

    @property
    def header(self) -> list[str]:
        return list(self._header)

    @property
    def closed(self) -> bool:
        return self._closed

    def _set_header(self, header: list[str]) -> None:
        self._header = list(header)
        self._header_set = set(header)

    def write(self, row: Mapping[str, Any], config: Mapping[str, Any] | None) -> None:
        """Append one report: ``row`` (as stored by ``History.add_report``) and its config.

        Both files are flushed before this returns. Raises ``ValueError`` if the writer
        is closed; an ``OSError`` becomes a ``RuntimeWarning``.
        """
        if self._closed:
            raise ValueError(f"ResultsWriter for {str(self.output_dir)!r} is closed")
        record = flatten_config(row, config)
        try:
            self._write_jsonl(record)
            self._write_csv(record)
        except OSError as exc:
            warnings.warn(
                f"could not write a results row to {str(self.output_dir)!r}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )

    def _write_jsonl(self, record: dict[str, Any]) -> None:
        line = json.dumps(to_jsonable(record), ensure_ascii=False)
        self._jsonl.write(line + "\n")
        self._jsonl.flush()
        self.rows_written += 1

    def _write_csv(self, record: dict[str, Any]) -> None:
        new_keys = [key for key in record if key not in self._header_set]
        if not self._header:
            self._set_header(new_keys)
            self._csv_writer.writerow(self._header)
        elif new_keys:
            self._widen(self._header + new_keys, record)
            return
        self._csv_writer.writerow([csv_cell(record.get(key)) for key in self._header])
        self._csv.flush()

    def _widen(self, header: list[str], record: dict[str, Any]) -> None:
        """Rewrite the csv atomically with ``header`` (the old one plus new keys)."""
        self._csv.flush()
        self._csv.close()
        pad = [""] * (len(header) - len(self._header))
        fd, tmp = tempfile.mkstemp(dir=self.output_dir, prefix=f".{CSV_NAME}.", suffix=".tmp")
        try:
            with (
                os.fdopen(fd, "w", newline="", encoding="utf-8") as out,
                open(self.csv_path, newline="", encoding="utf-8") as old,
            ):
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(header)
                reader = csv.reader(old)
                next(reader, None)  # the old header
                for cells in reader:
                    writer.writerow(cells + pad)
                writer.writerow([csv_cell(record.get(key)) for key in header])
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, os.stat(self.csv_path).st_mode & 0o777)
            os.replace(tmp, self.csv_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            # Keep appending to the old file: its header still matches what it holds.
            self._csv = open(self.csv_path, "a", newline="", encoding="utf-8")  # noqa: SIM115 - kept open
            self._csv_writer = csv.writer(self._csv, lineterminator="\n")
            raise
        _fsync_dir(self.output_dir)
        self._set_header(header)
        self._csv = open(self.csv_path, "a", newline="", encoding="utf-8")  # noqa: SIM115 - kept open
        self._csv_writer = csv.writer(self._csv, lineterminator="\n")

    def close(self) -> None:
        """Flush and close both files. Calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        for f in (self._jsonl, self._csv):
            try:
                f.close()
            except OSError as exc:  # pragma: no cover
                warnings.warn(f"closing {f.name!r} failed: {exc}", RuntimeWarning, stacklevel=2)

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self.rows_written} rows"
        return f"ResultsWriter({str(self.output_dir)!r}, {state})"


def results_table(rows: Iterable[Mapping[str, Any]]):
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
