"""Searchers by simple regret on the simulated backend: ours, Optuna's and Syne Tune's.

Issue 15's comparison, in one run: every method searches the same benchmarks
(:mod:`scheduler.benchmarks`) with 4 workers on a virtual clock, for the same budget,
over ``--seeds`` seeds (20 by default).

Methods (``--methods`` picks some):

* ``random``, ``bayesopt``: FIFOScheduler with ``searcher='random'`` / ``'bayesopt'``
  (every config trained to ``max_epochs``), on ``backend='simulated'``;
* ``asha_random``, ``asha_bayesopt`` (multi-fidelity benchmarks): HyperbandScheduler
  (``type='stopping'``, grace period 1, reduction factor 3), random search or the
  MOBSTER-style GP that HyperbandScheduler builds for ``searcher='bayesopt'``;
* ``optuna_tpe`` (when Optuna is installed): ``TPESampler(seed=seed)``, defaults, through
  ``study.ask`` / ``study.tell``; on the multi-fidelity benchmarks with
  ``SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)`` (``trial.report`` /
  ``trial.should_prune``);
* ``syne_bo``, ``syne_mobster`` (when a Syne Tune with them is found, see below): Syne
  Tune's ``baselines.BayesianOptimization`` (single fidelity) and ``baselines.MOBSTER``
  (``type='stopping'``, grace period 1, reduction factor 3; its default model, a
  multi-task GP with the ``exp-decay-sum`` resource kernel), defaults otherwise, driven
  through their scheduler API (``suggest`` / ``on_trial_add`` / ``on_trial_result`` /
  ``on_trial_complete`` / ``on_trial_remove``, as Syne Tune's ``Tuner`` calls them).

The peers run on a closed-loop driver of this file (:func:`virtual_loop`) with the
simulated backend's semantics: 4 workers, epoch ``e`` of a trial reported ``seconds``
after epoch ``e - 1`` (the benchmark's cost), events delivered in virtual-time order
(ties in creation order), a new trial started the moment a worker frees up, before any
later event; searcher time costs no virtual time, for anyone.

Syne Tune: its GP searchers (``BayesianOptimization``, ``MOBSTER``) were removed in
0.14; 0.16 (the ``peers`` extra) has neither. Install the last release that has them
beside it, without touching site-packages, and point ``--syne-tune-path`` at it::

    pip install --no-deps --target /tmp/syne_tune_013 "syne-tune==0.13.0"
    pip install autograd   # its GP's only dependency not already here

(``--syne-tune-path`` defaults to ``$SYNE_TUNE_PATH``; without it the installed Syne
Tune is tried, and skipped with a message when it has no MOBSTER.)

Budgets and regret. Single fidelity (Branin, Hartmann6, every evaluation 1 virtual
second): ``num_trials`` evaluations (50 and 100, the issue's targets); regret against
the number of evaluations completed. Multi-fidelity (multi-fidelity Branin and
Hartmann6, 81 epochs of 1 s; the digits MLP learning curves, 50 epochs of their measured
seconds): a virtual wall-clock budget of ``--mf-budget`` times the benchmark's full
training time (81 s; the median over the digits grid of a config's 50 epochs);
regret against virtual time. Simple regret is the best metric reported at
``max_epochs`` so far minus the optimum (infinite until a config reached
``max_epochs``: a median is infinite while half the seeds have none). The tables give
the median and the interquartile range over seeds; the plots (one PNG per benchmark,
``--plot-dir``) the median with the IQR shaded.

Targets (printed PASS/MISS, never asserted): on Branin after 50 and Hartmann6 after 100
evaluations, bayesopt's median regret at most a fifth of random search's and no worse
than Optuna TPE's; on the multi-fidelity benchmarks, at the full budget, ASHA +
bayesopt's median below ASHA + random's on at least two of three and no worse than the
upper quartile of Syne Tune's MOBSTER.

Cost. Syne Tune's GP searchers take almost all of the CPU (one seed on the shared
machine: 15 s for BayesianOptimization on Branin, 43 s on Hartmann6, 15 to 25 s for
MOBSTER per multi-fidelity benchmark at 2 full trainings, about twice that at 4; ours
about 10 s for everything), so the multi-fidelity budget is 2 full trainings
(``--mf-budget``, default 2): the committed 20-seed run then takes about 30 minutes
with ``--jobs 2`` on a loaded 2-CPU machine. ``--skip hartmann6:syne_bo`` (no target
needs it) saves about a third of that.

Run (the committed results)::

    python bench/searchers.py --jobs 2 --syne-tune-path /tmp/syne_tune_013 \
        --markdown bench/searchers_results.md --plot-dir docs

``--smoke`` (CI: 2 seeds, tiny budgets, this project's methods and Optuna's).
``--benchmarks`` / ``--methods`` / ``--skip`` restrict a run. Exits 0 whenever it ran.
"""

