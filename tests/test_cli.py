"""The command line: ``python -m scheduler`` and its ``demo`` (a tiny, fast run of it)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

import scheduler
from scheduler.cli import demo
from scheduler.cli.main import USAGE, main


def _python_m_scheduler(*argv: str) -> subprocess.CompletedProcess:
    root = os.path.dirname(os.path.dirname(os.path.abspath(scheduler.__file__)))
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    )
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_python_m_scheduler_help():
    done = _python_m_scheduler("--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(USAGE)
    assert "demo" in done.stdout and "[examples]" in done.stdout


def test_unknown_command_exits_2_with_the_usage():
    done = _python_m_scheduler("tune")
    assert done.returncode == 2
    assert "unknown command 'tune'" in done.stderr and USAGE in done.stderr
    assert done.stdout == ""


def test_no_command_prints_the_usage_and_exits_2(capsys):
    assert main([]) == 2
    assert capsys.readouterr().out.startswith(USAGE)
    assert main(["-h"]) == 0


def test_demo_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--num-trials", "--workers", "--output", "--seed", "--backend"):
        assert option in out


def test_demo_without_scikit_learn_names_the_extra(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn -> ImportError
    assert demo.main(["--output", str(tmp_path / "out")]) == 2
    assert "scheduler[examples]" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_demo_tiny_run(tmp_path, capsys):
    """4 configs on the thread backend: each pauses at epoch 1 (rung 1), the best of
    them is promoted and resumes from the model it saved in its checkpoint_dir."""
    output = tmp_path / "demo"
    argv = ["--num-trials", "4", "--workers", "1", "--backend", "thread"]
    assert demo.main([*argv, "--output", str(output), "--no-progress", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "done in" in out and "4 tasks" not in out  # promotions add tasks
    assert (output / "training_curves.png").stat().st_size > 0
    (results_line,) = [line for line in out.splitlines() if line.startswith("results: ")]
    results = results_line.removeprefix("results: ")
    assert results.startswith(str(output)) and results.endswith("results.csv")
    with open(results, newline="") as f:
        rows = list(csv.DictReader(f))
    configs = {row["config_id"] for row in rows}
    assert configs == {"0", "1", "2", "3"}
    by_task: dict[str, list[int]] = {}
    for row in rows:
        by_task.setdefault(row["task_id"], []).append(int(row["epoch"]))
    resumed = [epochs for epochs in by_task.values() if epochs[0] > 1]
    assert resumed, f"no promoted task: {by_task}"
    # a promoted task continues after the epoch it paused at: no epoch is reported twice
    for epochs in resumed:
        assert epochs == list(range(epochs[0], epochs[0] + len(epochs)))
    # the best config is judged by its accuracy at the highest epoch it reached
    last: dict[str, tuple[int, float]] = {}
    for row in rows:
        epoch, accuracy = int(row["epoch"]), float(row["accuracy"])
        if row["config_id"] not in last or epoch >= last[row["config_id"]][0]:
            last[row["config_id"]] = (epoch, accuracy)
    best = max(accuracy for _, accuracy in last.values())
    assert f"best validation accuracy: {best:.4f}" in out
    models = list(output.rglob("model.pkl"))
    assert len(models) == 4
