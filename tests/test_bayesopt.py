"""The bayesopt searchers: FIFO GP, multi-fidelity (MOBSTER) and constrained, driven in a
loop with no trials (searchers are pure policy), and through the facades."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import scheduler as sch
from scheduler.benchmarks import BRANIN_MINIMUM, Branin, branin
from scheduler.searchers import (
    BaseSearcher,
    ConstrainedGPSearcher,
    GPMultiFidelitySearcher,
    GPSearcher,
    GridSearcher,
    RandomSearcher,
    searcher_factory,
)
from scheduler.space import Bool, Categorical, Int, Real, SearchSpace

FAST = {"num_init_candidates": 100, "num_starting_points": 2, "opt_maxiter": 30}
SPACE2 = SearchSpace(x=Real(0.0, 1.0), y=Real(0.0, 1.0))


def bowl(config):
    """Minimum 0 at (0.3, 0.7)."""
    return (config["x"] - 0.3) ** 2 + (config["y"] - 0.7) ** 2


def drive(searcher, objective, steps, **extra):
    """Sequential loop: get_config, evaluate, update. Returns the configs."""
    configs = []
    for _ in range(steps):
        config = searcher.get_config()
        configs.append(config)
        searcher.update(config, objective(config), **extra)
    return configs


def make(kind, space=SPACE2, **options):
    options = {**FAST, "reward_attr": "loss", "mode": "min", "random_seed": 3, **options}
    if kind == "fifo":
        return GPSearcher(space, **options)
    if kind == "mf":
        return GPMultiFidelitySearcher(
            space, resource_attr="epoch", max_t=9, rung_levels=[1, 3], **options
        )
    return ConstrainedGPSearcher(space, constraint_attr="c", **options)


def extra_for(kind, config=None):
    if kind == "mf":
        return {"epoch": 1}
    if kind == "constrained":
        return {"c": 0.0 if config is None else config["x"] - 0.5}
    return {}


def run(kind, searcher, steps):
    configs = []
    for _ in range(steps):
        config = searcher.get_config()
        configs.append(config)
        searcher.update(config, bowl(config), **extra_for(kind, config))
    return configs


KINDS = ["fifo", "mf", "constrained"]


def test_replay_and_driver_flags():
    assert BaseSearcher.deterministic_replay is True
    assert RandomSearcher.deterministic_replay and GridSearcher.deterministic_replay
    for cls in (GPSearcher, GPMultiFidelitySearcher, ConstrainedGPSearcher):
        assert cls.deterministic_replay is False and cls.inline_calls is False


def test_bayesopt_beats_random_on_branin_with_few_evaluations():
    bench = Branin()
    searcher = GPSearcher(bench.space, reward_attr="value", mode="min", random_seed=0)
    configs = drive(searcher, lambda c: bench.objective(c)[0], 25)
    assert len({bench.space.config_key(c) for c in configs}) == 25
    assert configs[0] == bench.space.default_config()  # first_is_default
    best = searcher.get_best_reward()
    assert best == min(branin(c["x1"], c["x2"]) for c in configs)
    assert best - BRANIN_MINIMUM < 0.5
    rng = np.random.default_rng(0)
    random_best = min(
        min(bench.objective(bench.space.sample(rng))[0] for _ in range(25)) for _ in range(5)
    )
    assert best < random_best


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_configs_other_seed_other_configs(kind):
    a = run(kind, make(kind, random_seed=11), 8)
    b = run(kind, make(kind, random_seed=11), 8)
    c = run(kind, make(kind, random_seed=12), 8)
    assert a == b
    assert a[2:] != c[2:]


@pytest.mark.parametrize("kind", KINDS)
def test_state_round_trip_mid_run_gives_the_same_next_configs(kind):
    original = make(kind)
    run(kind, original, 7)
    pending = original.get_config()
    original.register_pending(pending)
    state = json.loads(json.dumps(original.state_dict(), allow_nan=False))
    restored = make(kind)
    restored.load_state_dict(state)
    assert restored.pending_configs() == original.pending_configs()
    assert run(kind, restored, 3) == run(kind, original, 3)
    assert restored.get_best_config() == original.get_best_config()


@pytest.mark.parametrize("kind", KINDS)
def test_pending_configs_are_not_proposed_twice_in_a_finite_space(kind):
    space = SearchSpace(a=Categorical("p", "q", "r"), b=Bool(), n=Int(1, 3))  # 18 configs
    searcher = make(kind, space=space, num_init_random=2)
    loss = {"p": 0.0, "q": 1.0, "r": 2.0}
    seen = []
    for step in range(18):
        config = searcher.get_config()
        assert config is not None and config not in seen
        seen.append(config)
        if step % 3 == 0:  # most stay pending: the model fantasizes them
            searcher.register_pending(config)
        else:
            value = loss[config["a"]] + config["n"]
            extra = {"epoch": 1} if kind == "mf" else {"c": -1.0} if kind == "constrained" else {}
            searcher.update(config, value, **extra)
    assert searcher.get_config() is None
    assert len({space.config_key(c) for c in seen}) == 18


def test_fantasized_pending_config_pushes_the_next_proposal_away():
    def propose_two(fantasize):
        searcher = make("fifo", random_seed=4)
        run("fifo", searcher, 8)
        first = searcher.get_config()
        if fantasize:
            searcher.register_pending(first)
        second = searcher.get_config()
        return first, second

    first, second = propose_two(fantasize=True)
    gap = math.dist((first["x"], first["y"]), (second["x"], second["y"]))
    first0, second0 = propose_two(fantasize=False)
    gap0 = math.dist((first0["x"], first0["y"]), (second0["x"], second0["y"]))
    # without the pending config the model proposes (nearly) the same point again;
    # fantasizing it collapses the variance there and moves the next proposal away
    assert gap > 5 * gap0 and gap > 0.02


def test_constrained_best_is_never_infeasible():
    searcher = make("constrained", num_init_random=4)
    rng = np.random.default_rng(0)
    assert searcher.get_best_config() is None
    for step in range(30):
        config = searcher.get_config() if step % 2 else SPACE2.sample(rng)
        c = config["x"] - 0.5  # feasible iff x <= 0.5
        searcher.update(config, -config["x"], c=c)  # the objective prefers large x
        best = searcher.get_best_config()
        feasible = [k for k in searcher._results if searcher._constraints[k] <= 0]
        if feasible:
            assert best is not None and best["x"] <= 0.5
            assert searcher.is_feasible(best)
            assert searcher.get_best_reward() == min(searcher._results[k] for k in feasible)
        else:
            assert best is None and searcher.get_best_reward() is None
    # the model finds the boundary: the best feasible x is close to 0.5
    assert searcher.get_best_config()["x"] > 0.45


def test_constrained_needs_the_constraint_value():
    searcher = make("constrained")
    config = searcher.get_config()
    with pytest.raises(ValueError, match=r"result\['c'\] \(constraint_attr\)"):
        searcher.update(config, 1.0)
    with pytest.raises(ValueError, match="finite number, got nan"):
        searcher.update(config, 1.0, c=float("nan"))
    with pytest.raises(ValueError, match="needs constraint_attr"):
        ConstrainedGPSearcher(SPACE2)


def test_multi_fidelity_target_resource_follows_the_bohb_rule():
    searcher = make("mf", resource_acq_bohb_threshold=3)
    assert searcher.target_resource() == 1
    configs = [SPACE2.sample(np.random.default_rng(i)) for i in range(6)]
    for config in configs:
        searcher.update(config, 1.0, epoch=1)
    for config in configs[:2]:
        searcher.update(config, 1.0, epoch=3)
    assert searcher.target_resource() == 1  # only 2 results at 3
    searcher.update(configs[2], 1.0, epoch=3)
    assert searcher.target_resource() == 3
    assert searcher.num_observations == 9
    first = make("mf", resource_acq="first")
    first.update(configs[0], 1.0, epoch=9)
    assert first.target_resource() == 1
    with pytest.raises(ValueError, match=r"result\['epoch'\] \(resource_attr\)"):
        searcher.update(configs[0], 1.0)


def test_multi_fidelity_proposes_by_the_acquisition_at_the_target_resource():
    """Low fidelity prefers x near 0.2, the full resource prefers x near 0.8: once enough
    configs reached the top level, the proposals follow the top level."""
    space = SearchSpace(x=Real(0.0, 1.0))

    def loss(x, r):
        return (x - 0.2) ** 2 if r < 9 else (x - 0.8) ** 2

    searcher = GPMultiFidelitySearcher(
        space,
        reward_attr="loss",
        mode="min",
        resource_attr="epoch",
        max_t=9,
        rung_levels=[1, 3],
        num_init_random=0,
        random_seed=0,
        **FAST,
    )
    grid = np.linspace(0.0, 1.0, 11)
    for x in grid:
        searcher.update({"x": float(x)}, loss(x, 1), epoch=1)
    assert searcher.target_resource() == 1
    low = searcher.get_config()["x"]
    for x in grid[::2]:
        searcher.update({"x": float(x)}, loss(x, 3), epoch=3)
        searcher.update({"x": float(x)}, loss(x, 9), epoch=9)
    assert searcher.target_resource() == 9
    high = searcher.get_config()["x"]
    assert abs(low - 0.2) < 0.1 and abs(high - 0.8) < 0.1
    # the best config is judged at the top level
    assert searcher.get_best_config() == {"x": 0.8}
    assert searcher.get_best_reward() == pytest.approx(0.0)


def test_options_are_validated_by_name():
    with pytest.raises(ValueError, match="num_init_random must be an integer >= 0, got -1"):
        GPSearcher(SPACE2, num_init_random=-1)
    with pytest.raises(ValueError, match="num_fantasy_samples must be an integer >= 1, got 0"):
        GPSearcher(SPACE2, num_fantasy_samples=0)
    with pytest.raises(ValueError, match=r"opt_skip_period must be an integer >= 1, got 1\.5"):
        GPSearcher(SPACE2, opt_skip_period=1.5)
    with pytest.raises(ValueError, match="first_is_default must be a bool"):
        GPSearcher(SPACE2, first_is_default="yes")
    with pytest.raises(ValueError, match="max_t is required"):
        GPMultiFidelitySearcher(SPACE2)
    with pytest.raises(ValueError, match=r"rung_levels must be strictly increasing.*\[3, 1\]"):
        GPMultiFidelitySearcher(SPACE2, max_t=9, rung_levels=[3, 1])
    with pytest.raises(ValueError, match=r"resource_acq must be one of \['bohb', 'first'\]"):
        GPMultiFidelitySearcher(SPACE2, max_t=9, resource_acq="last")
    with pytest.raises(ValueError, match="unknown option"):
        searcher_factory("bayesopt", space=SPACE2, num_samples=3)
    with pytest.raises(ValueError, match="can only model configs of its search space"):
        GPSearcher(SPACE2).update({"x": 2.0, "y": 0.5}, 1.0)
    assert isinstance(searcher_factory("BayesOpt", space=SPACE2), GPSearcher)


# -- through the facades -----------------------------------------------------------------


@sch.args(x=sch.space.Real(0.0, 1.0), y=sch.space.Real(0.0, 1.0), epochs=9)
def train_fn(args, reporter):
    for epoch in range(1, args.epochs + 1):
        reporter(epoch=epoch, loss=bowl({"x": args.x, "y": args.y}) + 1.0 / epoch, c=args.x - 0.5)


COMMON = {"reward_attr": "loss", "mode": "min", "backend": "thread", "num_trials": 2}


def test_facades_pick_the_right_searcher_and_refuse_what_they_cannot_do():
    fifo = sch.FIFOScheduler(
        train_fn, searcher="bayesopt", search_options={"random_seed": 2}, **COMMON
    )
    assert type(fifo.searcher) is GPSearcher and fifo.searcher.random_seed == 2
    for type_ in ("stopping", "promotion"):
        hb = sch.HyperbandScheduler(train_fn, searcher="bayesopt", type=type_, **COMMON)
        assert type(hb.searcher) is GPMultiFidelitySearcher
        assert hb.searcher.rung_levels == [1, 3] and hb.searcher.max_t == 9
        assert hb.searcher.resource_attr == "epoch"
    constrained = sch.FIFOScheduler(
        train_fn, searcher="bayesopt_constrained", constraint_attr="c", **COMMON
    )
    assert constrained.searcher.constraint_attr == "c"
    with pytest.raises(ValueError, match=r"constraint_attr=.c. needs.*.bayesopt_constrained."):
        sch.FIFOScheduler(train_fn, searcher="bayesopt", constraint_attr="c", **COMMON)
    with pytest.raises(ValueError, match="not by HyperbandScheduler"):
        sch.HyperbandScheduler(train_fn, searcher="bayesopt", constraint_attr="c", **COMMON)
    with pytest.raises(ValueError, match="needs constraint_attr"):
        sch.FIFOScheduler(train_fn, searcher="bayesopt_constrained", **COMMON)
    with pytest.raises(ValueError, match="num_init_random must be an integer >= 0"):
        sch.FIFOScheduler(
            train_fn, searcher="bayesopt", search_options={"num_init_random": -2}, **COMMON
        )


def test_hyperband_with_bayesopt_runs_end_to_end():
    scheduler = sch.HyperbandScheduler(
        train_fn,
        searcher="bayesopt",
        search_options={"num_init_random": 3, **FAST},
        type="promotion",
        **{**COMMON, "num_trials": 10},
    )
    scheduler.run()
    assert scheduler.join_jobs(timeout=60)
    searcher = scheduler.searcher
    assert searcher.num_results == 10 and searcher.num_observations >= 10
    assert searcher.get_best_reward() is not None


def test_importing_scheduler_does_not_import_scipy():
    """Process workers import scheduler: the GP searchers (scipy, about a second on a busy
    machine) load only when one is asked for."""
    import subprocess
    import sys

    code = (
        "import sys, scheduler, scheduler.searchers as s; "
        "assert 'scipy' not in sys.modules, 'scipy imported'; "
        "assert s.SEARCHERS['bayesopt'] is s.GPSearcher; "
        "assert 'scipy' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
