"""The AutoML engine over the runtime: event order, threads, workers, limits, controllers,
handlers (top-N, stop threshold, stats log). Jobs are in-process and take milliseconds."""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
import time

import pytest
from _automl import DEPTH, LR, SMALL_CONFIG, FnExecutor, RecordingHandler, enum_config

from scheduler.automl import (
    FAILED_SCORE,
    Context,
    ContextKey,
    Controller,
    Engine,
    EngineError,
    Handler,
    HyperbandController,
    JobStatus,
    MMARHandler,
    MMARPropKey,
    MMARStatsHandler,
    ReinforcementController,
    ResultsHandler,
    SearcherController,
    WorkerConfig,
    parse_workers,
)

FAST = {"job_poll_interval": 0.05, "admin_port": None}


def run_engine(executor, controller, workers="0:1", handlers=None, ctx=None, **kwargs):
    engine = Engine(parse_workers(workers), controller, executor, handlers, **{**FAST, **kwargs})
    ctx = ctx or Context()
    engine.run(ctx)
    engine.shutdown(ctx)
    return engine, ctx


class RecordingController(SearcherController):
    """A random searcher that records the thread and outcome of each refine call."""

    def __init__(self, **kwargs):
        super().__init__("random", **kwargs)
        self.refines: list[tuple] = []

    def refine_recommendation(self, outcome, ctx):
        self.refines.append((threading.get_ident(), outcome))
        return super().refine_recommendation(outcome, ctx)


# -- workers ---------------------------------------------------------------------------
def test_parse_workers():
    assert parse_workers("0,1:2,3") == [WorkerConfig("W1", [0, 1]), WorkerConfig("W2", [2, 3])]
    assert parse_workers("0:0") == [WorkerConfig("W1", [0]), WorkerConfig("W2", [0])]
    assert [w.gpu_list_string() for w in parse_workers("0,1:2,3")] == ["0,1", "2,3"]
    for bad, text in [
        ("", "workers must be a string"),
        ("0::1", "worker 2 has an empty GPU id"),
        ("0,:1", "worker 1 has an empty GPU id"),
        ("a:1", "GPU id 'a'"),
        ("-1", "GPU id '-1'"),
        ("0,0", "lists a GPU twice"),
    ]:
        with pytest.raises(ValueError, match=re.escape(text)):
            parse_workers(bad)


@pytest.mark.parametrize(
    ("workers", "expected"),
    [("0,1:2,3", {"W1": "0,1", "W2": "2,3"}), ("0:0", {"W1": "0", "W2": "0"})],
)
def test_each_job_sees_its_workers_gpus(workers, expected):
    executor = FnExecutor(fn=lambda rec, ctx, ev: time.sleep(0.02) or 1.0)
    run_engine(executor, SearcherController("random", max_rounds=6), workers=workers)
    assert len(executor.seen) == 6
    for job in executor.seen:
        assert job["gpus"] == expected[job["worker"]]
        worker_number = re.fullmatch(r"W(\d)_(\d+)_J(\d+)", job["name"]).group(1)
        assert f"W{worker_number}" == job["worker"]
    # every worker was used, and its job numbers k count 1, 2, 3...
    by_worker = {}
    for job in sorted(executor.seen, key=lambda j: int(j["name"].split("J")[1])):
        by_worker.setdefault(job["worker"], []).append(int(job["name"].split("_")[1]))
    assert set(by_worker) == {"W1", "W2"}
    for serials in by_worker.values():
        assert serials == list(range(1, len(serials) + 1))


