"""Journal cost per event and resume time (DESIGN §6, issue 5).

A FIFOScheduler (thread backend, one worker, a no-op train_fn that reports
``--reports`` epochs per trial) runs until about N events are journaled (one ``start``,
the reports and one ``end`` per trial), for each N in ``--events`` (default 10^3,
10^4 and 10^5). Three runs per size and round:

* ``plain``: no checkpoint; ``Runner.handle_report`` timed per call (perf_counter);
* ``journaled``: ``checkpoint=`` (default fsync policy: at most once a second, from the
  runtime's thread); ``handle_report`` timed per call. The difference of the medians is
  what the journal adds on the decision path (the JSON line, written and flushed to the
  OS under the runtime's lock). Its final snapshot is skipped, as if the run had been
  killed just before it: the checkpoint it leaves is the last periodic snapshot plus
  the journal written since;
* ``parts``: ``checkpoint=``, with the journal's own methods timed instead:
  ``Journal.append`` per call, and the snapshot work in total -- building the state
  (``snapshot_state``) and ``Journal.begin_snapshot`` under the lock,
  ``Journal.finish_snapshot`` (atomic write, fsync, rename, old segments deleted) and
  ``Journal.sync`` (timed fsyncs) outside it.

**Journal cost per event** = median ``Journal.append`` + (all snapshot and fsync time) /
events: the append every event pays plus the snapshots amortized over the events, the
final snapshot included. Snapshots follow the journal's schedule (a snapshot when the
events since the last one reach max(10,000, events it covered)): each
serializes the whole state, so up to 10^4 events only the final one is taken (every
event serialized once), while at 10^5 the snapshots at about 10k, 20k, 40k, 80k events
and the final one serialize each event about 2.5 times ("snapshot bytes per event").
That factor is bounded (about 3 at most, at any size), so the figure must not grow with the
history: PASS iff it is at most 1.5x larger at the largest size than at the smallest
(printed, never asserted). The table also gives the longest time the snapshot work
held the runtime's lock (taking the state; it is serialized and written after the lock
is released) and the slowest ``handle_report``.

**Report latency under snapshots** (largest size, 2 workers, journaled): while one
task's end lets the runtime take a snapshot, the other task keeps reporting, and its
reports wait for the lock the snapshot is built under.

**Resume time** (largest size): a new scheduler with ``resume=True`` built from (a) the
``parts`` run's checkpoint (its final snapshot, nothing to replay) and (b) the
``journaled`` run's (the last periodic snapshot and the events after it replayed
through the policy).

``--repeats`` rounds run every size in turn (a noisy spell on a shared machine hits
every size); sizes below the largest get more rounds (up to 10x: their single final
snapshot, a few fsyncs on a shared disk, is spread over few events and varies run to
run). Each figure is the median over the rounds of its size; resume times are the
fastest of ``--repeats`` tries. The garbage collector stays on. Run:
``python bench/journal.py`` (full: about two minutes) or ``--smoke`` (CI: 10^3 and 10^4
events, a few seconds). Exits 0 whenever it ran.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import warnings

from _common import load_average, markdown_table, results_header

import scheduler as sch
from scheduler.durability import journal as _journal
from scheduler.durability.journal import recover

TARGET_GROWTH = 1.5


@sch.args(x=sch.space.Real(0.0, 1.0), epochs=98)
def noop_fn(args, reporter):
    for epoch in range(1, args.epochs + 1):
        reporter(epoch=epoch, accuracy=args.x * epoch / args.epochs)


def make(
    num_trials: int, reports: int, checkpoint: str | None, resume: bool = False, workers: int = 1
):
    return sch.FIFOScheduler(
        noop_fn,
        args={"epochs": reports},
        resource={"num_cpus": 1, "num_gpus": 0},
        total_resources={"num_cpus": workers, "num_gpus": 0},
        num_trials=num_trials,
        reward_attr="accuracy",
        time_attr="epoch",
        backend="thread",
        progress=False,
        search_options={"random_seed": 0},
        checkpoint=checkpoint,
        resume=resume,
    )


class Calls:
    """Per-call wall time (perf_counter) of wrapped callables."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}

    def wrap(self, name: str, fn):
        out = self.times.setdefault(name, [])
        add, clock = out.append, time.perf_counter

        def timed(*args, **kwargs):
            t0 = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                add(clock() - t0)

        return timed

    def get(self, name: str) -> list[float]:
        return self.times.get(name, [])


def _run(s, calls: Calls, *, time_reports: bool, skip_final_snapshot: bool = False) -> int:
    runner = s._runner
    if time_reports:
        runner.handle_report = calls.wrap("handle_report", runner.handle_report)
    if skip_final_snapshot:
        finish = runner._finish

        def finish_without_snapshot():
            runner.snapshot_state = None  # the run's end takes no snapshot
            finish()

        runner._finish = finish_without_snapshot
    if not time_reports and runner.snapshot_state is not None:
        runner.snapshot_state = calls.wrap("snapshot_state", runner.snapshot_state)
    s.run()
    if not s.join_jobs(timeout=3600):
        raise RuntimeError("the benchmark run did not finish")
    return s._journal.seq if s._journal is not None else 0


