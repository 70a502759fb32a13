"""Histories for the plot tests: real policy decisions (HyperbandPolicy, FIFOPolicy) on
synthetic learning curves, without the runtime (one worker, in order), so that 1,000
configs take well under a second. Also the degenerate cases: empty, all failed, inf
and NaN rewards."""

from __future__ import annotations

import math

import numpy as np

from scheduler.results.history import History
from scheduler.schedulers.base import Decision, drive_suggest, flush_feedback
from scheduler.schedulers.fifo import FIFOPolicy
from scheduler.schedulers.hyperband import HyperbandPolicy
from scheduler.searchers import RandomSearcher
from scheduler.space import Categorical, Real, SearchSpace

SPACE = SearchSpace(
    learning_rate_init=Real(1e-4, 3e-1, log=True),
    alpha=Real(1e-6, 1e-1, log=True),
    hidden_size=Categorical(16, 32, 64, 128),
    batch_size=Categorical(16, 32, 64, 128, 256),
)
MAX_T = 27


def accuracy(config: dict, epoch: int, rng: np.random.Generator) -> float:
    """A plausible validation-accuracy curve: a ceiling set by the config, a speed set
    by the learning rate, a little noise."""
    lr = config["learning_rate_init"]
    quality = (
        1 - 0.35 * abs(math.log10(lr) + 2.3) / 2.2 - 0.02 * abs(math.log10(config["alpha"]) + 4)
    )
    ceiling = 0.55 + 0.43 * max(0.0, min(1.0, quality)) * (0.9 + 0.1 * config["hidden_size"] / 128)
    speed = 0.1 + 1.5 * lr / (lr + 0.01)
    value = (ceiling - 0.08) * (1 - math.exp(-speed * epoch)) + 0.08
    return float(min(0.999, value + rng.normal(0, 0.004)))


def _run(policy, history, num_configs, curve, seed):
    rng = np.random.default_rng(seed)
    task_id = 0
    started = 0
    while True:
        suggestion = drive_suggest(policy, started < num_configs)
        if suggestion is None:
            return history
        started += suggestion.new_config
        history.start_task(
            task_id,
            suggestion.config_id,
            suggestion.config,
            bracket=suggestion.bracket,
            resume_from=suggestion.resume_from,
            start_time=float(task_id),
        )
        policy.on_task_start(task_id, suggestion)
        status, last = "completed", None
        for epoch in range((suggestion.resume_from or 0) + 1, MAX_T + 1):
            last = {"epoch": epoch, "accuracy": curve(suggestion.config, epoch, rng)}
            decision = Decision(policy.on_report(task_id, last))
            history.add_report(task_id, last, decision=decision.value)
            if decision in (Decision.STOP, Decision.PAUSE):
                status = "stopped" if decision == Decision.STOP else "paused"
                break
            if decision == Decision.COMPLETE:
                break
        history.end_task(task_id, status, end_time=float(task_id) + 0.5)
        policy.on_task_end(task_id, status, last)
        flush_feedback(policy)
        task_id += 1


def hyperband_history(num_configs: int, kind: str = "promotion", seed: int = 0) -> History:
    """ASHA (``kind='promotion'``) or stopping Hyperband, eta=3, max_t=27."""
    policy = HyperbandPolicy(
        RandomSearcher(SPACE, random_seed=seed),
        reward_attr="accuracy",
        time_attr="epoch",
        max_t=MAX_T,
        grace_period=1,
        reduction_factor=3,
        type=kind,
    )
    return _run(policy, History("accuracy", "epoch"), num_configs, accuracy, seed)


def fifo_history(num_configs: int, seed: int = 0, epochs: int = 10) -> History:
    policy = FIFOPolicy(RandomSearcher(SPACE, random_seed=seed), reward_attr="accuracy")

    def curve(config, epoch, rng):
        if epoch > epochs:
            raise AssertionError("FIFO histories stop at their epochs")
        return accuracy(config, epoch, rng)

    history = History("accuracy", "epoch")
    rng = np.random.default_rng(seed)
    for task_id in range(num_configs):
        suggestion = drive_suggest(policy, True)
        history.start_task(task_id, suggestion.config_id, suggestion.config, start_time=0.0)
        policy.on_task_start(task_id, suggestion)
        for epoch in range(1, epochs + 1):
            last = {"epoch": epoch, "accuracy": curve(suggestion.config, epoch, rng)}
            history.add_report(task_id, last, decision="continue")
        history.end_task(task_id, "completed", end_time=1.0)
        policy.on_task_end(task_id, "completed", last)
        flush_feedback(policy)
    return history


def all_failed_history(num_tasks: int = 5) -> History:
    history = History("accuracy", "epoch")
    for task_id in range(num_tasks):
        history.start_task(task_id, task_id, {"lr": 0.1 * task_id}, start_time=0.0)
        history.end_task(task_id, "failed", reason="ValueError: bad input shape", end_time=0.1)
    return history


def inf_nan_history() -> History:
    """Configs with finite curves, one that reports +inf, one -inf, one that diverges."""
    history = History("accuracy", "epoch")
    rng = np.random.default_rng(1)
    values = {
        0: [0.5, 0.6, 0.65, 0.7],
        1: [0.4, 0.55, math.inf, 0.6],
        2: [0.45, -math.inf, 0.5, 0.52],
        3: [0.3, 0.35, math.nan],
        4: [0.6, 0.62, 0.66, 0.69],
    }
    for task_id, ys in values.items():
        history.start_task(task_id, task_id, {"lr": round(0.01 * (task_id + 1), 3)}, start_time=0.0)
        for epoch, y in enumerate(ys, start=1):
            y = y + (rng.normal(0, 0.001) if math.isfinite(y) else 0.0)
            history.add_report(task_id, {"epoch": epoch, "accuracy": y}, decision="continue")
        history.end_task(task_id, "diverged" if task_id == 3 else "completed", end_time=1.0)
    return history