# -- events ----------------------------------------------------------------------------
def test_event_order_with_a_failing_and_an_aborted_job():
    def fn(rec, ctx, abort_event):
        if rec.rec_id == 2:
            raise RuntimeError("boom in job 2")
        if rec.rec_id == 3:
            assert abort_event.wait(10), "never aborted"
            raise RuntimeError("killed")
        return 0.5

    executor = FnExecutor(fn=fn)
    recorder = RecordingHandler()
    controller = RecordingController(max_rounds=5)
    engine = Engine(
        parse_workers("0:1"),
        controller,
        executor,
        [recorder],
        max_job_run_time=0.3,
        **FAST,
    )
    ctx = Context()
    engine.run(ctx)
    engine.shutdown(ctx)
    names = recorder.names()
    assert names[:4] == [
        "startup",
        "start_automl",
        "search_space_available",
        "recommendations_available",
    ]
    assert names[-2:] == ["end_automl", "shutdown"]
    main = threading.get_ident()
    starts = [(n, t) for e, n, t in recorder.events if e == "start_job"]
    ends = [(n, t) for e, n, t in recorder.events if e == "end_job"]
    assert len(starts) == len(ends) == 5
    assert sorted(starts) == sorted(ends)  # same job, same thread
    for _job, thread in starts:
        assert thread != main
        assert names.index("start_job") < names.index("end_job")
    for event, _, thread in recorder.events:
        if event not in ("start_job", "end_job"):
            assert thread == main, event
    statuses = {j["rec_id"]: (j["status"], j["score"]) for j in engine.jobs()}
    assert statuses[2] == (JobStatus.FAILED, FAILED_SCORE)
    assert statuses[3] == (JobStatus.ABORTED, FAILED_SCORE)
    assert [s for r, (s, _) in statuses.items() if r not in (2, 3)] == [JobStatus.COMPLETED] * 3
    reasons = {j["rec_id"]: j["reason"] for j in engine.jobs()}
    assert "boom in job 2" in reasons[2]
    assert "max_job_run_time=0.3s" in reasons[3]
    assert executor.abort_threads == [main]  # abort runs on the engine thread


def test_refine_is_called_once_per_job_on_the_engine_thread():
    controller = RecordingController(max_rounds=8)
    executor = FnExecutor(fn=lambda rec, ctx, ev: float(rec.rec_id))
    engine, _ = run_engine(executor, controller, workers="0:1:2")
    main = threading.get_ident()
    assert len(controller.refines) == 8
    assert {t for t, _ in controller.refines} == {main}
    assert sorted(o.recommendation_id for _, o in controller.refines) == list(range(1, 9))
    for _, outcome in controller.refines:
        assert outcome.score == float(outcome.recommendation_id)
        assert outcome.status == JobStatus.COMPLETED
    assert executor.space_thread == main
    assert engine.stop_reason.startswith("done")


def test_end_job_sees_status_score_and_search_values():
    seen = []

    class Check(Handler):
        def end_job(self, ctx):
            seen.append(
                (
                    ctx.get_prop(ContextKey.JOB_STATUS),
                    ctx.get_prop(ContextKey.SCORE),
                    ctx.get_prop(ContextKey.CONCRETE_SEARCH_VALUE),
                )
            )

    run_engine(FnExecutor(), SearcherController("random", max_rounds=3), handlers=[Check()])
    assert len(seen) == 3
    for status, score, concrete in seen:
        assert status == JobStatus.COMPLETED
        assert isinstance(score, float)
        assert set(concrete) == {LR, DEPTH}
        assert concrete[DEPTH][0] in (1, 2, 3)


def test_no_initial_recommendation_ends_the_run_at_once():
    class Empty(Controller):
        def set_search_space(self, space, ctx):
            self.space = space

        def initial_recommendation(self, ctx):
            return []

        def refine_recommendation(self, outcome, ctx):
            raise AssertionError("no job ran")

    recorder = RecordingHandler()
    engine, _ = run_engine(FnExecutor(), Empty(), handlers=[recorder])
    assert "start_job" not in recorder.names()
    assert recorder.names()[-2:] == ["end_automl", "shutdown"]
    assert engine.stop_reason == "the controller gave no initial recommendation"


def test_a_malformed_annotation_fails_the_run_naming_the_path():
    config = {
        "train": {
            "m": {
                "name": "M",
                "args": {},
                "search": [{"domain": "net", "type": "int", "args": "x", "targets": []}],
            }
        }
    }
    recorder = RecordingHandler()
    engine = Engine(
        parse_workers("0"),
        SearcherController("random", max_rounds=1),
        FnExecutor(config),
        [recorder],
        **FAST,
    )
    with pytest.raises(EngineError, match=re.escape("$.train.m.search[0].type")):
        engine.run(Context())
    assert recorder.names() == ["startup", "start_automl", "end_automl"]


