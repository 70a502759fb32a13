"""A run's own folder: per-config checkpoint folders, per-task logs, results files.

* ``output_dir=`` given: ``<output_dir>/<run_id>/`` (a new run never sees an earlier
  run's files; a resumed run, whose id is in its journal, gets its own folder back), and
  ``<output_dir>/latest`` points at the newest run.
* only ``checkpoint=`` given: ``<checkpoint>.run/`` (the checkpoint names the run).
* neither: a temporary folder, removed when the run ends (or when the scheduler is
  garbage-collected without running).

Inside: ``checkpoints/config_<id>/`` (``reporter.checkpoint_dir``), ``tasks/<task_id>/``
(logs of backends that keep them), and with ``output_dir``, ``results.csv`` and
``results.jsonl``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
import time
import weakref

from scheduler.runtime.runner import RunFolders

__all__ = ["RunDir", "new_run_id"]


def new_run_id() -> str:
    """``run-<UTC date>-<time>-<4 hex>``: sortable by start time, unique."""
    return time.strftime("run-%Y%m%d-%H%M%S", time.gmtime()) + f"-{secrets.token_hex(2)}"


class RunDir:
    """The folder of one run (see the module docstring)."""

    def __init__(self, *, output_dir: str | None, checkpoint: str | None, run_id: str):
        self.run_id = run_id
        self.temporary = output_dir is None and checkpoint is None
        if output_dir is not None:
            self.path = os.path.join(output_dir, run_id)
        elif checkpoint is not None:
            self.path = checkpoint + ".run"
        else:
            self.path = tempfile.mkdtemp(prefix="scheduler-run-")
        os.makedirs(self.path, exist_ok=True)
        self._cleanup = (
            weakref.finalize(self, shutil.rmtree, self.path, ignore_errors=True)
            if self.temporary
            else None
        )
        if output_dir is not None:
            _point_latest(output_dir, run_id)
        self.folders = RunFolders(
            checkpoints=os.path.join(self.path, "checkpoints"),
            tasks=os.path.join(self.path, "tasks"),
        )

    def remove_if_temporary(self) -> None:
        """Delete a temporary run folder (the run ended)."""
        if self._cleanup is not None:
            self._cleanup()


def _point_latest(output_dir: str, run_id: str) -> None:
    """``<output_dir>/latest`` -> ``run_id``, replaced atomically (best effort: a file
    system without symlinks just has no ``latest``)."""
    link = os.path.join(output_dir, "latest")
    tmp = os.path.join(output_dir, f".latest-{secrets.token_hex(4)}")
    try:
        os.symlink(run_id, tmp)
        os.replace(tmp, link)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
