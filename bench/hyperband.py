"""Hyperband scheduling cost: wall time, reports/s, and scheduler CPU per report vs configs.

One seeded synthetic learning-curve workload through the full HyperbandScheduler
(thread backend, no-op epochs, 2 workers, max_t=81, grace_period=1, eta=3), for
``type='stopping'`` and ``type='promotion'``, at each ``--configs`` size (default 1,000
and 10,000). The curves cross: configs that start fast plateau low, slow starters end
high, so early rungs rank configs differently from the last one. A promoted task
resumes at ``args.scheduler.resume_from``, so no epoch is reported twice.

Measured by wrapping the bound methods on the runtime and policy instances:

* ``handle_report``: the runtime's whole decision on one report (lock, policy, history,
  bookkeeping), once per report. CPU is ``time.thread_time`` inside the wrapper (the
  reporting thread's own CPU, blind to lock waits and to other threads); wall is
  ``time.perf_counter`` (adds waiting for the lock and for the GIL).
* ``policy.on_report``: the rung kernel plus the policy around it (inside the lock),
  timed in separate runs so that no wrapper sits inside a timed ``handle_report``.
* ``policy.promote`` and ``policy.add_config``: the launch decisions (a promotion, or
  None; a new config the runtime drew, numbered and given its bracket), CPU.

Each timing is the per-call median or mean over every call of a run, clock reads
included (the header gives their cost). ``--repeats`` rounds run every (type, size)
pair in turn, so a noisy spell on a shared machine hits every size; a row is the pair's
run with the lowest handle_report CPU mean. Growth ratios compare those rows, largest
size over smallest: the target is that scheduler CPU per report grows at most 1.5x from
1,000 to 10,000 configs (PASS/MISS is printed, never asserted). The garbage collector
stays on (its passes are part of what a report costs); the growth lines also give the
thread CPU of the passes that ran inside handle_report, and the mean without them, and
split the median by kind of report (at a rung level or max_t, where the policy also
updates the searcher, or between rungs), since the mix of the two moves with the size.

Run: ``python bench/hyperband.py`` (full: a few minutes) or ``--smoke`` (CI: 30 and
100 configs, one run, a few seconds). Exits 0 whenever it ran.
"""

from __future__ import annotations

import argparse
import gc
import math
import shutil
import statistics
import sys
import threading
import time

from _common import load_average, markdown_table, results_header

import scheduler as sch
from scheduler import space

MAX_T = 81
TARGET_GROWTH = 1.5
TYPES = ("stopping", "promotion")


def curve(x: float, y: float, epoch: int) -> float:
    """Accuracy after ``epoch`` epochs: plateau rises with x, speed falls with x.

    x=0 reaches its plateau of 0.55 within a few epochs; x=1 climbs slowly to ~0.87 at
    epoch 81. y scales the speed and phases a small wiggle, so ties are rare.
    """
    plateau = 0.55 + 0.4 * x
    speed = 0.03 + 0.5 * (1.0 - x) * (0.5 + y)
    return plateau * (1.0 - math.exp(-speed * epoch)) + 0.005 * math.sin(13.0 * x + y * epoch)


@sch.args(x=space.Real(0.0, 1.0), y=space.Real(0.0, 1.0), epochs=MAX_T)
def curve_fn(args, reporter):
    start = args.scheduler.resume_from or 0
    for epoch in range(start + 1, args.epochs + 1):
        reporter(epoch=epoch, accuracy=curve(args.x, args.y, epoch))


_in_timer = threading.local()  # .gc: thread CPU of GC passes inside the current timed call


def _gc_callback(phase: str, info: dict) -> None:
    gc_time = getattr(_in_timer, "gc", None)
    if gc_time is None:
        return
    if phase == "start":
        _in_timer.start = time.thread_time()
    else:
        _in_timer.gc = gc_time + time.thread_time() - _in_timer.start


