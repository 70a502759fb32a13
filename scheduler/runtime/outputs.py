"""The writer thread: the run's slow output work, off the runtime's lock.

Results rows (``results.csv`` / ``results.jsonl``, including the csv's rewrite when a
new key widens it), snapshot serialization and writes, and anything else that touches a
disk or takes long go through :class:`OutputQueue`: the lock holder appends a callable
(O(1)), one thread runs them in order. Items put with :meth:`OutputQueue.put_batched`
that wait next to each other in the queue run as one call over the list of them (the
results rows queued while the thread was busy: one flush, and at most one rewrite of
``results.csv`` per batch however many new keys it brings), so a writer that falls
behind catches up instead of falling further behind. A callable that raises ``OSError`` ends the run
(``on_error(operation, exc)``: the runtime stops the tasks and raises
:class:`scheduler.CheckpointError` naming the operation and the path); nothing after it
runs. The queue never blocks the caller; :meth:`close` waits at most its timeout, so a
hung disk cannot hang the run's end.

:class:`InlineOutputs` runs each callable at once (a simulated run, which has no
threads).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["InlineOutputs", "OutputQueue"]

log = logging.getLogger("scheduler")

OnError = Callable[[str, BaseException], None]


class OutputQueue:
    """Runs queued callables on one thread, in order."""

    def __init__(self, on_error: OnError, name: str = "scheduler-writer"):
        self.on_error = on_error
        self._cond = threading.Condition(threading.Lock())
        self._queue: collections.deque = collections.deque()
        self._busy = False
        self._closing = False
        self._failed = False
        self.max_depth = 0  # the longest the queue got (for benchmarks)
        self._batches: dict[Callable[..., object], _Batch] = {}  # fn -> its one _Batch
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, operation: str, fn: Callable[..., object], *args: Any) -> None:
        """Queue ``fn(*args)``; ``operation`` names it in an error ("write a results
        row to /path/results.csv")."""
        with self._cond:
            if self._failed or self._closing:
                return
            self._queue.append((operation, fn, args))
            depth = len(self._queue)
            if depth > self.max_depth:
                self.max_depth = depth
            if depth == 1:
                self._cond.notify()

    def put_batched(self, operation: str, fn: Callable[[list[Any]], object], item: Any) -> None:
        """Queue ``item`` for ``fn``, called with the list of consecutive queued items
        of the same ``fn`` (and ``operation``), in order."""
        with self._cond:  # one _Batch per fn, even with callers on several threads
            batch = self._batches.get(fn)
            if batch is None:
                batch = self._batches[fn] = _Batch(fn)
        self.put(operation, batch, item)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                operation, fn, args = self._queue.popleft()
                if isinstance(fn, _Batch):
                    items = [args[0]]
                    queue = self._queue
                    while queue and queue[0][1] is fn and queue[0][0] == operation:
                        items.append(queue.popleft()[2][0])
                    args = (items,)
                self._busy = True
            try:
                fn(*args)
            except BaseException as exc:  # noqa: BLE001 - reported, ends the run
                with self._cond:
                    self._failed = True
                    self._queue.clear()
                log.error("%s failed: %r", operation, exc)
                self.on_error(operation, exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait until everything queued so far ran (at most ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float) -> bool:
        """Run what is queued, then stop the thread; True if it finished in time."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def failed(self) -> bool:
        return self._failed


class _Batch:
    """Marks a queued callable that takes a list of items (equal for the same ``fn``)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[list[Any]], object]):
        self.fn = fn

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Batch) and other.fn == self.fn

    def __hash__(self) -> int:
        return hash(self.fn)

    def __call__(self, items: list[Any]) -> object:
        return self.fn(items)


class InlineOutputs:
    """The same interface, running each callable at once."""

    def __init__(self, on_error: OnError):
        self.on_error = on_error
        self._failed = False
        self.max_depth = 0

    def put(self, operation: str, fn: Callable[..., object], *args: Any) -> None:
        if self._failed:
            return
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - reported, ends the run
            self._failed = True
            self.on_error(operation, exc)

    def put_batched(self, operation: str, fn: Callable[[list[Any]], object], item: Any) -> None:
        self.put(operation, fn, [item])

    def drain(self, timeout: float) -> bool:
        return True

    def close(self, timeout: float) -> bool:
        return True

    @property
    def failed(self) -> bool:
        return self._failed
