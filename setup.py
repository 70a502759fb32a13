"""Build script: compiles the private ``scheduler._rungs`` Cython package.

Directives live here, once. ``SCHEDULER_CYTHON_DEBUG=1`` turns bounds checking,
wraparound checks and initialized checks back on for a debug build.
A build without Cython or without a C++ compiler fails loudly: there is no silent
pure-Python install (the pure-Python twins are selected at run time with
``SCHEDULER_NO_EXTENSIONS=1``, never by a failed build).
"""

import os
from glob import glob

from setuptools import Extension, setup

try:
    from Cython.Build import cythonize
except ImportError as exc:  # pragma: no cover - exercised only on broken build envs
    raise SystemExit(
        "building scheduler needs Cython>=3 (a build requirement in pyproject.toml); "
        f"it could not be imported: {exc}"
    ) from exc

DEBUG = os.environ.get("SCHEDULER_CYTHON_DEBUG", "") == "1"

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "binding": True,
    "embedsignature": True,
}

extensions = [
    Extension(
        "scheduler._rungs." + os.path.splitext(os.path.basename(path))[0],
        [path],
        language="c++",
        extra_compile_args=["-O3", "-ffp-contract=off"]
        if not DEBUG
        else ["-O0", "-g", "-ffp-contract=off"],
    )
    for path in sorted(glob(os.path.join("scheduler", "_rungs", "*.pyx")))
]

if not extensions:
    raise SystemExit(
        "no scheduler/_rungs/*.pyx sources found: run the build from the repository root"
    )

setup(ext_modules=cythonize(extensions, compiler_directives=directives))