def _patched_journal(calls: Calls):
    """Time Journal.append / begin_snapshot / finish_snapshot / sync (class-wide)."""
    saved = {}
    for name in ("append", "begin_snapshot", "finish_snapshot", "sync"):
        saved[name] = getattr(_journal.Journal, name)
        setattr(_journal.Journal, name, calls.wrap(name, saved[name]))
    timed_finish = _journal.Journal.finish_snapshot
    sizes = calls.times.setdefault("snapshot_bytes", [])

    def finish_snapshot(self, pending, searcher_state=None):
        timed_finish(self, pending, searcher_state)
        sizes.append(os.path.getsize(self.path))

    _journal.Journal.finish_snapshot = finish_snapshot
    return saved


def _restore_journal(saved) -> None:
    for name, fn in saved.items():
        setattr(_journal.Journal, name, fn)


def one_round(events: int, reports: int, folder: str) -> dict:
    num_trials = max(1, round(events / (reports + 2)))
    out: dict = {"events_target": events}

    plain = Calls()
    _run(make(num_trials, reports, None), plain, time_reports=True)
    out["plain"] = plain.get("handle_report")

    journaled = Calls()
    ckpt_tail = os.path.join(folder, f"tail-{events}", "ckpt.json")
    _run(
        make(num_trials, reports, ckpt_tail),
        journaled,
        time_reports=True,
        skip_final_snapshot=True,
    )
    out["journaled"] = journaled.get("handle_report")
    out["ckpt_tail"] = ckpt_tail

    ckpt = os.path.join(folder, f"final-{events}", "ckpt.json")
    t0 = time.perf_counter()
    out.update(parts_run(num_trials, reports, ckpt))
    out["seconds_per_event"] = (time.perf_counter() - t0) / out["events"]
    out["ckpt"] = ckpt
    out["num_trials"] = num_trials
    return out


def parts_run(num_trials: int, reports: int, ckpt: str) -> dict:
    """A journaled run with the journal's methods timed."""
    parts = Calls()
    saved = _patched_journal(parts)
    try:
        n = _run(make(num_trials, reports, ckpt), parts, time_reports=False)
    finally:
        _restore_journal(saved)
    out = {"events": n, "append": parts.get("append")}
    snapshot_total = sum(
        sum(parts.get(name)) for name in ("snapshot_state", "begin_snapshot", "finish_snapshot")
    )
    out["snapshots"] = len(parts.get("finish_snapshot"))
    out["snapshot_bytes_per_event"] = sum(parts.get("snapshot_bytes")) / n
    out["snapshot_per_event"] = snapshot_total / n
    out["sync_per_event"] = sum(parts.get("sync")) / n
    held = [a + b for a, b in zip(parts.get("snapshot_state"), parts.get("begin_snapshot"))]
    out["lock_held_max"] = max(held) if held else 0.0
    out["cost_per_event"] = (
        statistics.median(out["append"]) + out["snapshot_per_event"] + out["sync_per_event"]
    )
    return out


def stall(events: int, reports: int, folder: str, workers: int = 2) -> list[str]:
    """Report latency while snapshots are taken, with ``workers`` tasks reporting: a
    snapshot is built under the runtime's lock, so the other tasks' reports wait."""
    num_trials = max(1, round(events / (reports + 2)))
    calls = Calls()
    s = make(num_trials, reports, os.path.join(folder, "stall", "ckpt.json"), workers=workers)
    s._runner.handle_report = calls.wrap("handle_report", s._runner.handle_report)
    s._runner.snapshot_state = calls.wrap("snapshot_state", s._runner.snapshot_state)
    saved = _patched_journal(calls)
    try:
        s.run()
        s.join_jobs(timeout=3600)
    finally:
        _restore_journal(saved)
    times = sorted(calls.get("handle_report"))
    held = [a + b for a, b in zip(calls.get("snapshot_state"), calls.get("begin_snapshot"))]
    return [
        f"{s._journal.seq:,}",
        str(workers),
        f"{statistics.median(times) * 1e6:.1f}",
        f"{times[int(0.999 * len(times))] * 1e3:.2f}",
        f"{times[-1] * 1e3:.1f}",
        str(sum(t >= 0.05 for t in times)),
        f"{max(held) * 1e3:.1f}" if held else "-",
    ]