from __future__ import annotations

import argparse
import datetime
import heapq
import itertools
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np
from _common import command_line, load_average, machine_line, markdown_table

WORKERS = 4
GRACE, ETA = 1, 3
SINGLE = {"branin": 50, "hartmann6": 100}  # evaluations
MULTI = ("mf_branin", "mf_hartmann6", "digits_mlp")
SMOKE_SINGLE = {"branin": 12, "hartmann6": 12}
METHODS = {
    # name: (label, fidelity it runs on: "single", "multi" or "both", peer package)
    "random": ("random (FIFO)", "both", None),
    "bayesopt": ("bayesopt (FIFO)", "both", None),
    "asha_random": ("ASHA + random", "multi", None),
    "asha_bayesopt": ("ASHA + bayesopt", "multi", None),
    "optuna_tpe": ("Optuna TPE", "both", "optuna"),
    "syne_bo": ("Syne Tune BayesianOptimization", "single", "syne_tune"),
    "syne_mobster": ("Syne Tune MOBSTER", "multi", "syne_tune"),
}
GRID_POINTS = 60  # virtual-time grid of the multi-fidelity curves


# -- benchmarks and budgets ----------------------------------------------------------------
def make_benchmark(name: str):
    from scheduler.benchmarks import BENCHMARKS

    return BENCHMARKS[name]()


def full_training_seconds(bench) -> float:
    """Virtual seconds one config takes to ``max_epochs`` (the digits grid's median)."""
    seconds = getattr(bench, "seconds", None)
    if isinstance(seconds, np.ndarray):  # the digits table: seconds per (config, epoch)
        return float(np.median(seconds.sum(axis=1)))
    config = bench.space.default_config()
    return float(sum(bench.objective(config, e)[1] for e in range(1, bench.max_epochs + 1)))


def runs_on(method: str, bench_name: str) -> bool:
    fidelity = METHODS[method][1]
    single = bench_name in SINGLE
    return fidelity == "both" or fidelity == ("single" if single else "multi")


# -- this project: the facades on backend="simulated" --------------------------------------
def run_ours(bench, method: str, seed: int, num_trials, time_out) -> list[tuple[float, float]]:
    """``(virtual time, metric)`` of every report at ``max_epochs``, in delivery order."""
    import scheduler as sch

    common = dict(
        backend="simulated",
        reward_attr=bench.metric,
        mode=bench.mode,
        time_attr="epoch",
        num_trials=num_trials,
        time_out=time_out,
        resource={"num_cpus": 1, "num_gpus": 0},
        total_resources={"num_cpus": WORKERS, "num_gpus": 0},
        search_options={"random_seed": seed},
        progress=False,
    )
    searcher = "bayesopt" if method.endswith("bayesopt") else "random"
    if method.startswith("asha_"):
        s = sch.HyperbandScheduler(
            bench,
            searcher=searcher,
            type="stopping",
            max_t=bench.max_epochs,
            grace_period=GRACE,
            reduction_factor=ETA,
            random_seed=seed,
            **common,
        )
    else:
        s = sch.FIFOScheduler(bench, searcher=searcher, **common)
    s.run()
    s.join_jobs()
    tasks = s.history.tasks
    t0 = min(task.start_time for task in tasks.values())  # virtual 0 (the first launch)
    out = []
    for row in s.history.rows():
        if row["epoch"] >= bench.max_epochs:
            start = tasks[row["task_id"]].start_time - t0
            out.append((start + row["time_since_start"], float(row[bench.metric])))
    return out


