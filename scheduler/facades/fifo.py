"""FIFOScheduler: every config runs to its end, in the searcher's order."""

from __future__ import annotations

from scheduler.facades._base import BaseScheduler
from scheduler.schedulers.base import Policy
from scheduler.schedulers.fifo import FIFOPolicy

__all__ = ["FIFOScheduler"]


class FIFOScheduler(BaseScheduler):
    """Runs trials in the searcher's order, each to its end (AutoGluon's FIFOScheduler).

    Parameters
    ----------
    train_fn : callable or scheduler.Command
        ``train_fn(args, reporter)``, usually decorated with :func:`scheduler.args`; or
        a :class:`scheduler.Command` (a program run once per task).
    args : dict, optional
        Extra default arguments for ``train_fn`` (below the searched config).
    resource : dict
        Per-trial resources, e.g. ``{'num_cpus': 1, 'num_gpus': 0}``.
    searcher : str or BaseSearcher
        ``'random'`` (default), ``'grid'``, ``'bayesopt'`` (Gaussian-process BO; on a
        HyperbandScheduler the multi-fidelity variant) or ``'bayesopt_constrained'``
        (with ``constraint_attr``), built with ``search_options``; or an object.
    search_options : dict, optional
        Keyword arguments for :func:`scheduler.searchers.searcher_factory`.
    checkpoint : str, optional
        Path of the run's durable state: a JSON snapshot at this path and an
        append-only journal of events in ``<path>.journal/``
        (see :mod:`scheduler.durability.journal`).
        Every report is journaled before its task hears the decision. An existing
        checkpoint is never overwritten: resume it or pick another path.
    resume : bool
        Continue the run in ``checkpoint`` exactly where it stopped: rung state, history,
        searcher and bracket random streams are rebuilt from the snapshot and the
        journal; tasks that were running start again (a train_fn that saves into
        ``reporter.checkpoint_dir`` continues from there, see ``args.scheduler.resume_from``).
    checkpoint_fsync_interval : float
        Seconds between fsyncs of the journal (default 1.0); 0 fsyncs every event before
        its decision is sent. Every event is flushed to the OS at once either way, so a
        killed process loses nothing; the interval bounds what a power cut can lose.
    num_trials : int, optional
        Number of configs to evaluate. One of num_trials, time_out is required.
    time_out : float, optional
        Seconds after which no trial is launched and, with ``stop_jobs_after_time_out``,
        running trials are stopped at their next report.
    max_reward : float, optional
        Stop launching once a reward at least this good is reported.
    reward_attr, time_attr : str
        Keys of the reward and of the time/fidelity (optional for FIFO) in reports.
    constraint_attr : str, optional
        Key of a constraint value in reports (satisfied when <= 0), for constrained
        Bayesian optimization: needs ``searcher='bayesopt_constrained'``, whose
        ``get_best_config`` is the best feasible config.
    training_history_callback : callable, optional
        ``callback(training_history, start_timestamp)``, at most every
        ``training_history_callback_delta_secs`` seconds, from the runtime thread.
    delay_get_config : bool
        Accepted for compatibility; ``get_config`` is always called once a worker is
        free.
    stop_jobs_after_time_out : bool
        See ``time_out``.
    backend : {'process', 'subprocess', 'thread', 'ray'}
        Where trials run. ``process`` (reused worker interpreters) survives crashing
        trials and can kill hung ones; ``subprocess`` gives every task a fresh
        interpreter; ``thread`` runs them in the driver; ``ray`` runs them as Ray actors
        on a local Ray or a cluster (``pip install "scheduler[ray]"``). A Command always
        runs as its own process (``process`` and ``subprocess`` both mean that).
    ray_address : str, optional
        ``backend='ray'``: None starts a local Ray with this machine's CPUs and GPUs (no
        dashboard); ``'auto'``, ``'ray://host:10001'`` or ``'host:6379'`` joins that
        cluster. Connected when the scheduler is built.
    ray_init_kwargs : dict, optional
        ``backend='ray'``: more keyword arguments for ``ray.init`` (``num_cpus``,
        ``runtime_env``, ...).
    storage_path : str, optional
        ``backend='ray'``: the folder of the trials' ``checkpoint_dir`` folders, which
        every node must reach (a shared filesystem). Without it each config's later
        tasks (promotions) run on the node of its first task, where its folder is.
    mode : {'max', 'min'}
        Whether the reward is maximized or minimized.
    total_resources : dict, optional
        Totals to schedule against (default: detected CPUs and GPUs).
    max_task_time : float, optional
        Seconds after which a running trial is killed and recorded as failed.
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).
    output_dir : str, optional
        Folder for ``results.csv``, ``results.jsonl`` and the trials' checkpoint folders.
    """

    def _make_policy(self) -> Policy:
        return FIFOPolicy(self.searcher, reward_attr=self.reward_attr, time_attr=self.time_attr)
