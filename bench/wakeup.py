"""Wake-up cost: the same work takes longer right after its thread slept.

Why ``bench/overhead.py``'s report round trip grows with the epoch length although the
work per report does not. Two probes, each a median per sleep length (``--sleep-ms``,
default 0, 1, 3 and 10 ms):

* ``handle_report``: FIFOScheduler on the thread backend, 2 workers, ``--trials``
  trials whose train_fn sleeps that long before each of its 9 reports. The runtime's
  ``handle_report`` (the whole decision on one report) is timed per call with
  ``perf_counter`` by wrapping the bound method: the same code on the same data each
  time, run by a thread that has just woken up.
* socket ping-pong: a child process echoes one byte over a ``socketpair``; the parent
  sleeps that long, sends a byte and waits for the echo (``--pings`` round trips, after
  20 untimed ones). This is the wake-up a process-backend report pays twice (the
  driver's I/O thread, then the worker), without any of the scheduler's code.

Run: ``python bench/wakeup.py`` (a few seconds to a minute) or ``--smoke`` (CI).
Exits 0 whenever it ran; no figure is asserted.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import statistics
import sys
import time

from _common import load_average, markdown_table, results_header

import scheduler as sch

REPORTS = 9


@sch.args(sleep_s=0.0, x=sch.space.Real(0.0, 1.0))
def sleepy_fn(args, reporter):
    for epoch in range(1, REPORTS + 1):
        if args.sleep_s:
            time.sleep(args.sleep_s)
        reporter(epoch=epoch, accuracy=args.x)


def handle_report_us(sleep_ms: float, trials: int) -> tuple[float, int]:
    """(median handle_report in us, number of calls timed) for one sleep length."""
    s = sch.FIFOScheduler(
        sleepy_fn,
        args={"sleep_s": sleep_ms / 1000.0},
        resource={"num_cpus": 1, "num_gpus": 0},
        total_resources={"num_cpus": 2, "num_gpus": 0},
        num_trials=trials,
        reward_attr="accuracy",
        time_attr="epoch",
        backend="thread",
        progress=False,
    )
    runner = s._ensure_runner()
    inner = runner.handle_report
    samples: list[int] = []
    clock = time.perf_counter_ns

    def timed(task_id, result):
        t0 = clock()
        try:
            return inner(task_id, result)
        finally:
            samples.append(clock() - t0)

    # an instance attribute shadows the method: the backend binds it at start()
    runner.handle_report = timed
    s.run()
    if not s.join_jobs(timeout=600):
        raise RuntimeError("the run did not finish within 10 minutes")
    if len(samples) != trials * REPORTS:
        raise RuntimeError(f"timed {len(samples)} reports, expected {trials * REPORTS}")
    return statistics.median(samples) / 1e3, len(samples)


def _echo(conn: socket.socket) -> None:
    while True:
        data = conn.recv(1)
        if not data:
            return
        conn.sendall(data)


def ping_pong_us(sleep_ms: float, pings: int) -> float:
    """Median round trip (us) of one byte to an echoing child process after a sleep."""
    parent, child = socket.socketpair()
    process = multiprocessing.get_context("spawn").Process(target=_echo, args=(child,))
    process.start()
    child.close()
    try:
        samples = []
        for i in range(pings + 20):
            if sleep_ms:
                time.sleep(sleep_ms / 1000.0)
            t0 = time.perf_counter_ns()
            parent.sendall(b"x")
            if parent.recv(1) != b"x":
                raise RuntimeError("the echo process answered something else")
            if i >= 20:  # the first ones warm up the child
                samples.append(time.perf_counter_ns() - t0)
    finally:
        parent.close()
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
    return statistics.median(samples) / 1e3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sleep-ms", type=float, nargs="+", default=[0.0, 1.0, 3.0, 10.0])
    parser.add_argument("--trials", type=int, default=200, help="trials per sleep length")
    parser.add_argument("--pings", type=int, default=500, help="round trips per sleep length")
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI")
    options = parser.parse_args(argv)
    if options.smoke:
        options.sleep_ms, options.trials, options.pings = [0.0, 1.0], 4, 20
    load_before = load_average()
    handle_report_us(0.0, 4)  # warm-up: imports, code paths
    rows = []
    for sleep_ms in options.sleep_ms:
        median, calls = handle_report_us(sleep_ms, options.trials)
        ping = ping_pong_us(sleep_ms, options.pings)
        rows.append([f"{sleep_ms:g} ms", f"{median:.1f}", f"{calls:,}", f"{ping:.1f}"])
        print(f"  sleep {sleep_ms:g} ms: {rows[-1]}", file=sys.stderr, flush=True)
    print("# Wake-up cost\n")
    print(results_header("bench/wakeup.py", load_before))
    print()
    print(
        f"handle_report: FIFOScheduler, thread backend, 2 workers, {options.trials} trials "
        f"x {REPORTS} reports per row, the train_fn sleeping before each report; median "
        f"per call. Ping-pong: one byte to an echoing child process and back after the "
        f"sleep, median of {options.pings} round trips."
    )
    print()
    header = ["sleep before", "handle_report (us, median)", "reports timed", "ping-pong (us)"]
    print(markdown_table(header, rows, right={1, 2, 3}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
