"""The examples of AutoGluon's scheduler documentation (shared/seeds/003_*.txt) run as
written, as top-level scripts (no ``if __name__ == "__main__"`` guard), with
``import scheduler as ag`` and ``ag.X`` for ``ag.scheduler.X``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

TRAIN_FN_EPOCHS = """
import numpy as np
import scheduler as ag
@ag.args(
    lr=ag.space.Real(1e-3, 1e-2, log=True),
    wd=ag.space.Real(1e-3, 1e-2),
    epochs=10)
def train_fn(args, reporter):
    print('lr: {}, wd: {}'.format(args.lr, args.wd))
    for e in range(args.epochs):
        dummy_accuracy = 1 - np.power(1.8, -np.random.uniform(e, 2*e))
        reporter(epoch=e+1, accuracy=dummy_accuracy, lr=args.lr, wd=args.wd)
"""

TRAIN_FN_FIXED = """
import numpy as np
import scheduler as ag
@ag.args(
    lr=ag.space.Real(1e-3, 1e-2, log=True),
    wd=ag.space.Real(1e-3, 1e-2))
def train_fn(args, reporter):
    print('lr: {}, wd: {}'.format(args.lr, args.wd))
    for e in range(10):
        dummy_accuracy = 1 - np.power(1.8, -np.random.uniform(e, 2*e))
        reporter(epoch=e+1, accuracy=dummy_accuracy, lr=args.lr, wd=args.wd)
"""

EXAMPLES = {
    "overview-hyperband-stopping": TRAIN_FN_EPOCHS
    + """
scheduler = ag.HyperbandScheduler(
    train_fn,
    resource={'num_cpus': 2, 'num_gpus': 0},
    num_trials=100,
    reward_attr='accuracy',
    time_attr='epoch',
    grace_period=1,
    reduction_factor=3,
    type='stopping')
scheduler.run()
scheduler.join_jobs()
scheduler.get_training_curves(plot=True)
""",
    "fifo": TRAIN_FN_FIXED
    + """
scheduler = ag.FIFOScheduler(train_fn,
                             resource={'num_cpus': 2, 'num_gpus': 0},
                             num_trials=20,
                             reward_attr='accuracy',
                             time_attr='epoch')
scheduler.run()
scheduler.join_jobs()
scheduler.get_training_curves(plot=True)
""",
    "hyperband": TRAIN_FN_EPOCHS
    + """
scheduler = ag.HyperbandScheduler(
    train_fn,
    resource={'num_cpus': 2, 'num_gpus': 0},
    num_trials=20,
    reward_attr='accuracy',
    time_attr='epoch',
    grace_period=1)
scheduler.run()
scheduler.join_jobs()
scheduler.get_training_curves(plot=True)
""",
    "rl": TRAIN_FN_FIXED
    + """
scheduler = ag.RLScheduler(train_fn,
                           resource={'num_cpus': 2, 'num_gpus': 0},
                           num_trials=20,
                           reward_attr='accuracy',
                           time_attr='epoch')
scheduler.run()
scheduler.join_jobs()
scheduler.get_training_curves(plot=True)
statuses = [r.status for r in scheduler.history.tasks.values()]
assert statuses == ['completed'] * 20, statuses
assert scheduler.policy.num_updates == 20
""",
}

CHECK = """
statuses = [r.status for r in scheduler.history.tasks.values()]
assert 'running' not in statuses and 'failed' not in statuses, statuses
print('BEST', scheduler.get_best_reward(), len(statuses))
"""


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the scheduler of this checkout, not whichever one is installed
ENV = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=ROOT)


def _on_backend(code: str, backend: str) -> str:
    """The example with ``backend=...`` added to its scheduler's arguments."""
    return re.sub(r"(Scheduler\(\s*train_fn,)", rf"\1 backend={backend!r},", code, count=1)


def _cases():
    for name, code in sorted(EXAMPLES.items()):
        yield pytest.param(name, "process", id=name)
        # one fresh interpreter per trial: 100 of them take a while on 2 cores
        slow = [pytest.mark.slow] if "num_trials=100" in code else []
        yield pytest.param(name, "subprocess", marks=slow, id=f"{name}-subprocess")


@pytest.mark.parametrize("name, backend", list(_cases()))
def test_seed_example_runs_as_a_script(name, backend, tmp_path):
    script = tmp_path / f"{name}.py"
    code = textwrap.dedent(EXAMPLES[name])
    if backend != "process":  # (the examples' own default)
        code = _on_backend(code, backend)
        assert f"backend={backend!r}" in code
    script.write_text(code + CHECK)
    env = ENV
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    best = [line for line in done.stdout.splitlines() if line.startswith("BEST")]
    assert best, done.stdout[-2000:]
    _, reward, _n = best[0].split()
    assert 0.0 < float(reward) <= 1.0
    assert "lr: " in done.stdout  # train_fn's prints reach the user


EXAMPLE_SCRIPTS = sorted(
    os.path.join(os.path.dirname(__file__), "..", "examples", name)
    for name in os.listdir(os.path.join(os.path.dirname(__file__), "..", "examples"))
    if name.endswith(".py")
)


#: what a script leaves in its working folder, by name (default: a training-curves figure)
EXAMPLE_OUTPUTS = {"evaluator_search.py": "results.csv"}


@pytest.mark.parametrize("path", EXAMPLE_SCRIPTS, ids=os.path.basename)
def test_examples_folder_scripts_run(path, tmp_path):
    done = subprocess.run(
        [sys.executable, os.path.abspath(path)],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "best config:" in done.stdout
    expected = EXAMPLE_OUTPUTS.get(os.path.basename(path), ".png")
    assert any(p.name.endswith(expected) for p in tmp_path.iterdir())
