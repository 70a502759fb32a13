"""ResultsWriter (incremental results.csv / results.jsonl) and results_table."""

from __future__ import annotations

import csv
import json
import math
import os
import sys

import numpy as np
import pytest

from scheduler._jsonable import to_jsonable
from scheduler.results.export import (
    ResultsWriter,
    csv_cell,
    flatten_config,
    read_jsonl,
    results_table,
)
from scheduler.results.history import History


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def make_row(task_id, epoch, acc, **extra):
    return {
        "epoch": epoch,
        "acc": acc,
        "time_this_iter": 0.5,
        "time_since_start": 0.5 * epoch,
        "task_id": task_id,
        "config_id": task_id,
        "decision": "continue",
        "replay": False,
        **extra,
    }


def test_rows_are_readable_after_each_write(tmp_path):
    writer = ResultsWriter(tmp_path / "out" / "run1")  # parents are created
    for i in range(1, 5):
        writer.write(make_row(0, i, 0.1 * i), {"lr": 0.01, "wd": 1e-3})
        # not closed: both files already hold every row
        rows = read_csv(writer.csv_path)
        assert rows[0] == [
            "epoch",
            "acc",
            "time_this_iter",
            "time_since_start",
            "task_id",
            "config_id",
            "decision",
            "replay",
            "config.lr",
            "config.wd",
        ]
        assert len(rows) == 1 + i
        assert rows[-1][:2] == [str(i), repr(0.1 * i)]
        assert rows[-1][-2:] == ["0.01", "0.001"]
        lines = read_jsonl(writer.jsonl_path)
        assert len(lines) == i
        assert lines[-1]["acc"] == 0.1 * i and lines[-1]["config.lr"] == 0.01
    assert writer.rows_written == 4
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        writer.write(make_row(0, 5, 0.5), {})


def test_new_key_widens_the_header_and_keeps_every_row(tmp_path):
    with ResultsWriter(tmp_path) as writer:
        writer.write(make_row(0, 1, 0.5), {"lr": 0.1})
        writer.write(make_row(0, 2, 0.6), {"lr": 0.1})
        # a conditional search space: a later config has a new parameter; and a new key
        writer.write(make_row(1, 1, 0.7, bracket=2), {"lr": 0.2, "momentum": 0.9})
        rows = read_csv(writer.csv_path)
        assert rows[0][-3:] == ["config.lr", "bracket", "config.momentum"]
        assert [len(r) for r in rows] == [len(rows[0])] * 4
        assert [r[1] for r in rows[1:]] == ["0.5", "0.6", "0.7"]
        assert rows[1][-2:] == ["", ""] and rows[3][-2:] == ["2", "0.9"]
        # a row without some keys: empty cells, no rewrite needed
        writer.write({"epoch": 3, "acc": 0.8}, None)
        rows = read_csv(writer.csv_path)
        assert rows[-1] == ["3", "0.8"] + [""] * (len(rows[0]) - 2)
        assert writer.header == rows[0]
    assert sorted(os.listdir(tmp_path)) == ["results.csv", "results.jsonl"]  # no temp left
    assert len(read_jsonl(tmp_path / "results.jsonl")) == 4


def test_resume_rewrites_both_files_to_the_given_rows(tmp_path):
    first = [(make_row(0, 1, 0.5), {"lr": 0.1}), (make_row(0, 2, 0.6), {"lr": 0.1})]
    with ResultsWriter(tmp_path) as writer:
        for row, config in first:
            writer.write(row, config)
        writer.write(make_row(0, 3, 0.65), {"lr": 0.1})  # past the journal: dropped
    with open(tmp_path / "results.csv", "a") as f:
        f.write("4,0.7,0.1")  # a crash mid-row
    with ResultsWriter(tmp_path, records=first) as writer:
        assert writer.rows_written == 2
        assert writer.header[0] == "epoch"
        writer.write(make_row(1, 1, 0.7), {"lr": 0.2})
        writer.write(make_row(1, 2, 0.8, bracket=1), {"lr": 0.2})  # widen after resume
    rows = read_csv(tmp_path / "results.csv")
    assert sum(r[0] == "epoch" for r in rows) == 1
    assert [r[1] for r in rows[1:]] == ["0.5", "0.6", "0.7", "0.8"]
    assert rows[0][-1] == "bracket" and rows[-1][-1] == "1"
    assert [r["acc"] for r in read_jsonl(tmp_path / "results.jsonl")] == [0.5, 0.6, 0.7, 0.8]
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no temp left
    # without records the files start afresh
    with ResultsWriter(tmp_path) as writer:
        writer.write(make_row(2, 1, 0.9), {})
    assert len(read_csv(tmp_path / "results.csv")) == 2
    assert len(read_jsonl(tmp_path / "results.jsonl")) == 1


