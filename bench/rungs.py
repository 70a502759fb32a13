"""Rung kernels: microseconds per stopping decision and per promotion selection, bytes per entry.

One rung (rung 0 of levels [1, 3], quantile 1/3, mode "max"; max_t 9 for promotion) holds
n = 10**3 .. 10**6 entries before timing starts; each timed decision records one more
entry (a new task or config, a seeded random reward) and decides.

* Stopping: ``StoppingRungs.on_report`` called per report and ``on_reports`` in batches
  (compiled), the pure-Python twin (``scheduler.kernels.twins``), and the strategies of
  five peer releases, each re-implemented in ``bench/_rung_peers.py`` from the release's source
  (file and function named there): Ray Tune 2.60.0 (``np.nanpercentile`` of a list made
  from the rung's dict, per decision), AutoGluon 0.3.1 (``np.percentile`` likewise),
  Syne Tune 0.13.0 (a ``sortedcontainers.SortedList`` rung, O(log n)), Syne Tune 0.16.0
  (its ASHA: sort every recorded value per decision) and Optuna 5.0.0 (the
  SuccessiveHalvingPruner: collect and sort every trial's rung value per call).
  ``--peers`` also times the installed peers' own classes (Ray Tune's ``_Bracket``,
  Syne Tune's ``asha.Bracket``, Optuna's ``SuccessiveHalvingPruner``), each skipped with
  a message when its package is absent (``pip install "scheduler[peers]"``).
* Promotion selection: each step registers and reports a new config, then calls
  ``promote()``, timed per call; calls that find a config and calls that find none are
  reported apart. Two scenarios: "steady state" (random rewards, the rung grown report by
  report with promote() drained after each: with i.i.d. rewards ``on_report`` promotes at
  once and promote() almost always finds nothing) and "backlog" (n entries reported in
  descending order without promote(), so n/3 wait promotable; each step reports a reward
  below all of them: every promote() finds one). Compiled, twin, and two peer strategies:
  Syne Tune 0.13.0 (walk its SortedList from the best entry to the first one not
  promoted) and AutoGluon 0.3.1 (``heapq.nlargest`` of the whole rung per selection).
* Snapshots: ``copy()`` against ``state_dict()`` of a rung system holding n entries (what
  the runtime can do under its lock: copy there, call ``state_dict()`` on the copy after),
  compiled and twin, timed per call (wall clock); each copy is dropped before the next
  call, as a snapshot is, so its memory is reused: the first call (fresh pages) is shown
  apart.
* Memory: bytes per recorded entry of both compiled rung systems, from the RSS growth of a
  fresh subprocess while n entries go into a fresh object (baseline subtracted), cross-checked
  with tracemalloc (which sees the kernels' PyMem_Raw memory); the twins with tracemalloc.

Method: a registry of implementations x sizes. The rung is filled untimed (batch API or
state_dict); a warm-up run is discarded, then ``--repeats`` runs, each timing K decisions;
the table gives the median and the min over runs of the mean time per decision. While
timed the rung grows by at most 10% of n (it is rebuilt, untimed, when it would grow more),
and the garbage collector is off. Implementations that need over ~1 s for K decisions
(the O(n) ones at large n) time fewer decisions, as the table says, and are skipped when one
size would take over ~20 s. Stopping decisions are timed per batch with the thread's CPU
time (so a shared machine's preemptions do not count; the wall-clock median is printed
too), the Python loop included. ``promote()`` (and Optuna's own ``prune()``, whose
``ask()``/``report()`` are not timed) is timed per call with ``perf_counter_ns``, its
overhead subtracted, calls that took over 20 us and 100x the median call dropped as
preemptions (and counted). The results header (command, date, machine, versions of
Python, numpy, Cython and the peers, load average) is printed by the run itself.

Run: ``python bench/rungs.py`` (full, several minutes; ``--peers`` adds the peers' own
classes; ``--output FILE`` also writes the report there) or ``python bench/rungs.py
--smoke`` (CI: n = 10**3, one run, seconds); ``--workloads snapshot`` (any of stopping,
promotion, snapshot, memory) measures only those.
There is no timing assertion: the run exits 0 whenever it ran, and 1 when the compiled
kernels cannot be loaded (unless ``SCHEDULER_NO_EXTENSIONS=1`` asks for the twins only).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import _rung_peers as rung_peers
import numpy as np
from _common import (
    block_overhead_ns,
    clock_overhead_ns,
    gc_off,
    load_average,
    markdown_table,
    results_header,
    rss_bytes,
)

from scheduler.kernels import twins as twin

LEVELS = [1, 3]
QUANTILES = [1 / 3, 1 / 3]  # rung_levels(1, 3, 9): levels [1, 3], max_t 9
MAX_T = 9
MODE = "max"

SIZES = [10**3, 10**4, 10**5, 10**6]
DECISIONS = 10_000  # K per run for the fast implementations
MIN_DECISIONS = 20  # the fewest decisions a slow implementation times per run
RUN_BUDGET_S = 1.0  # a slow implementation times about this long per run
SKIP_AFTER_S = 20.0  # skip an implementation at a size that would take longer
MAX_GROWTH = 0.1  # the rung grows by at most this fraction of n while timed
PREEMPTION_NS = 20_000  # a timed promote() call longer than this (and 100x its median)


# --------------------------------------------------------------------------- backends


def load_compiled():
    """``(StoppingRungs, PromotionRungs)`` compiled, or None under SCHEDULER_NO_EXTENSIONS=1.

    Raises ImportError (from :mod:`scheduler.kernels`) when the compiled kernels are
    missing and the variable is not set.
    """
    from scheduler import kernels as _kernels

    if _kernels.BACKEND != "cython":
        return None
    return _kernels.StoppingRungs, _kernels.PromotionRungs


def module_stamps(compiled) -> dict[str, str]:
    """SHA-256 of the compiled modules' files, to notice a different build mid-run."""
    if not compiled:
        return {}
    stamps = {}
    for cls in compiled:
        path = sys.modules[cls.__module__].__file__
        with open(path, "rb") as module_file:
            stamps[path] = hashlib.sha256(module_file.read()).hexdigest()
    return stamps


def is_compiled(obj) -> bool:
    return type(obj).__module__.startswith("scheduler._rungs.")