def test_a_controller_error_stops_the_run_cleanly():
    class Broken(SearcherController):
        def refine_recommendation(self, outcome, ctx):
            raise KeyError("controller bug")

    executor = FnExecutor(fn=lambda rec, ctx, ev: time.sleep(0.05) or 1.0)
    recorder = RecordingHandler()
    engine = Engine(
        parse_workers("0:1"), Broken("random", max_rounds=4), executor, [recorder], **FAST
    )
    with pytest.raises(EngineError, match="controller bug"):
        engine.run(Context())
    assert len(engine.jobs()) == 2  # the other job's end was handled too (not lost)
    names = recorder.names()
    assert names.count("start_job") == names.count("end_job")
    assert names[-1] == "end_automl"


# -- limits ------------------------------------------------------------------------------
def test_max_job_run_time_aborts_the_job_and_the_run_goes_on():
    def fn(rec, ctx, abort_event):
        if rec.rec_id == 1:
            abort_event.wait(10)
            raise RuntimeError("killed")
        return 1.0

    executor = FnExecutor(fn=fn)
    engine, _ = run_engine(
        executor, SearcherController("random", max_rounds=4), max_job_run_time=0.2
    )
    status = {j["rec_id"]: j["status"] for j in engine.jobs()}
    assert status == {1: "aborted", 2: "completed", 3: "completed", 4: "completed"}
    assert executor.aborted == [next(j["job_name"] for j in engine.jobs() if j["rec_id"] == 1)]


def test_max_sys_run_time_stops_the_run_and_aborts_running_jobs():
    def fn(rec, ctx, abort_event):
        abort_event.wait(20)
        raise RuntimeError("killed")

    executor = FnExecutor(fn=fn)
    t0 = time.monotonic()
    engine, ctx = run_engine(
        executor, SearcherController("random", max_rounds=10), max_sys_run_time=0.3
    )
    assert time.monotonic() - t0 < 10
    assert "max_sys_run_time=0.3s" in engine.stop_reason
    assert ctx.get_prop(ContextKey.STOP_REASON) == engine.stop_reason
    assert [j["status"] for j in engine.jobs()] == ["aborted", "aborted"]
    assert sorted(executor.aborted) == sorted(j["job_name"] for j in engine.jobs())


def test_ask_to_stop_from_another_thread():
    executor = FnExecutor(fn=lambda rec, ctx, ev: ev.wait(20) and 0.0)
    engine = Engine(
        parse_workers("0"), SearcherController("random", max_rounds=5), executor, **FAST
    )
    threading.Timer(0.2, engine.ask_to_stop, args=("test says stop",)).start()
    engine.run(Context())
    assert engine.stop_reason == "Engine: test says stop"
    assert [j["status"] for j in engine.jobs()] == ["aborted"]


# -- controllers -------------------------------------------------------------------------
def test_an_enum_only_space_is_enumerated_exhaustively():
    executor = FnExecutor(config=enum_config(3), fn=lambda rec, ctx, ev: 1.0)
    engine, _ = run_engine(executor, ReinforcementController(max_rounds=None), workers="0:1:2:3")
    values = [tuple(sorted(j["search_values"].items())) for j in engine.jobs()]
    assert len(values) == len(set(values)) == 8


@pytest.mark.parametrize("searcher", ["random", "grid"])
def test_searcher_controller_feeds_the_searcher(searcher):
    controller = SearcherController(
        searcher, max_rounds=6, search_options={"random_seed": 1} if searcher == "random" else None
    )
    run_engine(FnExecutor(), controller, workers="0:1")
    assert controller.searcher.num_results == 6
    best = controller.searcher.get_best_config()
    assert best[LR] == pytest.approx(max(controller.searcher._results.values()) / 10)


def test_searcher_controller_needs_max_rounds_for_floats():
    engine = Engine(parse_workers("0"), SearcherController("random"), FnExecutor(), **FAST)
    with pytest.raises(EngineError, match="max_rounds is needed"):
        engine.run(Context())


