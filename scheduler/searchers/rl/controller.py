"""The RL scheduler's controller: an LSTM that samples configs, trained with REINFORCE.

Zoph & Le (2017), "Neural Architecture Search with Reinforcement Learning",
https://arxiv.org/abs/1611.01578 ; the controller layout (a learned start input, the
embedding of the previous choice, one shared LSTM cell, one linear decoder per
decision) is that of ENAS, Pham et al. (2018), https://arxiv.org/abs/1802.03268 .

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

The network, with hidden size H (the embedding size is H too)::

    x_0 = start                              learned input, shape (H,)
    x_k = embed_{k-1}[a_{k-1}]               embedding of the previous choice, k >= 1
    i, f, g, o = split([x_k, h_{k-1}] @ lstm_w + lstm_b)     h_{-1} = c_{-1} = 0
    c_k = sigmoid(f) * c_{k-1} + sigmoid(i) * tanh(g)
    h_k = sigmoid(o) * tanh(c_k)
    pi_k = softmax(h_k @ dec_w_k + dec_b_k)  a_k ~ pi_k, from the controller's generator

Training is REINFORCE with an exponential-moving-average baseline b: for a batch of
finished configs with rewards R_i (larger is better) the loss is::

    L = mean_i [ -(R_i - b) * sum_k log pi_k(a_ik) - entropy_weight * sum_k H(pi_k) ]

b starts at the first reward ever seen; every update uses the b from before the batch,
then folds each reward in, ``b = decay * b + (1 - decay) * R``. The gradient is
computed by backpropagation through time written by hand (checked against finite
differences in the tests), and the step is Adam's (Kingma & Ba, 2015). The parameters
are re-evaluated at update time, so a config sampled by older weights (asynchronous
mode) is scored by the current ones.

Everything is float64 numpy: no I/O, no threads, not thread-safe (the policy calls it
under the runtime's lock). :meth:`RLController.state_dict` is plain JSON-able data
(arrays as base64 of little-endian float64 bytes, the generator as
``bit_generator.state``), and :meth:`RLController.load_state_dict` restores it exactly.
"""

from __future__ import annotations

import base64
import json
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scheduler._validation import positive_int, real
from scheduler.searchers._queue import ConfigQueue
from scheduler.searchers.base import DEFAULT_RANDOM_SEED
from scheduler.space import Categorical, SearchSpace, as_search_space

__all__ = ["RLController"]

#: Version of the layout of :meth:`RLController.state_dict`.
STATE_VERSION = 1

#: Half-width of the uniform initialization of weights (ENAS's 0.1); biases start at 0.
INIT_SCALE = 0.1


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # The tanh form never overflows, so no warnings for large |z|.
    return 0.5 * (np.tanh(0.5 * z) + 1.0)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


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


