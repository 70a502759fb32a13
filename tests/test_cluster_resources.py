"""The Ray backend's parts that need no Ray: the cluster resource manager (per-node fit,
fractions, a cap, nodes that come and go), the facade's arguments, and the ImportError
naming the extra when Ray is missing."""

from __future__ import annotations

import sys

import pytest

import scheduler as sch
from scheduler.runtime.resources import ClusterResourceManager


def _nodes(*shapes):
    return {f"n{i}": {"num_cpus": c, "num_gpus": g} for i, (c, g) in enumerate(shapes)}


def test_slots_are_counted_per_node_not_over_the_summed_totals():
    # 3 CPUs in all, but a 2-CPU trial fits on neither 1.5-CPU node
    with pytest.raises(ValueError, match="does not fit on any node"):
        ClusterResourceManager({"num_cpus": 2}, _nodes((1.5, 0), (1.5, 0)))
    rm = ClusterResourceManager({"num_cpus": 2}, _nodes((5, 0), (3, 0)))
    assert rm.max_concurrency == 3  # 2 + 1, not 8 // 2
    assert rm.node_slots == {"n0": 2, "n1": 1}
    assert rm.total == {"num_cpus": 8, "num_gpus": 0}


def test_fractional_gpus_fit_as_ray_counts_them():
    rm = ClusterResourceManager({"num_cpus": 0.5, "num_gpus": 0.33}, _nodes((8, 1), (8, 2)))
    assert rm.node_slots == {"n0": 3, "n1": 6}  # 3 x 0.33 <= 1
    rm = ClusterResourceManager({"num_cpus": 1, "num_gpus": 0.5}, _nodes((1, 4)))
    assert rm.max_concurrency == 1  # the CPU is the limit
    with pytest.raises(ValueError, match=r"fraction <= 1 or a whole number.*1\.5"):
        ClusterResourceManager({"num_gpus": 1.5}, _nodes((8, 4)))
    with pytest.raises(ValueError, match=r"resource\['num_cpus'\] must be a number >= 0"):
        ClusterResourceManager({"num_cpus": -1}, _nodes((8, 4)))
    with pytest.raises(ValueError, match="at least one CPU or GPU"):
        ClusterResourceManager({"num_cpus": 0, "num_gpus": 0}, _nodes((8, 4)))


def test_acquire_and_release_follow_the_slots():
    rm = ClusterResourceManager({"num_cpus": 1}, _nodes((2, 0)))
    a, b = rm.acquire(), rm.acquire()
    assert a is not None and b is not None and a.gpu_ids == ()
    assert not rm.can_acquire() and rm.acquire() is None
    rm.release(a)
    assert rm.can_acquire()
    rm.release(b)
    with pytest.raises(RuntimeError, match="released twice"):
        rm.release(b)


def test_nodes_that_join_and_leave_change_the_slots_while_tasks_hold_theirs():
    rm = ClusterResourceManager({"num_cpus": 1}, _nodes((1, 0), (1, 0)))
    held = [rm.acquire(), rm.acquire()]
    assert not rm.can_acquire()
    assert rm.set_nodes(_nodes((1, 0), (1, 0), (2, 0)))  # a node joined: 2 more slots
    assert rm.max_concurrency == 4 and rm.can_acquire()
    assert rm.set_nodes(_nodes((1, 0)))  # two left; both tasks still hold a slot
    assert rm.max_concurrency == 1 and rm.in_use == 2 and not rm.can_acquire()
    rm.release(held.pop())
    assert not rm.can_acquire()  # 1 in use of 1
    rm.release(held.pop())
    assert rm.can_acquire()
    assert not rm.set_nodes(_nodes((1, 0)))  # nothing changed


def test_total_resources_caps_this_schedulers_share():
    rm = ClusterResourceManager({"num_cpus": 1}, _nodes((8, 0), (8, 0)), {"num_cpus": 3})
    assert rm.max_concurrency == 3
    with pytest.raises(ValueError, match=r"exceeds the 1\.0 CPUs of total_resources"):
        ClusterResourceManager({"num_cpus": 2}, _nodes((8, 0)), {"num_cpus": 1})
    with pytest.raises(ValueError, match="unknown keys"):
        ClusterResourceManager({"num_cpus": 1}, _nodes((8, 0)), {"cpus": 1})


def test_no_live_node_is_an_error_at_construction():
    with pytest.raises(ValueError, match="no live node"):
        ClusterResourceManager({"num_cpus": 1}, {})


@sch.args(x=sch.space.Real(0.0, 1.0))
def _fn(args, reporter):
    reporter(epoch=1, accuracy=args.x)


@pytest.mark.parametrize(
    "kwargs",
    [{"ray_address": "auto"}, {"ray_init_kwargs": {"num_cpus": 2}}, {"storage_path": "/tmp"}],
)
def test_ray_arguments_need_the_ray_backend(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"{name} is only used with backend='ray'"):
        sch.FIFOScheduler(_fn, num_trials=1, backend="process", **kwargs)


def test_without_ray_the_ray_backend_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(ImportError, match=r'pip install "scheduler\[ray\]"'):
        sch.FIFOScheduler(_fn, num_trials=1, backend="ray")


def test_an_unknown_backend_lists_ray():
    with pytest.raises(ValueError, match=r"backend must be one of \[.*'ray'.*\], got 'dask'"):
        sch.FIFOScheduler(_fn, num_trials=1, backend="dask")