# -- the peers: a closed loop on a virtual clock -------------------------------------------
def virtual_loop(bench, adapter, num_trials, time_out) -> list[tuple[float, float]]:
    """Drive ``adapter`` as backend='simulated' drives our runtime (module docstring);
    ``(virtual time, metric)`` of every report at ``max_epochs``."""
    events: list = []  # (time, seq, trial, epoch, metric)
    seq = itertools.count()
    now, started, out = 0.0, 0, []
    max_t = bench.max_epochs

    def schedule(trial, config, epoch):
        metric, seconds = bench.objective(config, epoch)
        heapq.heappush(events, (now + seconds, next(seq), (trial, config), epoch, metric))

    def launch() -> None:
        nonlocal started
        if num_trials is not None and started >= num_trials:
            return
        if time_out is not None and now >= time_out:
            return
        made = adapter.new_trial(started)
        if made is None:
            return
        started += 1
        schedule(*made, 1)

    for _ in range(WORKERS):
        launch()
    while events:
        at, _, (trial, config), epoch, metric = heapq.heappop(events)
        if time_out is not None and at > time_out:
            break
        now = at
        if epoch >= max_t:
            out.append((now, float(metric)))
        goes_on = adapter.report(trial, epoch, float(metric))
        if goes_on and epoch < max_t:
            schedule(trial, config, epoch + 1)
            continue
        adapter.end(trial, epoch, float(metric), stopped=not goes_on and epoch < max_t)
        launch()
    return out


class OptunaAdapter:
    """Optuna's TPE through ask/tell; with the successive-halving pruner when
    ``multi_fidelity``."""

    def __init__(self, bench, seed: int, multi_fidelity: bool):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        pruner = (
            optuna.pruners.SuccessiveHalvingPruner(min_resource=GRACE, reduction_factor=ETA)
            if multi_fidelity
            else optuna.pruners.NopPruner()
        )
        self.study = optuna.create_study(
            direction="minimize" if bench.mode == "min" else "maximize",
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=pruner,
        )
        self.distributions = _optuna_distributions(bench.space)
        self.max_t = bench.max_epochs

    def new_trial(self, k: int):
        trial = self.study.ask(self.distributions)
        return trial, dict(trial.params)

    def report(self, trial, epoch: int, value: float) -> bool:
        if epoch >= self.max_t:
            return True
        trial.report(value, epoch)
        return not trial.should_prune()

    def end(self, trial, epoch: int, value: float, stopped: bool) -> None:
        if stopped:
            self.study.tell(trial, state=self.optuna.trial.TrialState.PRUNED)
        else:
            self.study.tell(trial, value)


def _optuna_distributions(space):
    import optuna

    from scheduler.space import Categorical, Int, Real

    out = {}
    for name, domain in space.domains.items():
        if isinstance(domain, Real):
            out[name] = optuna.distributions.FloatDistribution(
                domain.lower, domain.upper, log=domain.log
            )
        elif isinstance(domain, Int):
            out[name] = optuna.distributions.IntDistribution(domain.lower, domain.upper)
        elif isinstance(domain, Categorical):
            out[name] = optuna.distributions.CategoricalDistribution(list(domain.data))
        else:
            raise ValueError(f"no Optuna distribution for {name}: {domain!r}")
    return out


