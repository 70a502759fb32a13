"""Training curves of a run (DESIGN §7), readable at 10 and at 1,000 configs.

:func:`plot_training_curves` draws the reward against ``time_attr`` for every task of a
:class:`~scheduler.results.history.History`:

* the best configs (at most 10, :data:`MAX_HIGHLIGHTED`) are drawn in colour, one
  colour each (tab10 without its grey, then black), the best one thickest and on top;
  every other config is a thin, faint grey background line. A config's tasks (across
  pauses and promotions) share its colour, each task's line starting where the
  config's previous task ended, so the config reads as one curve;
* the end of each task is marked by its status (a marker legend under the axes):
  completed ``*``, stopped ``X``, paused hollow ``o``, failed ``^`` and diverged ``v``
  (red edges), still running ``>``, interrupted hollow square; in the config's colour
  for the highlighted ones (shifted sideways where they would hide each other; the
  best config's never moves), small and faint for the background;
* the y-range is chosen for the curves that matter (see
  :func:`scheduler.results._plot_layout.choose_y_range`): with many configs, the
  reports of the low rungs fall outside it, and a note in the axes says how many and
  where; ``inf`` rewards are drawn as arrows at the edge, NaN ends a curve (diverged);
* with ``use_legend``, a legend beside the axes lists the highlighted configs, best
  first, each with its id, the task that reported its value, the value and every
  hyperparameter (nested ones with dotted names), wrapped;
* the title names the best config and its task: ``best: config #52 (task 59)``, the
  ids :meth:`~scheduler.FIFOScheduler.get_best_task_id` and the demo print.

Replay reports (a promoted task re-reporting times ``<= resume_from``) are dashed and
faint. Without ``time_attr`` values the x axis is the config's report number. An empty
run, or one whose tasks all failed before reporting, gets a message in the axes.

The figure is built without pyplot (no window, nothing registered with pyplot, freed
when dropped) unless ``plot=True``, which creates it through pyplot and shows it; on a
backend that cannot show anything (a server) it is saved to a file instead and a
warning on the ``scheduler`` logger says where (:mod:`scheduler.results._plot_output`).
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from scheduler.results._plot_layout import (
    BACKGROUND,
    MAX_HIGHLIGHTED,
    PALETTE,
    choose_y_range,
    dodge,
    highlighted_configs,
    legend_label,
)
from scheduler.results._plot_output import pyplot, save_figure, show_or_save

if TYPE_CHECKING:
    from collections.abc import Iterator

    from matplotlib.axes import Axes
    from matplotlib.collections import PathCollection

    from scheduler.results._plot_layout import YRange
    from scheduler.results.history import History

__all__ = ["MAX_HIGHLIGHTED", "STATUS_MARKERS", "plot_training_curves"]

_DPI = 110

# Marker style of a task's end, per status.
STATUS_MARKERS: dict[str, dict[str, Any]] = {
    "completed": {"marker": "*", "s": 170, "edgecolors": "black", "linewidths": 0.7},
    "stopped": {"marker": "X", "s": 75, "edgecolors": "black", "linewidths": 0.6},
    "paused": {"marker": "o", "s": 46, "hollow": True, "linewidths": 1.6},
    "failed": {"marker": "^", "s": 85, "edgecolors": "red", "linewidths": 1.6},
    "diverged": {"marker": "v", "s": 85, "edgecolors": "red", "linewidths": 1.6},
    "running": {"marker": ">", "s": 65, "edgecolors": "black", "linewidths": 0.6},
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
# Background markers: this fraction of the size, faint.
_FAINT_SCALE = 0.3


def _real(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _finite(y: float | None) -> bool:
    return y is not None and math.isfinite(y)


def _task_points(
    history: History, config_id: int
) -> Iterator[tuple[int, list[float], list[float], list[float], list[float], float | None]]:
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


def _end_point(
    xs: list[float],
    ys: list[float],
    rxs: list[float],
    rys: list[float],
    last_x: float | None,
    status: str,
) -> tuple[float, float] | None:
    """Where the end marker of a task goes: its last finite point (for a diverged task,
    at the x of its NaN report), or None when it drew nothing."""
    for px, py in ((xs, ys), (rxs, rys)):
        for x, y in zip(reversed(px), reversed(py)):
            if _finite(y):
                if status == "diverged" and last_x is not None:
                    x = max(x, last_x)
                return x, y
    return None


def _legend_lines(history: History, use_legend: bool) -> int:
    if not use_legend:
        return 0
    return sum(legend_label(history, c).count("\n") + 1 for c in highlighted_configs(history))


def plot_training_curves(
    history: History,
    *,
    filename: str | os.PathLike | None = None,
    plot: bool = False,
    use_legend: bool = True,
    title: str | None = None,
    output_dir: str | os.PathLike | None = None,
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
        If True, the figure is created through pyplot and shown; on a backend that
        cannot show it, it is saved (to ``filename``, else to a new
        ``training_curves.png`` in ``output_dir`` or the current folder) and a warning
        on the ``scheduler`` logger says where.
    use_legend:
        If True, a legend of the highlighted configs beside the axes. The status-marker
        legend is always drawn when there are markers.
    title:
        The title; by default the numbers of configs and tasks and the best config with
        its task.
    output_dir:
        Where ``plot=True`` saves the figure when it cannot be shown.

    Returns
    -------
    matplotlib.figure.Figure
        Still open. With ``plot=False`` it is not registered with pyplot and is freed
        when dropped; with ``plot=True`` close it with ``pyplot.close(fig)``.

    Each task is one ``Line2D`` in ``fig.axes[0].lines`` with ``gid`` ``"task-<id>"``;
    the replay rows are one dashed ``LineCollection`` (gid ``"replay"``). The end
    markers are scatter collections: ``"best-<status>"`` (the best config's),
    ``"end-<status>"`` (the other highlighted configs') and ``"faint-<status>"`` (the
    background's). ``fig.scheduler_plot`` holds what was decided (highlighted config
    ids, their colours, the y-range).
    """
    lines = _legend_lines(history, use_legend)
    height = max(6.2, 1.6 + 0.142 * lines)
    figsize = (12.5 if use_legend else 9.0, height)
    if plot:
        fig = pyplot().figure(figsize=figsize, dpi=_DPI, layout="constrained")
    else:
        fig = Figure(figsize=figsize, dpi=_DPI, layout="constrained")
    ax = fig.add_subplot()
    _draw(ax, history, use_legend=use_legend, title=title)
    if filename is not None:
        save_figure(fig, filename)
    if plot:
        show_or_save(fig, filename, None if output_dir is None else os.fspath(output_dir))
    return fig


