"""Smoke test of an installed scheduler (run by .ci/run from outside the source tree).

Checks that ``scheduler`` is imported from the environment it was installed into (not
from a checkout), that the compiled rung kernels load, that the installed package holds
no build inputs or leftovers, and that a small FIFO run on the thread backend completes.
Exits non-zero with a message on the first failure.
"""

from __future__ import annotations

import os
import sys
import sysconfig


def fail(message: str) -> None:
    print(f"smoke test FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    if os.environ.get("SCHEDULER_NO_EXTENSIONS"):
        fail("SCHEDULER_NO_EXTENSIONS is set: the compiled kernels would not be tried")
    import scheduler

    site = os.path.realpath(sysconfig.get_paths()["purelib"])
    package = os.path.realpath(os.path.dirname(scheduler.__file__))
    if not package.startswith(site + os.sep):
        fail(f"scheduler imported from {package}, not from this environment's {site}")
    if scheduler.KERNEL_BACKEND != "cython":
        fail(f"KERNEL_BACKEND is {scheduler.KERNEL_BACKEND!r}, expected 'cython'")
    from scheduler._rungs import stopping

    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    if not stopping.__file__.endswith(suffix):
        fail(f"scheduler._rungs.stopping loaded from {stopping.__file__}, not an extension")
    rungs = os.path.join(package, "_rungs")
    leftovers = sorted(
        name for name in os.listdir(rungs) if name.endswith((".pyx", ".pxd", ".cpp", ".c"))
    )
    if leftovers:
        fail(f"build inputs or leftovers installed in {rungs}: {leftovers}")
    for name in ("py.typed", "stopping.pyi"):
        if not os.path.exists(os.path.join(rungs, name)):
            fail(f"{name} is missing from {rungs}")

    @scheduler.args(x=scheduler.space.Real(0.0, 1.0), epochs=3)
    def train_fn(args, reporter):
        for epoch in range(1, args.epochs + 1):
            reporter(epoch=epoch, accuracy=args.x * epoch / args.epochs)

    common = {
        "resource": {"num_cpus": 1, "num_gpus": 0},
        "total_resources": {"num_cpus": 2, "num_gpus": 0},
        "reward_attr": "accuracy",
        "time_attr": "epoch",
        "backend": "thread",
        "progress": False,
    }
    runs = [
        ("FIFOScheduler", scheduler.FIFOScheduler(train_fn, num_trials=4, **common), {"completed"}),
        (
            "HyperbandScheduler(type='stopping')",
            scheduler.HyperbandScheduler(train_fn, num_trials=6, type="stopping", **common),
            {"completed", "stopped"},
        ),
    ]
    for name, run, allowed in runs:
        run.run()
        if not run.join_jobs(timeout=60):
            fail(f"{name}: the run did not finish within 60 s")
        statuses = {record.status for record in run.history.tasks.values()}
        if len(run.history.tasks) != run.num_trials or not statuses <= allowed:
            fail(f"{name}: expected {run.num_trials} tasks in {sorted(allowed)}, got {statuses}")
        best = run.get_best_reward()
        if best is None or not 0.0 <= best <= 1.0:
            fail(f"{name}: best reward {best!r} is not in [0, 1]")
        print(f"{name}: {len(run.history.tasks)} tasks {sorted(statuses)}, best {best:.3f}")
    print(
        f"smoke test passed: scheduler {scheduler.__version__} from {package}, "
        f"kernels {scheduler.KERNEL_BACKEND}"
    )


if __name__ == "__main__":
    main()
