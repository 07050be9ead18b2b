"""The `vaelab` command: a root that only registers one module per command.

A command module imports what does the work (torch, matplotlib, scikit-learn) in the function that
runs the command, not at the top: `vaelab --help`, a command's `--help` and a mistyped flag then
answer in a fraction of a second instead of the seconds those imports take.

Exit codes: 0 success, 2 bad usage or bad input (one line on stderr), 1 anything else,
128 + the signal's number when a signal stopped training or `vaelab explore`'s server: 130 for Ctrl-C (SIGINT),
143 for SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from vaelab.cli import (bnn, demo, encode, evaluate, explain, explore, interpolate, reconstruct, report, runs, sample,
                        sweep, train)
from vaelab.errors import UsageError
from vaelab.training.stop import Interrupted
from vaelab.version import __version__

COMMANDS = (train, evaluate, sweep, report, runs, demo, explain, bnn, sample, reconstruct, encode, interpolate, explore)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaelab",
        description="Train VAEs on images and see what the balance between reconstruction and KL does.",
    )
    parser.add_argument("--version", action="version", version=f"vaelab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="vaelab: %(message)s", stream=sys.stderr)
    try:
        return args.run(args) or 0
    except UsageError as error:
        print(f"vaelab: error: {error}", file=sys.stderr)
        return 2
    except Interrupted as interrupt:
        return 128 + interrupt.signum  # the shell's convention for a process ended by a signal
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