def qualified_name(obj) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


# --------------------------------------------------------------------------- peers
# The peers' strategies and own classes live in bench/_rung_peers.py (each docstring names
# the release, file and function it follows).


# --------------------------------------------------------------------------- workloads


class Skip(Exception):
    """This implementation cannot be measured at this size; the message says why."""


class Fill:
    """The n rewards recorded at rung 0 before timing, and rungs holding them."""

    def __init__(self, n: int, seed: int, compiled):
        self.n = n
        self.rewards = np.random.default_rng([seed, n]).random(n)
        self.compiled = compiled
        self._stopping_state = None
        self._promotion_state = None
        self._backlog_state = None

    def stopping_state(self) -> dict:
        """A StoppingRungs state_dict (the format both backends load) holding the fill."""
        if self._stopping_state is None:
            self._stopping_state = {
                "kind": "StoppingRungs",
                "version": twin.STATE_VERSION,
                "levels": list(LEVELS),
                "quantiles": list(QUANTILES),
                "mode": MODE,
                "rungs": [{"rewards": self.rewards.tolist()}]
                + [{"rewards": []} for _ in LEVELS[1:]],
                "tasks": {"task_ids": list(range(self.n)), "rungs": [0] * self.n},
            }
        return self._stopping_state

    def promotion_state(self) -> dict:
        """The state_dict of a PromotionRungs grown report by report to n entries.

        Grown with the compiled kernel (or the twin when it is not loaded), calling
        promote() after each report until it finds nothing: the ASHA steady state.
        """
        if self._promotion_state is None:
            if not self.compiled and self.n > 10**5:
                raise Skip("skipped (no compiled kernel to grow the rung fast)")
            cls = self.compiled[1] if self.compiled else twin.PromotionRungs
            rungs = cls(LEVELS, QUANTILES, MAX_T, MODE)
            grow_promotion(rungs, range(self.n), self.rewards.tolist())
            self._promotion_state = rungs.state_dict()
        return self._promotion_state

    def backlog_rewards(self) -> np.ndarray:
        """The fill as rewards in [1, 2), descending: above every reward of the stream."""
        return 1.0 + np.sort(self.rewards)[::-1]

    def backlog_state(self) -> dict:
        """A PromotionRungs state_dict: the backlog rewards reported in order, no promote().

        Each report was the worst so far, so none was promoted: all n entries wait and
        the best n // 3 are promotable. Every config's next milestone is levels[1].
        """
        if self._backlog_state is None:
            n = self.n
            self._backlog_state = {
                "kind": "PromotionRungs",
                "version": twin.STATE_VERSION,
                "levels": list(LEVELS),
                "quantiles": list(QUANTILES),
                "max_t": MAX_T,
                "mode": MODE,
                "rungs": [
                    {
                        "rewards": self.backlog_rewards().tolist(),
                        "config_ids": list(range(n)),
                        "promoted": [False] * n,
                    }
                ]
                + [{"rewards": [], "config_ids": [], "promoted": []} for _ in LEVELS[1:]],
                "milestones": {"config_ids": list(range(n)), "levels": [LEVELS[1]] * n},
            }
        return self._backlog_state


def grow_promotion(rungs, config_ids, rewards) -> None:
    """Register and report each config at level 1, draining promote() after each report."""
    add, report, promote = rungs.add, rungs.on_report, rungs.promote
    for config_id, reward in zip(config_ids, rewards):
        add(config_id)
        report(config_id, 1, reward)
        while promote() is not None:
            pass


@dataclass
class Batch:
    """Decisions timed in one go: new task / config ids and their rewards."""

    ids: list[int]
    rewards: list[float]

    def arrays(self):
        ids = np.asarray(self.ids, dtype=np.int64)
        return ids, np.ones_like(ids), np.asarray(self.rewards, dtype=np.float64)


@dataclass
class Timing:
    """Timed decisions of one kind, summed over batches."""

    seconds: float = 0.0  # the figure reported: thread CPU time, or per-call wall time
    count: int = 0  # decisions timed (dropped calls not counted)
    wall: float = 0.0  # wall-clock seconds of the same decisions
    batches: int = 0  # block-timed batches (each pays the timer overhead once)
    dropped: int = 0  # per-call times dropped as preemptions

    def __iadd__(self, other: Timing) -> Timing:
        self.seconds += other.seconds
        self.count += other.count
        self.wall += other.wall
        self.batches += other.batches
        self.dropped += other.dropped
        return self


def run_report_calls(rungs, batch: Batch) -> dict[str, Timing]:
    """One ``on_report`` call per decision, the batch timed as a whole (loop included)."""
    report = rungs.on_report
    ids, rewards = batch.ids, batch.rewards
    cpu0, wall0 = time.thread_time_ns(), time.perf_counter_ns()
    for task_id, reward in zip(ids, rewards):
        report(task_id, 1, reward)
    wall1, cpu1 = time.perf_counter_ns(), time.thread_time_ns()
    return {"decision": Timing((cpu1 - cpu0) * 1e-9, len(ids), (wall1 - wall0) * 1e-9, 1)}


def run_report_batch(rungs, batch: Batch) -> dict[str, Timing]:
    """One ``on_reports`` call for the whole batch (array conversion included)."""
    ids, times, rewards = batch.arrays()
    cpu0, wall0 = time.thread_time_ns(), time.perf_counter_ns()
    rungs.on_reports(ids, times, rewards)
    wall1, cpu1 = time.perf_counter_ns(), time.thread_time_ns()
    return {"decision": Timing((cpu1 - cpu0) * 1e-9, len(ids), (wall1 - wall0) * 1e-9, 1)}


def per_call_timing(samples: list[int]) -> Timing:
    """Sum per-call times (ns), dropping preemptions: calls over PREEMPTION_NS and 100x
    the median call (no promote() does that much more work than its median call)."""
    if not samples:
        return Timing()
    limit = max(PREEMPTION_NS, 100 * statistics.median(samples))
    kept = [sample for sample in samples if sample <= limit]
    seconds = sum(kept) * 1e-9
    return Timing(seconds, len(kept), seconds, 0, len(samples) - len(kept))


