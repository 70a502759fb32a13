"""The task-side Reporter on its own: validation, timestamps, decisions, thread safety."""

from __future__ import annotations

import threading
import time

import pytest

from scheduler import TaskStopped
from scheduler.runtime.reporter import Reporter


class Channel:
    """A send() that records what it got and answers with the next scripted decision."""

    def __init__(self, *decisions: str):
        self.decisions = list(decisions)
        self.sent: list[dict] = []

    def __call__(self, result: dict) -> str:
        self.sent.append(result)
        return self.decisions.pop(0) if self.decisions else "continue"


def make(channel, *, time_attr="epoch", require_time=True):
    return Reporter(channel, reward_attr="accuracy", time_attr=time_attr, require_time=require_time)


@pytest.mark.parametrize(
    "result, message",
    [
        ({}, "needs keyword arguments, got none"),
        ({"epoch": 1}, r"no reward_attr 'accuracy'; got keys \['epoch'\]"),
        ({"epoch": 1, "accuracy": None}, "reward_attr 'accuracy' must be a real number, got None"),
        ({"epoch": 1, "accuracy": "0.5"}, r"got '0.5' of type str"),
        ({"epoch": 1, "accuracy": True}, "got True of type bool"),
        ({"accuracy": 0.5}, r"no time_attr 'epoch'; got keys \['accuracy'\]"),
        ({"epoch": 1.5, "accuracy": 0.5}, "time_attr 'epoch' must be a positive integer, got 1.5"),
        ({"epoch": 0, "accuracy": 0.5}, r"counting from 1: Hyperband.s rung levels\), got 0"),
        ({"epoch": 1, "accuracy": 0.5, "task_id": 3}, "key 'task_id' is reserved.*got task_id=3"),
    ],
)
def test_a_bad_report_names_the_key_and_the_value_and_is_not_sent(result, message):
    channel = Channel()
    reporter = make(channel)
    with pytest.raises(ValueError, match=message):
        reporter(**result)
    assert channel.sent == [] and reporter.num_reports == 0


def test_time_must_increase():
    channel = Channel()
    reporter = make(channel)
    reporter(epoch=2, accuracy=0.1)
    with pytest.raises(ValueError, match="must increase from report to report, got 2 after 2"):
        reporter(epoch=2, accuracy=0.2)
    reporter(epoch=5, accuracy=0.3)  # a skipped epoch is fine
    assert [r["epoch"] for r in channel.sent] == [2, 5]


def test_a_report_is_timestamped_and_normalized():
    channel = Channel()
    reporter = make(channel)
    reporter(epoch=1, accuracy=1, loss=0.3)
    time.sleep(0.02)
    reporter(epoch=2, accuracy=0.5)
    first, second = channel.sent
    assert first["accuracy"] == 1.0 and isinstance(first["accuracy"], float)
    assert first["loss"] == 0.3
    assert second["time_this_iter"] >= 0.02
    assert second["time_since_start"] == pytest.approx(
        first["time_since_start"] + second["time_this_iter"]
    )


def test_without_time_attr_a_report_needs_only_the_reward():
    channel = Channel()
    reporter = make(channel, time_attr=None, require_time=False)
    reporter(accuracy=0.4)
    reporter(accuracy=0.5)
    assert [r["accuracy"] for r in channel.sent] == [0.4, 0.5]


@pytest.mark.parametrize("decision", ["stop", "pause"])
def test_stop_and_pause_raise_task_stopped_and_end_the_reporter(decision):
    channel = Channel("continue", decision)
    reporter = make(channel)
    assert reporter(epoch=1, accuracy=0.1) is None
    with pytest.raises(TaskStopped) as stopped:
        reporter(epoch=2, accuracy=0.2)
    assert stopped.value.decision == decision
    assert not isinstance(stopped.value, Exception)  # `except Exception` cannot swallow it
    with pytest.raises(TaskStopped, match="already ended"):
        reporter(epoch=3, accuracy=0.3)
    assert len(channel.sent) == 2  # the report after the end was never sent


def test_complete_returns_and_the_next_report_stops_the_task():
    channel = Channel("complete")
    reporter = make(channel)
    assert reporter(epoch=9, accuracy=0.9) is None  # reached max_t: returns normally
    with pytest.raises(TaskStopped, match="reached max_t") as stopped:
        reporter(epoch=10, accuracy=0.95)
    assert stopped.value.decision == "stop"
    assert len(channel.sent) == 1
    with pytest.raises(TaskStopped):
        reporter(epoch=11, accuracy=0.95)


def test_an_unknown_decision_is_an_error():
    reporter = make(Channel("rewind"))
    with pytest.raises(RuntimeError, match="unknown decision 'rewind'"):
        reporter(epoch=1, accuracy=0.1)


def test_a_failing_channel_raises_in_train_fn_not_hangs():
    def broken(result):
        raise ConnectionError("scheduler side is gone")

    with pytest.raises(ConnectionError, match="gone"):
        make(broken)(epoch=1, accuracy=0.1)


def test_concurrent_reports_are_sent_one_at_a_time():
    """Threads of one train_fn sharing a reporter: each report is validated and sent
    whole, never two at once, and every one is counted."""
    inside = [0]
    overlaps = []
    sent = []

    def send(result):
        inside[0] += 1
        if inside[0] > 1:
            overlaps.append(result)
        time.sleep(0.0005)  # widen the window a second sender would hit
        sent.append(result["accuracy"])
        inside[0] -= 1
        return "continue"

    reporter = make(send, time_attr=None, require_time=False)
    start = threading.Barrier(6)

    def worker(k: int) -> None:
        start.wait()
        for i in range(50):
            reporter(accuracy=k + i / 100)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert overlaps == []
    assert reporter.num_reports == len(sent) == 300
    assert sorted(sent) == sorted(k + i / 100 for k in range(6) for i in range(50))


def test_concurrent_reports_after_a_stop_all_raise():
    channel = Channel("stop")
    reporter = make(channel, time_attr=None, require_time=False)
    with pytest.raises(TaskStopped):
        reporter(accuracy=0.1)
    raised = []

    def worker() -> None:
        try:
            reporter(accuracy=0.2)
        except TaskStopped as exc:
            raised.append(exc.decision)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert raised == ["stop"] * 4 and len(channel.sent) == 1
