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

End to end (``--end-to-end``; ``--sizes 0 --end-to-end`` for it alone): 500 no-op
trials of 9 epochs, 2 workers, ASHA stopping with max_t 9, on each library's own
runner: our ``HyperbandScheduler`` on the thread and the process backends, Optuna's
``study.optimize(n_jobs=2)`` with the random sampler and the successive halving pruner,
Ray Tune's ``Tuner`` with ``AsyncHyperBandScheduler`` and ``reuse_actors=True``;
trials/s, median of 3 runs, each in a process of its own.

Run: ``python bench/peers.py --end-to-end`` (all sizes, all installed peers, and the
end-to-end case), ``--smoke`` (CI: a small size and a short end-to-end run, this
project only), ``--sizes 1000 10000``, ``--peers optuna``; ``--breakdown`` adds where
this project's µs go, part by part (the policy's ``on_report``, the searcher calls it
queues, each step of creating a trial).
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

from _common import clock_overhead_ns, load_average, results_header, rss_bytes

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


class OursSplit(Ours):
    """``Ours``, timing its own parts (``--breakdown``): the policy's ``on_report``
    against the searcher calls it queued, and a trial's creation step by step. The
    calls and decisions are Ours's; the clock reads add about 0.2 µs each."""

    name = "scheduler"

    def __init__(self, seed: int):
        super().__init__(seed)
        self.parts: dict[str, list[int]] = {}  # part -> [ns, calls]

    def _add(self, part: str, ns: int) -> None:
        acc = self.parts.setdefault(part, [0, 0])
        acc[0] += ns
        acc[1] += 1

    def create(self, k: int):
        clock, policy = time.perf_counter_ns, self.policy
        t0 = clock()
        self._flush(policy)
        suggestion = policy.promote()
        if suggestion is None and policy.wants_new():
            t1 = clock()
            config = policy.searcher.get_config()
            t2 = clock()
            suggestion = policy.add_config(config)
            t3 = clock()
            self._add("create: flush, promote, wants_new", t1 - t0)
            self._add("create: searcher.get_config", t2 - t1)
            self._add("create: policy.add_config", t3 - t2)
        t3 = clock()
        self._flush(policy)
        policy.on_task_start(k, suggestion)
        t4 = clock()
        self._flush(policy)
        t5 = clock()
        self._add("create: policy.on_task_start", t4 - t3)
        self._add("create: searcher.register_pending", t5 - t4)
        return k

    def report(self, trial, epoch: int, value: float) -> bool:
        clock = time.perf_counter_ns
        t0 = clock()
        result = {"epoch": epoch, "acc": value}
        t1 = clock()
        decision = self.policy.on_report(trial, result)
        t2 = clock()
        self._flush(self.policy)
        t3 = clock()
        where = "at rungs" if epoch in RUNGS or epoch >= MAX_T else "elsewhere"
        self._add(f"report {where}: the report dict", t1 - t0)
        self._add(f"report {where}: policy.on_report", t2 - t1)
        self._add(f"report {where}: flush_feedback (searcher.update at rungs)", t3 - t2)
        return decision == "continue"


ADAPTERS = {
    "scheduler": Ours,
    "scheduler-split": OursSplit,
    "ray": RayTune,
    "optuna": Optuna,
    "syne": SyneTune,
}


# -- end to end: each library's own runner, no-op trials -----------------------------------

E2E_EPOCHS, E2E_WORKERS = 9, 2
E2E_CASES = ("scheduler-thread", "scheduler-process", "optuna", "ray-reuse")
E2E_NEEDS = {"scheduler-thread": "scheduler", "scheduler-process": "scheduler"}


def _noop_trial(args, reporter):
    for epoch in range(1, E2E_EPOCHS + 1):
        reporter(epoch=epoch, accuracy=args.x * epoch / E2E_EPOCHS)


def _e2e_ours(backend: str, trials: int, seed: int) -> float:
    import scheduler as sch

    train_fn = sch.args(x=sch.space.Real(0.0, 1.0))(_noop_trial)
    s = sch.HyperbandScheduler(
        train_fn,
        type="stopping",
        max_t=E2E_EPOCHS,
        grace_period=GRACE,
        reduction_factor=ETA,
        backend=backend,
        total_resources={"num_cpus": E2E_WORKERS, "num_gpus": 0},
        resource={"num_cpus": 1, "num_gpus": 0},
        num_trials=trials,
        search_options={"random_seed": seed},
        reward_attr="accuracy",
        time_attr="epoch",
        progress=False,
    )
    t0 = time.perf_counter()
    s.run()
    s.join_jobs()
    wall = time.perf_counter() - t0
    counts = s.history.status_counts()
    if counts["failed"] or counts["running"]:
        raise RuntimeError(f"our run did not complete cleanly: {counts}")
    return wall