def resume_time(ckpt: str, num_trials: int, reports: int, folder: str, name: str):
    """Seconds to build a scheduler with resume=True from a copy of ``ckpt``, and the
    number of journal events it replayed."""
    copy = os.path.join(folder, f"resume-{name}")
    os.makedirs(copy)
    target = os.path.join(copy, "ckpt.json")
    if os.path.exists(ckpt):
        shutil.copy2(ckpt, target)
    shutil.copytree(ckpt + ".journal", target + ".journal")
    replayed = len(recover(target).events)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        s = make(num_trials, reports, target, resume=True)
        seconds = time.perf_counter() - t0
    return seconds, replayed, len(s.history.rows())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, nargs="+", default=[1e3, 1e4, 1e5])
    parser.add_argument("--reports", type=int, default=98, help="reports per trial")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI")
    options = parser.parse_args(argv)
    if options.smoke:
        options.events, options.repeats = [1e3, 1e4], 1
    sizes = [int(e) for e in options.events]

    load_before = load_average()
    out: list[str] = []  # printed at the end, after the header (it has the final load)

    def emit(*parts: object) -> None:
        out.append(" ".join(str(part) for part in parts))

    emit(
        f"FIFOScheduler, thread backend, 1 worker, no-op train_fn with {options.reports} "
        f"reports per trial; kernels: {sch.KERNEL_BACKEND}; each figure is the median "
        "over the rounds of its size\n"
    )
    rounds: dict[int, list[dict]] = {n: [] for n in sizes}
    with tempfile.TemporaryDirectory(prefix="bench-journal-") as root:
        # Small sizes are cheap and their one final snapshot (a few fsyncs) weighs on
        # few events: they get more rounds, up to 10 (events x rounds <= 10 x largest).
        extra = {n: min(10, max(1, sizes[-1] // n)) for n in sizes}
        for r in range(options.repeats * max(extra.values())):
            for n in sizes:
                if r >= options.repeats * extra[n]:
                    continue
                folder = os.path.join(root, f"r{r}")
                os.makedirs(folder, exist_ok=True)
                rounds[n].append(one_round(n, options.reports, folder))

        rows, cost = [], {}
        for n in sizes:
            res = rounds[n]
            med = statistics.median
            plain = med(med(x["plain"]) for x in res)
            journaled = med(med(x["journaled"]) for x in res)
            append = med(med(x["append"]) for x in res)
            snap = med(x["snapshot_per_event"] for x in res)
            snap_bytes = res[0]["snapshot_bytes_per_event"]
            cost[n] = med(x["cost_per_event"] for x in res)
            p99 = med(sorted(x["journaled"])[int(0.99 * len(x["journaled"]))] for x in res)
            slowest = med(max(x["journaled"]) for x in res)
            held = med(x["lock_held_max"] for x in res)
            rows.append(
                [
                    f"{res[0]['events']:,}",
                    str(len(res)),
                    str(res[0]["snapshots"]),
                    f"{snap_bytes:,.0f}",
                    f"{plain * 1e6:.1f}",
                    f"{journaled * 1e6:.1f}",
                    f"{(journaled - plain) * 1e6:+.1f}",
                    f"{append * 1e6:.2f}",
                    f"{snap * 1e6:.2f}",
                    f"{cost[n] * 1e6:.2f}",
                    f"{p99 * 1e6:.0f}",
                    f"{slowest * 1e3:.1f}",
                    f"{held * 1e3:.1f}",
                ]
            )
        header = [
            "events",
            "rounds",
            "snapshots",
            "snapshot bytes per event",
            "handle_report plain (us, median)",
            "handle_report journaled (us, median)",
            "difference (us)",
            "Journal.append (us, median)",
            "snapshots + fsync per event (us)",
            "journal cost per event (us)",
            "journaled p99 (us)",
            "journaled max (ms)",
            "snapshot lock hold max (ms)",
        ]
        emit(markdown_table(header, rows, right=set(range(len(header)))))

        largest = sizes[-1]
        last = rounds[largest][-1]
        emit()
        resume_rows = []
        for label, ckpt in (
            ("final snapshot", last["ckpt"]),
            ("killed before the final snapshot", last["ckpt_tail"]),
        ):
            best = None
            for i in range(max(1, options.repeats)):
                seconds, replayed, history_rows = resume_time(
                    ckpt, last["num_trials"], options.reports, root, f"{label[:6]}-{i}"
                )
                best = seconds if best is None else min(best, seconds)
            resume_rows.append(
                [f"{last['events']:,}", label, f"{replayed:,}", f"{history_rows:,}", f"{best:.3f}"]
            )
        emit(
            markdown_table(
                ["run events", "checkpoint", "events replayed", "history rows", "resume (s)"],
                resume_rows,
                right={0, 2, 3, 4},
            )
        )

        emit()
        emit(
            markdown_table(
                [
                    "events",
                    "workers",
                    "handle_report (us, median)",
                    "p99.9 (ms)",
                    "max (ms)",
                    "reports >= 50 ms",
                    "snapshot lock hold max (ms)",
                ],
                [stall(largest, options.reports, root)],
                right=set(range(7)),
            )
        )

    growth = cost[largest] / cost[sizes[0]]
    verdict = "PASS" if growth <= TARGET_GROWTH else "MISS"
    med = statistics.median
    appends = {n: med(med(x["append"]) for x in rounds[n]) for n in sizes}
    emit(
        f"\nJournal.append alone, {largest:,} vs {sizes[0]:,} events: "
        f"{appends[largest] / appends[sizes[0]]:.2f}x"
    )
    emit(
        f"journal cost per event, {largest:,} vs {sizes[0]:,} events: {growth:.2f}x "
        f"(target <= {TARGET_GROWTH}x): {verdict}"
    )
    print("# Journal cost per event and resume time\n")
    print(results_header("bench/journal.py", load_before))
    print()
    print("\n".join(out))


if __name__ == "__main__":
    main()
