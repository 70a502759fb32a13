"""``scheduler.Command`` trials: the spec, the config and environment a program gets,
reporting by ``scheduler.report`` and by ``[scheduler]`` stdout lines, logs, score files,
the fault matrix, checkpoint and resume, and what a run leaves behind (processes in
/proc, file descriptors in the driver)."""

from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest
from _procs import assert_none_left, open_fds

import scheduler as sch
from scheduler import space

PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_trial_program.py")
# digits only: it ends up in ``sleep 1000.<MARKER>``, so that tests can find leftovers
MARKER = f"{os.getpid()}{int.from_bytes(os.urandom(3), 'big')}"


def _fifo(command, **kw):
    kw.setdefault("num_trials", 2)
    kw.setdefault("resource", {"num_cpus": 1, "num_gpus": 0})
    kw.setdefault("total_resources", {"num_cpus": 2, "num_gpus": 0})
    kw.setdefault("reward_attr", "accuracy")
    kw.setdefault("time_attr", "epoch")
    kw.setdefault("progress", False)
    return sch.FIFOScheduler(command, **kw)


def _run(s, timeout=60):
    s.run()
    assert s.join_jobs(timeout=timeout), "join_jobs timed out"


def _records(s):
    return [s.history.tasks[t] for t in sorted(s.history.tasks)]


# -- the spec ------------------------------------------------------------------------


def test_command_carries_space_and_defaults_like_args():
    cmd = sch.Command(
        ["python", "train.py"], lr=space.Real(1e-4, 1e-1, log=True), epochs=9, _timeout=60
    )
    assert cmd.args.epochs == 9
    assert cmd.args.lr == pytest.approx(space.Real(1e-4, 1e-1, log=True).default)
    assert list(cmd.space.domains) == ["lr"]
    assert cmd.kwspaces == {"lr": cmd.kwvars["lr"]}
    assert cmd.options["timeout"] == 60.0 and cmd.options["kill_grace"] == 5.0
    cmd.update(wd=space.Real(0.0, 0.1))
    assert sorted(cmd.space.domains) == ["lr", "wd"]
    assert "_timeout=60.0" in repr(cmd)
    s = sch.HyperbandScheduler(cmd, num_trials=2, reward_attr="accuracy", progress=False)
    assert s.max_t == 9  # from the defaults, as for a train_fn
    assert s.backend == "command"


@pytest.mark.parametrize(
    "argv, kwargs, message",
    [
        ("python train.py", {}, "argv must be a non-empty list of strings"),
        ([], {}, "argv must be a non-empty list"),
        (["python", 3], {}, "argv must hold strings, got 3"),
        (["x"], {"_cwdd": "."}, "unknown Command option '_cwdd'"),
        (["x"], {"_timeout": 0}, "_timeout must be a positive number of seconds, got 0"),
        (["x"], {"_kill_grace": -1}, "_kill_grace must be a number of seconds >= 0, got -1"),
        (["x"], {"_env": {"A": 1}}, "_env must be a dict of str to str"),
        (["x"], {"_copy_from": "/no/such/folder"}, "_copy_from must be an existing folder"),
        (["x"], {"_merge_stderr": "yes"}, "_merge_stderr must be True or False, got 'yes'"),
        (["x"], {"task_id": 3}, "'task_id' is reserved"),
        (["x", "{lr!r}"], {}, "a template field must be a plain name"),
        (["x", "{lr"], {}, "is not a valid template"),
    ],
)
def test_command_errors_name_the_argument(argv, kwargs, message):
    with pytest.raises(ValueError) as info:
        sch.Command(argv, **kwargs)
    assert message in str(info.value)


def test_thread_backend_refuses_a_command():
    with pytest.raises(ValueError, match=r"backend='thread' cannot run a scheduler\.Command"):
        _fifo(sch.Command(["true"]), backend="thread")


