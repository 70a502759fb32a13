"""The kernel layer: the rung state behind the Hyperband policy, and which backend is live.

Rung levels and quantiles, the stopping rung system (running quantiles), the promotion
rung system (ASHA's top-k selection) and the bracket sampler, O(log n) per call
(DESIGN.md section 4); and the packed rows of a flat space's configs (``FlatRows``,
behind :class:`scheduler.space.ConfigTable`) and a searcher's rewards per config
(``Rewards``), O(1) per lookup. This package is the selector: the compiled
``scheduler._rungs`` is the default; ``SCHEDULER_NO_EXTENSIONS=1`` selects the
pure-Python twins in :mod:`scheduler.kernels.twins` instead (same names, signatures,
docstrings and error texts). There is no silent fallback: if the extension is missing
and the variable is not set, importing fails with a message that says how to fix it.

May import nothing of ``scheduler`` but its own twins and ``scheduler._rungs``, and no
thread, process or I/O module (both checked by import-linter).

``BACKEND`` is ``"cython"`` or ``"python"``.
"""

from __future__ import annotations

import os

__all__ = [
    "BACKEND",
    "BracketSampler",
    "FlatRows",
    "PromotionRungs",
    "Rewards",
    "StoppingRungs",
    "rung_levels",
]

_FLAG = os.environ.get("SCHEDULER_NO_EXTENSIONS", "").strip().lower()
NO_EXTENSIONS = _FLAG not in ("", "0", "false", "no")

if NO_EXTENSIONS:
    from scheduler.kernels.twins import (
        BracketSampler,
        FlatRows,
        PromotionRungs,
        Rewards,
        StoppingRungs,
        rung_levels,
    )

    BACKEND = "python"
else:
    try:
        # (imported as modules of the package so that import-linter, which sees only
        # .py files, resolves them to scheduler._rungs)
        from scheduler._rungs import brackets, levels, promotion, rewards, rows, stopping
    except ImportError as exc:
        raise ImportError(
            "the compiled rung kernels (scheduler._rungs) could not be imported: "
            f"{exc}. Build them with `pip install -e .` (needs a C++ compiler), "
            "or set SCHEDULER_NO_EXTENSIONS=1 to use the pure-Python twins."
        ) from exc

    # To a type checker the kernels are the twins' classes: the compiled ones have the
    # same interface (their .pyi stubs are checked by mypy.stubtest, their behaviour by
    # the kernel tests on both backends).
    BracketSampler = brackets.BracketSampler  # type: ignore[misc, assignment]
    FlatRows = rows.FlatRows  # type: ignore[misc, assignment]
    Rewards = rewards.Rewards  # type: ignore[misc, assignment]
    rung_levels = levels.rung_levels
    PromotionRungs = promotion.PromotionRungs  # type: ignore[misc, assignment]
    StoppingRungs = stopping.StoppingRungs  # type: ignore[misc, assignment]
    BACKEND = "cython"
