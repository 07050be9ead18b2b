"""`vaelab demo`: the seed's experiment on Fashion-MNIST (VAE beta = 1, VAE beta = 0.1, plain AE), on the
rate-distortion curve of one loss-conditional model."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo", help="the seed's experiment: VAE beta=1 vs beta=0.1 vs plain AE",
        description=__doc__, epilog="example:\n  vaelab demo --out demo\n  vaelab demo --quick   # < 1 minute",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=Path("demo"), help="where the runs go (default ./demo)")
    parser.add_argument("--quick", action="store_true", help="a small version that runs in under a minute")
    parser.add_argument("--data", default="fashion-mnist", help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.demo import run_demo

    result = run_demo(args.out, quick=args.quick, data=args.data)
    print(result.table)
    print(f"reconstructions side by side: {result.figure}")
    print(f"the three runs on the rate-distortion curve: {result.curve}")
    print(f"report: {result.report}")
    return 0
