"""One driver per checkpoint: an exclusive ``flock`` on ``<checkpoint>.lock``.

Taken when a scheduler with ``checkpoint=`` is built (so a second driver is refused
at construction, before it reads anything) and held until its run ends. The lock file
holds the holder's pid for the error message. The kernel releases a flock when its
process dies, so a lock left by a killed driver is simply taken over.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os

from scheduler._exceptions import CheckpointError, CheckpointInUseError

__all__ = ["CheckpointLock"]


class CheckpointLock:
    """The exclusive lock of one checkpoint path."""

    def __init__(self, checkpoint: str):
        self.path = checkpoint + ".lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`scheduler.CheckpointInUseError` naming the
        path and the holder's pid."""
        folder = os.path.dirname(self.path) or "."
        try:
            os.makedirs(folder, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise CheckpointError(
                exc.errno, f"cannot open the checkpoint lock {self.path!r}: {exc.strerror}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                who = f"process {holder}" if holder else "another process"
                raise CheckpointInUseError(
                    exc.errno,
                    f"checkpoint {self.path[: -len('.lock')]!r} is in use by {who} "
                    f"(lock {self.path!r}): one driver per checkpoint; wait for it to end "
                    "or stop it",
                ) from None
            raise CheckpointError(exc.errno, f"cannot lock {self.path!r}: {exc}") from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Give the lock back (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the descriptor releases the flock

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __del__(self) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 64).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
