"""Evaluator throughput: no-op jobs per second with 2 workers, on each method.

For each method this version has (``serial`` with its one worker, ``thread``,
``process``, ``subprocess``, ``ray``) and, when it is installed, DeepHyper's own
evaluator on the same methods (``pip install "scheduler[peers]"``; skipped with a
message otherwise), two patterns over ``--jobs`` no-op jobs (the run function returns
0.0 at once):

* ``batch``: ``submit`` every config, then ``gather("ALL")``;
* ``loop``: a search loop, as DeepHyper's searches drive it: submit ``num_workers``
  configs, then ``gather("BATCH", size=1)`` and submit one new config per result.

jobs/s = jobs / wall time of the pattern (the workers are started and warmed up before
the clock starts). ``--profile METHOD`` prints a cProfile of the driver for the batch
pattern on that method instead, to show what bounds it.

``subprocess`` (an interpreter per job) and DeepHyper's ``process`` (a process per job)
run fewer jobs. Run: ``python bench/evaluator.py`` (2,000 jobs) or ``--smoke`` (CI:
100 jobs, no Ray).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import threading
import time

from _common import command_line, load_average, machine_line, markdown_table

from scheduler.evaluator import Evaluator, methods
from scheduler.runtime.backends import BACKENDS

WORKERS = 2
WARMUP = 20
#: methods that start a process per job run fewer jobs (full run, smoke)
SUBPROCESS_JOBS = {False: 200, True: 10}
DEEPHYPER_PROCESS_JOBS = {False: 500, True: 20}


def noop(config):
    return 0.0


def noop_job(job):  # DeepHyper >= 0.4 passes a job
    return 0.0


async def noop_async(job):  # DeepHyper's serial method wants a coroutine
    return 0.0


def our_methods(smoke: bool) -> list[str]:
    names = [m for m in methods() if {"serial": "thread"}.get(m, m) in BACKENDS]
    if smoke:
        names = [m for m in names if m != "ray"]  # a Ray start costs more than CI's run
    return names


def batch(ev, n: int) -> int:
    ev.submit([{"x": i} for i in range(n)])
    return len(ev.gather("ALL"))


def loop(ev, n: int, workers: int) -> int:
    submitted = min(workers, n)
    ev.submit([{"x": i} for i in range(submitted)])
    done = 0
    while done < n:
        finished = ev.gather("BATCH", size=1)
        done += len(finished)
        fresh = min(len(finished), n - submitted)
        if fresh:
            ev.submit([{"x": submitted + i} for i in range(fresh)])
            submitted += fresh
    return done


def timed(pattern, *args) -> float:
    t0 = time.perf_counter()
    count = pattern(*args)
    wall = time.perf_counter() - t0
    return count / wall


def ours(method: str, n: int) -> tuple[float, float]:
    workers = 1 if method == "serial" else WORKERS
    kwargs = {"num_workers": workers} if method != "serial" else {}
    with Evaluator.create(noop, method=method, method_kwargs=kwargs) as ev:
        batch(ev, WARMUP)
        return timed(batch, ev, n), timed(loop, ev, n, workers)


def deephyper_rates(method: str, n: int) -> tuple[float, float]:
    from deephyper.evaluator import Evaluator as DHEvaluator

    fn = noop_async if method == "serial" else noop_job
    workers = 1 if method == "serial" else WORKERS
    ev = DHEvaluator.create(fn, method=method, method_kwargs={"num_workers": workers})
    try:
        batch(ev, WARMUP)
        return timed(batch, ev, n), timed(loop, ev, n, workers)
    finally:
        close = getattr(ev, "close", None)
        if close is not None:
            close()


def deephyper_version() -> str | None:
    try:
        import deephyper
    except ImportError:
        return None
    return deephyper.__version__


def profile(method: str, n: int) -> None:
    """cProfile every thread of the driver (each thread started from here on runs
    under a profiler of its own; the stats are merged)."""
    profilers: list[cProfile.Profile] = []
    run = threading.Thread.run

    def profiled_run(self):
        profiler = cProfile.Profile()
        profilers.append(profiler)
        profiler.runcall(run, self)

    threading.Thread.run = profiled_run
    workers = 1 if method == "serial" else WORKERS
    kwargs = {"num_workers": workers} if method != "serial" else {}
    main_profiler = cProfile.Profile()
    with Evaluator.create(noop, method=method, method_kwargs=kwargs) as ev:
        batch(ev, WARMUP)
        main_profiler.enable()
        t0 = time.perf_counter()
        rate = timed(batch, ev, n)
        wall = time.perf_counter() - t0
        main_profiler.disable()
    threading.Thread.run = run
    cpu = time.process_time()
    print(
        f"{method}: {rate:.0f} jobs/s under the profiler ({wall:.2f} s wall; "
        f"driver CPU so far {cpu:.2f} s)"
    )
    stats = pstats.Stats(main_profiler)
    for profiler in profilers:
        stats.add(profiler)
    stats.sort_stats("tottime").print_stats(30)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--methods", nargs="+", default=None)
    parser.add_argument("--no-peers", action="store_true", help="skip DeepHyper")
    parser.add_argument("--profile", metavar="METHOD", default=None)
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI")
    args = parser.parse_args(argv)
    n = 100 if args.smoke else args.jobs
    if args.profile:
        profile(args.profile, n)
        return
    print(f"Command: `{command_line('bench/evaluator.py')}`")
    print(f"Machine: {machine_line()}; load average {load_average()}")
    print(f"no-op jobs, {WORKERS} workers (serial: 1)\n")
    rows = []
    for method in args.methods or our_methods(args.smoke):
        count = min(n, SUBPROCESS_JOBS[args.smoke]) if method == "subprocess" else n
        rates = ours(method, count)
        rows.append(["scheduler", method, str(count), *(f"{r:.0f}" for r in rates)])
        print(f"scheduler {method} ({count} jobs): {rates[0]:.0f} / {rates[1]:.0f}", flush=True)
    version = None if args.no_peers else deephyper_version()
    if version is None:
        print('DeepHyper: skipped (not installed: pip install "scheduler[peers]")')
    else:
        # DeepHyper's process method starts a process per job: fewer jobs keep it short
        for method in ("serial", "thread", "process"):
            count = min(n, DEEPHYPER_PROCESS_JOBS[args.smoke]) if method == "process" else n
            rates = deephyper_rates(method, count)
            rows.append([f"DeepHyper {version}", method, str(count), *(f"{r:.0f}" for r in rates)])
            print(f"DeepHyper {method} ({count} jobs): {rates[0]:.0f} / {rates[1]:.0f}")
    print()
    header = ["evaluator", "method", "jobs", "batch jobs/s", "loop jobs/s"]
    print(markdown_table(header, rows, {2, 3, 4}))


if __name__ == "__main__":
    main()