class SyneTuneAdapter:
    """Syne Tune's ``BayesianOptimization`` or ``MOBSTER``, called as its Tuner does."""

    def __init__(self, bench, seed: int, method: str):
        from syne_tune.backend.trial_status import Trial
        from syne_tune.optimizer import baselines
        from syne_tune.optimizer.scheduler import SchedulerDecision

        space = _syne_tune_space(bench.space)
        common = {"metric": bench.metric, "mode": bench.mode, "random_seed": seed}
        if method == "syne_mobster":
            self.scheduler = baselines.MOBSTER(
                space,
                resource_attr="epoch",
                max_t=bench.max_epochs,
                grace_period=GRACE,
                reduction_factor=ETA,
                type="stopping",
                **common,
            )
        else:
            self.scheduler = baselines.BayesianOptimization(space, **common)
        self.Trial, self.STOP = Trial, SchedulerDecision.STOP
        self.metric = bench.metric

    def new_trial(self, k: int):
        suggestion = self.scheduler.suggest(k)
        if suggestion is None:
            return None
        trial = self.Trial(
            trial_id=k, config=suggestion.config, creation_time=datetime.datetime.now()
        )
        self.scheduler.on_trial_add(trial)
        return trial, dict(suggestion.config)

    def report(self, trial, epoch: int, value: float) -> bool:
        self._last = {"epoch": epoch, self.metric: value}
        return self.scheduler.on_trial_result(trial, self._last) != self.STOP

    def end(self, trial, epoch: int, value: float, stopped: bool) -> None:
        if stopped:
            self.scheduler.on_trial_remove(trial)
        else:
            self.scheduler.on_trial_complete(trial, {"epoch": epoch, self.metric: value})


def _syne_tune_space(space):
    from syne_tune import config_space as cs

    from scheduler.space import Categorical, Int, Real

    out = {}
    for name, domain in space.domains.items():
        if isinstance(domain, Real):
            out[name] = (cs.loguniform if domain.log else cs.uniform)(domain.lower, domain.upper)
        elif isinstance(domain, Int):
            out[name] = cs.randint(domain.lower, domain.upper)
        elif isinstance(domain, Categorical):
            out[name] = cs.choice(list(domain.data))
        else:
            raise ValueError(f"no Syne Tune domain for {name}: {domain!r}")
    return out


def _use_syne_tune(path: str | None) -> None:
    if path and path not in sys.path:
        sys.path.insert(0, path)
    import logging

    logging.getLogger("syne_tune").setLevel(logging.ERROR)


# -- one job: (benchmark, method, seed) in a process of the pool -----------------------------
def run_job(bench_name, method, seed, num_trials, time_out, syne_tune_path):
    """One search; returns its ``(time, metric)`` trace and the CPU and wall time it took."""
    from threadpoolctl import threadpool_limits

    bench = make_benchmark(bench_name)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    # one BLAS thread for everyone (our GP does so itself; Syne Tune's would not)
    with threadpool_limits(limits=1, user_api="blas"):
        if METHODS[method][2] is None:
            trace = run_ours(bench, method, seed, num_trials, time_out)
        elif method == "optuna_tpe":
            adapter = OptunaAdapter(bench, seed, multi_fidelity=bench.max_epochs > 1)
            trace = virtual_loop(bench, adapter, num_trials, time_out)
        else:
            _use_syne_tune(syne_tune_path)
            adapter = SyneTuneAdapter(bench, seed, method)
            trace = virtual_loop(bench, adapter, num_trials, time_out)
    return {
        "bench": bench_name,
        "method": method,
        "seed": seed,
        "trace": trace,
        "cpu_s": time.process_time() - cpu0,
        "wall_s": time.perf_counter() - wall0,
    }


# -- peers: are they there? ------------------------------------------------------------------
def probe_peer(package: str, syne_tune_path: str | None) -> tuple[str | None, str]:
    """``(version, "")`` if the peer can run here, else ``(None, why not)``; in a
    subprocess, so that this process imports neither."""
    if package == "optuna":
        code = "import optuna; print(optuna.__version__)"
    else:
        code = (
            "import sys\n"
            f"sys.path[:0] = [{syne_tune_path!r}] if {syne_tune_path!r} else []\n"
            "import logging; logging.disable(logging.WARNING)\n"
            "import syne_tune\n"
            "from syne_tune.optimizer import baselines\n"
            "missing = [n for n in ('BayesianOptimization', 'MOBSTER') "
            "if not hasattr(baselines, n)]\n"
            "print(syne_tune.__version__)\n"
            "if missing:\n"
            "    sys.exit('Syne Tune ' + syne_tune.__version__ + ' has no ' + "
            "', '.join(missing) + ' (removed in 0.14): pip install --no-deps --target DIR "
            "syne-tune==0.13.0, then --syne-tune-path DIR')\n"
        )
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if probe.returncode == 0:
        return probe.stdout.strip().splitlines()[-1], ""
    lines = [line for line in probe.stderr.strip().splitlines() if line.strip()]
    return None, (lines[-1] if lines else "import failed")


