"""The RL scheduler's controller: a searcher that samples configs from an LSTM policy
and learns from their rewards with REINFORCE.

Zoph & Le (2017), "Neural Architecture Search with Reinforcement Learning",
https://arxiv.org/abs/1611.01578 . The network is :class:`~scheduler.searchers.rl.
network.ChoiceLSTM` (ENAS's layout), the step is :class:`~scheduler.searchers.rl.
optimizer.Adam`'s; this module maps configs to action sequences and back, keeps the
reward baseline, and is the :class:`~scheduler.searchers.base.BaseSearcher` the RL
scheduler uses.

A config is a sequence of K decisions, one per leaf domain of the space in
:meth:`SearchSpace.leaves` order (for a flat space: one per hyperparameter, sorted by
name; a nested space's leaves are named by their dotted paths, ``opt.lr``). Decision k
picks one of the n_k values of :attr:`RLController.choices` ``[name]``:

- ``Categorical`` and ``Bool``: its choices, as given;
- ``Real``: ``num_bins`` values evenly spaced over ``[lower, upper]`` (in log scale when
  ``log=True``), both ends included -- the domain's :meth:`~scheduler.space.Real.grid`;
- ``Int``: every value when there are at most ``num_bins`` of them, else ``num_bins``
  integers evenly spread over the range, ends included (:meth:`~scheduler.space.Int.grid`).

The leaves of a Categorical's space choice are decided in every sample (the sequence
has a fixed length) but only shape the config when that choice is picked; a config
given from outside (:meth:`RLController.actions_from_config`) takes the default's action
for the leaves it does not use.

Training is REINFORCE with an exponential-moving-average baseline b: for a batch of
finished configs with rewards R_i (larger is better) the loss is::

    L = mean_i [ -(R_i - b) * sum_k log pi_k(a_ik) - entropy_weight * sum_k H(pi_k) ]

b starts at the first reward ever seen; every step uses the b from before the batch,
then folds each reward in, ``b = decay * b + (1 - decay) * R``. The parameters are
re-evaluated at update time, so a config sampled by older weights (asynchronous mode)
is scored by the current ones.

Two ways to drive it, both through the searcher interface:

- under :class:`~scheduler.schedulers.rl.RLPolicy` (the RL scheduler): the runtime
  draws configs with ``get_config()`` and delivers the learning steps the policy queues,
  ``learn(actions_batch, rewards)`` on rewards already "larger is better", batched as
  the policy's sync or async mode says;
- under any other policy (FIFO, say): ``update(config, reward)`` with a finite reward
  is one step on that config (negated for ``mode='min'``); ``evaluation_failed`` gives
  no gradient; ``register_pending`` only records the config.

Configs are sampled with replacement, so the base class's "never propose a seen config
again" does not apply, and the controller never runs out. Its proposals depend on its
weights, so :attr:`~RLController.deterministic_replay` is False: a resumed run tells it
the journaled configs instead of asking it to propose them again; learning steps take
about a millisecond, so :attr:`~RLController.inline_calls` is False (the runtime calls
it on the searcher's thread, off its lock).

Everything is float64 numpy: no I/O, no threads, not thread-safe (the runtime drives it
from one thread). :meth:`RLController.state_dict` is plain JSON-able data (arrays as
base64 of little-endian float64 bytes, the generator as ``bit_generator.state``), and
:meth:`RLController.load_state_dict` restores it exactly.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from scheduler._validation import is_real, positive_int, real
from scheduler.searchers.base import BaseSearcher
from scheduler.searchers.rl.network import ChoiceLSTM
from scheduler.searchers.rl.optimizer import Adam
from scheduler.space import Categorical, SearchSpace

__all__ = ["RLController"]

#: Version of the layout of the controller's part of :meth:`RLController.state_dict`.
STATE_VERSION = 2


def _encode_array(array: np.ndarray) -> dict[str, Any]:
    data = np.ascontiguousarray(array, dtype="<f8")
    return {
        "dtype": "<f8",
        "shape": list(data.shape),
        "data": base64.b64encode(data.tobytes()).decode("ascii"),
    }


def _decode_array(data: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        if data["dtype"] != "<f8" or tuple(data["shape"]) != shape:
            raise ValueError(f"shape {tuple(data['shape'])} dtype {data['dtype']}")
        array = np.frombuffer(base64.b64decode(data["data"]), dtype="<f8")
        return array.reshape(shape).astype(np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"cannot load controller state: {what} must be a float64 array of shape "
            f"{shape}, got {exc}"
        ) from None


class RLController(BaseSearcher):
    """LSTM controller over a search space: sample configs, learn from their rewards.

    Parameters
    ----------
    space : SearchSpace or dict
        The space; one decision per hyperparameter, in sorted-name order.
    hidden_size : int
        H, the LSTM's hidden size (and the embedding size). Default 100.
    num_bins : int
        Levels of a ``Real`` (and of an ``Int`` with more values than this), >= 2.
        Default 10.
    lr : float
        Adam's step size (> 0). Default 1e-3.
    ema_baseline_decay : float
        Decay of the reward baseline, in ``[0, 1)``. Default 0.95.
    entropy_weight : float
        Weight (>= 0) of the entropy bonus in the loss. Default 0.
    random_seed : int, optional
        Seed of the generator that initializes the weights and then draws every sample;
        None means 31415927.
    betas, eps
        Adam's moment decays and denominator constant (default 0.9, 0.999 and 1e-8).
    reward_attr : str
        The searcher interface's reward key (:meth:`update` without a reward).
    mode : {'max', 'min'}
        Whether :meth:`update` rewards are better larger or smaller.

    Attributes
    ----------
    names : tuple of str
        The decisions' hyperparameters, in order.
    choices : dict
        ``{name: list of values}``, the values each decision picks from.
    num_updates : int
        Adam steps taken.
    baseline : float or None
        The reward baseline (None before the first reward).
    params, grads : dict
        ``{name: array}``, the network's parameters and their last gradient (see
        :class:`~scheduler.searchers.rl.network.ChoiceLSTM`).
    """

    #: the runtime drives the controller as a searcher: learning steps take about a
    #: millisecond, so they run off the runtime's lock (on the searcher's thread)
    inline_calls = False
    #: proposals depend on what was learned when: a resumed run tells the controller
    #: the journaled configs instead of asking it to propose them again
    deterministic_replay = False

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        *,
        hidden_size: int = 100,
        num_bins: int = 10,
        lr: float = 1e-3,
        ema_baseline_decay: float = 0.95,
        entropy_weight: float = 0.0,
        random_seed: int | None = None,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        reward_attr: str = "accuracy",
        mode: str = "max",
    ):
        super().__init__(space, reward_attr=reward_attr, mode=mode, random_seed=random_seed)
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.num_bins = positive_int("num_bins", num_bins)
        if self.num_bins < 2:
            raise ValueError(f"num_bins must be >= 2, got {num_bins!r}")
        self.lr = real("lr", lr, "a number > 0", lambda x: x > 0)
        self.ema_baseline_decay = real(
            "ema_baseline_decay", ema_baseline_decay, "within [0, 1)", lambda x: 0 <= x < 1
        )
        self.entropy_weight = real(
            "entropy_weight", entropy_weight, "a number >= 0", lambda x: x >= 0
        )
        if (
            not isinstance(betas, Sequence)
            or len(betas) != 2
            or not all(is_real(b) and 0 <= b < 1 for b in betas)
        ):
            raise ValueError(f"betas must be two numbers within [0, 1), got {betas!r}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = real("eps", eps, "a number > 0", lambda x: x > 0)

        # Decisions (one per leaf domain) and the values they pick from.
        self._leaves = self.space.leaves()
        self._paths = [path for path, _ in self._leaves]
        self.names: tuple[str, ...] = tuple(SearchSpace.leaf_name(p) for p in self._paths)
        self._values: list[list[Any]] = []
        self._units: list[np.ndarray | None] = []  # unit encodings, for nearest-value lookup
        for _, domain in self._leaves:
            values = domain.grid(self.num_bins)
            self._values.append(values)
            if isinstance(domain, Categorical):
                self._units.append(None)
            else:
                self._units.append(np.array([domain.to_unit(v) for v in values]))
        self.sizes: tuple[int, ...] = tuple(len(v) for v in self._values)

        self.network = ChoiceLSTM(self.sizes, self.hidden_size, self.rng)
        self.optimizer = Adam(
            self.network.num_parameters, lr=self.lr, betas=self.betas, eps=self.eps
        )
        self.baseline: float | None = None
        self.num_updates = 0

    # -- configs and actions ---------------------------------------------------

    @property
    def params(self) -> dict[str, np.ndarray]:
        return self.network.params

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return self.network.grads

    @property
    def choices(self) -> dict[str, list[Any]]:
        return {name: list(values) for name, values in zip(self.names, self._values)}

    @property
    def num_parameters(self) -> int:
        return self.network.num_parameters

    def config_from_actions(self, actions: Sequence[int]) -> dict[str, Any]:
        """The config whose decision k picks value ``actions[k]``."""
        actions = self._check_actions(actions)
        values = {path: self._values[k][a] for k, (path, a) in enumerate(zip(self._paths, actions))}
        return self.space.config_from_leaf_values(values)

    def actions_from_config(self, config: Mapping[str, Any]) -> list[int]:
        """The actions of ``config``: a choice's index, or the nearest level of a number
        (the default's for a leaf that ``config`` does not use)."""
        values = self.space.leaf_values(config)
        actions = []
        for k, (path, domain) in enumerate(self._leaves):
            value = values.get(path, domain.default)
            units = self._units[k]
            if units is None:
                actions.append(domain.index_of(value))
            else:
                u = domain.to_unit(value)
                actions.append(int(np.argmin(np.abs(units - u))))
        return actions

    def _check_actions(self, actions: Sequence[int]) -> list[int]:
        out = [int(a) for a in actions]
        if len(out) != len(self.sizes) or any(not 0 <= a < n for a, n in zip(out, self.sizes)):
            raise ValueError(
                f"actions must be {len(self.sizes)} indices below {list(self.sizes)}, "
                f"got {list(actions)!r}"
            )
        return out

    # -- sampling ----------------------------------------------------------------

    def sample(self) -> list[int]:
        """Draw one config's actions from the current policy (one uniform draw per
        decision, from :attr:`rng`). ``config_from_actions`` gives the config."""
        return self.network.sample(self.rng)

    def get_config(self, **kwargs: Any) -> dict[str, Any]:
        """Sample a config (never None: with replacement, so the controller never runs
        out and "seen" means nothing to it: proposals are not recorded). A config queued
        by :meth:`enqueue` (``scheduler.add_job``) comes first."""
        if self._queue:
            return self._queue.pop()
        return self.config_from_actions(self.sample())

    def _propose(self, **kwargs: Any) -> dict[str, Any]:
        return self.config_from_actions(self.sample())

    # -- log-probabilities and the loss ---------------------------------------------

    def _as_batch(self, actions_batch: Sequence[Sequence[int]]) -> np.ndarray:
        batch = [self._check_actions(a) for a in actions_batch]
        return np.array(batch, dtype=np.intp).reshape(len(batch), len(self.sizes))

    def log_prob(self, actions: Sequence[int]) -> float:
        """log pi(actions) under the current weights."""
        logp, _, _ = self.network.forward(self._as_batch([actions]))
        return float(logp[0])

    def probability(self, config: Mapping[str, Any]) -> float:
        """The probability that :meth:`sample` draws ``config`` (numbers are taken at
        their nearest level)."""
        return math.exp(self.log_prob(self.actions_from_config(config)))

    def loss(self, actions_batch: Sequence[Sequence[int]], advantages: npt.ArrayLike) -> float:
        """The REINFORCE loss of a batch for given advantages (no baseline involved)."""
        actions = self._as_batch(actions_batch)
        adv = np.asarray(advantages, dtype=np.float64).reshape(len(actions))
        logp, entropy, _ = self.network.forward(actions)
        return float(np.mean(-adv * logp - self.entropy_weight * entropy))

    def loss_and_grad(
        self, actions_batch: Sequence[Sequence[int]], advantages: npt.ArrayLike
    ) -> tuple[float, dict[str, np.ndarray]]:
        """:meth:`loss` and its gradient, ``{parameter name: array}`` (copies)."""
        actions = self._as_batch(actions_batch)
        B = len(actions)
        adv = np.asarray(advantages, dtype=np.float64).reshape(B)
        logp, entropy, steps = self.network.forward(actions)
        loss = float(np.mean(-adv * logp - self.entropy_weight * entropy))
        self.network.backward(actions, steps, -adv / B, np.full(B, -self.entropy_weight / B))
        return loss, {name: view.copy() for name, view in self.grads.items()}

    # -- learning ------------------------------------------------------------------

    def learn(self, actions_batch: Sequence[Sequence[int]], rewards: Sequence[float]) -> float:
        """One REINFORCE step on a batch of sampled configs and their rewards.

        Rewards are "larger is better" (the policy negates them for ``mode='min'``) and
        finite. Returns the loss before the step.
        """
        actions = self._as_batch(actions_batch)
        R = np.asarray(rewards, dtype=np.float64).reshape(-1)
        if len(R) != len(actions) or len(R) == 0:
            raise ValueError(
                f"learn needs one reward per config and at least one config, got "
                f"{len(actions)} configs and {len(R)} rewards"
            )
        if not np.all(np.isfinite(R)):
            raise ValueError(f"rewards must be finite, got {R.tolist()!r}")
        if self.baseline is None:
            self.baseline = float(R[0])
        adv = R - self.baseline
        decay = self.ema_baseline_decay
        for r in R:
            self.baseline = decay * self.baseline + (1.0 - decay) * float(r)
        B = len(R)
        if not self.sizes:
            return 0.0
        logp, entropy, steps = self.network.forward(actions)
        loss = float(np.mean(-adv * logp - self.entropy_weight * entropy))
        self.network.backward(actions, steps, -adv / B, np.full(B, -self.entropy_weight / B))
        self.optimizer.step(self.network.theta, self.network.grad)
        self.num_updates += 1
        return loss

    def _on_update(self, key: int, reward: float, result: dict[str, Any]) -> None:
        # The searcher interface: one step per finished evaluation with a finite reward.
        if math.isfinite(reward):
            value = reward if self.mode == "max" else -reward
            self.learn([self.actions_from_config(self._configs[key])], [value])

    # -- state ---------------------------------------------------------------------

    def _structure(self) -> dict[str, Any]:
        return {
            "controller": type(self).__name__,
            "controller_version": STATE_VERSION,
            "hidden_size": self.hidden_size,
            "num_bins": self.num_bins,
        }

    def _extra_state(self) -> dict[str, Any]:
        """Weights, Adam moments and step, baseline and counters; settings (lr, decays,
        entropy weight) are not part of it: they come from the constructor."""
        return {
            **self._structure(),
            "params": _encode_array(self.network.theta),
            "adam_m": _encode_array(self.optimizer.m),
            "adam_v": _encode_array(self.optimizer.v),
            "adam_t": self.optimizer.t,
            "baseline": self.baseline,
            "num_updates": self.num_updates,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output exactly (same next samples, same updates).

        Raises ValueError, and changes nothing, if the state was saved for another
        space, hidden size, number of bins, ``reward_attr`` or ``mode``.
        """
        if not isinstance(state, Mapping):
            raise ValueError(f"cannot load controller state: expected a dict, got {state!r}")
        expected = {**self._structure(), "space": _json_roundtrip(self.space.fingerprint())}
        for field, value in expected.items():
            if _json_roundtrip(state.get(field)) != value:
                raise ValueError(
                    f"cannot load controller state: {field} must be {value!r}, "
                    f"got {state.get(field)!r}"
                )
        shape = self.network.theta.shape
        params = _decode_array(state.get("params"), shape, "params")
        m = _decode_array(state.get("adam_m"), shape, "adam_m")
        v = _decode_array(state.get("adam_v"), shape, "adam_v")
        super().load_state_dict(state)  # the generator and the searcher's bookkeeping
        self.network.theta[:] = params  # in place: the views in params/grads stay valid
        self.optimizer.load(m, v, int(state.get("adam_t", 0)))
        baseline = state.get("baseline")
        self.baseline = None if baseline is None else float(baseline)
        self.num_updates = int(state.get("num_updates", 0))

    def __repr__(self) -> str:
        return (
            f"RLController({self.space!r}, hidden_size={self.hidden_size}, "
            f"num_bins={self.num_bins}, lr={self.lr!r}, "
            f"ema_baseline_decay={self.ema_baseline_decay!r}, "
            f"entropy_weight={self.entropy_weight!r}, random_seed={self.random_seed!r}, "
            f"reward_attr={self.reward_attr!r}, mode={self.mode!r})"
        )


def _json_roundtrip(value: Any) -> Any:
    return json.loads(json.dumps(value))
