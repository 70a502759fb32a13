"""scheduler.Evaluator: DeepHyper's evaluator API on the runtime, without its traps.

The behaviour tests run on every method (``serial``, ``thread``, ``process``,
``subprocess``, ``ray``); a method whose backend is not registered in this version is
skipped with a message. The API details (factory, callbacks, ``dump_evals`` keys) are
method-independent and run on ``thread`` only.
"""

from __future__ import annotations

import asyncio
import csv
import os
import threading
import time
import uuid

import pytest
from _evaluator_jobs import (
    _EVENTS,
    run_counting,
    run_env,
    run_result,
    run_sleep,
    run_with_kwargs,
)

import scheduler
from scheduler.evaluator import (
    FAIL_RETURN_VALUE,
    Callback,
    Evaluator,
    Job,
    LoggerCallback,
    ProcessPoolEvaluator,
    ProfilingCallback,
    SearchEarlyStopping,
    SearchTerminationError,
    SerialEvaluator,
    ThreadPoolEvaluator,
)
from scheduler.runtime.backends import BACKENDS

# a fresh interpreter per job makes subprocess the slow one (0.3-0.6 s a job here)
METHODS = [
    "serial",
    "thread",
    "process",
    pytest.param("subprocess", marks=pytest.mark.slow),
    "ray",
]
IN_PROCESS = {"serial", "thread"}  # the run function runs in this interpreter
BACKEND_OF = {"serial": "thread"}

# -- run functions (module level: worker processes import this module) ----------------