# -- regret curves ---------------------------------------------------------------------------
def quantiles(matrix: np.ndarray, qs=(25, 50, 75)) -> np.ndarray:
    """Per column, linear-interpolation quantiles over rows; infinite when an infinite
    value takes part (a seed with no config at max_epochs yet)."""
    ordered = np.sort(matrix, axis=0)
    n = ordered.shape[0]
    out = []
    for q in qs:
        pos = q / 100.0 * (n - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        frac = pos - lo
        a, b = ordered[lo], ordered[hi]
        with np.errstate(invalid="ignore"):
            value = np.where(np.isinf(a) | np.isinf(b), np.inf, a + frac * (b - a))
        if lo == hi:
            value = a
        out.append(value)
    return np.array(out)


def regret_curve(trace, bench, grid, by_time: bool) -> np.ndarray:
    """Simple regret after each budget of ``grid``: evaluations (single fidelity) or
    virtual seconds (multi-fidelity)."""
    from scheduler.benchmarks import regret

    sign = 1.0 if bench.mode == "min" else -1.0
    curve = np.full(len(grid), np.inf)
    best = np.inf
    if by_time:
        k = 0
        for i, t in enumerate(grid):
            while k < len(trace) and trace[k][0] <= t + 1e-9:
                best = min(best, sign * trace[k][1])
                k += 1
            if best < np.inf:
                curve[i] = regret(bench, sign * best)
        return curve
    running = np.minimum.accumulate([sign * v for _, v in trace]) if trace else []
    for i, n in enumerate(grid):
        if n <= len(trace):
            curve[i] = regret(bench, sign * running[int(n) - 1])
    return curve


def fmt(value: float) -> str:
    if not np.isfinite(value):
        return "inf"
    return f"{value:.3g}"


# -- the report --------------------------------------------------------------------------
class Report:
    """Lines printed as they come, kept for ``--markdown``."""

    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def write(self, path: str) -> None:
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(self.lines).rstrip() + "\n")
        os.replace(tmp, path)


