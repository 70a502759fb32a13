"""Shared by the Ray backend tests (not a test module).

* :func:`import_ray`: Ray, or a skip with a message when it is not installed; in CI
  (``CI`` set, as ``.ci/run`` does) a missing Ray is an error, never a skip.
* :func:`descendants` / :func:`assert_gone`: the processes a Ray session started from
  this process (GCS, raylets, workers), and a check that none outlives its teardown.
"""

from __future__ import annotations

import os
import time

import pytest

IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def import_ray():
    if IN_CI:
        import ray  # CI installs the test extra, which pulls in Ray

        return ray
    return pytest.importorskip(
        "ray", reason='Ray is not installed (pip install -e ".[test]" brings it)'
    )


def _parents() -> dict[int, int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":  # zombies are dead already
            parents[int(entry)] = int(fields[1])
    return parents


def descendants(pid: int | None = None) -> set[int]:
    """Live processes below ``pid`` (default: this one), at any depth."""
    if not os.path.isdir("/proc"):  # pragma: no cover - Linux only
        return set()
    root = os.getpid() if pid is None else pid
    parents = _parents()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids) -> set[int]:
    live = _parents()
    return {pid for pid in pids if pid in live}


def assert_gone(pids, timeout: float = 15.0) -> None:
    """Every process in ``pids`` exits within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    left = alive(pids)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = alive(left)
    if left:
        names = []
        for pid in sorted(left):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    command = f.read().replace(b"\0", b" ")[:120].decode(errors="replace")
                names.append(f"{pid}: {command}")
            except OSError:
                names.append(str(pid))
        raise AssertionError(f"Ray processes left running: {names}")
