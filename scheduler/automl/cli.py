"""``python -m scheduler.automl``: ``train`` runs an AutoML run, ``admin`` talks to one.

::

    python -m scheduler.automl train -m TEMPLATE_DIR [--automlconf FILE] \\
        --set run_id=R [trainconf=config_train.json] workers=0:0 [traceout=console]
    python -m scheduler.automl admin --run-dir TEMPLATE_DIR/automl/R [command ...]

``train`` reads ``TEMPLATE_DIR/config/config_automl.json`` (or ``--automlconf``: a path,
or a file name in ``TEMPLATE_DIR/config/``), fills its ``{placeholders}`` from
``--set``, runs the jobs in ``TEMPLATE_DIR/automl/R/`` and prints the leaderboard.
``workers`` is ``:``-separated workers of ``,``-separated GPU ids (``0:0`` two
workers sharing GPU 0). ``traceout`` sends the engine's trace of job starts and ends to
the console, the run folder's ``trace.txt``, both, or nowhere (default). Exit status
0, 1 when the run failed, 2 on bad arguments, 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from scheduler.automl.context import Context
from scheduler.automl.defs import ContextKey, MMARPropKey, MMARStd
from scheduler.automl.errors import EngineError
from scheduler.automl.events import Handler
from scheduler.automl.handlers.mmar import MMARHandler, format_table
from scheduler.automl.workers import parse_workers

__all__ = ["main"]

USAGE = """usage: python -m scheduler.automl {train,admin} [--help] ...
  train   run AutoML on a template folder (-m DIR --set run_id=R workers=0:0)
  admin   list, suspend, resume or abort workers of a running run, or stop it"""

TRACEOUT = ("none", "console", "file", "both")


class _RunInfo(Handler):
    """The CLI's own handler: the trace file, and where to find the run."""

    def __init__(self, traceout: str) -> None:
        self.traceout = traceout
        self.run_root: str | None = None

    def start_automl(self, ctx: Context) -> None:
        self.run_root = ctx.get_prop(MMARPropKey.RUN_ROOT)
        file = None
        if self.traceout in ("file", "both") and self.run_root:
            file = open(os.path.join(self.run_root, MMARStd.TRACE_FILE), "a", encoding="utf-8")  # noqa: SIM115 - closed by ctx.close_trace()
        if file is not None or self.traceout in ("console", "both"):
            ctx.set_trace(file, console=self.traceout in ("console", "both"))

    def search_space_available(self, ctx: Context) -> None:
        space = ctx.get_prop(ContextKey.SEARCH_SPACE)
        engine = ctx.get_prop(ContextKey.ENGINE)
        where = self.run_root or "(no run folder)"
        print(f"AutoML run folder: {where}", flush=True)
        print(f"search space: {len(space)} parameter(s): {', '.join(space.prls)}", flush=True)
        if engine is not None and engine.admin is not None:
            print(
                f"admin: python -m scheduler.automl admin --run-dir {engine.admin.folder} "
                "list_workers",
                flush=True,
            )


def _sets(pairs: list[str]) -> dict:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes key=value pairs, got {pair!r}")
        values[key] = value
    return values


def _automl_config_path(mmar: str, given: str | None) -> str:
    default = os.path.join(mmar, MMARStd.CONFIG_DIR, MMARStd.AUTOML_CONFIG)
    if given is None:
        return default
    if os.path.isfile(given):
        return os.path.abspath(given)
    in_config = os.path.join(mmar, MMARStd.CONFIG_DIR, given)
    if os.path.isfile(in_config):
        return in_config
    raise ValueError(
        f"--automlconf {given!r}: neither {os.path.abspath(given)} nor {in_config} exists"
    )


