"""Grid search: every combination of per-hyperparameter grid values, in a fixed order."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from scheduler._validation import is_integer
from scheduler.searchers.base import BaseSearcher
from scheduler.space import SearchSpace

__all__ = ["GridSearcher"]


class GridSearcher(BaseSearcher):
    """Propose the points of a grid over the space, one by one, then None.

    Parameters
    ----------
    space, reward_attr, mode, random_seed
        As for :class:`~scheduler.searchers.BaseSearcher` (the seed is unused: the
        order is deterministic).
    num_points : int
        Points per :class:`~scheduler.space.Real` or :class:`~scheduler.space.Int`
        dimension (see :meth:`Domain.grid`: evenly spaced, log-spaced for
        ``Real(log=True)``, ends included; an Int with fewer values gives them all).
        Categorical dimensions contribute all their choices.

    The grid is the product of the dimensions' grids, hyperparameters in sorted name
    order, the last name varying fastest; each dimension runs through its grid in
    increasing order (choices in the given order). Configs already seen (registered
    from elsewhere) are skipped. :meth:`get_config` accepts and ignores any keyword
    arguments, and returns None once the grid is exhausted.
    """

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        num_points: int = 4,
        reward_attr: str = "accuracy",
        mode: str = "max",
        random_seed: int | None = None,
        *,
        reward_attribute: str | None = None,
    ):
        super().__init__(
            space,
            reward_attr=reward_attr,
            mode=mode,
            random_seed=random_seed,
            reward_attribute=reward_attribute,
        )
        if not is_integer(num_points):
            raise ValueError(f"num_points must be an integer >= 1, got {num_points!r}")
        if num_points < 1:
            raise ValueError(f"num_points must be >= 1, got {num_points!r}")
        self.num_points = int(num_points)
        self._axes = self.space.grid_axes(self.num_points)
        self._clear_extra()

    def _clear_extra(self) -> None:
        self._next = 0

    @property
    def grid_size(self) -> int:
        """Number of points in the grid."""
        return math.prod(len(axis) for axis in self._axes)

    def grid_config(self, index: int) -> dict[str, Any]:
        """Point number ``index`` of the grid (0 <= index < grid_size)."""
        if not 0 <= index < self.grid_size:
            raise ValueError(f"index must be within [0, {self.grid_size}), got {index!r}")
        config = {}
        for name, axis in zip(reversed(self.space.hyperparameters), reversed(self._axes)):
            index, position = divmod(index, len(axis))
            config[name] = axis[position]
        return {name: config[name] for name in self.space.hyperparameters}

    def _propose(self, **kwargs: Any) -> dict[str, Any] | None:
        total = self.grid_size
        while self._next < total:
            config = self.grid_config(self._next)
            self._next += 1
            if not self._is_seen(config):
                return config
        return None

    def _extra_state(self) -> dict[str, Any]:
        return {"num_points": self.num_points, "next_index": self._next}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        if state.get("num_points") != self.num_points:
            raise ValueError(
                f"cannot load searcher state: num_points must be {self.num_points!r}, "
                f"got {state.get('num_points')!r}"
            )
        self._next = int(state.get("next_index", 0))

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, num_points={self.num_points!r})"
