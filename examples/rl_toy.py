"""AutoGluon's RLScheduler example, with ``import scheduler as ag``.

Run: ``python examples/rl_toy.py`` (writes rl_toy_curves.png in the current folder).
"""

import numpy as np

import scheduler as ag


@ag.args(lr=ag.space.Real(1e-3, 1e-2, log=True), wd=ag.space.Real(1e-3, 1e-2))
def train_fn(args, reporter):
    print(f"lr: {args.lr}, wd: {args.wd}")
    for e in range(10):
        dummy_accuracy = 1 - np.power(1.8, -np.random.uniform(e, 2 * e))
        reporter(epoch=e + 1, accuracy=dummy_accuracy, lr=args.lr, wd=args.wd)


if __name__ == "__main__":
    scheduler = ag.RLScheduler(
        train_fn,
        resource={"num_cpus": 2, "num_gpus": 0},
        num_trials=20,
        reward_attr="accuracy",
        time_attr="epoch",
    )
    scheduler.run()
    scheduler.join_jobs()
    scheduler.get_training_curves(filename="rl_toy_curves.png")
    print("best config:", scheduler.get_best_config(), "reward:", scheduler.get_best_reward())
