"""ConfigTable over its FlatRows kernel: compiled against the pure-Python twin, one run.

What a random searcher does per trial in a flat space of one Real: draw a config
(``table.sample``), intern it (pack, hash, probe, insert), find it again (a rung report's
``searcher.update``), and read a row back. Each backend runs in a process of its own
(``SCHEDULER_NO_EXTENSIONS=1`` for the twin); per operation the table gives µs per call
(median and p99 over batches of 1,000 calls), the longest single ``intern`` (an index
doubling; each call timed, on a second table, with the cyclic collector off) and the
compiled table's bytes per row (``ConfigTable.nbytes``: rows and index).

    python bench/rows.py                  # 10^4 and 10^6 rows, both backends
    python bench/rows.py --sizes 10000000 --backends cython
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time

from _common import load_average, results_header

BATCH = 1000


def _per_call(fn, items) -> list[float]:
    """µs per call of ``fn(item)``, one figure per batch of BATCH items."""
    clock = time.perf_counter_ns
    out = []
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        t0 = clock()
        for item in chunk:
            fn(item)
        out.append((clock() - t0) / 1e3 / len(chunk))
    return out


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(rows: int, seed: int) -> dict:
    import numpy as np

    from scheduler import kernels
    from scheduler.space import ConfigTable, Real, SearchSpace

    space = SearchSpace({"x": Real(0.0, 1.0)})
    table = ConfigTable(space, index=True)
    rng = np.random.default_rng(seed)
    clock = time.perf_counter_ns
    configs = []
    draws = []
    for start in range(0, rows, BATCH):
        n = min(BATCH, rows - start)
        t0 = clock()
        batch = [table.sample(rng) for _ in range(n)]
        draws.append((clock() - t0) / 1e3 / n)
        configs += batch
    interns = _per_call(table.intern, configs)
    # the longest single intern (an index doubling), each call timed, on a second table,
    # with the cyclic collector off: a full collection walks every config dict held here
    # (a second at 10^7), which is this benchmark's heap, not the table's pause
    longest = 0
    second = ConfigTable(space, index=True)
    gc.disable()
    try:
        for config in configs:
            t0 = clock()
            second.intern(config)
            spent = clock() - t0
            if spent > longest:
                longest = spent
    finally:
        gc.enable()
    del second
    order = rng.permutation(rows).tolist()
    probes = [configs[i] for i in order]
    finds = _per_call(table.find, probes)
    gets = _per_call(table.__getitem__, order)
    return {
        "backend": kernels.BACKEND,
        "rows": rows,
        "sample": draws,
        "intern": interns,
        "find": finds,
        "get": gets,
        "longest_intern_ms": longest / 1e6,
        # the twin models the compiled layout in nbytes; its dicts hold more
        "bytes_per_row": table.nbytes / rows if kernels.BACKEND == "cython" else None,
    }


def run(backend: str, rows: int, seed: int) -> dict:
    env = dict(os.environ)
    env.pop("SCHEDULER_NO_EXTENSIONS", None)
    if backend == "python":
        env["SCHEDULER_NO_EXTENSIONS"] = "1"
    out = subprocess.run(
        [sys.executable, __file__, "--worker", str(rows), "--seed", str(seed)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--backends", nargs="+", default=["cython", "python"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="CI: 3,000 rows")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.worker:
        print(json.dumps(measure(options.worker, options.seed)))
        return
    if options.smoke:
        options.sizes = [3000]
    print(results_header("bench/rows.py", load_average(), at_end=False))
    print(
        "| backend | rows | µs per call, median / p99 of batches: sample | intern "
        "| find | get | longest intern | bytes per row |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for rows in options.sizes:
        for backend in options.backends:
            r = run(backend, rows, options.seed)
            cells = " | ".join(
                f"{_quantile(r[op], 0.5):.3f} / {_quantile(r[op], 0.99):.3f}"
                for op in ("sample", "intern", "find", "get")
            )
            size = "—" if r["bytes_per_row"] is None else f"{r['bytes_per_row']:.1f}"
            print(
                f"| {r['backend']} | {rows:,} | {cells} | {r['longest_intern_ms']:.1f} ms "
                f"| {size} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
