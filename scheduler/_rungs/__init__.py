"""The bottom layer: the compiled (Cython) rung kernels of ``scheduler``, private.

Modules: ``levels`` (rung levels and quantiles), ``stopping`` (stopping rung system),
``promotion`` (promotion rung system, ASHA), ``brackets`` (Hyperband bracket sampler),
``rows`` (packed rows of a flat space's configs, behind ``scheduler.space.ConfigTable``),
``rewards`` (a searcher's latest reward per config row);
each a ``.pyx`` with its ``.pxd`` (state) and ``.pyi`` (stubs, checked by
``mypy.stubtest``), built by ``setup.py``. Import them through
:mod:`scheduler.kernels`, which honours ``SCHEDULER_NO_EXTENSIONS``.

May import (and cimport) nothing of ``scheduler`` but its own modules, and no thread,
process or I/O module (checked by import-linter).
"""
