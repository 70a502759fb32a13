"""Helpers shared by the benchmarks in ``bench/`` (not a benchmark: CI does not run it)."""

from __future__ import annotations

import contextlib
import datetime
import gc
import importlib.metadata
import os
import platform
import re
import shlex
import statistics
import sys
import time
from collections.abc import Sequence


def rss_bytes() -> int:
    """Resident set size of this process now, in bytes.

    Reads ``/proc/self/statm`` (Linux). Elsewhere falls back to the PEAK resident size
    from :func:`resource.getrusage`, which is only honest while memory grows.
    """
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def clock_overhead_ns(samples: int = 20_000) -> float:
    """Median cost of one ``t0 = perf_counter_ns(); t1 = perf_counter_ns()`` pair."""
    clock = time.perf_counter_ns
    gaps = []
    for _ in range(samples):
        t0 = clock()
        t1 = clock()
        gaps.append(t1 - t0)
    return float(statistics.median(gaps))


def block_overhead_ns(samples: int = 5_000) -> tuple[float, float]:
    """Median (CPU, wall) cost of an empty block timed as the benchmarks time a batch.

    The block is ``cpu0, wall0 = thread_time_ns(), perf_counter_ns()`` then
    ``wall1, cpu1 = perf_counter_ns(), thread_time_ns()``.
    """
    cpu_gaps, wall_gaps = [], []
    for _ in range(samples):
        cpu0, wall0 = time.thread_time_ns(), time.perf_counter_ns()
        wall1, cpu1 = time.perf_counter_ns(), time.thread_time_ns()
        cpu_gaps.append(cpu1 - cpu0)
        wall_gaps.append(wall1 - wall0)
    return float(statistics.median(cpu_gaps)), float(statistics.median(wall_gaps))


@contextlib.contextmanager
def gc_off():
    """Disable the cyclic garbage collector for the block (as :mod:`timeit` does)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def cpu_model() -> str:
    """The processor's model name, from ``/proc/cpuinfo`` when there is one."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    """One line naming the processor, CPU count and OS."""
    return f"{cpu_model()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


def kernels_line() -> str:
    """Which rung kernels are live, and the Cython release that built the compiled ones.

    The Cython version is read from the compiled module itself (Cython 3 names its
    shared types module ``_cython_X_Y_Z`` inside every extension it generates), so it is
    the build's, not whichever Cython happens to be installed now.
    """
    from scheduler import kernels

    if kernels.BACKEND != "cython":
        return "kernels: the pure-Python twins (SCHEDULER_NO_EXTENSIONS=1)"
    from scheduler._rungs import stopping

    try:
        with open(stopping.__file__, "rb") as module_file:
            found = re.search(rb"_cython_(\d+)_(\d+)_(\d+)", module_file.read())
    except OSError:
        found = None
    built = ".".join(part.decode() for part in found.groups()) if found else "unknown"
    return f"kernels: compiled (scheduler._rungs, built with Cython {built})"


def versions_line(extra: Sequence[str] = ()) -> str:
    """Python, numpy, Cython (installed), the kernels, and any ``extra`` entries."""
    import numpy

    try:
        cython = importlib.metadata.version("Cython")
    except importlib.metadata.PackageNotFoundError:
        cython = "not installed"
    parts = [f"Python {platform.python_version()}", f"numpy {numpy.__version__}"]
    parts += [f"Cython {cython}", kernels_line(), *extra]
    return ", ".join(parts)


def results_header(
    script: str,
    load_before: str,
    extra_versions: Sequence[str] = (),
    *,
    at_end: bool = True,
) -> str:
    """The header every results file starts with, printed by the benchmark itself.

    ``load_before`` is :func:`load_average` taken when the run started; with ``at_end``
    (a header printed after the run) the load now is given too. Returns markdown (a
    bullet list).
    """
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = f"{load_before} at the start"
    if at_end:
        load += f", {load_average()} at the end"
    return "\n".join(
        [
            f"- Command: `{command_line(script)}`",
            f"- Date: {now}",
            f"- Machine: {machine_line()}",
            f"- Versions: {versions_line(extra_versions)}",
            f"- Load average (1/5/15 min): {load} (a shared machine: figures taken above "
            "1 per CPU are noisy)",
        ]
    )


def load_average() -> str:
    """The 1/5/15-minute load averages, or "n/a"."""
    try:
        return "/".join(f"{value:.2f}" for value in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


def command_line(script: str) -> str:
    """How this benchmark was invoked, e.g. ``python bench/rungs.py --smoke``."""
    return shlex.join(["python", script, *sys.argv[1:]])


def markdown_table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    """A padded markdown table; the columns whose index is in ``right`` align right."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]

    def line(cells) -> str:
        padded = [
            str(cell).rjust(width) if i in right else str(cell).ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(
        "-" * (width + 1) + ":" if i in right else "-" * (width + 2)
        for i, width in enumerate(widths)
    )
    return "\n".join([line(header), rule + "|", *(line(row) for row in rows)])
