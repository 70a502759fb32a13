"""``backend="ray"`` on a two-node cluster on this machine (``ray.cluster_utils.Cluster``:
a head and a second node of one CPU each), started once for the module and torn down
at its end with every process it started.

Promotion with configs pinned to the node that holds their ``checkpoint_dir`` (no
``storage_path``) or free to move (a shared ``storage_path``), and a cluster that
grows (a third node joins and takes trials) and shrinks (that node is removed mid-run:
its task fails as lost, the run completes on the others).
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
from _ray_support import assert_gone, descendants, import_ray

import scheduler as sch

ray = import_ray()

# Node deaths are noticed after health_check_failure_threshold missed checks.
FAST_HEALTH_CHECKS = {
    "health_check_period_ms": 500,
    "health_check_failure_threshold": 2,
    "health_check_timeout_ms": 500,
}


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    started_before = descendants()
    c = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": False,
            "_system_config": FAST_HEALTH_CHECKS,
        },
    )
    try:
        c.add_node(num_cpus=1)
        ray.init(address=c.address, log_to_driver=False)
        c.wait_for_nodes()
        yield c
    finally:
        started = descendants() - started_before
        ray.shutdown()
        c.shutdown()
        assert_gone(started)


def _node():
    return ray.get_runtime_context().get_node_id()


@sch.args(x=sch.space.Real(0.0, 1.0), epochs=9)
def checkpoint_fn(args, reporter):
    """Saves its epoch in checkpoint_dir; a promoted task must find it there."""
    path = os.path.join(reporter.checkpoint_dir, "model.json")
    start = 0
    if args.scheduler.resume_from is not None:
        with open(path) as f:
            start = json.load(f)["epoch"]
    for e in range(start + 1, args.epochs + 1):
        with open(path + ".tmp", "w") as f:
            json.dump({"epoch": e}, f)
        os.replace(path + ".tmp", path)
        reporter(
            epoch=e,
            accuracy=args.x * (1 - 0.5**e),
            resumed_at=start,
            node=_node(),
            folder=reporter.checkpoint_dir,
        )


@sch.args(x=sch.space.Real(0.0, 1.0), go="")
def held_fn(args, reporter):
    """Reports every 50 ms until the file ``args.go`` exists (then ends at epoch 3)."""
    for e in range(1, 2400):
        time.sleep(0.05)
        reporter(epoch=e, accuracy=args.x, node=_node())
        if e >= 3 and os.path.exists(args.go):
            return


def _promotion(**kw):
    return sch.HyperbandScheduler(
        checkpoint_fn,
        resource={"num_cpus": 1},
        num_trials=10,
        reward_attr="accuracy",
        time_attr="epoch",
        type="promotion",
        grace_period=1,
        reduction_factor=3,
        backend="ray",
        progress=False,
        **kw,
    )


def _check_promotions(s):
    tasks = [s.history.tasks[t] for t in sorted(s.history.tasks)]
    assert not [t for t in tasks if t.status == "failed"], [t.reason for t in tasks]
    resumed = [t for t in tasks if t.resume_from is not None]
    assert resumed, "no config was promoted"
    for t in resumed:
        rows = [r for r in s.training_history[t.task_id] if not r.get("replay")]
        assert rows[0]["resumed_at"] == t.resume_from  # it found its checkpoint
    return tasks


def test_without_storage_path_a_config_stays_on_the_node_of_its_checkpoint(cluster):
    s = _promotion()
    assert s.resources.max_concurrency == 2
    s.run()
    assert s.join_jobs(timeout=120)
    tasks = _check_promotions(s)
    nodes_of = {}
    for t in tasks:
        nodes_of.setdefault(t.config_id, set()).update(
            r["node"] for r in s.training_history[t.task_id]
        )
    assert all(len(nodes) == 1 for nodes in nodes_of.values()), nodes_of
    assert len(set().union(*nodes_of.values())) == 2  # both nodes took trials


def test_with_a_shared_storage_path_checkpoints_live_there(cluster, tmp_path):
    shared = tmp_path / "shared"
    s = _promotion(storage_path=str(shared))
    s.run()
    assert s.join_jobs(timeout=120)
    tasks = _check_promotions(s)
    folders = {r["folder"] for t in tasks for r in s.training_history[t.task_id]}
    assert folders and all(f.startswith(str(shared) + os.sep) for f in folders)
    assert len(folders) == len({t.config_id for t in tasks})  # one folder per config


@pytest.mark.slow
def test_a_node_that_joins_takes_trials_and_one_removed_mid_run_loses_only_its_task(
    cluster, tmp_path
):
    go = tmp_path / "go"
    s = sch.FIFOScheduler(
        held_fn,
        args={"go": str(go)},
        resource={"num_cpus": 1},
        num_trials=8,
        reward_attr="accuracy",
        time_attr="epoch",
        backend="ray",
        progress=False,
    )
    assert s.resources.max_concurrency == 2
    runner = threading.Thread(target=s.run, daemon=True)  # run() returns at the 8th launch
    runner.start()
    try:
        third = cluster.add_node(num_cpus=1)  # the two trials wait for `go` meanwhile

        def tasks_on(node_id):
            return {
                task_id
                for task_id, rows in list(s.training_history.items())
                for row in list(rows)
                if row["node"] == node_id
            }

        deadline = time.monotonic() + 90
        while not tasks_on(third.node_id) and time.monotonic() < deadline:
            time.sleep(0.05)
        victims = tasks_on(third.node_id)
        assert victims, "no trial ran on the node that joined"
        assert s.resources.max_concurrency == 3
        cluster.remove_node(third, allow_graceful=False)
        deadline = time.monotonic() + 60
        while not all(s.history.tasks[v].status == "failed" for v in victims):
            assert time.monotonic() < deadline, "the lost task never ended"
            time.sleep(0.05)
        # the backend follows the removal once Ray's control plane has seen it (the
        # task's own call can fail first, while the node still looks alive)
        while s.resources.max_concurrency != 2:
            assert time.monotonic() < deadline, "the slots never shrank back to 2"
            time.sleep(0.05)
    finally:
        go.touch()
    runner.join(timeout=120)
    assert s.join_jobs(timeout=120)
    tasks = [s.history.tasks[t] for t in sorted(s.history.tasks)]
    failed = [t for t in tasks if t.status == "failed"]
    assert [t.task_id for t in failed] == sorted(victims)
    for t in failed:
        # "the Ray node running the task left", or, when the call failed before Ray's
        # control plane marked the node dead, "the task's Ray actor stopped answering"
        assert t.reason.startswith(("lost: the Ray node", "lost: the task's Ray actor")), t.reason
    assert len(tasks) == 8
    assert all(t.status == "completed" for t in tasks if t not in failed)