def test_command_line_placement_and_templates():
    cmd = sch.Command(
        ["prog", "--learning-rate={lr:.3f}", "{epochs}", "--id={task_id}"],
        lr=space.Real(1e-3, 1e-1),
        epochs=9,
        name="net",
        flag=True,
        layers=[1, 2],
    )
    values = {"lr": 0.012345, "epochs": 9, "name": "net", "flag": True, "layers": [1, 2]}
    argv = cmd.command_line(values, {"task_id": 4, "resume_from": None})
    assert argv == [
        "prog",
        "--learning-rate=0.012",
        "9",
        "--id=4",
        "--name",
        "net",
        "--flag",
        "true",
        "--layers",
        "[1, 2]",
    ]
    with pytest.raises(ValueError, match=r"argv template \{nope\}"):
        sch.Command(["prog", "{nope}"]).command_line({}, {})
    off = sch.Command(["prog"], x=1, _config_args=False)
    assert off.command_line({"x": 1}, {}) == ["prog"]


# -- running: config, environment, logs ----------------------------------------------


def test_program_gets_config_as_args_and_environment(tmp_path):
    cmd = sch.Command(
        ["python", PROGRAM, "--case", "env"],
        x=space.Real(0.0, 1.0),
        epochs=3,
        _env={"EXTRA_VAR": "hello"},
        _cwd=tmp_path,
    )
    s = _fifo(cmd, num_trials=1, output_dir=tmp_path / "out")
    _run(s)
    (record,) = _records(s)
    assert record.status == "completed", record.reason
    (row,) = s.training_history[0]
    config = json.loads(row["config"])
    assert config == {"x": s.config_history[0]["x"], "epochs": 3}
    assert f"--x {config['x']!r}" in row["argv"] or f"--x {json.dumps(config['x'])}" in row["argv"]
    assert "--epochs 3" in row["argv"]
    assert row["cwd"] == str(tmp_path)
    assert row["checkpoint"].endswith("config_0") and os.path.isdir(row["checkpoint"])
    assert row["resume"] == "" and row["cuda"] == "" and row["extra"] == "hello"
    assert row["ids"] == [0, 0]
    logs = tmp_path / "out" / "latest" / "tasks" / "0"
    assert (logs / "stdout.log").exists() and (logs / "stderr.log").exists()


def test_program_sees_its_gpus_in_cuda_visible_devices():
    cmd = sch.Command(["python", PROGRAM, "--case", "env"], x=space.Real(0.0, 1.0))
    s = _fifo(
        cmd,
        num_trials=2,
        resource={"num_cpus": 1, "num_gpus": 1},
        total_resources={"num_cpus": 2, "num_gpus": 2},
    )
    _run(s)
    for record in _records(s):
        assert record.status == "completed", record.reason
        (row,) = s.training_history[record.task_id]
        assert row["cuda"] in ("0", "1")


def test_stdout_lines_report_and_other_output_goes_to_the_log(tmp_path):
    script = tmp_path / "train.sh"
    script.write_text(
        textwrap.dedent(
            """\
            #!/bin/sh
            for e in 1 2 3; do
              echo "training epoch $e"
              echo "[scheduler] {\\"epoch\\": $e, \\"accuracy\\": 0.$e}"
            done
            echo "a warning" >&2
            """
        )
    )
    script.chmod(0o755)
    s = _fifo(sch.Command([str(script)]), num_trials=1, output_dir=tmp_path / "out")
    _run(s)
    (record,) = _records(s)
    assert record.status == "completed", record.reason
    assert [(r["epoch"], r["accuracy"]) for r in s.training_history[0]] == [
        (1, 0.1),
        (2, 0.2),
        (3, 0.3),
    ]
    logs = tmp_path / "out" / "latest" / "tasks" / "0"
    assert "training epoch 2" in (logs / "stdout.log").read_text()
    assert (logs / "stderr.log").read_text() == "a warning\n"


