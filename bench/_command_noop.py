"""The program of bench/overhead.py's ``command`` rows: a Python script that imports only
``scheduler.report`` and reports 9 no-op epochs (not a benchmark itself)."""

import time

first_line = time.time()  # before any import: the interpreter has started

import sys  # noqa: E402

import scheduler  # noqa: E402

ready = time.time()  # scheduler.report is importable: the program can report
x = float(sys.argv[sys.argv.index("--x") + 1])
epoch_s = float(sys.argv[sys.argv.index("--epoch_s") + 1])
rt_prev = None
for epoch in range(1, 10):
    if epoch_s:
        time.sleep(epoch_s)
    t0 = time.perf_counter()
    scheduler.report(
        epoch=epoch,
        accuracy=x,
        entered_wall=ready,
        first_line_wall=first_line,
        inside=time.perf_counter() - t0,
        rt_prev=rt_prev,
    )
    rt_prev = time.perf_counter() - t0
