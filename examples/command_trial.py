"""Programs as trials: ``scheduler.Command`` runs any executable once per task.

1. ``command_scripts/train_numpy.py`` (a tiny numpy training script that reports with
   ``scheduler.report``) under ASHA (HyperbandScheduler, ``type="promotion"``): paused
   configs resume from the weights they saved in their checkpoint folder.
2. ``command_scripts/train.sh`` (a shell script that reports by printing
   ``[scheduler] {...}`` lines) under FIFOScheduler.

Each task's output is in ``command_trial_output/<run>/.../tasks/<task_id>/stdout.log``
and ``stderr.log``. Run: ``python examples/command_trial.py`` (writes
command_trial_curves.png and command_trial_output/ in the current folder).
"""

import os

import scheduler as ag

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "command_scripts")

train_numpy = ag.Command(
    ["python", os.path.join(HERE, "train_numpy.py")],
    lr=ag.space.Real(1e-2, 3.0, log=True),
    l2=ag.space.Real(1e-4, 1e-1, log=True),
    epochs=9,
)
train_sh = ag.Command(
    [os.path.join(HERE, "train.sh")],
    width=ag.space.Int(1, 16),
    depth=ag.space.Int(1, 6),
)

if __name__ == "__main__":
    output = os.path.abspath("command_trial_output")
    asha = ag.HyperbandScheduler(
        train_numpy,
        type="promotion",
        resource={"num_cpus": 1, "num_gpus": 0},
        num_trials=12,
        reward_attr="accuracy",
        time_attr="epoch",
        grace_period=1,
        reduction_factor=3,
        output_dir=os.path.join(output, "numpy"),
    )
    asha.run()
    asha.join_jobs()
    asha.get_training_curves(filename="command_trial_curves.png")
    print("numpy script, best config:", asha.get_best_config(), "reward:", asha.get_best_reward())

    fifo = ag.FIFOScheduler(
        train_sh,
        resource={"num_cpus": 1, "num_gpus": 0},
        num_trials=6,
        reward_attr="accuracy",
        time_attr="epoch",
        output_dir=os.path.join(output, "shell"),
    )
    fifo.run()
    fifo.join_jobs()
    print("shell script, best config:", fifo.get_best_config(), "reward:", fifo.get_best_reward())
    print("task logs under", output)
