"""What the training-curve plot shows, decided before anything is drawn.

- :func:`highlighted_configs`: the configs drawn in colour (the best ones, by the
  history's ranking), each with a colour of its own; the others are background.
- :func:`choose_y_range`: the y-range for the curves that matter. With many configs,
  Hyperband's low rungs hold most reports (every config reports at epoch 1) and would
  stretch the axis over values nobody needs to read; the range is chosen for the
  reports at the fidelities few configs reached (the top rungs) and the highlighted
  configs' reports there. What falls outside is counted, so the plot can say so.
- :func:`legend_label`: a config's legend entry, every hyperparameter shown (wrapped).
- :func:`dodge`: horizontal offsets so that end markers do not hide each other.

Pure functions of the history and plain numbers: no matplotlib here.
"""

from __future__ import annotations

import math
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scheduler.results.flatten import flatten_values

if TYPE_CHECKING:
    from scheduler.results.history import History

__all__ = [
    "MAX_HIGHLIGHTED",
    "PALETTE",
    "YRange",
    "choose_y_range",
    "dodge",
    "highlighted_configs",
    "legend_label",
]

#: Configs drawn in colour, at most (the best first); the others are grey background.
MAX_HIGHLIGHTED = 10

#: Colours of the highlighted configs, by rank: matplotlib's tab10 without its grey
#: (the background's colour), then black. Ten colours, all distinct.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
    "#000000",
)
BACKGROUND = "#9a9a9a"

# Up to this many configs the focus is the whole x-range (only low-rung configs drop).
_SMALL_RUN = 12
# A fidelity "few configs reached": at most this fraction of them (or MAX_HIGHLIGHTED).
_FEW = 0.2
# The range covers this quantile of the background's values at the focus fidelities.
_BACKGROUND_QUANTILE = 0.1
# Zooming is only worth it if it removes at least this fraction of the full span.
_MIN_ZOOM = 0.15
_PAD = 0.06

_LABEL_WIDTH = 46


def highlighted_configs(history: History) -> list[int]:
    """The configs drawn in colour, best first: the top :data:`MAX_HIGHLIGHTED` of the
    ranking (configs without a valid reward come last in the ranking)."""
    return history.config_ranking()[:MAX_HIGHLIGHTED]


@dataclass
class YRange:
    """The y-limits chosen, and what they leave out."""

    low: float
    high: float
    zoomed: bool  # False: the range holds every finite report
    focus_from: float | None  # the fidelity from which reports set the range
    clipped_reports: int = 0  # finite reports outside [low, high]
    clipped_configs: int = 0
    clipped_at: tuple[float, float] | None = None  # x-range of the clipped reports
    low_rung_left_out: bool = False  # set by the configs that went past the lowest rung

    def describe(self, time_attr: str | None, mode: str) -> str | None:
        """Two lines for the plot, or None when nothing is clipped."""
        if not self.zoomed or not self.clipped_reports:
            return None
        side = "below" if mode == "max" else "above"
        unit = time_attr or "report"
        where = ""
        if self.clipped_at is not None:
            lo, hi = self.clipped_at
            where = f" at {unit} {lo:g}" if lo == hi else f" at {unit} {lo:g}-{hi:g}"
        edge = "bottom" if mode == "max" else "top"
        if self.low_rung_left_out:
            what = f"the configs that went past {unit} {self.focus_from:g}"
        else:
            what = f"the top configs and all reports from {unit} {self.focus_from:g} on"
        return (
            f"y-axis zoomed to {self.low:.4g} - {self.high:.4g} for {what}.\n"
            f"{self.clipped_reports} report{'s' if self.clipped_reports != 1 else ''} of "
            f"{self.clipped_configs} config{'s' if self.clipped_configs != 1 else ''}{where} "
            f"lie {side} it; their end markers sit on the {edge} edge"
        )


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def choose_y_range(
    points: list[tuple[float, float, int]],
    highlighted: list[int],
    mode: str,
    low_rung: set[int] | frozenset[int] = frozenset(),
) -> YRange | None:
    """The y-range for ``points`` (finite ``(x, y, config_id)`` of the drawn reports).

    The *focus fidelity* is the smallest x that at most max(10, 20 %) of the configs
    reached (or, when every config ran as far, the second half of the x-range); the
    range spans the highlighted configs' reports from there on and the background's, up
    to its worst 10 %. When the focus is the lowest x (a small run), the reports of the
    ``low_rung`` configs (those that ended at the lowest rung, stopped or paused) are
    left out instead, if at least 3 configs remain. The full range is kept when zooming
    would cut less than 15 % of it. None without points.
    """
    if not points:
        return None
    ys = [y for _, y, _ in points]
    full_low, full_high = min(ys), max(ys)
    configs = {c for _, _, c in points}
    if len(configs) - len(configs & set(low_rung)) >= 3:
        kept = [p for p in points if p[2] not in low_rung]
    else:
        kept = points
    if len(configs) <= _SMALL_RUN:
        return _zoom(points, kept, full_low, full_high, focus=min(x for x, _, _ in points))
    reached: dict[float, set[int]] = defaultdict(set)
    for x, _, c in points:
        reached[x].add(c)
    # configs that reached x or beyond
    beyond: dict[float, set[int]] = {}
    running: set[int] = set()
    for x in sorted(reached, reverse=True):
        running = running | reached[x]
        beyond[x] = running
    few = max(MAX_HIGHLIGHTED, _FEW * len(configs))
    candidates = [x for x in sorted(beyond) if len(beyond[x]) <= few]
    xs = sorted(reached)
    if candidates:
        focus = candidates[0]
    else:  # every config ran as far: the second half of the x-range
        middle = xs[0] + (xs[-1] - xs[0]) / 2
        focus = next(x for x in xs if x >= middle)
    if focus == xs[0]:
        return _zoom(points, kept, full_low, full_high, focus=focus)
    chosen = set(highlighted)
    top = [y for x, y, c in points if x >= focus and c in chosen]
    rest = [y for x, y, c in points if x >= focus and c not in chosen]
    if rest:
        q = _BACKGROUND_QUANTILE if mode == "max" else 1 - _BACKGROUND_QUANTILE
        rest_edge = _quantile(rest, q)
        rest_best = max(rest) if mode == "max" else min(rest)
        top += [rest_edge, rest_best]
    if not top:
        return _padded(full_low, full_high, full_low, full_high, zoomed=False, focus=None)
    return _limited(points, min(top), max(top), full_low, full_high, focus)


