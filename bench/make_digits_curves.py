"""Generate ``scheduler/benchmarks/data/digits_curves.npz``: real learning curves.

scikit-learn's ``MLPClassifier`` (one hidden layer, ReLU, Adam) trained on the digits
data set (1,797 8x8 images, shipped with scikit-learn: no download) for ``EPOCHS``
epochs, one ``partial_fit`` pass over the training split per epoch, for every config
of a grid:

* ``hidden``: 16, 32, 64, 128 units;
* ``learning_rate_init``: 1e-4 to 1e-1 in half decades (7 values);
* ``alpha`` (L2 penalty): 1e-6, 1e-4, 1e-2, 1;
* ``batch_size``: 16, 64, 256.

After each epoch the validation error (1 - accuracy on a fixed held-out 40%) and the
CPU seconds the epoch took (``time.thread_time``, single-threaded BLAS, so a busy
machine changes them little) are recorded. Everything is seeded (split and weights,
``random_state=0``), so the errors are reproducible on one machine; the seconds are
measurements. The file holds the grid axes and two float32 arrays of shape
(configs, EPOCHS), configs in ``itertools.product`` order of the axes above; it is
read by :class:`scheduler.benchmarks.DigitsCurves`.

Run: ``python bench/make_digits_curves.py`` (several minutes on one core), or
``--smoke`` (2 configs, 3 epochs, written to a temporary file, for CI).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
import warnings

import numpy as np

EPOCHS = 50
HIDDEN = (16, 32, 64, 128)
LEARNING_RATES = tuple(float(f"{10.0 ** (k / 2):.3g}") for k in range(-8, -1))
ALPHAS = (1e-6, 1e-4, 1e-2, 1.0)
BATCH_SIZES = (16, 64, 256)
OUTPUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "scheduler",
    "benchmarks",
    "data",
    "digits_curves.npz",
)


def curves(hidden, lr, alpha, batch_size, epochs, data):
    from sklearn.neural_network import MLPClassifier

    X_train, X_val, y_train, y_val, classes = data
    model = MLPClassifier(
        hidden_layer_sizes=(hidden,),
        learning_rate_init=lr,
        alpha=alpha,
        batch_size=batch_size,
        random_state=0,
    )
    errors, seconds = [], []
    for _ in range(epochs):
        start = time.thread_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.partial_fit(X_train, y_train, classes=classes)
        seconds.append(time.thread_time() - start)
        errors.append(1.0 - float(model.score(X_val, y_val)))
    return errors, seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="2 configs, 3 epochs, temp file")
    args = parser.parse_args(argv)
    try:
        import sklearn  # noqa: F401
    except ImportError:
        message = 'make_digits_curves needs scikit-learn: pip install "scheduler[examples]"'
        if args.smoke:  # CI installs the [test] extra only: say so, do not fail
            print(f"{message} (not installed: smoke run skipped)")
            return 0
        raise ImportError(message) from None
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=0.4, random_state=0, stratify=y
    )
    data = (X_train, X_val, y_train, y_val, np.unique(y))
    grid = list(itertools.product(HIDDEN, LEARNING_RATES, ALPHAS, BATCH_SIZES))
    epochs = EPOCHS
    output = OUTPUT
    if args.smoke:
        grid, epochs = grid[:2], 3
        output = os.path.join(tempfile.mkdtemp(prefix="digits-"), "digits_curves.npz")
    errors = np.zeros((len(grid), epochs), dtype=np.float32)
    seconds = np.zeros((len(grid), epochs), dtype=np.float32)
    start = time.perf_counter()
    with threadpool_limits(limits=1):
        for i, (hidden, lr, alpha, batch_size) in enumerate(grid):
            e, s = curves(hidden, lr, alpha, batch_size, epochs, data)
            errors[i], seconds[i] = e, s
            if i % 20 == 0:
                print(
                    f"{i + 1}/{len(grid)} configs, {time.perf_counter() - start:.0f} s",
                    file=sys.stderr,
                )
    os.makedirs(os.path.dirname(output), exist_ok=True)
    tmp = output + ".tmp.npz"
    np.savez_compressed(
        tmp,
        hidden=np.array(HIDDEN, dtype=np.int64),
        learning_rate_init=np.array(LEARNING_RATES),
        alpha=np.array(ALPHAS),
        batch_size=np.array(BATCH_SIZES, dtype=np.int64),
        val_error=errors,
        seconds=seconds,
    )
    os.replace(tmp, output)
    best = float(errors[:, -1].min())
    print(
        f"wrote {output}: {len(grid)} configs x {epochs} epochs, "
        f"{os.path.getsize(output):,} bytes, best final error {best:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
