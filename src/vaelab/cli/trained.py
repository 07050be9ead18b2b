"""Options shared by the commands that use a trained run (`sample`, `reconstruct`, `encode`, `interpolate`,
`explore`), defined once here, and the model they load."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_trained_options(parser: argparse.ArgumentParser) -> None:
    """RUN, --checkpoint, --beta and --device."""
    parser.add_argument("run_dir", type=Path, metavar="RUN", help="a run directory written by vaelab train")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best",
                        help="best (highest validation ELBO, the default) or last")
    parser.add_argument("--beta", type=float, metavar="B",
                        help="a loss-conditional run (trained with --beta-range) at this beta of its range "
                             "(default: the beta it was validated at, objective.beta)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                        help="auto (default: cuda, else mps, else cpu), cpu, cuda or mps")


def load_trained(args: argparse.Namespace):
    """The `vaelab.TrainedModel` the options name."""
    from vaelab.inference import load

    return load(args.run_dir, args.checkpoint, beta=args.beta, device=args.device)


def subcommand(commands: argparse._SubParsersAction, name: str, help: str, description: str, examples: str
               ) -> argparse.ArgumentParser:
    """A command's parser with the shared options and its worked examples."""
    parser = commands.add_parser(name, help=help, description=description, epilog=examples,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_trained_options(parser)
    return parser
