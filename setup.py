"""Build script: compiles the private ``scheduler._rungs`` Cython package.

Directives live here, once. ``SCHEDULER_CYTHON_DEBUG=1`` turns bounds checking,
wraparound checks and initialized checks back on for a debug build.

The extensions are declared with their ``.pyx`` sources and cythonized only when
``build_ext`` runs, so an sdist carries the ``.pyx`` (never the generated ``.cpp``) and
making one needs no compiler. A build without Cython or without a C++ compiler fails
loudly: there is no silent pure-Python install (the pure-Python twins are selected at
run time with ``SCHEDULER_NO_EXTENSIONS=1``, never by a failed build).
"""

import os
from glob import glob

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("SCHEDULER_CYTHON_DEBUG", "") == "1"

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "binding": True,
    "embedsignature": True,
}

SOURCES = sorted(glob(os.path.join("scheduler", "_rungs", "*.pyx")))
if not SOURCES:
    raise SystemExit(
        "no scheduler/_rungs/*.pyx sources found: run the build from the repository root "
        "(or from an unpacked sdist)"
    )


class cythonize_then_build_ext(build_ext):
    """``build_ext`` that turns the ``.pyx`` sources into C++ first (with DIRECTIVES)."""

    def finalize_options(self):
        try:
            from Cython.Build import cythonize
        except ImportError as exc:
            raise SystemExit(
                "building scheduler needs Cython>=3,<4 (a build requirement in "
                f"pyproject.toml); it could not be imported: {exc}"
            ) from exc
        self.distribution.ext_modules[:] = cythonize(
            self.distribution.ext_modules, compiler_directives=DIRECTIVES, quiet=True
        )
        super().finalize_options()
        if self.parallel is None:  # compile the modules side by side (`-j N` overrides)
            self.parallel = os.cpu_count() or 1


extensions = [
    Extension(
        "scheduler._rungs." + os.path.splitext(os.path.basename(path))[0],
        [path],
        language="c++",
        # -g0: no debug symbols in a release build (the interpreter's CFLAGS may ask for -g)
        extra_compile_args=["-O0", "-g", "-ffp-contract=off"]
        if DEBUG
        else ["-O3", "-g0", "-ffp-contract=off"],
    )
    for path in SOURCES
]

setup(ext_modules=extensions, cmdclass={"build_ext": cythonize_then_build_ext})
