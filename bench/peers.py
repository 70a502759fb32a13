"""This project against the peers, measured in one run: decisions, trial creation, memory.

The same seeded closed-loop stream of trials is driven through each library's own
public scheduler API, each library in a process of its own (so memory and imports do
not mix), at 10^3, 10^4 and 10^5 trials:

* ASHA with stopping, grace period 1, reduction factor 3, max_t 81 (rungs 1/3/9/27),
  maximizing; 32 trials in flight; trial k's learning curve is
  ``q_k * (1 - exp(-t / s_k)) + noise`` from a seeded generator (curves that cross),
  whatever config the library's own sampler proposed;
* each step reports the next epoch of the in-flight trial that comes next in a
  round robin, and starts a new trial when one ends, until N trials were created.

Per library: microseconds per decision (all reports, those at a rung, the others),
microseconds to create a trial (the library's sampling plus registering the trial),
resident memory growth (in all and per trial created; the loop keeps running sums, not
samples, so the growth is the library's), stops per rung, and whether it finished
within the cap.

Peers, each through its own API (installed with ``pip install -e ".[peers]"``; a peer
that is missing is skipped with a message):

* ``scheduler``: :class:`scheduler.schedulers.hyperband.HyperbandPolicy` with the
  random searcher, driven as the runtime drives it (searcher calls included);
* Ray Tune: ``AsyncHyperBandScheduler`` (``on_trial_add`` / ``on_trial_result`` /
  ``on_trial_complete``) with ``tune.uniform`` sampling and stub ``Trial`` objects;
* Optuna: ``study.ask`` / ``trial.report`` / ``trial.should_prune`` / ``study.tell``
  with ``RandomSampler`` and ``SuccessiveHalvingPruner``;
* Syne Tune: ``baselines.ASHA`` (``suggest`` / ``on_trial_add`` / ``on_trial_result``
  / ``on_trial_complete``).

Run: ``python bench/peers.py`` (all sizes, all installed peers), ``--smoke`` (CI: a
small size, this project only), ``--sizes 1000 10000``, ``--peers optuna``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

from _common import load_average, results_header, rss_bytes

GRACE, ETA, MAX_T, IN_FLIGHT = 1, 3, 81, 32
RUNGS = (1, 3, 9, 27)
PEERS = ("scheduler", "ray", "optuna", "syne")
CAP_S = 150.0


class Curves:
    """Trial k's curve, from a generator seeded by (seed, k): the same for everyone."""

    def __init__(self, seed: int):
        self.seed = seed

    def of(self, k: int):
        import numpy as np

        rng = np.random.default_rng([self.seed, k])
        q, s = rng.uniform(0.3, 1.0), rng.uniform(1.0, 30.0)
        noise = rng.normal(0.0, 0.01, MAX_T + 1)
        return [float(q * (1 - math.exp(-t / s)) + noise[t]) for t in range(MAX_T + 1)]


# -- adapters: one per library, the same four calls --------------------------------------


class Ours:
    name = "scheduler"

    def __init__(self, seed: int):
        import scheduler
        from scheduler import searchers
        from scheduler.schedulers.base import drive_suggest, flush_feedback
        from scheduler.schedulers.hyperband import HyperbandPolicy

        space = scheduler.space.SearchSpace({"x": scheduler.space.Real(0.0, 1.0)})
        searcher = searchers.RandomSearcher(space, reward_attr="acc", random_seed=seed)
        self.policy = HyperbandPolicy(
            searcher,
            reward_attr="acc",
            time_attr="epoch",
            max_t=MAX_T,
            grace_period=GRACE,
            reduction_factor=ETA,
            random_seed=seed,
        )
        self._suggest, self._flush = drive_suggest, flush_feedback
        self.version = scheduler.__version__ + f" ({scheduler.KERNEL_BACKEND})"

    def create(self, k: int):
        suggestion = self._suggest(self.policy)
        self.policy.on_task_start(k, suggestion)
        self._flush(self.policy)
        return k

    def report(self, trial, epoch: int, value: float) -> bool:
        decision = self.policy.on_report(trial, {"epoch": epoch, "acc": value})
        self._flush(self.policy)
        return decision == "continue"

    def end(self, trial, epoch: int, value: float, stopped: bool) -> None:
        self.policy.on_task_end(trial, "stopped" if stopped else "completed", None)
        self._flush(self.policy)