def run_promotion_steps(rungs, batch: Batch) -> dict[str, Timing]:
    """Per step: add + on_report a new config (untimed), then one promote() timed per call."""
    add, report, promote = rungs.add, rungs.on_report, rungs.promote
    clock = time.perf_counter_ns
    found, none = [], []
    for config_id, reward in zip(batch.ids, batch.rewards):
        add(config_id)
        report(config_id, 1, reward)
        t0 = clock()
        result = promote()
        t1 = clock()
        (none if result is None else found).append(t1 - t0)
    return {"finds one": per_call_timing(found), "finds none": per_call_timing(none)}


def build_compiled_stopping(fill: Fill):
    rungs = fill.compiled[0](LEVELS, QUANTILES, MODE)
    ids = np.arange(fill.n, dtype=np.int64)
    rungs.on_reports(ids, np.ones_like(ids), fill.rewards)
    return rungs


def build_compiled_steady(fill: Fill):
    rungs = fill.compiled[1](LEVELS, QUANTILES, MAX_T, MODE)
    grow_promotion(rungs, range(fill.n), fill.rewards.tolist())
    return rungs


def build_compiled_backlog(fill: Fill):
    rungs = fill.compiled[1](LEVELS, QUANTILES, MAX_T, MODE)
    add, report = rungs.add, rungs.on_report
    for config_id, reward in enumerate(fill.backlog_rewards().tolist()):
        add(config_id)
        report(config_id, 1, reward)
    return rungs


def build_twin_steady(fill: Fill):
    return twin.PromotionRungs.from_state_dict(fill.promotion_state())


def build_twin_backlog(fill: Fill):
    return twin.PromotionRungs.from_state_dict(fill.backlog_state())


def _promotion_rung(state: dict) -> tuple[list, list, list]:
    rung = state["rungs"][0]
    return rung["config_ids"], rung["rewards"], rung["promoted"]


def build_syne_sorted_steady(fill: Fill):
    return rung_peers.SyneTuneSortedPromotion(
        *_promotion_rung(fill.promotion_state()), prom_quant=QUANTILES[0], level=LEVELS[0]
    )


def build_syne_sorted_backlog(fill: Fill):
    return rung_peers.SyneTuneSortedPromotion(
        *_promotion_rung(fill.backlog_state()), prom_quant=QUANTILES[0], level=LEVELS[0]
    )


def build_autogluon_steady(fill: Fill):
    return rung_peers.AutoGluonPromotion(
        *_promotion_rung(fill.promotion_state()), prom_quant=QUANTILES[0], level=LEVELS[0]
    )


def build_autogluon_backlog(fill: Fill):
    return rung_peers.AutoGluonPromotion(
        *_promotion_rung(fill.backlog_state()), prom_quant=QUANTILES[0], level=LEVELS[0]
    )


def run_prepared_calls(rungs, batch: Batch) -> dict[str, Timing]:
    """Per decision: ``rungs.prepare(id, reward)`` (untimed) gives the call to time."""
    clock = time.perf_counter_ns
    samples = []
    for task_id, reward in zip(batch.ids, batch.rewards):
        call = rungs.prepare(task_id, reward)
        t0 = clock()
        call()
        t1 = clock()
        samples.append(t1 - t0)
    return {"decision": per_call_timing(samples)}


@dataclass(frozen=True)
class Impl:
    """An implementation of a workload: how to fill a rung, how to time decisions."""

    name: str
    workload: str  # "stopping" or "promotion"
    build: Callable[[Fill], Any]
    run: Callable[[Any, Batch], dict[str, Timing]]
    compiled: bool = False
    per_call_timer: bool = False  # subtract the perf_counter_ns overhead per decision
    scenario: str = ""  # promotion: "steady state" or "backlog"
    peer: bool = False  # times a peer's own installed class (--peers)
    max_n: int | None = None  # larger rungs are not measured (the message says why)
    skip_note: str = ""

    @property
    def categories(self) -> list[str]:
        if self.workload == "stopping":
            return ["decision"]
        if self.scenario == "backlog":
            return ["finds one"]
        return ["finds none", "finds one"]


