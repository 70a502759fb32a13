"""MMARExecutor against a fake training program (a stdlib Python script): job folders,
the applied config, GPUs and MMAR_ROOT in the environment, failures, report lines, and
an abort that kills the whole process group."""

from __future__ import annotations

import json
import os
import textwrap
import time

import pytest
from _procs import live_with

from scheduler.automl import (
    Context,
    ContextKey,
    Controller,
    Engine,
    HyperbandController,
    MMARExecutor,
    MMARHandler,
    MMARPropKey,
    parse_workers,
)

MODES = ["ok", "exit3", "nostats", "hang", "lines", "badline", "tree", "fdreport"]
LR = "lr.float.search[0]"
MODE = "net.enum.train.model.search[0]"

FAKE_TRAIN = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    root = os.environ["MMAR_ROOT"]
    with open(os.path.join(root, "config", "config_train.json")) as f:
        cfg = json.load(f)
    mode = cfg["train"]["model"]["args"]["mode"]
    print("starting", mode, flush=True)
    stats = {
        "best_validation_metric": cfg["learning_rate"] * 10,
        "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "mmar_root": root,
        "cwd": os.getcwd(),
        "has_search": "search" in cfg,
    }
    if mode == "exit3":
        print("something went wrong", flush=True)
        sys.exit(3)
    if mode == "hang":
        child = subprocess.Popen(["sleep", "60"])
        with open(os.path.join(root, "pids"), "w") as f:
            f.write(f"{os.getpid()} {child.pid}")
        time.sleep(60)
    if mode == "lines":
        for epoch in (1, 2, 3):
            line = {"epoch": epoch, "best_validation_metric": epoch / 10}
            print("[scheduler] " + json.dumps(line), flush=True)
    if mode == "badline":
        print("[scheduler] {not json", flush=True)
        time.sleep(30)
    if mode == "tree":
        # a process tree that shrugs SIGTERM off: only the SIGKILL after the grace ends it
        import signal
        def on_term(signum, frame):
            print("got SIGTERM", flush=True)
        signal.signal(signal.SIGTERM, on_term)
        print("a line on stderr", file=sys.stderr, flush=True)
        code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
        children = [subprocess.Popen([sys.executable, "-c", code, "mmar-tree-marker"])
                    for _ in range(2)]
        with open(os.path.join(root, "pids"), "w") as f:
            f.write(" ".join(str(p) for p in [os.getpid()] + [c.pid for c in children]))
        print("tree started", flush=True)
        while True:
            time.sleep(0.1)
    if mode == "fdreport":
        import scheduler
        for epoch in (1, 2):
            scheduler.report(epoch=epoch, best_validation_metric=epoch / 4)
    if mode != "nostats":
        with open(os.path.join(root, "train_stats.json"), "w") as f:
            json.dump(stats, f)
    """
)


def make_template(tmp_path):
    root = tmp_path / "mmar"
    (root / "config").mkdir(parents=True)
    (root / "commands").mkdir()
    config = {
        "learning_rate": 0.01,
        "search": [
            {"domain": "lr", "type": "float", "args": "learning_rate", "targets": [0.01, 0.1]}
        ],
        "train": {
            "model": {
                "name": "Fake",
                "args": {"mode": "ok"},
                "search": [
                    {
                        "domain": "net",
                        "type": "enum",
                        "args": "mode",
                        "targets": [[m] for m in MODES],
                    }
                ],
            }
        },
    }
    (root / "config" / "config_train.json").write_text(json.dumps(config))
    (root / "fake_train.py").write_text(FAKE_TRAIN)
    (root / "commands" / "automl_train_round.sh").write_text(
        'set -e\ncd "$MMAR_ROOT"\nexec "$PYTHON" "$MMAR_ROOT/fake_train.py"\n'
    )
    return root


class ListController(Controller):
    """Recommends the given (lr, mode) pairs, all at once."""

    def __init__(self, pairs):
        super().__init__()
        self.pairs = pairs

    def set_search_space(self, space, ctx):
        self.space = space

    def initial_recommendation(self, ctx):
        return [self.make_recommendation({LR: lr, MODE: MODES.index(m)}) for lr, m in self.pairs]

    def refine_recommendation(self, outcome, ctx):
        return []


def run(tmp_path, pairs, workers="0:1", executor_args=None, **engine_args):
    root = make_template(tmp_path)
    ctx = Context()
    ctx.set_prop(MMARPropKey.MMAR_ROOT, str(root))
    ctx.set_prop(MMARPropKey.RUN_ID, "t")
    executor_args = {"kill_grace": 0.5, **(executor_args or {})}
    engine = Engine(
        parse_workers(workers),
        ListController(pairs),
        MMARExecutor(poll_interval=0.05, remove_search_augs=True, **executor_args),
        [MMARHandler(num_mmars_to_keep=10)],
        job_poll_interval=0.05,
        admin_port=None,
        **engine_args,
    )
    engine.run(ctx)
    engine.shutdown(ctx)
    jobs = {j["rec_id"]: j for j in engine.jobs()}
    return engine, jobs, root / "automl" / "t"


def test_jobs_run_in_cloned_folders_with_their_gpus(tmp_path):
    _engine, jobs, run_root = run(tmp_path, [(0.02, "ok"), (0.05, "ok"), (0.08, "ok")], "0,1:2,3")
    assert [jobs[i]["status"] for i in (1, 2, 3)] == ["completed"] * 3
    gpus = {"W1": "0,1", "W2": "2,3"}
    for rec_id, lr in ((1, 0.02), (2, 0.05), (3, 0.08)):
        job = jobs[rec_id]
        folder = run_root / job["job_name"]
        stats = json.loads((folder / "train_stats.json").read_text())
        assert job["score"] == pytest.approx(lr * 10)
        assert stats["cuda"] == gpus[job["worker"]]
        assert stats["mmar_root"] == str(folder) == stats["cwd"]
        assert stats["has_search"] is False  # remove_search_augs
        applied = json.loads((folder / "config" / "config_train.json").read_text())
        assert applied["learning_rate"] == lr
        assert "starting ok" in (folder / "log.txt").read_text()
        assert not (folder / "automl").exists()  # the run folders are not cloned
        assert (folder / "models").is_dir()
    assert (run_root / "config_train.json").exists()


def test_a_non_zero_exit_or_missing_stats_fails_the_job_and_the_run_goes_on(tmp_path):
    _, jobs, _ = run(tmp_path, [(0.02, "exit3"), (0.03, "nostats"), (0.05, "ok")])
    assert jobs[1]["status"] == "failed" and jobs[1]["score"] == -1e6
    assert "exited with code 3" in jobs[1]["reason"]
    assert "something went wrong" in jobs[1]["reason"]
    assert jobs[2]["status"] == "failed" and "wrote no stats file" in jobs[2]["reason"]
    assert jobs[3]["status"] == "completed"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_abort_kills_the_whole_process_group(tmp_path):
    t0 = time.monotonic()
    _, jobs, run_root = run(tmp_path, [(0.02, "hang"), (0.05, "ok")], max_job_run_time=1.5)
    assert time.monotonic() - t0 < 30
    assert jobs[1]["status"] == "aborted" and "max_job_run_time" in jobs[1]["reason"]
    assert jobs[2]["status"] == "completed"
    pids = [int(p) for p in (run_root / jobs[1]["job_name"] / "pids").read_text().split()]
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids), "a process of the aborted job is still alive"


def _group_members(pgid: int) -> list[int]:
    """Live processes of the process group ``pgid`` (read from /proc)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def test_an_aborted_job_leaves_no_process_and_log_txt_has_its_output(tmp_path):
    _, jobs, run_root = run(tmp_path, [(0.02, "tree"), (0.05, "ok")], max_job_run_time=1.5)
    assert jobs[1]["status"] == "aborted" and "max_job_run_time" in jobs[1]["reason"]
    assert jobs[1]["score"] == -1e6 and jobs[2]["status"] == "completed"
    folder = run_root / jobs[1]["job_name"]
    command, *children = [int(p) for p in (folder / "pids").read_text().split()]
    # the job's command leads its own process group: nothing of it is left, although
    # every process of the tree ignored SIGTERM
    deadline = time.monotonic() + 5
    while (_group_members(command) or live_with("mmar-tree-marker")) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert _group_members(command) == [], "a process of the aborted job's group is alive"
    assert live_with("mmar-tree-marker") == []
    assert not any(_alive(p) for p in [command, *children])
    # log.txt holds stdout and stderr, in order, and the SIGTERM came before the SIGKILL
    log = (folder / "log.txt").read_text().splitlines()
    assert log[:3] == ["starting tree", "a line on stderr", "tree started"]
    assert "got SIGTERM" in log[3:]
    assert not (folder / "stdout.log").exists() and not (folder / "stderr.log").exists()
    assert "starting ok" in (run_root / jobs[2]["job_name"] / "log.txt").read_text()


