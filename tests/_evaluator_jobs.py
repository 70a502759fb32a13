"""The run functions of ``tests/test_evaluator.py``, in a module of their own that
imports only the standard library (numpy on use): on ``subprocess`` every job is a
fresh interpreter that imports the run function's module, so a light module keeps each
job short.
"""

from __future__ import annotations

import os
import threading
import time


def _numpy_scalar():
    import numpy as np

    return np.float32(0.25)


#: events that let the abandoned thread of a cancelled in-process job finish early
_EVENTS: dict[str, threading.Event] = {}


def run_result(config):
    """Returns (or raises) the result its ``kind`` names."""
    kind = config["kind"]
    if kind == "raise":
        raise ValueError(f"boom in job {config['id']}")
    return {
        "float": 1.5,
        "int": 3,
        "nan": float("nan"),
        "inf": float("inf"),
        "-inf": -float("inf"),
        "true": True,
        "none": None,
        "list": [1, 2.5],
        "tuple": (1, "a"),
        "dict": {"objective": 0.7, "metadata": {"loss": 0.3}},
        "dict_nan": {"objective": float("nan"), "metadata": {"loss": 9.0}},
        "plain_dict": {"a": 1},
        "fail_string": "F_value_error",
        "numpy": _numpy_scalar(),
    }[kind]


def run_counting(config):
    """Sleeps; returns how many jobs it saw running at once (itself included): one
    file per running job in a shared folder."""
    folder = config["folder"]
    mine = os.path.join(folder, str(config["id"]))
    with open(mine, "w"):
        pass
    try:
        seen = len(os.listdir(folder))
        time.sleep(config["sleep"])
        return max(seen, len(os.listdir(folder)))
    finally:
        os.unlink(mine)


def run_sleep(config):
    """Writes its pid and start time to ``pidfile`` (if given), then sleeps ``sleep``
    seconds."""
    if config.get("pidfile"):
        with open(config["pidfile"] + ".tmp", "w") as f:
            f.write(f"{os.getpid()} {time.time()}")
        os.replace(config["pidfile"] + ".tmp", config["pidfile"])
    event = _EVENTS.get(config.get("event", ""))
    if event is not None:
        event.wait(config["sleep"])
    else:
        time.sleep(config["sleep"])
    return config["sleep"]


def run_env(config):
    return {"objective": 1.0, "metadata": {"cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}}


def run_with_kwargs(config, scale=1.0, shift=0.0):
    config["x"] = "changed by the run function"  # must not reach job.config
    return config["id"] * scale + shift
