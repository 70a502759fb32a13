"""Make the README's training-curve images: the demo at 10 and at 500 configs.

    python docs/make_plots.py                  # runs the demo twice (minutes at 500)
    python docs/make_plots.py --replot DIR...  # redraw from demo output folders

Each demo run (``python -m scheduler demo --num-trials N``) writes its
``training_curves.png``; it is copied here as ``docs/training_curves_<N>.png``, reduced
to a 256-colour palette when Pillow is installed (the images stay small).
``--replot`` rebuilds each run's history from its ``results.jsonl`` (a task's status from
its last decision) and draws it again with the current plotting code, without training.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SIZES = (10, 500)


def _history_from_results(folder: Path):
    from scheduler.results.export import read_jsonl
    from scheduler.results.flatten import CONFIG_PREFIX
    from scheduler.results.history import History

    history = History("accuracy", "epoch")
    results = folder / "results.jsonl"
    if not results.exists():  # output_dir/<run id>/, with output_dir/latest pointing at it
        results = folder / "latest" / "results.jsonl"
    rows = read_jsonl(results)
    last = {row["task_id"]: row for row in rows}  # a task's status: its last decision
    started: set[int] = set()
    for row in rows:
        task_id = row["task_id"]
        if task_id not in started:
            started.add(task_id)
            config = {
                k[len(CONFIG_PREFIX) :]: v for k, v in row.items() if k.startswith(CONFIG_PREFIX)
            }
            history.start_task(task_id, row["config_id"], config, start_time=0.0)
        report = {k: v for k, v in row.items() if not k.startswith(CONFIG_PREFIX)}
        history.add_report(task_id, report, decision=row["decision"], replay=row["replay"])
        if last[task_id] is row:
            status = {"pause": "paused", "stop": "stopped"}.get(row["decision"], "completed")
            history.end_task(task_id, status, end_time=1.0)
    return history


def _keep(png: Path, size: int) -> Path:
    target = HERE / f"training_curves_{size}.png"
    try:
        from PIL import Image
    except ImportError:
        shutil.copy(png, target)
        return target
    with Image.open(png) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
            target, optimize=True
        )
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replot", nargs="+", type=Path, help="demo output folders")
    options = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from scheduler.results.plot import plot_training_curves

    if options.replot:
        for folder in options.replot:
            history = _history_from_results(folder)
            png = folder / "training_curves.png"
            plot_training_curves(history, filename=png)
            print(_keep(png, len(history.configs)))
        return 0
    for size in SIZES:
        out = Path(tempfile.mkdtemp(prefix=f"demo-{size}-"))
        command = [sys.executable, "-m", "scheduler", "demo", "--num-trials", str(size)]
        subprocess.run([*command, "--output", str(out), "--no-progress"], check=True, cwd=ROOT)
        print(_keep(out / "training_curves.png", size))
        print(json.dumps({"size": size, "output": str(out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
