"""The scheduling policies driven directly, with no trials and no runtime.

Each test plays the runtime's part by hand (``drive_suggest``: a promotion, else a
config drawn from the policy's searcher; on_task_start, on_report, on_task_end; the
searcher calls the policy queues delivered with ``flush_feedback``) and checks the
decisions DESIGN.md section 4 prescribes: FIFO runs every config to its end; Hyperband
stopping stops a task whose reward at a rung is below the percentile cutoff of the
earlier rewards there (ties continue) and completes it at max_t; promotion (ASHA)
pauses at every rung unless the config is in the top floor(n * q) of n >= round(1 / q)
entries, and promotes the best paused config when a worker frees up; brackets are
drawn with p_s proportional to L / ((L - s) r_s). A contract suite runs every policy
through the same checks (seeded, JSON state round trip, no new config when new ones
are not allowed).
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from scheduler import space
from scheduler.schedulers.base import Decision, Suggestion, drive_suggest, flush_feedback
from scheduler.schedulers.fifo import FIFOPolicy
from scheduler.schedulers.hyperband import HyperbandPolicy
from scheduler.schedulers.rl import RLPolicy
from scheduler.searchers import GridSearcher, RandomSearcher
from scheduler.searchers.rl.controller import RLController

SPACE = space.SearchSpace(x=space.Real(0.0, 1.0), k=space.Categorical("a", "b", "c"))


class Recording(RandomSearcher):
    """A random searcher that records the calls the policy makes on it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: list[tuple] = []

    def register_pending(self, config, milestone=None):
        self.calls.append(("pending", config["x"]))
        super().register_pending(config, milestone)

    def update(self, config, reward=None, /, **result):
        self.calls.append(("update", config["x"], reward, result.get("epoch")))
        super().update(config, reward, **result)

    def evaluation_failed(self, config, **kwargs):
        self.calls.append(("failed", config["x"]))
        super().evaluation_failed(config, **kwargs)


def hyperband(type, searcher=None, **kwargs):
    kwargs.setdefault("max_t", 9)
    return HyperbandPolicy(
        searcher or RandomSearcher(SPACE, random_seed=0),
        reward_attr="accuracy",
        time_attr="epoch",
        type=type,
        **kwargs,
    )


def start(policy, task_id, allow_new=True):
    suggestion = drive_suggest(policy, allow_new)
    assert suggestion is not None
    policy.on_task_start(task_id, suggestion)
    flush_feedback(policy)
    return suggestion


def report(policy, task_id, epoch, accuracy):
    decision = policy.on_report(task_id, {"epoch": epoch, "accuracy": accuracy})
    flush_feedback(policy)
    return decision


def end(policy, task_id, status, last_result):
    policy.on_task_end(task_id, status, last_result)
    flush_feedback(policy)


# -- FIFO ------------------------------------------------------------------------------


def test_fifo_runs_every_config_and_tells_the_searcher():
    searcher = Recording(SPACE, random_seed=1)
    policy = FIFOPolicy(searcher, reward_attr="accuracy", time_attr="epoch")
    a, b, c = (start(policy, task_id) for task_id in range(3))
    assert [s.config_id for s in (a, b, c)] == [0, 1, 2]
    assert all(s.new_config and s.resume_from is None and s.bracket is None for s in (a, b, c))
    assert [report(policy, 0, epoch, 0.1 * epoch) for epoch in (1, 2, 3)] == [Decision.CONTINUE] * 3
    end(policy, 0, "completed", {"epoch": 3, "accuracy": 0.3})
    end(policy, 1, "failed", None)
    end(policy, 2, "interrupted", {"epoch": 1, "accuracy": 0.9})  # restarted later
    assert searcher.calls == [
        ("pending", a.config["x"]),
        ("pending", b.config["x"]),
        ("pending", c.config["x"]),
        ("update", a.config["x"], 0.3, 3),
        ("failed", b.config["x"]),
    ]
    end(policy, 7, "completed", {"epoch": 1, "accuracy": 0.5})  # unknown: ignored
    assert len(searcher.calls) == 5


def test_fifo_stops_when_the_searcher_runs_out_and_respects_allow_new():
    grid = GridSearcher(space.SearchSpace(k=space.Categorical("a", "b")))
    policy = FIFOPolicy(grid, reward_attr="accuracy")
    assert drive_suggest(policy, False) is None  # no budget: the searcher is not asked
    assert [drive_suggest(policy).config for _ in range(2)] == [{"k": "a"}, {"k": "b"}]
    assert not policy.exhausted
    assert drive_suggest(policy) is None and policy.exhausted


