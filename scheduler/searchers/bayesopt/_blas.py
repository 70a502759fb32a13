"""Run the model's linear algebra on one BLAS thread.

The matrices here are small (at most ``max_size_data_for_model`` rows), where a
multithreaded BLAS spends more time waking and synchronizing threads than computing:
on a busy 2-core machine a refit took 10 times longer with OpenBLAS's default threads
than with one. :func:`one_blas_thread` limits the BLAS libraries numpy and scipy
loaded to one thread for the duration of a ``with`` block (threadpoolctl; about 15 us
per block). The limit is process-wide while it lasts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import scipy.linalg  # noqa: F401 - loaded first, so that its BLAS is found too
from threadpoolctl import ThreadpoolController

__all__ = ["one_blas_thread"]

_controller: ThreadpoolController | None = None


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread inside the block."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    with _controller.limit(limits=1, user_api="blas"):
        yield
