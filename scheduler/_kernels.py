"""Selects the live rung-kernel backend.

The compiled ``_rungs`` package is the default. ``SCHEDULER_NO_EXTENSIONS=1`` selects
the pure-Python twins in :mod:`scheduler._reference` instead (same names, signatures,
docstrings and error texts). There is no silent fallback: if the extension is missing
and the variable is not set, importing fails with a message that says how to fix it.

``BACKEND`` is ``"cython"`` or ``"python"``.
"""

from __future__ import annotations

import os

__all__ = [
    "BACKEND",
    "BracketSampler",
    "PromotionRungs",
    "StoppingRungs",
    "rung_levels",
]

_FLAG = os.environ.get("SCHEDULER_NO_EXTENSIONS", "").strip().lower()
NO_EXTENSIONS = _FLAG not in ("", "0", "false", "no")

if NO_EXTENSIONS:
    from scheduler._reference import (
        BracketSampler,
        PromotionRungs,
        StoppingRungs,
        rung_levels,
    )

    BACKEND = "python"
else:
    try:
        from _rungs.brackets import BracketSampler
        from _rungs.levels import rung_levels
        from _rungs.promotion import PromotionRungs
        from _rungs.stopping import StoppingRungs
    except ImportError as exc:
        raise ImportError(
            "the compiled rung kernels (_rungs) could not be imported: "
            f"{exc}. Build them with `pip install -e .` (needs a C++ compiler), "
            "or set SCHEDULER_NO_EXTENSIONS=1 to use the pure-Python twins."
        ) from exc

    BACKEND = "cython"
