"""``python -m scheduler demo``: tune an MLP on scikit-learn's digits with ASHA.

HyperbandScheduler (type 'promotion') over scikit-learn's ``MLPClassifier`` trained one
epoch per ``partial_fit`` call; each trial saves its model into
``reporter.checkpoint_dir`` after every epoch, so a promoted config resumes where it
paused instead of starting over. Two workers on the process backend by default
(``--backend thread`` runs the trials in threads of this process instead).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
from typing import TYPE_CHECKING

import scheduler as sch

if TYPE_CHECKING:
    from scheduler.facades._base import BaseScheduler

MAX_EPOCHS = 27


def _load_digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_val), y_train, y_val


def _save_atomically(obj: object, path: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        pickle.dump(obj, f)
    os.replace(tmp, path)


@sch.args(
    learning_rate_init=sch.space.Real(1e-4, 3e-1, log=True),
    alpha=sch.space.Real(1e-6, 1e-1, log=True),
    hidden_size=sch.space.Categorical(16, 32, 64, 128),
    batch_size=sch.space.Categorical(16, 32, 64, 128, 256),
    epochs=MAX_EPOCHS,
)
def train_mlp(args, reporter):
    """One trial: train an MLPClassifier epoch by epoch, report validation accuracy."""
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    X_train, X_val, y_train, y_val = _load_digits()
    path = os.path.join(reporter.checkpoint_dir, "model.pkl")
    if args.scheduler.resume_from is not None and os.path.exists(path):
        with open(path, "rb") as f:
            model, done = pickle.load(f)
    else:
        model = MLPClassifier(
            hidden_layer_sizes=(args.hidden_size,),
            learning_rate_init=args.learning_rate_init,
            alpha=args.alpha,
            batch_size=args.batch_size,
            random_state=args.config_id,
        )
        done = 0
    classes = np.unique(y_train)
    for epoch in range(done + 1, args.epochs + 1):
        model.partial_fit(X_train, y_train, classes=classes)
        accuracy = float(model.score(X_val, y_val))
        _save_atomically((model, epoch), path)
        reporter(epoch=epoch, accuracy=accuracy)


def summary(s: BaseScheduler) -> list[str]:
    """The demo's report of the best config, with the ids the plot's title uses:
    ``config #<id> (task <id>)``, the task being the one that reported the value."""
    best = s.get_best_config()
    if best is None:
        return ["no config reported a valid accuracy"]
    config_id = s.history.best_config_id()
    return [
        f"best validation accuracy: {s.get_best_reward():.4f}, "
        f"config #{config_id} (task {s.get_best_task_id()})",
        "best config: "
        + ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(best.items())
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scheduler demo",
        description="Tune scikit-learn's MLPClassifier on the digits data set with ASHA.",
    )
    parser.add_argument("--output", default="scheduler-demo", help="output folder")
    parser.add_argument("--num-trials", type=int, default=120, help="configs to try")
    parser.add_argument("--workers", type=int, default=2, help="trials run at once")
    parser.add_argument("--seed", type=int, default=0, help="searcher seed")
    parser.add_argument(
        "--backend",
        choices=("process", "thread"),
        default="process",
        help="run trials in worker processes (default) or in threads of this process",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    options = parser.parse_args(argv)
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print(
            "the demo needs scikit-learn: pip install -e '.[examples]'  "
            "(or pip install 'scheduler[examples]')",
            file=sys.stderr,
        )
        return 2
    output = os.path.abspath(options.output)
    os.makedirs(output, exist_ok=True)
    print(
        f"tuning MLPClassifier on digits: {options.num_trials} configs, max {MAX_EPOCHS} epochs, "
        f"{options.workers} workers ({options.backend} backend); output in {output}"
    )
    s = sch.HyperbandScheduler(
        train_mlp,
        resource={"num_cpus": 1, "num_gpus": 0},
        total_resources={"num_cpus": options.workers, "num_gpus": 0},
        num_trials=options.num_trials,
        reward_attr="accuracy",
        time_attr="epoch",
        grace_period=1,
        reduction_factor=3,
        type="promotion",
        search_options={"random_seed": options.seed},
        backend=options.backend,
        output_dir=output,
        progress=not options.no_progress,
    )
    t0 = time.monotonic()
    s.run()
    s.join_jobs()
    elapsed = time.monotonic() - t0
    png = os.path.join(output, "training_curves.png")
    s.get_training_curves(filename=png)
    counts = s.history.status_counts()
    print(
        f"done in {elapsed:.1f} s: {len(s.history.tasks)} tasks, "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v)
    )
    for line in summary(s):
        print(line)
    print(f"training curves: {png}")
    print(f"results: {os.path.join(s.run_dir, 'results.csv')}")
    return 0
