"""The searcher interface and the bookkeeping every searcher shares.

A searcher proposes configs (:meth:`BaseSearcher.get_config`) and learns from their
results (:meth:`BaseSearcher.update`). It is policy only: it does no I/O, owns no
threads and is not thread-safe (the scheduler serializes calls). Its state is plain
JSON (:meth:`BaseSearcher.state_dict`), so a run can resume with the same stream of
configs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from scheduler._validation import is_integer, is_real
from scheduler.searchers._queue import ConfigQueue
from scheduler.searchers._records import Rewards, SeenIndex
from scheduler.space import ConfigTable, SearchSpace, as_search_space

__all__ = ["DEFAULT_RANDOM_SEED", "BaseSearcher", "reward_attr_alias"]

#: The seed used when ``random_seed`` is None (AutoGluon's default, too).
DEFAULT_RANDOM_SEED = 31415927

#: Version of the layout of :meth:`BaseSearcher.state_dict`.
STATE_VERSION = 1

_MISSING: Any = object()


def _as_space(space: Any) -> SearchSpace:
    return as_search_space(space, "space")


def reward_attr_alias(reward_attr: str, reward_attribute: str | None) -> str:
    """``reward_attr``, or AutoGluon's name for it, ``reward_attribute``, if given."""
    if reward_attribute is None:
        return reward_attr
    if reward_attr != "accuracy" and reward_attr != reward_attribute:
        raise ValueError(
            "reward_attribute is AutoGluon's name for reward_attr: give one of them, got "
            f"reward_attr={reward_attr!r} and reward_attribute={reward_attribute!r}"
        )
    return reward_attribute


