"""Where a training-curve figure goes: pyplot (only for ``plot=True``), files, windows.

``plot=True`` shows the figure when matplotlib has an interactive backend. Without one
(a server: no display, or ``MPLBACKEND=Agg``) ``pyplot.show()`` would do nothing at all,
so the figure is saved instead -- to the file given, else to ``training_curves.png``
in the run's output folder (or the current folder), never over an existing file -- and
a warning on the ``scheduler`` logger says where.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

__all__ = ["headless", "interactive_backend", "pyplot", "save_figure", "show_or_save"]

log = logging.getLogger("scheduler")

DEFAULT_NAME = "training_curves.png"

_auto_agg = False  # True once this module selected Agg for want of a display


def headless() -> bool:
    """True on Linux/BSD without an X or Wayland display."""
    platform = sys.platform  # (a variable: mypy would fold sys.platform to its own)
    if platform.startswith("linux") or "bsd" in platform:
        return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return False


def pyplot():
    """Import pyplot, selecting Agg first when there is no display and no backend was
    chosen (pyplot not imported yet, no ``MPLBACKEND``)."""
    global _auto_agg
    if "matplotlib.pyplot" not in sys.modules and "MPLBACKEND" not in os.environ and headless():
        matplotlib.use("Agg")
        _auto_agg = True
    import matplotlib.pyplot as plt

    return plt


def interactive_backend() -> bool:
    """True when ``pyplot.show()`` puts the figure somewhere a person sees it (a window,
    or a notebook's inline output)."""
    backend = matplotlib.get_backend().lower()
    if "inline" in backend or "nbagg" in backend or "widget" in backend or "ipympl" in backend:
        return True
    try:
        from matplotlib.backends import BackendFilter, backend_registry

        non_interactive = backend_registry.list_builtin(BackendFilter.NON_INTERACTIVE)
    except ImportError:  # matplotlib < 3.9
        from matplotlib import rcsetup

        non_interactive = rcsetup.non_interactive_bk  # type: ignore[attr-defined]  # gone in 3.9's stubs
    return backend not in {name.lower() for name in non_interactive}


def _free_path(folder: Path) -> Path:
    path = folder / DEFAULT_NAME
    n = 1
    while path.exists():
        path = folder / f"training_curves-{n}.png"
        n += 1
    return path


def show_or_save(
    fig: Figure, saved_to: str | os.PathLike | None, folder: str | None
) -> Path | None:
    """``pyplot.show()`` on an interactive backend; otherwise save ``fig`` (unless it
    was saved to ``saved_to`` already) and log where. Returns the file, if any."""
    plt = pyplot()
    if interactive_backend():
        plt.show()
        return None
    if saved_to is not None:
        path = Path(os.fspath(saved_to))
    else:
        path = _free_path(Path(folder) if folder is not None else Path.cwd())
        save_figure(fig, path)
    log.warning(
        "plot=True, but matplotlib's backend %r shows no window (no display?): the "
        "training curves are saved to %s",
        matplotlib.get_backend(),
        path.resolve(),
    )
    return path


def save_figure(fig: Figure, filename: str | os.PathLike) -> None:
    """Save ``fig`` to ``filename`` atomically, creating the parent folder."""
    path = Path(os.fspath(filename))
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix[1:].lower() or matplotlib.rcParams["savefig.format"]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format=fmt)
            f.flush()
            os.fsync(f.fileno())
        _copy_mode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _copy_mode(target: Path, tmp: str) -> None:
    """Give ``tmp`` the mode of ``target`` if it exists, else 0o644 (mkstemp makes 0o600)."""
    try:
        mode = target.stat().st_mode & 0o777
    except OSError:
        mode = 0o644
    with contextlib.suppress(OSError):
        os.chmod(tmp, mode)