def test_merge_stderr_logs_both_streams_in_one_and_quotes_them_on_failure(tmp_path):
    script = tmp_path / "train.sh"
    script.write_text(
        textwrap.dedent(
            """\
            #!/bin/sh
            echo "out 1"
            echo "err 1" >&2
            echo '[scheduler] {"epoch": 1, "acc": 0.5}'
            echo "err 2" >&2
            exit 4
            """
        )
    )
    script.chmod(0o755)
    cmd = sch.Command([str(script)], _merge_stderr=True, _score_key="acc")
    s = _fifo(cmd, num_trials=1, output_dir=tmp_path / "out")
    _run(s)
    (record,) = _records(s)
    assert record.status == "failed"
    assert "exited with code 4; output (last 4 lines):" in record.reason
    assert "out 1\nerr 1\n[scheduler]" in record.reason
    # the report's reward came from its _score_key entry
    assert [(r["epoch"], r["accuracy"]) for r in s.training_history[0]] == [(1, 0.5)]
    logs = tmp_path / "out" / "latest" / "tasks" / "0"
    assert (logs / "stdout.log").read_text().splitlines()[:2] == ["out 1", "err 1"]
    assert not (logs / "stderr.log").exists()


def test_command_task_writes_the_logs_it_is_given_and_echoes_them(tmp_path):
    from scheduler._decorator import Args
    from scheduler.runtime.backends.base import RETURNED, TaskSpec
    from scheduler.runtime.backends.command import CommandTask

    spec = TaskSpec(
        task_id=0,
        args=Args(x=1),
        reward_attr="accuracy",
        time_attr="epoch",
        require_time=False,
        checkpoint_dir=str(tmp_path / "ckpt"),
    )
    cmd = sch.Command(["sh", "-c", "echo one; echo two >&2"], _config_args=False)
    shown = []
    task = CommandTask(
        cmd,
        spec,
        lambda result: "continue",
        stdout_path=str(tmp_path / "logs" / "out.txt"),
        stderr_path=str(tmp_path / "logs" / "err.txt"),
        echo=shown.append,
    )
    assert task.run().kind == RETURNED
    assert (tmp_path / "logs" / "out.txt").read_text() == "one\n"
    assert (tmp_path / "logs" / "err.txt").read_text() == "two\n"
    assert b"".join(shown) == b"one\n"


def test_score_file_is_the_final_report(tmp_path):
    template = tmp_path / "template"
    (template / "commands").mkdir(parents=True)
    (template / "commands" / "train.py").write_text(
        textwrap.dedent(
            """\
            import json, os, sys
            lr = float(sys.argv[sys.argv.index("--lr") + 1])
            assert os.path.exists("../config.txt")  # the copy of the template
            with open("train_stats.json", "w") as f:
                json.dump({"best_validation_metric": 1 - lr, "total_epochs": 4}, f)
            """
        )
    )
    (template / "config.txt").write_text("x")
    cmd = sch.Command(
        ["python", "train.py"],
        lr=space.Real(0.0, 0.5),
        _copy_from=template,
        _cwd="commands",
        _score_file="train_stats.json",
        _score_key="best_validation_metric",
    )
    s = _fifo(cmd, num_trials=2, output_dir=tmp_path / "out", time_attr=None)
    _run(s)
    for record in _records(s):
        assert record.status == "completed", record.reason
        (row,) = s.training_history[record.task_id]
        assert row["accuracy"] == pytest.approx(1 - record.config["lr"])
        assert row["total_epochs"] == 4
    work = tmp_path / "out" / "latest" / "tasks" / "1" / "work"
    assert (work / "commands" / "train_stats.json").exists()
    assert (template / "commands" / "train.py").exists()
    assert not (template / "commands" / "train_stats.json").exists()  # the copy was used


def test_missing_score_file_fails_the_task(tmp_path):
    cmd = sch.Command(["true"], _score_file="stats.json")
    s = _fifo(cmd, num_trials=1, time_attr=None)
    _run(s)
    (record,) = _records(s)
    assert record.status == "failed"
    assert "exited 0 without writing its _score_file" in record.reason


