"""History: event bookkeeping, the best config at the highest fidelity, state round trip."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler._jsonable import to_jsonable
from scheduler.results.history import END_STATUSES, TASK_STATUSES, History, TaskRecord


def run_task(h, task_id, config_id, reports, *, status=None, resume_from=None, config=None):
    """Start a task, make its (time, reward[, replay]) reports, end it with ``status``."""
    h.start_task(
        task_id,
        config_id,
        config if config is not None else {"x": config_id},
        resume_from=resume_from,
        start_time=float(task_id),
    )
    for report in reports:
        t, reward, *flag = report
        result = {"acc": reward} if t is None else {"epoch": t, "acc": reward}
        h.add_report(task_id, result, decision="continue", replay=bool(flag and flag[0]))
    if status is not None:
        h.end_task(task_id, status, end_time=float(task_id) + 1)


def test_empty_history_has_no_best():
    h = History("acc", "epoch")
    assert h.best_task_id() is None
    assert h.best_config() is None
    assert h.best_reward() is None
    assert h.best_row() is None
    assert h.num_finished_tasks == 0
    assert h.status_counts() == dict.fromkeys(TASK_STATUSES, 0)
    h._check()


def test_best_is_judged_at_the_highest_fidelity_reached():
    h = History("acc", "epoch")
    # config 0: great at rung 1, worse after its promotion to epoch 3
    run_task(h, 0, 0, [(1, 0.9)], status="paused")
    # config 1: mediocre at rung 1, better than config 0 at its own highest fidelity
    run_task(h, 1, 1, [(1, 0.6)], status="paused")
    assert h.best_config() == {"x": 0}
    run_task(h, 2, 0, [(2, 0.55), (3, 0.5)], status="paused", resume_from=1)
    assert h.best_config() == {"x": 1}  # config 0 is now judged by 0.5 at epoch 3
    run_task(h, 3, 1, [(2, 0.65), (3, 0.7)], status="completed", resume_from=1)
    assert h.best_config_id() == 1
    assert h.best_task_id() == 3
    assert h.best_reward() == 0.7
    assert h.best_row()["epoch"] == 3
    assert h.configs[0].fidelity == 3 and h.configs[0].reward == 0.5
    assert h.configs[0].task_ids == [0, 2]
    h._check()


def test_a_low_fidelity_config_keeps_its_own_value():
    """A config stopped early is judged by its reward at the fidelity it reached."""
    h = History("acc", "epoch")
    run_task(h, 0, 0, [(1, 0.8)], status="stopped")
    run_task(h, 1, 1, [(1, 0.3), (3, 0.6), (9, 0.75)], status="completed")
    assert h.best_config_id() == 0
    assert h.best_reward() == 0.8


def test_replay_rows_are_kept_but_never_counted():
    h = History("acc", "epoch")
    run_task(h, 0, 0, [(1, 0.5)], status="paused")
    run_task(h, 1, 1, [(1, 0.6)], status="paused")
    # config 0 is promoted and its train_fn restarts from epoch 1 (no checkpoint):
    # the runtime flags epoch 1 as a replay; a great replayed value must not count.
    run_task(h, 2, 0, [(1, 0.99, True)], resume_from=1)
    assert h.best_config_id() == 1
    rows = h.training_history[2]
    assert rows[0]["replay"] is True
    assert h.configs[0].num_reports == 1
    h.add_report(2, {"epoch": 2, "acc": 0.55}, decision="continue")
    assert h.best_config_id() == 1  # 0.55 at epoch 2 < 0.6
    h._check()


def test_replay_is_detected_from_resume_from_when_not_flagged():
    h = History("acc", "epoch")
    run_task(h, 0, 0, [(1, 0.5), (3, 0.4)], status="paused")
    run_task(h, 1, 0, [], resume_from=3)
    for t in (1, 2, 3):
        row = h.add_report(1, {"epoch": t, "acc": 0.99}, decision="continue")
        assert row["replay"] is True
    row = h.add_report(1, {"epoch": 4, "acc": 0.45}, decision="continue")
    assert row["replay"] is False
    assert h.best_reward() == 0.45
    assert h.best_task_id() == 1


def test_last_report_at_the_highest_time_wins():
    """Two counted reports at the same top time: the later one is the config's value."""
    h = History("acc", "epoch")
    run_task(h, 0, 0, [(1, 0.5), (3, 0.8)], status="paused")
    run_task(h, 1, 0, [(3, 0.7)])  # restarted without resume_from: not a replay
    assert h.best_reward() == 0.7
    assert h.best_task_id() == 1


