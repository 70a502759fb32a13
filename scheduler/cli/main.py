"""The ``python -m scheduler`` command: dispatches to its subcommands (``demo``)."""

from __future__ import annotations

import sys

USAGE = "usage: python -m scheduler demo [--help] [options]"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        print(
            "  demo   tune an MLP on scikit-learn's digits with ASHA (needs the [examples] extra)"
        )
        return 0 if argv else 2
    if argv[0] == "demo":
        from scheduler.cli.demo import main as demo_main

        return demo_main(argv[1:])
    print(f"unknown command {argv[0]!r}\n{USAGE}", file=sys.stderr)
    return 2