def test_unknown_searcher_name_is_an_error_naming_the_valid_ones():
    engine = Engine(
        parse_workers("0"), SearcherController("nope", max_rounds=2), FnExecutor(), **FAST
    )
    with pytest.raises(EngineError, match=r"searcher must be one of .*'grid', 'random'") as info:
        engine.run(Context())
    assert "got 'nope'" in str(info.value)


def test_reinforcement_controller_runs_one_job_at_a_time_and_learns():
    spans = []
    lock = threading.Lock()

    def fn(rec, ctx, ev):
        start = time.monotonic()
        time.sleep(0.02)
        with lock:
            spans.append((start, time.monotonic()))
        return rec.search_result.values[LR] * 10

    controller = ReinforcementController(max_rounds=5, hidden_size=8, random_seed=0)
    run_engine(FnExecutor(fn=fn), controller, workers="0:1:2")
    assert len(spans) == 5
    spans.sort()
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # never two at once
    assert controller.num_updates == 5


def test_hyperband_controller_stops_poor_jobs_at_rungs():
    def fn(rec, ctx, ev):
        report = ctx.get_prop(ContextKey.REPORT)
        quality = rec.search_result.values[LR] * 10
        for epoch in range(1, 10):
            report(epoch=epoch, score=quality * epoch / 9)
        return quality

    controller = HyperbandController(max_rounds=12, max_t=9, grace_period=1, reduction_factor=3)
    engine, ctx = run_engine(FnExecutor(fn=fn), controller, workers="0:1")
    statuses = [j["status"] for j in engine.jobs()]
    assert len(statuses) == 12
    assert "stopped" in statuses and "completed" in statuses
    history = ctx.get_prop(ContextKey.HISTORY)
    assert history.num_reports > 12
    for job in engine.jobs():
        if job["status"] == "stopped":
            assert job["score"] < max(j["score"] for j in engine.jobs())


def test_hyperband_controller_promotion_resumes_configs():
    resumed = []

    def fn(rec, ctx, ev):
        report = ctx.get_prop(ContextKey.REPORT)
        start = ctx.get_prop(ContextKey.RESUME_FROM) or 0
        if start:
            resumed.append(start)
            assert os.path.isdir(ctx.get_prop(ContextKey.CHECKPOINT_DIR))
        quality = rec.search_result.values[LR] * 10
        for epoch in range(start + 1, 10):
            report(epoch=epoch, score=quality)
        return quality

    controller = HyperbandController(max_rounds=9, max_t=9, reduction_factor=3, type="promotion")
    engine, _ = run_engine(FnExecutor(fn=fn), controller, workers="0:1")
    statuses = [j["status"] for j in engine.jobs()]
    assert "paused" in statuses and resumed
    assert set(resumed) <= {1, 3}


def test_hyperband_controller_needs_per_epoch_reports():
    controller = HyperbandController(max_rounds=2, max_t=3)
    engine, _ = run_engine(FnExecutor(), controller, workers="0")
    for job in engine.jobs():
        assert job["status"] == "failed" and "per-epoch reports" in job["reason"]


# -- MMAR handler and stats (in-process jobs that make a job folder) ----------------------
class FolderExecutor(FnExecutor):
    """Makes a job folder with config/, models/ and scratch/ like an MMAR job."""

    def __init__(self, scores, **kwargs):
        super().__init__(fn=self._job, **kwargs)
        self.scores = scores

    def _job(self, rec, ctx, ev):
        root = os.path.join(ctx.get_prop(MMARPropKey.RUN_ROOT), ctx.get_prop(ContextKey.JOB_NAME))
        for sub in ("config", "models", "scratch"):
            os.makedirs(os.path.join(root, sub))
        with open(os.path.join(root, "log.txt"), "w") as f:
            f.write("log\n")
        ctx.set_prop(MMARPropKey.JOB_MMAR_ROOT, root)
        score = self.scores[rec.rec_id - 1]
        if score is None:
            raise RuntimeError("this job fails")
        return score


def mmar_ctx(tmp_path, run_id="r1"):
    ctx = Context()
    ctx.set_prop(MMARPropKey.MMAR_ROOT, str(tmp_path))
    ctx.set_prop(MMARPropKey.RUN_ID, run_id)
    return ctx