def _e2e_optuna(trials: int, seed: int) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=seed),
        pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=GRACE, reduction_factor=ETA),
    )

    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        value = 0.0
        for epoch in range(1, E2E_EPOCHS + 1):
            value = x * epoch / E2E_EPOCHS
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    t0 = time.perf_counter()
    study.optimize(objective, n_trials=trials, n_jobs=E2E_WORKERS)
    return time.perf_counter() - t0


def _tune_trial(config):
    from ray import tune

    for epoch in range(1, E2E_EPOCHS + 1):
        tune.report({"epoch": epoch, "accuracy": config["x"] * epoch / E2E_EPOCHS})


def _e2e_ray(trials: int, seed: int) -> float:
    import tempfile

    import ray
    from ray import tune
    from ray.tune.schedulers import AsyncHyperBandScheduler

    ray.init(num_cpus=E2E_WORKERS, include_dashboard=False, log_to_driver=False)
    asha = AsyncHyperBandScheduler(
        time_attr="epoch",
        metric="accuracy",
        mode="max",
        max_t=E2E_EPOCHS,
        grace_period=GRACE,
        reduction_factor=ETA,
    )
    with tempfile.TemporaryDirectory(prefix="bench-tune-") as storage:
        tuner = tune.Tuner(
            tune.with_resources(_tune_trial, {"cpu": 1}),
            param_space={"x": tune.uniform(0.0, 1.0)},
            tune_config=tune.TuneConfig(
                scheduler=asha,
                num_samples=trials,
                reuse_actors=True,
                max_concurrent_trials=E2E_WORKERS,
            ),
            run_config=tune.RunConfig(storage_path=storage, name="asha", verbose=0),
        )
        t0 = time.perf_counter()
        tuner.fit()
        return time.perf_counter() - t0


def _e2e_worker(case: str, trials: int, seed: int) -> None:
    if case == "scheduler-thread":
        wall, version = _e2e_ours("thread", trials, seed), _version("scheduler")
    elif case == "scheduler-process":
        wall, version = _e2e_ours("process", trials, seed), _version("scheduler")
    elif case == "optuna":
        wall, version = _e2e_optuna(trials, seed), _version("optuna")
    else:
        wall, version = _e2e_ray(trials, seed), _version("ray")
    print(json.dumps({"case": case, "version": version, "wall_s": wall, "trials": trials}))


def _version(module: str) -> str:
    return str(__import__(module).__version__)


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


