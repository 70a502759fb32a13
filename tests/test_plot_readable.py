"""Training curves a user can read at 10, 100 and 1,000 configs (issue 16).

Every check reads the figure's own artists: the y-limits, the lines' colours and
z-order, the end-marker collections (in pixels, after layout), the legend texts and the
title. The histories come from the real Hyperband and FIFO policies on synthetic
learning curves (``tests/_plot_cases.py``).
"""

from __future__ import annotations

import itertools
import logging
import math
import os

import matplotlib

matplotlib.use("Agg")  # never a window in tests

import _plot_cases as cases
import numpy as np
import pytest
from matplotlib.colors import to_hex

import scheduler as sch
from scheduler.cli import demo
from scheduler.results.flatten import flatten_values
from scheduler.results.history import History
from scheduler.results.plot import MAX_HIGHLIGHTED, STATUS_MARKERS, plot_training_curves

BACKGROUND_GREYS = {"#9a9a9a", "#7f7f7f"}  # ours, and tab10's grey that used to be a config's


@pytest.fixture(scope="module")
def runs():
    """Histories and their figures, built once for the module."""
    histories = {
        10: cases.hyperband_history(10),
        100: cases.hyperband_history(100),
        1000: cases.hyperband_history(1000),
        "fifo": cases.fifo_history(60),
        "stopping": cases.hyperband_history(200, kind="stopping"),
    }
    return {name: (h, plot_training_curves(h)) for name, h in histories.items()}


def task_lines(fig):
    return {
        line.get_gid(): line for line in fig.axes[0].lines if (line.get_gid() or "")[:5] == "task-"
    }


def marker_collections(fig, layers=("best", "end", "faint")):
    return {
        c.get_gid(): c
        for c in fig.axes[0].collections
        if (c.get_gid() or "").split("-")[0] in layers
    }


def finite_points(history):
    """(x, y, config_id) of every finite, non-replay report."""
    out = []
    for rows in history.training_history.values():
        for row in rows:
            y = row.get(history.reward_attr)
            if not row["replay"] and isinstance(y, float) and math.isfinite(y):
                out.append((float(row[history.time_attr]), y, row["config_id"]))
    return out


# -- the y-range --------------------------------------------------------------------


@pytest.mark.parametrize("n", [100, 1000, "stopping"])
def test_y_range_is_set_by_the_top_configs_not_the_low_rungs(runs, n):
    history, fig = runs[n]
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    points = finite_points(history)
    state = fig.scheduler_plot
    focus = state["y_range"].focus_from
    assert state["y_range"].zoomed and focus > 1
    top = [y for x, y, c in points if x >= focus and c in state["highlighted"]]
    assert low <= min(top) and max(top) <= high  # the curves that matter are all in view
    assert high <= max(y for _, y, _ in points) + 0.1 * (high - low)
    epoch1 = [y for x, y, _ in points if x == 1]
    below = sum(y < low for y in epoch1)
    assert below / len(epoch1) > 0.6  # most of the first rung is left out ...
    assert (high - low) < 0.5 * (max(epoch1) - min(epoch1))  # ... and the range is narrow
    [note] = [t for t in ax.texts if t.get_gid() == "note"]
    clipped = sum(not low <= y <= high for _, y, _ in points)
    assert f"{clipped} reports of" in note.get_text()
    assert f"y-axis zoomed to {state['y_range'].low:.4g}" in note.get_text()


def test_ten_configs_zoom_on_the_promoted_ones_and_keep_every_config_visible(runs):
    history, fig = runs[10]
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    assert len(fig.scheduler_plot["highlighted"]) == len(history.configs) == 10
    # every config's last end marker is inside the axes (pinned to the edge if below)
    shown = np.concatenate([c.get_offsets() for c in marker_collections(fig).values()])
    assert len(shown) >= 10 and np.all((shown[:, 1] >= low) & (shown[:, 1] <= high))
    promoted = {c for x, _, c in finite_points(history) if x > 1}
    for _x, y, c in finite_points(history):
        if c in promoted:
            assert low <= y <= high