#: kind -> (status, result) as the job must hold them
EXPECTED = {
    "float": (Job.DONE, 1.5),
    "int": (Job.DONE, 3),
    "nan": (Job.DONE, FAIL_RETURN_VALUE),
    "inf": (Job.DONE, FAIL_RETURN_VALUE),
    "-inf": (Job.DONE, FAIL_RETURN_VALUE),
    "true": (Job.DONE, True),
    "none": (Job.DONE, None),
    "list": (Job.DONE, [1, 2.5]),
    "tuple": (Job.DONE, [1, "a"]),
    "dict": (Job.DONE, 0.7),
    "dict_nan": (Job.DONE, FAIL_RETURN_VALUE),
    "plain_dict": (Job.DONE, {"a": 1}),
    "fail_string": (Job.DONE, "F_value_error"),
    "numpy": (Job.DONE, 0.25),
    "raise": (Job.FAILED, FAIL_RETURN_VALUE),
}


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray for the module (2 CPUs, 1 GPU declared), shut down after it."""
    ray = pytest.importorskip("ray", reason='Ray is not installed (pip install "scheduler[ray]")')
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(params=METHODS)
def method(request):
    backend = BACKEND_OF.get(request.param, request.param)
    if backend not in BACKENDS:
        pytest.skip(
            f"the {backend!r} backend is not in this version (backends: {sorted(BACKENDS)})"
        )
    if request.param == "ray":
        request.getfixturevalue("local_ray")
    return request.param


@pytest.fixture
def release():
    """An event in-process jobs wait on; set at teardown so abandoned threads end."""
    key = uuid.uuid4().hex
    _EVENTS[key] = threading.Event()
    yield key
    _EVENTS.pop(key).set()


def make(method, run_function, **kwargs):
    if method == "serial":
        kwargs.pop("num_workers", None)
    return Evaluator.create(run_function, method=method, method_kwargs=kwargs)


def workers_of(method):
    return 1 if method == "serial" else 2


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# -- on every method -----------------------------------------------------------------


#: the kinds every method must return as they are (the rest: not on subprocess, to
#: keep its run short)
CORE_KINDS = ["float", "nan", "inf", "true", "none", "list", "dict", "dict_nan", "fail_string"]


def test_every_result_kind_comes_back_and_a_raising_job_poisons_nothing(method, tmp_path):
    kinds = list(EXPECTED)
    if method == "subprocess":
        kinds = [*CORE_KINDS, "raise"]
    with make(method, run_result, num_workers=workers_of(method)) as ev:
        jobs = ev.submit([{"kind": k} for k in kinds[:6]])
        gathered = ev.gather("BATCH", size=3)
        assert len(gathered) >= 3
        ev.dump_evals(log_dir=tmp_path)
        jobs += ev.submit([{"kind": k} for k in kinds[6:]])
        while len(gathered) < len(jobs):
            gathered += ev.gather("BATCH", size=1)
            ev.dump_evals(log_dir=tmp_path)
        # the raising job is behind us: later jobs and gathers are unaffected
        late = ev.submit([{"kind": "raise"}, {"kind": "int"}])
        gathered += ev.gather("ALL")
        ev.dump_evals(log_dir=tmp_path)
        jobs += late
    assert [j.id for j in jobs] == list(range(1, len(jobs) + 1))
    assert sorted(j.id for j in gathered) == [j.id for j in jobs]
    for job in jobs:
        status, result = EXPECTED[job.config["kind"]]
        assert job.status == status, job
        if isinstance(result, float) and not isinstance(job.result, str):
            assert job.result == pytest.approx(result), job
            assert type(job.result) is float, job
        else:
            assert job.result == result, job
        assert job.duration is not None and job.duration >= 0
        assert job.elapsed_sec >= job.duration
    by_kind = {j.config["kind"]: j for j in jobs}
    assert by_kind["dict"].metadata == {"loss": 0.3}
    assert by_kind["dict_nan"].metadata == {"loss": 9.0}
    failed = by_kind["raise"]
    assert f"ValueError: boom in job {failed.id}" in failed.error
    assert "run_result" in failed.traceback
    rows = read_csv(tmp_path / "results.csv")
    assert sorted(int(r["id"]) for r in rows) == [j.id for j in jobs]  # each exactly once
    assert {r["objective"] for r in rows if r["kind"] == "true"} == {"True"}
    assert {r["objective"] for r in rows if r["kind"] == "none"} == {""}
    assert {r["objective"] for r in rows if r["kind"] == "fail_string"} == {"F_value_error"}
    assert {r["m:loss"] for r in rows if r["kind"] == "dict"} == {"0.3"}
    assert {float(r["objective"]) for r in rows if r["kind"] == "nan"} == {FAIL_RETURN_VALUE}


def test_jobs_run_at_most_num_workers_at_once_and_duration_is_the_run(method, tmp_path):
    workers = workers_of(method)
    folder = tmp_path / "running"
    folder.mkdir()
    with make(method, run_counting, num_workers=workers) as ev:
        jobs = ev.submit([{"folder": str(folder), "sleep": 0.2} for _ in range(2 * workers + 1)])
        assert jobs[-1].status == Job.READY  # waits for a worker: submit did not block
        assert [j.config["id"] for j in jobs] == [j.id for j in jobs]
        done = ev.gather("ALL")
    assert len(done) == len(jobs)
    assert all(j.status == Job.DONE for j in jobs)
    assert max(j.result for j in jobs) == workers  # never more, and all of them used
    last = jobs[-1]  # it waited two rounds of 0.2 s for a worker
    assert last.timestamp_start - last.timestamp_submit >= 0.38
    for job in jobs:
        assert 0.2 <= job.duration < job.timestamp_end - job.timestamp_submit + 1e-6
        assert job.timestamp_submit <= job.timestamp_start <= job.timestamp_end
        assert job.elapsed_sec == job.timestamp_end


def read_pidfile(path) -> tuple[int, float]:
    with open(path) as f:
        pid, started = f.read().split()
    return int(pid), float(started)


def test_timeout_cancels_a_30s_job_within_a_second_past_its_limit(method, tmp_path, release):
    pidfile = str(tmp_path / "pid")
    with make(method, run_sleep, num_workers=workers_of(method), timeout=1.0) as ev:
        # warm the workers up first: a cold one imports this module (pytest, numpy...)
        # before its first job, which a loaded machine can stretch past the limit
        ev.submit([{"sleep": 0.0} for _ in range(workers_of(method))])
        ev.gather("ALL")
        (slow,) = ev.submit([{"sleep": 30, "pidfile": pidfile, "event": release}])
        assert ev.gather("BATCH", size=1) == [slow]
        _, started = read_pidfile(pidfile)
        late = time.time() - started - 1.0
        assert late < 1.0, late  # the limit, then at most a second to cancel
        assert slow.status == Job.CANCELLED
        assert slow.result == "F_CANCELLED"
        assert "timeout=1.0" in slow.error
        assert slow.duration >= 0.95, slow.duration
        # the slot came back: the next jobs run
        after = ev.submit([{"sleep": 0.0} for _ in range(workers_of(method))])
        assert sorted(ev.gather("ALL"), key=lambda j: j.id) == after
        assert all(j.status == Job.DONE and j.result == 0.0 for j in after)
    if method not in IN_PROCESS:  # its process was killed, not left sleeping
        pid, _ = read_pidfile(pidfile)
        wait_for(lambda: not pid_alive(pid), timeout=5.0)


def test_close_cancels_running_and_queued_jobs(method, tmp_path, release):
    pidfile = str(tmp_path / "pid")
    ev = make(method, run_sleep, num_workers=1)
    running, queued = ev.submit(
        [{"sleep": 30, "pidfile": pidfile, "event": release}, {"sleep": 30, "event": release}]
    )
    wait_for(lambda: os.path.exists(pidfile))
    assert running.status == Job.RUNNING and queued.status == Job.READY
    start = time.monotonic()
    ev.close()
    assert time.monotonic() - start < 5.0
    assert (running.status, running.result) == (Job.CANCELLED, "F_CANCELLED")
    assert (queued.status, queued.result) == (Job.CANCELLED, "F_CANCELLED")
    assert "before it started" in queued.error
    assert {j.id for j in ev.gather("ALL")} == {running.id, queued.id}
    with pytest.raises(RuntimeError, match="closed"):
        ev.submit([{"sleep": 0}])
    ev.close()  # idempotent
    if method not in IN_PROCESS:
        pid, _ = read_pidfile(pidfile)
        wait_for(lambda: not pid_alive(pid), timeout=5.0)


def test_gather_inside_a_running_event_loop(method):
    async def main(ev):
        ev.submit([{"kind": "float"}, {"kind": "int"}, {"kind": "raise"}])
        await asyncio.sleep(0)
        first = ev.gather("BATCH", size=1)
        rest = ev.gather("ALL")
        return first + rest

    with make(method, run_result, num_workers=workers_of(method)) as ev:
        jobs = asyncio.run(main(ev))
    assert sorted(j.id for j in jobs) == [1, 2, 3]
    assert sorted(j.status for j in jobs) == [Job.DONE, Job.DONE, Job.FAILED]


@pytest.mark.parametrize("backend_method", ["thread", "process", "subprocess"])
def test_gpus_are_handed_out_by_id(backend_method):
    if backend_method not in BACKENDS:
        pytest.skip(f"the {backend_method!r} backend is not in this version")
    with pytest.warns(UserWarning, match="only 2 jobs fit at once"):
        ev = Evaluator.create(
            run_env,
            method=backend_method,
            method_kwargs={"num_workers": 3, "num_gpus": 2, "num_gpus_per_task": 1},
        )
    with ev:
        assert ev.num_workers == 2
        jobs = ev.submit([{} for _ in range(4)])
        ev.gather("ALL")
    assert {j.gpu_ids for j in jobs} <= {(0,), (1,)}
    if backend_method != "thread":  # a process of its own: the environment says it
        assert all(j.metadata["cuda"] == str(j.gpu_ids[0]) for j in jobs)


# -- Ray's own parameters ------------------------------------------------------------


def test_ray_num_workers_counts_gpus_and_is_enforced(request, tmp_path):
    if "ray" not in BACKENDS:
        pytest.skip(f"the 'ray' backend is not in this version (backends: {sorted(BACKENDS)})")
    request.getfixturevalue("local_ray")  # 2 CPUs, 1 GPU
    from scheduler.evaluator import RayEvaluator

    with RayEvaluator(run_result, num_gpus_per_task=1, num_workers=-1) as ev:
        assert ev.num_workers == 1  # 2 CPUs but 1 GPU
    kwargs = {"ray_kwargs": {}}
    folder = tmp_path / "running"
    folder.mkdir()
    with RayEvaluator(run_counting, num_workers=1, **kwargs) as ev:
        assert ev.num_workers == 1
        jobs = ev.submit([{"folder": str(folder), "sleep": 0.2} for _ in range(3)])
        ev.gather("ALL")
    assert kwargs == {"ray_kwargs": {}}  # never modified
    assert max(j.result for j in jobs) == 1


# -- the API (method-independent: thread) --------------------------------------------


def test_create_names_the_valid_methods_and_keys():
    with pytest.raises(ValueError, match=r"method must be one of \['serial', 'thread'"):
        Evaluator.create(run_result, method="threads")
    with pytest.raises(ValueError, match=r"unknown keys \['workers'\].*accepted: \['num_workers'"):
        Evaluator.create(run_result, method="thread", method_kwargs={"workers": 2})
    with pytest.raises(ValueError, match="method='simulated' cannot run a run function"):
        Evaluator.create(run_result, method="simulated")
    with pytest.raises(ValueError, match="num_workers must be 1"):
        SerialEvaluator(run_result, num_workers=2)
    with pytest.raises(ValueError, match="num_workers must be a positive integer, got 0"):
        ThreadPoolEvaluator(run_result, num_workers=0)
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        ThreadPoolEvaluator(run_result, timeout=0)
    with pytest.raises(ValueError, match="num_gpus_per_task=1 exceeds the 0 GPUs"):
        ThreadPoolEvaluator(run_result, num_gpus_per_task=1, num_gpus=0)
    kwargs = {"num_workers": 2, "callbacks": []}
    with Evaluator.create(run_result, method="thread", method_kwargs=kwargs) as ev:
        assert isinstance(ev, ThreadPoolEvaluator) and ev.num_workers == 2
    assert kwargs == {"num_workers": 2, "callbacks": []}
    assert scheduler.Evaluator is Evaluator
    assert issubclass(ProcessPoolEvaluator, Evaluator)


def test_gather_types_sizes_and_job_unpacking():
    with ThreadPoolEvaluator(
        run_with_kwargs, num_workers=2, run_function_kwargs={"scale": 10}
    ) as ev:
        with pytest.raises(ValueError, match="gather type must be 'ALL' or 'BATCH', got 'SOME'"):
            ev.gather("SOME")
        with pytest.raises(ValueError, match="size must be a positive integer, got 0"):
            ev.gather("BATCH", size=0)
        with pytest.raises(ValueError, match=r"configs\[1\] must be a dict"):
            ev.submit([{"x": 1}, 3])
        submitted = {"x": 1, "nested": [1, 2]}
        (job,) = ev.submit([submitted])
        submitted["nested"].append(3)  # the job has its own copy
        with pytest.warns(UserWarning, match="size=5.*1 not gathered yet"):
            (got,) = ev.gather("BATCH", size=5)
        assert ev.gather("ALL") == []
    assert got is job and job.result == 10.0
    cfg, obj = job
    assert cfg == {"x": 1, "nested": [1, 2]} and obj == 10.0
    # the run function changed its own copy of the config, not the job's
    assert job.config == {"x": 1, "nested": [1, 2], "id": 1}


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_launch(self, job):
        self.events.append(("launch", job.id, job.status))

    def on_done(self, job):
        self.events.append(("done", job.id, job.status))


def test_callbacks_run_in_order_and_a_raising_one_loses_no_job(tmp_path):
    recorder, profiler = Recorder(), ProfilingCallback()
    stopper = SearchEarlyStopping(patience=1)
    out = tmp_path / "log.txt"
    with (
        open(out, "w") as log,
        ThreadPoolEvaluator(
            run_sleep,
            num_workers=2,
            callbacks=[recorder, profiler, LoggerCallback(file=log), stopper],
        ) as ev,
    ):
        ev.submit([{"sleep": 0.3}, {"sleep": 0.1}, {"sleep": 0.05}])
        with pytest.raises(SearchTerminationError, match="last 1 jobs"):
            ev.gather("ALL")
        ev.dump_evals(log_dir=tmp_path)
        assert stopper.search_stopped
    launches = [e for e in recorder.events if e[0] == "launch"]
    dones = [e for e in recorder.events if e[0] == "done"]
    assert [e[1] for e in launches] == [1, 2, 3]
    assert [e[1] for e in dones] == [2, 3, 1]  # the order they finished in
    assert all(e[2] == Job.DONE for e in dones)
    # the stopper raised on the second job; every callback still saw every job
    assert sorted(int(r["id"]) for r in read_csv(tmp_path / "results.csv")) == [1, 2, 3]
    lines = out.read_text().splitlines()
    assert lines[0] == "[00001] -- best objective: 0.1 -- received objective: 0.1"
    assert lines[2].endswith("received objective: 0.3") and "best objective: 0.3" in lines[2]
    profile = profiler.profile
    assert list(profile["event"]).count("start") == 3
    assert max(profile["n_jobs_running"]) == 2
    assert list(profile["timestamp"]) == sorted(profile["timestamp"])


def test_dump_evals_keys_and_a_new_key_widens_the_file(tmp_path):
    with ThreadPoolEvaluator(run_result, num_workers=1) as ev:
        ev.submit([{"kind": "float", "layers": [1, 2]}])
        ev.gather("ALL")
        ev.dump_evals(saved_keys=["kind", "layers"], log_dir=tmp_path / "a")
        ev.dump_evals(log_dir=tmp_path / "a")  # nothing new: nothing written
        ev.submit([{"kind": "dict", "layers": [3], "extra": "x"}])
        ev.gather("ALL")
        ev.dump_evals(saved_keys=["kind", "layers", "extra"], log_dir=tmp_path / "a")
        ev.submit([{"kind": "int"}])
        ev.gather("ALL")
        ev.dump_evals(saved_keys=lambda job: {"k": job.config["kind"]}, log_dir=tmp_path / "b")
        with pytest.raises(ValueError, match="saved_keys must be None, a list"):
            ev.dump_evals(saved_keys=3)
        ev.submit([{"kind": "none"}])
        ev.gather("ALL")
        (tmp_path / "file").write_text("")
        with pytest.raises(OSError):  # a folder that cannot be made: nothing is lost
            ev.dump_evals(log_dir=tmp_path / "file" / "sub")
        ev.dump_evals(log_dir=tmp_path / "c")
    path = tmp_path / "a" / "results.csv"
    header = path.read_text().splitlines()[0]
    assert header == "kind,layers,id,objective,elapsed_sec,duration,extra,m:loss"
    rows = read_csv(path)
    assert [r["id"] for r in rows] == ["1", "2"]
    assert rows[0]["layers"] == "[1, 2]" and rows[0]["extra"] == "" and rows[0]["m:loss"] == ""
    assert rows[1]["extra"] == "x" and rows[1]["m:loss"] == "0.3" and rows[1]["objective"] == "0.7"
    (row,) = read_csv(tmp_path / "b" / "results.csv")
    assert row["k"] == "int" and row["id"] == "3" and row["objective"] == "3"
    (row,) = read_csv(tmp_path / "c" / "results.csv")
    assert row["id"] == "4" and row["objective"] == ""
