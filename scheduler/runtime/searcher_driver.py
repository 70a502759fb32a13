"""Drives a policy's searcher: delivers the calls the policy queued and draws configs.

Two drivers with one interface:

* :class:`InlineDriver` for cheap searchers (random, grid: microseconds a call) makes
  each call at once, on the caller's thread, which holds the runtime's lock: the calls
  are part of the bookkeeping of the event that caused them.
* :class:`ThreadedDriver` for model-based searchers (Bayesian optimization, the RL
  controller) owns one thread that makes the calls in the order they were queued and
  draws configs when asked, so a model fit never holds the lock a reporting task waits
  on. A draw asked for after some calls sees all of them (one FIFO queue); the searcher
  is never called from two threads. State requests are queued too, so the searcher
  state a snapshot gets is the state after exactly the events the snapshot covers.

A searcher that raises ends the run: the driver stores the exception and calls
``on_error``; later calls are dropped.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from scheduler.schedulers.base import SearcherCall

__all__ = ["NOT_READY", "InlineDriver", "SearcherDriver", "ThreadedDriver", "make_driver"]

log = logging.getLogger("scheduler")


class _NotReady:
    def __repr__(self) -> str:
        return "NOT_READY"


#: :meth:`SearcherDriver.draw` has no config yet (a draw is under way)
NOT_READY: Any = _NotReady()


class SearcherDriver:
    """Base of the two drivers; see the module docstring."""

    asynchronous = False

    def __init__(
        self,
        searcher: Any,
        on_error: Callable[[BaseException], None],
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.searcher = searcher
        self.on_error = on_error
        self.wake = wake or (lambda: None)
        self.error: BaseException | None = None

    def _failed(self, exc: BaseException, what: str) -> None:
        if self.error is None:
            self.error = exc
            log.error("the searcher raised in %s: %r; stopping the run", what, exc)
            self.on_error(exc)

    def push(self, calls: list[SearcherCall]) -> None:
        """Deliver ``calls`` (in order)."""
        raise NotImplementedError

    def draw(self) -> Any:
        """The next config, None when the searcher has none left, or :data:`NOT_READY`
        (asynchronous drivers: the draw was started; ``wake`` is called when it is
        done)."""
        raise NotImplementedError

    def with_state(self, callback: Callable[[dict | None], None]) -> None:
        """Call ``callback(searcher.state_dict())`` after the calls queued so far
        (``callback(None)`` if the searcher failed)."""
        raise NotImplementedError

    def close(self, timeout: float) -> bool:
        """Finish the queued calls (within ``timeout``) and stop; True if done."""
        return True


class InlineDriver(SearcherDriver):
    """Calls the searcher at once, on the caller's thread."""

    def push(self, calls: list[SearcherCall]) -> None:
        if self.error is not None:
            return
        for method, args, kwargs in calls:
            try:
                getattr(self.searcher, method)(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - a searcher bug ends the run, visibly
                self._failed(exc, f"{method}()")
                return

    def draw(self) -> Any:
        if self.error is not None:
            return NOT_READY
        try:
            return self.searcher.get_config()
        except Exception as exc:  # noqa: BLE001 - a searcher bug ends the run, visibly
            self._failed(exc, "get_config()")
            return NOT_READY

    def with_state(self, callback):
        callback(None if self.error is not None else self.searcher.state_dict())


class ThreadedDriver(SearcherDriver):
    """One thread makes every searcher call, in queue order."""

    asynchronous = True

    def __init__(self, searcher, on_error, wake=None):
        super().__init__(searcher, on_error, wake)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: collections.deque = collections.deque()
        self._drawn: collections.deque = collections.deque()  # configs (or None) ready
        self._drawing = False  # a draw is queued or under way
        self._busy = False  # the thread is working on an item taken off the queue
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="scheduler-searcher", daemon=True)
        self._thread.start()

    def push(self, calls):
        if not calls:
            return
        with self._cond:
            self._queue.extend(("call", c) for c in calls)
            self._cond.notify()

    def draw(self):
        with self._cond:
            if self._drawn:
                return self._drawn.popleft()
            if self.error is None and not self._drawing:
                self._drawing = True
                self._queue.append(("draw", None))
                self._cond.notify()
            return NOT_READY

    def with_state(self, callback):
        with self._cond:
            if self._thread.is_alive() and not self._closing:
                self._queue.append(("state", callback))
                self._cond.notify()
                return
        # closed: nothing else calls the searcher any more
        self._do("state", callback)

    def pending(self) -> int:
        """Items queued or in progress (for tests and progress output)."""
        with self._lock:
            return len(self._queue) + self._busy

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                kind, item = self._queue.popleft()
                self._busy = True
            try:
                self._do(kind, item)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
            # Hand the interpreter over between calls: a backlog of model updates run
            # back to back would otherwise hold the GIL until CPython's switch interval
            # (5 ms) made it let go, and a reporting task's handler waits that long.
            time.sleep(0)

    def _do(self, kind: str, item: Any) -> None:
        if kind == "state":
            state = None
            if self.error is None:
                try:
                    state = self.searcher.state_dict()
                except Exception as exc:  # noqa: BLE001 - ends the run, visibly
                    self._failed(exc, "state_dict()")
            try:
                item(state)
            except Exception:
                log.exception("a searcher state callback raised")
            return
        if self.error is not None or (kind == "draw" and self._closing):
            if kind == "draw":
                with self._cond:
                    self._drawing = False
            return
        if kind == "call":
            method, args, kwargs = item
            try:
                getattr(self.searcher, method)(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - a searcher bug ends the run, visibly
                self._failed(exc, f"{method}()")
            return
        try:
            config = self.searcher.get_config()
        except Exception as exc:  # noqa: BLE001 - a searcher bug ends the run, visibly
            self._failed(exc, "get_config()")
            with self._cond:
                self._drawing = False
            return
        with self._cond:
            self._drawn.append(config)
            self._drawing = False
        self.wake()

    def close(self, timeout: float) -> bool:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()


def make_driver(
    searcher: Any,
    on_error: Callable[[BaseException], None],
    wake: Callable[[], None] | None = None,
) -> SearcherDriver:
    """The driver a searcher needs: inline unless ``searcher.inline_calls`` is False."""
    if searcher is not None and not getattr(searcher, "inline_calls", True):
        return ThreadedDriver(searcher, on_error, wake)
    return InlineDriver(searcher, on_error, wake)