class Timer:
    """Per-call thread CPU, wall time, and GC time of a wrapped callable.

    Calls may come from several threads (list appends are atomic). The GC time of a call
    is the thread CPU of the garbage collector's passes that ran inside it (counted
    while :func:`_gc_callback` is installed).
    """

    def __init__(self) -> None:
        self.cpu: list[float] = []
        self.wall: list[float] = []
        self.gc: list[float] = []
        self.labels: list[bool] = []

    def wrap(self, fn, label=None):
        """``label(*args)``, if given, tags each call (kept in :attr:`labels`)."""
        cpu, wall, gc_time, tag = (
            self.cpu.append,
            self.wall.append,
            self.gc.append,
            self.labels.append,
        )
        perf, thread = time.perf_counter, time.thread_time
        local = _in_timer

        def timed(*args, **kwargs):
            local.gc = 0.0
            w0, c0 = perf(), thread()
            try:
                return fn(*args, **kwargs)
            finally:
                c1, w1 = thread(), perf()
                cpu(c1 - c0)
                wall(w1 - w0)
                gc_time(local.gc)
                local.gc = None
                if label is not None:
                    tag(label(*args))

        return timed

    @property
    def calls(self) -> int:
        return len(self.cpu)

    def us(self, what: str, stat: str, label: bool | None = None) -> float:
        values = getattr(self, what)
        if label is not None:
            values = [v for v, tag in zip(values, self.labels) if tag == label]
        if not values:
            return float("nan")
        f = statistics.median if stat == "median" else statistics.fmean
        return 1e6 * f(values)


def clock_overhead_us(samples: int = 20_000) -> float:
    """Median time a :class:`Timer` reports for an empty call: its clock reads."""
    timer = Timer()
    empty = timer.wrap(lambda: None)
    for _ in range(samples):
        empty()
    return timer.us("cpu", "median")