# -- Hyperband: stopping ---------------------------------------------------------------


def test_stopping_decisions_follow_the_percentile_cutoff():
    """Levels [1, 3] below max_t 9, q = 1/3: the cutoff is numpy's 66.7th percentile of
    the rewards recorded earlier at the rung."""
    policy = hyperband("stopping")
    assert policy.levels == [1, 3] and policy.num_brackets == 1
    for task_id in range(5):
        start(policy, task_id)
    rewards = [0.5, 0.2, 0.9, 0.6, 0.4]
    decisions = [report(policy, t, 1, r) for t, r in enumerate(rewards)]
    # the cutoffs by hand: 0.5; 0.2 + (0.5 - 0.2) * 2/3 = 0.4; 0.5 + (0.9 - 0.5) / 3;
    # sorted [0.2, 0.5, 0.6, 0.9] at index 2: 0.6
    cutoffs = [np.percentile(rewards[:i], 100 * (1 - 1 / 3)) for i in range(1, 5)]
    assert cutoffs == pytest.approx([0.5, 0.4, 0.5 + 0.4 / 3, 0.6])
    assert decisions == [
        Decision.CONTINUE,  # no earlier record
        Decision.STOP,  # 0.2 < 0.5
        Decision.CONTINUE,  # 0.9 > 0.4
        Decision.STOP,  # 0.6 < 0.6333
        Decision.STOP,  # 0.4 < 0.6
    ]
    # between rungs: no record, no decision but continue
    assert report(policy, 0, 2, 0.0) is Decision.CONTINUE
    assert report(policy, 0, 3, 0.8) is Decision.CONTINUE  # first at rung 3
    assert report(policy, 0, 9, 0.9) is Decision.COMPLETE  # t >= max_t


def test_stopping_ties_continue_and_min_mirrors():
    policy = hyperband("stopping")
    for task_id in range(3):
        start(policy, task_id)
    assert report(policy, 0, 1, 0.5) is Decision.CONTINUE
    assert report(policy, 1, 1, 0.5) is Decision.CONTINUE  # equal to the cutoff
    assert report(policy, 2, 1, 0.4999) is Decision.STOP
    low = hyperband("stopping", mode="min")
    for task_id in range(3):
        start(low, task_id)
    assert report(low, 0, 1, 0.5) is Decision.CONTINUE
    assert report(low, 1, 1, 0.6) is Decision.STOP  # larger is worse
    assert report(low, 2, 1, 0.1) is Decision.CONTINUE


def test_stopping_a_skipped_milestone_counts_only_the_highest_rung():
    policy = hyperband("stopping")
    for task_id in range(3):
        start(policy, task_id)
    assert report(policy, 0, 3, 0.9) is Decision.CONTINUE  # passes rungs 1 and 3: rung 3
    assert report(policy, 1, 1, 0.1) is Decision.CONTINUE  # rung 1 holds nothing earlier
    assert report(policy, 1, 3, 0.5) is Decision.STOP  # 0.5 < 0.9 at rung 3
    systems = policy.state_dict()["systems"][0]
    assert [len(rung["rewards"]) for rung in systems["rungs"]] == [1, 2]


def test_stopping_tells_the_searcher_at_rungs_and_at_the_end():
    searcher = Recording(SPACE, random_seed=2)
    policy = hyperband("stopping", searcher=searcher)
    s = start(policy, 0)
    for epoch in range(1, 10):
        report(policy, 0, epoch, 0.1 * epoch)
    updates = [call[3] for call in searcher.calls if call[0] == "update"]
    assert updates == [1, 3, 9]  # searcher_data='rungs': rung levels and max_t
    end(policy, 0, "completed", {"epoch": 9, "accuracy": 0.9})
    assert searcher.calls[0] == ("pending", s.config["x"])


# -- Hyperband: promotion (ASHA) -------------------------------------------------------