class _Markers:
    """End markers, collected per layer and status before drawing."""

    def __init__(self) -> None:
        self.layers: dict[str, dict[str, list[tuple[float, float, Any, int, bool]]]] = {
            layer: {} for layer in ("faint", "end", "best")
        }

    def add(
        self, layer: str, status: str, x: float, y: float, colour: Any, rank: int, last: bool
    ) -> None:
        self.layers[layer].setdefault(status, []).append((x, y, colour, rank, last))

    def pin(self, low: float, high: float) -> None:
        """A config's last marker outside the y-range is drawn just inside its edge, so
        every config shows (the note in the axes says so); an earlier task's (a pause
        before a promotion) is on the config's curve, which leaves the axes there."""
        inset = 0.022 * (high - low)
        bottom, top = low + inset, high - inset
        for statuses in self.layers.values():
            for entries in statuses.values():
                entries[:] = [
                    (x, bottom if y < low else top if y > high else y, c, r, last)
                    for x, y, c, r, last in entries
                    if last or low <= y <= high
                ]
            for status in [s for s, entries in statuses.items() if not entries]:
                del statuses[status]


def _low_rung_configs(history: History) -> set[int]:
    """Configs whose every task ended (stopped or paused) at the lowest fidelity any
    config ended at: the low-rung configs of a Hyperband run."""
    ends: dict[int, float] = {}
    kinds: dict[int, set[str]] = {}
    for task_id, rows in history.training_history.items():
        task = history.tasks[task_id]
        reals = [_real(r.get(history.time_attr)) for r in rows] if history.time_attr else []
        times = [t for t in reals if t is not None]
        if not times:
            continue
        config_id = task.config_id
        ends[config_id] = max(ends.get(config_id, times[-1]), max(times))
        kinds.setdefault(config_id, set()).add(task.status)
    if not ends:
        return set()
    lowest = min(ends.values())
    if all(end == lowest for end in ends.values()):
        return set()  # every config went as far (FIFO): no low rung
    return {c for c, end in ends.items() if end == lowest and kinds[c] <= {"stopped", "paused"}}