class RLController:
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

    Attributes
    ----------
    names : tuple of str
        The decisions' leaves (dotted paths; the hyperparameter names of a flat space),
        in order.
    choices : dict
        ``{name: list of values}``, the values each decision picks from (a
        Categorical's choice objects).
    num_updates : int
        Adam steps taken.
    baseline : float or None
        The reward baseline (None before the first reward).
    params : dict
        ``{name: array}``: ``start``, ``lstm_w`` (2H x 4H, gates i, f, g, o), ``lstm_b``,
        ``embed_k`` (n_k x H, k < K - 1), ``dec_w_k`` (H x n_k) and ``dec_b_k``. Views
        into one flat float64 vector; ``grads`` has the same layout.
    """

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
    ):
        self.space = as_search_space(space, "space")
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
            or not all(isinstance(b, numbers.Real) and 0 <= b < 1 for b in betas)
        ):
            raise ValueError(f"betas must be two numbers within [0, 1), got {betas!r}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = real("eps", eps, "a number > 0", lambda x: x > 0)
        seed = DEFAULT_RANDOM_SEED if random_seed is None else random_seed
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"random_seed must be an integer >= 0 or None, got {random_seed!r}")
        self.random_seed = int(seed)

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

        # Parameters: views into one flat vector, so that Adam works on whole vectors.
        H = self.hidden_size
        K = len(self.names)
        layout: list[tuple[str, tuple[int, ...]]] = [
            ("start", (H,)),
            ("lstm_w", (2 * H, 4 * H)),
            ("lstm_b", (4 * H,)),
        ]
        layout += [(f"embed_{k}", (self.sizes[k], H)) for k in range(K - 1)]
        for k in range(K):
            layout += [(f"dec_w_{k}", (H, self.sizes[k])), (f"dec_b_{k}", (self.sizes[k],))]
        self._layout = layout
        total = sum(math.prod(shape) for _, shape in layout)
        self._theta = np.zeros(total)
        self._grad = np.zeros(total)
        self.params = self._views(self._theta)
        self.grads = self._views(self._grad)
        self._m = np.zeros(total)
        self._v = np.zeros(total)
        self._tmp = np.zeros(total)  # scratch for the Adam step
        self._t = 0
        self.baseline: float | None = None
        self.num_updates = 0

        self._queue = ConfigQueue(self.space.config_key)
        self.rng = np.random.default_rng(self.random_seed)
        for name, _ in layout:
            if name != "lstm_b" and not name.startswith("dec_b_"):
                view = self.params[name]
                view[...] = self.rng.uniform(-INIT_SCALE, INIT_SCALE, size=view.shape)

    def _views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        views, offset = {}, 0
        for name, shape in self._layout:
            size = math.prod(shape)
            views[name] = flat[offset : offset + size].reshape(shape)
            offset += size
        return views

    # -- configs and actions ---------------------------------------------------

    @property
    def choices(self) -> dict[str, list[Any]]:
        return {name: list(values) for name, values in zip(self.names, self._values)}

    @property
    def num_parameters(self) -> int:
        return int(self._theta.size)

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

    #: the runtime drives the controller as a searcher: learning steps take about a
    #: millisecond, so they run off the runtime's lock; proposals depend on what was
    #: learned when, so a resumed run is told the journaled configs
    inline_calls = False
    deterministic_replay = False

    def get_config(self, **kwargs: Any) -> dict[str, Any]:
        """Sample a config (the searcher interface; never None: with replacement). A
        config queued by :meth:`enqueue` comes first."""
        if self._queue:
            return self._queue.pop()
        return self.config_from_actions(self.sample())

    def enqueue(self, config: Mapping[str, Any]) -> None:
        """Propose ``config`` before any sample of the controller's own
        (``scheduler.add_job``); the queue is part of :meth:`state_dict`."""
        self._queue.push(config)

    def learn(self, actions_batch: Sequence[Sequence[int]], rewards: Sequence[float]) -> float:
        """One REINFORCE step on a batch (what :class:`RLPolicy` queues); see
        :meth:`update`."""
        return self.update(actions_batch, rewards)

    def register_pending(self, config: Mapping[str, Any], milestone: int | None = None) -> None:
        """Nothing to learn (the controller learns from finished trials); a config queued
        by :meth:`enqueue` that started leaves the queue."""
        self._queue.started(config)

    def evaluation_failed(self, config: Mapping[str, Any], **kwargs: Any) -> None:
        """Nothing to do: a failed trial gives no gradient."""

    def sample(self) -> list[int]:
        """Draw one config's actions from the current policy (one uniform draw per
        decision, from :attr:`rng`). ``config_from_actions`` gives the config."""
        p = self.params
        H = self.hidden_size
        w, bias = p["lstm_w"], p["lstm_b"]
        h = np.zeros(H)
        c = np.zeros(H)
        x = p["start"]
        actions = []
        for k, n in enumerate(self.sizes):
            z = np.concatenate([x, h]) @ w + bias
            s = _sigmoid(z)  # i, f, o; the g quarter is unused
            c = s[H : 2 * H] * c + s[:H] * np.tanh(z[2 * H : 3 * H])
            h = s[3 * H :] * np.tanh(c)
            logits = h @ p[f"dec_w_{k}"] + p[f"dec_b_{k}"]
            probs = np.exp(logits - logits.max())
            cdf = np.cumsum(probs)
            a = min(int(np.searchsorted(cdf, self.rng.random() * cdf[-1], side="right")), n - 1)
            actions.append(a)
            if k + 1 < len(self.sizes):
                x = p[f"embed_{k}"][a]
        return actions

    # -- forward and backward over a batch ------------------------------------------

    def _forward(self, actions: np.ndarray):
        """Log-probabilities and entropies of a batch of action sequences (B, K)."""
        p = self.params
        H = self.hidden_size
        B = actions.shape[0]
        h = np.zeros((B, H))
        c = np.zeros((B, H))
        logp = np.zeros(B)
        entropy = np.zeros(B)
        steps = []
        rows = np.arange(B)
        for k in range(len(self.sizes)):
            if k == 0:
                x = np.broadcast_to(p["start"], (B, H))
            else:
                x = p[f"embed_{k - 1}"][actions[:, k - 1]]
            xh = np.concatenate([x, h], axis=1)
            z = xh @ p["lstm_w"] + p["lstm_b"]
            i = _sigmoid(z[:, :H])
            f = _sigmoid(z[:, H : 2 * H])
            g = np.tanh(z[:, 2 * H : 3 * H])
            o = _sigmoid(z[:, 3 * H :])
            c_prev = c
            c = f * c_prev + i * g
            tc = np.tanh(c)
            h = o * tc
            log_pi = _log_softmax(h @ p[f"dec_w_{k}"] + p[f"dec_b_{k}"])
            pi = np.exp(log_pi)
            ent = -(pi * log_pi).sum(axis=1)
            logp += log_pi[rows, actions[:, k]]
            entropy += ent
            steps.append((xh, i, f, g, o, c_prev, tc, h, pi, log_pi, ent))
        return logp, entropy, steps

    def _backward(self, actions, steps, coef_logp: np.ndarray, coef_ent: np.ndarray) -> None:
        """Set :attr:`grads` to the gradient of ``sum_i coef_logp[i] * logp_i +
        coef_ent[i] * entropy_i`` (backpropagation through time)."""
        p = self.params
        d = self.grads
        self._grad[:] = 0.0
        H = self.hidden_size
        B = actions.shape[0]
        rows = np.arange(B)
        dh_next = np.zeros((B, H))
        dc_next = np.zeros((B, H))
        w_t = p["lstm_w"].T
        dzs: list[np.ndarray] = [np.empty(0)] * len(self.sizes)
        for k in reversed(range(len(self.sizes))):
            _xh, i, f, g, o, c_prev, tc, h, pi, log_pi, ent = steps[k]
            # d logp[a] / d logits = onehot(a) - pi; d H / d logits = -pi (log pi + H).
            dlogits = -pi * coef_logp[:, None]
            dlogits[rows, actions[:, k]] += coef_logp
            dlogits -= pi * (log_pi + ent[:, None]) * coef_ent[:, None]
            d[f"dec_w_{k}"][...] = h.T @ dlogits
            d[f"dec_b_{k}"][...] = dlogits.sum(axis=0)
            dh = dlogits @ p[f"dec_w_{k}"].T + dh_next
            dc = dh * o * (1.0 - tc * tc) + dc_next
            dz = np.concatenate(
                [
                    dc * g * i * (1.0 - i),
                    dc * c_prev * f * (1.0 - f),
                    dc * i * (1.0 - g * g),
                    dh * tc * o * (1.0 - o),
                ],
                axis=1,
            )
            dzs[k] = dz
            dxh = dz @ w_t
            dh_next = dxh[:, H:]
            dc_next = dc * f
            if k == 0:
                d["start"] += dxh[:, :H].sum(axis=0)
            else:
                np.add.at(d[f"embed_{k - 1}"], actions[:, k - 1], dxh[:, :H])
        if dzs:  # the LSTM weights are shared by all steps: one product over all of them
            dz_all = np.concatenate(dzs)
            np.matmul(np.concatenate([step[0] for step in steps]).T, dz_all, out=d["lstm_w"])
            d["lstm_b"][...] = dz_all.sum(axis=0)

    def _as_batch(self, actions_batch: Sequence[Sequence[int]]) -> np.ndarray:
        batch = [self._check_actions(a) for a in actions_batch]
        return np.array(batch, dtype=np.intp).reshape(len(batch), len(self.sizes))

    def log_prob(self, actions: Sequence[int]) -> float:
        """log pi(actions) under the current weights."""
        logp, _, _ = self._forward(self._as_batch([actions]))
        return float(logp[0])

    def probability(self, config: Mapping[str, Any]) -> float:
        """The probability that :meth:`sample` draws ``config`` (numbers are taken at
        their nearest level)."""
        return math.exp(self.log_prob(self.actions_from_config(config)))

    def loss(self, actions_batch, advantages) -> float:
        """The REINFORCE loss of a batch for given advantages (no baseline involved)."""
        actions = self._as_batch(actions_batch)
        adv = np.asarray(advantages, dtype=np.float64).reshape(len(actions))
        logp, entropy, _ = self._forward(actions)
        return float(np.mean(-adv * logp - self.entropy_weight * entropy))

    def loss_and_grad(self, actions_batch, advantages) -> tuple[float, dict[str, np.ndarray]]:
        """:meth:`loss` and its gradient, ``{parameter name: array}`` (copies)."""
        actions = self._as_batch(actions_batch)
        B = len(actions)
        adv = np.asarray(advantages, dtype=np.float64).reshape(B)
        logp, entropy, steps = self._forward(actions)
        loss = float(np.mean(-adv * logp - self.entropy_weight * entropy))
        self._backward(actions, steps, -adv / B, np.full(B, -self.entropy_weight / B))
        return loss, {name: view.copy() for name, view in self.grads.items()}

    # -- learning ------------------------------------------------------------------

    def update(self, actions_batch: Sequence[Sequence[int]], rewards: Sequence[float]) -> float:
        """One REINFORCE step on a batch of sampled configs and their rewards.

        Rewards are "larger is better" (the policy negates them for ``mode='min'``) and
        finite. Returns the loss before the step.
        """
        actions = self._as_batch(actions_batch)
        R = np.asarray(rewards, dtype=np.float64).reshape(-1)
        if len(R) != len(actions) or len(R) == 0:
            raise ValueError(
                f"update needs one reward per config and at least one config, got "
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
        logp, entropy, steps = self._forward(actions)
        loss = float(np.mean(-adv * logp - self.entropy_weight * entropy))
        self._backward(actions, steps, -adv / B, np.full(B, -self.entropy_weight / B))
        self._adam_step()
        return loss

    def _adam_step(self) -> None:
        b1, b2 = self.betas
        g, m, v, tmp = self._grad, self._m, self._v, self._tmp
        self._t += 1
        # In place, through one scratch vector: no allocation per step.
        np.multiply(g, 1.0 - b1, out=tmp)
        m *= b1
        m += tmp
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - b2
        v *= b2
        v += tmp
        step = self.lr * math.sqrt(1.0 - b2**self._t) / (1.0 - b1**self._t)
        np.sqrt(v, out=tmp)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= step
        self._theta -= tmp
        self.num_updates += 1

    # -- state ---------------------------------------------------------------------

    def _structure(self) -> dict[str, Any]:
        return {
            "controller": type(self).__name__,
            "version": STATE_VERSION,
            "space": self.space.fingerprint(),
            "hidden_size": self.hidden_size,
            "num_bins": self.num_bins,
        }

    def state_dict(self) -> dict[str, Any]:
        """Weights, Adam moments and step, baseline, counters and the generator state,
        as plain JSON-able data. Settings (lr, decays, entropy weight) are not part of
        it: they come from the constructor."""
        return {
            **self._structure(),
            "params": _encode_array(self._theta),
            "adam_m": _encode_array(self._m),
            "adam_v": _encode_array(self._v),
            "adam_t": self._t,
            "baseline": self.baseline,
            "num_updates": self.num_updates,
            "random_seed": self.random_seed,
            "rng": self.rng.bit_generator.state,
            "queue": self._queue.to_list(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output exactly (same next samples, same updates).

        Raises ValueError if the state was saved for another space, hidden size or
        number of bins.
        """
        expected = self._structure()
        expected["space"] = _json_roundtrip(expected["space"])
        for field, value in expected.items():
            if _json_roundtrip(state.get(field)) != value:
                raise ValueError(
                    f"cannot load controller state: {field} must be {value!r}, "
                    f"got {state.get(field)!r}"
                )
        shape = self._theta.shape
        params = _decode_array(state.get("params"), shape, "params")
        m = _decode_array(state.get("adam_m"), shape, "adam_m")
        v = _decode_array(state.get("adam_v"), shape, "adam_v")
        rng = np.random.default_rng()
        try:
            rng.bit_generator.state = state["rng"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"cannot load controller state: bad rng state ({exc})") from None
        baseline = state.get("baseline")
        self._theta[:] = params  # in place: the views in params/grads stay valid
        self._m[:] = m
        self._v[:] = v
        self._t = int(state.get("adam_t", 0))
        self.baseline = None if baseline is None else float(baseline)
        self.num_updates = int(state.get("num_updates", 0))
        self.random_seed = int(state.get("random_seed", self.random_seed))
        self.rng = rng
        self._queue.load(state.get("queue", []))

    def __repr__(self) -> str:
        return (
            f"RLController({self.space!r}, hidden_size={self.hidden_size}, "
            f"num_bins={self.num_bins}, lr={self.lr!r}, "
            f"ema_baseline_decay={self.ema_baseline_decay!r}, "
            f"entropy_weight={self.entropy_weight!r}, random_seed={self.random_seed!r})"
        )


def _json_roundtrip(value: Any) -> Any:
    return json.loads(json.dumps(value))
