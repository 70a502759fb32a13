"""Harness of the AutoGluon compatibility tests (issue 16).

Two kinds of tests use it: ``test_compat_*.py`` (this repository's statements of what
AutoGluon's unit tests of v0.2.0 and v0.0.15 check, run in CI), and AutoGluon's own test
files with only their imports changed, which ``run_upstream.py`` runs from an AutoGluon
checkout (their code is not copied here). What this harness adds, outside the test
bodies:

* ``@pytest.mark.cpus(n)`` on a test whose scheduler asks for ``resource={'num_cpus':
  n}``. AutoGluon's tests ask for 4 CPUs per trial; on a machine with fewer, the harness
  declares ``n`` CPUs to the scheduler (its CPU detection is patched for that test) and
  says so in the test's output, since a trial's CPUs are a scheduling quantity and these
  tests check behaviour, not speed. ``SCHEDULER_AG_STRICT_CPUS=1`` skips such tests
  instead (with a message naming the CPUs asked for and found).
"""

from __future__ import annotations

import os

import pytest

from scheduler.runtime import resources


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "cpus(n): the test's scheduler asks for n CPUs per trial (AutoGluon's tests)"
    )
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.fixture(autouse=True)
def _declared_cpus(request, monkeypatch, capsys):
    marker = request.node.get_closest_marker("cpus")
    if marker is None:
        return
    wanted = int(marker.args[0])
    found = resources._detect_cpus()
    if found >= wanted:
        return
    if os.environ.get("SCHEDULER_AG_STRICT_CPUS") == "1":
        pytest.skip(f"AutoGluon's test asks for {wanted} CPUs per trial; this machine has {found}")
    monkeypatch.setattr(resources, "_detect_cpus", lambda: wanted)
    with capsys.disabled():
        print(
            f"\n[{request.node.name}: {found} CPUs here, {wanted} declared for the test] ", end=""
        )