def test_a_failed_command_quotes_its_output_and_console_shows_it(tmp_path, capfd):
    _, jobs, run_root = run(
        tmp_path, [(0.02, "exit3"), (0.05, "ok")], executor_args={"msg_destination": "console"}
    )
    assert jobs[1]["status"] == "failed" and jobs[1]["score"] == -1e6
    assert "exited with code 3" in jobs[1]["reason"]
    assert "starting exit3\nsomething went wrong" in jobs[1]["reason"]
    assert jobs[2]["status"] == "completed"
    out = capfd.readouterr().out
    assert "starting exit3" in out and "starting ok" in out
    assert not (run_root / jobs[2]["job_name"] / "log.txt").exists()  # console only


def test_a_python_training_reports_with_scheduler_report(tmp_path):
    engine, jobs, _ = run(tmp_path, [(0.02, "fdreport")])
    assert jobs[1]["status"] == "completed", jobs[1]["reason"]
    rows = engine.history.training_history[0]
    assert [(r["epoch"], r["score"]) for r in rows] == [(1, 0.25), (2, 0.5)]


def test_report_lines_reach_the_runtime(tmp_path):
    engine, jobs, _ = run(tmp_path, [(0.02, "lines"), (0.03, "badline")])
    # the score is the stats file's (lr * 10), the reports are the per-epoch values
    assert jobs[1]["status"] == "completed" and jobs[1]["score"] == pytest.approx(0.2)
    rows = engine.history.training_history[0]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert [r["score"] for r in rows] == [0.1, 0.2, 0.3]
    assert jobs[2]["status"] == "failed"
    assert "output line 2 is a malformed report" in jobs[2]["reason"]  # log.txt's line 2
    assert "[scheduler] {not json" in jobs[2]["reason"]


