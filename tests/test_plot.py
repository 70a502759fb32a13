"""plot_training_curves: lines per task, status markers, legends, saving, edge cases."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")  # never a window in tests

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from scheduler.results import _plot_output
from scheduler.results.history import History
from scheduler.results.plot import MAX_HIGHLIGHTED, plot_training_curves

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def task(h, task_id, config_id, epochs, status, *, resume_from=None, replay_to=0, nan_at=None):
    """One task reporting ``acc`` at ``epochs`` (replays first, up to ``replay_to``)."""
    config = {"lr": 0.01 * (config_id + 1)}
    h.start_task(task_id, config_id, config, resume_from=resume_from, start_time=0.0)
    for e in list(range(1, replay_to + 1)) + list(epochs):
        acc = math.nan if e == nan_at else 0.1 * config_id + 0.02 * e
        h.add_report(task_id, {"epoch": e, "acc": acc}, decision="continue")
    if status != "running":
        h.end_task(task_id, status, end_time=1.0)


def mixed_history() -> History:
    """Six configs, nine tasks: promotions (with a replay), every status."""
    h = History("acc", "epoch")
    task(h, 0, 0, [1], "paused")
    task(h, 1, 0, [2, 3], "paused", resume_from=1)
    task(h, 2, 0, [4, 5, 6, 7, 8, 9], "completed", resume_from=3, replay_to=3)
    task(h, 3, 1, [1], "paused")
    task(h, 4, 1, [2, 3], "stopped", resume_from=1)
    task(h, 5, 2, [1, 2], "diverged", nan_at=2)
    task(h, 6, 3, [], "failed")
    task(h, 7, 4, [1, 2], "failed")
    task(h, 8, 5, [1, 2, 3], "running")
    return h


def task_lines(fig):
    return {line.get_gid(): line for line in fig.axes[0].lines if line.get_gid()}


def end_markers(fig):
    """Status -> marker offsets, over the best/end/faint layers."""
    merged = {}
    for c in fig.axes[0].collections:
        layer, _, status = (c.get_gid() or "").partition("-")
        if layer in ("best", "end", "faint"):
            merged.setdefault(status, []).extend(map(tuple, c.get_offsets()))
    return {status: np.array(points) for status, points in merged.items()}


def legend_texts(fig):
    legends = list(fig.legends) + fig.axes[0].findobj(matplotlib.legend.Legend)
    return [[t.get_text() for t in legend.get_texts()] for legend in legends]


def test_returns_a_figure_with_one_line_per_task():
    h = mixed_history()
    fig = plot_training_curves(h)
    assert isinstance(fig, Figure)
    lines = task_lines(fig)
    assert sorted(lines) == sorted(f"task-{i}" for i in h.tasks)
    assert len(fig.axes[0].lines) == len(h.tasks)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "epoch"
    assert ax.get_ylabel() == "acc (higher is better)"
    assert "6 configs, 9 tasks" in ax.get_title()
    assert "best: config #5" in ax.get_title()


def test_a_config_reads_as_one_connected_curve():
    fig = plot_training_curves(mixed_history())
    lines = task_lines(fig)
    _x0, y0 = lines["task-0"].get_data()
    x1, y1 = lines["task-1"].get_data()
    x2, y2 = lines["task-2"].get_data()
    # each promoted task's line starts where the config's previous task ended
    assert list(x1) == [1, 2, 3] and y1[0] == y0[-1]
    assert list(x2) == [3, 4, 5, 6, 7, 8, 9] and y2[0] == y1[-1]
    # same colour for every task of a config, another colour for another config
    assert lines["task-0"].get_color() == lines["task-2"].get_color()
    assert lines["task-0"].get_color() != lines["task-3"].get_color()
    # the best config's lines are drawn thicker
    assert lines["task-8"].get_linewidth() > lines["task-0"].get_linewidth()


def test_replay_rows_are_dashed_and_faint():
    fig = plot_training_curves(mixed_history())
    [replay] = [c for c in fig.axes[0].collections if c.get_gid() == "replay"]
    assert isinstance(replay, LineCollection)
    [segment] = replay.get_segments()
    assert list(segment[:, 0]) == [1, 2, 3]
    assert replay.get_alpha() < 1
    assert replay.get_linestyle()[0][1] is not None  # dashed, not solid
    # replay rows are not on the task's own line
    assert next(iter(task_lines(fig)["task-2"].get_xdata())) == 3


def test_end_markers_per_status():
    fig = plot_training_curves(mixed_history())
    markers = end_markers(fig)
    assert set(markers) == {"completed", "stopped", "paused", "diverged", "failed", "running"}
    assert len(markers["paused"]) == 3
    assert len(markers["completed"]) == 1 and list(markers["completed"][0]) == [9, 0.18]
    assert len(markers["stopped"]) == 1
    # diverged: at the epoch of the NaN report, at the last finite reward
    assert list(markers["diverged"][0]) == pytest.approx([2, 0.22])
    # failed: task 6 never reported (no marker), task 7 did
    assert len(markers["failed"]) == 1
    # distinct shapes for distinct statuses
    paths = {
        status: c.get_paths()[0].vertices.tobytes()
        for c in fig.axes[0].collections
        if (status := (c.get_gid() or "").partition("-")[2]) in markers
    }
    assert len(set(paths.values())) == len(paths)
    texts = [t for group in legend_texts(fig) for t in group]
    for label in ("completed", "stopped", "paused", "failed", "diverged (NaN)", "running"):
        assert label in texts
    assert "replayed reports" in texts


def test_config_legend_lists_the_highlighted_configs_then_the_rest():
    h = History("acc", "epoch")
    n = MAX_HIGHLIGHTED + 5
    for i in range(n):
        task(h, i, i, [1, 2], "stopped")
    fig = plot_training_curves(h)
    config_legend = fig.legends[0]
    texts = [t.get_text() for t in config_legend.get_texts()]
    assert len(texts) == MAX_HIGHLIGHTED + 1
    assert texts[-1] == "5 other configs"
    assert texts[0].startswith(f"#{n - 1} (task {n - 1}) ")  # best first
    assert len(task_lines(fig)) == n


def test_use_legend_false_keeps_only_the_marker_legend():
    fig = plot_training_curves(mixed_history(), use_legend=False)
    assert fig.legends == []
    legend = fig.axes[0].get_legend()
    assert legend is not None and legend.get_title().get_text() == "task ended"


def test_saves_a_png_atomically(tmp_path):
    target = tmp_path / "a" / "b" / "curves.png"
    fig = plot_training_curves(mixed_history(), filename=target, title="my run")
    assert fig.axes[0].get_title() == "my run"
    assert target.read_bytes()[:8] == PNG_MAGIC
    assert os.listdir(target.parent) == ["curves.png"]  # no temp file left behind
    assert (target.stat().st_mode & 0o777) == 0o644
    # overwrite; a file name without an extension is a PNG too
    plot_training_curves(History("acc", "epoch"), filename=str(target))
    assert target.read_bytes()[:8] == PNG_MAGIC
    plot_training_curves(History("acc", "epoch"), filename=tmp_path / "noext")
    assert (tmp_path / "noext").read_bytes()[:8] == PNG_MAGIC
    plot_training_curves(History("acc", "epoch"), filename=tmp_path / "c.svg")
    assert b"<svg" in (tmp_path / "c.svg").read_bytes()[:500]


def test_a_failed_save_leaves_no_temp_file(tmp_path):
    with pytest.raises(ValueError):
        plot_training_curves(mixed_history(), filename=tmp_path / "curves.notaformat")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("use_legend", [True, False])
def test_empty_history(tmp_path, use_legend):
    h = History("loss", "epoch", mode="min")
    fig = plot_training_curves(h, use_legend=use_legend, filename=tmp_path / "empty.png")
    ax = fig.axes[0]
    assert len(ax.lines) == 0
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss (lower is better)"
    assert "0 configs" in ax.get_title()
    assert any(t.get_text() == "no reports yet" for t in ax.texts)
    assert (tmp_path / "empty.png").read_bytes()[:8] == PNG_MAGIC


def test_started_tasks_without_reports():
    h = History("acc", "epoch")
    h.start_task(0, 0, {}, start_time=0.0)
    h.start_task(1, 1, {}, start_time=0.0)
    h.end_task(1, "failed", reason="import error", end_time=0.1)
    fig = plot_training_curves(h)
    assert len(task_lines(fig)) == 2
    assert end_markers(fig) == {}


def test_without_time_attr_x_is_the_report_number():
    h = History("acc", None)
    for task_id in range(2):
        h.start_task(task_id, task_id, {"units": 16 * (task_id + 1)}, start_time=0.0)
        for acc in (0.1, 0.3, 0.2):
            h.add_report(task_id, {"acc": acc + task_id}, decision="continue")
        h.end_task(task_id, "completed", end_time=1.0)
    h.start_task(2, 0, {"units": 16}, start_time=2.0)  # a second task of config 0
    h.add_report(2, {"acc": 0.4}, decision="complete")
    h.end_task(2, "completed", end_time=3.0)
    fig = plot_training_curves(h)
    lines = task_lines(fig)
    assert list(lines["task-0"].get_xdata()) == [1, 2, 3]
    assert list(lines["task-2"].get_xdata()) == [3, 4]
    assert fig.axes[0].get_xlabel() == "report number"


def test_mode_min_and_numpy_values():
    h = History("loss", "epoch", mode="min")
    h.start_task(0, 0, {"lr": np.float64(0.1)}, start_time=0.0)
    h.add_report(0, {"epoch": np.int64(1), "loss": np.float32(0.5)}, decision="continue")
    h.end_task(0, "stopped", end_time=1.0)
    fig = plot_training_curves(h)
    assert fig.axes[0].get_ylabel() == "loss (lower is better)"
    assert "#0 (task 0)  0.5 @1\n  lr=0.1" in legend_texts(fig)[0]


def test_plot_false_touches_no_pyplot_state():
    before = plt.get_fignums()
    plot_training_curves(mixed_history())
    assert plt.get_fignums() == before


def test_plot_true_shows_the_figure(monkeypatch):
    shown = []
    monkeypatch.setattr(_plot_output, "interactive_backend", lambda: True)
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(plt.get_fignums()))
    fig = plot_training_curves(mixed_history(), plot=True)
    try:
        assert len(shown) == 1 and fig.number in shown[0]
    finally:
        plt.close(fig)


def test_plot_true_without_a_display_selects_agg_silently(tmp_path):
    """A headless machine: Agg is chosen before pyplot loads, show() warns nothing."""
    script = (
        "import warnings; warnings.simplefilter('error')\n"
        "from scheduler.results.history import History\n"
        "from scheduler.results.plot import plot_training_curves\n"
        "plot_training_curves(History('acc', 'epoch'), plot=True)\n"
        "import matplotlib; print(matplotlib.get_backend())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("MPLBACKEND", None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().lower() == "agg"
    # nothing to show it on: saved, and the log says where
    assert (tmp_path / "training_curves.png").read_bytes()[:8] == PNG_MAGIC
    assert f"saved to {tmp_path / 'training_curves.png'}" in done.stderr
