"""scheduler.benchmarks: known optima, the multi-fidelity versions, the digits table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scheduler.benchmarks import (
    BENCHMARKS,
    BRANIN_MINIMUM,
    HARTMANN6_MINIMIZER,
    HARTMANN6_MINIMUM,
    Benchmark,
    Branin,
    DigitsCurves,
    Hartmann6,
    MultiFidelityBranin,
    MultiFidelityHartmann6,
    branin,
    hartmann6,
    regret,
)


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_every_benchmark_follows_the_protocol(name):
    bench = BENCHMARKS[name]()
    assert isinstance(bench, Benchmark) and bench.name == name
    rng = np.random.default_rng(0)
    for _ in range(20):
        config = bench.space.sample(rng)
        for epoch in sorted({1, bench.max_epochs}):
            metric, seconds = bench.objective(config, epoch)
            assert (metric, seconds) == bench.objective(config, epoch)  # deterministic
            assert math.isfinite(metric) and seconds > 0
            if epoch == bench.max_epochs:
                assert regret(bench, metric) >= -1e-9
    for bad in (0, bench.max_epochs + 1, 1.5, True):
        with pytest.raises(ValueError, match=f"{name}: epoch must be an integer in"):
            bench.objective(bench.space.default_config(), bad)


def test_branin_minima():
    for x1, x2 in ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)):
        assert branin(x1, x2) == pytest.approx(BRANIN_MINIMUM, abs=1e-5)
    grid = np.linspace(0, 1, 301)
    values = [branin(-5 + 15 * a, 15 * b) for a in grid[::3] for b in grid[::3]]
    assert min(values) >= BRANIN_MINIMUM - 1e-12
    assert Branin().objective({"x1": math.pi, "x2": 2.275})[0] == pytest.approx(BRANIN_MINIMUM)


def test_hartmann6_minimum():
    assert hartmann6(HARTMANN6_MINIMIZER) == pytest.approx(HARTMANN6_MINIMUM, abs=1e-6)
    rng = np.random.default_rng(0)
    assert min(hartmann6(x) for x in rng.random((2000, 6))) > HARTMANN6_MINIMUM
    config = {f"x{j + 1}": v for j, v in enumerate(HARTMANN6_MINIMIZER)}
    assert Hartmann6().objective(config)[0] == pytest.approx(HARTMANN6_MINIMUM, abs=1e-6)


def test_multi_fidelity_versions_end_at_the_single_fidelity_function():
    rng = np.random.default_rng(1)
    mf_branin, mf_hartmann = MultiFidelityBranin(max_epochs=27), MultiFidelityHartmann6()
    for _ in range(20):
        c = mf_branin.space.sample(rng)
        assert mf_branin.objective(c, 27)[0] == Branin().objective(c)[0]
        assert mf_branin.objective(c, 1)[0] != mf_branin.objective(c, 27)[0]
        h = mf_hartmann.space.sample(rng)
        assert mf_hartmann.objective(h, 81)[0] == Hartmann6().objective(h)[0]
        # lower fidelity: the weights shrink, so the (negative) value rises
        assert mf_hartmann.objective(h, 1)[0] > mf_hartmann.objective(h, 81)[0]
    assert mf_branin.optimum == BRANIN_MINIMUM and mf_hartmann.optimum == HARTMANN6_MINIMUM


def test_digits_table_is_small_real_and_consistent():
    import os

    from scheduler.benchmarks.digits import DIGITS_CURVES_PATH

    assert os.path.getsize(DIGITS_CURVES_PATH) < 300_000
    bench = DigitsCurves()
    assert bench.val_error.shape == (336, bench.max_epochs) and bench.max_epochs == 50
    assert bench.optimum == bench.val_error[:, -1].min() < 0.05  # an MLP learns digits
    assert np.all((bench.val_error >= 0) & (bench.val_error <= 1)) and np.all(bench.seconds > 0)
    # curves learn: the mean error falls over the epochs
    mean = bench.val_error.mean(axis=0)
    assert mean[-1] < mean[0]
    # every grid row is reachable from the space, each from an equal share of it
    rng = np.random.default_rng(0)
    rows = [bench.grid_index(bench.space.sample(rng)) for _ in range(20_000)]
    counts = np.bincount(rows, minlength=336)
    assert counts.min() > 0 and counts.max() < 3 * counts.mean()
    config = {"hidden": 64, "batch_size": 16, "learning_rate_init": 1e-3, "alpha": 1e-4}
    row = bench.grid_index(config)
    assert bench.objective(config, 3) == (bench.val_error[row, 2], bench.seconds[row, 2])
