"""The scheduler methods AutoGluon's documentation lists, on this runtime (issue 16).

AutoGluon's ``FIFOScheduler``, ``HyperbandScheduler`` and ``RLScheduler`` document
``add_job``, ``add_task``, ``run_job``, ``schedule_next``, ``on_task_add``,
``on_task_report``, ``add_remote`` and ``upload_files``. Here is what each means when
trials run on this library's runtime (a loop that launches trials whenever a worker is
free, with every decision journaled):

- :meth:`~AutoGluonMethods.schedule_next` -- one more trial: the policy's next
  suggestion (a paused config due for promotion, or the searcher's next config), started
  as soon as a worker is free. Before :meth:`run`, the scheduler runs *step by step*:
  only the trials asked for run, and it stays open for more until :meth:`join_jobs`.
- :meth:`~AutoGluonMethods.add_job` -- one more trial for a given config (a
  :class:`Task` or a config dict), before any config of the searcher's own. The config
  is journaled, so a resumed run has it too. ``add_task`` is its deprecated name.
- :meth:`~AutoGluonMethods.run_job` -- run a task's config once, synchronously, in
  this process, outside the search; returns what ``train_fn`` returned.
- :meth:`~AutoGluonMethods.on_task_add` / :meth:`~AutoGluonMethods.on_task_report` --
  hooks a subclass may override: the runtime calls them when a task starts and for each
  report (after the policy decided); ``on_task_report`` returning False stops the task.
  They run in the runtime's decision path (keep them fast) and again when a checkpoint
  is resumed (the journal is replayed through them), so they must decide from the task
  and the result alone. Not overridden, they cost nothing.
- ``add_remote`` / ``upload_files`` / ``dist_ip_addrs`` -- remote machines are the Ray
  backend's job: ``backend="ray"`` with ``ray_address=``.

Each added trial counts on top of ``num_trials``, as in AutoGluon, where ``run()`` calls
``schedule_next()`` ``num_trials`` times.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from scheduler.schedulers.base import Decision

if TYPE_CHECKING:
    from scheduler.runtime.resources import ClusterResourceManager, ResourceManager
    from scheduler.runtime.runner import Runner
    from scheduler.schedulers.base import Policy, Suggestion
    from scheduler.space import SearchSpace

__all__ = ["AutoGluonMethods", "Task"]

log = logging.getLogger("scheduler")

#: The journal event that queues an add_job config.
ENQUEUE_EVENT = "enqueue"

# add_job keyword arguments of AutoGluon's that this runtime's policy decides itself.
_POLICY_KWARGS = ("bracket", "config_key", "resume_from", "milestone")


class Task:
    """A training task as AutoGluon's scheduler methods take and give it.

    ``Task(fn, args, resources)`` with ``args = {'config': {...}, ...}`` (AutoGluon's
    layout), or ``Task(config={...})``. The hooks get tasks with ``task_id``,
    ``config_id``, ``bracket`` and ``resume_from`` set as well.
    """

    def __init__(
        self,
        fn: Any = None,
        args: Mapping[str, Any] | None = None,
        resources: Any = None,
        *,
        config: Mapping[str, Any] | None = None,
        task_id: int | None = None,
        config_id: int | None = None,
        bracket: int | None = None,
        resume_from: int | None = None,
    ):
        if args is not None and not isinstance(args, Mapping):
            raise ValueError(f"Task: args must be a dict (with a 'config' entry), got {args!r}")
        self.fn = fn
        self.args = dict(args or {})
        if config is not None:
            self.args["config"] = dict(config)
        self.resources = resources
        self.task_id = task_id
        self.config_id = config_id
        self.bracket = bracket
        self.resume_from = resume_from

    @property
    def config(self) -> dict[str, Any]:
        """The task's config (``args['config']``)."""
        return self.args.get("config", {})

    def __repr__(self) -> str:
        return f"Task(task_id={self.task_id}, config_id={self.config_id}, config={self.config!r})"


def _task_config(task: Any) -> Any:
    if isinstance(task, Task):
        return task.config
    if isinstance(task, Mapping):
        return task
    args = getattr(task, "args", None)  # an AutoGluon Task, or anything shaped like one
    if isinstance(args, Mapping) and "config" in args:
        return args["config"]
    raise ValueError(f"task must be a scheduler.Task or a config dict, got {task!r}")


