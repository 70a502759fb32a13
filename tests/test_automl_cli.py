"""``config_automl.json`` parsing, and ``python -m scheduler.automl`` on examples/automl/
end to end: job folders, stats log, leaderboard; the admin client lists and stops a run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scheduler.automl import (
    MMARExecutor,
    MMARHandler,
    ReinforcementController,
    SearcherController,
    load_automl_config,
)
from scheduler.automl.cli import main as cli_main
from scheduler.automl.config import fill_placeholders

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "automl"


def child_env() -> dict:
    path = os.environ.get("PYTHONPATH")
    return dict(
        os.environ,
        PYTHONPATH=str(REPO) + (os.pathsep + path if path else ""),
        MPLBACKEND="Agg",
    )


def write(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


# -- config_automl.json ---------------------------------------------------------------
def test_placeholders_are_filled_from_set_values():
    data = {"a": "{trainconf}", "b": ["x{n}y", "{rounds}", "{flag}", "{w}"], "c": 3}
    out = fill_placeholders(
        data, {"trainconf": "t.json", "n": "5", "rounds": "8", "flag": "true", "w": "0:0"}
    )
    assert out == {"a": "t.json", "b": ["x5y", 8, True, "0:0"], "c": 3}
    with pytest.raises(
        ValueError, match=r"f.json: \$.b\[0\]: placeholder \{n\} has no value; pass --set n=..."
    ):
        fill_placeholders(data, {"trainconf": "t"}, location="f.json")


def test_the_example_config_builds_clara_components(tmp_path):
    config = load_automl_config(
        str(EXAMPLE / "config" / "config_automl.json"), {"trainconf": "config_train.json"}
    )
    assert isinstance(config.handlers[0], MMARHandler)
    assert config.handlers[0].train_config_file == "config_train.json"
    assert isinstance(config.executor, MMARExecutor) and config.executor.remove_search_augs
    assert isinstance(config.controller, SearcherController)
    rl = load_automl_config(
        str(EXAMPLE / "config" / "config_automl_rl.json"), {"trainconf": "c.json"}
    )
    assert isinstance(rl.controller, ReinforcementController) and rl.controller.max_rounds == 8


def test_a_path_component_is_imported(tmp_path, monkeypatch):
    (tmp_path / "byoc_ctrl.py").write_text(
        "from scheduler.automl import SearcherController\n"
        "class RandomController(SearcherController):\n"
        "    def __init__(self, max_rounds):\n"
        "        super().__init__('random', max_rounds=max_rounds)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(
        tmp_path / "a.json",
        {
            "executor": {"name": "MMARExecutor"},
            "controller": {
                "name": "random",
                "path": "byoc_ctrl.RandomController",
                "args": {"max_rounds": "{r}"},
            },
        },
    )
    config = load_automl_config(str(path), {"r": "3"})
    assert (
        type(config.controller).__name__ == "RandomController" and config.controller.max_rounds == 3
    )


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"controller": {"name": "SearcherController"}}, r"\$.executor: missing"),
        ({"executor": {"name": "MMARExecutor"}}, r"\$.controller: missing"),
        (
            {"executor": {"name": "NGCExecutor"}, "controller": {"name": "SearcherController"}},
            r"\$.executor.name: unknown executor 'NGCExecutor'; built-in executors: MMARExecutor",
        ),
        (
            {
                "executor": {"name": "MMARExecutor", "args": {"poll": 1}},
                "controller": {"name": "SearcherController"},
            },
            r"\$.executor.args: MMARExecutor has no argument\(s\) \['poll'\]",
        ),
        (
            {"executor": {"name": "MMARExecutor"}, "controller": {"path": "no_such_module.C"}},
            r"\$.controller.path: cannot import module 'no_such_module'",
        ),
        (
            {
                "handlers": [{"name": "MMARHandler", "args": {"num_mmars_to_keep": 0}}],
                "executor": {"name": "MMARExecutor"},
                "controller": {"name": "SearcherController"},
            },
            r"\$.handlers\[0\]: cannot build MMARHandler: num_mmars_to_keep must be a positive",
        ),
        (
            {
                "executor": {"name": "MMARExecutor"},
                "controller": {"name": "SearcherController"},
                "extra": 1,
            },
            r"unknown section\(s\) \['extra'\]",
        ),
        (
            {
                "executor": {"name": "MMARExecutor"},
                "controller": {"name": "SearcherController"},
                "engine": {"poll": 1},
            },
            r"\$.engine: unknown Engine argument\(s\) \['poll'\]",
        ),
    ],
    ids=[
        "no-executor",
        "no-controller",
        "unknown-name",
        "unknown-arg",
        "bad-path",
        "bad-value",
        "bad-section",
        "bad-engine",
    ],
)
def test_config_errors_name_the_file_the_path_and_the_rule(tmp_path, data, error):
    path = write(tmp_path / "config_automl.json", data)
    with pytest.raises(ValueError, match=error) as info:
        load_automl_config(str(path), {})
    assert str(path) in str(info.value)


def test_cli_argument_errors(tmp_path, capsys):
    shutil.copytree(EXAMPLE, tmp_path / "t")
    assert cli_main(["train", "-m", str(tmp_path / "t"), "--set", "workers=0"]) == 2
    assert "--set run_id=... is required" in capsys.readouterr().err
    assert cli_main(["train", "-m", str(tmp_path / "t"), "--set", "run_id=x", "workers=0::1"]) == 2
    assert "worker 2 has an empty GPU id" in capsys.readouterr().err
    assert (
        cli_main(["train", "-m", str(tmp_path / "nowhere"), "--set", "run_id=x", "workers=0"]) == 2
    )
    assert cli_main(["frobnicate"]) == 2


# -- end to end ---------------------------------------------------------------------------
def example_copy(tmp_path, max_rounds: int) -> Path:
    template = tmp_path / "automl_example"
    shutil.copytree(EXAMPLE, template, ignore=shutil.ignore_patterns("automl", "__pycache__"))
    path = template / "config" / "config_automl.json"
    config = json.loads(path.read_text())
    config["controller"]["args"]["max_rounds"] = max_rounds
    config["engine"] = {"job_poll_interval": 0.2}
    path.write_text(json.dumps(config))
    return template


TRAIN = [sys.executable, "-m", "scheduler.automl", "train"]


@pytest.mark.slow
def test_cli_runs_the_example_end_to_end(tmp_path):
    template = example_copy(tmp_path, max_rounds=4)
    done = subprocess.run(
        [
            *TRAIN,
            "-m",
            str(template),
            "--set",
            "run_id=ci",
            "trainconf=config_train.json",
            "workers=0:0",
        ],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "leaderboard:" in done.stdout and "RANK" in done.stdout, done.stdout
    run_root = template / "automl" / "ci"
    stats = json.loads((run_root / "automl_stats_log.json").read_text())
    assert stats["end_time"] is not None
    jobs = stats["jobs"]
    assert 1 <= len(jobs) <= 4
    assert all(j["status"] == "completed" and 0.0 < j["score"] <= 1.0 for j in jobs)
    board = (run_root / "leaderboard.csv").read_text().splitlines()
    assert len(board) == len(jobs) + 1
    kept = [p for p in run_root.iterdir() if p.is_dir()]
    assert 1 <= len(kept) <= 3  # num_mmars_to_keep=3
    for folder in kept:
        assert sorted(p.name for p in folder.iterdir()) == [
            "config",
            "log.txt",
            "models",
            "train_stats.json",
        ]
        applied = json.loads((folder / "config" / "config_train.json").read_text())
        assert "search" not in applied and "apply" not in json.dumps(applied)
        assert (folder / "models" / "model.npz").exists()
    assert (run_root / "results.csv").exists() and (run_root / "training_curves.png").exists()
    assert not (run_root / "admin.json").exists()


@pytest.mark.slow
def test_cli_admin_client_lists_workers_and_stops_the_run(tmp_path):
    template = example_copy(tmp_path, max_rounds=500)
    run_root = template / "automl" / "mid"
    proc = subprocess.Popen(
        [*TRAIN, "-m", str(template), "--set", "run_id=mid", "workers=0:0", "--quiet"],
        cwd=tmp_path,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (run_root / "leaderboard.csv").exists():  # a first job has ended
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no job ended"
            time.sleep(0.1)
        admin = [sys.executable, "-m", "scheduler.automl", "admin", "--run-dir", str(run_root)]
        listed = subprocess.run(
            [*admin, "list_workers"], env=child_env(), capture_output=True, text=True, timeout=60
        )
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[0].split()[:4] == ["NAME", "GPUS", "STATE", "JOBS"]
        assert [line.split()[0] for line in lines[1:]] == ["W1", "W2"]
        # interactive: several commands in one client
        session = subprocess.run(
            admin,
            input="summary\nstop\nbye\n",
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Top MMARs to keep: 3" in session.stdout, session.stderr
        assert "stopping the run" in session.stdout, session.stderr
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert "stop reason: Engine: the admin stop command" in out
    stats = json.loads((run_root / "automl_stats_log.json").read_text())
    assert stats["stop_reason"] == "Engine: the admin stop command"
    assert 1 <= len(stats["jobs"]) < 500
