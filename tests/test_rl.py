"""RLScheduler: the numpy LSTM controller, the RL policy and the facade.

The controller's hand-written backward pass is checked against central finite
differences; learning is checked on a seeded toy objective with a known best config,
driving the policy directly (no runtime); the facade runs end to end on the thread
backend, and the seed's example runs as a script.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import scheduler as sch
from scheduler import space
from scheduler.facades.rl import RLScheduler
from scheduler.schedulers.base import Decision, Suggestion, drive_suggest, flush_feedback
from scheduler.schedulers.rl import RLPolicy
from scheduler.searchers.rl.controller import RLController

# --------------------------------------------------------------------------------------
# helpers

MIXED = space.SearchSpace(
    a=space.Categorical("x", "y", "z"),
    b=space.Real(1e-3, 1.0, log=True),
    c=space.Int(1, 3),
    d=space.Bool(),
    e=space.Int(0, 100),
)

TOY = space.SearchSpace(
    optimizer=space.Categorical("sgd", "adam", "rmsprop", "adagrad"),
    activation=space.Categorical("relu", "tanh", "sigmoid"),
    layers=space.Categorical(1, 2, 3, 4, 5),
    lr=space.Real(1e-4, 1e-1, log=True),
)
TOY_BEST = {"optimizer": "rmsprop", "activation": "tanh", "layers": 3, "lr": 1e-2}


def toy_objective(config, rng):
    """Additive, with a unique best config (TOY_BEST) and a little seeded noise."""
    r = {"sgd": 0.1, "adam": 0.3, "rmsprop": 0.5, "adagrad": 0.0}[config["optimizer"]]
    r += {"relu": 0.2, "tanh": 0.4, "sigmoid": 0.0}[config["activation"]]
    r += 0.5 - 0.15 * abs(config["layers"] - 3)
    r -= 0.15 * (math.log10(config["lr"]) + 2) ** 2
    return r + 0.05 * rng.normal()


def _Driven(*args, **kwargs):
    """An RLPolicy driven the way the runtime drives it: configs drawn from its
    controller, and the learning steps it queues delivered at once."""
    return _DrivenPolicy(RLPolicy(*args, **kwargs))


class _DrivenPolicy:
    def __init__(self, policy):
        self.policy = policy

    def __getattr__(self, name):
        return getattr(self.policy, name)

    def suggest(self, allow_new):
        return drive_suggest(self.policy, allow_new)

    def on_task_start(self, task_id, suggestion):
        self.policy.on_task_start(task_id, suggestion)
        flush_feedback(self.policy)

    def on_report(self, task_id, result):
        decision = self.policy.on_report(task_id, result)
        flush_feedback(self.policy)
        return decision

    def on_task_end(self, task_id, status, last_result):
        self.policy.on_task_end(task_id, status, last_result)
        flush_feedback(self.policy)


def drive(policy, objective, num_trials, *, seed=0, fail=lambda config_id: False):
    """Run ``num_trials`` trials through a policy, as the runtime would.

    Whenever the policy has something to start, start it; then end one running task
    (the oldest in sync mode, a random one in async mode, so that trials finish out of
    order). Returns the list of started suggestions.
    """
    rng = np.random.default_rng(seed)
    running, started = [], []
    task_id = 0
    while True:
        while True:
            suggestion = policy.suggest(len(started) < num_trials)
            if suggestion is None:
                break
            policy.on_task_start(task_id, suggestion)
            running.append((task_id, suggestion))
            started.append(suggestion)
            task_id += 1
        if not running:
            return started
        index = int(rng.integers(len(running))) if not policy.sync else 0
        tid, suggestion = running.pop(index)
        if fail(suggestion.config_id):
            policy.on_task_end(tid, "failed", None)
        else:
            value = objective(suggestion.config, rng)
            policy.on_task_end(tid, "completed", {"accuracy": value, "epoch": 1})


class Recorder:
    """Wraps a controller's learn() to record the batches it learns from."""

    def __init__(self, controller):
        self.calls = []
        learn = controller.learn

        def recorded(actions, rewards):
            self.calls.append(([list(a) for a in actions], [float(r) for r in rewards]))
            return learn(actions, rewards)

        controller.learn = recorded


# --------------------------------------------------------------------------------------
# the controller