class _HookedPolicy:
    """The policy, with the facade's on_task_add / on_task_report hooks called after
    it. Everything else is the policy's own (attributes are forwarded)."""

    def __init__(self, policy: Any, facade: AutoGluonMethods):
        self.__dict__["_policy"] = policy
        self.__dict__["_facade"] = facade
        self.__dict__["_views"] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._policy, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._policy, name, value)

    def on_task_start(self, task_id: int, suggestion: Suggestion) -> None:
        self._policy.on_task_start(task_id, suggestion)
        facade = self._facade
        view = Task(
            facade.train_fn,
            {"config": suggestion.config},
            dict(facade.resources.request),
            task_id=task_id,
            config_id=suggestion.config_id,
            bracket=suggestion.bracket,
            resume_from=suggestion.resume_from,
        )
        self._views[task_id] = view
        try:
            facade.on_task_add(
                view,
                new_config=suggestion.new_config,
                bracket=suggestion.bracket,
                resume_from=suggestion.resume_from,
            )
        except Exception:
            log.exception("on_task_add raised for task %d; the run goes on", task_id)

    def on_report(self, task_id: int, result: dict) -> Decision:
        decision = self._policy.on_report(task_id, result)
        if Decision(decision) not in (Decision.CONTINUE, Decision.COMPLETE):
            return decision
        try:
            go = self._facade.on_task_report(self._views[task_id], dict(result))
        except Exception:
            log.exception("on_task_report raised for task %d; the task goes on", task_id)
            return decision
        return decision if go is None or bool(go) else Decision.STOP

    def on_task_end(self, task_id: int, status: str, last_result: dict | None) -> None:
        self._views.pop(task_id, None)
        self._policy.on_task_end(task_id, status, last_result)


