"""What other schedulers do per rung decision: their strategies, and their own classes.

Not a benchmark (CI does not run it): ``bench/rungs.py`` times these next to the
compiled kernels. Each *strategy* class below does, per decision, the work the named
release does, re-implemented from its source in a few lines (the file and function are
named in each docstring; the data structure and the per-decision computation are the
peer's, the scheduler around it is left out). Each takes the same calls as the
kernels: ``on_report(task_id, time, reward) -> bool`` (True: continue) for stopping;
``add(config_id)``, ``on_report(config_id, time, reward)`` and ``promote() -> (config_id,
level) | None`` for promotion. Rewards are maximized.

The *own-class* adapters (``--peers``) call the installed peer's class directly; the
adapter only turns our call into the peer's (a stand-in trial object that carries an
id, a metric dict). They need the peer installed: ``pip install "scheduler[peers]"``.
"""

from __future__ import annotations

import heapq
import importlib.metadata
import types

import numpy as np

#: The releases the strategies were read from.
RAY_STRATEGY = "Ray Tune 2.60.0"
AUTOGLUON_STRATEGY = "AutoGluon 0.3.1"
SYNE_TUNE_SORTED = "Syne Tune 0.13.0"
SYNE_TUNE_ASHA = "Syne Tune 0.16.0"
OPTUNA_STRATEGY = "Optuna 5.0.0"

#: distribution name -> what needs it
PEER_PACKAGES = {
    "sortedcontainers": "the Syne Tune 0.13.0 strategies",
    "ray": "--peers: Ray Tune's own _Bracket",
    "syne-tune": "--peers: Syne Tune's own Bracket",
    "optuna": "--peers: Optuna's own SuccessiveHalvingPruner",
}


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


class Missing(Exception):
    """A package a row needs is not installed; the message says which and how."""