def test_promotion_pauses_then_promotes_the_best_paused_config():
    """q = 1/3: promotable once 3 entries are recorded, within the top floor(n / 3)."""
    policy = hyperband("promotion")
    for task_id in range(3):
        start(policy, task_id)
    assert report(policy, 0, 1, 0.5) is Decision.PAUSE  # n = 1 < 3
    assert report(policy, 1, 1, 0.2) is Decision.PAUSE
    assert report(policy, 2, 1, 0.9) is Decision.CONTINUE  # n = 3, top 1: at once
    for task_id, status in ((0, "paused"), (1, "paused")):
        end(policy, task_id, status, None)
    # nothing promotable (the top 1 of 3 is config 2, running): a new config
    fourth = start(policy, 3)
    assert fourth.new_config and fourth.config_id == 3
    assert report(policy, 3, 1, 0.3) is Decision.PAUSE  # n = 4, top 1 is config 2
    end(policy, 3, "paused", None)
    for task_id in (4, 5):
        start(policy, task_id)
        assert report(policy, task_id, 1, 0.01 * task_id) is Decision.PAUSE
        end(policy, task_id, "paused", None)
    # n = 6, top 2: configs 2 (promoted) and 0 (0.5): config 0 is promoted to rung 3
    promotion = drive_suggest(policy, False)  # promotions need no new-config budget
    assert promotion == Suggestion(
        config=policy.configs[0], config_id=0, new_config=False, bracket=0, resume_from=1
    )
    policy.on_task_start(6, promotion)
    assert report(policy, 6, 2, 0.6) is Decision.CONTINUE
    assert report(policy, 6, 3, 0.7) is Decision.PAUSE  # rung 3 has config 2 missing: n=1
    assert drive_suggest(policy, False) is None  # nothing else promotable, no new configs


def test_promotion_never_promotes_a_failed_config():
    policy = hyperband("promotion")
    for task_id in range(3):
        start(policy, task_id)
    report(policy, 0, 1, 0.9)
    report(policy, 1, 1, 0.1)
    report(policy, 2, 1, 0.2)
    end(policy, 0, "failed", None)  # the best config failed after pausing
    end(policy, 1, "paused", None)
    end(policy, 2, "paused", None)
    assert drive_suggest(policy, False) is None


# -- Hyperband: brackets -----------------------------------------------------------------


def test_brackets_are_drawn_with_the_hyperband_probabilities():
    """Levels [1, 3], L = 3: p_s ~ L / ((L - s) r_s) = 1, 1/2, 1/3 for s = 0, 1, 2."""
    policy = hyperband("stopping", brackets=3, max_t=9)
    assert policy.num_brackets == 3
    drawn = Counter(drive_suggest(policy).bracket for _ in range(3000))
    weights = np.array([1.0, 0.5, 1 / 3])
    expected = 3000 * weights / weights.sum()
    for s in range(3):
        assert abs(drawn[s] - expected[s]) < 5 * np.sqrt(expected[s]), (drawn, expected)


def test_a_bracket_starts_at_its_level_and_the_last_one_runs_to_max_t():
    policy = hyperband("stopping", brackets=3, rung_system_per_bracket=True)
    by_bracket: dict[int, list[int]] = {}
    task_id = 0
    while len(by_bracket) < 3 or min(len(v) for v in by_bracket.values()) < 2:
        suggestion = drive_suggest(policy)
        policy.on_task_start(task_id, suggestion)
        by_bracket.setdefault(suggestion.bracket, []).append(task_id)
        task_id += 1
    first, second = by_bracket[1][:2]  # bracket 1: rungs [3] only
    assert report(policy, first, 1, 0.9) is Decision.CONTINUE  # level 1 is not its rung
    assert report(policy, second, 1, 0.1) is Decision.CONTINUE
    assert report(policy, first, 3, 0.9) is Decision.CONTINUE
    assert report(policy, second, 3, 0.1) is Decision.STOP
    full = by_bracket[2][:2]  # bracket 2: plain full-budget runs, never stopped
    assert [report(policy, t, 1, 0.0) for t in full] == [Decision.CONTINUE] * 2
    assert [report(policy, t, 9, 0.0) for t in full] == [Decision.COMPLETE] * 2
    assert policy.state_dict()["systems"][2] is None


def test_shared_rung_system_skips_the_lowest_rungs_of_a_bracket():
    policy = hyperband("stopping", brackets=2, rung_system_per_bracket=False)
    task_id, tasks = 0, {0: [], 1: []}
    while min(len(v) for v in tasks.values()) < 1:
        suggestion = drive_suggest(policy)
        policy.on_task_start(task_id, suggestion)
        tasks[suggestion.bracket].append(task_id)
        task_id += 1
    low, high = tasks[0][0], tasks[1][0]
    assert report(policy, low, 1, 0.9) is Decision.CONTINUE
    assert report(policy, high, 1, 0.1) is Decision.CONTINUE  # skips the level-1 rung
    rungs = policy.state_dict()["systems"][0]["rungs"]
    assert [len(rung["rewards"]) for rung in rungs] == [1, 0]
    assert report(policy, high, 3, 0.5) is Decision.CONTINUE  # first at rung 3
    assert [len(rung["rewards"]) for rung in policy.state_dict()["systems"][0]["rungs"]] == [1, 1]