def _draw(ax: Axes, history: History, *, use_legend: bool, title: str | None) -> None:
    reward_attr = history.reward_attr
    time_attr = history.time_attr
    highlighted = highlighted_configs(history)
    best = history.best_config_id()
    rank_of = {config_id: rank for rank, config_id in enumerate(highlighted)}
    colour_of = {config_id: PALETTE[rank] for rank, config_id in enumerate(highlighted)}
    background = [c for c in history.configs if c not in rank_of]
    faint_alpha = min(0.5, max(0.1, 12 / max(1, len(background))))

    markers = _Markers()
    replay_segments, replay_colours = [], []
    points: list[tuple[float, float, int]] = []
    infinite: list[tuple[float, float, Any]] = []  # (x, +-inf, colour)
    integer_x = True
    # Background first, then the highlighted configs from the last to the best, so
    # that better configs are drawn over worse ones.
    for config_id in background + highlighted[::-1]:
        rank = rank_of.get(config_id)
        is_best = config_id == best
        colour = BACKGROUND if rank is None else colour_of[config_id]
        style: dict[str, Any]
        if rank is None:
            style = {"linewidth": 0.8, "alpha": faint_alpha, "zorder": 1.5}
        else:
            style = {
                "linewidth": 3.0 if is_best else 1.6,
                "alpha": 1.0 if is_best else 0.95,
                "zorder": 3.5 if is_best else 3.0 - rank / 100,
            }
        for task_id, xs, ys, rxs, rys, last_x in _task_points(history, config_id):
            integer_x = integer_x and all(float(x).is_integer() for x in xs + rxs)
            # The first point of a promoted task's line repeats the config's previous
            # end: only the task's own (non-replay) reports count.
            own = len(ys) - sum(
                1 for row in history.training_history[task_id] if not row.get("replay")
            )
            for x, y in zip(xs[own:], ys[own:]):
                if _finite(y):
                    points.append((x, y, config_id))
                elif y is not None and math.isinf(y):
                    infinite.append((x, y, colour))
            drawn = [y if _finite(y) else math.nan for y in ys]
            ax.plot(
                xs, drawn, color=colour, gid=f"task-{task_id}", label=f"_task {task_id}", **style
            )
            if rxs:
                replay_segments.append(
                    [(x, y if _finite(y) else math.nan) for x, y in zip(rxs, rys)]
                )
                replay_colours.append(colour)
            status = history.tasks[task_id].status
            point = _end_point(xs, ys, rxs, rys, last_x, status)
            if point is not None and status in STATUS_MARKERS:
                layer = "faint" if rank is None else ("best" if is_best else "end")
                last = task_id == history.configs[config_id].task_ids[-1]
                markers.add(
                    layer, status, point[0], point[1], colour, -1 if rank is None else rank, last
                )

    if replay_segments:
        ax.add_collection(
            LineCollection(
                replay_segments,
                colors=replay_colours,
                linestyles="--",
                linewidths=1.0,
                alpha=0.4,
                zorder=1.4,
                gid="replay",
            )
        )

    y_range = choose_y_range(points, highlighted, history.mode, _low_rung_configs(history))
    _set_limits(ax, history, points, infinite, y_range)
    if y_range is not None:
        markers.pin(y_range.low, y_range.high)
    collections = _draw_markers(ax, markers, faint_alpha)
    _draw_infinite(ax, infinite, y_range)

    ax.set_xlabel(time_attr if time_attr is not None else "report number")
    better = "higher" if history.mode == "max" else "lower"
    ax.set_ylabel(f"{reward_attr} ({better} is better)")
    if integer_x:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.set_title(title if title is not None else _default_title(history), fontsize=11)
    notes = _notes(history, y_range, infinite)
    if notes:
        ax.text(
            0.99,
            0.015 if history.mode == "max" else 0.985,
            "\n".join(notes),
            transform=ax.transAxes,
            ha="right",
            va="bottom" if history.mode == "max" else "top",
            fontsize=7.5,
            color="#444444",
            zorder=6,
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "alpha": 0.85, "lw": 0},
            gid="note",
        )
    message = _empty_message(history)
    if message:
        ax.text(
            0.5,
            0.5,
            message,
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="grey",
            fontsize=13,
            gid="message",
        )

    fig = ax.figure
    if not isinstance(fig, Figure):  # plot_training_curves draws on a Figure's own axes
        raise TypeError(f"the axes must belong to a Figure, got {type(fig).__name__}")
    if use_legend and highlighted:
        _config_legend(fig, history, highlighted, colour_of, best, len(background))
    _status_legend(fig, ax, markers, bool(replay_segments), use_legend)
    fig.scheduler_plot = {  # type: ignore[attr-defined]  # our documented extra attribute
        "highlighted": list(highlighted),
        "colours": dict(colour_of),
        "best": best,
        "y_range": y_range,
    }
    _dodge_markers(fig, ax, collections, markers)