class RayTune:
    name = "ray"

    def __init__(self, seed: int):
        import ray
        from ray import tune
        from ray.tune.experiment import Trial
        from ray.tune.schedulers import AsyncHyperBandScheduler

        self.scheduler = AsyncHyperBandScheduler(
            time_attr="epoch",
            metric="acc",
            mode="max",
            max_t=MAX_T,
            grace_period=GRACE,
            reduction_factor=ETA,
        )
        self.domain = tune.uniform(0.0, 1.0)
        self.Trial = Trial
        self.STOP = "STOP"
        self.version = ray.__version__

    def create(self, k: int):
        config = {"x": self.domain.sample()}
        trial = self.Trial("bench", config=config, trial_id=str(k), stub=True)
        self.scheduler.on_trial_add(None, trial)
        return trial

    def report(self, trial, epoch: int, value: float) -> bool:
        decision = self.scheduler.on_trial_result(None, trial, {"epoch": epoch, "acc": value})
        return decision != self.STOP

    def end(self, trial, epoch: int, value: float, stopped: bool) -> None:
        if stopped:
            self.scheduler.on_trial_remove(None, trial)
        else:
            self.scheduler.on_trial_complete(None, trial, {"epoch": epoch, "acc": value})


class Optuna:
    name = "optuna"

    def __init__(self, seed: int):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.RandomSampler(seed=seed),
            pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=GRACE, reduction_factor=ETA),
        )
        self.space = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}
        self.version = optuna.__version__

    def create(self, k: int):
        return self.study.ask(self.space)

    def report(self, trial, epoch: int, value: float) -> bool:
        trial.report(value, epoch)
        return not trial.should_prune()

    def end(self, trial, epoch: int, value: float, stopped: bool) -> None:
        state = self.optuna.trial.TrialState.PRUNED if stopped else None
        if stopped:
            self.study.tell(trial, state=state)
        else:
            self.study.tell(trial, value)


class SyneTune:
    name = "syne"

    def __init__(self, seed: int):
        import syne_tune
        from syne_tune.backend.trial_status import Trial
        from syne_tune.config_space import uniform
        from syne_tune.optimizer.baselines import ASHA

        self.scheduler = ASHA(
            {"x": uniform(0.0, 1.0)},
            metric="acc",
            time_attr="epoch",
            max_t=MAX_T,
            do_minimize=False,
            random_seed=seed,
            grace_period=GRACE,
            reduction_factor=ETA,
        )
        self.Trial = Trial
        self.version = syne_tune.__version__

    def create(self, k: int):
        import datetime

        suggestion = self.scheduler.suggest()
        trial = self.Trial(
            trial_id=k, config=suggestion.config, creation_time=datetime.datetime.now()
        )
        self.scheduler.on_trial_add(trial)
        return trial

    def report(self, trial, epoch: int, value: float) -> bool:
        return self.scheduler.on_trial_result(trial, {"epoch": epoch, "acc": value}) != "STOP"

    def end(self, trial, epoch: int, value: float, stopped: bool) -> None:
        if not stopped:
            self.scheduler.on_trial_complete(trial, {"epoch": epoch, "acc": value})
        else:
            self.scheduler.on_trial_remove(trial)


ADAPTERS = {"scheduler": Ours, "ray": RayTune, "optuna": Optuna, "syne": SyneTune}


# -- the closed loop -----------------------------------------------------------------------


