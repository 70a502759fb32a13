"""The controller's network: an LSTM over a sequence of choices, forward and backward.

The layout is that of ENAS, Pham et al. (2018), https://arxiv.org/abs/1802.03268 : a
learned start input, the embedding of the previous choice, one shared LSTM cell, one
linear decoder per decision. With hidden size H (the embedding size is H too) and K
decisions of n_k values each::

    x_0 = start                              learned input, shape (H,)
    x_k = embed_{k-1}[a_{k-1}]               embedding of the previous choice, k >= 1
    i, f, g, o = split([x_k, h_{k-1}] @ lstm_w + lstm_b)     h_{-1} = c_{-1} = 0
    c_k = sigmoid(f) * c_{k-1} + sigmoid(i) * tanh(g)
    h_k = sigmoid(o) * tanh(c_k)
    pi_k = softmax(h_k @ dec_w_k + dec_b_k)  a_k ~ pi_k

:meth:`ChoiceLSTM.forward` gives the log-probability and the entropy of a batch of
action sequences; :meth:`ChoiceLSTM.backward` is backpropagation through time written
by hand (checked against finite differences in the tests). float64 numpy only: no I/O,
no threads, not thread-safe.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["INIT_SCALE", "ChoiceLSTM"]

#: Half-width of the uniform initialization of weights (ENAS's 0.1); biases start at 0.
INIT_SCALE = 0.1

#: What the forward pass keeps per decision for the backward pass.
Step = tuple[np.ndarray, ...]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # The tanh form never overflows, so no warnings for large |z|.
    return 0.5 * (np.tanh(0.5 * z) + 1.0)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class ChoiceLSTM:
    """The LSTM policy network over K decisions of ``sizes[k]`` values each.

    Parameters
    ----------
    sizes : sequence of int
        n_k, the number of values decision k picks from (each >= 1).
    hidden_size : int
        H, the LSTM's hidden size and the embedding size.
    rng : numpy.random.Generator
        Draws the initial weights (uniform in ``[-INIT_SCALE, INIT_SCALE]``, parameter
        by parameter in layout order; biases start at 0).

    Attributes
    ----------
    theta, grad : numpy.ndarray
        All parameters, and their gradient, as one flat float64 vector each (so that an
        optimizer works on whole vectors).
    params, grads : dict
        ``{name: array}`` views into ``theta`` and ``grad``: ``start``, ``lstm_w``
        (2H x 4H, gates i, f, g, o), ``lstm_b``, ``embed_k`` (n_k x H, k < K - 1),
        ``dec_w_k`` (H x n_k) and ``dec_b_k``.
    """

    def __init__(self, sizes: Sequence[int], hidden_size: int, rng: np.random.Generator):
        self.sizes: tuple[int, ...] = tuple(int(n) for n in sizes)
        self.hidden_size = int(hidden_size)
        H = self.hidden_size
        K = len(self.sizes)
        layout: list[tuple[str, tuple[int, ...]]] = [
            ("start", (H,)),
            ("lstm_w", (2 * H, 4 * H)),
            ("lstm_b", (4 * H,)),
        ]
        layout += [(f"embed_{k}", (self.sizes[k], H)) for k in range(K - 1)]
        for k in range(K):
            layout += [(f"dec_w_{k}", (H, self.sizes[k])), (f"dec_b_{k}", (self.sizes[k],))]
        self.layout = layout
        total = sum(math.prod(shape) for _, shape in layout)
        self.theta = np.zeros(total)
        self.grad = np.zeros(total)
        self.params = self._views(self.theta)
        self.grads = self._views(self.grad)
        for name, _ in layout:
            if name != "lstm_b" and not name.startswith("dec_b_"):
                view = self.params[name]
                view[...] = rng.uniform(-INIT_SCALE, INIT_SCALE, size=view.shape)

    def _views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        views, offset = {}, 0
        for name, shape in self.layout:
            size = math.prod(shape)
            views[name] = flat[offset : offset + size].reshape(shape)
            offset += size
        return views

    @property
    def num_parameters(self) -> int:
        return int(self.theta.size)

    def sample(self, rng: np.random.Generator) -> list[int]:
        """Draw one action sequence from the current weights: one ``rng.random()`` per
        decision, inverted through the cumulative probabilities."""
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
            a = min(int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right")), n - 1)
            actions.append(a)
            if k + 1 < len(self.sizes):
                x = p[f"embed_{k}"][a]
        return actions

    def forward(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[Step]]:
        """Log-probabilities and entropies of a batch of action sequences, shape (B, K),
        and what :meth:`backward` needs."""
        p = self.params
        H = self.hidden_size
        B = actions.shape[0]
        h = np.zeros((B, H))
        c = np.zeros((B, H))
        logp = np.zeros(B)
        entropy = np.zeros(B)
        steps: list[Step] = []
        rows = np.arange(B)
        for k in range(len(self.sizes)):
            x: Any
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

    def backward(
        self,
        actions: np.ndarray,
        steps: list[Step],
        coef_logp: np.ndarray,
        coef_ent: np.ndarray,
    ) -> None:
        """Set :attr:`grads` to the gradient of ``sum_i coef_logp[i] * logp_i +
        coef_ent[i] * entropy_i`` (backpropagation through time over ``steps``)."""
        p = self.params
        d = self.grads
        self.grad[:] = 0.0
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
