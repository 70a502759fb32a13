"""The facade layer: what users construct. One class per module.

``FIFOScheduler``, ``HyperbandScheduler`` and ``RLScheduler`` (AutoGluon's names and
defaults) and ``Evaluator`` (DeepHyper's; ``evaluator.py`` also holds its per-method
subclasses) validate their arguments, build a policy, and wire it to the runtime, the
results layer and the durability layer. A facade holds no scheduling logic and runs
no trials itself.

May import every layer below it: durability, results, runtime, policy (``schedulers``,
``searchers``), kernels, and the shared modules at the package root.
"""

from scheduler.facades._autogluon_methods import Task
from scheduler.facades._base import BaseScheduler
from scheduler.facades.evaluator import Evaluator
from scheduler.facades.fifo import FIFOScheduler
from scheduler.facades.hyperband import HyperbandScheduler
from scheduler.facades.rl import RLScheduler

__all__ = [
    "BaseScheduler",
    "Evaluator",
    "FIFOScheduler",
    "HyperbandScheduler",
    "RLScheduler",
    "Task",
]
