"""An asynchronous random search written against ``scheduler.Evaluator`` (DeepHyper's API).

The loop DeepHyper's searches run: submit ``num_workers`` configs, then, for each result
``gather("BATCH", size=1)`` returns, submit one new config, so that every worker stays
busy; at the end ``dump_evals`` writes every evaluation to ``results.csv``.

Run: ``python examples/evaluator_search.py`` (writes results.csv in the current folder).
"""

import math
import random

from scheduler.evaluator import Evaluator

MAX_EVALS = 40


def run(config):
    """The objective to maximize: best near x=0.3, y=-0.5. Fails for some configs,
    which a search must survive."""
    x, y = config["x"], config["y"]
    if x > 1.6:
        raise ValueError(f"x={x:.3f} is out of the model's range")
    return -((x - 0.3) ** 2) - (y + 0.5) ** 2 + 0.01 * math.sin(20 * x)


def sample(rng):
    return {"x": rng.uniform(-2.0, 2.0), "y": rng.uniform(-2.0, 2.0)}


if __name__ == "__main__":
    rng = random.Random(0)
    with Evaluator.create(run, method="process", method_kwargs={"num_workers": 2}) as evaluator:
        evaluator.submit([sample(rng) for _ in range(evaluator.num_workers)])
        submitted, done = evaluator.num_workers, []
        while len(done) < MAX_EVALS:
            finished = evaluator.gather("BATCH", size=1)
            done.extend(finished)
            fresh = min(len(finished), MAX_EVALS - submitted)
            evaluator.submit([sample(rng) for _ in range(fresh)])
            submitted += fresh
        evaluator.dump_evals(log_dir=".")
    failed = [job for job in done if job.status == job.FAILED]
    best = max((job for job in done if job.status == job.DONE), key=lambda job: job.result)
    config, objective = best
    print(f"{len(done)} evaluations, {len(failed)} failed; results.csv written")
    print("best config:", {k: round(v, 3) for k, v in config.items()}, "objective:", objective)
