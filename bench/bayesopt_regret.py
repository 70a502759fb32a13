"""Quick regret check of the bayesopt searchers against random search (and Optuna's TPE).

Not the issue's full comparison (that is ``bench/searchers.py`` on the simulated
backend, 4 workers, 20 seeds): a sequential loop, one evaluation at a time, a handful
of seeds, the searchers driven directly.

* Single fidelity: Branin after 50 evaluations, Hartmann6 after 100. Methods:
  ``random`` (RandomSearcher), ``bayesopt`` (GPSearcher, default options) and, when
  Optuna is installed (``pip install "scheduler[peers]"``), ``tpe`` (Optuna's
  TPESampler, default options, through its ask/tell interface).
* Multi-fidelity (``--multi-fidelity``): the Hyperband policy (promotion type, i.e.
  ASHA; grace_period 1, reduction_factor 3, max_t 81) driven by one worker in a loop,
  with ``random`` or ``bayesopt`` (the multi-fidelity GP, as HyperbandScheduler builds
  it), on the multi-fidelity Branin and Hartmann6 and the digits learning curves, for
  a budget of epochs (``--mf-budget`` times max_t). Regret is taken over the configs
  that reached max_t.

Simple regret is ``best value found - optimum``; the table gives its median and
interquartile range over the seeds, and for the single-fidelity targets (bayesopt's
median at most a fifth of random's, and no worse than TPE's) PASS/MISS, printed,
never asserted.

Run: ``python bench/bayesopt_regret.py`` (5 seeds, a few minutes),
``--multi-fidelity`` to add the ASHA runs, or ``--smoke`` (CI: one seed, tiny budgets).
Exits 0 whenever it ran.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
from _common import command_line, load_average, machine_line, markdown_table

from scheduler import kernels as _kernels
from scheduler.benchmarks import (
    Branin,
    DigitsCurves,
    Hartmann6,
    MultiFidelityBranin,
    MultiFidelityHartmann6,
    regret,
)
from scheduler.schedulers.base import Decision, drive_suggest, flush_feedback
from scheduler.schedulers.hyperband import HyperbandPolicy
from scheduler.searchers import GPMultiFidelitySearcher, GPSearcher, RandomSearcher
from scheduler.space import Categorical, Int, Real

SINGLE = ((Branin, 50), (Hartmann6, 100))


# -- single fidelity ---------------------------------------------------------------------
def run_searcher(searcher, bench, budget) -> float:
    best = None
    for _ in range(budget):
        config = searcher.get_config()
        value = bench.objective(config, 1)[0]
        searcher.update(config, value)
        best = value if best is None else min(best, value)
    return regret(bench, best)


def _optuna_distributions(space):
    import optuna

    out = {}
    for name, domain in space.domains.items():
        if isinstance(domain, Real):
            out[name] = optuna.distributions.FloatDistribution(
                domain.lower, domain.upper, log=domain.log
            )
        elif isinstance(domain, Int):
            out[name] = optuna.distributions.IntDistribution(domain.lower, domain.upper)
        elif isinstance(domain, Categorical):
            out[name] = optuna.distributions.CategoricalDistribution(domain.data)
        else:
            raise ValueError(f"no Optuna distribution for {name}: {domain!r}")
    return out


def run_tpe(bench, budget, seed) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize" if bench.mode == "min" else "maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
    )
    distributions = _optuna_distributions(bench.space)
    best = None
    for _ in range(budget):
        trial = study.ask(distributions)
        value = bench.objective(trial.params, 1)[0]
        study.tell(trial, value)
        best = value if best is None else min(best, value)
    return regret(bench, best)


def optuna_installed() -> bool:
    try:
        import optuna  # noqa: F401
    except ImportError:
        return False
    return True


def single_fidelity(seeds, budget_scale):
    methods = ["random", "bayesopt"] + (["tpe"] if optuna_installed() else [])
    results = {}
    for cls, budget in SINGLE:
        bench = cls()
        budget = max(5, int(budget * budget_scale))
        for method in methods:
            regrets, start = [], time.perf_counter()
            for seed in seeds:
                if method == "random":
                    searcher = RandomSearcher(
                        bench.space, reward_attr=bench.metric, mode=bench.mode, random_seed=seed
                    )
                    regrets.append(run_searcher(searcher, bench, budget))
                elif method == "bayesopt":
                    searcher = GPSearcher(
                        bench.space, reward_attr=bench.metric, mode=bench.mode, random_seed=seed
                    )
                    regrets.append(run_searcher(searcher, bench, budget))
                else:
                    regrets.append(run_tpe(bench, budget, seed))
            results[(bench.name, budget, method)] = (regrets, time.perf_counter() - start)
            print(f"  {bench.name} {method}: {_summary(regrets)}", file=sys.stderr)
    return methods, results


# -- multi-fidelity: ASHA, one worker --------------------------------------------------
def run_asha(bench, searcher_name, seed, budget_epochs) -> float | None:
    max_t = bench.max_epochs
    levels, _ = _kernels.rung_levels(1, 3, max_t, None)
    if searcher_name == "random":
        searcher = RandomSearcher(
            bench.space, reward_attr=bench.metric, mode=bench.mode, random_seed=seed
        )
    else:
        searcher = GPMultiFidelitySearcher(
            bench.space,
            reward_attr=bench.metric,
            mode=bench.mode,
            random_seed=seed,
            resource_attr="epoch",
            max_t=max_t,
            rung_levels=[int(r) for r in levels],
        )
    policy = HyperbandPolicy(
        searcher,
        reward_attr=bench.metric,
        time_attr="epoch",
        max_t=max_t,
        grace_period=1,
        reduction_factor=3,
        type="promotion",
        random_seed=seed,
        mode=bench.mode,
    )
    spent, task_id, best = 0, 0, None
    while spent < budget_epochs:
        suggestion = drive_suggest(policy, allow_new=True)  # applies the searcher calls
        if suggestion is None:
            break
        policy.on_task_start(task_id, suggestion)
        epoch = suggestion.resume_from or 0
        last = None
        while True:
            epoch += 1
            value, _seconds = bench.objective(suggestion.config, epoch)
            spent += 1
            last = {"epoch": epoch, bench.metric: value}
            decision = policy.on_report(task_id, last)
            if epoch >= max_t:
                best = value if best is None else min(best, value)
            if decision != Decision.CONTINUE or spent >= budget_epochs:
                break
        status = {"complete": "completed", "pause": "paused", "stop": "stopped"}.get(
            decision.value, "stopped"
        )
        policy.on_task_end(task_id, status, last)
        flush_feedback(policy)
        task_id += 1
    return None if best is None else regret(bench, best)


def multi_fidelity(seeds, budget_multiple):
    benches = [MultiFidelityBranin(), MultiFidelityHartmann6(), DigitsCurves()]
    results = {}
    for bench in benches:
        budget = int(budget_multiple * bench.max_epochs)
        for method in ("random", "bayesopt"):
            regrets, start = [], time.perf_counter()
            for seed in seeds:
                r = run_asha(bench, method, seed, budget)
                regrets.append(float("nan") if r is None else r)
            results[(bench.name, budget, f"ASHA + {method}")] = (
                regrets,
                time.perf_counter() - start,
            )
            print(f"  {bench.name} ASHA+{method}: {_summary(regrets)}", file=sys.stderr)
    return results


# -- report --------------------------------------------------------------------------------
def _summary(values):
    finite = sorted(v for v in values if v == v)
    if not finite:
        return "no config reached max_t"
    q1, _, q3 = np.percentile(finite, [25, 50, 75])
    return f"median {statistics.median(finite):.4g} (IQR {q1:.3g} to {q3:.3g})"


def _table(results):
    rows = []
    for (name, budget, method), (regrets, seconds) in results.items():
        finite = [v for v in regrets if v == v]
        q1, med, q3 = np.percentile(finite, [25, 50, 75]) if finite else (np.nan,) * 3
        rows.append(
            [name, str(budget), method, f"{med:.3g}", f"{q1:.3g} to {q3:.3g}", f"{seconds:.1f} s"]
        )
    header = ["benchmark", "budget", "method", "median regret", "IQR", "time (all seeds)"]
    return markdown_table(header, rows, right={1, 3, 5})


def _verdicts(results, methods):
    lines = []
    for cls, _ in SINGLE:
        name = cls.name
        med = {
            m: statistics.median(r)
            for (n, _, m), (r, _) in results.items()
            if n == name and m in methods
        }
        ratio = med["bayesopt"] / med["random"] if med["random"] > 0 else float("inf")
        verdict = "PASS" if med["bayesopt"] <= med["random"] / 5 else "MISS"
        line = f"- {name}: bayesopt / random median regret = {ratio:.3g} (target <= 0.2: {verdict})"
        if "tpe" in med:
            verdict = "PASS" if med["bayesopt"] <= med["tpe"] else "MISS"
            line += f"; bayesopt {med['bayesopt']:.3g} vs TPE {med['tpe']:.3g} ({verdict})"
        lines.append(line)
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one seed, tiny budgets (CI)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--multi-fidelity", action="store_true", help="add the ASHA runs")
    parser.add_argument("--mf-budget", type=float, default=20.0, help="epochs / max_t")
    args = parser.parse_args(argv)
    seeds = [0] if args.smoke else list(range(args.seeds))
    scale = 0.2 if args.smoke else 1.0
    print(f"Command: `{command_line('bench/bayesopt_regret.py')}`\n")
    print(f"Machine: {machine_line()}; load average before the run: {load_average()}\n")
    methods, results = single_fidelity(seeds, scale)
    print(f"Single fidelity, sequential, {len(seeds)} seed(s):\n")
    print(_table(results))
    if not args.smoke:
        print()
        print(_verdicts(results, methods))
    if args.multi_fidelity or args.smoke:
        budget = 5.0 if args.smoke else args.mf_budget
        mf = multi_fidelity(seeds, budget)
        print(f"\nMulti-fidelity, ASHA (promotion), one worker, {len(seeds)} seed(s):\n")
        print(_table(mf))
    return 0


if __name__ == "__main__":
    sys.exit(main())