def test_gradient_check_every_parameter():
    """The hand-written BPTT matches central finite differences (float64)."""
    ctl = RLController(MIXED, hidden_size=5, num_bins=4, entropy_weight=0.3, random_seed=1)
    rng = np.random.default_rng(0)
    for view in ctl.params.values():  # larger than the init, so every gate is nonlinear
        view[...] = rng.normal(0.0, 0.5, view.shape)
    actions = [ctl.sample() for _ in range(5)]
    actions.append(list(actions[0]))  # a repeated config: embedding rows accumulate
    advantages = rng.normal(size=len(actions))
    _, grads = ctl.loss_and_grad(actions, advantages)
    assert set(grads) == set(ctl.params)
    eps = 1e-5
    for name, view in ctl.params.items():
        numeric = np.zeros_like(view)
        for index in np.ndindex(view.shape):
            old = view[index]
            view[index] = old + eps
            plus = ctl.loss(actions, advantages)
            view[index] = old - eps
            minus = ctl.loss(actions, advantages)
            view[index] = old
            numeric[index] = (plus - minus) / (2 * eps)
        analytic = grads[name]
        assert np.linalg.norm(analytic) > 1e-4, name  # the check is not vacuous
        error = np.linalg.norm(analytic - numeric) / (
            np.linalg.norm(analytic) + np.linalg.norm(numeric)
        )
        assert error < 1e-6, (name, error)


