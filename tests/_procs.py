"""Looking for processes in /proc (the tests' check that nothing was left behind)."""

from __future__ import annotations

import os
import time


def live_with(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line holds ``marker``."""
    found = []
    needle = marker.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in cmdline and state not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def assert_none_left(marker: str, wait: float = 0.0) -> None:
    """No live process carries ``marker`` (after up to ``wait`` seconds: a kill is
    asynchronous in the kernel, reaping by init even more so)."""
    deadline = time.monotonic() + wait
    while True:
        left = live_with(marker)
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    assert not left, f"processes left behind: {left}"


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))