def test_run_with_config_runs_the_command_once(tmp_path):
    cmd = sch.Command(["python", PROGRAM], x=space.Real(0.0, 1.0), epochs=2)
    s = _fifo(cmd, num_trials=1)
    value, reports = s.run_with_config({"x": 0.25})
    assert value is None
    assert [(r["epoch"], r["accuracy"]) for r in reports] == [(1, 0.35), (2, 0.45)]


# -- the fault matrix ------------------------------------------------------------------

FAULTS = {
    # case: (status, text in the reason)
    "ok_fd": ("completed", None),
    "ok_stdout": ("completed", None),
    "children": ("completed", None),
    "raise": ("failed", "RuntimeError: boom in the trial program"),
    "exit": ("failed", "the program exited with code 3"),
    "segfault": ("failed", "killed by SIGSEGV"),
    "sigkill": ("failed", "killed by SIGKILL"),
    "oom": ("failed", "MemoryError"),
    "hang": ("failed", "exceeded max_task_time"),
    "bad_report": ("failed", "ValueError: reported result has no reward_attr 'accuracy'"),
    "bad_value": ("failed", "must be a real number, got 'high'"),
    "malformed": ("failed", "stdout line 2 is a malformed report"),
    "close_fd": ("failed", "the report file descriptor"),
}


@pytest.fixture(scope="module")
def fault_run():
    """One run over every case of the matrix (grid search: each case once)."""
    cmd = sch.Command(
        ["python", PROGRAM],
        case=space.Categorical(*sorted(FAULTS)),
        marker=MARKER,
        _kill_grace=0.5,
    )
    s = _fifo(cmd, num_trials=len(FAULTS), searcher="grid", max_task_time=3.0)
    fds = open_fds()
    _run(s, timeout=120)
    return s, fds


@pytest.mark.parametrize("case", sorted(FAULTS))
def test_fault_matrix(case, fault_run):
    s, _ = fault_run
    (record,) = [r for r in _records(s) if r.config["case"] == case]
    status, text = FAULTS[case]
    assert record.status == status, record.reason
    if text is not None:
        assert text in record.reason
    if case == "raise":  # the program's traceback, its file and line
        assert "stderr (last" in record.reason
        assert "_trial_program.py" in record.reason


def test_fault_matrix_leaves_nothing_behind(fault_run):
    s, fds = fault_run
    assert_none_left(MARKER)
    assert open_fds() <= fds
    assert s.resources.can_acquire()


def test_a_stopped_stdout_program_gets_sigterm_then_sigkill(tmp_path):
    script = tmp_path / "stubborn.sh"
    script.write_text(
        textwrap.dedent(
            f"""\
            #!/bin/sh
            trap '' TERM
            sleep 1000.{MARKER}1 &
            e=1
            while true; do
              echo "[scheduler] {{\\"epoch\\": $e, \\"accuracy\\": 0.1}}"
              e=$((e+1))
              sleep 0.05
            done
            """
        )
    )
    script.chmod(0o755)
    s = _fifo(sch.Command([str(script)], _kill_grace=0.3), num_trials=None, time_out=0.5)
    _run(s)
    assert {r.status for r in _records(s)} == {"stopped"}
    assert_none_left(f"1000.{MARKER}1")


def test_command_timeout_option(tmp_path):
    cmd = sch.Command(["sleep", "30"], _timeout=0.3, _kill_grace=0.2)
    s = _fifo(cmd, num_trials=1)
    _run(s)
    (record,) = _records(s)
    assert record.status == "failed"
    assert "exceeded the Command's _timeout=0.3s" in record.reason


def test_missing_executable_fails_the_task():
    s = _fifo(sch.Command(["/no/such/program"]), num_trials=1)
    _run(s)
    (record,) = _records(s)
    assert record.status == "failed"
    assert "launch failed" in record.reason and "/no/such/program" in record.reason


# -- checkpoint and resume ---------------------------------------------------------------