def test_top_n_job_folders_are_kept(tmp_path):
    scores = [0.3, 0.9, None, 0.5, 0.7, 0.1]
    handler = MMARHandler(num_mmars_to_keep=2, key_mmar_content_only=True)
    engine, ctx = run_engine(
        FolderExecutor(scores),
        SearcherController("random", max_rounds=6),
        handlers=[handler],
        ctx=mmar_ctx(tmp_path),
    )
    run_root = ctx.get_prop(MMARPropKey.RUN_ROOT)
    assert run_root == str(tmp_path / "automl" / "r1")
    by_rec = {j["rec_id"]: j["job_name"] for j in engine.jobs()}
    kept = sorted(p for p in os.listdir(run_root) if os.path.isdir(os.path.join(run_root, p)))
    # the two best (rec 2: 0.9, rec 5: 0.7), and the failed one (keep_bad_mmars)
    assert kept == sorted([by_rec[2], by_rec[5], by_rec[3]])
    for rec in (2, 5):
        assert sorted(os.listdir(os.path.join(run_root, by_rec[rec]))) == [
            "config",
            "log.txt",
            "models",
        ]
    board = handler.leaderboard()
    assert [r["rec_id"] for r in board[:5]] == [2, 5, 4, 1, 6]
    assert board[-1]["rec_id"] == 3 and board[-1]["status"] == "failed"
    text = (tmp_path / "automl" / "r1" / "leaderboard.csv").read_text().splitlines()
    assert text[0].startswith("rank,job_name,worker,status,score")
    assert len(text) == 7
    summary = handler.handle_summary([])
    assert summary.startswith("Top MMARs to keep: 2")
    assert by_rec[2] in summary and by_rec[4] not in summary


def test_an_existing_run_folder_is_refused(tmp_path):
    (tmp_path / "automl" / "r1").mkdir(parents=True)
    engine = Engine(
        parse_workers("0"),
        SearcherController("random", max_rounds=1),
        FolderExecutor([1.0]),
        [MMARHandler()],
        **FAST,
    )
    with pytest.raises(EngineError, match="already exists"):
        engine.run(mmar_ctx(tmp_path))


def test_stop_threshold_stops_the_run(tmp_path):
    scores = [0.2, 0.95, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]

    def slow(rec, ctx, ev):
        time.sleep(0.03)
        return FolderExecutor._job(executor, rec, ctx, ev)

    executor = FolderExecutor(scores)
    executor.fn = slow
    engine, _ = run_engine(
        executor,
        SearcherController("random", max_rounds=8),
        workers="0",
        handlers=[MMARHandler(num_mmars_to_keep=3, stop_threshold=0.9)],
        ctx=mmar_ctx(tmp_path),
    )
    assert len(engine.jobs()) == 2
    assert "stop_threshold 0.9" in engine.stop_reason


def test_stats_log_is_written_after_every_job(tmp_path):
    seen_in_file = []

    class Reader(Handler):  # listed after the stats handler: sees its file of this job
        def end_job(self, ctx):
            path = os.path.join(ctx.get_prop(MMARPropKey.RUN_ROOT), "automl_stats_log.json")
            with open(path) as f:
                data = json.load(f)
            seen_in_file.append(
                (ctx.get_prop(ContextKey.JOB_NAME), [j["job_name"] for j in data["jobs"]])
            )

    scores = [0.1, 0.5, None, 0.4]
    _engine, _ = run_engine(
        FolderExecutor(scores),
        SearcherController("random", max_rounds=4),
        handlers=[MMARHandler(num_mmars_to_keep=4), MMARStatsHandler(), Reader()],
        ctx=mmar_ctx(tmp_path),
    )
    assert len(seen_in_file) == 4
    for name, names in seen_in_file:
        assert name in names
    assert sorted(len(n) for _, n in seen_in_file) == [1, 2, 3, 4]
    data = json.loads((tmp_path / "automl" / "r1" / "automl_stats_log.json").read_text())
    assert set(data) == {
        "run_id",
        "start_time",
        "end_time",
        "total_seconds",
        "workers",
        "search_space",
        "num_recommendations",
        "jobs",
        "best",
        "stop_reason",
    }
    assert data["run_id"] == "r1" and data["end_time"] >= data["start_time"]
    assert [w["name"] for w in data["workers"]] == ["W1", "W2"]
    assert sum(w["jobs"] for w in data["workers"]) == 4
    assert data["num_recommendations"] == 4
    assert data["best"]["score"] == 0.5
    assert data["stop_reason"].startswith("done")
    job = data["jobs"][0]
    assert set(job) >= {
        "job_name",
        "worker",
        "gpus",
        "rec_id",
        "start_time",
        "end_time",
        "duration",
        "status",
        "score",
        "search_values",
    }
    assert set(job["search_values"]) == {LR, DEPTH}
    assert {j["status"] for j in data["jobs"]} == {"completed", "failed"}
    assert [p["prl"] for p in data["search_space"]["params"]] == [LR, DEPTH]


