"""``scheduler.results()`` and results.csv with nested configs (issue 16): one row per
report, every hyperparameter a column, nested ones with dotted names."""

from __future__ import annotations

import builtins
import csv
import json
from pathlib import Path

import pytest

import scheduler as sch
from scheduler.results.flatten import flatten_config, flatten_values


@sch.obj(width=sch.Int(4, 8))
class Net:
    def __init__(self, width):
        self.width = width


@sch.args(
    lr=sch.Real(0.01, 0.1),
    opt={"momentum": sch.Categorical(0.0, 0.9), "name": "sgd"},
    net=sch.Categorical("linear", Net()),
    sizes=[sch.Int(1, 3), 16],
    epochs=2,
)
def train_fn(args, reporter):
    for epoch in (1, 2):
        reporter(epoch=epoch, accuracy=args.lr * epoch, lr=args.lr)


def _run(tmp_path=None):
    s = sch.FIFOScheduler(
        train_fn, num_trials=6, backend="thread", progress=False, output_dir=tmp_path
    )
    s.run()
    assert s.join_jobs(timeout=60)
    return s


def test_flatten_names_nested_dicts_and_keeps_lists():
    config = {"lr": 0.1, "opt": {"momentum": 0.9}, "net": {"choice": 1, "value": {"width": 5}}}
    assert flatten_values({**config, "sizes": [2, None], "empty": {}}) == {
        "lr": 0.1,
        "opt.momentum": 0.9,
        "net.choice": 1,
        "net.value.width": 5,
        "sizes": [2, None],
        "empty": {},
    }
    row = flatten_config({"lr": "reported", "epoch": 1}, config)
    assert row["lr"] == "reported" and row["config.lr"] == 0.1  # reported keys never clash
    assert row["config.net.value.width"] == 5


def test_results_is_a_dataframe_with_dotted_hyperparameter_columns():
    pd = pytest.importorskip("pandas")
    s = _run()
    frame = s.results()
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == s.history.num_reports == 12
    for column in ("config.lr", "config.opt.momentum", "config.sizes", "config.net"):
        assert column in frame.columns
    assert "config.opt.name" not in frame.columns  # a constant, not a hyperparameter
    assert "config.opt" not in frame.columns
    for _, row in frame.iterrows():
        config = s.config_history[row["task_id"]]
        assert row["config.lr"] == config["lr"] == row["lr"]
        assert row["config.opt.momentum"] == config["opt"]["momentum"]
    picked_net = frame[frame["config.net.choice"] == 1]
    assert picked_net["config.net.value.width"].between(4, 8).all()


def test_results_without_pandas_is_a_list_of_dicts(monkeypatch):
    s = _run()
    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("no pandas here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    rows = s.results()
    assert isinstance(rows, list) and len(rows) == 12
    assert all(isinstance(row, dict) and "config.opt.momentum" in row for row in rows)
    assert rows[0]["config.sizes"] == s.config_history[0]["sizes"]


def test_results_csv_has_the_same_dotted_columns(tmp_path):
    s = _run(tmp_path)
    run_dir = Path(s.run_dir)
    with open(run_dir / "results.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 12
    assert {"config.lr", "config.opt.momentum", "config.sizes"} <= set(table[0])
    assert json.loads(table[0]["config.sizes"]) == s.config_history[0]["sizes"]
    lines = (run_dir / "results.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["config.opt.momentum"] == s.config_history[0]["opt"]["momentum"]
