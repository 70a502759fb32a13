"""Check what the sdist and the wheel in a folder hold (run by .ci/run after the build).

The sdist must carry the Cython sources (.pyx, .pxd, .pyi of every kernel), the
license, the tests with their helper modules, the examples and the benchmarks, and no
generated or built file (.cpp, .c, .html, .so). The wheel must carry the compiled
kernels, their stubs and py.typed, and none of the build's inputs or leftovers.
Usage: ``python .ci/check_dist.py DIST_DIR``; exits non-zero naming what is wrong.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path

KERNELS = ("levels", "stopping", "promotion", "brackets", "rows", "rewards")
SDIST_NEEDS = [
    "LICENSE",
    "README.md",
    "MANIFEST.in",
    "pyproject.toml",
    "setup.py",
    "scheduler/py.typed",
    "scheduler/_rungs/py.typed",
    "tests/conftest.py",
    "tests/_oracles.py",
    "tests/_crash_workload.py",
    "bench/_common.py",
    "bench/rungs.py",
    "examples/fifo_toy.py",
] + [f"scheduler/_rungs/{stem}.{ext}" for stem in KERNELS for ext in ("pyx", "pxd", "pyi")]
GENERATED = (".cpp", ".c", ".html", ".so", ".pyd")
WHEEL_NEEDS = ["scheduler/py.typed", "scheduler/_rungs/py.typed"] + [
    f"scheduler/_rungs/{stem}.pyi" for stem in KERNELS
]
WHEEL_LEFTOVERS = (".pyx", ".pxd", ".cpp", ".c", ".html")


def check(dist: Path) -> list[str]:
    sdists, wheels = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        return [f"expected one sdist and one wheel in {dist}, found {sdists + wheels}"]
    with tarfile.open(sdists[0]) as sdist:
        names = sdist.getnames()
    root = names[0].split("/")[0]
    in_sdist = {name.removeprefix(root + "/") for name in names}
    with zipfile.ZipFile(wheels[0]) as wheel:
        in_wheel = set(wheel.namelist())
    problems = [f"sdist lacks {name}" for name in SDIST_NEEDS if name not in in_sdist]
    problems += [f"sdist holds generated {name}" for name in in_sdist if name.endswith(GENERATED)]
    problems += [f"wheel lacks {name}" for name in WHEEL_NEEDS if name not in in_wheel]
    for stem in KERNELS:
        prefix = f"scheduler/_rungs/{stem}."
        if not any(n.startswith(prefix) and n.endswith((".so", ".pyd")) for n in in_wheel):
            problems.append(f"wheel lacks the compiled {prefix}*.so")
    problems += [f"wheel holds {name}" for name in in_wheel if name.endswith(WHEEL_LEFTOVERS)]
    if not problems:
        print(
            f"{sdists[0].name}: {len(in_sdist)} entries, {sdists[0].stat().st_size:,} bytes; "
            f"{wheels[0].name}: {len(in_wheel)} entries, {wheels[0].stat().st_size:,} bytes"
        )
    return sorted(problems)


if __name__ == "__main__":
    found = check(Path(sys.argv[1]))
    for problem in found:
        print(f"check_dist: {problem}", file=sys.stderr)
    sys.exit(1 if found else 0)
