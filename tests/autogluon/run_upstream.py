"""Run AutoGluon's own scheduler tests against this package, with only the imports changed.

AutoGluon's code is not copied into this repository; this script reads the test files
from an AutoGluon checkout, rewrites their imports (nothing else), and runs them with
pytest against the ``scheduler`` package of this checkout, under this folder's harness
(``conftest.py``: the ``cpus`` marker for tests that ask for 4 CPUs per trial)::

    git clone https://github.com/autogluon/autogluon /tmp/autogluon
    python tests/autogluon/run_upstream.py /tmp/autogluon            # v0.2.0 and v0.0.15

The files (by tag): v0.2.0 ``core/tests/unittests/test_scheduler.py``,
``test_search_space.py``, ``test_skoptsearcher.py`` and
``mxnet/tests/unittests/test_rl_scheduler.py``; v0.0.15 ``tests/unittests/`` of the same
names. Import rewrites: ``import autogluon.core as ag`` / ``import autogluon as ag``
become a namespace with this package's names plus ``ag.scheduler`` (the package itself,
so ``ag.scheduler.FIFOScheduler`` resolves); ``from autogluon[.core].searcher import
RandomSearcher`` imports ours; ``SKoptSearcher`` (scikit-optimize) has no counterpart
here, so a test that needs it is skipped with that reason. A ``@pytest.mark.cpus(4)``
is put on the tests whose scheduler asks for ``resource={'num_cpus': 4}``,
and ``@pytest.mark.slow`` on the one that sleeps (the decorators are the only
additions).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

FILES = {
    "v0.2.0": [
        "core/tests/unittests/test_scheduler.py",
        "core/tests/unittests/test_search_space.py",
        "core/tests/unittests/test_skoptsearcher.py",
        "mxnet/tests/unittests/test_rl_scheduler.py",
    ],
    "v0.0.15": [
        "tests/unittests/test_scheduler.py",
        "tests/unittests/test_search_space.py",
        "tests/unittests/test_skoptsearcher.py",
    ],
}

AG_NAMESPACE = (
    "import types as _types\n"
    "import pytest\n"
    "import scheduler as _scheduler\n"
    "ag = _types.SimpleNamespace(**{n: getattr(_scheduler, n) for n in _scheduler.__all__},\n"
    "                            scheduler=_scheduler)  # was: LINE\n"
)
SEARCHERS = (
    "import pytest\n"
    "from scheduler.searchers import RandomSearcher  # was: LINE\n"
    "SKoptSearcher = None  # scikit-optimize's searcher has no counterpart in scheduler\n"
    "pytestmark = pytest.mark.skip(reason='SKoptSearcher (scikit-optimize) has no counterpart "
    "in scheduler; RandomSearcher over a ConfigSpace is checked in test_compat_*.py')\n"
)


def rewrite(source: str) -> str:
    """AutoGluon's test module with its imports replaced (and the markers added)."""
    out = []
    for line in source.splitlines():
        stripped = line.strip()
        if re.fullmatch(r"import autogluon(\.core)? as ag", stripped):
            out.append(AG_NAMESPACE.replace("LINE", stripped))
        elif re.fullmatch(r"from autogluon(\.core)?\.searcher import RandomSearcher", stripped):
            out.append(SEARCHERS.replace("LINE", stripped))
        elif re.fullmatch(r"from autogluon(\.core)?\.searcher import SKoptSearcher", stripped):
            continue  # covered by SEARCHERS
        else:
            out.append(line)
    text = "\n".join(out) + "\n"
    # Markers on the tests whose scheduler asks for 4 CPUs, and on the sleeping one.
    parts = re.split(r"(?=^def test_)", text, flags=re.M)
    for i, part in enumerate(parts):
        if part.startswith("def test_"):
            marks = "@pytest.mark.cpus(4)\n" if "'num_cpus': 4" in part else ""
            marks += "@pytest.mark.slow\n" if "time.sleep(" in part else ""
            parts[i] = marks + part
    return "".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="a git clone of autogluon/autogluon")
    parser.add_argument("--tag", action="append", choices=sorted(FILES), help="default: both")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    options = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="autogluon-tests-"))
    try:
        shutil.copy(HERE / "conftest.py", work / "conftest.py")
        for tag in options.tag or sorted(FILES):
            for path in FILES[tag]:
                source = subprocess.run(
                    ["git", "-C", str(options.checkout), "show", f"{tag}:{path}"],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                name = f"test_upstream_{tag.replace('.', '_')}_{Path(path).stem[5:]}.py"
                (work / name).write_text(f"# AutoGluon {tag}: {path}\n" + rewrite(source))
        command = [sys.executable, "-m", "pytest", str(work), "-p", "no:cacheprovider", "-v"]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        return subprocess.run(command + options.pytest_args, cwd=work, env=env).returncode
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
