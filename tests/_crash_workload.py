"""A deterministic workload for the crash tests of ``tests/test_durability.py``.

Imported by the tests (for :func:`make_scheduler`, :func:`reward` and the train_fn) and
run as a child process that the tests kill with SIGKILL::

    python tests/_crash_workload.py KIND --checkpoint CKPT --out DIR --seed N
        [--resume] [--workers W] [--trials T] [--sleep S] [--snapshot-every K]
        [--kill-at SPEC] [--final FILE]

KIND is ``fifo``, ``stopping`` or ``promotion``. The run uses the thread backend;
``--workers 1`` makes it sequential, so its reports come in an order that a kill does
not change. The train_fn's reward is a function of the config and the epoch only.

After each report the train_fn has *heard* the decision of (``reporter(...)`` returned
or raised ``TaskStopped``), it saves its model checkpoint (the epoch, in
``reporter.checkpoint_dir``), then appends one JSON line to ``DIR/acks.jsonl`` with one
``os.write`` on an ``O_APPEND`` descriptor: ``task_id``, ``config_id``, ``epoch``,
``reward``, ``decision`` (``stop`` or ``pause`` when ``TaskStopped`` was raised, else
``returned``: continue or complete), ``resume_from`` and ``pid``. A killed child loses
no ack line it wrote, and writes none for a report it was not told the decision of.

A task started with ``resume_from=r`` continues after ``min(saved epoch, r)``: epochs
in between are reported again and must come back as replay rows. Configs with
``width == 4`` keep no checkpoint and always start again from epoch 1, so that every
promotion and restart of theirs reports replay rows.

``--snapshot-every K`` makes the journal snapshot after every K events (instead of its
doubling schedule) and fsync it every 3 ms (``--fsync-interval``; the runtime's loop,
which takes the snapshots, wakes that often), so that kills land next to snapshot
writes, between reports. ``--kill-at SPEC``
kills the child (``SIGKILL`` to itself) at one precise point:

* ``ack:N``: right after the N-th ack line of this process;
* ``decided:N``: after the N-th ack of a decision that ends the task (stop, pause) or
  of its report at ``epochs`` (max_t), before the task has returned to the runtime;
* ``append:N``: inside the N-th journal append, after half of the line was written (a
  torn last line);
* ``begin:N``: right after the N-th ``Journal.begin_snapshot`` (new segment open, the
  snapshot not written);
* ``tmp:N``: inside the N-th snapshot write, the temporary file written and fsynced,
  not renamed;
* ``renamed:N``: after the N-th snapshot is renamed into place, before the segments it
  covers are deleted;
* ``final``: inside the last snapshot, taken when the run ends;
* ``csv:N``: inside the N-th results row, after ``results.jsonl`` got it and before
  ``results.csv`` does;
* ``resumed``: right after the scheduler resumed (in-flight tasks ended as
  interrupted, their restarts not launched yet).

At the end ``--final FILE`` receives the scheduler's ``state_dict()`` and best config.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time

import scheduler as sch

MAX_T = 9
GRACE_PERIOD = 1
REDUCTION_FACTOR = 3
BRACKETS = 2
ACKS = "acks.jsonl"
TRIALS = {"fifo": 6, "stopping": 12, "promotion": 14}  # 40 to 60 reports each

# Set by main() (or a test) before the run; the thread backend shares them.
_ack_fd: int | None = None
_sleep = 0.0
_kill_at: tuple[str, int] = ("", 0)
_counts: dict[str, int] = {}


def reward(x: float, width: int, epoch: int) -> float:
    """Crossing learning curves: small x starts fast, large x ends high."""
    rate = 1.5 - x
    top = 0.5 + 0.5 * x - 0.01 * width
    return float((1.0 - math.exp(-epoch * rate)) * top)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(10)  # never reached


def _hit(kind: str) -> bool:
    """Count one occurrence of ``kind``; True when the kill point is reached."""
    _counts[kind] = _counts.get(kind, 0) + 1
    return _kill_at[0] == kind and _counts[kind] == _kill_at[1]


def _ack(args, epoch: int, value: float, decision: str) -> None:
    if _ack_fd is None:
        return
    line = json.dumps(
        {
            "task_id": args.task_id,
            "config_id": args.config_id,
            "epoch": epoch,
            "reward": value,
            "decision": decision,
            "resume_from": args.scheduler.resume_from,
            "pid": os.getpid(),
        }
    )
    os.write(_ack_fd, (line + "\n").encode())
    if _hit("ack"):
        _die()
    if (decision != "returned" or epoch >= args.epochs) and _hit("decided"):
        _die()


@sch.args(x=sch.space.Real(0.0, 1.0), width=sch.space.Int(1, 4), epochs=MAX_T)
def train_fn(args, reporter):
    path = os.path.join(reporter.checkpoint_dir, "epoch")
    keeps_checkpoints = args.width != 4
    saved = 0
    if keeps_checkpoints and os.path.exists(path):
        with open(path) as f:
            saved = int(f.read() or 0)
    resume_from = args.scheduler.resume_from
    start = 0 if resume_from is None else min(saved, resume_from)
    for epoch in range(start + 1, args.epochs + 1):
        if _sleep:
            time.sleep(_sleep)
        value = reward(args.x, args.width, epoch)
        try:
            reporter(epoch=epoch, accuracy=value)
        except sch.TaskStopped as stopped:
            _save(path, epoch)
            _ack(args, epoch, value, stopped.decision)
            raise
        _save(path, epoch)
        _ack(args, epoch, value, "returned")


def _save(path: str, epoch: int) -> None:
    with open(path, "w") as f:
        f.write(str(epoch))


def make_scheduler(
    kind: str,
    checkpoint: str | None,
    *,
    seed: int,
    workers: int = 1,
    trials: int | None = None,
    resume: bool = False,
    output_dir: str | None = None,
    fn=None,
    fsync_interval: float = 1.0,
):
    """The scheduler of the workload (thread backend, ``workers`` at a time)."""
    if trials is None:
        trials = TRIALS[kind]
    common = dict(
        resource={"num_cpus": 1, "num_gpus": 0},
        total_resources={"num_cpus": workers, "num_gpus": 0},
        num_trials=trials,
        reward_attr="accuracy",
        time_attr="epoch",
        backend="thread",
        progress=False,
        search_options={"random_seed": seed},
        checkpoint=checkpoint,
        resume=resume,
        output_dir=output_dir,
        checkpoint_fsync_interval=fsync_interval,
    )
    fn = fn or train_fn
    if kind == "fifo":
        return sch.FIFOScheduler(fn, **common)
    return sch.HyperbandScheduler(
        fn,
        type=kind,
        grace_period=GRACE_PERIOD,
        reduction_factor=REDUCTION_FACTOR,
        brackets=BRACKETS,
        random_seed=seed,
        **common,
    )


def _install_hooks(snapshot_every: int) -> None:
    """Patch the journal and the results writer with the kill points (child only)."""
    import tempfile

    from scheduler.durability import journal as _journal
    from scheduler.results import export as _results

    if snapshot_every:

        def wants_snapshot(self):
            return self.seq - self._covered >= snapshot_every

        _journal.Journal.wants_snapshot = wants_snapshot

    append = _journal.Journal.append

    def append_hooked(self, event):
        if _hit("append"):
            record = {"seq": self.seq + 1, "t": round(self.elapsed(), 6), **event}
            line = _journal.encode_line(record)
            os.write(self._fd, line[: len(line) // 2])
            _die()
        return append(self, event)

    _journal.Journal.append = append_hooked

    begin = _journal.Journal.begin_snapshot

    def begin_hooked(self, state):
        pending = begin(self, state)
        if _hit("begin"):
            _die()
        return pending

    _journal.Journal.begin_snapshot = begin_hooked

    write = _journal.atomic_write_text

    def write_hooked(path, text):
        if _hit("tmp"):
            fd, _ = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path))
            os.write(fd, text.encode())
            os.fsync(fd)
            _die()
        write(path, text)
        if _hit("renamed"):
            _die()

    _journal.atomic_write_text = write_hooked

    finish = _journal.Journal.finish_snapshot

    def finish_hooked(self, pending, searcher_state=None):
        if _kill_at[0] == "final" and _FINISHING:
            _die()
        finish(self, pending, searcher_state)

    _journal.Journal.finish_snapshot = finish_hooked

    write_rows = _results.ResultsWriter._append_csv

    def write_csv_hooked(self, records):
        if _hit("csv"):
            _die()
        write_rows(self, records)

    _results.ResultsWriter._append_csv = write_csv_hooked


_FINISHING = False


def _mark_finishing(runner) -> None:
    """Make ``final`` kill only inside the snapshot of the run's end."""
    finish = runner._finish

    def finish_hooked():
        global _FINISHING
        _FINISHING = True
        finish()

    runner._finish = finish_hooked


