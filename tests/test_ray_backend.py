"""``backend="ray"`` on a local Ray (2 CPUs and one declared GPU, no dashboard), started
once for the module and shut down at its end with every process it started.

The three schedulers, decisions identical to the thread backend's, promotion with
pause and resume from ``reporter.checkpoint_dir``, fractional GPUs, the fault matrix
(raise, ``os._exit``, segfault, SIGKILL as the OOM killer sends it, ``ray.kill``, a
hang past ``max_task_time``), shutdown mid-run, the driver's death (its actors go with
it) and resume, and the seed's AutoGluon examples as scripts with ``backend='ray'``.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from _ray_support import assert_gone, descendants, import_ray

import scheduler as sch

ray = import_ray()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    started = descendants()
    ray.shutdown()
    assert_gone(started)


def _make(cls, train_fn, **kw):
    kw.setdefault("resource", {"num_cpus": 1, "num_gpus": 0})
    kw.setdefault("reward_attr", "accuracy")
    kw.setdefault("time_attr", "epoch")
    kw.setdefault("progress", False)
    kw.setdefault("backend", "ray")
    return cls(train_fn, **kw)


def _run(s, timeout=60):
    s.run()
    assert s.join_jobs(timeout=timeout), "join_jobs timed out"
    return s


def _tasks(s):
    return [s.history.tasks[t] for t in sorted(s.history.tasks)]


# -- train functions (module level; actors import this module by the driver's path) --


@sch.args(x=sch.space.Real(0.0, 1.0), epochs=5)
def epochs_fn(args, reporter):
    for e in range(1, args.epochs + 1):
        reporter(
            epoch=e,
            accuracy=args.x * e / args.epochs,
            pid=os.getpid(),
            gpus=list(args.gpu_ids),
            cuda=os.environ.get("CUDA_VISIBLE_DEVICES"),
            task=args.task_id,
        )


@sch.args(x=sch.space.Real(0.0, 1.0), epochs=9)
def checkpoint_fn(args, reporter):
    """Saves its epoch in checkpoint_dir; a promoted task must find it there."""
    path = os.path.join(reporter.checkpoint_dir, "model.json")
    start = 0
    if args.scheduler.resume_from is not None:
        with open(path) as f:
            start = json.load(f)["epoch"]
        if start != args.scheduler.resume_from:
            raise RuntimeError(f"checkpoint at epoch {start}, resume_from is {args.scheduler}")
    for e in range(start + 1, args.epochs + 1):
        with open(path + ".tmp", "w") as f:
            json.dump({"epoch": e}, f)
        os.replace(path + ".tmp", path)
        reporter(epoch=e, accuracy=args.x * (1 - 0.5**e), resumed_at=start)


# "hang" first: it holds one of the two actors prepared before the run for
# max_task_time while the other slot goes through the rest
FAULTS = ("hang", "none", "raise", "exit", "segfault", "sigkill", "ray_kill", "after")


@sch.args(fault=sch.space.Categorical(*FAULTS))
def fault_fn(args, reporter):
    reporter(epoch=1, accuracy=0.5, pid=os.getpid())
    fault = args.fault
    if fault == "raise":
        raise RuntimeError(f"boom in task {args.task_id}")
    if fault == "exit":
        os._exit(3)
    if fault == "segfault":
        ctypes.string_at(0)
    if fault == "sigkill":  # what the kernel's OOM killer sends
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == "ray_kill":
        ray.kill(ray.get_runtime_context().current_actor)
        time.sleep(30)
    if fault == "hang":
        time.sleep(60)
    reporter(epoch=2, accuracy=0.9, pid=os.getpid())


@sch.args(x=sch.space.Real(0.0, 1.0))
def forking_fn(args, reporter):
    child = subprocess.Popen(["sleep", "120"])
    os.environ["LEFT_BY_A_TASK"] = str(args.task_id)
    reporter(
        epoch=1,
        accuracy=args.x,
        child=child.pid,
        pid=os.getpid(),
        env_before=os.environ.get("LEFT_BY_A_TASK_BEFORE"),
    )
    os.environ["LEFT_BY_A_TASK_BEFORE"] = "yes"


@sch.args(x=sch.space.Real(0.0, 1.0))
def sleepy_fn(args, reporter):
    for e in range(1, 2000):
        time.sleep(0.05)
        reporter(epoch=e, accuracy=args.x, pid=os.getpid())


# -- the schedulers ------------------------------------------------------------------


def test_fifo_runs_every_trial_in_reused_actors():
    s = _run(_make(sch.FIFOScheduler, epochs_fn, num_trials=6))
    assert [t.status for t in _tasks(s)] == ["completed"] * 6
    rows = [r for t in sorted(s.training_history) for r in s.training_history[t]]
    assert len(rows) == 30
    assert all(r["task"] == r["task_id"] for r in rows)  # args.task_id reached the trial
    pids = {r["pid"] for r in rows}
    assert 1 <= len(pids) <= 2  # two slots: two actors, reused for all six tasks
    assert os.getpid() not in pids
    assert s.resources.in_use == 0
    assert s.get_best_config() == s.config_history[s.get_best_task_id()]


def _decisions(s):
    return [
        (s.config_history[t]["x"], [r["decision"] for r in s.training_history[t]])
        for t in sorted(s.training_history)
    ]


def test_hyperband_stopping_decides_as_on_the_thread_backend():
    kw = dict(
        num_trials=20,
        type="stopping",
        grace_period=1,
        reduction_factor=3,
        total_resources={"num_cpus": 1},  # one slot: the same report order on both
        search_options={"random_seed": 5},
    )
    on_ray = _run(_make(sch.HyperbandScheduler, epochs_fn, **kw))
    on_threads = _run(_make(sch.HyperbandScheduler, epochs_fn, backend="thread", **kw))
    assert _decisions(on_ray) == _decisions(on_threads)
    assert any("stop" in d for _, d in _decisions(on_ray))


def test_promotion_pauses_and_resumes_from_checkpoint_dir():
    s = _run(
        _make(
            sch.HyperbandScheduler,
            checkpoint_fn,
            num_trials=12,
            type="promotion",
            grace_period=1,
            reduction_factor=3,
        )
    )
    tasks = _tasks(s)
    assert not [t for t in tasks if t.status == "failed"], [t.reason for t in tasks]
    assert any(t.status == "paused" for t in tasks)
    resumed = [t for t in tasks if t.resume_from is not None]
    assert resumed, "no config was promoted"
    for t in resumed:
        rows = [r for r in s.training_history[t.task_id] if not r.get("replay")]
        assert rows[0]["resumed_at"] == t.resume_from  # it found its own checkpoint
        assert rows[0]["epoch"] == t.resume_from + 1
    assert s.get_best_reward() is not None


def test_rl_scheduler_runs_on_ray():
    s = _run(_make(sch.RLScheduler, epochs_fn, num_trials=6))
    assert [t.status for t in _tasks(s)] == ["completed"] * 6
    assert s.policy.num_updates == 6


# -- resources -----------------------------------------------------------------------


def test_fractional_gpus_share_the_device_ray_assigned():
    s = _make(
        sch.FIFOScheduler,
        epochs_fn,
        num_trials=4,
        resource={"num_cpus": 1, "num_gpus": 0.5},
    )
    assert s.resources.max_concurrency == 2  # two halves of the one GPU
    _run(s)
    rows = [r for t in sorted(s.training_history) for r in s.training_history[t]]
    assert [t.status for t in _tasks(s)] == ["completed"] * 4
    assert {tuple(r["gpus"]) for r in rows} == {(0,)}
    assert {r["cuda"] for r in rows} == {"0"}


@pytest.mark.parametrize(
    "resource, message",
    [
        ({"num_cpus": 3}, "does not fit on any node"),
        ({"num_cpus": 1, "num_gpus": 2}, "does not fit on any node"),
        ({"num_cpus": 1, "num_gpus": 1.5}, "fraction <= 1 or a whole number"),
        ({"num_cpus": 0, "num_gpus": 0}, "at least one CPU or GPU"),
    ],
)
def test_a_request_larger_than_every_node_fails_at_construction(resource, message):
    with pytest.raises(ValueError, match=message):
        _make(sch.FIFOScheduler, epochs_fn, num_trials=1, resource=resource)


def test_total_resources_caps_the_share_of_the_cluster():
    s = _make(sch.FIFOScheduler, epochs_fn, num_trials=1, total_resources={"num_cpus": 1})
    assert s.resources.max_concurrency == 1
    with pytest.raises(ValueError, match="exceeds"):
        _make(
            sch.FIFOScheduler,
            epochs_fn,
            num_trials=1,
            resource={"num_cpus": 2},
            total_resources={"num_cpus": 1},
        )


def test_a_second_connection_elsewhere_is_refused():
    with pytest.raises(ValueError, match="already initialized"):
        _make(sch.FIFOScheduler, epochs_fn, num_trials=1, ray_address="auto")


# -- faults ----------------------------------------------------------------------------


def test_every_fault_fails_its_task_with_its_reason_and_the_run_goes_on():
    # A dead actor is replaced by a new one, a Ray worker process start (1-4 s here):
    # max_task_time counts from the placement (on_running), so no fine task on a
    # replacement actor runs out of time.
    s = _run(
        _make(
            sch.FIFOScheduler,
            fault_fn,
            num_trials=len(FAULTS),
            searcher="grid",
            max_task_time=3.0,
        ),
        timeout=120,
    )
    by_fault = {t.config["fault"]: t for t in _tasks(s)}
    assert sorted(by_fault) == sorted(FAULTS)
    for fault in ("none", "after"):
        assert by_fault[fault].status == "completed", by_fault[fault].reason
    for fault in ("hang", *FAULTS[2:-1]):
        assert by_fault[fault].status == "failed", (fault, by_fault[fault].status)
    assert "RuntimeError: boom" in by_fault["raise"].reason
    assert "Traceback" in by_fault["raise"].traceback
    for fault in ("exit", "segfault", "sigkill"):
        assert "actor died" in by_fault[fault].reason, by_fault[fault].reason
        assert "worker process has died" in by_fault[fault].reason, by_fault[fault].reason
    assert "ray.kill" in by_fault["ray_kill"].reason, by_fault["ray_kill"].reason
    assert "max_task_time=3.0" in by_fault["hang"].reason
    assert s.resources.in_use == 0
    pids = {r["pid"] for t in s.training_history.values() for r in t}
    assert len(pids) >= 6  # every dead or killed actor was replaced
    assert_gone({s.training_history[by_fault["hang"].task_id][0]["pid"]})


def test_shutdown_mid_run_stops_the_tasks_and_their_actors():
    s = _make(sch.FIFOScheduler, sleepy_fn, num_trials=2)
    s.run()  # returns once both are launched
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(s.training_history.get(t) for t in range(2)):
        time.sleep(0.05)
    pids = {r["pid"] for t in range(2) for r in s.training_history[t]}
    s.shutdown()
    assert [t.status for t in _tasks(s)] == ["stopped", "stopped"]
    assert_gone(pids)


def test_a_reused_actor_outlives_nothing_its_tasks_started():
    s = _run(_make(sch.FIFOScheduler, forking_fn, num_trials=4, total_resources={"num_cpus": 1}))
    rows = [s.training_history[t][0] for t in sorted(s.training_history)]
    assert [t.status for t in _tasks(s)] == ["completed"] * 4
    assert len({r["pid"] for r in rows}) == 1  # one actor ran all four
    assert [r["env_before"] for r in rows] == [None] * 4  # its environment was restored
    assert_gone({r["child"] for r in rows}, timeout=5)


DRIVER = """
import os, sys, time
import scheduler as sch