def require(distribution: str, module: str):
    """Import ``module`` of ``distribution`` or raise :class:`Missing`."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Missing(
            f"skipped ({distribution} not installed: pip install 'scheduler[peers]'; {exc})"
        ) from None


# --------------------------------------------------------------------------- stopping


class RayTuneStopping:
    """Ray Tune 2.60.0, ``ray/tune/schedulers/async_hyperband.py``, ``_Bracket``.

    A rung is a dict ``trial_id -> reward``; each report reaching it computes
    ``np.nanpercentile(list(recorded.values()), (1 - 1 / rf) * 100)`` over every value
    recorded there, stops iff the reward is below it, and records the reward. O(n) per
    decision (a list built from the dict, then a partition).
    """

    def __init__(self, rewards, reduction_factor: float = 3.0):
        self.recorded = dict(enumerate(rewards))
        self.percent = (1 - 1 / reduction_factor) * 100

    def on_report(self, task_id, time, reward):
        recorded = self.recorded
        cutoff = np.nanpercentile(list(recorded.values()), self.percent) if recorded else None
        go = cutoff is None or not reward < cutoff
        recorded[task_id] = reward
        return go


class AutoGluonStopping:
    """AutoGluon 0.3.1, ``core/src/autogluon/core/scheduler/hyperband_stopping.py``,
    ``StoppingRungSystem.on_task_report`` and ``_cutoff``.

    A rung is a dict ``str(task_id) -> reward``; each report reaching it computes
    ``np.percentile(list(recorded.values()), (1 - prom_quant) * 100)``, stops iff the
    reward is below it, and records the reward. O(n) per decision.
    """

    def __init__(self, rewards, prom_quant: float):
        self.recorded = {str(i): r for i, r in enumerate(rewards)}
        self.percent = (1 - prom_quant) * 100

    def on_report(self, task_id, time, reward):
        recorded = self.recorded
        cutoff = np.percentile(list(recorded.values()), self.percent) if recorded else None
        go = cutoff is None or not reward < cutoff
        recorded[str(task_id)] = reward
        return go


class _RungEntry:
    __slots__ = ("metric_val", "trial_id", "was_promoted")

    def __init__(self, trial_id, metric_val, was_promoted=False):
        self.trial_id = trial_id
        self.metric_val = metric_val
        self.was_promoted = was_promoted


class _SortedRung:
    """Syne Tune 0.13.0's ``Rung`` (``hyperband_stopping.py``), mode "max": the entries
    in a ``sortedcontainers.SortedList`` keyed by ``-metric_val`` (best first), plus a
    set of the trial ids; ``quantile()`` reads the two order statistics around numpy's
    virtual index with ``islice``."""

    def __init__(self, entries, prom_quant: float):
        sortedcontainers = require("sortedcontainers", "sortedcontainers")
        self.prom_quant = prom_quant
        self.data = sortedcontainers.SortedList(entries, key=lambda entry: -entry.metric_val)
        self.trial_ids = {entry.trial_id for entry in entries}

    def add(self, entry):
        self.data.add(entry)
        self.trial_ids.add(entry.trial_id)

    def pop(self, pos):
        entry = self.data.pop(pos)
        self.trial_ids.remove(entry.trial_id)
        return entry

    def quantile(self):
        len_data = len(self.data)
        if len_data < 2:
            return None
        q = 1 - self.prom_quant  # mode "max": the data is sorted in decreasing order
        virt_index = (len_data - 1) * q + 1
        index = int(virt_index)
        frac_part = virt_index - index
        left_pos = len_data - index - 1
        g = 1 - frac_part
        values = [x.metric_val for x in self.data.islice(left_pos, left_pos + 2)]
        return g * values[1] + (1 - g) * values[0]


class SyneTuneSortedStopping:
    """Syne Tune 0.13.0, ``syne_tune/optimizer/schedulers/hyperband_stopping.py``,
    ``StoppingRungSystem.on_task_report`` over ``Rung``.

    Each report reaching the rung first adds its entry to the SortedList (O(log n)),
    then takes the cutoff from two neighbours (O(log n)) and continues iff the reward
    is at or above it (the new entry is part of the quantile, as in Syne Tune).
    """

    def __init__(self, rewards, prom_quant: float):
        self.rung = _SortedRung(
            [_RungEntry(i, r) for i, r in enumerate(rewards)], prom_quant=prom_quant
        )

    def on_report(self, task_id, time, reward):
        rung = self.rung
        rung.add(_RungEntry(task_id, reward))
        cutoff = rung.quantile()
        return cutoff is None or reward >= cutoff


class SyneTuneAshaStopping:
    """Syne Tune 0.16.0, ``syne_tune/optimizer/schedulers/asha.py``, ``Bracket.on_result``
    (the ASHA that replaced the SortedList rungs in 0.14).

    A rung is a dict ``trial_id -> {metric: value}`` (values minimized, so the reward is
    negated); each report reaching it builds ``np.array`` of every recorded value plus
    its own, sorts them, ranks all of them with ``np.searchsorted``, and stops iff its
    own rank exceeds ``1 / rf``. O(n log n) per decision.
    """

    def __init__(self, rewards, reduction_factor: float = 3.0):
        self.recorded = {i: {"metric": -r} for i, r in enumerate(rewards)}
        self.rf = reduction_factor

    def on_report(self, task_id, time, reward):
        recorded = self.recorded
        metrics = {"metric": -reward}
        go = True
        if recorded:
            metric_recorded = np.array(
                [list(x.values()) for x in recorded.values()] + [list(metrics.values())]
            )
            priorities = metric_recorded.flatten()
            ranks = np.searchsorted(sorted(priorities), priorities) / len(priorities)
            go = not ranks[-1] > 1 / self.rf
        recorded[task_id] = metrics
        return go


class _OptunaTrial:
    __slots__ = ("system_attrs",)

    def __init__(self, system_attrs):
        self.system_attrs = system_attrs


class OptunaPruning:
    """Optuna 5.0.0, ``optuna/pruners/_successive_halving.py``,
    ``SuccessiveHalvingPruner.prune`` (with ``min_resource=1``, ``bootstrap_count=0``).

    Optuna keeps no rung: each call at a rung gets every trial of the study
    (``study.get_trials(deepcopy=False)``: a copy of the list), stores the value as a
    system attribute of the trial, collects the values of every trial that has that
    attribute, sorts them and compares with the ``len // rf``-th best. O(n log n) per
    decision, over all trials of the study.
    """

    KEY = "completed_rung_0"

    def __init__(self, rewards, reduction_factor: int = 3):
        self.trials = [_OptunaTrial({self.KEY: r}) for r in rewards]
        self.rf = reduction_factor

    def on_report(self, task_id, time, reward):
        trial = _OptunaTrial({})  # study.ask() and trial.report(): not part of prune()
        self.trials.append(trial)
        trials = list(self.trials)  # get_trials(deepcopy=False)
        attrs = dict(trial.system_attrs)  # set_trial_system_attr copies, then sets
        attrs[self.KEY] = reward
        trial.system_attrs = attrs
        key = self.KEY
        competing = [t.system_attrs[key] for t in trials if key in t.system_attrs]
        promotable_idx = max(len(competing) // self.rf - 1, 0)
        competing.sort()
        return reward >= competing[-(promotable_idx + 1)]


# --------------------------------------------------------------------------- promotion


class SyneTuneSortedPromotion:
    """Syne Tune 0.13.0, ``syne_tune/optimizer/schedulers/hyperband_promotion.py``,
    ``PromotionRungSystem._find_promotable_trial`` and ``_mark_as_promoted``.

    The rung is the SortedList ``Rung`` (best first). A selection takes the cutoff
    (O(log n)), walks the list from the best entry to the first one not promoted yet
    (O(number of promoted entries above it)), promotes it if it is at or above the
    cutoff, and marks it by ``pop`` and ``add`` (O(log n)). A report only records.
    """

    def __init__(self, config_ids, rewards, promoted, prom_quant: float, level: int):
        entries = [_RungEntry(c, r, p) for c, r, p in zip(config_ids, rewards, promoted)]
        self.rung = _SortedRung(entries, prom_quant=prom_quant)
        self.level = level

    def add(self, config_id, skip_rungs=0):
        return self.level

    def on_report(self, config_id, time, reward):
        self.rung.add(_RungEntry(config_id, reward))
        return False  # the scheduler pauses at every rung and asks for a promotion later

    def promote(self):
        rung = self.rung
        cutoff = rung.quantile()
        if cutoff is None:
            return None
        found = None
        for pos, entry in enumerate(rung.data):
            if not entry.was_promoted:
                found = (pos, entry)
                break
        if found is None or found[1].metric_val - cutoff < 0:
            return None
        entry = rung.pop(found[0])
        entry.was_promoted = True
        rung.add(entry)
        return (entry.trial_id, self.level)


class AutoGluonPromotion:
    """AutoGluon 0.3.1, ``core/src/autogluon/core/scheduler/hyperband_promotion.py``,
    ``PromotionRungSystem._find_promotable_config`` and ``on_task_schedule``.

    A rung is a dict ``str(config_id) -> (reward, promoted)``. A selection needs
    ``round(1 / q)`` entries, takes ``heapq.nlargest(int(n * q), ...)`` of every entry
    (O(n log k)), and promotes the first of them not promoted yet. A report records.
    """

    def __init__(self, config_ids, rewards, promoted, prom_quant: float, level: int):
        self.recorded = {str(c): (r, p) for c, r, p in zip(config_ids, rewards, promoted)}
        self.prom_quant = prom_quant
        self.level = level

    def add(self, config_id, skip_rungs=0):
        return self.level

    def on_report(self, config_id, time, reward):
        self.recorded[str(config_id)] = (reward, False)
        return False

    def promote(self):
        recorded = self.recorded
        if len(recorded) < round(1.0 / self.prom_quant):
            return None
        num_top = int(len(recorded) * self.prom_quant)
        top_list = heapq.nlargest(num_top, recorded.items(), key=lambda x: x[1][0])
        key = next((k for k, v in top_list if not v[1]), None)
        if key is None:
            return None
        recorded[key] = (recorded[key][0], True)
        return (int(key), self.level)


# --------------------------------------------------------------------------- own classes


class RayTuneOwn:
    """Ray Tune's own ``_Bracket`` (installed version): ``on_result(trial, 1, reward)``.

    The bracket is ``_Bracket(min_t=1, max_t=9, reduction_factor=3, s=0)``, its level-1
    rung filled with the n rewards; the trial is a stand-in with a ``trial_id``.
    """

    def __init__(self, rewards):
        async_hyperband = require("ray", "ray.tune.schedulers.async_hyperband")
        self.bracket = async_hyperband._Bracket(1, 9, 3, 0)
        level, recorded = self.bracket._rungs[-1]
        if level != 1:
            raise RuntimeError(f"Ray Tune's lowest rung is at {level}, expected 1")
        recorded.update(enumerate(rewards))
        self.on_result = self.bracket.on_result
        self.continue_ = async_hyperband.TrialScheduler.CONTINUE

    def on_report(self, task_id, time, reward):
        return self.on_result(types.SimpleNamespace(trial_id=task_id), time, reward) == (
            self.continue_
        )


class SyneTuneOwn:
    """Syne Tune's own ASHA ``Bracket`` (installed version): ``on_result(trial_id, 1,
    {metric: -reward})`` (Syne Tune's bracket minimizes)."""

    def __init__(self, rewards):
        asha = require("syne-tune", "syne_tune.optimizer.schedulers.asha")
        scheduler = require("syne-tune", "syne_tune.optimizer.scheduler")
        self.bracket = asha.Bracket(1, 9, 3, 0)
        level, recorded = self.bracket.rungs[-1]
        if level != 1:
            raise RuntimeError(f"Syne Tune's lowest rung is at {level}, expected 1")
        recorded.update((i, {"metric": -r}) for i, r in enumerate(rewards))
        self.on_result = self.bracket.on_result
        self.continue_ = scheduler.SchedulerDecision.CONTINUE

    def on_report(self, task_id, time, reward):
        return self.on_result(task_id, time, {"metric": -reward}) == self.continue_


class OptunaOwn:
    """Optuna's own ``SuccessiveHalvingPruner.prune`` (installed version) on an
    in-memory study holding the n rewards as completed trials at rung 0.

    Each decision asks a new trial and reports its value at step 1 (untimed:
    :meth:`prepare`), then calls ``prune`` (timed).
    """

    def __init__(self, rewards):
        optuna = require("optuna", "optuna")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.pruner = optuna.pruners.SuccessiveHalvingPruner(
            min_resource=1, reduction_factor=3, min_early_stopping_rate=0, bootstrap_count=0
        )
        self.study = optuna.create_study(
            direction="maximize", storage=optuna.storages.InMemoryStorage(), pruner=self.pruner
        )
        complete = optuna.trial.TrialState.COMPLETE
        self.study.add_trials(
            [
                optuna.trial.create_trial(
                    state=complete,
                    value=float(r),
                    intermediate_values={1: float(r)},
                    system_attrs={"completed_rung_0": float(r)},
                )
                for r in rewards
            ]
        )

    def prepare(self, task_id, reward):
        """Create the trial and its report; return the timed call (prune)."""
        trial = self.study.ask()
        trial.report(float(reward), 1)
        frozen = self.study._storage.get_trial(trial._trial_id)
        study, prune = self.study, self.pruner.prune
        return lambda: prune(study, frozen)


def versions_line() -> str:
    """The peers' installed versions (or "not installed"), for a results header."""
    return ", ".join(
        f"{name} {installed_version(name) or 'not installed'}" for name in PEER_PACKAGES
    )


__all__ = [
    "AUTOGLUON_STRATEGY",
    "OPTUNA_STRATEGY",
    "RAY_STRATEGY",
    "SYNE_TUNE_ASHA",
    "SYNE_TUNE_SORTED",
    "AutoGluonPromotion",
    "AutoGluonStopping",
    "Missing",
    "OptunaOwn",
    "OptunaPruning",
    "RayTuneOwn",
    "RayTuneStopping",
    "SyneTuneAshaStopping",
    "SyneTuneOwn",
    "SyneTuneSortedPromotion",
    "SyneTuneSortedStopping",
    "installed_version",
    "require",
    "versions_line",
]