def drive(adapter, trials: int, seed: int, cap_s: float) -> dict:
    curves = Curves(seed)
    clock = time.perf_counter_ns
    # running sums and counts, not lists of samples: the RSS growth is the library's
    at_rung_ns = other_ns = create_ns = 0
    n_at_rung = n_other = n_create = 0
    stops = dict.fromkeys(RUNGS, 0)
    in_flight: list = []  # [trial handle, k, curve, next epoch]
    created = 0
    rss0 = rss_bytes()
    start = time.perf_counter()
    finished = True
    while created < trials or in_flight:
        while created < trials and len(in_flight) < IN_FLIGHT:
            t0 = clock()
            handle = adapter.create(created)
            create_ns += clock() - t0
            n_create += 1
            in_flight.append([handle, created, curves.of(created), 1])
            created += 1
        entry = in_flight.pop(0)
        handle, _, curve, epoch = entry
        value = curve[epoch]
        t0 = clock()
        goes_on = adapter.report(handle, epoch, value)
        spent = clock() - t0
        if epoch in RUNGS:
            at_rung_ns += spent
            n_at_rung += 1
        else:
            other_ns += spent
            n_other += 1
        if not goes_on or epoch >= MAX_T:
            stopped = not goes_on and epoch < MAX_T
            if stopped:
                reached = max((r for r in RUNGS if r <= epoch), default=None)
                if reached is not None:
                    stops[reached] += 1
            adapter.end(handle, epoch, value, stopped)
        else:
            entry[3] = epoch + 1
            in_flight.append(entry)
        if time.perf_counter() - start > cap_s:
            finished = False
            break
    wall = time.perf_counter() - start
    growth = rss_bytes() - rss0
    reports = n_at_rung + n_other
    return {
        "peer": adapter.name,
        "version": adapter.version,
        "trials": trials,
        "created": created,
        "finished": finished,
        "wall_s": wall,
        "us_per_decision": 1e-3 * (at_rung_ns + other_ns) / max(1, reports),
        "us_at_rungs": 1e-3 * at_rung_ns / max(1, n_at_rung),
        "us_elsewhere": 1e-3 * other_ns / max(1, n_other),
        "us_per_trial_created": 1e-3 * create_ns / max(1, n_create),
        "rss_growth_mb": growth / 2**20,
        "bytes_per_trial": growth / max(1, created),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "stops_per_rung": stops,
        "reports": reports,
    }


def _worker(peer: str, trials: int, seed: int, cap_s: float) -> None:
    adapter = ADAPTERS[peer](seed)
    print(json.dumps(drive(adapter, trials, seed, cap_s)))


def _available(peer: str) -> str | None:
    """None if the peer can be imported, else why not."""
    module = {"scheduler": "scheduler", "ray": "ray.tune", "optuna": "optuna", "syne": "syne_tune"}
    probe = subprocess.run(
        [sys.executable, "-c", f"import {module[peer]}"], capture_output=True, text=True
    )
    if probe.returncode == 0:
        return None
    return (probe.stderr.strip().splitlines() or ["import failed"])[-1]


def run_peer(peer: str, trials: int, seed: int, cap_s: float) -> dict | None:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--worker",
            peer,
            "--trials",
            str(trials),
            "--seed",
            str(seed),
            "--cap",
            str(cap_s),
        ],
        capture_output=True,
        text=True,
        timeout=cap_s * 3 + 120,
        env={**os.environ, "RAY_DEDUP_LOGS": "0", "PYTHONWARNINGS": "ignore"},
    )
    if proc.returncode != 0:
        print(f"  {peer}: failed: {proc.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--peers", nargs="+", default=list(PEERS), choices=PEERS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cap", type=float, default=CAP_S, help="seconds per run")
    parser.add_argument("--smoke", action="store_true", help="CI: 300 trials, this project")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--trials", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.worker:
        _worker(options.worker, options.trials, options.seed, options.cap)
        return
    if options.smoke:
        options.sizes, options.peers = [300], ["scheduler"]
    print(results_header("bench/peers.py", load_average(), at_end=False))
    print(
        f"ASHA stopping, grace {GRACE}, eta {ETA}, max_t {MAX_T} "
        f"(rungs {'/'.join(map(str, RUNGS))}), {IN_FLIGHT} in flight, "
        f"seed {options.seed}, cap {options.cap:.0f} s per run"
    )
    peers = []
    for peer in options.peers:
        why = _available(peer)
        if why is None:
            peers.append(peer)
        else:
            print(f"skipping {peer}: not installed ({why}); pip install -e '.[peers]'")
    print(
        "| peer | version | trials | us/decision all / at rungs / elsewhere | us/trial created "
        "| RSS growth (B/trial) | stops at rungs 1/3/9/27 | finished |"
    )
    print("|---|---|--:|--:|--:|--:|---|---|")
    for trials in options.sizes:
        for peer in peers:
            r = run_peer(peer, trials, options.seed, options.cap)
            if r is None:
                continue
            stops = "/".join(str(r["stops_per_rung"][str(k)]) for k in RUNGS)
            done = "yes" if r["finished"] else f"no: cap hit after {r['created']} trials"
            print(
                f"| {peer} | {r['version']} | {trials} | {r['us_per_decision']:.2f} / "
                f"{r['us_at_rungs']:.2f} / {r['us_elsewhere']:.2f} | "
                f"{r['us_per_trial_created']:.2f} | {r['rss_growth_mb']:+.1f} MB "
                f"({r['bytes_per_trial']:.0f}) | {stops} "
                f"| {done} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