def _set_limits(
    ax: Axes,
    history: History,
    points: list[tuple[float, float, int]],
    infinite: list[tuple[float, float, Any]],
    y_range: YRange | None,
) -> None:
    xs = [x for x, _, _ in points] + [x for x, _, _ in infinite]
    if xs:
        low, high = min(xs), max(xs)
        margin = max((high - low) * 0.03, 0.5)
        ax.set_xlim(low - margin, high + margin)
    else:
        ax.set_xlim(0, 1)
    if y_range is not None:
        ax.set_ylim(y_range.low, y_range.high)
    else:
        ax.set_ylim(0, 1)


def _draw_markers(ax: Axes, markers: _Markers, faint_alpha: float) -> dict[str, Any]:
    collections = {}
    for layer, zorder in (("faint", 1.8), ("end", 4.0), ("best", 5.0)):
        for status, entries in markers.layers[layer].items():
            if layer != "faint":
                entries.sort(key=lambda e: -e[3])  # worse first: better ones on top
            style = dict(STATUS_MARKERS[status])
            hollow = style.pop("hollow", False)
            colours = [e[2] for e in entries]
            if layer == "faint":
                style["s"] = style["s"] * _FAINT_SCALE
                style["linewidths"] = style.get("linewidths", 1.0) * 0.6
                style["alpha"] = min(1.0, faint_alpha * 1.5)
                if hollow:
                    style.update(facecolors="none", edgecolors=BACKGROUND)
                else:
                    style.update(c=BACKGROUND, edgecolors="none")
            elif hollow:
                style.update(facecolors="white", edgecolors=colours)
            else:
                style["c"] = colours
            collection = ax.scatter(
                [e[0] for e in entries],
                [e[1] for e in entries],
                zorder=zorder,
                gid=f"{layer}-{status}",
                label=f"_{layer} {status}",
                clip_on=True,
                **style,
            )
            collections[f"{layer}-{status}"] = collection
    return collections


def _draw_infinite(
    ax: Axes, infinite: list[tuple[float, float, Any]], y_range: YRange | None
) -> None:
    """+inf / -inf rewards: arrows (in the config's colour) at the top / bottom edge."""
    if not infinite:
        return
    transform = matplotlib.transforms.blended_transform_factory(ax.transData, ax.transAxes)
    for sign, y, marker in ((1, 0.985, "^"), (-1, 0.015, "v")):
        chosen = [(x, colour) for x, v, colour in infinite if (v > 0) == (sign > 0)]
        if chosen:
            ax.scatter(
                [x for x, _ in chosen],
                [y] * len(chosen),
                marker=marker,
                s=70,
                c=[colour for _, colour in chosen],
                edgecolors="#d62728",
                linewidths=1.2,
                transform=transform,
                zorder=7,
                clip_on=False,
                gid=f"inf-{'plus' if sign > 0 else 'minus'}",
                label="_inf",
            )


def _notes(
    history: History, y_range: YRange | None, infinite: list[tuple[float, float, Any]]
) -> list[str]:
    notes = []
    if y_range is not None:
        text = y_range.describe(history.time_attr, history.mode)
        if text:
            notes.append(text)
    if infinite:
        plus = sum(1 for _, y, _ in infinite if y > 0)
        minus = len(infinite) - plus
        parts = [
            f"{n} report{'s' if n != 1 else ''} of {s}inf"
            for n, s in ((plus, "+"), (minus, "-"))
            if n
        ]
        notes.append(f"{' and '.join(parts)} {history.reward_attr}: arrows at the edge")
    return notes


