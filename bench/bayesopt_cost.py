"""Cost of the bayesopt searcher: refit plus one get_config, against observations.

For each size n (default 200 and 2,000 observations; targets: 100 ms and 1 s), a
``GPSearcher`` on a 6-dimensional space (Hartmann6's) is given n observations of
random configs, then timed:

* ``cold``: the first ``get_config`` (fits the hyperparameters from scratch, with
  restarts, then optimizes EI);
* ``warm``: ``update`` with one more observation, then ``get_config``, repeated
  (``--repeats``); each call refits (re-optimizes the hyperparameters from the previous
  fit when due, always recomputes the posterior) and optimizes EI, as in a run. Four
  configs are pending while it runs (fantasized, as with 4 workers).

The multi-fidelity searcher is timed the same way with n observations spread over
rung levels 1, 3, 9, 27 and max_t = 81. Past ``max_size_data_for_model`` (500)
observations the model sees a subsample of that size, so the cost stops growing.

Wall and CPU (``time.thread_time``) per call; the min is the computation's cost, the
median includes a shared machine's preemptions. PASS/MISS against the targets compares
the median warm wall time and the median warm CPU time (the two agree on an idle
machine; on a busy one the CPU time is the computation's cost), printed, never
asserted.

Run: ``python bench/bayesopt_cost.py`` (a minute or two) or ``--smoke`` (CI: n = 30,
one repeat, a few seconds). Exits 0 whenever it ran.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
from _common import command_line, load_average, machine_line, markdown_table

from scheduler.benchmarks import Hartmann6
from scheduler.searchers.bayesopt import GPMultiFidelitySearcher, GPSearcher

TARGETS = {200: 0.100, 2000: 1.0}
LEVELS = (1, 3, 9, 27, 81)


def _feed_single(searcher, space, rng, n, objective):
    for _ in range(n):
        config = space.sample(rng)
        searcher.update(config, objective(config))


def _feed_multi(searcher, space, rng, n, objective):
    count = 0
    while count < n:
        config = space.sample(rng)
        base = objective(config)
        for level in LEVELS:
            if count >= n:
                break
            searcher.update(config, base * (1 - 0.5 / level), epoch=level)
            count += 1
            if rng.random() < 0.6:  # most configs stop at a low rung
                break


def measure(kind: str, n: int, repeats: int, seed: int = 0) -> dict:
    bench = Hartmann6()
    space = bench.space
    rng = np.random.default_rng(seed)

    def objective(config):
        return bench.objective(config, 1)[0]

    if kind == "single":
        searcher = GPSearcher(
            space, reward_attr="y", mode="min", num_init_random=0, random_seed=seed
        )
        _feed_single(searcher, space, rng, n, objective)
    else:
        searcher = GPMultiFidelitySearcher(
            space,
            reward_attr="y",
            mode="min",
            resource_attr="epoch",
            max_t=81,
            rung_levels=list(LEVELS[:-1]),
            num_init_random=0,
            random_seed=seed,
        )
        _feed_multi(searcher, space, rng, n, objective)
    for _ in range(4):
        searcher.register_pending(space.sample(rng))

    def timed():
        wall, cpu = time.perf_counter(), time.thread_time()
        config = searcher.get_config()
        return time.perf_counter() - wall, time.thread_time() - cpu, config

    cold_wall, cold_cpu, config = timed()
    walls, cpus = [], []
    for _ in range(repeats):
        if kind == "single":
            searcher.update(config, objective(config))
        else:
            searcher.update(config, objective(config), epoch=1)
        wall, cpu, config = timed()
        walls.append(wall)
        cpus.append(cpu)
    return {
        "kind": kind,
        "n": n,
        "cold_wall": cold_wall,
        "cold_cpu": cold_cpu,
        "warm_wall_median": statistics.median(walls),
        "warm_wall_min": min(walls),
        "warm_cpu_median": statistics.median(cpus),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    sizes = args.sizes or ([30] if args.smoke else [200, 2000])
    repeats = args.repeats or (1 if args.smoke else 7)
    print(f"Command: `{command_line('bench/bayesopt_cost.py')}`\n")
    print(f"Machine: {machine_line()}; load average before the run: {load_average()}\n")
    rows = []
    for kind in ("single", "multi"):
        for n in sizes:
            r = measure(kind, n, repeats)
            target = TARGETS.get(n)
            verdict = ""
            if target is not None:
                wall_ok = "PASS" if r["warm_wall_median"] <= target else "MISS"
                cpu_ok = "PASS" if r["warm_cpu_median"] <= target else "MISS"
                verdict = f"wall {wall_ok}, CPU {cpu_ok}"
            rows.append(
                [
                    "bayesopt" if kind == "single" else "bayesopt (Hyperband)",
                    f"{n:,}",
                    f"{1e3 * r['cold_wall']:.0f} ms",
                    f"{1e3 * r['warm_wall_median']:.0f} ms",
                    f"{1e3 * r['warm_wall_min']:.0f} ms",
                    f"{1e3 * r['warm_cpu_median']:.0f} ms",
                    "" if target is None else f"{1e3 * target:.0f} ms: {verdict}",
                ]
            )
            print(f"  {rows[-1]}", file=sys.stderr)
    header = [
        "searcher",
        "observations",
        "cold (wall)",
        "warm median (wall)",
        "warm min (wall)",
        "warm median (CPU)",
        "target",
    ]
    print(markdown_table(header, rows, right={1, 2, 3, 4, 5}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
