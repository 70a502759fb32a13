"""``results.csv`` of :class:`scheduler.Evaluator` (``dump_evals``): rows added in batches.

:class:`EvaluationsCsv` owns one file. The first batch replaces whatever file was
there with the header (the keys of the batch's rows, in order of first appearance)
and the rows, atomically (temporary file in the same folder, fsync, rename); later
batches are appended, flushed and fsynced before ``write`` returns (a crash during an
append can leave a partial last line); a batch that brings a key the header lacks
rewrites the file atomically with the widened header, the earlier rows getting an
empty cell for it. A new key is never an error (DeepHyper 0.3 raised ``ValueError``).
Cells are written by :func:`scheduler.results.export.csv_cell` (None is an empty cell,
floats in their shortest round-trip form); lines end in CRLF, as in ``results.csv``,
so that a cell holding a bare carriage return is quoted.

No locking: the evaluator calls it from the thread that calls ``dump_evals``.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from scheduler.results.export import _EOL, _write_atomically, csv_cell

__all__ = ["EvaluationsCsv"]


class EvaluationsCsv:
    """Append batches of rows to one csv file (see the module docstring).

    Parameters
    ----------
    path : path-like
        The csv file; its folder is created if missing.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._header: list[str] | None = None
        self.rows_written = 0

    @property
    def header(self) -> list[str]:
        """The columns written so far (empty before the first batch)."""
        return list(self._header or [])

    def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Add ``rows`` to the file; raises ``OSError`` if it cannot be written (the
        file is then as it was before the call)."""
        if not rows:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys: dict[str, None] = dict.fromkeys(self._header or [])
        for row in rows:
            keys.update(dict.fromkeys(row))
        header = list(keys)
        if self._header is None:
            _write_atomically(self.path, lambda out: self._dump(out, header, [], rows))
        elif len(header) > len(self._header):
            with open(self.path, newline="", encoding="utf-8") as old:
                reader = csv.reader(old)
                next(reader, None)  # the old header
                earlier = list(reader)
            _write_atomically(self.path, lambda out: self._dump(out, header, earlier, rows))
        else:
            text = io.StringIO()
            writer = csv.writer(text, lineterminator=_EOL)
            for row in rows:
                writer.writerow([csv_cell(row.get(key)) for key in header])
            with open(self.path, "a", newline="", encoding="utf-8") as out:
                out.write(text.getvalue())
                out.flush()
                os.fsync(out.fileno())
        self._header = header
        self.rows_written += len(rows)

    @staticmethod
    def _dump(
        out: TextIO, header: list[str], earlier: list[list[str]], rows: Sequence[Mapping[str, Any]]
    ) -> None:
        writer = csv.writer(out, lineterminator=_EOL)
        writer.writerow(header)
        pad = len(header)
        for cells in earlier:
            writer.writerow(cells + [""] * (pad - len(cells)))
        for row in rows:
            writer.writerow([csv_cell(row.get(key)) for key in header])