def test_fifo_zooms_on_the_second_half(runs):
    history, fig = runs["fifo"]
    low, high = fig.axes[0].get_ylim()
    final = {c: y for x, y, c in finite_points(history) if x == 10}
    for config_id in fig.scheduler_plot["highlighted"]:
        assert low <= final[config_id] <= high


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_renders_to_png(runs, n, tmp_path):
    _history, fig = runs[n]
    path = tmp_path / f"curves_{n}.png"
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- colours, markers, order ----------------------------------------------------------


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_highlighted_configs_have_distinct_colours_never_the_background_grey(runs, n):
    history, fig = runs[n]
    highlighted = fig.scheduler_plot["highlighted"]
    assert len(highlighted) == min(MAX_HIGHLIGHTED, len(history.configs))
    lines = task_lines(fig)
    colours = {}
    for config_id in highlighted:
        task_ids = history.configs[config_id].task_ids
        line_colours = {to_hex(lines[f"task-{t}"].get_color()) for t in task_ids}
        assert len(line_colours) == 1  # a config is one colour across its tasks
        colours[config_id] = line_colours.pop()
    assert len(set(colours.values())) == len(highlighted)
    assert not set(colours.values()) & BACKGROUND_GREYS
    for config_id in set(history.configs) - set(highlighted):
        for t in history.configs[config_id].task_ids:
            assert to_hex(lines[f"task-{t}"].get_color()) == "#9a9a9a"


@pytest.mark.parametrize("n", [100, 1000, "stopping"])
def test_the_best_config_is_drawn_on_top(runs, n):
    history, fig = runs[n]
    best = history.best_config_id()
    lines = task_lines(fig)
    best_z = {lines[f"task-{t}"].get_zorder() for t in history.configs[best].task_ids}
    others = [
        line.get_zorder()
        for gid, line in lines.items()
        if int(gid[5:]) not in history.configs[best].task_ids
    ]
    assert min(best_z) > max(others)
    collections = marker_collections(fig)
    best_layer = [c.get_zorder() for gid, c in collections.items() if gid.startswith("best-")]
    other_layers = [c.get_zorder() for gid, c in collections.items() if not gid.startswith("best-")]
    assert best_layer and min(best_layer) > max(other_layers)


@pytest.mark.parametrize("n", [100, 1000, "stopping", "fifo"])
def test_completed_markers_do_not_hide_each_other(runs, n):
    _history, fig = runs[n]
    collections = marker_collections(fig, layers=("best", "end"))
    stars = [c for gid, c in collections.items() if gid.endswith("-completed")]
    fig.draw_without_rendering()
    to_pixels = fig.axes[0].transData
    pixels = np.concatenate([to_pixels.transform(c.get_offsets()) for c in stars])
    assert len(pixels) >= 2
    radius = math.sqrt(STATUS_MARKERS["completed"]["s"]) / 2 * fig.dpi / 72
    for a, b in itertools.combinations(pixels, 2):
        assert np.hypot(*(a - b)) >= 1.25 * radius


def test_the_best_config_marker_is_never_moved(runs):
    history, fig = runs[1000]
    best = history.best_config_id()
    record = history.configs[best]
    [star] = [c for gid, c in marker_collections(fig).items() if gid == "best-completed"]
    assert list(star.get_offsets()[-1]) == pytest.approx([record.fidelity, record.reward])


def test_statuses_have_distinct_marker_shapes_and_colours_per_config(runs):
    _history, fig = runs["stopping"]
    collections = marker_collections(fig, layers=("end",))
    shapes = {
        gid.split("-")[1]: c.get_paths()[0].vertices.tobytes() for gid, c in collections.items()
    }
    assert len(set(shapes.values())) == len(shapes) >= 2
    stars = collections["end-completed"]
    assert len({to_hex(c) for c in stars.get_facecolors()}) == len(stars.get_offsets())


# -- legend and title -----------------------------------------------------------------


@pytest.mark.parametrize("n", [10, 1000])
def test_legend_entries_show_every_hyperparameter(runs, n):
    history, fig = runs[n]
    legend = fig.legends[0]
    texts = [t.get_text() for t in legend.get_texts()]
    highlighted = fig.scheduler_plot["highlighted"]
    assert len(texts) == len(highlighted) + (len(history.configs) > len(highlighted))
    for config_id, text in zip(highlighted, texts):
        record = history.configs[config_id]
        assert text.startswith(f"#{config_id} (task {record.reward_task_id})")
        assert "…" not in text
        joined = " ".join(text.split())
        for name in flatten_values(record.config):
            assert f"{name}=" in joined
        assert all(len(line) <= 48 for line in text.splitlines())  # wrapped
    if len(history.configs) > len(highlighted):
        assert texts[-1] == f"{len(history.configs) - len(highlighted)} other configs"