def test_discretization():
    ctl = RLController(MIXED, hidden_size=4, num_bins=4)
    assert ctl.names == ("a", "b", "c", "d", "e")
    choices = ctl.choices
    assert choices["a"] == ["x", "y", "z"]  # Categorical: native
    assert choices["b"] == [0.001, 0.01, 0.1, 1.0]  # Real(log): log-spaced, ends included
    assert choices["c"] == [1, 2, 3]  # small Int: every value
    assert choices["d"] == [False, True]  # Bool: native
    assert choices["e"] == [0, 33, 67, 100]  # large Int: num_bins levels
    assert ctl.sizes == (3, 4, 3, 2, 4)
    lin = RLController(space.SearchSpace(w=space.Real(0.0, 1.0)), hidden_size=4, num_bins=5)
    assert lin.choices["w"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    config = {"a": "z", "b": 0.02, "c": 2, "d": True, "e": 60}
    assert ctl.actions_from_config(config) == [2, 1, 1, 1, 2]  # nearest level
    assert ctl.config_from_actions([2, 1, 1, 1, 2]) == {
        "a": "z",
        "b": 0.01,
        "c": 2,
        "d": True,
        "e": 67,
    }


def test_samples_follow_the_computed_probabilities():
    """The sampler and the batched forward pass describe the same distribution."""
    sp = space.SearchSpace(a=space.Categorical("x", "y", "z"), b=space.Bool())
    ctl = RLController(sp, hidden_size=6, random_seed=3)
    rng = np.random.default_rng(1)
    for view in ctl.params.values():
        view[...] = rng.normal(0.0, 0.7, view.shape)
    n = 6000
    counts = np.zeros((3, 2))
    for _ in range(n):
        a, b = ctl.sample()
        counts[a, b] += 1
    probs = np.array([[math.exp(ctl.log_prob([a, b])) for b in range(2)] for a in range(3)])
    assert probs.sum() == pytest.approx(1.0)
    # within 5 standard deviations for every cell
    assert np.all(np.abs(counts / n - probs) <= 5 * np.sqrt(probs * (1 - probs) / n))


def test_controller_is_seeded():
    a = RLController(MIXED, hidden_size=8, random_seed=5)
    b = RLController(MIXED, hidden_size=8, random_seed=5)
    c = RLController(MIXED, hidden_size=8, random_seed=6)
    assert [a.sample() for _ in range(5)] == [b.sample() for _ in range(5)]
    assert not np.array_equal(a.params["lstm_w"], c.params["lstm_w"])


def test_baseline_starts_at_first_reward_and_is_an_ema():
    ctl = RLController(MIXED, hidden_size=4, ema_baseline_decay=0.5)
    assert ctl.baseline is None
    ctl.learn([ctl.sample()], [2.0])
    assert ctl.baseline == 2.0
    ctl.learn([ctl.sample(), ctl.sample()], [4.0, 0.0])
    assert ctl.baseline == pytest.approx((0.5 * 2.0 + 0.5 * 4.0) * 0.5 + 0.0)
    assert ctl.num_updates == 2


def test_first_update_has_zero_advantage():
    """b starts at the first reward, so the first step (batch of one) only follows the
    entropy term; with entropy_weight=0 the weights do not move."""
    ctl = RLController(MIXED, hidden_size=4)
    before = ctl.state_dict()["params"]
    ctl.learn([ctl.sample()], [1.0])
    assert ctl.state_dict()["params"] == before


def test_controller_state_round_trip_is_exact():
    ctl = RLController(MIXED, hidden_size=8, lr=0.05, random_seed=2)
    for _ in range(3):
        batch = [ctl.sample() for _ in range(2)]
        ctl.learn(batch, [float(sum(a)) for a in batch])
    state = json.loads(json.dumps(ctl.state_dict()))
    twin = RLController(MIXED, hidden_size=8, lr=0.05, random_seed=99)
    twin.load_state_dict(state)
    assert twin.baseline == ctl.baseline and twin.num_updates == ctl.num_updates
    samples = [ctl.sample() for _ in range(4)]
    assert [twin.sample() for _ in range(4)] == samples
    ctl.learn(samples, [1.0, 2.0, 3.0, 4.0])
    twin.learn(samples, [1.0, 2.0, 3.0, 4.0])
    for name in ctl.params:
        assert np.array_equal(ctl.params[name], twin.params[name]), name
    assert twin.state_dict() == ctl.state_dict()


def test_controller_state_refuses_another_structure():
    state = RLController(MIXED, hidden_size=8).state_dict()
    with pytest.raises(ValueError, match="hidden_size must be 4"):
        RLController(MIXED, hidden_size=4).load_state_dict(state)
    with pytest.raises(ValueError, match="num_bins must be 5"):
        RLController(MIXED, hidden_size=8, num_bins=5).load_state_dict(state)
    with pytest.raises(ValueError, match="space must be"):
        RLController(TOY, hidden_size=8).load_state_dict(state)


def test_empty_space():
    ctl = RLController(space.SearchSpace(), hidden_size=4)
    assert ctl.sample() == []
    assert ctl.config_from_actions([]) == {}
    assert ctl.learn([[]], [1.0]) == 0.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hidden_size": 0}, "hidden_size must be a positive integer, got 0"),
        ({"num_bins": 1}, "num_bins must be >= 2, got 1"),
        ({"lr": 0.0}, "lr must be a number > 0, got 0.0"),
        ({"ema_baseline_decay": 1.0}, r"ema_baseline_decay must be within \[0, 1\), got 1.0"),
        ({"entropy_weight": -1}, "entropy_weight must be a number >= 0, got -1"),
        ({"random_seed": -1}, "random_seed must be an integer >= 0 or None, got -1"),
    ],
)
def test_controller_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RLController(MIXED, **kwargs)


# --------------------------------------------------------------------------------------
# the controller as a searcher (get_config / update / state_dict)


def test_controller_is_a_searcher_told_on_replay():
    from scheduler.searchers import BaseSearcher, RandomSearcher

    ctl = RLController(TOY, hidden_size=4, num_bins=4)
    assert isinstance(ctl, BaseSearcher)
    assert RLController.deterministic_replay is False
    assert RandomSearcher.deterministic_replay is True


def test_searcher_interface_steps_once_per_finite_result():
    ctl = RLController(TOY, hidden_size=4, num_bins=4, random_seed=3)
    recorder = Recorder(ctl)
    configs = [ctl.get_config() for _ in range(4)]
    for config in configs:
        assert ctl.config_from_actions(ctl.actions_from_config(config)) == config
        ctl.register_pending(config)
    ctl.update(configs[0], 0.5)
    ctl.update(config=configs[1], accuracy=0.25, epoch=3)  # AutoGluon's call, reward_attr
    ctl.update(configs[2], float("nan"))  # diverged: no gradient
    ctl.evaluation_failed(configs[3])  # failed: no gradient
    assert recorder.calls == [
        ([ctl.actions_from_config(configs[0])], [0.5]),
        ([ctl.actions_from_config(configs[1])], [0.25]),
    ]
    assert ctl.num_updates == 2 and ctl.baseline is not None
    assert ctl.pending_configs() == [] and ctl.num_failed == 1
    assert ctl.get_best_config() == configs[0] and ctl.get_best_reward() == 0.5


