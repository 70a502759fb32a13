"""A tiny training program run as a ``scheduler.Command`` trial.

Logistic regression by gradient descent on a synthetic two-class problem. The
hyperparameters come as ``--lr``, ``--l2`` and ``--epochs`` arguments; each epoch's
validation accuracy goes back with ``scheduler.report``. The weights are saved in the
config's checkpoint folder (``SCHEDULER_CHECKPOINT_DIR``) after every epoch, so a config
that Hyperband paused and then promoted continues where it stopped
(``SCHEDULER_RESUME_FROM``). Runs standalone too: ``python train_numpy.py --lr 0.1``
prints its report lines.
"""

import argparse
import os

import numpy as np

import scheduler

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--l2", type=float, default=1e-3)
parser.add_argument("--epochs", type=int, default=9)
args, _ = parser.parse_known_args()

rng = np.random.default_rng(0)  # the same data in every trial
X = rng.normal(size=(600, 10))
w_true = rng.normal(size=10)
y = (X @ w_true + 0.5 * rng.normal(size=600) > 0).astype(float)
X_train, y_train, X_val, y_val = X[:400], y[:400], X[400:], y[400:]

folder = scheduler.trial.checkpoint_dir()
weights_file = os.path.join(folder, "weights.npy") if folder else None
start = scheduler.trial.resume_from() or 0
if start and weights_file and os.path.exists(weights_file):
    w = np.load(weights_file)
else:
    w, start = np.zeros(10), 0

for epoch in range(start + 1, args.epochs + 1):
    for _ in range(5):  # a few gradient steps per "epoch"
        p = 1 / (1 + np.exp(-(X_train @ w)))
        w -= args.lr * (X_train.T @ (p - y_train) / len(y_train) + args.l2 * w)
    accuracy = float(((X_val @ w > 0) == (y_val > 0.5)).mean())
    if weights_file:
        np.save(weights_file, w)  # before reporting: a pause may follow
    scheduler.report(epoch=epoch, accuracy=accuracy)