def _zoom(
    points: list[tuple[float, float, int]],
    kept: list[tuple[float, float, int]],
    full_low: float,
    full_high: float,
    focus: float | None,
) -> YRange:
    """The range of the ``kept`` reports (all of them from the focus fidelity on)."""
    values = [y for _, y, _ in kept]
    result = _limited(points, min(values), max(values), full_low, full_high, focus)
    result.low_rung_left_out = len(kept) < len(points)
    return result


def _limited(
    points: list[tuple[float, float, int]],
    low: float,
    high: float,
    full_low: float,
    full_high: float,
    focus: float | None,
) -> YRange:
    span = full_high - full_low
    if span <= 0 or (high - low) >= (1 - _MIN_ZOOM) * span:
        return _padded(full_low, full_high, full_low, full_high, zoomed=False, focus=None)
    result = _padded(low, high, full_low, full_high, zoomed=True, focus=focus)
    outside = [(x, c) for x, y, c in points if not result.low <= y <= result.high]
    result.clipped_reports = len(outside)
    result.clipped_configs = len({c for _, c in outside})
    if outside:
        result.clipped_at = (min(x for x, _ in outside), max(x for x, _ in outside))
    return result


def _padded(
    low: float, high: float, full_low: float, full_high: float, *, zoomed: bool, focus: float | None
) -> YRange:
    span = high - low
    if span <= 0:
        span = max(abs(high) * 0.05, 0.01)
    low, high = low - _PAD * span, high + _PAD * span
    if zoomed:  # never beyond what the data reach (plus the same margin)
        low = max(low, full_low - _PAD * span)
        high = min(high, full_high + _PAD * span)
    return YRange(low, high, zoomed, focus)


def _format_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        return f"{float(value):.3g}"
    return str(value)


def legend_label(history: History, config_id: int) -> str:
    """``#<config> (task <task>)  <reward> @<fidelity>`` and, on the lines below, every
    hyperparameter as ``name=value`` (nested ones with dotted names), wrapped."""
    record = history.configs[config_id]
    head = f"#{config_id}"
    if record.reward_task_id is not None:
        head += f" (task {record.reward_task_id})"
    if record.reward is not None:
        value = f"{record.reward:.4g}" if not math.isnan(record.reward) else "NaN"
        at = "" if record.fidelity is None else f" @{record.fidelity:g}"
        head += f"  {value}{at}"
    elif record.task_ids:
        head += f"  ({history.tasks[record.task_ids[-1]].status}, no reward)"
    params = [f"{k}={_format_value(v)}" for k, v in flatten_values(record.config).items()]
    return "\n".join([head, *_pack(params, _LABEL_WIDTH)])


def _pack(items: list[str], width: int) -> list[str]:
    """Lines of ``items`` (kept whole, two spaces apart, each line indented by two),
    at most ``width`` characters; an item longer than a line is cut into pieces."""
    lines: list[str] = []
    line = ""
    for item in items:
        pieces = textwrap.wrap(item, width - 2, break_on_hyphens=False) or [item]
        for piece in pieces if len(item) > width - 2 else [item]:
            candidate = f"{line}  {piece}" if line else f"  {piece}"
            if line and len(candidate) > width:
                lines.append(line)
                candidate = f"  {piece}"
            line = candidate
    if line:
        lines.append(line)
    return lines


def dodge(points: list[tuple[float, float, bool]], radius: float) -> list[float]:
    """Horizontal offsets (in the points' own units, pixels say) so that no two markers
    of ``radius`` sit closer than 1.3 radii (they may touch, neither hides the other).

    ``points`` are ``(x, y, left_only)`` in priority order: each in turn moves to the
    nearest free slot (the first never moves), alternating left and right, or only to
    the left when ``left_only`` (a marker at the right end of the data).
    """
    placed: list[tuple[float, float]] = []
    offsets: list[float] = []
    gap = 1.3 * radius
    for x, y, left_only in points:
        cx = x
        for k in range(0, 4 * len(points) + 1):
            if left_only:
                shift = -gap * k
            else:
                shift = 0.0 if k == 0 else gap * ((k + 1) // 2) * (-1 if k % 2 else 1)
            cx = x + shift
            if all((cx - px) ** 2 + (y - py) ** 2 >= gap * gap * 0.999 for px, py in placed):
                break
        placed.append((cx, y))
        offsets.append(cx - x)
    return offsets
