"""Ray backend vs Ray Tune on the same Ray: ASHA stopping on no-op trials.

The workload: ``--trials`` configs (default 500), each 9 epochs reporting
``accuracy = x * epoch / 9`` for its ``x`` (evenly spread over [0, 1), shuffled with a
fixed seed, the same order for both), 2 workers (a local Ray of 2 CPUs, one CPU per
trial). Asynchronous successive halving, stopping variant, grace period 1, reduction
factor 3, max_t 9 (rungs at epochs 1 and 3):

* ours: ``HyperbandScheduler(type='stopping', backend='ray')``, the grid searcher
  walking the configs in order;
* Ray Tune: ``AsyncHyperBandScheduler`` with ``reuse_actors=True`` and
  ``max_concurrent_trials=2``, ``tune.grid_search`` over the same configs, results
  stored in a temporary folder (its default loggers on, as users run it).

Both apply the same rule (stop iff the reward is below the ``(1 - 1/3)`` percentile of
the rewards recorded at the rung before it), so with the same configs in the same order
the stop decisions per rung agree up to the order in which concurrent reports arrive.
Reported: trials/s end to end (``run()`` to ``join_jobs()``; ``Tuner.fit()``), the
report round trip inside the trial (median, p99; ours), the stops at each rung, and
their relative difference.

Ray Tune is optional (``pip install "scheduler[peers]"``); without it only our side
runs. Run: ``python bench/peers_ray.py`` or ``--smoke`` (CI).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time

from _common import command_line, load_average, machine_line

import scheduler as sch

EPOCHS = 9
RUNGS = (1, 3)


def configs(n: int, seed: int = 0) -> list[float]:
    xs = [i / n for i in range(n)]
    random.Random(seed).shuffle(xs)
    return xs


def run_ours(xs: list[float]) -> dict:
    @sch.args(x=sch.space.Categorical(*xs), epochs=EPOCHS)
    def train_fn(args, reporter):
        round_trips = []
        for epoch in range(1, args.epochs + 1):
            t0 = time.perf_counter()
            reporter(
                epoch=epoch,
                accuracy=args.x * epoch / EPOCHS,
                rt_prev=round_trips[-1] if round_trips else None,
            )
            round_trips.append(time.perf_counter() - t0)

    s = sch.HyperbandScheduler(
        train_fn,
        resource={"num_cpus": 1},
        num_trials=len(xs),
        searcher="grid",
        reward_attr="accuracy",
        time_attr="epoch",
        type="stopping",
        grace_period=1,
        reduction_factor=3,
        backend="ray",
        progress=False,
    )
    t0 = time.perf_counter()
    s.run()
    s.join_jobs()
    wall = time.perf_counter() - t0
    stops = dict.fromkeys(RUNGS, 0)
    round_trips = []
    for rows in s.training_history.values():
        round_trips.extend(r["rt_prev"] for r in rows if r["rt_prev"] is not None)
        for r in rows:
            if r["decision"] == "stop":
                stops[r["epoch"]] = stops.get(r["epoch"], 0) + 1
    counts = s.history.status_counts()
    if counts["failed"] or counts["running"]:
        raise RuntimeError(f"our run did not complete cleanly: {counts}")
    return {
        "wall_s": wall,
        "trials_per_s": len(xs) / wall,
        "stops": stops,
        "rt_p50_us": statistics.median(round_trips) * 1e6,
        "rt_p99_us": statistics.quantiles(round_trips, n=100)[98] * 1e6,
    }


def _tune_fn(config):
    from ray import tune

    for epoch in range(1, EPOCHS + 1):
        tune.report({"epoch": epoch, "accuracy": config["x"] * epoch / EPOCHS})


def run_tune(xs: list[float]) -> dict | None:
    try:
        from ray import tune
        from ray.tune.schedulers import AsyncHyperBandScheduler
    except ImportError:
        return None
    asha = AsyncHyperBandScheduler(
        time_attr="epoch",
        metric="accuracy",
        mode="max",
        max_t=EPOCHS,
        grace_period=1,
        reduction_factor=3,
    )
    with tempfile.TemporaryDirectory(prefix="bench-tune-") as storage:
        tuner = tune.Tuner(
            tune.with_resources(_tune_fn, {"cpu": 1}),
            param_space={"x": tune.grid_search(xs)},
            tune_config=tune.TuneConfig(scheduler=asha, reuse_actors=True, max_concurrent_trials=2),
            run_config=tune.RunConfig(storage_path=storage, name="asha", verbose=0),
        )
        t0 = time.perf_counter()
        results = tuner.fit()
        wall = time.perf_counter() - t0
    stops = dict.fromkeys(RUNGS, 0)
    for result in results:
        if result.error is not None:
            raise RuntimeError(f"a Ray Tune trial failed: {result.error}")
        last = result.metrics["epoch"]
        if last < EPOCHS:
            stops[last] = stops.get(last, 0) + 1
    return {"wall_s": wall, "trials_per_s": len(xs) / wall, "stops": stops}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI")
    parser.add_argument("--no-tune", action="store_true", help="skip Ray Tune")
    options = parser.parse_args(argv)
    if options.smoke:
        options.trials = 20
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    print(f"command: {command_line('bench/peers_ray.py')}")
    print(f"machine: {machine_line()}; Ray {ray.__version__}; load {load_average()}")
    xs = configs(options.trials)
    run_ours(configs(4, seed=1))  # warm-up: imports, worker processes
    ours = run_ours(xs)
    tune_result = None if options.no_tune else run_tune(xs)
    print(f"{options.trials} trials x {EPOCHS} epochs, 2 workers, ASHA stopping (eta=3)")
    print("| system | trials/s | wall | stops at epoch 1 | stops at epoch 3 |")
    print("|---|--:|--:|--:|--:|")
    rows = [("scheduler, backend='ray'", ours)]
    if tune_result is not None:
        rows.append(("Ray Tune ASHA, reuse_actors=True", tune_result))
    for name, r in rows:
        print(
            f"| {name} | {r['trials_per_s']:.1f} | {r['wall_s']:.1f} s | "
            f"{r['stops'][1]} | {r['stops'][3]} |"
        )
    print(f"our report round trip: p50 {ours['rt_p50_us']:.0f} us, p99 {ours['rt_p99_us']:.0f} us")
    if tune_result is None:
        why = "skipped (--no-tune)" if options.no_tune else "not installed (scheduler[peers])"
        print(f"Ray Tune {why}: nothing compared")
    else:
        print(f"speed-up: {ours['trials_per_s'] / tune_result['trials_per_s']:.2f}x")
        for rung in RUNGS:
            a, b = ours["stops"][rung], tune_result["stops"][rung]
            diff = abs(a - b) / max(1, max(a, b))
            print(f"stops at epoch {rung}: ours {a}, Ray Tune {b}, differ by {100 * diff:.1f} %")
    ray.shutdown()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
