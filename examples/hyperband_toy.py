"""AutoGluon's HyperbandScheduler examples, with ``import scheduler as ag``.

Run: ``python examples/hyperband_toy.py [stopping|promotion]``.
"""

import sys

import numpy as np

import scheduler as ag


@ag.args(lr=ag.space.Real(1e-3, 1e-2, log=True), wd=ag.space.Real(1e-3, 1e-2), epochs=10)
def train_fn(args, reporter):
    print(f"lr: {args.lr}, wd: {args.wd}")
    for e in range(args.epochs):
        dummy_accuracy = 1 - np.power(1.8, -np.random.uniform(e, 2 * e))
        reporter(epoch=e + 1, accuracy=dummy_accuracy, lr=args.lr, wd=args.wd)


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "stopping"
    scheduler = ag.HyperbandScheduler(
        train_fn,
        resource={"num_cpus": 2, "num_gpus": 0},
        num_trials=100,
        reward_attr="accuracy",
        time_attr="epoch",
        grace_period=1,
        reduction_factor=3,
        type=kind,
    )
    scheduler.run()
    scheduler.join_jobs()
    scheduler.get_training_curves(filename=f"hyperband_{kind}_curves.png")
    print("best config:", scheduler.get_best_config(), "reward:", scheduler.get_best_reward())