def test_resume_writes_missing_rows_and_handles_no_files(tmp_path):
    rows = [(make_row(0, e, 0.1 * e), {"lr": 0.1}) for e in (1, 2, 3)]
    with ResultsWriter(tmp_path / "new", records=rows[:1]) as writer:  # no files yet
        assert writer.rows_written == 1
    with ResultsWriter(tmp_path / "new", records=rows) as writer:  # two rows missed
        assert writer.rows_written == 3
    assert [r["epoch"] for r in read_jsonl(tmp_path / "new" / "results.jsonl")] == [1, 2, 3]
    assert len(read_csv(tmp_path / "new" / "results.csv")) == 4
    with ResultsWriter(tmp_path / "empty", records=[]) as writer:
        writer.write(make_row(0, 1, 0.5), {})
    assert read_csv(tmp_path / "empty" / "results.csv")[0][0] == "epoch"


class Opaque:
    def __repr__(self):
        return "<Opaque>"


class BrokenRepr:
    def __repr__(self):
        raise RuntimeError("no")


def test_numpy_and_odd_values_never_crash(tmp_path):
    row = make_row(
        np.int64(3),
        np.int32(1),
        np.float32(0.25),
        flag=np.bool_(True),
        arr=np.arange(3),
        mat=np.eye(2),
        tup=(1, "a"),
        nested={"k": np.float64(1.5), 2: [np.int8(1)]},
        obj=Opaque(),
        broken=BrokenRepr(),
        nan=float("nan"),
        none=None,
        text='say "hi", then\nleave',
    )
    with ResultsWriter(tmp_path) as writer:
        writer.write(row, {"choice": ("x", 1), "arr": np.array([0.5])})
    [line] = read_jsonl(tmp_path / "results.jsonl")
    assert line["task_id"] == 3 and line["epoch"] == 1 and line["acc"] == 0.25
    assert line["flag"] is True
    assert line["arr"] == [0, 1, 2] and line["mat"] == [[1.0, 0.0], [0.0, 1.0]]
    assert line["tup"] == [1, "a"]
    assert line["nested"] == {"k": 1.5, "2": [1]}
    assert line["obj"] == "<Opaque>"
    assert line["broken"] == "<unrepresentable BrokenRepr>"
    assert math.isnan(line["nan"]) and line["none"] is None
    assert line["config.choice"] == ["x", 1] and line["config.arr"] == [0.5]
    header, cells = read_csv(tmp_path / "results.csv")
    got = dict(zip(header, cells))
    assert got["task_id"] == "3" and got["acc"] == "0.25" and got["flag"] == "True"
    assert json.loads(got["arr"]) == [0, 1, 2]
    assert json.loads(got["nested"]) == {"k": 1.5, "2": [1]}
    assert got["obj"] == '"<Opaque>"'
    assert got["nan"] == "nan" and got["none"] == ""
    assert got["text"] == 'say "hi", then\nleave'
    assert json.loads(got["config.choice"]) == ["x", 1]


def test_os_errors_propagate_naming_nothing_silently(tmp_path, monkeypatch):
    writer = ResultsWriter(tmp_path)

    def full_disk(records):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "_append_jsonl", full_disk)
    with pytest.raises(OSError, match="No space left"):
        writer.write(make_row(0, 1, 0.5), {})
    assert "results" in writer.describe() and str(tmp_path) in writer.describe()
    writer.close()


def test_history_rows_through_the_writer(tmp_path):
    h = History("acc", "epoch")
    with ResultsWriter(tmp_path) as writer:
        for task_id in range(3):
            h.start_task(task_id, task_id, {"lr": 0.1 * (task_id + 1)}, start_time=0.0)
            for epoch in (1, 2):
                result = {"epoch": epoch, "acc": 0.1 * epoch + task_id}
                row = h.add_report(task_id, result, decision="continue")
                writer.write(row, h.config_history[task_id])
    lines = read_jsonl(tmp_path / "results.jsonl")
    assert lines == json.loads(json.dumps(to_jsonable(h.rows(with_config=True))))


def test_to_jsonable_and_csv_cell():
    assert to_jsonable({"a": (1, 2), (1, 2): {3}}) == {"a": [1, 2], "(1, 2)": [3]}
    assert to_jsonable(np.float16(0.5)) == 0.5 and type(to_jsonable(np.float16(0.5))) is float
    plain = {"a": [1, 2.0, "x", None, True]}
    assert to_jsonable(plain) == plain
    assert csv_cell(None) == "" and csv_cell(False) == "False" and csv_cell(0.1) == "0.1"
    assert csv_cell(np.float64(0.1)) == "0.1" and csv_cell(np.int64(7)) == "7"
    assert csv_cell([1, {"a": 2}]) == '[1, {"a": 2}]'
    assert flatten_config({"a": 1, "config.b": 0}, {"b": 2, "c": 3}) == {
        "a": 1,
        "config.b": 0,
        "config.c": 3,
    }
    deep = []
    node = deep
    for _ in range(100):
        node.append([])
        node = node[0]
    json.dumps(to_jsonable(deep))  # deep nesting ends in a repr, not a RecursionError


ROWS = [{"epoch": 1, "acc": 0.5}, {"epoch": 2, "acc": 0.6, "bracket": 1}]


def test_results_table_with_pandas():
    import pandas as pd  # in the [test] extra: this test runs, never skips

    table = results_table(ROWS)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["epoch", "acc", "bracket"]
    assert table["acc"].tolist() == [0.5, 0.6]
    assert math.isnan(table["bracket"][0])
    empty = results_table([])
    assert isinstance(empty, pd.DataFrame) and len(empty) == 0


