"""RL controller cost per trial: sampling a config and learning from its reward.

Workload: a search space of 10 hyperparameters (4 Categorical with 3, 4, 5 and 8
choices, 3 Real of which one log-scaled, a small and a large Int, a Bool), ``num_bins``
10, so 10 decisions of 2 to 10 choices each; the numpy LSTM controller of
:mod:`scheduler.searchers.rl.controller` in float64, at each ``--hidden`` size (default
32, 100 and 200; the issue asks for 100).

Operations, each timed per call with ``time.perf_counter`` (garbage collector off):

* ``sample``: ``controller.sample()`` plus ``config_from_actions``: one config.
* ``update, batch 1``: ``controller.update`` on one config (async mode: one step per
  finished trial).
* ``update, batch 8 (per trial)``: one step on 8 configs, divided by 8 (sync mode with
  ``controller_batch_size=8``).
* ``policy trial (async)``: ``RLPolicy.suggest`` + ``on_task_start`` + ``on_task_end``
  for one trial: everything the runtime calls under its lock for a trial.
* ``state_dict + json.dumps``: the policy's state (weights and Adam moments as base64)
  serialized, and its size: what each journal snapshot of an RLScheduler adds, under
  the runtime's lock.

Each operation runs ``--warmup`` times untimed, then ``--repeats`` timed calls; the
table gives the median and the minimum per call. Rewards come from a fixed random
linear function of the actions, so the controller keeps learning during the run.

``--blas-threads N`` sets ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` and
``MKL_NUM_THREADS`` before numpy is imported (default: unset, the library's own
choice). The matrices are small (at most 2H x 4H), so more BLAS threads do not help,
and on a busy machine they make the slow calls much slower.

Run: ``python bench/rl_controller.py`` (full) or ``--smoke`` (CI: seconds).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time

from _common import load_average, results_header

BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def make_space():
    from scheduler import space

    return space.SearchSpace(
        optimizer=space.Categorical("sgd", "adam", "rmsprop"),
        activation=space.Categorical("relu", "tanh", "gelu", "sigmoid"),
        layers=space.Categorical(1, 2, 3, 4, 5),
        width=space.Categorical(16, 32, 64, 128, 256, 512, 1024, 2048),
        lr=space.Real(1e-5, 1e-1, log=True),
        dropout=space.Real(0.0, 0.5),
        momentum=space.Real(0.5, 0.99),
        epochs=space.Int(1, 6),
        batch=space.Int(8, 1024),
        bn=space.Bool(),
    )


def timed(fn, warmup: int, repeats: int) -> list[float]:
    """Seconds per call of ``fn()``, ``repeats`` times after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    clock = time.perf_counter
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            t0 = clock()
            fn()
            out.append(clock() - t0)
    finally:
        if enabled:
            gc.enable()
    return out


def bench_size(hidden: int, warmup: int, repeats: int) -> tuple[list, int]:
    import numpy as np

    from scheduler.schedulers.base import drive_suggest, flush_feedback
    from scheduler.schedulers.rl import RLPolicy
    from scheduler.searchers.rl.controller import RLController

    SPACE = make_space()
    ctl = RLController(SPACE, hidden_size=hidden, num_bins=10, lr=1e-3, random_seed=0)
    assert len(ctl.names) == 10
    weights = [np.random.default_rng(k).normal(size=n) for k, n in enumerate(ctl.sizes)]

    def reward(actions):
        return float(sum(w[a] for w, a in zip(weights, actions)))

    rows = []

    def sample():
        ctl.config_from_actions(ctl.sample())

    t = timed(sample, warmup, repeats)
    rows.append(("sample", statistics.median(t), min(t), ""))

    one = [ctl.sample()]

    def update1():
        ctl.learn(one, [reward(one[0])])

    t = timed(update1, warmup, repeats)
    rows.append(("update, batch 1", statistics.median(t), min(t), ""))

    eight = [ctl.sample() for _ in range(8)]
    rewards8 = [reward(a) for a in eight]

    def update8():
        ctl.learn(eight, rewards8)

    t = [x / 8 for x in timed(update8, max(1, warmup // 8), max(3, repeats // 8))]
    rows.append(("update, batch 8 (per trial)", statistics.median(t), min(t), ""))

    policy = RLPolicy(
        RLController(SPACE, hidden_size=hidden, num_bins=10, random_seed=1),
        reward_attr="accuracy",
        sync=False,
    )
    task = [0]

    def trial():
        # as the runtime drives it: draw from the controller, start, end, then deliver
        # the learning step the policy queued
        suggestion = drive_suggest(policy)
        policy.on_task_start(task[0], suggestion)
        actions = policy.controller.actions_from_config(suggestion.config)
        policy.on_task_end(task[0], "completed", {"accuracy": reward(actions)})
        flush_feedback(policy)
        task[0] += 1

    t = timed(trial, warmup, repeats)
    rows.append(("policy trial (async)", statistics.median(t), min(t), ""))

    size = len(json.dumps(policy.state_dict()))

    def snapshot():
        json.dumps(policy.state_dict(), separators=(",", ":"))

    t = timed(snapshot, max(1, warmup // 4), max(3, repeats // 4))
    rows.append(("state_dict + json.dumps", statistics.median(t), min(t), f"{size / 1e6:.2f} MB"))
    return rows, ctl.num_parameters


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 100, 200])
    parser.add_argument("--repeats", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--blas-threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.smoke:
        args.hidden, args.repeats, args.warmup = [8], 20, 2
    if args.blas_threads is not None:
        if "numpy" in sys.modules:
            parser.error("--blas-threads must be set before numpy is imported")
        for name in BLAS_VARIABLES:
            os.environ[name] = str(args.blas_threads)

    load_before = load_average()
    blas = ", ".join(f"{n}={os.environ[n]}" for n in BLAS_VARIABLES if n in os.environ)
    lines = [
        "| hidden | parameters | operation | median | min | note |",
        "|---:|---:|---|---:|---:|---|",
    ]
    for hidden in args.hidden:
        rows, num_parameters = bench_size(hidden, args.warmup, args.repeats)
        for name, median, best, note in rows:
            lines.append(
                f"| {hidden} | {num_parameters:,} | {name} | {median * 1e6:,.0f} us "
                f"| {best * 1e6:,.0f} us | {note} |"
            )
    print("# RL controller: cost per trial\n")
    print(
        results_header(
            "bench/rl_controller.py",
            load_before,
            [f"BLAS threads: {blas or 'library default'}"],
        )
    )
    print()
    print(
        "Search space: 10 hyperparameters (4 Categorical, 3 Real, 2 Int, 1 Bool), "
        f"num_bins=10; float64; median and minimum of {args.repeats} calls after "
        f"{args.warmup} warm-up calls (batch-8 updates and snapshots: fewer).\n"
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
