"""Private compiled rung kernels of ``scheduler``.

Import them through :mod:`scheduler.kernels`, which honours
``SCHEDULER_NO_EXTENSIONS``. Modules: ``levels`` (rung levels and quantiles),
``stopping`` (stopping rung system), ``promotion`` (promotion rung system, ASHA),
``brackets`` (Hyperband bracket sampler).
"""