# -- RL ----------------------------------------------------------------------------------


def test_rl_policy_without_trials():
    controller = RLController(SPACE, hidden_size=4, num_bins=4, random_seed=0)
    policy = RLPolicy(controller, reward_attr="accuracy", batch_size=2, sync=True)
    assert policy.searcher is controller
    assert drive_suggest(policy, False) is None and policy.num_sampled == 0
    a, b = drive_suggest(policy), drive_suggest(policy)
    assert (a.config_id, b.config_id) == (0, 1) and drive_suggest(policy) is None
    assert set(a.config) == {"k", "x"} and a.config["x"] in controller.choices["x"]
    policy.on_task_start(10, a)
    policy.on_task_start(11, b)
    assert policy.on_report(10, {"accuracy": 0.4}) is Decision.CONTINUE
    end(policy, 10, "completed", {"accuracy": 0.4})
    assert policy.num_updates == 0 and policy.num_in_flight == 1
    end(policy, 11, "diverged", {"accuracy": float("nan")})
    assert policy.num_updates == 1 and policy.num_failed == 1 and policy.num_rewarded == 1
    assert not policy.exhausted


# -- the contract every policy keeps ------------------------------------------------------


def _fifo_policy(seed):
    return FIFOPolicy(RandomSearcher(SPACE, random_seed=seed), reward_attr="accuracy")


def _rl_policy(seed):
    controller = RLController(SPACE, hidden_size=4, num_bins=4, random_seed=seed)
    return RLPolicy(controller, reward_attr="accuracy", batch_size=2, sync=False)


POLICIES = {
    "fifo": _fifo_policy,
    "hyperband-stopping": lambda seed: hyperband(
        "stopping", RandomSearcher(SPACE, random_seed=seed), brackets=2, random_seed=seed
    ),
    "hyperband-promotion": lambda seed: hyperband(
        "promotion", RandomSearcher(SPACE, random_seed=seed), brackets=2, random_seed=seed
    ),
    "rl": _rl_policy,
}


def _drive(policy, steps, first_task=0):
    """Start tasks and end them after two reports each; the decisions taken, in order."""
    log = []
    task_id = first_task
    for _ in range(steps):
        suggestion = drive_suggest(policy)
        if suggestion is None:
            break
        policy.on_task_start(task_id, suggestion)
        start_epoch = (suggestion.resume_from or 0) + 1
        status, last = "completed", None
        for epoch in (start_epoch, start_epoch + 1):
            last = {"epoch": epoch, "accuracy": (suggestion.config["x"] + epoch) / 10}
            decision = policy.on_report(task_id, last)
            log.append((suggestion.config_id, epoch, decision.value))
            if decision in (Decision.STOP, Decision.PAUSE):
                status = {"stop": "stopped", "pause": "paused"}[decision.value]
                break
        end(policy, task_id, status, last)
        task_id += 1
    return log


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_same_seed_same_suggestions_and_decisions(name):
    runs = [_drive(POLICIES[name](3), 12) for _ in range(2)]
    assert runs[0] == runs[1] and len(runs[0]) >= 12


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_state_survives_a_json_round_trip(name):
    policy = POLICIES[name](5)
    _drive(policy, 7)
    # the policy's state leaves its searcher's out: the runtime saves that one beside it
    state = json.loads(json.dumps(policy.state_dict()))
    searcher_state = json.loads(json.dumps(policy.searcher.state_dict()))
    twin = POLICIES[name](99)  # another seed: everything must come from the states
    twin.load_state_dict(state)
    twin.searcher.load_state_dict(searcher_state)
    assert json.loads(json.dumps(twin.state_dict())) == state
    assert _drive(twin, 6, first_task=100) == _drive(policy, 6, first_task=100)


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_no_new_config_when_new_ones_are_not_allowed(name):
    policy = POLICIES[name](0)
    suggestion = drive_suggest(policy, False)
    assert suggestion is None or not suggestion.new_config


def test_a_fresh_suggestion_is_the_one_the_constructor_builds():
    config = {"x": 0.5}
    fresh = Suggestion.fresh(config, 3, 1)
    built = Suggestion(config=config, config_id=3, bracket=1)
    assert fresh == built and repr(fresh) == repr(built)
    assert fresh.to_record() == built.to_record()
    assert Suggestion.fresh(config, 0) == Suggestion(config=config, config_id=0)