def test_the_executor_needs_the_run_folder(tmp_path):
    root = make_template(tmp_path)
    ctx = Context()
    ctx.set_prop(MMARPropKey.MMAR_ROOT, str(root))
    engine = Engine(
        parse_workers("0"),
        ListController([(0.02, "ok")]),
        MMARExecutor(),
        [],
        admin_port=None,
        job_poll_interval=0.05,
    )
    engine.run(ctx)
    (job,) = engine.jobs()
    assert job["status"] == "failed" and "_runRoot" in job["reason"]
    assert ctx.get_prop(ContextKey.SEARCH_SPACE) is not None


def test_executor_argument_errors():
    with pytest.raises(ValueError, match="msg_destination must be one of"):
        MMARExecutor(msg_destination="printer")
    with pytest.raises(ValueError, match="poll_interval must be a positive number"):
        MMARExecutor(poll_interval=0)


EPOCHS_TRAIN = textwrap.dedent(
    """
    import json, os, time
    root = os.environ["MMAR_ROOT"]
    with open(os.path.join(root, "config", "config_train.json")) as f:
        quality = json.load(f)["learning_rate"] * 10
    with open(os.path.join(root, "pids"), "w") as f:
        f.write(str(os.getpid()))
    for epoch in range(1, 10):
        time.sleep(0.02)
        line = {"epoch": epoch, "best_validation_metric": quality * epoch / 9}
        print("[scheduler] " + json.dumps(line), flush=True)
    with open(os.path.join(root, "train_stats.json"), "w") as f:
        json.dump({"best_validation_metric": quality}, f)
    """
)


def test_a_hyperband_controller_stops_commands_at_rungs(tmp_path):
    root = tmp_path / "mmar"
    (root / "config").mkdir(parents=True)
    (root / "commands").mkdir()
    config = {
        "learning_rate": 0.01,
        "search": [
            {"domain": "lr", "type": "float", "args": "learning_rate", "targets": [0.01, 0.1]}
        ],
    }
    (root / "config" / "config_train.json").write_text(json.dumps(config))
    (root / "train.py").write_text(EPOCHS_TRAIN)
    (root / "commands" / "automl_train_round.sh").write_text(
        'cd "$MMAR_ROOT"\nexec "$PYTHON" train.py\n'
    )
    ctx = Context()
    ctx.set_prop(MMARPropKey.MMAR_ROOT, str(root))
    ctx.set_prop(MMARPropKey.RUN_ID, "hb")
    controller = HyperbandController(max_rounds=6, max_t=9, grace_period=1, reduction_factor=3)
    engine = Engine(
        parse_workers("0:1"),
        controller,
        MMARExecutor(kill_grace=0.5),
        [MMARHandler(num_mmars_to_keep=10)],
        job_poll_interval=0.05,
        admin_port=None,
    )
    engine.run(ctx)
    engine.shutdown(ctx)
    jobs = engine.jobs()
    statuses = [j["status"] for j in jobs]
    assert len(jobs) == 6 and "stopped" in statuses and "completed" in statuses
    for job in jobs:
        folder = root / "automl" / "hb" / job["job_name"]
        assert not _alive(int((folder / "pids").read_text()))
        if job["status"] == "stopped":  # at a rung: its score is its last report's
            assert 0 < job["score"] < max(j["score"] for j in jobs)