def test_mode_min():
    h = History("loss", "epoch", mode="min")
    for task_id, (first, last) in enumerate([(0.1, 0.9), (0.5, 0.4), (0.6, 0.45)]):
        h.start_task(task_id, task_id, {"i": task_id}, start_time=0.0)
        h.add_report(task_id, {"epoch": 1, "loss": first}, decision="continue")
        h.add_report(task_id, {"epoch": 2, "loss": last}, decision="complete")
    assert h.best_config_id() == 1
    assert h.best_reward() == 0.4
    assert h.config_ranking() == [1, 2, 0]
    h._check()


def test_ties_go_to_the_config_that_reached_its_value_first():
    h = History("acc", "epoch")
    run_task(h, 0, 0, [(1, 0.5), (2, 0.7)])
    run_task(h, 1, 1, [(1, 0.7)])
    assert h.best_config_id() == 0
    h.add_report(1, {"epoch": 2, "acc": 0.7}, decision="continue")
    assert h.best_config_id() == 0  # config 0 reached 0.7 first


def test_nan_never_wins():
    h = History("acc", "epoch")
    run_task(h, 0, 0, [(1, math.nan)], status="diverged")
    assert h.best_task_id() is None and h.best_reward() is None
    run_task(h, 1, 1, [(1, 0.2)], status="stopped")
    assert h.best_config_id() == 1
    # A config that diverges at a higher fidelity drops out: its value there is NaN.
    run_task(h, 2, 2, [(1, 0.9)])
    assert h.best_config_id() == 2
    h.add_report(2, {"epoch": 2, "acc": float("nan")}, decision="stop")
    h.end_task(2, "diverged", reason="NaN", end_time=3.0)
    assert h.best_config_id() == 1
    assert math.isnan(h.configs[2].reward)
    assert h.config_ranking() == [1, 0, 2]
    # numpy NaN too
    run_task(h, 3, 3, [(1, np.float64("nan"))])
    assert h.best_config_id() == 1
    h._check()


def test_without_time_attr_fidelity_is_the_report_count():
    h = History("acc", None)
    run_task(h, 0, 0, [(None, 0.9), (None, 0.3)])
    run_task(h, 1, 1, [(None, 0.5)])
    assert h.configs[0].fidelity == 2 and h.configs[0].reward == 0.3
    assert h.best_config_id() == 1
    # a second task of config 0 goes on counting
    run_task(h, 2, 0, [(None, 0.8)])
    assert h.configs[0].fidelity == 3
    assert h.best_config_id() == 0
    assert h.best_task_id() == 2


def test_rows_without_time_attr_value_count_reports():
    """time_attr configured but not reported (FIFO allows it): count reports."""
    h = History("acc", "epoch")
    run_task(h, 0, 0, [(None, 0.4), (None, 0.6)])
    assert h.configs[0].fidelity == 2


def test_stored_rows_and_statuses():
    h = History("acc", "epoch")
    h.start_task(7, 3, {"lr": 0.1}, bracket=1, start_time=10.0)
    result = {"epoch": 1, "acc": 0.5, "time_this_iter": 0.2, "time_since_start": 0.2}
    row = h.add_report(7, result, decision="pause")
    assert row == {**result, "task_id": 7, "config_id": 3, "decision": "pause", "replay": False}
    assert row is not result and "task_id" not in result
    assert h.training_history == {7: [row]}
    assert h.config_history == {7: {"lr": 0.1}}
    assert h.status_counts()["running"] == 1
    h.end_task(7, "paused", end_time=11.0)
    # the stored last row is replaced by one with the status (rows are never mutated,
    # so a snapshot serialized in another thread never sees one change)
    assert h.training_history[7][-1] == {**row, "status": "paused"}
    assert h.rows() == [h.training_history[7][-1]]
    assert "status" not in row
    assert h.tasks[7] == TaskRecord(
        task_id=7,
        config_id=3,
        config={"lr": 0.1},
        bracket=1,
        resume_from=None,
        status="paused",
        start_time=10.0,
        end_time=11.0,
    )
    h.start_task(8, 4, {"lr": 0.2}, start_time=12.0)
    h.end_task(8, "failed", reason="ValueError: bad", traceback="Traceback ...", end_time=13.0)
    assert h.tasks[8].reason == "ValueError: bad"
    assert h.training_history[8] == []
    assert h.num_finished_tasks == 2
    counts = h.status_counts()
    assert counts["paused"] == 1 and counts["failed"] == 1 and counts["running"] == 0
    assert h.rows() == [{**row, "status": "paused"}]
    assert h.rows(with_config=True)[0]["config.lr"] == 0.1
    h._check()


