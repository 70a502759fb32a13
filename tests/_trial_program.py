"""A trial program for the Command tests: ``--case`` picks how it behaves (the fault
matrix), ``--marker`` tags the processes it leaves behind so the tests can look for
them in /proc. Imports only the standard library and ``scheduler.report``."""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import time

import scheduler

parser = argparse.ArgumentParser()
parser.add_argument("--case", default="ok_fd")
parser.add_argument("--marker", default="0")
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--x", type=float, default=0.5)
options, _ = parser.parse_known_args()
case = options.case


def leave_children(marker: str) -> None:
    """A forgotten child, one that escaped with setsid, one double-forked and setsid."""
    sleeper = ["sleep", f"1000.{marker}"]
    subprocess.Popen(sleeper, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.Popen(
        sleeper, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    if os.fork() == 0:
        if os.fork() == 0:
            os.setsid()
            os.execvp("sleep", sleeper)
        os._exit(0)
    os.wait()


if case == "ok_stdout":
    for epoch in range(1, options.epochs + 1):
        print(f"epoch {epoch} done")
        print("[scheduler] " + json.dumps({"epoch": epoch, "accuracy": options.x + epoch / 10}))
    sys.exit(0)
if case == "malformed":
    print("starting")
    print("[scheduler] {epoch: 1, accuracy: 0.5}")
    time.sleep(30)
    sys.exit(0)
if case == "close_fd":
    os.close(int(os.environ["SCHEDULER_REPORT_FD"]))
if case == "env":
    scheduler.report(
        epoch=1,
        accuracy=0.5,
        config=os.environ["SCHEDULER_CONFIG"],
        argv=" ".join(sys.argv[1:]),
        cwd=os.getcwd(),
        checkpoint=os.environ["SCHEDULER_CHECKPOINT_DIR"],
        resume=os.environ["SCHEDULER_RESUME_FROM"],
        cuda=os.environ["CUDA_VISIBLE_DEVICES"],
        extra=os.environ.get("EXTRA_VAR"),
        ids=[scheduler.trial.task_id(), scheduler.trial.config_id()],
    )
    sys.exit(0)

for epoch in range(1, options.epochs + 1):
    if case == "bad_report":
        scheduler.report(epoch=epoch)
    if case == "bad_value":
        scheduler.report(epoch=epoch, accuracy="high")
    scheduler.report(epoch=epoch, accuracy=options.x + epoch / 10)
    if case == "raise":
        raise RuntimeError("boom in the trial program")
    if case == "exit":
        sys.exit(3)
    if case == "segfault":
        ctypes.string_at(0)
    if case == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if case == "oom":
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (200 << 20, resource.RLIM_INFINITY))
        _ = bytearray(1 << 30)
    if case == "hang":
        leave_children(options.marker)
        time.sleep(1000)
    if case == "children":
        leave_children(options.marker)