def test_results_handler_writes_rows_and_curves(tmp_path):
    def fn(rec, ctx, ev):
        report = ctx.get_prop(ContextKey.REPORT)
        for epoch in (1, 2, 3):
            report(epoch=epoch, score=epoch / 10)
        return 0.3

    run_engine(
        FnExecutor(fn=fn),
        SearcherController("random", max_rounds=3),
        handlers=[ResultsHandler(output_dir=str(tmp_path))],
    )
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 9
    assert {r["epoch"] for r in rows} == {1, 2, 3}
    assert all(r["status"] == "completed" and f"config.{LR}" in r for r in rows)
    assert (tmp_path / "results.csv").exists() and (tmp_path / "training_curves.png").exists()


def test_context_inheritance_and_stop_messages():
    parent = Context()
    parent.set_prop("a", 1)
    child = Context(parent)
    child.set_prop("b", 2)
    assert child.get_prop("a") == 1 and child.get_prop("b") == 2
    assert parent.get_prop("b") is None and parent.get_prop("b", 5) == 5
    child.set_prop("a", 3)
    assert child.get_prop("a") == 3 and parent.get_prop("a") == 1
    assert not parent.stop_work_asked()
    child.stop_work("someone", "first")
    child.stop_work("other", "second")
    assert parent.stop_work_asked() and parent.get_stop_message() == "someone: first"
    with pytest.raises(ValueError, match="parent must be a Context"):
        Context(parent={})


def test_engine_argument_errors():
    workers = parse_workers("0")
    with pytest.raises(ValueError, match="job_poll_interval must be a positive number"):
        Engine(workers, SearcherController(), FnExecutor(), job_poll_interval=0)
    with pytest.raises(ValueError, match="admin_port must be a port number"):
        Engine(workers, SearcherController(), FnExecutor(), admin_port=-1)
    with pytest.raises(ValueError, match=r"executor .* lacks the method"):
        Engine(workers, SearcherController(), object())
    with pytest.raises(ValueError, match="worker names must be distinct"):
        Engine([WorkerConfig("W", [0]), WorkerConfig("W", [1])], SearcherController(), FnExecutor())
    engine = Engine(workers, SearcherController("random", max_rounds=1), FnExecutor(), **FAST)
    engine.run(Context())
    with pytest.raises(RuntimeError, match="an Engine runs once"):
        engine.run(Context())


def test_small_config_is_what_the_helpers_assume():
    assert SMALL_CONFIG["learning_rate"] == 0.01


def test_a_job_that_cannot_start_is_still_an_outcome(monkeypatch):
    controller = RecordingController(max_rounds=3)
    engine = Engine(parse_workers("0"), controller, FnExecutor(), **FAST)
    make_args = engine._make_args

    def broken(train_fn, config, *, task_id, **kwargs):
        if task_id == 1:
            raise OSError("cannot set the job up")
        return make_args(train_fn, config, task_id=task_id, **kwargs)

    monkeypatch.setattr(engine, "_make_args", broken)
    engine.run(Context())
    assert sorted(o.recommendation_id for _, o in controller.refines) == [1, 2, 3]
    failed = [o for _, o in controller.refines if o.recommendation_id == 2]
    assert failed[0].status == JobStatus.FAILED and failed[0].score == FAILED_SCORE