def run_one(kind: str, configs: int, *, inner: bool = False, workers: int = 2) -> dict:
    """One run. ``inner=False`` times handle_report and the launch decisions; ``inner=True`` times
    policy.on_report alone, so no wrapper sits inside a timed handle_report."""
    s = sch.HyperbandScheduler(
        curve_fn,
        type=kind,
        max_t=MAX_T,
        grace_period=1,
        reduction_factor=3,
        backend="thread",
        total_resources={"num_cpus": workers, "num_gpus": 0},
        resource={"num_cpus": 1, "num_gpus": 0},
        num_trials=configs,
        search_options={"random_seed": 1},
        reward_attr="accuracy",
        time_attr="epoch",
        progress=False,
    )
    runner = s._ensure_runner()
    report, decide, suggest = Timer(), Timer(), Timer()
    # Instance attributes shadow the methods: the backend binds runner.handle_report
    # at start(), and the runner calls self.policy.on_report / .promote / .add_config.
    if inner:
        runner.policy.on_report = decide.wrap(runner.policy.on_report)
    else:
        # Reports at a rung level or at max_t also update the searcher: the dearer kind.
        rungs = {*runner.policy.levels, MAX_T}
        runner.handle_report = report.wrap(
            runner.handle_report, label=lambda task_id, result: result["epoch"] in rungs
        )
        runner.policy.promote = suggest.wrap(runner.policy.promote)
        runner.policy.add_config = suggest.wrap(runner.policy.add_config)
    gc.collect()
    gc.callbacks.append(_gc_callback)
    try:
        t0 = time.perf_counter()
        s.run()
        s.join_jobs()
        wall = time.perf_counter() - t0
    finally:
        gc.callbacks.remove(_gc_callback)
        shutil.rmtree(s.checkpoint_root, ignore_errors=True)
    reports = sum(len(rows) for rows in s.training_history.values())
    statuses = s.history.status_counts()
    bad = {k: v for k, v in statuses.items() if k not in ("completed", "stopped", "paused") and v}
    started = runner.num_configs_started
    timed = decide.calls if inner else report.calls
    if bad or started != configs or timed != reports:
        raise RuntimeError(
            f"{kind}/{configs}: statuses {statuses}, {started} configs started, "
            f"{timed} timed calls for {reports} stored reports"
        )
    return {
        "type": kind,
        "configs": configs,
        "tasks": len(s.history.tasks),
        "reports": reports,
        "wall_s": wall,
        "reports_per_s": reports / wall,
        "hr_cpu_median": report.us("cpu", "median"),
        "hr_cpu_mean": report.us("cpu", "mean"),
        "hr_wall_median": report.us("wall", "median"),
        "hr_wall_mean": report.us("wall", "mean"),
        "hr_gc_mean": report.us("gc", "mean"),
        "hr_cpu_median_rung": report.us("cpu", "median", label=True),
        "hr_cpu_median_between": report.us("cpu", "median", label=False),
        "rung_share": statistics.fmean(report.labels) if report.labels else float("nan"),
        "on_report_median": decide.us("cpu", "median"),
        "suggest_median": suggest.us("cpu", "median"),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--types", nargs="+", choices=TYPES, default=list(TYPES))
    parser.add_argument("--repeats", type=int, default=3, help="runs per row; the best is shown")
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI")
    options = parser.parse_args(argv)
    if options.smoke:
        options.configs, options.repeats = [30, 100], 1
    sizes = sorted(set(options.configs))
    load_before = load_average()

    for kind in options.types:
        run_one(kind, 50)  # warm-up: imports, code paths, thread machinery
    overhead = clock_overhead_us()
    runs: dict[tuple[str, int], list[dict]] = {}
    inner: dict[tuple[str, int], list[dict]] = {}
    for _ in range(options.repeats):  # interleaved, so a noisy spell hits every size
        for kind in options.types:
            for configs in sizes:
                runs.setdefault((kind, configs), []).append(run_one(kind, configs))
                inner.setdefault((kind, configs), []).append(run_one(kind, configs, inner=True))
    best = {key: min(rs, key=lambda r: r["hr_cpu_mean"]) for key, rs in runs.items()}
    for key, rs in inner.items():
        best[key]["on_report_median"] = min(r["on_report_median"] for r in rs)

    print("# Hyperband through the whole scheduler\n")
    print(results_header("bench/hyperband.py", load_before))
    print()
    print(
        f"Thread backend, 2 workers, no-op epochs; max_t={MAX_T}, grace_period=1, eta=3; "
        f"searcher seed 1; garbage collector on. Each row is the best of {options.repeats} "
        "run(s) (lowest handle_report CPU mean); policy.on_report is timed in separate runs "
        "(min over them). Times are per call in microseconds; CPU is the calling thread's "
        "time.thread_time, wall is time.perf_counter (adds lock and GIL waits). Each includes "
        f"the timer's own clock reads: {overhead:.2f} us (median, empty call)."
    )
    print()
    header = [
        "type",
        "configs",
        "tasks",
        "reports",
        "wall s",
        "reports/s",
        "handle_report CPU us (median / mean)",
        "handle_report wall us (median / mean)",
        "policy.on_report CPU us (median)",
        "promote / add_config CPU us (median)",
    ]
    rows = []
    for kind in options.types:
        for configs in sizes:
            r = best[kind, configs]
            rows.append(
                [
                    kind,
                    f"{configs:,}",
                    f"{r['tasks']:,}",
                    f"{r['reports']:,}",
                    f"{r['wall_s']:.2f}",
                    f"{r['reports_per_s']:,.0f}",
                    f"{r['hr_cpu_median']:.1f} / {r['hr_cpu_mean']:.1f}",
                    f"{r['hr_wall_median']:.1f} / {r['hr_wall_mean']:.1f}",
                    f"{r['on_report_median']:.1f}",
                    f"{r['suggest_median']:.1f}",
                ]
            )
    print(markdown_table(header, rows, right=set(range(1, len(header)))))
    print()
    if len(sizes) < 2:
        print("Growth: needs two --configs sizes.")
        return 0
    small, large = sizes[0], sizes[-1]
    print(
        f"Growth of scheduler CPU per report (handle_report thread CPU), {large:,} vs "
        f"{small:,} configs, target <= {TARGET_GROWTH}x:"
    )
    print()
    for kind in options.types:
        lo, hi = best[kind, small], best[kind, large]
        parts = []
        for stat in ("median", "mean"):
            a, b = lo[f"hr_cpu_{stat}"], hi[f"hr_cpu_{stat}"]
            verdict = "PASS" if b / a <= TARGET_GROWTH else "MISS"
            parts.append(f"{stat} {a:.1f} -> {b:.1f} us = {b / a:.2f}x {verdict}")
        a = lo["hr_cpu_mean"] - lo["hr_gc_mean"]
        b = hi["hr_cpu_mean"] - hi["hr_gc_mean"]
        parts.append(
            f"GC passes inside it {lo['hr_gc_mean']:.1f} -> {hi['hr_gc_mean']:.1f} us per report, "
            f"mean without them {a:.1f} -> {b:.1f} us = {b / a:.2f}x"
        )
        print(f"- {kind}: " + "; ".join(parts))
    print()
    print(
        "By kind of report (handle_report CPU median; a report at a rung level or at max_t "
        "also updates the searcher, so the mix moves the overall figures):"
    )
    print()
    for kind in options.types:
        lo, hi = best[kind, small], best[kind, large]
        parts = [
            f"reports at a rung {100 * lo['rung_share']:.0f}% -> {100 * hi['rung_share']:.0f}%"
        ]
        for what, key in (("at a rung", "rung"), ("between rungs", "between")):
            a, b = lo[f"hr_cpu_median_{key}"], hi[f"hr_cpu_median_{key}"]
            parts.append(f"{what} {a:.1f} -> {b:.1f} us = {b / a:.2f}x")
        print(f"- {kind}: " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