class BaseSearcher:
    """Base class of searchers: seen configs, pending evaluations, results, best config.

    Parameters
    ----------
    space : SearchSpace, dict or ConfigSpace.ConfigurationSpace
        The space to search (a dict is wrapped in a SearchSpace, a ConfigurationSpace
        converted by :func:`scheduler.space.from_configspace`).
    reward_attr : str
        The reported metric that :meth:`update` takes as the reward when none is passed
        (``reward_attribute``, AutoGluon's name, is accepted too).
    mode : {'max', 'min'}
        Whether a larger or a smaller reward is better.
    random_seed : int, optional
        Seed of the searcher's ``numpy.random.Generator`` (:attr:`rng`); None means
        :data:`DEFAULT_RANDOM_SEED` (31415927), so runs are reproducible by default.

    Subclasses implement :meth:`_propose`, and :meth:`_extra_state` /
    :meth:`_load_extra_state` if they keep more state. A config is *seen* once it was
    proposed, registered as pending, updated or failed; searchers never propose a seen
    config again. Configs are compared as :meth:`SearchSpace.config_key` compares them;
    each seen config is stored once, in a :class:`~scheduler.space.ConfigTable`
    (:attr:`_configs`), and the searcher's records are keyed by its row there (an int).

    The runtime drives a searcher from one thread at a time, never concurrently.
    ``inline_calls = True`` (cheap searchers: every call takes microseconds) lets it call
    the searcher under its lock, in the order of events; a model-based searcher sets it
    False and gets its calls on a thread of its own. ``deterministic_replay = True``
    says the next config is a pure function of the calls so far (and the seed), so a
    resumed run replays the journal by calling :meth:`get_config` again; a searcher
    whose proposals depend on timing (model fits) sets it False and is told the
    journaled configs instead.
    """

    #: calls are cheap enough to be made under the runtime's lock
    inline_calls: bool = True
    #: get_config's results depend only on the seed and the calls so far
    deterministic_replay: bool = True

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        reward_attr: str = "accuracy",
        mode: str = "max",
        random_seed: int | None = None,
        *,
        reward_attribute: str | None = None,
    ):
        self.space = _as_space(space)
        reward_attr = reward_attr_alias(reward_attr, reward_attribute)
        if not isinstance(reward_attr, str) or not reward_attr:
            raise ValueError(f"reward_attr must be a non-empty string, got {reward_attr!r}")
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        seed = DEFAULT_RANDOM_SEED if random_seed is None else random_seed
        if not is_integer(seed) or seed < 0:
            raise ValueError(f"random_seed must be an integer >= 0 or None, got {random_seed!r}")
        self.reward_attr = reward_attr
        self.mode = mode
        self.random_seed = int(seed)
        self.rng = np.random.default_rng(self.random_seed)
        self._clear()

    def _clear(self) -> None:
        # key: the config's row in _configs (0, 1, 2, ... in the order seen)
        self._configs = ConfigTable(self.space, index=True)  # row -> config
        # the table kernel's own lookup (a packable config in one call), or None; not
        # for a subclass with a _mark_seen of its own, which every lookup goes through
        self._intern_packed = (
            self._configs.intern_packable
            if type(self)._mark_seen is BaseSearcher._mark_seen
            else None
        )
        self._sample = self._configs.sampler  # draws as self.space.sample draws
        # update()'s shortcuts hold for the subclasses that keep these as they are
        cls = type(self)
        self._plain_parse = cls._parse_update is BaseSearcher._parse_update
        self._update_hook = cls._on_update is not BaseSearcher._on_update
        self._finite = self.space.is_finite
        self._size = self.space.size
        self._seen = SeenIndex(self.space.is_finite)  # row -> index in a finite space
        self._seen_in_space = 0  # seen keys with an index
        self._pending: dict[int, int | None] = {}  # key -> milestone
        self._results = Rewards()  # key -> latest reward, in first-record order
        self._failed: dict[int, None] = {}  # keys, in order
        self._marked: Any = None  # the config _propose marked seen already (_mark_new)
        self._queue = ConfigQueue(self.space.config_key)  # proposed first (enqueue)

    # -- to be provided by subclasses ----------------------------------------

    def _propose(self, **kwargs: Any) -> dict[str, Any] | None:
        """A config not seen yet, or None when there is none left."""
        raise NotImplementedError

    def _on_seen(self, index: int) -> None:
        """Called when the config with this index in a finite space becomes seen."""

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        pass

    # -- the searcher interface ----------------------------------------------

    def get_config(self, **kwargs: Any) -> dict[str, Any] | None:
        """The next config to evaluate, or None when the space is exhausted.

        Keyword arguments (scheduler context such as ``elapsed_time``) are accepted and
        ignored by the searchers that do not use them.
        """
        queue = self._queue
        proposed: dict[str, Any] | None = queue.pop() if queue.items else self._propose(**kwargs)
        if proposed is None:
            return None
        config = proposed
        if self._marked is not config:
            self._mark_seen(config)
        self._marked = None
        return dict(config)

    def enqueue(self, config: Mapping[str, Any]) -> None:
        """Propose ``config`` before any config of the searcher's own (configs queued
        are proposed in order, even one seen already: someone asked for it). Used by
        ``scheduler.add_job``; the queue is part of :meth:`state_dict`."""
        self._queue.push(config)

    @property
    def num_queued(self) -> int:
        """Configs queued by :meth:`enqueue` and not proposed yet."""
        return len(self._queue)

    def update(self, config: Any = _MISSING, reward: Any = None, /, **result: Any) -> None:
        """Record ``reward`` for ``config`` (the latest reward of a config counts).

        Called as ``update(config, reward, **result)``, or AutoGluon's way,
        ``update(config=config, **result)`` with the reward in ``result[reward_attr]``.
        A NaN or infinite reward (a diverged evaluation) is not recorded; the config
        stays seen either way. The config is no longer pending.
        """
        if type(reward) is float and config is not _MISSING and self._plain_parse:
            value = reward  # the runtime's call: positional config and reward
        else:
            config, value = self._parse_update(config, reward, result)
        found = self._intern_packed(config) if self._intern_packed is not None else None
        if found is None:
            key = self._mark_seen(config)
        else:  # the table's kernel packed and found (or added) it
            key = found[0]
            if found[1]:
                self._add_seen(config)
        if self._pending:
            self._pending.pop(key, None)
        if value - value == 0.0:  # finite (inf - inf and NaN - NaN are NaN)
            self._results[key] = value
        if self._update_hook:
            self._on_update(key, value, result)

    def _parse_update(self, config: Any, reward: Any, result: dict[str, Any]) -> tuple[Any, float]:
        """``(config, reward)`` of an :meth:`update` call; ``config`` is popped from
        ``result`` when passed by keyword. Raises ValueError for a missing or
        non-numeric reward."""
        if type(reward) is float and config is not _MISSING:
            return config, reward  # the runtime's call: positional config and reward
        if config is _MISSING:
            if "config" not in result:
                raise ValueError("update() needs a config, got none")
            config = result.pop("config")
        if reward is None:
            if self.reward_attr in result:
                reward = result[self.reward_attr]
            elif "reward" in result:
                reward = result["reward"]
            else:
                raise ValueError(
                    f"update() needs a reward: pass it, or report {self.reward_attr!r} "
                    f"(reward_attr), got result keys {sorted(result)}"
                )
        if not is_real(reward):
            raise ValueError(f"reward must be a number, got {reward!r}")
        return config, float(reward)

    def _on_update(self, key: int, reward: float, result: dict[str, Any]) -> None:
        """Called by :meth:`update` once the result is recorded (subclass hook)."""

    def register_pending(self, config: Mapping[str, Any], milestone: int | None = None) -> None:
        """Note that ``config`` is being evaluated (up to ``milestone``, if given)."""
        if milestone is not None and not is_integer(milestone):
            raise ValueError(f"milestone must be an integer or None, got {milestone!r}")
        found = self._intern_packed(config) if self._intern_packed is not None else None
        if found is None:
            key = self._mark_seen(config)
        else:
            key = found[0]
            if found[1]:
                self._add_seen(config)
        self._pending[key] = None if milestone is None else int(milestone)
        # A queued config started without get_config (a journal replayed into a
        # searcher that is not asked again) is no longer queued.
        queue = self._queue
        if queue.items or queue.proposed:
            queue.started(config)

    def evaluation_failed(self, config: Mapping[str, Any], **kwargs: Any) -> None:
        """Note that the evaluation of ``config`` failed; it is not proposed again."""
        key = self._mark_seen(config)
        self._pending.pop(key, None)
        self._failed[key] = None

    def get_best_config(self) -> dict[str, Any] | None:
        """The config with the best recorded reward (the first one on ties), or None."""
        key = self._best_key()
        return None if key is None else dict(self._configs[key])

    def get_best_reward(self) -> float | None:
        """The best recorded reward, or None if no reward was recorded."""
        key = self._best_key()
        return None if key is None else self._results[key]

    @property
    def num_seen(self) -> int:
        """Number of distinct configs seen (proposed, pending, updated or failed)."""
        return len(self._seen)

    @property
    def num_results(self) -> int:
        """Number of distinct configs with a recorded reward."""
        return len(self._results)

    @property
    def num_failed(self) -> int:
        return len(self._failed)

    def pending_configs(self) -> list[dict[str, Any]]:
        """The configs registered as pending and not yet updated or failed."""
        return [dict(self._configs[key]) for key in self._pending]

    # -- bookkeeping ---------------------------------------------------------

    def _is_seen(self, config: Mapping[str, Any]) -> bool:
        return self._configs.find(config) >= 0

    def _mark_new(self, config: dict[str, Any]) -> bool:
        """Mark a config ``_propose`` drew as seen; True if it was not seen before (then
        :meth:`get_config` does not look it up a second time)."""
        found = self._intern_packed(config) if self._intern_packed is not None else None
        added = (self._configs.intern(config) if found is None else found)[1]
        if added:
            self._add_seen(config)
            self._marked = config
        return added

    def _mark_seen(self, config: Any) -> int:
        if type(config) is not dict and not isinstance(config, Mapping):
            raise ValueError(f"config must be a dict of hyperparameter values, got {config!r}")
        key, added = self._configs.intern(config)
        if added:
            self._add_seen(config)
        return key

    def _add_seen(self, config: Mapping[str, Any]) -> None:
        """``config`` was just added to :attr:`_configs` (as its last row)."""
        index = self.space.index_of(config) if self._finite else None
        self._seen.add(index)
        if index is not None:
            self._seen_in_space += 1
            self._on_seen(index)

    def _best_key(self) -> int | None:
        key = self._results.best(self.mode == "max")
        return None if key < 0 else key

    # -- state ---------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The searcher's state as plain JSON-able data (the generator state included)."""

        configs, encode = self._configs, self.space.encode_config

        def encoded(key: int) -> Any:
            return encode(configs[key])

        return {
            "searcher": type(self).__name__,
            "version": STATE_VERSION,
            "space": self.space.fingerprint(),
            "reward_attr": self.reward_attr,
            "mode": self.mode,
            "random_seed": self.random_seed,
            "rng": self.rng.bit_generator.state,
            "seen": [encoded(key) for key in range(len(configs))],
            "pending": [[encoded(key), milestone] for key, milestone in self._pending.items()],
            "results": [[encoded(key), reward] for key, reward in self._results.items()],
            "failed": [encoded(key) for key in self._failed],
            "queue": [self.space.encode_config(config) for config in self._queue.to_list()],
            **self._extra_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output; the searcher continues the same stream.

        Raises ValueError if the state comes from another searcher type, another search
        space, another ``reward_attr`` or ``mode``.
        """
        expected = {
            "searcher": type(self).__name__,
            "version": STATE_VERSION,
            "space": json.loads(json.dumps(self.space.fingerprint())),
            "reward_attr": self.reward_attr,
            "mode": self.mode,
        }
        for field, value in expected.items():
            if state.get(field) != value:
                raise ValueError(
                    f"cannot load searcher state: {field} must be {value!r}, "
                    f"got {state.get(field)!r}"
                )
        rng = np.random.default_rng()
        try:
            rng.bit_generator.state = state["rng"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"cannot load searcher state: bad rng state ({exc})") from None
        self.rng = rng
        self.random_seed = state.get("random_seed", self.random_seed)
        self._clear()
        self._clear_extra()
        for item in state.get("seen", []):  # in order: the seen order is kept
            self._load_seen(item)
        for item, milestone in state.get("pending", []):
            self._pending[self._load_seen(item)] = milestone
        for item, reward in state.get("results", []):
            self._results[self._load_seen(item)] = float(reward)
        for item in state.get("failed", []):
            self._failed[self._load_seen(item)] = None
        self._queue.load([self.space.decode_config(item) for item in state.get("queue", [])])
        self._load_extra_state(state)

    def _clear_extra(self) -> None:
        """Reset subclass state before :meth:`load_state_dict` replays the seen configs."""

    def _load_seen(self, encoded: Mapping[str, Any]) -> int:
        return self._mark_seen(self.space.decode_config(encoded))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.space!r}, reward_attr={self.reward_attr!r}, "
            f"mode={self.mode!r}, random_seed={self.random_seed!r})"
        )
