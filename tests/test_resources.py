"""ResourceManager: CPUs and GPU ids per trial, distinct under concurrency, released once."""

from __future__ import annotations

import threading

import pytest

from scheduler.runtime.resources import Allocation, ResourceManager, parse_resource


def test_hands_out_distinct_gpu_ids_until_none_is_free():
    rm = ResourceManager({"num_cpus": 1, "num_gpus": 2}, {"num_cpus": 8, "num_gpus": 5})
    assert rm.max_concurrency == 2
    first, second = rm.acquire(), rm.acquire()
    assert (first.gpu_ids, second.gpu_ids) == ((0, 1), (2, 3))
    assert rm.acquire() is None and not rm.can_acquire()  # one GPU left, two asked
    rm.release(first)
    assert rm.acquire().gpu_ids == (0, 1)  # the lowest free ids first


def test_cpus_only():
    rm = ResourceManager({"num_cpus": 2}, {"num_cpus": 5, "num_gpus": 0})
    held = [rm.acquire(), rm.acquire()]
    assert [a.gpu_ids for a in held] == [(), ()] and rm.acquire() is None
    assert rm.max_concurrency == 2 and rm.num_held == 2


def test_gpu_ids_are_distinct_under_concurrent_acquire():
    """Eight threads acquire and release as fast as they can; at every moment the GPUs
    held are distinct, and at the end everything is free again."""
    rm = ResourceManager({"num_cpus": 1, "num_gpus": 1}, {"num_cpus": 64, "num_gpus": 3})
    holders: dict[int, int] = {}  # gpu id -> thread holding it
    errors: list[str] = []
    guard = threading.Lock()  # guards the test's own bookkeeping only
    start = threading.Barrier(8)

    def worker(me: int) -> None:
        start.wait()
        for _ in range(2000):
            allocation = rm.acquire()
            if allocation is None:
                continue
            (gpu,) = allocation.gpu_ids
            with guard:
                if gpu in holders:
                    errors.append(f"GPU {gpu} given to {me} while {holders[gpu]} holds it")
                holders[gpu] = me
            with guard:
                del holders[gpu]
            rm.release(allocation)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert rm.num_held == 0
    assert [rm.acquire().gpu_ids for _ in range(3)] == [(0,), (1,), (2,)]


def test_release_twice_raises_even_while_other_tasks_hold_resources():
    rm = ResourceManager({"num_cpus": 1, "num_gpus": 1}, {"num_cpus": 2, "num_gpus": 2})
    a, b = rm.acquire(), rm.acquire()
    rm.release(a)
    with pytest.raises(RuntimeError, match="released twice"):
        rm.release(a)  # b still holds GPU 1: counting alone would not notice
    assert rm.acquire().gpu_ids == (0,) and rm.acquire() is None
    with pytest.raises(RuntimeError, match="not acquired from this manager"):
        rm.release(Allocation(1, (1,)))  # an equal-looking allocation made elsewhere
    rm.release(b)


@pytest.mark.parametrize(
    "request_, totals, message",
    [
        ({"num_gpus": 1}, {"num_cpus": 2, "num_gpus": 0}, "num_gpus=1 exceeds the 0 GPUs"),
        ({"num_cpus": 3}, {"num_cpus": 2, "num_gpus": 0}, "num_cpus=3 exceeds the 2 CPUs"),
        ({"num_cpus": 0, "num_gpus": 0}, {"num_cpus": 2}, "at least one CPU or GPU"),
        ({"num_cpus": -1}, {"num_cpus": 2}, r"resource\['num_cpus'\]"),
        ({"cpus": 1}, {"num_cpus": 2}, r"unknown keys \['cpus'\]"),
        ("1 cpu", {"num_cpus": 2}, "resource must be a dict"),
        ({"num_cpus": 1}, {"num_cpus": 1.5}, r"total_resources\['num_cpus'\]"),
    ],
)
def test_a_request_that_cannot_be_met_raises_at_construction(request_, totals, message):
    with pytest.raises(ValueError, match=message):
        ResourceManager(request_, totals)


def test_missing_keys_mean_one_cpu_and_no_gpu():
    assert parse_resource(None) == {"num_cpus": 1, "num_gpus": 0}
    assert parse_resource({"num_gpus": 2}) == {"num_cpus": 1, "num_gpus": 2}
