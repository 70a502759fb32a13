"""Training curves of a run (DESIGN §7).

:func:`plot_training_curves` draws the reward against ``time_attr`` for every task of a
:class:`~scheduler.results.history.History`:

* one colour per config, by rank (the best config gets the first colour; configs beyond
  the 20 of the legend share a light grey); a config's tasks (across pauses and
  promotions) are drawn in its colour, each task's line starting where the config's
  previous task ended, so the config reads as one curve; the best config's lines are
  thicker;
* replay reports (a promoted task re-reporting times ``<= resume_from``) are dashed and
  faint;
* the end of each task is marked by its status (a marker legend explains the shapes):
  completed ``*``, stopped ``X``, paused hollow ``o``, failed ``^`` and diverged ``v``
  (red edges), still running ``>``;
* with ``use_legend``, a legend of the configs, best first (at most 20, then "+N more").

Without ``time_attr`` values in the rows the x axis is the config's report number.

The figure is built without pyplot (no window, nothing registered with pyplot, freed
when dropped) unless ``plot=True``, which creates it through pyplot and calls
``matplotlib.pyplot.show()``; on a machine without a display the Agg backend is selected
first, so nothing ever pops up. The returned figure stays open: with ``plot=True`` close
it with ``matplotlib.pyplot.close(fig)`` when done.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:
    from scheduler.results.history import History

__all__ = ["STATUS_MARKERS", "plot_training_curves"]

MAX_LEGEND_CONFIGS = 20
_LABEL_CHARS = 46
_DPI = 110
_OVERFLOW_COLOUR = (0.72, 0.72, 0.72, 1.0)

# Marker style of a task's end, per status.
STATUS_MARKERS: dict[str, dict[str, Any]] = {
    "completed": {"marker": "*", "s": 150, "edgecolors": "black", "linewidths": 0.7},
    "stopped": {"marker": "X", "s": 70, "edgecolors": "black", "linewidths": 0.6},
    "paused": {"marker": "o", "s": 46, "hollow": True, "linewidths": 1.6},
    "failed": {"marker": "^", "s": 80, "edgecolors": "red", "linewidths": 1.6},
    "diverged": {"marker": "v", "s": 80, "edgecolors": "red", "linewidths": 1.6},
    "running": {"marker": ">", "s": 60, "edgecolors": "black", "linewidths": 0.6},
    "interrupted": {"marker": "s", "s": 40, "hollow": True, "linewidths": 1.2},
}
_STATUS_LABELS = {
    "completed": "completed",
    "stopped": "stopped",
    "paused": "paused",
    "failed": "failed",
    "diverged": "diverged (NaN)",
    "running": "running",
    "interrupted": "interrupted (resumed)",
}


def _headless() -> bool:
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return False


_auto_agg = False  # True once this module selected Agg for want of a display


def _pyplot():
    """Import pyplot, selecting Agg first when there is no display and no backend was
    chosen (pyplot not imported yet, no ``MPLBACKEND``)."""
    global _auto_agg
    if "matplotlib.pyplot" not in sys.modules and "MPLBACKEND" not in os.environ and _headless():
        matplotlib.use("Agg")
        _auto_agg = True
    import matplotlib.pyplot as plt

    return plt


def _show() -> None:
    """``pyplot.show()``; without a display (Agg chosen here) it is a silent no-op
    instead of matplotlib's "non-interactive" warning on every call."""
    plt = _pyplot()
    with warnings.catch_warnings():
        if _auto_agg:
            warnings.filterwarnings("ignore", message=".*non-interactive.*", category=UserWarning)
        plt.show()


def _colours(n: int) -> list:
    """Colours by rank: the ten tab10 colours, then the ten light tab20 shades; ranks
    beyond the legend (> 20) share a light grey."""
    dark = matplotlib.colormaps["tab10"]
    light = matplotlib.colormaps["tab20"]
    palette = [dark(i) for i in range(10)] + [light(2 * i + 1) for i in range(10)]
    return [palette[i] if i < len(palette) else _OVERFLOW_COLOUR for i in range(n)]


