"""Runs each task in a fresh interpreter that exits when the task ends.

The same workers, protocol and reporter contract as the process backend
(:mod:`scheduler.runtime.backends.process`): ``TaskStopped`` on stop and pause,
``reporter.checkpoint_dir``, ``args.scheduler.resume_from``, ``args.gpu_ids`` and
``CUDA_VISIBLE_DEVICES``; ``train_fn`` may be a closure, live in ``__main__``, or in the
user's own module beside the script (the driver's ``sys.path`` is the worker's). The
difference: an interpreter runs one task and exits, so nothing a task does (modules it
imported, memory it kept, a GPU context, threads) reaches another task, and all its
memory goes back to the system when the task ends.

Interpreters are started ahead of need (``max_concurrency`` of them plus one spare,
each replaced as soon as it takes a task), so a task does not wait for Python to start
and import; each one has imported only the scheduler's runtime (no CUDA context, no
user module) when its task arrives.
"""

from __future__ import annotations

from scheduler.runtime.backends.process import ProcessBackend

__all__ = ["SubprocessBackend"]


class SubprocessBackend(ProcessBackend):
    name = "subprocess"
    one_shot = True