def test_searcher_interface_negates_rewards_for_min():
    ctl = RLController(TOY, hidden_size=4, num_bins=4, reward_attr="loss", mode="min")
    recorder = Recorder(ctl)
    config = ctl.get_config()
    ctl.update(config, loss=2.0)
    assert recorder.calls == [([ctl.actions_from_config(config)], [-2.0])]
    assert ctl.get_best_reward() == 2.0


def test_fifo_policy_over_the_controller_learns():
    """The controller through the generic searcher interface (FIFOPolicy: get_config,
    register_pending, update on task end) is asynchronous REINFORCE."""
    from scheduler.schedulers.fifo import FIFOPolicy

    ctl = RLController(TOY, hidden_size=32, num_bins=4, lr=3e-3, random_seed=0)
    policy = FIFOPolicy(ctl, reward_attr="accuracy")
    initial = ctl.probability(TOY_BEST)
    rng = np.random.default_rng(0)
    for task_id in range(300):
        suggestion = drive_suggest(policy)
        policy.on_task_start(task_id, suggestion)
        accuracy = toy_objective(suggestion.config, rng)
        policy.on_task_end(task_id, "completed", {"accuracy": accuracy, "epoch": 1})
        flush_feedback(policy)  # the runtime delivers the searcher calls FIFO queued
    assert ctl.num_updates == 300 and not policy.exhausted
    assert ctl.probability(TOY_BEST) >= 5 * initial


def test_searcher_state_round_trip_gives_the_same_next_configs():
    ctl = RLController(TOY, hidden_size=8, num_bins=4, lr=0.05, random_seed=4)
    for _ in range(5):
        config = ctl.get_config()
        ctl.update(config, float(len(str(config))))
    pending = ctl.get_config()
    ctl.register_pending(pending)
    state = json.loads(json.dumps(ctl.state_dict()))
    twin = RLController(TOY, hidden_size=8, num_bins=4, lr=0.05, random_seed=99)
    twin.load_state_dict(state)
    assert twin.state_dict() == ctl.state_dict()
    assert twin.pending_configs() == [pending]
    assert [twin.get_config() for _ in range(3)] == [ctl.get_config() for _ in range(3)]


def test_a_refused_state_changes_nothing():
    ctl = RLController(TOY, hidden_size=4, num_bins=4, random_seed=1)
    ctl.update(ctl.get_config(), 1.0)
    before = ctl.state_dict()
    for other, message in [
        (RLController(TOY, hidden_size=4, num_bins=4, mode="min"), "mode must be 'max'"),
        (RLController(MIXED, hidden_size=4, num_bins=4), "space must be"),
    ]:
        with pytest.raises(ValueError, match=message):
            ctl.load_state_dict(other.state_dict())
        assert ctl.state_dict() == before


# --------------------------------------------------------------------------------------
# the policy: learning, batching, failures, state


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
def test_learning_raises_probability_of_best_config(sync):
    """After 300 trials the best of 240 configs is at least 5x as likely as at first."""
    ctl = RLController(TOY, hidden_size=32, num_bins=4, lr=3e-3, random_seed=0)
    policy = _Driven(ctl, reward_attr="accuracy", batch_size=4, sync=sync, num_trials=300)
    assert ctl.config_from_actions(ctl.actions_from_config(TOY_BEST)) == TOY_BEST
    initial = policy.probability(TOY_BEST)
    assert initial == pytest.approx(1 / 240, rel=0.2)  # close to uniform
    started = drive(policy, toy_objective, 300)
    assert len(started) == 300
    assert policy.num_updates == (75 if sync else 300)
    final = policy.probability(TOY_BEST)
    assert final >= 5 * initial, (initial, final)