def _real(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _finite(y: float | None) -> bool:
    return y is not None and math.isfinite(y)


def _format_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        return f"{float(value):.3g}"
    return str(value)


def _config_label(history: History, config_id: int) -> str:
    record = history.configs[config_id]
    parts = [f"#{config_id}"]
    if _finite(record.reward):
        at = "" if record.fidelity is None else f" @{record.fidelity:g}"
        parts.append(f"{record.reward:.4g}{at}")
    elif record.reward is not None:
        parts.append("NaN")
    params = " ".join(f"{k}={_format_value(v)}" for k, v in record.config.items())
    label = "  ".join(parts + ([params] if params else []))
    if len(label) > _LABEL_CHARS:
        label = label[: _LABEL_CHARS - 1] + "…"
    return label


def _task_points(history: History, config_id: int):
    """Yield (task_id, line_xs, line_ys, replay_xs, replay_ys, last_row_x) per task of the
    config, each task's line starting at the config's previous end point."""
    time_attr = history.time_attr
    reward_attr = history.reward_attr
    count = 0
    previous: tuple[float, float] | None = None
    for task_id in history.configs[config_id].task_ids:
        xs: list[float] = []
        ys: list[float] = []
        rxs: list[float] = []
        rys: list[float] = []
        last_x = None
        for row in history.training_history[task_id]:
            count += 1
            x = _real(row.get(time_attr)) if time_attr is not None else None
            x = float(count) if x is None else x
            y = _real(row.get(reward_attr))
            y = math.nan if y is None else y
            last_x = x
            if row.get("replay"):
                rxs.append(x)
                rys.append(y)
            else:
                xs.append(x)
                ys.append(y)
        if previous is not None and (not xs or previous[0] <= xs[0]):
            xs.insert(0, previous[0])
            ys.insert(0, previous[1])
        for x, y in zip(reversed(xs), reversed(ys)):
            if _finite(y):
                previous = (x, y)
                break
        yield task_id, xs, ys, rxs, rys, last_x


def _end_point(xs, ys, rxs, rys, last_x, status):
    """Where the end marker of a task goes: its last finite point (for a diverged task,
    at the x of its NaN report), or None when it drew nothing."""
    for px, py in ((xs, ys), (rxs, rys)):
        for x, y in zip(reversed(px), reversed(py)):
            if _finite(y):
                if status == "diverged" and last_x is not None:
                    x = max(x, last_x)
                return x, y
    return None


def plot_training_curves(
    history: History,
    *,
    filename: str | os.PathLike | None = None,
    plot: bool = False,
    use_legend: bool = True,
    title: str | None = None,
) -> Figure:
    """Draw the training curves of ``history`` and return the figure.

    Parameters
    ----------
    history:
        The run's :class:`~scheduler.results.history.History`.
    filename:
        If given, the figure is saved there (format from the extension, PNG without
        one); the parent folder is created, and the file is written atomically
        (a temporary file in the same folder, then ``os.replace``).
    plot:
        If True, the figure is created through pyplot and ``pyplot.show()`` is called.
    use_legend:
        If True, a legend of the configs (best first, at most 20 entries, then
        "+N more"). The status-marker legend is always drawn when there are markers.
    title:
        The title; by default the numbers of configs and tasks and the best config.

    Returns
    -------
    matplotlib.figure.Figure
        Still open. With ``plot=False`` it is not registered with pyplot and is freed
        when dropped; with ``plot=True`` close it with ``pyplot.close(fig)``.

    Each task is one ``Line2D`` in ``fig.axes[0].lines`` with ``gid`` ``"task-<id>"``;
    the replay rows are one dashed ``LineCollection`` (gid ``"replay"``); the end
    markers of each status are one scatter collection with gid ``"end-<status>"``.
    """
    figsize = (11.5, 6.2) if use_legend else (9.0, 6.2)
    if plot:
        fig = _pyplot().figure(figsize=figsize, dpi=_DPI, layout="constrained")
    else:
        fig = Figure(figsize=figsize, dpi=_DPI, layout="constrained")
    ax = fig.add_subplot()
    _draw(ax, history, use_legend=use_legend, title=title)
    if filename is not None:
        _save(fig, filename)
    if plot:
        _show()
    return fig


def _draw(ax, history: History, *, use_legend: bool, title: str | None) -> None:
    reward_attr = history.reward_attr
    time_attr = history.time_attr
    ranking = history.config_ranking()
    best = history.best_config_id()
    # Colours by rank: the best configs get the strongest, most distinct colours.
    colour_of = dict(zip(ranking, _colours(len(ranking))))

    ends: dict[str, tuple[list, list, list]] = {s: ([], [], []) for s in STATUS_MARKERS}
    replay_segments = []
    replay_colours = []
    integer_x = True
    for config_id in history.configs:
        colour = colour_of[config_id]
        is_best = config_id == best
        for task_id, xs, ys, rxs, rys, last_x in _task_points(history, config_id):
            integer_x = integer_x and all(float(x).is_integer() for x in xs + rxs)
            ax.plot(
                xs,
                ys,
                color=colour,
                linewidth=2.8 if is_best else 1.4,
                alpha=1.0 if is_best else 0.85,
                zorder=2.5 if is_best else 2,
                gid=f"task-{task_id}",
                label=f"_task {task_id}",
            )
            if rxs:
                replay_segments.append(list(zip(rxs, rys)))
                replay_colours.append(colour)
            status = history.tasks[task_id].status
            point = _end_point(xs, ys, rxs, rys, last_x, status)
            if point is not None and status in ends:
                ends[status][0].append(point[0])
                ends[status][1].append(point[1])
                ends[status][2].append(colour)

    if replay_segments:
        ax.add_collection(
            LineCollection(
                replay_segments,
                colors=replay_colours,
                linestyles="--",
                linewidths=1.0,
                alpha=0.4,
                zorder=1.5,
                gid="replay",
            )
        )
        ax.autoscale_view()

    status_handles = []
    for status, (xs, ys, colours) in ends.items():
        if not xs:
            continue
        style = dict(STATUS_MARKERS[status])
        hollow = style.pop("hollow", False)
        if hollow:
            style.update(facecolors="white", edgecolors=colours)
        else:
            style["c"] = colours
        ax.scatter(xs, ys, zorder=3, gid=f"end-{status}", label=f"_{status}", **style)
        status_handles.append(_marker_handle(status))
    if replay_segments:
        status_handles.append(
            Line2D([], [], color="grey", linestyle="--", alpha=0.6, label="replayed reports")
        )

    ax.set_xlabel(time_attr if time_attr is not None else "report number")
    better = "higher" if history.mode == "max" else "lower"
    ax.set_ylabel(f"{reward_attr} ({better} is better)")
    if integer_x:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.set_title(title if title is not None else _default_title(history))
    if not history.num_reports:
        ax.text(
            0.5,
            0.5,
            "no reports yet",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="grey",
            fontsize=14,
        )

    fig = ax.figure
    config_legend = None
    if use_legend and history.configs:
        handles = []
        for config_id in ranking[:MAX_LEGEND_CONFIGS]:
            is_best = config_id == best
            handles.append(
                Line2D(
                    [],
                    [],
                    color=colour_of[config_id],
                    linewidth=2.8 if is_best else 1.6,
                    label=_config_label(history, config_id),
                )
            )
        hidden = len(ranking) - MAX_LEGEND_CONFIGS
        if hidden > 0:
            handles.append(Line2D([], [], linestyle="none", label=f"+{hidden} more"))
        at = f" @ {time_attr}" if time_attr is not None else ""
        config_legend = fig.legend(
            handles=handles,
            title=f"config: {reward_attr}{at} (best first)",
            loc="outside right upper",
            fontsize=7.5,
            title_fontsize=8,
            frameon=False,
            handlelength=1.6,
        )
    if status_handles:
        kwargs = {"handles": status_handles, "title": "task ended", "fontsize": 8}
        if config_legend is not None:
            fig.legend(loc="outside right lower", frameon=False, title_fontsize=8, **kwargs)
        else:
            ax.legend(loc="best", framealpha=0.85, title_fontsize=8, **kwargs)


def _marker_handle(status: str) -> Line2D:
    style = STATUS_MARKERS[status]
    edge = style.get("edgecolors", "black")
    return Line2D(
        [],
        [],
        linestyle="none",
        marker=style["marker"],
        markersize=math.sqrt(style["s"]),
        markerfacecolor="white" if style.get("hollow") else "lightgrey",
        markeredgecolor="dimgrey" if style.get("hollow") else edge,
        markeredgewidth=style.get("linewidths", 1.0),
        label=_STATUS_LABELS[status],
    )


def _default_title(history: History) -> str:
    n_configs = len(history.configs)
    n_tasks = len(history.tasks)
    text = (
        f"Training curves: {n_configs} config{'s' if n_configs != 1 else ''}, "
        f"{n_tasks} task{'s' if n_tasks != 1 else ''}"
    )
    best = history.best_config_id()
    if best is not None:
        record = history.configs[best]
        at = ""
        if history.time_attr is not None and record.fidelity is not None:
            at = f" at {history.time_attr} {record.fidelity:g}"
        text += f"\nbest: config #{best}, {history.reward_attr} = {record.reward:.4g}{at}"
    return text


def _save(fig: Figure, filename: str | os.PathLike) -> None:
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
