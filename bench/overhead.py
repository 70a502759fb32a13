"""Runtime overhead: launch latency, report round trip, throughput, worker utilization.

For each backend (thread, process, subprocess, command) and epoch length (0, 1 and
10 ms of ``time.sleep`` per epoch): ``--trials`` no-op trials of 9 reports each under
FIFOScheduler with 2 workers (``--fresh-trials`` for the backends that start an
interpreter per trial: subprocess, command). Each trial measures

* launch latency: wall time from the runtime registering the task to ``train_fn``
  starting (median and p99 over trials); for ``command`` (a Python script that
  imports only ``scheduler.report``, ``bench/_command_noop.py``) to the script having
  imported ``scheduler`` (the interpreter's own start included; "first line" is the
  time to the script's first statement, before any import);
* report round trip: time spent inside ``reporter(...)`` / ``scheduler.report(...)``
  (validate, send, decide, reply), median and p99 over all reports;
* utilization: time inside ``train_fn`` summed over trials / (workers x wall time).

The 0 ms rows show the hot path. The round trip grows with the epoch length although
the work per report does not: code that ran after its thread slept runs slower (cold
caches, a CPU woken from idle), and a process round trip also pays the wake-up of the
driver's I/O thread. ``bench/wakeup.py`` measures both effects on their own.

``--lock`` measures the lock discipline instead (issue 9): the time each
``handle_report`` holds the runtime (p50 / p99 / max, timed around the call) and the
report round trip seen by the trial (p50 / p99), thread backend, no sleep, for FIFO
without output files, FIFO with ``output_dir`` and reports that bring a new key every
100 reports (each widens ``results.csv``: the writer thread rewrites it), the RL
scheduler (its REINFORCE updates run on the searcher thread), and FIFO with
``searcher='bayesopt'`` (its GP fits run on the searcher thread, off the lock; fewer
trials, ``--bayesopt-trials``, since each trial waits for a fit). Its "full GCs" column
counts CPython's full (generation 2) collections during each case and the longest one
(``gc.callbacks``): one that falls inside a report is that report's worst time.

``--backend ray`` runs the Ray backend on a local Ray of 2 CPUs (no dashboard) that the
benchmark starts; alone it defaults to the 500 trials and 0 ms epochs that
``bench/peers_ray.py`` compares with Ray Tune, and adds trials/s.

Run: ``python bench/overhead.py`` (full: 2,000 trials, 200 for the fresh-interpreter
backends) or ``--smoke`` (CI); ``python bench/overhead.py --lock`` for the lock table;
``python bench/overhead.py --backend ray`` for the Ray backend.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time

from _common import load_average, results_header

import scheduler as sch

REPORTS = 9
FRESH = ("subprocess", "command")  # a new interpreter per trial
NOOP_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_command_noop.py")
noop_command = sch.Command([sys.executable, NOOP_SCRIPT], epoch_s=0.001, x=sch.space.Real(0.0, 1.0))


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


@sch.args(epoch_s=0.001, x=sch.space.Real(0.0, 1.0))
def noop_fn(args, reporter):
    entered_wall = time.time()
    entered = time.perf_counter()
    round_trips = []
    for epoch in range(1, REPORTS + 1):
        if args.epoch_s:
            time.sleep(args.epoch_s)
        t0 = time.perf_counter()
        reporter(
            epoch=epoch,
            accuracy=args.x,
            entered_wall=entered_wall,
            inside=t0 - entered,
            rt_prev=round_trips[-1] if round_trips else None,
        )
        round_trips.append(time.perf_counter() - t0)


def run_one(backend: str, epoch_ms: float, trials: int, workers: int = 2) -> dict:
    s = sch.FIFOScheduler(
        noop_command if backend == "command" else noop_fn,
        args={"epoch_s": epoch_ms / 1000.0},
        resource={"num_cpus": 1, "num_gpus": 0},
        total_resources={"num_cpus": workers, "num_gpus": 0},
        num_trials=trials,
        reward_attr="accuracy",
        time_attr="epoch",
        backend="process" if backend == "command" else backend,
        progress=False,
    )
    t0 = time.perf_counter()
    s.run()
    s.join_jobs()
    wall = time.perf_counter() - t0
    launches, first_lines, round_trips, inside = [], [], [], 0.0
    n_reports = 0
    for task_id, record in s.history.tasks.items():
        rows = s.training_history[task_id]
        n_reports += len(rows)
        launches.append(rows[0]["entered_wall"] - record.start_time)
        if "first_line_wall" in rows[0]:
            first_lines.append(rows[0]["first_line_wall"] - record.start_time)
        round_trips.extend(r["rt_prev"] for r in rows if r["rt_prev"] is not None)
        inside += rows[-1]["inside"]  # entry to the last report: every epoch included
    statuses = s.history.status_counts()
    if statuses.get("completed", 0) != trials:
        raise RuntimeError(f"expected {trials} completed trials, got {statuses}")
    return {
        "backend": backend,
        "epoch_ms": epoch_ms,
        "trials": trials,
        "wall_s": wall,
        "launch_ms": statistics.median(launches) * 1e3,
        "launch_p99_ms": percentile(launches, 99) * 1e3,
        "first_line_ms": statistics.median(first_lines) * 1e3 if first_lines else None,
        "round_trip_us": statistics.median(round_trips) * 1e6,
        "round_trip_p99_us": percentile(round_trips, 99) * 1e6,
        "reports_per_s": n_reports / wall,
        "trials_per_s": trials / wall,
        "utilization": inside / (workers * wall),
    }


_REPORT_COUNTER = [0]


@sch.args(x=sch.space.Real(0.0, 1.0), widen=False)
def lock_fn(args, reporter):
    round_trips = []
    for epoch in range(1, REPORTS + 1):
        extra = {}
        if args.widen:
            _REPORT_COUNTER[0] += 1
            extra[f"metric_{_REPORT_COUNTER[0] // 100}"] = epoch
        t0 = time.perf_counter()
        reporter(
            epoch=epoch,
            accuracy=args.x * epoch,
            rt_prev=round_trips[-1] if round_trips else None,
            **extra,
        )
        round_trips.append(time.perf_counter() - t0)


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99, ordered[-1]


def run_lock_case(case: str, trials: int, workers: int = 2) -> dict:
    common = dict(
        resource={"num_cpus": 1, "num_gpus": 0},
        total_resources={"num_cpus": workers, "num_gpus": 0},
        num_trials=trials,
        reward_attr="accuracy",
        time_attr="epoch",
        backend="thread",
        progress=False,
    )
    out = tempfile.TemporaryDirectory(prefix="bench-lock-") if case == "output_dir" else None
    if case == "rl":
        s = sch.RLScheduler(lock_fn, controller_batch_size=workers, **common)
    elif case == "bayesopt":
        s = sch.FIFOScheduler(
            lock_fn, searcher="bayesopt", search_options={"random_seed": 0}, **common
        )
    else:
        s = sch.FIFOScheduler(
            lock_fn,
            args={"widen": case == "output_dir"},
            output_dir=None if out is None else out.name,
            **common,
        )
    held: list[float] = []
    inner = s._runner.handle_report

    def timed(task_id, result):
        t0 = time.perf_counter()
        decision = inner(task_id, result)
        held.append(time.perf_counter() - t0)
        return decision

    s._runner.handle_report = timed  # the backend is built at run() with this one
    pauses: list[float] = []  # CPython's full (generation 2) collections during the run
    began = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if info["generation"] == 2:
            if phase == "start":
                began[0] = time.perf_counter()
            else:
                pauses.append(time.perf_counter() - began[0])

    gc.callbacks.append(on_gc)
    t0 = time.perf_counter()
    try:
        s.run()
        s.join_jobs()
    finally:
        gc.callbacks.remove(on_gc)
    wall = time.perf_counter() - t0
    rows = [r for rows in s.training_history.values() for r in rows]
    round_trips = [r["rt_prev"] for r in rows if r.get("rt_prev") is not None]
    depth = s._runner.outputs.max_depth
    if out is not None:
        out.cleanup()
    return {
        "case": case,
        "reports": len(held),
        "held": _percentiles(held),
        "round_trip": _percentiles(round_trips),
        "wall_s": wall,
        "queue": depth,
        "full_gcs": pauses,
    }


def lock_table(trials: int, bayesopt_trials: int) -> None:
    print(
        f"lock discipline: {trials} trials ({bayesopt_trials} for bayesopt) x {REPORTS} "
        "reports, thread backend, 2 workers"
    )
    print(
        "| case | reports | handle_report p50 / p99 / max | round trip p50 / p99 "
        "| writer queue max | full GCs (longest) | wall |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|")
    run_lock_case("plain", 20)  # warm-up
    for case in ("plain", "output_dir", "output_dir, gc off", "rl", "bayesopt"):
        # "gc off": the same output_dir run with CPython's cyclic collector disabled,
        # which shows what its full collections add to the worst report
        gc_off = case.endswith("gc off")
        # every case starts from a collected heap: the previous case's garbage (and the
        # interpreter's first full collection after its imports) is not charged to it;
        # the full collections that the case's own objects bring are (see the column)
        gc.collect()
        if gc_off:
            gc.disable()
        try:
            r = run_lock_case(case.split(",")[0], bayesopt_trials if case == "bayesopt" else trials)
        finally:
            if gc_off:
                gc.enable()
        h50, h99, hmax = (1e6 * v for v in r["held"])
        t50, t99, _ = (1e6 * v for v in r["round_trip"])
        pauses = r["full_gcs"]
        gcs = f"{len(pauses)} ({1e3 * max(pauses):.1f} ms)" if pauses else "0"
        print(
            f"| {case} | {r['reports']} | {h50:.1f} / {h99:.1f} / {hmax:.0f} us "
            f"| {t50:.1f} / {t99:.1f} us | {r['queue']} | {gcs} | {r['wall_s']:.1f} s |",
            flush=True,
        )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=None, help="default 2000 (ray: 500)")
    parser.add_argument(
        "--fresh-trials", type=int, default=200, help="trials for subprocess and command"
    )
    parser.add_argument("--epoch-ms", type=float, nargs="+", default=None)
    parser.add_argument("--backends", nargs="+", default=None)
    parser.add_argument(
        "--backend", action="append", default=[], help="one backend (repeatable), e.g. ray"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI")
    parser.add_argument("--lock", action="store_true", help="the lock-discipline table")
    parser.add_argument(
        "--bayesopt-trials", type=int, default=200, help="trials of the lock table's bayesopt case"
    )
    options = parser.parse_args(argv)
    options.backends = (options.backends or []) + options.backend or [
        "thread",
        "process",
        "subprocess",
        "command",
    ]
    only_ray = options.backends == ["ray"]
    if options.trials is None:
        options.trials = 500 if only_ray else 2000
    if options.epoch_ms is None:
        options.epoch_ms = [0.0] if only_ray else [0.0, 1.0, 10.0]
    if options.smoke:
        options.trials = 20
        options.fresh_trials = 6
        options.bayesopt_trials = 8
    print("# Runtime overhead\n")
    print(results_header("bench/overhead.py", load_average(), at_end=False))
    print()
    if "ray" in options.backends:
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    if (options.lock or options.smoke) and not only_ray:
        lock_table(options.trials, min(options.trials, options.bayesopt_trials))
        if options.lock:
            return
    print(
        f"{options.trials} trials ({options.fresh_trials} for {', '.join(FRESH)}) x "
        f"{REPORTS} reports, 2 workers"
    )
    header = (
        f"| {'backend':10} | {'epoch':>6} | {'launch p50 / p99':>19} | "
        f"{'round trip p50 / p99':>21} | {'reports/s':>9} | {'utilization':>11} | {'wall':>7} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    notes = []
    for backend in options.backends:
        trials = options.fresh_trials if backend in FRESH else options.trials
        run_one(backend, 0.0, 4)  # warm-up: worker processes, imports
        for epoch_ms in options.epoch_ms:
            r = run_one(backend, epoch_ms, trials)
            print(
                f"| {backend:10} | {epoch_ms:3.0f} ms | "
                f"{r['launch_ms']:7.2f} / {r['launch_p99_ms']:6.2f} ms | "
                f"{r['round_trip_us']:7.1f} / {r['round_trip_p99_us']:7.1f} us | "
                f"{r['reports_per_s']:9.0f} | "
                f"{100 * r['utilization']:10.1f}% | {r['wall_s']:5.1f} s |",
                flush=True,
            )
            if backend == "ray":
                notes.append(f"ray {epoch_ms:.0f} ms: {r['trials_per_s']:.1f} trials/s")
            if r["first_line_ms"] is not None:
                notes.append(
                    f"{backend} {epoch_ms:.0f} ms: {r['first_line_ms']:.1f} ms to the script's "
                    "first line (interpreter start), the rest of the launch is its imports"
                )
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