IMPLEMENTATIONS = [
    Impl(
        "compiled on_report",
        "stopping",
        build_compiled_stopping,
        run_report_calls,
        compiled=True,
    ),
    Impl(
        "compiled on_reports (batch)",
        "stopping",
        build_compiled_stopping,
        run_report_batch,
        compiled=True,
    ),
    Impl(
        "twin on_report",
        "stopping",
        lambda fill: twin.StoppingRungs.from_state_dict(fill.stopping_state()),
        run_report_calls,
    ),
    Impl(
        f"{rung_peers.RAY_STRATEGY} strategy: np.nanpercentile(list(dict.values()))",
        "stopping",
        lambda fill: rung_peers.RayTuneStopping(fill.rewards.tolist()),
        run_report_calls,
    ),
    Impl(
        f"{rung_peers.AUTOGLUON_STRATEGY} strategy: np.percentile(list(dict.values()))",
        "stopping",
        lambda fill: rung_peers.AutoGluonStopping(fill.rewards.tolist(), QUANTILES[0]),
        run_report_calls,
    ),
    Impl(
        f"{rung_peers.SYNE_TUNE_SORTED} strategy: SortedList rung",
        "stopping",
        lambda fill: rung_peers.SyneTuneSortedStopping(fill.rewards.tolist(), QUANTILES[0]),
        run_report_calls,
    ),
    Impl(
        f"{rung_peers.SYNE_TUNE_ASHA} strategy: sort all values per decision",
        "stopping",
        lambda fill: rung_peers.SyneTuneAshaStopping(fill.rewards.tolist()),
        run_report_calls,
    ),
    Impl(
        f"{rung_peers.OPTUNA_STRATEGY} strategy: SHA pruner, sort all trials",
        "stopping",
        lambda fill: rung_peers.OptunaPruning(fill.rewards.tolist()),
        run_report_calls,
    ),
    Impl(
        f"Ray Tune {rung_peers.installed_version('ray')} own class: _Bracket.on_result",
        "stopping",
        lambda fill: rung_peers.RayTuneOwn(fill.rewards.tolist()),
        run_report_calls,
        peer=True,
    ),
    Impl(
        f"Syne Tune {rung_peers.installed_version('syne-tune')} own class: asha.Bracket.on_result",
        "stopping",
        lambda fill: rung_peers.SyneTuneOwn(fill.rewards.tolist()),
        run_report_calls,
        peer=True,
    ),
    Impl(
        f"Optuna {rung_peers.installed_version('optuna')} own class: SuccessiveHalvingPruner.prune",
        "stopping",
        lambda fill: rung_peers.OptunaOwn(fill.rewards.tolist()),
        run_prepared_calls,
        per_call_timer=True,
        peer=True,
        max_n=10**5,
        skip_note="a study of 1e6 trials takes minutes and GBs to build",
    ),
    Impl(
        "compiled promote()",
        "promotion",
        build_compiled_steady,
        run_promotion_steps,
        compiled=True,
        per_call_timer=True,
        scenario="steady state",
    ),
    Impl(
        "twin promote()",
        "promotion",
        build_twin_steady,
        run_promotion_steps,
        per_call_timer=True,
        scenario="steady state",
    ),
    Impl(
        f"{rung_peers.SYNE_TUNE_SORTED} strategy: SortedList, walk to first unpromoted",
        "promotion",
        build_syne_sorted_steady,
        run_promotion_steps,
        per_call_timer=True,
        scenario="steady state",
    ),
    Impl(
        f"{rung_peers.AUTOGLUON_STRATEGY} strategy: heapq.nlargest of the rung",
        "promotion",
        build_autogluon_steady,
        run_promotion_steps,
        per_call_timer=True,
        scenario="steady state",
    ),
    Impl(
        "compiled promote()",
        "promotion",
        build_compiled_backlog,
        run_promotion_steps,
        compiled=True,
        per_call_timer=True,
        scenario="backlog",
    ),
    Impl(
        "twin promote()",
        "promotion",
        build_twin_backlog,
        run_promotion_steps,
        per_call_timer=True,
        scenario="backlog",
    ),
    Impl(
        f"{rung_peers.SYNE_TUNE_SORTED} strategy: SortedList, walk to first unpromoted",
        "promotion",
        build_syne_sorted_backlog,
        run_promotion_steps,
        per_call_timer=True,
        scenario="backlog",
    ),
    Impl(
        f"{rung_peers.AUTOGLUON_STRATEGY} strategy: heapq.nlargest of the rung",
        "promotion",
        build_autogluon_backlog,
        run_promotion_steps,
        per_call_timer=True,
        scenario="backlog",
    ),
]


# --------------------------------------------------------------------------- timing


@dataclass
class Settings:
    decisions: int
    repeats: int
    budget_s: float
    probe_s: float
    call_overhead_ns: float  # a perf_counter_ns pair, subtracted per timed call
    block_cpu_overhead_ns: float  # the clocks around a block-timed batch: CPU time
    block_wall_overhead_ns: float  # and wall time, subtracted per batch


@dataclass
class Result:
    impl: Impl
    n: int
    category: str  # "decision", "finds one", "finds none"
    per_run_s: list[float] = field(default_factory=list)  # mean seconds per decision
    wall_per_run_s: list[float] = field(default_factory=list)  # the same, wall clock
    counts: list[int] = field(default_factory=list)  # decisions of this category per run
    dropped: list[int] = field(default_factory=list)  # calls dropped as preemptions per run
    timed: int = 0  # decisions (steps) per run
    skipped: str = ""
    backend: str = ""

    @property
    def median_us(self) -> float:
        values = [v for v in self.per_run_s if not math.isnan(v)]
        return statistics.median(values) * 1e6 if values else math.nan

    @property
    def wall_median_us(self) -> float:
        values = [v for v in self.wall_per_run_s if not math.isnan(v)]
        return statistics.median(values) * 1e6 if values else math.nan

    @property
    def min_us(self) -> float:
        values = [v for v in self.per_run_s if not math.isnan(v)]
        return min(values) * 1e6 if values else math.nan


class Timer:
    """Times decisions of one implementation on a rung holding about n entries."""

    def __init__(self, impl: Impl, fill: Fill, stream: list[float]):
        self.impl = impl
        self.fill = fill
        self.stream = stream
        self.growth = max(1, int(fill.n * MAX_GROWTH))
        start = time.perf_counter()
        self.rungs = impl.build(fill)
        self.build_s = time.perf_counter() - start
        self.grown = 0

    def time(self, count: int) -> dict[str, Timing]:
        """Time ``count`` decisions, rebuilding the rung (untimed) before it grows too much."""
        totals: dict[str, Timing] = {}
        done = 0
        while done < count:
            size = min(count - done, self.growth)
            if self.grown + size > self.growth:
                self.rungs = self.impl.build(self.fill)
                self.grown = 0
            first = self.fill.n + self.grown
            offset = done % len(self.stream)
            rewards = self.stream[offset : offset + size]
            rewards += self.stream[: size - len(rewards)]
            batch = Batch(list(range(first, first + size)), rewards)
            with gc_off():
                out = self.impl.run(self.rungs, batch)
            for category, timing in out.items():
                totals.setdefault(category, Timing())
                totals[category] += timing
            self.grown += size
            done += size
        return totals