def test_bad_calls_raise_value_error():
    with pytest.raises(ValueError, match="mode must be 'max' or 'min', got 'maximum'"):
        History("acc", "epoch", mode="maximum")
    with pytest.raises(ValueError, match="reward_attr"):
        History("", "epoch")
    h = History("acc", "epoch")
    with pytest.raises(ValueError, match="task 1 reported but was never started"):
        h.add_report(1, {"epoch": 1, "acc": 0.1}, decision="continue")
    h.start_task(1, 1, {}, start_time=0.0)
    with pytest.raises(ValueError, match="already started"):
        h.start_task(1, 1, {}, start_time=0.0)
    with pytest.raises(ValueError, match="decision must be one of"):
        h.add_report(1, {"epoch": 1, "acc": 0.1}, decision="pasue")
    with pytest.raises(ValueError, match="status must be one of"):
        h.end_task(1, "running", end_time=1.0)
    h.end_task(1, "stopped", end_time=1.0)
    with pytest.raises(ValueError, match=r"already ended \(stopped\)"):
        h.end_task(1, "failed", end_time=1.0)
    with pytest.raises(ValueError, match="after it ended"):
        h.add_report(1, {"epoch": 2, "acc": 0.1}, decision="continue")
    with pytest.raises(ValueError, match="never started"):
        h.end_task(2, "failed", end_time=1.0)


def asha_like_history() -> History:
    h = History("acc", "epoch")
    run_task(h, 0, 0, [(1, 0.5)], status="paused", config={"lr": 0.1, "layers": [1, 2]})
    run_task(h, 1, 1, [(1, 0.7)], status="paused", config={"lr": np.float32(0.01), "n": 3})
    run_task(h, 2, 1, [(1, 0.71, True), (2, 0.8), (3, 0.85)], status="completed", resume_from=1)
    run_task(h, 3, 2, [(1, 0.9), (2, math.nan)], status="diverged")
    run_task(h, 4, 3, [(1, np.float64(0.2))])  # still running
    h.add_report(4, {"epoch": 2, "acc": 0.3, "extra": np.arange(3)}, decision="continue")
    h.start_task(5, 4, {"lr": 1.0}, start_time=9.0)
    h.end_task(5, "failed", reason="boom", traceback="Traceback", end_time=9.5)
    return h


def test_state_dict_json_round_trip():
    h = asha_like_history()
    text = json.dumps(h.state_dict())
    loaded = History.from_state_dict(json.loads(text))
    assert loaded.best_task_id() == h.best_task_id() == 2
    assert loaded.best_config_id() == h.best_config_id() == 1
    assert loaded.best_reward() == h.best_reward() == 0.85
    assert loaded.best_config() == {"lr": pytest.approx(0.01), "n": 3}
    assert list(loaded.training_history) == list(h.training_history)
    assert json.dumps(loaded.state_dict()) == text
    for task_id, rows in h.training_history.items():
        got = loaded.training_history[task_id]
        assert [r["epoch"] for r in got] == [r["epoch"] for r in rows]
        assert [r["replay"] for r in got] == [r["replay"] for r in rows]
        assert [r.get("status") for r in got] == [r.get("status") for r in rows]
    assert loaded.training_history[4][1]["extra"] == [0, 1, 2]
    for task_id, task in h.tasks.items():
        # configs come back as plain JSON (np.float32 -> float); every other field is equal
        assert dataclasses.replace(loaded.tasks[task_id], config=task.config) == task
        assert loaded.config_history[task_id] == json.loads(json.dumps(to_jsonable(task.config)))
    assert loaded.status_counts() == h.status_counts()
    assert loaded.num_finished_tasks == h.num_finished_tasks == 5
    assert loaded.config_ranking() == h.config_ranking()
    assert loaded.configs[1].task_ids == [1, 2]
    assert loaded.rows()[2]["replay"] is True
    loaded._check()
    # loading keeps working after the round trip
    loaded.add_report(4, {"epoch": 3, "acc": 0.99}, decision="complete")
    assert loaded.best_task_id() == 4


def test_load_state_dict_checks_its_input():
    h = asha_like_history()
    state = h.state_dict()
    with pytest.raises(ValueError, match="reward_attr='acc'"):
        History("loss", "epoch").load_state_dict(state)
    with pytest.raises(ValueError, match="mode='max'"):
        History("acc", "epoch", mode="min").load_state_dict(state)
    with pytest.raises(ValueError, match="format must be 1"):
        History("acc", "epoch").load_state_dict({**state, "format": 99})
    other = History("acc", "epoch")
    run_task(other, 42, 42, [(1, 1.0)])
    other.load_state_dict(state)  # replaces, does not merge
    assert 42 not in other.tasks and other.best_task_id() == 2