def test_nested_hyperparameters_appear_with_dotted_names():
    h = History("acc", "epoch")
    config = {"opt": {"choice": 1, "value": {"lr": 0.01}}, "sizes": [2, 4], "lr": 0.5}
    h.start_task(0, 0, config, start_time=0.0)
    h.add_report(0, {"epoch": 1, "acc": 0.5}, decision="continue")
    h.end_task(0, "completed", end_time=1.0)
    text = plot_training_curves(h).legends[0].get_texts()[0].get_text()
    assert "opt.choice=1" in text and "opt.value.lr=0.01" in text and "sizes=[2, 4]" in text


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_title_names_the_best_config_and_its_task(runs, n):
    history, fig = runs[n]
    title = fig.axes[0].get_title()
    best, task = history.best_config_id(), history.best_task_id()
    assert f"best: config #{best} (task {task})" in title
    assert f"{history.best_reward():.4g}" in title


def test_the_demo_prints_the_ids_the_plot_names():
    @sch.args(lr=sch.Real(1e-3, 1e-1, log=True), width=sch.Categorical(16, 64), epochs=9)
    def train_fn(args, reporter):
        for epoch in range(1, args.epochs + 1):
            reporter(epoch=epoch, accuracy=1 - 1 / (1 + args.lr * args.width * epoch))

    s = sch.HyperbandScheduler(
        train_fn, num_trials=12, type="promotion", backend="thread", progress=False
    )
    s.run()
    assert s.join_jobs(timeout=60)
    line = demo.summary(s)[0]
    ids = f"config #{s.history.best_config_id()} (task {s.get_best_task_id()})"
    assert ids in line
    assert ids in s.get_training_curves().axes[0].get_title()


# -- degenerate runs --------------------------------------------------------------------


def test_all_failed_run_says_so():
    fig = plot_training_curves(cases.all_failed_history(5))
    ax = fig.axes[0]
    [message] = [t.get_text() for t in ax.texts if t.get_gid() == "message"]
    assert message.startswith("all 5 tasks failed before reporting")
    assert "ValueError: bad input shape" in message
    assert ax.get_ylim() == (0, 1)  # not a -0.045..0.045 sliver


def test_inf_and_nan_rewards_are_drawn_sensibly():
    history = cases.inf_nan_history()
    fig = plot_training_curves(history)
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    assert math.isfinite(low) and math.isfinite(high) and high - low < 1
    gids = {c.get_gid() for c in ax.collections}
    assert {"inf-plus", "inf-minus"} <= gids
    assert any(gid.endswith("-diverged") for gid in gids)
    [note] = [t.get_text() for t in ax.texts if t.get_gid() == "note"]
    assert "1 report of +inf and 1 report of -inf" in note
    assert "NaN" in fig.legends[0].get_texts()[-1].get_text() or any(
        "NaN" in t.get_text() for t in fig.legends[0].get_texts()
    )


def test_empty_run():
    ax = plot_training_curves(History("acc", "epoch")).axes[0]
    assert [t.get_text() for t in ax.texts if t.get_gid() == "message"] == ["no reports yet"]
    assert ax.get_ylim() == (0, 1) and ax.get_xlim() == (0, 1)


# -- plot=True without a display --------------------------------------------------------


def test_plot_true_on_a_non_interactive_backend_saves_and_logs(tmp_path, caplog):
    import matplotlib.pyplot as plt

    history = cases.hyperband_history(3)
    with caplog.at_level(logging.WARNING, logger="scheduler"):
        first = plot_training_curves(history, plot=True, output_dir=tmp_path)
        second = plot_training_curves(history, plot=True, output_dir=tmp_path)
    plt.close(first)
    plt.close(second)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "training_curves-1.png",
        "training_curves.png",
    ]  # never over an existing file
    assert f"saved to {tmp_path / 'training_curves.png'}" in caplog.text
    assert f"saved to {tmp_path / 'training_curves-1.png'}" in caplog.text
    caplog.clear()
    target = tmp_path / "given.png"
    with caplog.at_level(logging.WARNING, logger="scheduler"):
        plt.close(plot_training_curves(history, plot=True, filename=target))
    assert target.exists() and f"saved to {target}" in caplog.text


def test_scheduler_plot_true_saves_into_its_output_dir(tmp_path, caplog):
    import matplotlib.pyplot as plt

    @sch.args(x=sch.Real(0.0, 1.0))
    def train_fn(args, reporter):
        reporter(epoch=1, accuracy=args.x)

    s = sch.FIFOScheduler(
        train_fn, num_trials=3, backend="thread", progress=False, output_dir=tmp_path / "run"
    )
    s.run()
    s.join_jobs()
    with caplog.at_level(logging.WARNING, logger="scheduler"):
        plt.close(s.get_training_curves(plot=True))
    saved = tmp_path / "run" / os.path.basename(s.run_dir) / "training_curves.png"
    assert saved.exists()  # beside results.csv, in the run's own folder
    assert f"saved to {saved}" in caplog.text