def measure(impl: Impl, fill: Fill, stream: list[float], settings: Settings) -> list[Result]:
    """Warm up, then time ``settings.repeats`` runs; one Result per decision category."""
    results = [Result(impl, fill.n, category) for category in impl.categories]
    if impl.max_n is not None and fill.n > impl.max_n:
        for result in results:
            result.skipped = f"skipped (n > {fmt_n(impl.max_n)}: {impl.skip_note})"
        return results
    try:
        timer = Timer(impl, fill, stream)
    except (Skip, rung_peers.Missing) as skip:
        for result in results:
            result.skipped = str(skip)
        return results
    for result in results:
        result.backend = qualified_name(timer.rungs)
    if impl.compiled and not is_compiled(timer.rungs):
        raise RuntimeError(f"{impl.name}: expected a compiled kernel, timed {results[0].backend}")
    # Probe (also a first warm-up): doubling counts until probe_s, to size the runs.
    probed, elapsed, count = 0, 0.0, 1
    while elapsed < settings.probe_s and probed < min(settings.decisions, timer.growth):
        start = time.perf_counter()
        timer.time(count)
        elapsed += time.perf_counter() - start
        probed += count
        count *= 2
    per_decision = elapsed / probed + timer.build_s / timer.growth  # rebuilds amortized
    decisions = settings.decisions
    if per_decision * decisions > settings.budget_s:
        decisions = max(MIN_DECISIONS, int(settings.budget_s / per_decision))
    estimate = (settings.repeats + 1) * decisions * per_decision
    if estimate > SKIP_AFTER_S:
        for result in results:
            result.skipped = f"skipped (too slow: ~{estimate:.0f} s at this size)"
        return results
    for run in range(settings.repeats + 1):
        totals = timer.time(decisions)
        if run == 0:
            continue  # warm-up
        for result in results:
            timing = totals.get(result.category, Timing())
            if impl.per_call_timer:
                overhead = wall_overhead = timing.count * settings.call_overhead_ns * 1e-9
            else:
                overhead = timing.batches * settings.block_cpu_overhead_ns * 1e-9
                wall_overhead = timing.batches * settings.block_wall_overhead_ns * 1e-9
            number = timing.count
            result.per_run_s.append((timing.seconds - overhead) / number if number else math.nan)
            result.wall_per_run_s.append(
                (timing.wall - wall_overhead) / number if number else math.nan
            )
            result.counts.append(number)
            result.dropped.append(timing.dropped)
    for result in results:
        result.timed = decisions
    return results


# --------------------------------------------------------------------------- snapshots

SNAPSHOT_CALLS = 20  # per run at most (fewer when one call is slow)


@dataclass(frozen=True)
class Snapshot:
    """A way to snapshot a rung system: ``method`` ("copy" or "state_dict") of ``build``."""

    name: str
    system: str  # "StoppingRungs" or "PromotionRungs"
    method: str
    build: Callable[[Fill], Any]
    compiled: bool = False


def build_twin_stopping(fill: Fill):
    return twin.StoppingRungs.from_state_dict(fill.stopping_state())


SNAPSHOTS = [
    Snapshot("compiled copy()", "StoppingRungs", "copy", build_compiled_stopping, True),
    Snapshot("compiled state_dict()", "StoppingRungs", "state_dict", build_compiled_stopping, True),
    Snapshot("twin copy()", "StoppingRungs", "copy", build_twin_stopping),
    Snapshot("twin state_dict()", "StoppingRungs", "state_dict", build_twin_stopping),
    Snapshot("compiled copy()", "PromotionRungs", "copy", build_compiled_steady, True),
    Snapshot("compiled state_dict()", "PromotionRungs", "state_dict", build_compiled_steady, True),
    Snapshot("twin copy()", "PromotionRungs", "copy", build_twin_steady),
    Snapshot("twin state_dict()", "PromotionRungs", "state_dict", build_twin_steady),
]


@dataclass
class SnapshotResult:
    snapshot: Snapshot
    n: int
    first_ns: float = math.nan  # the first call on the built object (fresh memory)
    samples_ns: list[float] = field(default_factory=list)  # every timed call after it
    skipped: str = ""
    backend: str = ""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ns) * 1e-6 if self.samples_ns else math.nan

    @property
    def min_ms(self) -> float:
        return min(self.samples_ns) * 1e-6 if self.samples_ns else math.nan


def measure_snapshot(snapshot: Snapshot, fill: Fill, settings: Settings) -> SnapshotResult:
    """Time ``settings.repeats`` runs of up to SNAPSHOT_CALLS calls after a first call.

    Each call is timed alone (perf_counter_ns, its overhead subtracted), with the
    garbage collector off; its result is dropped, untimed, before the next call.
    """
    result = SnapshotResult(snapshot, fill.n)
    try:
        rungs = snapshot.build(fill)
    except Skip as skip:
        result.skipped = str(skip)
        return result
    result.backend = qualified_name(rungs)
    if snapshot.compiled and not is_compiled(rungs):
        raise RuntimeError(f"{snapshot.name}: expected a compiled kernel, timed {result.backend}")
    call, clock = getattr(rungs, snapshot.method), time.perf_counter_ns
    overhead = settings.call_overhead_ns
    with gc_off():
        t0 = clock()
        taken = call()
        t1 = clock()
    del taken
    result.first_ns = t1 - t0 - overhead
    calls = max(1, min(SNAPSHOT_CALLS, int(settings.budget_s * 1e9 / max(result.first_ns, 1))))
    for _ in range(settings.repeats):
        for _ in range(calls):
            with gc_off():
                t0 = clock()
                taken = call()
                t1 = clock()
            del taken
            result.samples_ns.append(t1 - t0 - overhead)
    return result


def snapshot_table(results: list[SnapshotResult]) -> str:
    header = ["rung system", "call", "n", "ms/call (median)", "min", "first call", "vs copy()"]
    header.append("calls timed")
    rows = []
    for result in results:
        snapshot = result.snapshot
        row = [snapshot.system, snapshot.name, fmt_n(result.n)]
        if result.skipped:
            rows.append([*row, result.skipped] + [""] * (len(header) - 4))
            continue
        same_backend_copy = next(
            (
                other
                for other in results
                if other.snapshot.system == snapshot.system
                and other.snapshot.compiled == snapshot.compiled
                and other.snapshot.method == "copy"
                and other.n == result.n
                and other.samples_ns
            ),
            None,
        )
        ratio = "n/a"
        if same_backend_copy is not None and same_backend_copy.median_ms > 0:
            ratio = f"{result.median_ms / same_backend_copy.median_ms:.1f}x"
        row += [fmt_ms(result.median_ms), fmt_ms(result.min_ms), fmt_ms(result.first_ns * 1e-6)]
        rows.append([*row, ratio, str(len(result.samples_ns))])
    return markdown_table(header, rows, right=set(range(2, len(header))))


# --------------------------------------------------------------------------- memory


MEMORY_SYSTEMS = {
    "compiled StoppingRungs": "random order",
    "compiled PromotionRungs": "random order, promote() drained after each report",
    "twin StoppingRungs": "ascending rewards (insort appends; the same sizes as random)",
    "twin PromotionRungs": "descending rewards, no promote(): every entry waits (its largest)",
}