class AutoGluonMethods:
    """Mixed into :class:`~scheduler.facades.BaseScheduler`; see the module docstring."""

    if TYPE_CHECKING:  # what BaseScheduler provides to these methods
        policy: Policy
        backend: str
        num_trials: int | None
        space: SearchSpace
        train_fn: Any
        resources: ResourceManager | ClusterResourceManager
        _runner: Runner
        _step_mode: bool

        def _ensure_runner(self) -> Runner: ...
        def run_with_config(self, config: dict) -> tuple[Any, list[dict]]: ...

    # -- hooks ---------------------------------------------------------------------
    def on_task_add(self, task: Task, **kwargs: Any) -> None:
        """Called when a task starts (``kwargs``: ``new_config``, ``bracket``,
        ``resume_from``). The policy and the searcher have registered it already;
        override to observe starts. Runs in the runtime's decision path."""

    def on_task_report(self, task: Task, result: dict) -> bool:
        """Called for each report once the policy decided to let the task go on;
        return False to stop the task (AutoGluon: "should the reporter move on?").
        Override to add a stopping rule of your own; it must decide from ``task`` and
        ``result`` alone (it is called again when a checkpoint is resumed)."""
        return True

    def _hooked(self, policy: Any) -> Any:
        """``policy``, wrapped so that the hooks are called if a subclass overrides them."""
        own = AutoGluonMethods.__dict__
        overridden = any(
            getattr(type(self), name) is not own[name] for name in ("on_task_add", "on_task_report")
        )
        return _HookedPolicy(policy, self) if overridden else policy

    def _inner_policy(self) -> Any:
        policy = self.policy
        return policy._policy if isinstance(policy, _HookedPolicy) else policy

    def _init_autogluon_methods(self) -> None:
        """Called by BaseScheduler.__init__ before a resume replays the journal."""
        self._step_mode = False
        self._runner.replay_handlers[ENQUEUE_EVENT] = self._replay_enqueue

    def _replay_enqueue(self, event: dict) -> None:
        self._inner_policy().enqueue(event["config"])

    # -- the trial budget ----------------------------------------------------------
    def _set_budget(self, budget: int | None) -> None:
        """Under the runtime's lock: the number of new configs the run may start."""
        self._runner.num_trials = budget
        policy = self._inner_policy()
        if hasattr(policy, "num_trials"):  # the RL policy closes its last batch by it
            policy.num_trials = budget

    def _one_more(self) -> None:
        budget = self._runner.num_trials
        if budget is not None:
            self._set_budget(budget + 1)

    def _prepare_stepping(self) -> bool:
        """Before ``run()``: open the journal and enter step mode, with no trials of the
        runtime's own; it stays open until :meth:`join_jobs`. True if the runtime must
        be started once the first trial is recorded."""
        if self._runner.started:
            return False
        if self._runner.synchronous:
            raise ValueError(
                f"schedule_next() and add_job() start trials one by one; backend="
                f"{self.backend!r} runs a whole experiment on a virtual clock: call run()"
            )
        if self._runner.finished:
            raise RuntimeError("this run has ended; build a new scheduler to run more trials")
        runner = self._ensure_runner()
        self._step_mode = True
        runner.hold_open = True
        self._set_budget(runner.num_configs_started)
        return True

    def _stop_stepping(self) -> None:
        """Called by ``run()`` (the budget grows by ``num_trials``, or becomes unlimited
        with only ``time_out``) and by ``join_jobs()`` / ``shutdown()``."""
        if not getattr(self, "_step_mode", False):
            return
        self._step_mode = False
        runner = self._runner

        def release() -> None:
            runner.hold_open = False

        try:
            runner.record(None, release)
        except RuntimeError:
            runner.hold_open = False

    def _stepping_into_run(self) -> None:
        """``run()`` after step-by-step trials: launch ``num_trials`` more."""
        if not getattr(self, "_step_mode", False):
            return
        runner = self._runner

        def grow() -> None:
            budget = runner.num_trials
            # (step mode always has a budget: _prepare_stepping set it)
            more = self.num_trials
            self._set_budget(None if more is None or budget is None else budget + more)

        runner.record(None, grow)
        self._stop_stepping()

    # -- AutoGluon's methods ---------------------------------------------------------
    def schedule_next(self) -> None:
        """Start one more trial (the policy's next suggestion) as soon as a worker is
        free; returns at once. Before :meth:`run` the scheduler runs step by step: only
        the trials asked for, until :meth:`join_jobs`. RuntimeError once the run ended."""
        start = self._prepare_stepping()
        self._runner.record(None, self._one_more)
        if start:
            self._runner.start()

    def add_job(self, task: Any, **kwargs: Any) -> None:
        """Run one more trial for ``task``'s config (a :class:`Task`, an object with
        AutoGluon's ``task.args['config']``, or a config dict), before any config of the
        searcher's own; returns at once.

        The config must be a config of the search space (ValueError naming the first
        bad value). It is journaled, so a resumed run has it. AutoGluon's ``bracket``,
        ``config_key``, ``resume_from`` and ``milestone`` are the policy's decisions here
        and are refused; ``new_config=True`` and ``elapsed_time`` are accepted.
        """
        policy_kwargs = sorted(set(kwargs) & set(_POLICY_KWARGS))
        if policy_kwargs or kwargs.get("new_config", True) is not True:
            given = {k: kwargs[k] for k in (*policy_kwargs, "new_config") if k in kwargs}
            raise ValueError(
                "add_job starts a new config; its bracket and promotions are decided by the "
                f"scheduler's policy on this runtime, got {given}"
            )
        unknown = sorted(set(kwargs) - {"new_config", "elapsed_time", *_POLICY_KWARGS})
        if unknown:
            raise TypeError(f"add_job() got unexpected keyword arguments {unknown}")
        config = _task_config(task)
        if not isinstance(config, Mapping):
            raise ValueError(f"add_job: the task's config must be a dict, got {config!r}")
        extra = sorted(set(config) - set(self.space.hyperparameters))
        if extra:
            raise ValueError(
                f"add_job: config has names that are not hyperparameters of the search "
                f"space: {extra} (hyperparameters: {list(self.space.hyperparameters)})"
            )
        config = self.space.normalize(config)
        start = self._prepare_stepping()
        policy = self._inner_policy()

        def enqueue() -> None:
            policy.enqueue(config)
            self._one_more()

        self._runner.record({"type": ENQUEUE_EVENT, "config": config}, enqueue)
        if start:
            self._runner.start()

    def add_task(self, task: Any, **kwargs: Any) -> None:
        """Deprecated name of :meth:`add_job` (as in AutoGluon)."""
        warnings.warn(
            "add_task() is deprecated in favor of add_job()", DeprecationWarning, stacklevel=2
        )
        self.add_job(task, **kwargs)

    def run_job(self, task: Any) -> Any:
        """Run ``task``'s config once, now, in this process (outside the search: not
        recorded in the history); returns what ``train_fn`` returned."""
        config = _task_config(task)
        value, _reports = self.run_with_config(dict(config))
        return value

    def add_remote(self, ip_addrs: Any) -> None:
        """Remote machines are the Ray backend's: ``backend="ray", ray_address=...``."""
        raise NotImplementedError(
            f"add_remote({ip_addrs!r}): remote machines are run by the Ray backend; build "
            'the scheduler with backend="ray" and ray_address="<host>:<port>" of the cluster'
        )

    @classmethod
    def upload_files(cls, files: Any, **kwargs: Any) -> None:
        """Files reach remote machines through Ray: ``backend="ray"`` with
        ``ray_address=`` (Ray's runtime environments ship the working directory)."""
        raise NotImplementedError(
            f"upload_files({files!r}): remote machines are run by the Ray backend; build the "
            'scheduler with backend="ray" and ray_address="<host>:<port>", whose runtime '
            "environment ships your files"
        )
