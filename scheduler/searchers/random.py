"""Random search: uniform samples of the space, never the same config twice."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Any

from scheduler.searchers.base import BaseSearcher
from scheduler.space import SearchSpace

__all__ = ["RandomSearcher"]

# Draws per call before a finite space switches to enumeration. Rejection sampling runs
# only while fewer than half of the configs are seen, so each draw is new with
# probability > 1/2 and 64 misses in a row happen with probability < 2**-64.
_MAX_REJECTIONS = 64

# Draws per call in an infinite space before giving up (returning None). Only a space of
# a few representable floats can get there.
_MAX_DRAWS_INFINITE = 1000


class RandomSearcher(BaseSearcher):
    """Propose configs drawn uniformly at random, each config at most once.

    Parameters
    ----------
    space, reward_attr, mode, random_seed
        As for :class:`~scheduler.searchers.BaseSearcher`; the seed defaults to
        31415927.
    first_is_default : bool
        Propose the space's default config first (as AutoGluon does), then random ones.

    In a finite space no config is proposed twice, and :meth:`get_config` returns None
    once every config was seen. While fewer than half of the configs are seen, configs
    are drawn by rejection sampling (fewer than 2 draws per call on average); from then
    on the searcher draws uniformly from the sorted list of unseen configs, built once
    (O(size) memory, which seen configs already take), so exhausting a space never
    stalls. In an infinite space exact repeats are skipped as well.

    The stream of configs depends only on the seed and on which configs were seen, so
    a searcher restored by :meth:`load_state_dict` continues the same stream.
    """

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        reward_attr: str = "accuracy",
        mode: str = "max",
        random_seed: int | None = None,
        first_is_default: bool = True,
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
        self.first_is_default = bool(first_is_default)
        self._clear_extra()

    def _clear_extra(self) -> None:
        self._default_done = False
        self._remaining: list[int] | None = None  # sorted unseen indices, once enumerating

    def _propose(self, **kwargs: Any) -> dict[str, Any] | None:
        space = self.space
        if self.first_is_default and not self._default_done:
            self._default_done = True
            config = space.default_config()
            if not self._is_seen(config):
                return config
        size = self._size
        sample = self._sample  # the table's kernel draws as space.sample draws
        if size is None:
            for _ in range(_MAX_DRAWS_INFINITE):
                config = sample(self.rng)
                if self._mark_new(config):
                    return config
            return None
        if self._seen_in_space >= size:
            return None
        if self._remaining is None and 2 * self._seen_in_space < size:
            for _ in range(_MAX_REJECTIONS):
                config = sample(self.rng)
                if self._mark_new(config):
                    return config
        if self._remaining is None:
            self._start_enumeration()
        if not self._remaining:  # cannot happen: fewer seen than the space holds
            raise RuntimeError(
                f"RandomSearcher bookkeeping is inconsistent: {self._seen_in_space} of "
                f"{size} configs seen but none left to enumerate"
            )
        index = self._remaining.pop(int(self.rng.integers(len(self._remaining))))
        return space.config_at(index)

    def _start_enumeration(self) -> None:
        seen = {index for index in self._seen.values() if index is not None}
        self._remaining = [i for i in range(self.space.size or 0) if i not in seen]

    def _on_seen(self, index: int) -> None:
        remaining = self._remaining
        if remaining is not None:
            position = bisect.bisect_left(remaining, index)
            if position < len(remaining) and remaining[position] == index:
                del remaining[position]

    def _extra_state(self) -> dict[str, Any]:
        return {
            "first_is_default": self.first_is_default,
            "default_done": self._default_done,
            "enumerating": self._remaining is not None,
        }

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.first_is_default = bool(state.get("first_is_default", self.first_is_default))
        self._default_done = bool(state.get("default_done", False))
        if state.get("enumerating", False):
            self._start_enumeration()

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, first_is_default={self.first_is_default!r})"
