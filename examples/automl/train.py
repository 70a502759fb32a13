"""A small training program for the AutoML example: an MLP on two spirals, in numpy.

Run by ``commands/automl_train_round.sh`` in each job folder, like Clara's
``nvmidl.apps.train``: it reads the job's ``config/config_train.json`` (the template's
config with one recommendation applied), trains, validates after every epoch, and
writes ``models/model.npz`` (the best weights) and ``train_stats.json`` with
``best_validation_metric`` (the best validation accuracy), which the executor reads
as the job's score. Each epoch it also prints a report line,
``[scheduler] {"epoch": k, "val_acc": a, "best_validation_metric": b}``, on which a
Hyperband controller can stop or pause the job early. CPU only, well under a second.

With ``SCHEDULER_CHECKPOINT_DIR`` set it saves a checkpoint there after every epoch,
and with ``SCHEDULER_RESUME_FROM=k`` it resumes from the checkpoint of epoch k
(promotion-type Hyperband).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

import numpy as np

_REF = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def resolve(node, variables):
    """Replace ``"{name}"`` strings by the top-level variable ``name``."""
    if isinstance(node, dict):
        return {k: resolve(v, variables) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, variables) for v in node]
    if isinstance(node, str):
        match = _REF.match(node)
        if match and match.group(1) in variables:
            return variables[match.group(1)]
    return node


def active(components):
    """The components that are not disabled (a single component or a list)."""
    if isinstance(components, dict):
        components = [components]
    return [c for c in components if not c.get("disabled", False)]


def base_name(component):
    return component["name"].split("#")[0]


def two_spirals(num_samples, noise, seed):
    rng = np.random.default_rng(seed)
    n = num_samples // 2
    t = np.sqrt(rng.uniform(0.0, 1.0, n)) * 2.0 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (2.0 * np.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(0.0, noise, (2 * n, 2))
    y = np.concatenate([np.zeros(n, dtype=int), np.ones(n, dtype=int)])
    order = rng.permutation(2 * n)
    return x[order], y[order]


class MLP:
    def __init__(self, hidden, activation, rng):
        if activation not in ("tanh", "relu"):
            raise ValueError(f"MLP activation must be 'tanh' or 'relu', got {activation!r}")
        self.activation = activation
        self.params = {
            "w1": rng.normal(0.0, 1.0 / np.sqrt(2), (2, hidden)),
            "b1": np.zeros(hidden),
            "w2": rng.normal(0.0, 1.0 / np.sqrt(hidden), (hidden, 2)),
            "b2": np.zeros(2),
        }

    def forward(self, x):
        p = self.params
        z = x @ p["w1"] + p["b1"]
        h = np.tanh(z) if self.activation == "tanh" else np.maximum(z, 0.0)
        return z, h, h @ p["w2"] + p["b2"]

    def grads(self, x, target):
        """Gradients of the cross-entropy against the target distribution ``target``."""
        z, h, logits = self.forward(x)
        logits = logits - logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=1, keepdims=True)
        loss = -np.mean(np.sum(target * np.log(prob + 1e-12), axis=1))
        d_logits = (prob - target) / len(x)
        p = self.params
        dh = d_logits @ p["w2"].T
        dz = dh * (1.0 - h**2) if self.activation == "tanh" else dh * (z > 0)
        return loss, {
            "w1": x.T @ dz,
            "b1": dz.sum(axis=0),
            "w2": h.T @ d_logits,
            "b2": d_logits.sum(axis=0),
        }

    def accuracy(self, x, y):
        return float(np.mean(np.argmax(self.forward(x)[2], axis=1) == y))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--mmar", default=".", help="the job folder")
    parser.add_argument("-c", "--config", default="config/config_train.json")
    parser.add_argument("--write_train_stats", action="store_true", help="(always written)")
    options = parser.parse_args(argv)
    root = os.path.abspath(options.mmar)
    with open(os.path.join(root, options.config), encoding="utf-8") as f:
        raw = json.load(f)
    variables = {k: v for k, v in raw.items() if not isinstance(v, (dict, list))}
    config = resolve(raw, variables)
    train = config["train"]
    start = time.monotonic()

    data = active(train["data"])[0]["args"]
    x, y = two_spirals(int(data["num_samples"]), float(data["noise"]), int(data["seed"]))
    split = int(0.8 * len(x))
    x_train, y_train, x_val, y_val = x[:split], y[:split], x[split:], y[split:]

    model_args = active(train["model"])[0]["args"]
    rng = np.random.default_rng(1)
    model = MLP(int(model_args["hidden"]), model_args["activation"], rng)
    losses = active(train["loss"])
    if len(losses) != 1:
        print(f"error: exactly one loss must be enabled, got {len(losses)}", file=sys.stderr)
        return 2
    smoothing = float(losses[0]["args"].get("smoothing", 0.0))
    if base_name(losses[0]) == "CrossEntropy":
        smoothing = 0.0
    opt = active(train["optimizer"])[0]["args"]
    lr, momentum = float(opt["lr"]), float(opt["momentum"])
    noise = np.zeros(2)
    for transform in active(train.get("pre_transforms", [])):
        if base_name(transform) == "GaussianNoise":
            noise[int(transform["args"]["feature"])] = float(transform["args"]["std"])
    epochs = int(config["epochs"])
    batch = int(config["batch_size"])

    velocity = {k: np.zeros_like(v) for k, v in model.params.items()}
    first_epoch, best, best_epoch = 1, 0.0, 0
    best_params = {k: v.copy() for k, v in model.params.items()}
    checkpoint_dir = os.environ.get("SCHEDULER_CHECKPOINT_DIR")
    checkpoint = os.path.join(checkpoint_dir, "ckpt.npz") if checkpoint_dir else None
    resume_from = os.environ.get("SCHEDULER_RESUME_FROM")
    if resume_from and checkpoint and os.path.exists(checkpoint):
        saved = np.load(checkpoint)
        model.params = {k: saved[k] for k in model.params}
        velocity = {k: saved["v_" + k] for k in model.params}
        first_epoch = int(saved["epoch"]) + 1
        best, best_epoch = float(saved["best"]), int(saved["best_epoch"])
        best_params = {k: saved["best_" + k] for k in model.params}
        print(f"resumed from epoch {first_epoch - 1}")

    noise_rng = np.random.default_rng(2)
    with np.errstate(all="ignore"):
        for epoch in range(first_epoch, epochs + 1):
            order = noise_rng.permutation(len(x_train))
            for i in range(0, len(order), batch):
                idx = order[i : i + batch]
                xb = x_train[idx] + noise_rng.normal(0.0, 1.0, (len(idx), 2)) * noise
                target = np.full((len(idx), 2), smoothing / 2)
                target[np.arange(len(idx)), y_train[idx]] += 1.0 - smoothing
                loss, grads = model.grads(xb, target)
                for k, g in grads.items():
                    velocity[k] = momentum * velocity[k] - lr * np.clip(g, -10, 10)
                    model.params[k] = model.params[k] + velocity[k]
            acc = model.accuracy(x_val, y_val)
            if acc > best:
                best, best_epoch = acc, epoch
                best_params = {k: v.copy() for k, v in model.params.items()}
            print(f"epoch {epoch}/{epochs} loss {loss:.4f} val_acc {acc:.4f}")
            report = {"epoch": epoch, "val_acc": acc, "best_validation_metric": best}
            print("[scheduler] " + json.dumps(report), flush=True)
            if checkpoint:
                np.savez(
                    checkpoint,
                    epoch=epoch,
                    best=best,
                    best_epoch=best_epoch,
                    **model.params,
                    **{"v_" + k: v for k, v in velocity.items()},
                    **{"best_" + k: v for k, v in best_params.items()},
                )

    os.makedirs(os.path.join(root, "models"), exist_ok=True)
    np.savez(os.path.join(root, "models", "model.npz"), **best_params)
    stats = {
        "best_validation_metric": best,
        "best_epoch": best_epoch,
        "epochs": epochs,
        "total_time": time.monotonic() - start,
        "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
    tmp = os.path.join(root, "train_stats.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(stats, f, indent=2)
    os.replace(tmp, os.path.join(root, "train_stats.json"))
    print(f"best validation accuracy {best:.4f} at epoch {best_epoch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
