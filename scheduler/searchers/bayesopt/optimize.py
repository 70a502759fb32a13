"""Maximize an acquisition function over the encoded space: random candidates, then a
local search from the best of them.

The acquisition is evaluated only at encodings of real configs (projected points:
integers and booleans rounded, one-hot blocks one-hot), so what is optimized is what
is proposed. The local search is a batched stochastic hill climb: each step draws
``num_neighbours`` neighbours of every current point (a normal step on the continuous
columns, a redraw of some discrete leaves, see :meth:`Encoder.neighbours`), moves to
the best one if it improves, and halves the step size of a point that did not move.
It needs no gradient, handles mixed spaces alike, and costs
``num_starting_points * num_neighbours`` acquisition values per step, in one call.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scheduler.searchers.bayesopt.encoding import Encoder

__all__ = ["maximize_acquisition"]

#: first step size of the local search, in unit-cube coordinates
INITIAL_STEP = 0.1
#: the local search of a point ends once its step size falls below this
MIN_STEP = 1e-3


def maximize_acquisition(
    score: Callable[[np.ndarray], np.ndarray],
    encoder: Encoder,
    rng: np.random.Generator,
    num_candidates: int = 250,
    num_starting_points: int = 5,
    num_steps: int = 25,
    num_neighbours: int = 16,
) -> np.ndarray:
    """Encoded points ranked by acquisition, best first.

    Parameters
    ----------
    score : callable
        ``score(X) -> values``: acquisition values (higher is better) of the rows of
        ``X``, shape ``(m, dim) -> (m,)``.
    encoder : Encoder
    rng : numpy.random.Generator
    num_candidates : int
        Random candidates drawn first.
    num_starting_points : int
        The best candidates the local search starts from (0: no local search).
    num_steps, num_neighbours : int
        Local-search steps, and neighbours per point and step.

    Returns
    -------
    array, shape (k, dim)
        The local optima found, then every random candidate, each group in decreasing
        acquisition order. The caller takes the first one that decodes to a config it
        has not seen.
    """
    candidates = encoder.sample(rng, num_candidates)
    values = np.asarray(score(candidates), dtype=np.float64)
    order = np.argsort(-values, kind="stable")
    candidates, values = candidates[order], values[order]
    k = min(num_starting_points, len(candidates))
    if k == 0 or num_steps == 0:
        return candidates
    current = candidates[:k].copy()
    current_values = values[:k].copy()
    step = np.full(k, INITIAL_STEP)
    for _ in range(num_steps):
        active = np.flatnonzero(step >= MIN_STEP)
        if active.size == 0:
            break
        parents = np.repeat(active, num_neighbours)
        trial = encoder.neighbours(current[parents], rng, step[parents])
        trial_values = np.asarray(score(trial), dtype=np.float64)
        for j, index in enumerate(active):
            block = slice(j * num_neighbours, (j + 1) * num_neighbours)
            best = int(np.argmax(trial_values[block]))
            if trial_values[block][best] > current_values[index]:
                current[index] = trial[block][best]
                current_values[index] = trial_values[block][best]
            else:
                step[index] *= 0.5
    order = np.argsort(-current_values, kind="stable")
    return np.concatenate([current[order], candidates])