def end_to_end(cases: list[str], trials: int, seed: int, repeat: int) -> None:
    """Trials/s of each case (median of ``repeat`` runs, each in a process of its own)."""
    print(
        f"\nEnd to end: {trials} no-op trials x {E2E_EPOCHS} epochs, {E2E_WORKERS} workers, "
        f"ASHA stopping (grace {GRACE}, eta {ETA}, max_t {E2E_EPOCHS}); trials/s from the "
        f"runner's start to its end, median of {repeat}"
    )
    print("| case | version | trials/s (runs) |")
    print("|---|---|--:|")
    rates: dict[str, float] = {}
    for case in cases:
        why = _available(E2E_NEEDS.get(case, case.split("-")[0]))
        if why is not None:
            print(f"| {case} | skipped: not installed ({why}) | |")
            continue
        runs, version = [], ""
        seed_arg = ["--trials", str(trials), "--seed", str(seed)]
        for _ in range(repeat):
            proc = subprocess.run(
                [sys.executable, __file__, "--e2e-worker", case, *seed_arg],
                capture_output=True,
                text=True,
                timeout=900,
                env={**os.environ, "RAY_DEDUP_LOGS": "0", "PYTHONWARNINGS": "ignore"},
            )
            if proc.returncode != 0:
                print(f"  {case}: failed: {proc.stderr.strip().splitlines()[-1:]}", flush=True)
                break
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            runs.append(trials / r["wall_s"])
            version = r["version"]
        if runs:
            rates[case] = sorted(runs)[len(runs) // 2]
            shown = ", ".join(f"{x:,.0f}" for x in runs)
            print(f"| {case} | {version} | {rates[case]:,.1f} ({shown}) |", flush=True)
    for ours, peer in (("scheduler-thread", "optuna"), ("scheduler-process", "ray-reuse")):
        if ours in rates and peer in rates:
            print(f"{ours} / {peer}: {rates[ours] / rates[peer]:.1f}x")


def _worker(peer: str, trials: int, seed: int, cap_s: float) -> None:
    adapter = ADAPTERS[peer](seed)
    measured = drive(adapter, trials, seed, cap_s)
    parts = getattr(adapter, "parts", None)
    if parts is not None:
        measured["parts"] = {part: ns / 1e3 / max(1, n) for part, (ns, n) in parts.items()}
    print(json.dumps(measured))


def breakdown(sizes: list[int], seed: int, cap_s: float) -> None:
    """Where this project's µs go (``--breakdown``): mean µs per call of each part."""
    measured = [r for r in (run_peer("scheduler-split", n, seed, cap_s) for n in sizes) if r]
    if not measured:
        return
    print("\nThis project, part by part (mean µs per call; each part's clock reads included)")
    print("| part | " + " | ".join(f"{r['trials']} trials" for r in measured) + " |")
    print("|---|" + "--:|" * len(measured))
    for part in sorted(measured[0]["parts"]):
        cells = " | ".join(f"{r['parts'].get(part, float('nan')):.2f}" for r in measured)
        print(f"| {part} | {cells} |")
    pair = clock_overhead_ns() / 1e3
    print(f"(a pair of clock reads, perf_counter_ns, costs {pair:.2f} µs here)")


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


def plot_decisions(measured: list[dict], path: str) -> None:
    """µs per decision (all reports) against the trials each run created, log-log, one
    line per peer; a run stopped by the cap is drawn with a hollow marker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for peer in dict.fromkeys(r["peer"] for r in measured):
        runs = [r for r in measured if r["peer"] == peer]
        xs = [r["created"] for r in runs]
        ys = [r["us_per_decision"] for r in runs]
        (line,) = ax.plot(xs, ys, "-", label=f"{peer} {runs[0]['version']}")
        for r, x, y in zip(runs, xs, ys):
            face = line.get_color() if r["finished"] else "none"
            ax.plot([x], [y], "o", color=line.get_color(), markerfacecolor=face)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("trials created (hollow: the run hit its time cap)")
    ax.set_ylabel("µs per decision (all reports)")
    ax.set_title("ASHA decisions, one process per library")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--peers", nargs="+", default=list(PEERS), choices=PEERS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cap", type=float, default=CAP_S, help="seconds per run")
    parser.add_argument("--smoke", action="store_true", help="CI: 300 trials, this project")
    parser.add_argument(
        "--end-to-end",
        nargs="*",
        choices=E2E_CASES,
        help="also (or with --sizes 0 only) the end-to-end case: these cases (default all)",
    )
    parser.add_argument("--e2e-trials", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3, help="end-to-end runs per case")
    parser.add_argument(
        "--plot", metavar="PNG", help="also plot us per decision against trials (log-log) here"
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also time this project's parts (on_report, searcher calls, creation steps)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--e2e-worker", help=argparse.SUPPRESS)
    parser.add_argument("--trials", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.worker:
        _worker(options.worker, options.trials, options.seed, options.cap)
        return
    if options.e2e_worker:
        _e2e_worker(options.e2e_worker, options.trials, options.seed)
        return
    if options.smoke:
        options.sizes, options.peers = [300], ["scheduler"]
        options.end_to_end, options.e2e_trials, options.repeat = ["scheduler-thread"], 30, 1
        options.breakdown = True
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
    measured = []
    for trials in [size for size in options.sizes if size > 0]:
        for peer in peers:
            r = run_peer(peer, trials, options.seed, options.cap)
            if r is None:
                continue
            measured.append(r)
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
    if options.breakdown:
        breakdown([size for size in options.sizes if size > 0], options.seed, options.cap)
    if options.plot and measured:
        plot_decisions(measured, options.plot)
        print(f"plot: {options.plot}")
    if options.end_to_end is not None:
        cases = options.end_to_end or list(E2E_CASES)
        end_to_end(cases, options.e2e_trials, options.seed, options.repeat)


if __name__ == "__main__":
    main()