def plot(bench_name, curves, grid, by_time, path, budget_note):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.2), dpi=80)
    styles = itertools.cycle(["-", "--", "-.", ":"])
    for method, matrix in curves.items():
        q1, med, q3 = quantiles(matrix)
        finite = np.isfinite(med)
        if not finite.any():
            continue
        style = next(styles)
        (line,) = ax.plot(grid[finite], med[finite], style, lw=1.8, label=f"{METHODS[method][0]}")
        band = np.isfinite(q1) & np.isfinite(q3)
        ax.fill_between(grid[band], q1[band], q3[band], color=line.get_color(), alpha=0.15)
    ax.set_yscale("log")
    ax.set_xlabel("virtual wall-clock (s), 4 workers" if by_time else "evaluations (4 workers)")
    ax.set_ylabel("simple regret (median, IQR shaded)")
    ax.set_title(f"{bench_name}: {budget_note}", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper right", framealpha=0.85)
    fig.tight_layout()
    tmp = f"{path}.tmp.png"
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


def summarize(report, bench_name, jobs_done, seeds, budget, methods, plot_dir):
    """Regret tables (and a plot) for one benchmark; returns ``{method: (q1, med, q3)}``
    at the full budget."""
    bench = make_benchmark(bench_name)
    by_time = bench.max_epochs > 1
    if by_time:
        grid = np.linspace(budget / GRID_POINTS, budget, GRID_POINTS)
        marks = [GRID_POINTS // 4 - 1, GRID_POINTS // 2 - 1, GRID_POINTS - 1]
        unit = "s"
    else:
        grid = np.arange(1, budget + 1)
        marks = sorted({max(0, budget // 5 - 1), budget // 2 - 1, budget - 1})
        unit = "evals"
    curves, costs = {}, {}
    for method in methods:
        rows = [jobs_done[(bench_name, method, s)] for s in seeds]
        curves[method] = np.array([regret_curve(r["trace"], bench, grid, by_time) for r in rows])
        costs[method] = (sum(r["cpu_s"] for r in rows), sum(r["wall_s"] for r in rows))
    header = ["method"] + [f"{grid[m]:.4g} {unit}" for m in marks] + ["CPU (all seeds)"]
    table = []
    final = {}
    for method, matrix in curves.items():
        q = quantiles(matrix)
        cells = [f"{fmt(q[1][m])} ({fmt(q[0][m])} to {fmt(q[2][m])})" for m in marks]
        table.append([METHODS[method][0], *cells, f"{costs[method][0]:.0f} s"])
        final[method] = (q[0][-1], q[1][-1], q[2][-1])
    if by_time:
        what = f"virtual wall-clock budget {budget:.4g} s ({bench.max_epochs} epochs max)"
    else:
        what = f"{budget} evaluations"
    report(f"### {bench_name}: {what}, {len(seeds)} seeds\n")
    report("Median simple regret (interquartile range) after the budget in each column:\n")
    report(markdown_table(header, table, right=set(range(1, len(header)))))
    report()
    if plot_dir:
        os.makedirs(plot_dir, exist_ok=True)
        path = os.path.join(plot_dir, f"searchers_{bench_name}.png")
        plot(bench_name, curves, grid, by_time, path, f"{what}, {len(seeds)} seeds")
        report(f"Plot: `{path}`\n")
    return final


def verdicts(report, finals) -> None:
    report("### Targets\n")
    for name, budget in SINGLE.items():
        f = finals.get(name)
        if not f or "bayesopt" not in f or "random" not in f:
            continue
        bo, rnd = f["bayesopt"][1], f["random"][1]
        ok = bo <= rnd / 5.0
        line = (
            f"- {name} after {budget} evaluations: bayesopt median {fmt(bo)} vs random "
            f"{fmt(rnd)} (ratio {fmt(bo / rnd if rnd > 0 else np.inf)}, target <= 0.2: "
            f"{'PASS' if ok else 'MISS'})"
        )
        if "optuna_tpe" in f:
            tpe = f["optuna_tpe"][1]
            line += f"; vs Optuna TPE {fmt(tpe)} ({'PASS' if bo <= tpe else 'MISS'})"
        report(line)
    wins, compared = 0, 0
    for name in MULTI:
        f = finals.get(name)
        if not f or "asha_bayesopt" not in f or "asha_random" not in f:
            continue
        compared += 1
        bo, rnd = f["asha_bayesopt"][1], f["asha_random"][1]
        wins += bo < rnd
        line = (
            f"- {name} at the full budget: ASHA + bayesopt median {fmt(bo)} vs ASHA + "
            f"random {fmt(rnd)} ({'lower' if bo < rnd else 'NOT lower'})"
        )
        if "syne_mobster" in f:
            q1, med, q3 = f["syne_mobster"]
            ok = bo <= q3
            line += (
                f"; vs Syne Tune MOBSTER median {fmt(med)}, IQR {fmt(q1)} to {fmt(q3)} "
                f"({'PASS' if ok else 'MISS'}: {'within or better' if ok else 'worse'})"
            )
        report(line)
    if compared:
        verdict = "PASS" if wins >= min(2, compared) else "MISS"
        report(
            f"- ASHA + bayesopt below ASHA + random on {wins} of {compared} multi-fidelity "
            f"benchmarks (target: at least two of three): {verdict}"
        )
    report()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="CI: 2 seeds, tiny budgets")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=1, help="processes running seeds")
    parser.add_argument(
        "--mf-budget",
        type=float,
        default=2.0,
        help="multi-fidelity budget: virtual wall-clock, in full trainings (default 2)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="BENCHMARK:METHOD",
        help="leave one method out on one benchmark (repeatable), e.g. hartmann6:syne_bo",
    )
    parser.add_argument("--benchmarks", nargs="+", choices=[*SINGLE, *MULTI])
    parser.add_argument("--methods", nargs="+", choices=list(METHODS))
    parser.add_argument("--syne-tune-path", default=os.environ.get("SYNE_TUNE_PATH"))
    parser.add_argument("--plot-dir", default=os.path.join("bench", "out"))
    parser.add_argument("--markdown", help="also write the report to this file")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.jobs < 1 or not args.mf_budget > 0:
        parser.error("--seeds and --jobs must be >= 1 and --mf-budget > 0")
    skips = set()
    for item in args.skip:
        bench_name, _, method = item.partition(":")
        if bench_name not in (*SINGLE, *MULTI) or method not in METHODS:
            parser.error(f"--skip must be BENCHMARK:METHOD of known names, got {item!r}")
        skips.add((bench_name, method))

    single = dict(SMOKE_SINGLE if args.smoke else SINGLE)
    seeds = list(range(2 if args.smoke else args.seeds))
    mf_budget = 1.5 if args.smoke else args.mf_budget
    benches = args.benchmarks or [*single, *MULTI]
    methods = args.methods or list(METHODS)
    if args.smoke:  # this project's methods and Optuna (fast); Syne Tune's take minutes
        methods = [m for m in methods if METHODS[m][2] in (None, "optuna")]

    report = Report()
    started = time.perf_counter()
    report(f"Command: `{command_line('bench/searchers.py')}`\n")
    report(
        f"Machine: {machine_line()}; date {datetime.date.today().isoformat()}; "
        f"load average before the run: {load_average()}\n"
    )
    import scipy

    import scheduler

    versions = [f"scheduler {scheduler.__version__}", f"scipy {scipy.__version__}"]
    for package in sorted({METHODS[m][2] for m in methods} - {None}):
        version, why = probe_peer(package, args.syne_tune_path)
        if version is None:
            report(f"Skipping the {package} methods: {why}\n")
            methods = [m for m in methods if METHODS[m][2] != package]
        else:
            where = (
                f" (from {args.syne_tune_path})"
                if package == "syne_tune" and (args.syne_tune_path)
                else ""
            )
            versions.append(f"{package} {version}{where}")
    report(f"Versions: {', '.join(versions)}\n")

    budgets, jobs = {}, []
    for name in benches:
        if name in SINGLE and name not in single:
            continue
        bench = make_benchmark(name)
        if bench.max_epochs == 1:
            budgets[name] = single[name]
        else:
            budgets[name] = mf_budget * full_training_seconds(bench)
        for method in methods:
            if not runs_on(method, name) or (name, method) in skips:
                continue
            for seed in seeds:
                if bench.max_epochs == 1:
                    jobs.append((name, method, seed, budgets[name], None, args.syne_tune_path))
                else:
                    jobs.append((name, method, seed, None, budgets[name], args.syne_tune_path))
    # the slowest first, so that a pool ends together
    cost_rank = {"syne_mobster": 0, "syne_bo": 1, "asha_bayesopt": 2, "bayesopt": 3}
    jobs.sort(key=lambda j: (cost_rank.get(j[1], 9), j[0], j[2]))
    report(
        f"{WORKERS} workers on the simulated backend, {len(seeds)} seeds, {len(jobs)} runs, "
        f"{args.jobs} process(es); multi-fidelity budgets {mf_budget:g} full trainings\n"
    )
    for bench_name, method in sorted(skips):
        report(f"Left out (--skip): {METHODS[method][0]} on {bench_name}\n")

    done = {}

    def record(result) -> None:
        done[(result["bench"], result["method"], result["seed"])] = result
        print(
            f"  [{len(done)}/{len(jobs)}] {result['bench']} {result['method']} seed "
            f"{result['seed']}: {len(result['trace'])} results at max_epochs, "
            f"{result['cpu_s']:.1f} s CPU, {result['wall_s']:.1f} s wall",
            file=sys.stderr,
            flush=True,
        )

    if args.jobs == 1:
        for job in jobs:
            record(run_job(*job))
    else:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as pool:
            futures = [pool.submit(run_job, *job) for job in jobs]
            for future in as_completed(futures):
                record(future.result())

    finals = {}
    for name in budgets:
        present = [m for m in methods if runs_on(m, name) and (name, m) not in skips]
        finals[name] = summarize(report, name, done, seeds, budgets[name], present, args.plot_dir)
    if not args.smoke:
        verdicts(report, finals)
    wall = time.perf_counter() - started
    report(f"Wall time of the whole run: {wall:.0f} s; load average after it: {load_average()}")
    if args.markdown:
        report.write(args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