def memory_child(system: str, n: int, seed: int) -> dict:
    """Bytes per entry of ``system`` filled with n entries: RSS growth, then tracemalloc.

    Runs in a fresh interpreter. Inputs are numpy arrays made before the baseline; each
    element read makes a transient numpy scalar, so the rung owns every object it keeps.
    """
    rewards = np.random.default_rng([seed, n]).random(n)
    compiled = load_compiled()
    if system.startswith("compiled"):
        if compiled is None:
            raise RuntimeError("the compiled kernels are not loaded")
        stopping_cls, promotion_cls = compiled
    else:
        stopping_cls, promotion_cls = twin.StoppingRungs, twin.PromotionRungs
        rewards = np.sort(rewards)
        if system == "twin PromotionRungs":
            rewards = rewards[::-1].copy()
    ids = np.arange(n, dtype=np.int64)

    def fresh():
        if system.endswith("StoppingRungs"):
            return stopping_cls(LEVELS, QUANTILES, MODE)
        return promotion_cls(LEVELS, QUANTILES, MAX_T, MODE)

    def fill(rungs) -> None:
        if system.endswith("StoppingRungs"):
            report = rungs.on_report
            for i in range(n):
                report(ids[i], 1, rewards[i])
        elif system.startswith("compiled"):
            add, report, promote = rungs.add, rungs.on_report, rungs.promote
            for i in range(n):
                add(ids[i])
                report(ids[i], 1, rewards[i])
                while promote() is not None:
                    pass
        else:
            add, report = rungs.add, rungs.on_report
            for i in range(n):
                add(ids[i])
                report(ids[i], 1, rewards[i])

    with gc_off():
        rungs = fresh()
        backend = qualified_name(rungs)
        before = rss_bytes()
        fill(rungs)
        rss = rss_bytes() - before
        if rungs.num_recorded(0) != n:
            raise RuntimeError(f"expected {n} entries, found {rungs.num_recorded(0)}")
        del rungs
        tracemalloc.start()
        rungs = fresh()
        before = tracemalloc.get_traced_memory()[0]
        fill(rungs)
        traced = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    return {"backend": backend, "rss": rss / n, "traced": traced / n}