def main(argv=None) -> int:
    global _ack_fd, _sleep, _kill_at
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=["fifo", "stopping", "promotion"])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--sleep", type=float, default=0.001)
    parser.add_argument("--snapshot-every", type=int, default=0)
    parser.add_argument("--fsync-interval", type=float, default=None)
    parser.add_argument("--kill-at", default="")
    parser.add_argument("--final", default=None)
    opts = parser.parse_args(argv)

    if opts.kill_at:
        name, _, n = opts.kill_at.partition(":")
        _kill_at = (name, int(n or 1))
    _sleep = opts.sleep
    _install_hooks(opts.snapshot_every)
    os.makedirs(opts.out, exist_ok=True)
    _ack_fd = os.open(os.path.join(opts.out, ACKS), os.O_WRONLY | os.O_APPEND | os.O_CREAT)

    s = make_scheduler(
        opts.kind,
        opts.checkpoint,
        seed=opts.seed,
        workers=opts.workers,
        trials=opts.trials,
        resume=opts.resume,
        output_dir=opts.out,
        # the runtime's loop wakes at least this often: snapshots land between reports
        fsync_interval=opts.fsync_interval
        if opts.fsync_interval is not None
        else (0.003 if opts.snapshot_every else 1.0),
    )
    if _kill_at[0] == "resumed":
        _die()
    _mark_finishing(s._runner)
    s.run()
    if not s.join_jobs(timeout=120):
        print("the run did not finish in 120 s", file=sys.stderr)
        return 2
    if opts.final:
        state = s.state_dict()
        state["best_config"] = s.get_best_config()
        state["best_reward"] = s.get_best_reward()
        tmp = opts.final + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, opts.final)
    return 0


if __name__ == "__main__":
    sys.exit(main())