def _print_leaderboard(rows: list[dict], run_root: str | None, limit: int = 10) -> None:
    if not rows:
        print("no job finished")
        return
    table = [
        [
            r.get("rank", i),
            r["job_name"],
            r["worker"],
            r["status"],
            f"{r['score']:.6g}",
            ("kept" if r.get("kept") else "deleted") if "kept" in r else "",
        ]
        for i, r in enumerate(rows[:limit], 1)
    ]
    print("leaderboard:")
    print(format_table(["RANK", "JOB", "WORKER", "STATUS", "SCORE", "FOLDER"], table))
    if len(rows) > limit:
        print(f"... {len(rows) - limit} more")
    if run_root:
        print(f"leaderboard: {os.path.join(run_root, MMARStd.LEADERBOARD_FILE)}")
        print(f"stats log: {os.path.join(run_root, MMARStd.AUTOML_STATS_FILE)}")


def train(argv: list[str]) -> int:
    from scheduler.automl.config import load_automl_config
    from scheduler.automl.engine import Engine

    parser = argparse.ArgumentParser(prog="python -m scheduler.automl train")
    parser.add_argument("-m", "--mmar", required=True, help="the template folder (MMAR)")
    parser.add_argument("--automlconf", help="config_automl.json to use (path or name)")
    parser.add_argument(
        "--set", nargs="+", default=[], metavar="KEY=VALUE", help="run_id, trainconf, workers..."
    )
    parser.add_argument("--admin-port", type=int, default=0, help="0: any free port")
    parser.add_argument("--no-admin", action="store_true", help="serve no admin channel")
    parser.add_argument("--max-job-run-time", type=float, help="seconds; longer jobs are aborted")
    parser.add_argument("--max-sys-run-time", type=float, help="seconds; then the run stops")
    parser.add_argument("--job-poll-interval", type=float, help="seconds (default 1)")
    parser.add_argument("--quiet", action="store_true", help="log warnings only")
    options = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if options.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    try:
        mmar = os.path.abspath(options.mmar)
        if not os.path.isdir(mmar):
            raise ValueError(f"-m {options.mmar!r}: no such folder")
        variables = {"trainconf": MMARStd.TRAIN_CONFIG, "traceout": "none", **_sets(options.set)}
        for key in ("run_id", "workers"):
            if not variables.get(key):
                raise ValueError(f"--set {key}=... is required")
        if variables["traceout"] not in TRACEOUT:
            raise ValueError(
                f"traceout must be one of {list(TRACEOUT)}, got {variables['traceout']!r}"
            )
        workers = parse_workers(variables["workers"])
        config = load_automl_config(
            _automl_config_path(mmar, options.automlconf), variables, search_path=[mmar]
        )
        engine_args = dict(config.engine_args)
        for key in ("max_job_run_time", "max_sys_run_time", "job_poll_interval"):
            value = getattr(options, key)
            if value is not None:
                engine_args[key] = value
        engine_args["admin_port"] = None if options.no_admin else options.admin_port
        info = _RunInfo(variables["traceout"])
        engine = Engine(
            workers, config.controller, config.executor, [*config.handlers, info], **engine_args
        )
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ctx = Context()
    ctx.set_prop(MMARPropKey.MMAR_ROOT, mmar)
    ctx.set_prop(MMARPropKey.RUN_ID, variables["run_id"])
    ctx.set_prop(MMARPropKey.TRAIN_CONFIG_FILE, variables["trainconf"])
    status = 0
    try:
        engine.run(ctx)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        status = 130
    finally:
        engine.shutdown(ctx)
        ctx.close_trace()
    print(f"stop reason: {engine.stop_reason}")
    mmar_handler = next((h for h in config.handlers if isinstance(h, MMARHandler)), None)
    if mmar_handler is not None:
        rows = mmar_handler.leaderboard()
    else:
        rows = sorted(engine.jobs(), key=lambda r: -r["score"])
    _print_leaderboard(rows, ctx.get_prop(MMARPropKey.RUN_ROOT))
    return status


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    if argv[0] == "train":
        return train(argv[1:])
    if argv[0] == "admin":
        from scheduler.automl.admin_client import main as admin_main

        return admin_main(argv[1:])
    print(f"unknown command {argv[0]!r}\n{USAGE}", file=sys.stderr)
    return 2
