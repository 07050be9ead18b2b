"""The `vaelab` command: a root that only registers one module per command.

A command module imports what does the work (torch, matplotlib, scikit-learn) in the function that
runs the command, not at the top: `vaelab --help`, a command's `--help` and a mistyped flag then
answer in a fraction of a second instead of the seconds those imports take.

Exit codes: 0 success, 2 bad usage or bad input (one line on stderr), 1 anything else (one line on
stderr where something outside vaelab stopped it: a full disk, a dead torchrun process; else a traceback),
128 + the signal's number when a signal stopped training or `vaelab explore`'s server: 130 for Ctrl-C (SIGINT),
143 for SIGTERM.

vaelab's own messages (the "vaelab" logger) are shown from INFO up; other libraries' only from WARNING up,
so that nothing they log at INFO (torch's compile statistics at exit, say) reaches the terminal.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from vaelab.cli import (bnn, demo, encode, evaluate, explain, explore, interpolate, reconstruct, report, runs, sample,
                        sweep, train)
from vaelab.errors import ExternalError, UsageError
from vaelab.files import mount_point, no_space
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
    logging.basicConfig(level=logging.WARNING, format="vaelab: %(message)s", stream=sys.stderr)
    logging.getLogger("vaelab").setLevel(logging.INFO)
    try:
        return args.run(args) or 0
    except UsageError as error:
        print(f"vaelab: error: {error}", file=sys.stderr)
        return 2
    except ExternalError as error:
        print(f"vaelab: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        full = no_space(error)
        if full is None:
            raise
        print(f"vaelab: error: no space left on {mount_point(full.filename or '.')}"
              f"{f' while writing {full.filename}' if full.filename else ''}: free some space and run the command "
              "again", file=sys.stderr)
        return 1
    except Interrupted as interrupt:
        return 128 + interrupt.signum  # the shell's convention for a process ended by a signal
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