RESUMABLE = textwrap.dedent(
    """\
    import os, sys
    import scheduler
    x = float(sys.argv[sys.argv.index("--x") + 1])
    folder = os.environ["SCHEDULER_CHECKPOINT_DIR"]
    state = os.path.join(folder, "epoch.txt")
    start = int(open(state).read()) if os.path.exists(state) else 0
    resume = scheduler.trial.resume_from()
    assert (resume or 0) == start, (resume, start)
    with open(os.path.join(folder, "starts.txt"), "a") as f:
        f.write(f"{start}\\n")
    for epoch in range(start + 1, 10):
        with open(state, "w") as f:
            f.write(str(epoch))
        scheduler.report(epoch=epoch, accuracy=x * epoch)
    """
)


def test_hyperband_promotion_pauses_and_resumes_commands_from_their_folder(tmp_path):
    script = tmp_path / "resumable.py"
    script.write_text(RESUMABLE)
    cmd = sch.Command(["python", str(script)], x=space.Real(0.1, 1.0), epochs=9)
    s = sch.HyperbandScheduler(
        cmd,
        type="promotion",
        num_trials=9,
        grace_period=1,
        reduction_factor=3,
        resource={"num_cpus": 1, "num_gpus": 0},
        total_resources={"num_cpus": 2, "num_gpus": 0},
        reward_attr="accuracy",
        time_attr="epoch",
        progress=False,
        output_dir=tmp_path / "out",
    )
    _run(s, timeout=120)
    records = _records(s)
    assert "failed" not in {r.status for r in records}, [r.reason for r in records]
    assert "paused" in {r.status for r in records}
    promoted = [r for r in records if r.resume_from]
    assert promoted, "no config was promoted"
    for record in promoted:
        folder = tmp_path / "out" / "latest" / "checkpoints" / f"config_{record.config_id}"
        starts = (folder / "starts.txt").read_text().split()
        assert "0" in starts and str(record.resume_from) in starts
        first = s.training_history[record.task_id][0]["epoch"]
        assert first == record.resume_from + 1  # continued, not restarted


def test_a_checkpointed_command_run_resumes(tmp_path):
    cmd = sch.Command(["python", PROGRAM], x=space.Real(0.0, 1.0), epochs=2)
    s = _fifo(cmd, num_trials=2, checkpoint=tmp_path / "ckpt.json")
    _run(s)
    resumed = _fifo(cmd, num_trials=4, checkpoint=tmp_path / "ckpt.json", resume=True)
    assert resumed.get_best_config() == s.get_best_config()
    _run(resumed)
    assert [r.status for r in _records(resumed)] == ["completed"] * 4


# -- many trials -----------------------------------------------------------------------


def test_two_hundred_command_trials_leak_no_file_descriptor(tmp_path):
    script = tmp_path / "one.sh"
    script.write_text('#!/bin/sh\necho "[scheduler] {\\"epoch\\": 1, \\"accuracy\\": 0.5}"\n')
    script.chmod(0o755)
    before = open_fds()
    s = _fifo(sch.Command([str(script)], x=space.Real(0.0, 1.0)), num_trials=200)
    _run(s, timeout=120)
    assert [r.status for r in _records(s)] == ["completed"] * 200
    assert open_fds() <= before


def test_report_outside_a_trial_prints_a_report_line(capsys, monkeypatch):
    monkeypatch.delenv("SCHEDULER_REPORT_FD", raising=False)
    sch.report(epoch=1, accuracy=0.5)
    assert capsys.readouterr().out == '[scheduler] {"epoch":1,"accuracy":0.5}\n'
    assert sch.trial.in_trial() is False


def test_import_scheduler_for_report_imports_no_numpy():
    import subprocess

    code = "import sys, scheduler; scheduler.report; print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_a_refused_report_names_the_programs_line(caplog):
    cmd = sch.Command(["python", PROGRAM, "--case", "bad_report"], x=space.Real(0.0, 1.0))
    s = _fifo(cmd, num_trials=1)
    with caplog.at_level("WARNING", logger="scheduler"):
        _run(s)
    (record,) = _records(s)
    assert record.status == "failed"
    assert "_trial_program.py" in record.traceback  # the program's own traceback
    assert "_trial_program.py:" in caplog.text  # the warning names the user's line