@pytest.mark.parametrize("num_trials", [6, 7, 8])  # num_trials % 3 = 0, 1, 2
def test_policy_sync_batches(num_trials):
    ctl = RLController(TOY, hidden_size=4, num_bins=4)
    policy = _Driven(ctl, reward_attr="accuracy", batch_size=3, sync=True, num_trials=num_trials)
    recorder = Recorder(ctl)
    started = drive(policy, toy_objective, num_trials)
    assert len(started) == num_trials
    sizes = [len(actions) for actions, _ in recorder.calls]
    assert sizes == [3] * (num_trials // 3) + ([num_trials % 3] if num_trials % 3 else [])
    assert policy.num_in_flight == 0 and policy.state_dict()["samples"] == []


def test_policy_sync_waits_for_the_whole_batch():
    ctl = RLController(TOY, hidden_size=4, num_bins=4)
    policy = _Driven(ctl, reward_attr="accuracy", batch_size=2, sync=True)
    s0, s1 = policy.suggest(True), policy.suggest(True)
    assert policy.suggest(True) is None  # batch full
    policy.on_task_start(0, s0)
    policy.on_task_start(1, s1)
    assert policy.on_report(0, {"accuracy": 0.5}) is Decision.CONTINUE
    policy.on_task_end(0, "completed", {"accuracy": 0.5})
    assert policy.suggest(True) is None and policy.num_updates == 0  # s1 still runs
    policy.on_task_end(1, "completed", {"accuracy": 0.7})
    assert policy.num_updates == 1
    assert policy.suggest(True) is not None


def test_policy_sync_partial_batch_learned_when_new_trials_stop():
    """Without num_trials (time_out), allow_new=False closes the partial batch."""
    ctl = RLController(TOY, hidden_size=4, num_bins=4)
    policy = _Driven(ctl, reward_attr="accuracy", batch_size=4, sync=True)
    recorder = Recorder(ctl)
    s0 = policy.suggest(True)
    policy.on_task_start(0, s0)
    assert policy.suggest(False) is None  # time out: the batch is closed
    policy.on_task_end(0, "stopped", {"accuracy": 0.3})
    assert [len(a) for a, _ in recorder.calls] == [1]
    ended = _Driven(RLController(TOY, hidden_size=4, num_bins=4), reward_attr="accuracy")
    s = ended.suggest(True)
    ended.on_task_start(0, s)
    ended.on_task_end(0, "completed", {"accuracy": 0.3})
    assert ended.num_updates == 1


def test_policy_async_in_flight_limit_and_one_update_per_trial():
    ctl = RLController(TOY, hidden_size=4, num_bins=4)
    policy = _Driven(ctl, reward_attr="accuracy", batch_size=3, sync=False, num_trials=10)
    recorder = Recorder(ctl)
    first = [policy.suggest(True) for _ in range(3)]
    assert all(s is not None for s in first)
    assert policy.suggest(True) is None  # three in flight
    for task_id, s in enumerate(first):
        policy.on_task_start(task_id, s)
    policy.on_task_end(1, "completed", {"accuracy": 0.1})
    assert len(recorder.calls) == 1 and len(recorder.calls[0][0]) == 1
    assert policy.suggest(True) is not None
    assert policy.suggest(True) is None


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
def test_failed_trials_give_no_gradient_and_are_counted(sync):
    ctl = RLController(TOY, hidden_size=4, num_bins=4)
    policy = _Driven(ctl, reward_attr="accuracy", batch_size=2, sync=sync, num_trials=8)
    recorder = Recorder(ctl)
    drive(policy, toy_objective, 8, fail=lambda config_id: config_id in (1, 4, 5))
    assert policy.num_failed == 3 and policy.num_rewarded == 5
    learned = sum(len(actions) for actions, _ in recorder.calls)
    assert learned == 5
    if sync:  # batch (4, 5) failed entirely: no step for it
        assert [len(a) for a, _ in recorder.calls] == [1, 2, 2]


def test_reward_is_last_result_negated_for_min_and_nonfinite_is_a_failure():
    ctl = RLController(TOY, hidden_size=4, num_bins=4)
    policy = _Driven(ctl, reward_attr="loss", mode="min", sync=False)
    recorder = Recorder(ctl)
    for task_id, (status, result) in enumerate(
        [
            ("completed", {"loss": 2.5}),
            ("diverged", {"loss": 1.0}),
            ("completed", {"loss": float("inf")}),
            ("completed", {"other": 1.0}),
            ("stopped", {"loss": 0.5}),
        ]
    ):
        policy.on_task_start(task_id, policy.suggest(True))
        policy.on_task_end(task_id, status, result)
    assert [rewards for _, rewards in recorder.calls] == [[-2.5], [-0.5]]
    assert policy.num_failed == 3


def test_policy_state_round_trip_mid_batch():
    """A restored policy samples the same next configs and makes the same update."""

    def make():
        ctl = RLController(TOY, hidden_size=8, num_bins=4, lr=0.05, random_seed=4)
        return _Driven(ctl, reward_attr="accuracy", batch_size=3, sync=True, num_trials=20)

    policy = make()
    drive(policy, toy_objective, 6)  # two batches learned
    s6, s7 = policy.suggest(True), policy.suggest(True)
    policy.on_task_start(6, s6)
    policy.on_task_start(7, s7)
    policy.on_task_end(6, "completed", {"accuracy": 0.4})
    # the runtime saves the policy and its searcher (the controller) side by side
    state = json.loads(json.dumps([policy.state_dict(), policy.controller.state_dict()]))

    twin = make()
    twin.load_state_dict(state[0])
    twin.controller.load_state_dict(state[1])
    assert twin.state_dict() == policy.state_dict()
    for p in (policy, twin):
        s8 = p.suggest(True)
        p.on_task_start(8, s8)
        assert p.suggest(True) is None
        p.on_task_end(7, "completed", {"accuracy": 0.9})
        p.on_task_end(8, "completed", {"accuracy": 0.1})
        assert p.num_updates == 3
    assert twin.state_dict() == policy.state_dict()
    for name in policy.controller.params:
        assert np.array_equal(policy.controller.params[name], twin.controller.params[name])
    assert [policy.suggest(True).config for _ in range(3)] == [
        twin.suggest(True).config for _ in range(3)
    ]


def test_interrupted_task_is_restarted_not_failed():
    """A task ended as 'interrupted' (driver crash, resume) keeps its config in flight;
    the runtime's restart of that config is learned from like the original."""
    ctl = RLController(TOY, hidden_size=4, num_bins=4)
    policy = _Driven(ctl, reward_attr="accuracy", batch_size=2, sync=True)
    recorder = Recorder(ctl)
    s0, s1 = policy.suggest(True), policy.suggest(True)
    policy.on_task_start(0, s0)
    policy.on_task_start(1, s1)
    policy.on_task_end(0, "completed", {"accuracy": 0.2})
    policy.on_task_end(1, "interrupted", {"accuracy": 0.1})
    assert policy.num_failed == 0 and policy.num_in_flight == 1 and not recorder.calls
    assert policy.suggest(True) is None  # the batch waits for the restart
    restart = Suggestion(config=s1.config, config_id=s1.config_id, new_config=False, restart=True)
    policy.on_task_start(2, restart)
    policy.on_task_end(2, "completed", {"accuracy": 0.3})
    assert recorder.calls == [
        ([ctl.actions_from_config(s0.config), ctl.actions_from_config(s1.config)], [0.2, 0.3])
    ]


def test_policy_state_refuses_another_mode():
    state = _Driven(RLController(TOY, hidden_size=4), reward_attr="accuracy").state_dict()
    other = _Driven(RLController(TOY, hidden_size=4), reward_attr="accuracy", sync=False)
    with pytest.raises(ValueError, match="sync must be False, got True"):
        other.load_state_dict(state)


# --------------------------------------------------------------------------------------
# the facade


@sch.args(
    optimizer=space.Categorical("sgd", "adam", "rmsprop", "adagrad"),
    activation=space.Categorical("relu", "tanh", "sigmoid"),
    layers=space.Categorical(1, 2, 3, 4, 5),
    lr=space.Real(1e-4, 1e-1, log=True),
    epochs=2,
)
def toy_fn(args, reporter):
    rng = np.random.default_rng(args.task_id)
    config = {k: args[k] for k in ("optimizer", "activation", "layers", "lr")}
    for epoch in range(1, args.epochs + 1):
        reporter(epoch=epoch, accuracy=toy_objective(config, rng))


@sch.args(x=space.Categorical("a", "b"), y=space.Real(0.0, 1.0))
def failing_fn(args, reporter):
    if args.task_id % 3 == 1:
        raise RuntimeError("boom")
    reporter(epoch=1, accuracy=args.y)


def _rl(train_fn=toy_fn, **kwargs):
    kwargs.setdefault("backend", "thread")
    # these tests fail trials on purpose: fail_fast has tests of its own
    kwargs.setdefault("fail_fast", False)
    kwargs.setdefault("resource", {"num_cpus": 1, "num_gpus": 0})
    kwargs.setdefault("total_resources", {"num_cpus": 2, "num_gpus": 0})
    kwargs.setdefault("controller_hidden_size", 8)
    return RLScheduler(train_fn, **kwargs)


def test_end_to_end_thread_backend():
    s = _rl(num_trials=40, controller_batch_size=2, controller_lr=0.01, num_bins=4)
    initial = s.policy.probability(TOY_BEST)
    s.run()
    assert s.join_jobs(timeout=60)
    statuses = [t.status for t in s.history.tasks.values()]
    assert statuses == ["completed"] * 40
    assert s.policy.num_updates == 20 and s.policy.num_rewarded == 40
    assert s.searcher is s.controller is s.policy.controller
    assert s.get_best_reward() is not None
    assert s.policy.probability(TOY_BEST) > initial


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
@pytest.mark.parametrize("num_trials", [6, 7, 8])  # num_trials % 3 = 0, 1, 2
def test_exactly_num_trials(num_trials, sync):
    s = _rl(num_trials=num_trials, controller_batch_size=3, sync=sync, num_bins=4)
    s.run()
    assert s.join_jobs(timeout=60)
    assert len(s.history.tasks) == num_trials
    assert all(t.status == "completed" for t in s.history.tasks.values())
    assert s.policy.num_sampled == num_trials
    assert s.policy.num_updates == (math.ceil(num_trials / 3) if sync else num_trials)


@sch.args(x=space.Categorical("a", "b"), y=space.Real(0.0, 1.0), epochs=4)
def slow_fn(args, reporter):
    for epoch in range(1, args.epochs + 1):
        time.sleep(0.02)
        reporter(epoch=epoch, accuracy=args.y * epoch)


def test_time_out_without_num_trials_learns_the_last_partial_batch():
    s = _rl(slow_fn, time_out=0.6, controller_batch_size=3)
    s.run()
    assert s.join_jobs(timeout=30)
    n = s.policy.num_sampled
    assert n == len(s.history.tasks) >= 3
    assert s.policy.num_in_flight == 0 and s.policy.state_dict()["samples"] == []
    assert s.policy.num_updates == math.ceil(n / 3)


def test_failed_trials_warned_at_join():
    s = _rl(failing_fn, num_trials=6, controller_batch_size=2)
    s.run()
    with pytest.warns(RuntimeWarning, match="2 of 6 finished trials failed"):
        assert s.join_jobs(timeout=60)
    assert s.policy.num_failed == 2 and s.policy.num_updates == 3


def test_mode_min_end_to_end():
    s = _rl(failing_fn, num_trials=3, mode="min", sync=False)
    recorder = Recorder(s.controller)
    s.run()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        s.join_jobs(timeout=60)
    rewards = [r for _, rs in recorder.calls for r in rs]
    configs = [s.history.config_history[t] for t in (0, 2)]
    assert rewards == [-c["y"] for c in configs]


def test_checkpoint_and_resume(tmp_path):
    path = str(tmp_path / "rl.json")
    s = _rl(num_trials=5, controller_batch_size=2, checkpoint=path, num_bins=4)
    s.run()
    s.join_jobs(timeout=60)
    saved = s.state_dict()
    assert json.loads(json.dumps(saved)) == saved
    resumed = _rl(num_trials=9, controller_batch_size=2, checkpoint=path, resume=True, num_bins=4)
    assert resumed.policy.state_dict() == s.policy.state_dict()
    assert resumed.controller.sample() == s.controller.sample()
    resumed.run()
    resumed.join_jobs(timeout=60)
    assert len(resumed.history.tasks) == 9
    assert resumed.policy.num_sampled == 9


CRASH_SCRIPT = """
import json, os, sys
import scheduler as ag
from scheduler.facades.rl import RLScheduler

@ag.args(x=ag.space.Categorical("a", "b", "c"), y=ag.space.Real(0.0, 1.0), epochs=3)
def train_fn(args, reporter):
    marker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "crashed")
    for epoch in range(1, args.epochs + 1):
        value = {"a": 0.1, "b": 0.5, "c": 0.3}[args.x] + args.y * epoch / 3
        if sys.argv[1] == "crash" and args.config_id == 7 and epoch == 2:
            if not os.path.exists(marker):
                open(marker, "w").close()
                os._exit(3)  # the driver dies: thread backend, same process
        reporter(epoch=epoch, accuracy=value)

s = RLScheduler(train_fn, resource={"num_cpus": 1, "num_gpus": 0},
                total_resources={"num_cpus": 3, "num_gpus": 0}, backend="thread",
                num_trials=14, controller_batch_size=3, controller_hidden_size=8,
                controller_lr=0.05, num_bins=5, checkpoint=sys.argv[2],
                resume=sys.argv[1] == "resume")
s.run()
s.join_jobs()
configs = sorted({t.config_id for t in s.history.tasks.values()})
print(json.dumps({"policy": s.policy.state_dict(), "controller": s.controller.state_dict(),
                  "configs": configs,
                  "statuses": sorted(t.status for t in s.history.tasks.values())}))
"""


def _script(tmp_path, *argv):
    script = tmp_path / "crash.py"
    script.write_text(CRASH_SCRIPT)
    # This checkout's package, not whichever one is installed.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    )
    return subprocess.run(
        [sys.executable, str(script), *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_resume_after_a_crash_gives_the_uninterrupted_controller(tmp_path):
    """The driver dies mid-batch; resume restarts the running configs, and the final
    controller (weights, Adam, baseline, generator) is that of an uninterrupted run."""
    crashed = _script(tmp_path, "crash", str(tmp_path / "a.json"))
    assert crashed.returncode == 3, crashed.stderr[-3000:]
    resumed = _script(tmp_path, "resume", str(tmp_path / "a.json"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    clean = _script(tmp_path, "clean", str(tmp_path / "b.json"))
    assert clean.returncode == 0, clean.stderr[-3000:]
    after, reference = json.loads(resumed.stdout), json.loads(clean.stdout)
    assert after["configs"] == reference["configs"] == list(range(14))
    assert "interrupted" in after["statuses"]
    assert after["policy"] == reference["policy"]
    assert after["controller"] == reference["controller"]
    assert after["controller"]["num_updates"] == 5


def test_searcher_argument():
    with pytest.warns(UserWarning, match="searcher='random' is ignored"):
        s = _rl(num_trials=1, searcher="random")
    assert isinstance(s.searcher, RLController)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _rl(num_trials=1, searcher="rl")
        _rl(num_trials=1, controller_resource={"num_cpus": 0, "num_gpus": 0})
    mine = RLController(toy_fn.space, hidden_size=3, num_bins=4, random_seed=7)
    s = _rl(num_trials=1, searcher=mine)
    assert s.controller is mine and s.policy.controller is mine
    with pytest.raises(ValueError, match="searcher must be an RLController over train_fn"):
        _rl(num_trials=1, searcher=RLController(MIXED, hidden_size=3))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"controller_lr": 0}, "controller_lr must be a number > 0, got 0"),
        ({"ema_baseline_decay": 1}, r"ema_baseline_decay must be a number within \[0, 1\), got 1"),
        ({"controller_batch_size": 0}, "controller_batch_size must be an integer >= 1, got 0"),
        ({"sync": "yes"}, "sync must be a bool, got 'yes'"),
        ({"entropy_weight": -0.1}, "entropy_weight must be a number >= 0, got -0.1"),
        ({"controller_hidden_size": 2.5}, "controller_hidden_size must be an integer >= 1"),
        ({"num_bins": 1}, "num_bins must be an integer >= 2, got 1"),
        ({"random_seed": -3}, "random_seed must be an integer >= 0, got -3"),
        ({"controller_resource": "gpu"}, "controller_resource must be a dict"),
        ({"num_trials": 0}, "num_trials must be a positive integer, got 0"),
    ],
)
def test_facade_validation(kwargs, message):
    kwargs.setdefault("num_trials", 2)
    with pytest.raises(ValueError, match=message):
        _rl(**kwargs)