# ---------------------------------------------------------------- oracle comparison


def oracle_best(h: History):
    """The best config by a full rescan of the history (the definition, slowly)."""
    values = {}  # config_id -> (fidelity, reward, order)
    counts = {}
    order = 0
    for row in h.rows():
        if row["replay"]:
            continue
        order += 1
        cid = row["config_id"]
        counts[cid] = counts.get(cid, 0) + 1
        t = row.get("epoch", counts[cid]) if h.time_attr else counts[cid]
        if cid not in values or t >= values[cid][0]:
            values[cid] = (t, row["acc"], order)
    sign = -1 if h.mode == "max" else 1
    valid = [(sign * v[1], v[2], cid) for cid, v in values.items() if not math.isnan(v[1])]
    if not valid:
        return None, None
    _, _, cid = min(valid)
    return cid, values[cid][1]


rewards = st.one_of(st.sampled_from([0.1, 0.5, 0.9, math.nan]), st.floats(-10, 10, allow_nan=False))
events = st.lists(
    st.tuples(st.integers(0, 5), st.integers(1, 4), rewards, st.booleans(), st.booleans()),
    max_size=60,
)


@given(events=events, mode=st.sampled_from(["max", "min"]), with_time=st.booleans())
def test_best_matches_a_full_rescan(events, mode, with_time):
    """Random promotions, replays and endings: the incremental best equals the rescan."""
    h = History("acc", "epoch" if with_time else None, mode=mode)
    running = {}  # config_id -> (task_id, last time)
    next_task = 0
    for config_id, step, reward, replay, end in events:
        if config_id not in running:
            h.start_task(next_task, config_id, {"c": config_id}, start_time=0.0)
            previous = [r.get("epoch", 0) for r in h.rows() if r["config_id"] == config_id]
            running[config_id] = (next_task, max(previous, default=0))
            next_task += 1
        task_id, last = running[config_id]
        t = last + step
        result = {"acc": reward, "epoch": t} if with_time else {"acc": reward}
        h.add_report(task_id, result, decision="continue", replay=replay)
        running[config_id] = (task_id, t)
        if end:
            h.end_task(task_id, "paused", end_time=1.0)
            del running[config_id]
        cid, value = oracle_best(h)
        assert h.best_config_id() == cid
        if cid is not None:
            assert h.best_reward() == value
    h._check()
    loaded = History.from_state_dict(json.loads(json.dumps(h.state_dict())))
    assert loaded.best_config_id() == h.best_config_id()
    assert loaded.best_task_id() == h.best_task_id()


def test_heap_holds_at_most_one_entry_per_report_and_queries_drop_stale_ones():
    h = History("acc", "epoch")
    h.start_task(0, 0, {}, start_time=0.0)
    h.start_task(1, 1, {}, start_time=0.0)
    for t in range(1, 2000):
        h.add_report(0, {"epoch": t, "acc": float(t % 7)}, decision="continue")
        h.add_report(1, {"epoch": t, "acc": float(t % 5)}, decision="continue")
        assert len(h._heap) <= h.num_reports
    # epoch 1999: config 0 has 1999 % 7 = 4, config 1 has 1999 % 5 = 4 -> tie, earlier wins
    assert h.best_config_id() == 0 and h.best_reward() == 4.0
    _, _, config_id, version = h._heap[0]
    assert h.configs[config_id]._version == version  # the top is live after a query
    h._check()


def test_end_statuses_cover_the_task_statuses():
    assert set(END_STATUSES) | {"running"} == set(TASK_STATUSES)


def test_with_a_constraint_the_best_config_is_the_best_feasible_one():
    h = History("acc", "epoch", "max", constraint_attr="c")
    for task_id, (acc, c) in enumerate([(0.9, 0.5), (0.7, -0.1), (0.8, None), (0.6, 0.0)]):
        h.start_task(task_id, task_id, {"x": task_id}, start_time=0.0)
        result = {"epoch": 1, "acc": acc}
        if c is not None:
            result["c"] = c
        h.add_report(task_id, result, decision="continue")
    assert h.best_config() == {"x": 1} and h.best_reward() == 0.7
    assert h.config_ranking()[:2] == [1, 3]
    h._check()
    again = History.from_state_dict(json.loads(json.dumps(h.state_dict())))
    assert again.best_config() == {"x": 1}
    infeasible = History("acc", "epoch", "max", constraint_attr="c")
    infeasible.start_task(0, 0, {"x": 0}, start_time=0.0)
    infeasible.add_report(0, {"epoch": 1, "acc": 1.0, "c": 2.0}, decision="continue")
    assert infeasible.best_config() is None
    infeasible._check()
