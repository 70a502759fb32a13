"""Rung levels and the Python-level validation shared by the compiled rung kernels."""

from collections.abc import Sequence

__all__ = ["rung_levels"]

STATE_VERSION: int

def rung_levels(
    grace_period: int,
    reduction_factor: int,
    max_t: int,
    rung_levels: Sequence[int] | None = None,
) -> tuple[list[int], list[float]]: ...