def _empty_message(history: History) -> str | None:
    if history.num_reports:
        return None
    tasks = list(history.tasks.values())
    if not tasks:
        return "no reports yet"
    failed = [t for t in tasks if t.status == "failed"]
    running = sum(1 for t in tasks if t.status == "running")
    if failed and len(failed) == len(tasks):
        reason = failed[0].reason or "no reason recorded"
        if len(reason) > 90:
            reason = reason[:89] + "…"
        return (
            f"all {len(tasks)} task{'s' if len(tasks) != 1 else ''} failed before reporting\n"
            f"task {failed[0].task_id}: {reason}"
        )
    if running:
        return f"no reports yet ({running} task{'s' if running != 1 else ''} running)"
    return "no reports"


def _config_legend(
    fig: Figure,
    history: History,
    highlighted: list[int],
    colour_of: dict[int, str],
    best: int | None,
    num_background: int,
) -> None:
    handles = []
    for config_id in highlighted:
        is_best = config_id == best
        handles.append(
            Line2D(
                [],
                [],
                color=colour_of[config_id],
                linewidth=3.0 if is_best else 1.8,
                label=legend_label(history, config_id),
            )
        )
    if num_background:
        handles.append(
            Line2D(
                [],
                [],
                color=BACKGROUND,
                linewidth=1.0,
                label=f"{num_background} other config{'s' if num_background != 1 else ''}",
            )
        )
    at = f" @ {history.time_attr}" if history.time_attr is not None else ""
    fig.legend(
        handles=handles,
        title=f"config (task): {history.reward_attr}{at}, best first",
        loc="outside right upper",
        fontsize=7.5,
        title_fontsize=8,
        frameon=False,
        handlelength=1.8,
        labelspacing=0.7,
        alignment="left",
    )


def _status_legend(
    fig: Figure, ax: Axes, markers: _Markers, replay: bool, use_legend: bool
) -> None:
    statuses = [s for s in STATUS_MARKERS if any(s in layer for layer in markers.layers.values())]
    handles = [_marker_handle(status) for status in statuses]
    if replay:
        handles.append(
            Line2D([], [], color="grey", linestyle="--", alpha=0.6, label="replayed reports")
        )
    if not handles:
        return
    kwargs = {"handles": handles, "title": "task ended", "fontsize": 8, "title_fontsize": 8}
    if use_legend:
        fig.legend(loc="outside lower center", ncol=len(handles), frameon=False, **kwargs)
    else:
        ax.legend(loc="best", framealpha=0.85, **kwargs)


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


def _dodge_markers(
    fig: Figure, ax: Axes, collections: dict[str, PathCollection], markers: _Markers
) -> None:
    """Shift the highlighted end markers sideways where they would hide each other
    (the best config's first, and never moved)."""
    entries = []  # (rank, collection key, index, x, y, radius)
    for layer in ("best", "end"):
        for status, items in markers.layers[layer].items():
            size = STATUS_MARKERS[status]["s"]
            for index, (x, y, _, rank, _last) in enumerate(items):
                entries.append(
                    (-1 if layer == "best" else rank, f"{layer}-{status}", index, x, y, size)
                )
    if len(entries) < 2:
        return
    fig.draw_without_rendering()  # the layout fixes the axes' size in pixels
    to_pixels = ax.transData
    entries.sort(key=lambda e: e[0])
    right_end = max(e[3] for e in entries)
    pixels = [tuple(to_pixels.transform((e[3], e[4]))) for e in entries]
    radius = max(math.sqrt(e[5]) for e in entries) / 2 * fig.dpi / 72
    offsets = dodge([(px, py, e[3] == right_end) for e, (px, py) in zip(entries, pixels)], radius)
    inverse = to_pixels.inverted()
    for entry, (px, py), shift in zip(entries, pixels, offsets):
        if shift == 0.0:
            continue
        collection = collections[entry[1]]
        data = np.asanyarray(collection.get_offsets()).copy()
        data[entry[2]] = inverse.transform((px + shift, py))
        collection.set_offsets(data)


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
        text += (
            f"\nbest: config #{best} (task {record.reward_task_id}), "
            f"{history.reward_attr} = {record.reward:.4g}{at}"
        )
    return text
