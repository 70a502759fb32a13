"""Shared test configuration.

* A deterministic Hypothesis profile for CI (derandomized, no database, no deadline);
  ``HYPOTHESIS_PROFILE=dev`` gives the randomized default locally.
* The ``kernels`` fixture runs every kernel test on both backends, ids ``py`` (the
  pure-Python twins in ``scheduler.kernels.twins``) and ``cy`` (the compiled ``_rungs``).
  ``cy`` is skipped only when ``SCHEDULER_NO_EXTENSIONS`` is set; otherwise a missing
  extension is an error, never a skip.
"""

from __future__ import annotations

import os
import types

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

KERNEL_NAMES = ("rung_levels", "StoppingRungs", "PromotionRungs", "BracketSampler")


def python_kernels() -> types.SimpleNamespace:
    from scheduler.kernels import twins as _reference

    ns = types.SimpleNamespace(**{name: getattr(_reference, name) for name in KERNEL_NAMES})
    ns.backend = "py"
    return ns


def cython_kernels() -> types.SimpleNamespace:
    from scheduler._rungs.brackets import BracketSampler
    from scheduler._rungs.levels import rung_levels
    from scheduler._rungs.promotion import PromotionRungs
    from scheduler._rungs.stopping import StoppingRungs

    return types.SimpleNamespace(
        rung_levels=rung_levels,
        StoppingRungs=StoppingRungs,
        PromotionRungs=PromotionRungs,
        BracketSampler=BracketSampler,
        backend="cy",
    )


def extensions_disabled() -> bool:
    from scheduler.kernels import NO_EXTENSIONS

    return NO_EXTENSIONS


@pytest.fixture(params=["py", "cy"])
def kernels(request) -> types.SimpleNamespace:
    """The kernel classes of one backend: ``py`` (twins) or ``cy`` (compiled)."""
    if request.param == "py":
        return python_kernels()
    if extensions_disabled():
        pytest.skip("SCHEDULER_NO_EXTENSIONS is set: compiled kernels disabled")
    return cython_kernels()