PIDS = sys.argv[2]  # (sys.argv in the trials is the Ray worker's)

@sch.args(x=sch.space.Real(0.0, 1.0), epochs=6)
def train_fn(args, reporter):
    with open(os.path.join(PIDS, f"pid-{os.getpid()}"), "w"):
        pass
    for e in range(1, args.epochs + 1):
        time.sleep(0.15)
        reporter(epoch=e, accuracy=args.x * e)

s = sch.HyperbandScheduler(
    train_fn, resource={"num_cpus": 1}, num_trials=6, reward_attr="accuracy",
    time_attr="epoch", type="promotion", grace_period=1, reduction_factor=3,
    backend="ray", ray_address=sys.argv[1], checkpoint=sys.argv[3],
    resume=sys.argv[4] == "resume", progress=False)
s.run()
s.join_jobs()
print("STATUSES", sorted(s.history.status_counts().items()), len(s.history.configs))
"""


def test_the_drivers_death_takes_its_actors_and_resume_finishes_the_run(local_ray, tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    pids_dir = tmp_path / "pids"
    pids_dir.mkdir()
    ckpt = str(tmp_path / "run.json")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, str(script), local_ray, str(pids_dir), ckpt]
    # cwd: Ray puts the driver's working directory on its workers' sys.path (the
    # module's Ray was started by this process, whose environment its workers have)
    child = subprocess.Popen([*command, "new"], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while len(os.listdir(pids_dir)) < 2 and time.monotonic() < deadline:
            assert child.poll() is None, "the driver ended before its trials started"
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        child.kill()
        child.wait()
    actor_pids = {int(name.split("-")[1]) for name in os.listdir(pids_dir)}
    assert actor_pids
    assert_gone(actor_pids)  # owned by the dead driver: Ray ended them
    done = subprocess.run(
        [*command, "resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("STATUSES"))
    counts = dict(eval(line.split(" ", 1)[1].rsplit(" ", 1)[0]))
    assert counts["running"] == 0 and counts["failed"] == 0, line
    assert counts["interrupted"] >= 1, line
    assert line.rsplit(" ", 1)[1] == "6", line


# -- the seed's AutoGluon examples as scripts -------------------------------------------


def _seed_examples():
    from test_seed_examples import CHECK, EXAMPLES

    return EXAMPLES, CHECK


@pytest.mark.parametrize("name", sorted(_seed_examples()[0]))
def test_seed_example_runs_on_ray(name, local_ray, tmp_path):
    examples, check = _seed_examples()
    code = textwrap.dedent(examples[name])
    resource = "resource={'num_cpus': 2, 'num_gpus': 0},"
    assert resource in code
    code = code.replace(resource, f"{resource} backend='ray', ray_address={local_ray!r},")
    script = tmp_path / f"{name}.py"
    script.write_text(code + check)
    env = dict(
        os.environ,
        MPLBACKEND="Agg",
        PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]),
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        # the example's get_training_curves(plot=True) saves its PNG in the working
        # folder (no display); the workers import scheduler through PYTHONPATH or the
        # installed package
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    best = [line for line in done.stdout.splitlines() if line.startswith("BEST")]
    assert best, done.stdout[-2000:]
    assert 0.0 < float(best[0].split()[1]) <= 1.0
    assert "lr: " in done.stdout  # the trials' prints reach the user (Ray forwards them)


@pytest.mark.slow
def test_seed_example_starts_and_stops_its_own_local_ray(tmp_path):
    examples, check = _seed_examples()
    code = textwrap.dedent(examples["fifo"])
    resource = "resource={'num_cpus': 2, 'num_gpus': 0},"
    code = code.replace(resource, f"{resource} backend='ray', ray_init_kwargs={{'num_cpus': 2}},")
    script = tmp_path / "fifo.py"
    script.write_text(code + check + "\nprint('PID', __import__('os').getpid(), flush=True)\n")
    env = dict(
        os.environ,
        MPLBACKEND="Agg",
        PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]),
    )
    env.pop("RAY_ADDRESS", None)
    child = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: set[int] = set()
    deadline = time.monotonic() + 180
    while child.poll() is None and time.monotonic() < deadline:
        seen |= descendants(child.pid)  # the local Ray it started, while it runs
        time.sleep(0.2)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err[-3000:]
    assert any(line.startswith("BEST") for line in out.splitlines()), out[-2000:]
    assert seen, "the script started no Ray processes"
    assert_gone(seen)  # its Ray ended with it