def measure_memory(system: str, n: int, seed: int) -> dict:
    """Run :func:`memory_child` in a fresh subprocess; its result or an "error" key."""
    command = [sys.executable, os.path.abspath(__file__), "--memory-child", system, str(n)]
    command += ["--seed", str(seed)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no output"]
        return {"error": lines[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report


def fmt_us(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3f}" if value < 10 else f"{value:.2f}"


def fmt_ms(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3f}" if value < 10 else f"{value:.1f}"


def fmt_n(n: int) -> str:
    exponent = round(math.log10(n)) if n > 0 else 0
    return f"1e{exponent}" if 10**exponent == n else str(n)


def reference_for(results: list[Result], result: Result) -> Result | None:
    """The compiled per-call row to compare ``result`` with (same n and category)."""
    for other in results:
        if (
            other.impl.compiled
            and other.impl.run is not run_report_batch
            and other.impl.scenario == result.impl.scenario
            and other.n == result.n
            and other.category == result.category
            and not other.skipped
        ):
            return other
    return None


def timing_table(results: list[Result], settings: Settings) -> str:
    """Stopping: CPU-time figures plus the wall-clock median; promotion: per-call wall."""
    stopping = results and results[0].impl.workload == "stopping"
    header = ["implementation", "n", "us/decision (median)", "min", "ratio vs compiled"]
    header += ["wall median"] if stopping else []
    header.append("decisions timed per run" if stopping else "such calls / steps, all runs")
    rows = []
    for result in results:
        name = result.impl.name
        if not stopping:
            name = f"{name} [{result.impl.scenario}], {result.category}"
        if result.skipped:
            rows.append([name, fmt_n(result.n), result.skipped] + [""] * (len(header) - 3))
            continue
        if not any(result.counts):
            continue  # e.g. no promote() found one in the steady state: nothing to show
        reference = reference_for(results, result)
        ratio = "n/a"
        if reference is not None and reference.median_us > 0:
            ratio = f"{result.median_us / reference.median_us:.2f}x"
        row = [name, fmt_n(result.n), fmt_us(result.median_us), fmt_us(result.min_us), ratio]
        notes = []
        if stopping:
            row.append(fmt_us(result.wall_median_us))
            timed = f"{result.timed:,}"
        else:
            steps = result.timed * len(result.counts)
            timed = f"{sum(result.counts):,} / {steps:,}"
            notes.append(f"{result.timed:,} per run")
        if result.timed < settings.decisions:
            notes.append("fewer: slow")
        if any(result.dropped):
            notes.append(f"{sum(result.dropped)} dropped")
        if notes:
            timed += f" ({', '.join(notes)})"
        rows.append([*row, timed])
    return markdown_table(header, rows, right=set(range(1, len(header))))


def memory_table(memory: dict[tuple[str, int], dict]) -> str:
    header = ["rung system", "n", "bytes/entry (RSS)", "bytes/entry (tracemalloc)", "fill"]
    rows = []
    for (system, n), found in memory.items():
        if "error" in found:
            rows.append([system, fmt_n(n), f"failed: {found['error']}", "", ""])
            continue
        rows.append(
            [
                system,
                fmt_n(n),
                f"{found['rss']:.1f}",
                f"{found['traced']:.1f}",
                MEMORY_SYSTEMS[system],
            ]
        )
    return markdown_table(header, rows, right={1, 2, 3})


def find(
    results: list[Result], name: str, n: int, category: str = "decision", scenario: str = ""
) -> Result | None:
    for result in results:
        if (
            result.impl.name == name
            and result.impl.scenario == scenario
            and result.n == n
            and result.category == category
        ):
            return None if result.skipped or math.isnan(result.median_us) else result
    return None


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def find_snapshot(
    results: list[SnapshotResult], system: str, name: str, n: int
) -> SnapshotResult | None:
    for result in results:
        if result.snapshot.system == system and result.snapshot.name == name and result.n == n:
            return result if result.samples_ns else None
    return None


def done_when(
    results: list[Result],
    memory: dict[tuple[str, int], dict],
    snapshots: list[SnapshotResult],
) -> list[str]:
    """One PASS/MISS line per figure of the issues' "Done when", from the medians."""
    lines = []
    for system in ("StoppingRungs", "PromotionRungs"):
        label = f"compiled {system}.copy() at n=1e5 < 1 ms"
        taken = find_snapshot(snapshots, system, "compiled copy()", 10**5)
        if taken is None:
            lines.append(f"- {label}: not measured")
            continue
        line = (
            f"- {label}: {verdict(taken.median_ms < 1.0)} ({fmt_ms(taken.median_ms)} ms median, "
            f"{fmt_ms(taken.min_ms)} min, first call {fmt_ms(taken.first_ns * 1e-6)} ms"
        )
        full = find_snapshot(snapshots, system, "compiled state_dict()", 10**5)
        if full is not None:
            line += (
                f"; state_dict() {fmt_ms(full.median_ms)} ms, "
                f"{full.median_ms / taken.median_ms:.0f}x the copy"
            )
        lines.append(line + ")")
    for n, limit in ((10**5, 1.0), (10**6, 2.0)):
        row = find(results, "compiled on_report", n)
        label = f"compiled stopping decision (on_report) at n={fmt_n(n)} <= {limit:g} us"
        if row is None:
            lines.append(f"- {label}: not measured")
            continue
        batch = find(results, "compiled on_reports (batch)", n)
        extra = f"; batch {fmt_us(batch.median_us)} us" if batch else ""
        lines.append(
            f"- {label}: {verdict(row.median_us <= limit)} ({fmt_us(row.median_us)} us median, "
            f"{fmt_us(row.min_us)} min, CPU time; wall median {fmt_us(row.wall_median_us)} us"
            f"{extra})"
        )
    label = "compiled promotion selection (promote()) at n=1e5 <= 2 us"
    rows = [
        find(results, "compiled promote()", 10**5, "finds one", "backlog"),
        find(results, "compiled promote()", 10**5, "finds none", "steady state"),
    ]
    if None in rows:
        lines.append(f"- {label}: not measured")
    else:
        worst = max(row.median_us for row in rows)
        lines.append(
            f"- {label}: {verdict(worst <= 2.0)} (finds one {fmt_us(rows[0].median_us)} us "
            f"[backlog], finds none {fmt_us(rows[1].median_us)} us [steady state], medians)"
        )
    label = (
        f"compiled stopping >= 5x faster than the {rung_peers.SYNE_TUNE_SORTED} SortedList "
        "strategy at n=1e5"
    )
    compiled = find(results, "compiled on_report", 10**5)
    peer = find(results, f"{rung_peers.SYNE_TUNE_SORTED} strategy: SortedList rung", 10**5)
    if compiled is None or peer is None:
        lines.append(f"- {label}: not measured")
    else:
        speedup = peer.median_us / compiled.median_us
        lines.append(
            f"- {label}: {verdict(speedup >= 5)} ({speedup:.1f}x: {fmt_us(peer.median_us)} us "
            f"vs {fmt_us(compiled.median_us)} us)"
        )
    sizes = sorted({n for _, n in memory})
    large = [n for n in sizes if n >= 10**5]
    for system in ("compiled StoppingRungs", "compiled PromotionRungs"):
        found = [memory.get((system, n), {}) for n in large]
        label = f"{system} <= 64 bytes per entry (RSS, worst of n in {list(map(fmt_n, large))})"
        if not found or any("rss" not in f for f in found):
            small = [
                f"{fmt_n(n)}: RSS {f['rss']:.1f} B, tracemalloc {f['traced']:.1f} B"
                for n in sizes
                if "rss" in (f := memory.get((system, n), {}))
            ]
            label = f"{system} <= 64 bytes per entry (RSS at n >= 1e5)"
            lines.append(
                f"- {label}: not measured"
                + (f" (small n only, page-granular: {'; '.join(small)})" if small else "")
            )
            continue
        worst = max(f["rss"] for f in found)
        traced = max(f["traced"] for f in found)
        lines.append(
            f"- {label}: {verdict(worst <= 64)} ({worst:.1f} B; tracemalloc {traced:.1f} B)"
        )
    return lines


# --------------------------------------------------------------------------- main


WORKLOADS = ("stopping", "promotion", "snapshot", "memory")


def parse_size(text: str) -> int:
    size = int(float(text))
    if size < 1:
        raise argparse.ArgumentTypeError(f"sizes must be >= 1, got {text}")
    return size


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="n=1e3, one run, small K (CI)")
    parser.add_argument("--sizes", type=parse_size, nargs="+", help="default: 1e3 1e4 1e5 1e6")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs after a warm-up")
    parser.add_argument("--decisions", type=int, default=DECISIONS, help="K per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workloads",
        nargs="+",
        choices=WORKLOADS,
        default=list(WORKLOADS),
        help="what to measure (default: all)",
    )
    parser.add_argument("--output", help="also write the report (markdown) to this file")
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also time the peers' own installed classes (pip install 'scheduler[peers]')",
    )
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)

    if options.memory_child:
        system, n = options.memory_child
        print(json.dumps(memory_child(system, int(n), options.seed)))
        return 0

    try:
        compiled = load_compiled()
    except ImportError as exc:
        print(f"error: compiled backend not loaded, nothing timed: {exc}", file=sys.stderr)
        return 1

    sizes = options.sizes or SIZES
    block_cpu, block_wall = block_overhead_ns()
    settings = Settings(
        decisions=max(1, options.decisions),
        repeats=max(1, options.repeats),
        budget_s=RUN_BUDGET_S,
        probe_s=0.05,
        call_overhead_ns=clock_overhead_ns(),
        block_cpu_overhead_ns=block_cpu,
        block_wall_overhead_ns=block_wall,
    )
    if options.smoke:
        sizes = [10**3]
        settings.decisions, settings.repeats = 200, 1
        settings.budget_s, settings.probe_s = 0.05, 0.005

    workloads = set(options.workloads)
    impls = [
        impl
        for impl in IMPLEMENTATIONS
        if (compiled or not impl.compiled) and impl.workload in workloads
    ]
    snapshots = [s for s in SNAPSHOTS if (compiled or not s.compiled) and "snapshot" in workloads]
    if not options.peers:
        impls = [impl for impl in impls if not impl.peer]
    for name, needs in rung_peers.PEER_PACKAGES.items():
        wanted = options.peers or not needs.startswith("--peers")
        if wanted and not rung_peers.installed_version(name):
            print(f"{name} is not installed: skipping {needs}", file=sys.stderr)
    stream = np.random.default_rng([options.seed, 1]).random(settings.decisions).tolist()
    progress = sys.stderr
    load_before = load_average()
    stamps = module_stamps(compiled)
    results: list[Result] = []
    snapshot_results: list[SnapshotResult] = []
    for n in sizes:
        fill = Fill(n, options.seed, compiled)
        for impl in impls:
            start = time.perf_counter()
            found = measure(impl, fill, stream, settings)
            results.extend(found)
            for result in found:
                shown = result.skipped or f"{fmt_us(result.median_us)} us median"
                print(
                    f"  n={fmt_n(n)} {impl.name} [{result.category}]: {shown} "
                    f"({time.perf_counter() - start:.1f} s)",
                    file=progress,
                    flush=True,
                )
        for snapshot in snapshots:
            start = time.perf_counter()
            taken = measure_snapshot(snapshot, fill, settings)
            snapshot_results.append(taken)
            shown = taken.skipped or f"{fmt_ms(taken.median_ms)} ms median"
            print(
                f"  n={fmt_n(n)} {snapshot.system} {snapshot.name}: {shown} "
                f"({time.perf_counter() - start:.1f} s)",
                file=progress,
                flush=True,
            )
        del fill

    memory: dict[tuple[str, int], dict] = {}
    for system in MEMORY_SYSTEMS:
        if (system.startswith("compiled") and not compiled) or "memory" not in workloads:
            continue
        for n in sizes:
            memory[(system, n)] = measure_memory(system, n, options.seed)
            print(f"  memory {system} n={fmt_n(n)}: {memory[(system, n)]}", file=progress)

    backends = sorted({r.backend for r in [*results, *snapshot_results] if r.backend})
    rebuilt = module_stamps(compiled) != stamps
    compiled_line = (
        ", ".join(b for b in backends if b.startswith("scheduler._rungs."))
        if compiled
        else "not loaded (SCHEDULER_NO_EXTENSIONS=1): compiled rows skipped"
    )
    sections = {
        "stopping": [
            "## Stopping: us per decision",
            "",
            timing_table([r for r in results if r.impl.workload == "stopping"], settings),
            "",
        ],
        "promotion": [
            "## Promotion selection: us per promote() call",
            "",
            "Each step: add() and on_report() of a new config (untimed), then one promote(). "
            "Steady state: random rewards; the rung was grown report by report with promote() "
            "drained after each, so on_report promotes at once and promote() rarely finds one. "
            "Backlog: n entries reported in descending order without promote() (n/3 wait "
            "promotable), each step reports a reward below all of them: promote() always finds "
            "one. The last column counts the promote() calls of that kind in all runs (a kind "
            "with none is left out; runs without one do not enter the median). The peers "
            "never promote at once (their schedulers pause at every rung and ask later), "
            "so they find one in the steady state too.",
            "",
            timing_table([r for r in results if r.impl.workload == "promotion"], settings),
            "",
        ],
        "snapshot": [
            "## Snapshots: ms per copy() or state_dict() call",
            "",
            "A rung system holding n entries (as above: n rewards and tasks; n entries and "
            "configs, the steady state). Each call timed alone (wall clock, perf_counter_ns "
            "minus its overhead, garbage collector off); its result dropped, untimed, before "
            "the next call, as a snapshot is once written, so copies reuse the memory of the "
            'last one. "first call" is the first call on the object: fresh memory, whose '
            "page faults dominate a compiled copy() (untouched pages cost the kernel a fault "
            'and a zeroing each). "vs copy()": the median over the copy() median of the '
            "same backend and size.",
            "",
            snapshot_table(snapshot_results),
            "",
        ],
        "memory": [
            "## Memory: bytes per recorded entry",
            "",
            "A fresh subprocess per row; n entries inserted into a fresh object; RSS growth "
            "(/proc/self/statm, baseline subtracted) and tracemalloc (a second fresh object). "
            "Includes the per-task / per-config map. At n=1e3 page granularity dominates RSS.",
            "",
            memory_table(memory),
            "",
        ],
    }
    for name in WORKLOADS:
        if name not in workloads:
            sections[name] = []
    report = [
        "# Rung kernel benchmark",
        "",
        results_header("bench/rungs.py", load_before, [f"peers: {rung_peers.versions_line()}"]),
        "",
        f"Compiled backend timed: {compiled_line}. "
        f"Twin: {', '.join(b for b in backends if b.startswith('scheduler.kernels.twins.'))}.",
        "",
        f"Workload: rung 0 of levels {LEVELS}, quantile 1/3, mode {MODE!r} (promotion: "
        f"max_t {MAX_T}); n entries recorded first, then per run {settings.decisions:,} "
        "decisions (fewer where marked), each recording one more entry (new id, seeded "
        f"random reward); {settings.repeats} run(s) after a warm-up; median and min over runs "
        "of the mean per decision. The rung grows by at most 10% of n while timed. Ratios "
        "compare medians with the compiled per-call row of the same n (and scenario).",
        "",
        "Clocks: stopping rows time each batch of decisions with the CPU time of the "
        "benchmark thread (time.thread_time_ns), which leaves out time the process spends "
        "descheduled on a shared machine (equal to wall time on an idle one); the wall-clock "
        "median is shown beside it. Per-report rows include the Python loop. promote() and "
        "Optuna's own prune() are timed per call with perf_counter_ns minus its overhead "
        f"({settings.call_overhead_ns:.0f} ns); calls over {PREEMPTION_NS // 1000} us and "
        "100x the median call are preemptions and dropped (counted in the last column). "
        "Timer overheads subtracted per batch: "
        f"{settings.block_cpu_overhead_ns:.0f} ns CPU, {settings.block_wall_overhead_ns:.0f} "
        "ns wall.",
        "",
        *sections["stopping"],
        *sections["promotion"],
        *sections["snapshot"],
        *sections["memory"],
        "## Done when",
        "",
        *done_when(results, memory, snapshot_results),
    ]
    if rebuilt:
        report += ["", "WARNING: the compiled modules changed on disk during the run; rerun."]
    text = "\n".join(report) + "\n"
    print(text, end="")
    if options.output:
        with open(options.output, "w") as out:
            out.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