def test_results_table_without_pandas(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    table = results_table(iter(ROWS))
    assert table == ROWS
    assert table[0] is not ROWS[0]  # copies
    assert results_table([]) == []


def test_a_batch_of_rows_widens_the_csv_once_and_keeps_every_row_in_order(tmp_path, monkeypatch):
    writer = ResultsWriter(tmp_path)
    writer.write(make_row(0, 1, 0.5), {"lr": 0.1})
    widened = []
    widen = ResultsWriter._widen
    monkeypatch.setattr(
        ResultsWriter, "_widen", lambda self, h, r: (widened.append(h), widen(self, h, r))
    )
    rows = [make_row(0, 2, 0.6), make_row(1, 1, 0.4), make_row(1, 2, 0.7)]
    rows[0]["extra_a"] = 1
    rows[2]["extra_b"] = 2
    writer.write_many([(rows[0], {"lr": 0.1}), (rows[1], {"lr": 0.2}), (rows[2], {"lr": 0.2})])
    writer.close()
    assert len(widened) == 1 and widened[0][-2:] == ["extra_a", "extra_b"]
    with open(writer.csv_path, newline="") as f:
        table = list(csv.DictReader(f))
    assert [(r["task_id"], r["epoch"]) for r in table] == [
        ("0", "1"),
        ("0", "2"),
        ("1", "1"),
        ("1", "2"),
    ]
    assert [r["extra_a"] for r in table] == ["", "1", "", ""]
    assert [r["extra_b"] for r in table] == ["", "", "", "2"]
    assert [r["task_id"] for r in read_jsonl(writer.jsonl_path)] == [0, 0, 1, 1]


@pytest.mark.parametrize(
    "tricky",
    ["plain", 'a "quoted", comma', "two\nlines", "carriage\rreturn", ""],
    ids=["plain", "quotes", "newline", "cr", "empty"],
)
def test_widening_keeps_every_cell_whatever_the_cells_hold(tmp_path, tricky):
    # Widening pads each earlier line by text replacement unless a cell spans lines;
    # either way the file must read back as the rows written, padded with empty cells.
    with ResultsWriter(tmp_path) as writer:
        writer.write({"note": tricky}, None)  # one column: an empty cell is written '""'
        writer.write({"note": "x", "a": tricky}, None)
        writer.write({"note": tricky, "b": 1}, {"lr": 0.5})
        writer.write({"note": "y", "a": "z"}, None)
    assert read_csv(tmp_path / "results.csv") == [
        ["note", "a", "b", "config.lr"],
        [tricky, "", "", ""],
        ["x", tricky, "", ""],
        [tricky, "", "1", "0.5"],
        ["y", "z", "", ""],
    ]
    assert read_jsonl(tmp_path / "results.jsonl")[0] == {"note": tricky}


def test_a_resumed_writer_widens_rows_whose_cells_span_lines(tmp_path):
    records = [({"note": "two\nlines"}, None), ({"note": "one"}, None)]
    with ResultsWriter(tmp_path, records=records) as writer:
        writer.write({"note": "z", "extra": 1}, None)
    assert read_csv(tmp_path / "results.csv") == [
        ["note", "extra"],
        ["two\nlines", ""],
        ["one", ""],
        ["z", "1"],
    ]


def test_the_evaluator_csv_keeps_a_cell_with_a_carriage_return(tmp_path):
    from scheduler.results.evaluations import EvaluationsCsv

    out = EvaluationsCsv(tmp_path / "results.csv")
    out.write([{"id": 1, "note": "carriage\rreturn"}])
    out.write([{"id": 2, "note": "x", "extra": "two\nlines"}])  # widens the file
    out.write([{"id": 3, "note": "\r"}])
    assert read_csv(tmp_path / "results.csv") == [
        ["id", "note", "extra"],
        ["1", "carriage\rreturn", ""],
        ["2", "x", "two\nlines"],
        ["3", "\r", ""],
    ]


def test_a_widening_after_a_torn_csv_line_keeps_the_next_row_on_its_own_line(tmp_path):
    # An append that failed halfway (a full disk) leaves a line without its end; the
    # widening that follows must not run the first new row into it.
    writer = ResultsWriter(tmp_path)
    writer.write({"a": 1, "b": 2}, None)
    writer._csv.write("3,")  # what a failed write left
    writer._csv.flush()
    writer.write({"a": 4, "c": 5}, None)
    writer.close()
    assert read_csv(tmp_path / "results.csv") == [
        ["a", "b", "c"],
        ["1", "2", ""],
        ["3", "", ""],
        ["4", "", "5"],
    ]


def test_write_many_takes_any_iterable_of_rows(tmp_path):
    with ResultsWriter(tmp_path) as writer:
        writer.write_many((make_row(0, i, 0.1 * i), {"lr": 0.1}) for i in range(1, 101))
    assert len(read_csv(tmp_path / "results.csv")) == 101
    assert len(read_jsonl(tmp_path / "results.jsonl")) == 100
