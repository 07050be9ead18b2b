"""`vaelab demo`: the seed's experiment on Fashion-MNIST (VAE beta = 1, VAE beta = 0.1, plain AE), on the
rate-distortion curve of one loss-conditional model."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo", help="the seed's experiment: VAE beta=1 vs beta=0.1 vs plain AE",
        description=__doc__, epilog=("examples:\n  vaelab demo --out demo\n"
                                     "  vaelab demo --quick   # about 8 minutes on 2 CPU cores\n"
                "  vaelab demo --data ../shared/data/artworks --image-size 64 --time 10m --out demo-art"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=Path("demo"), help="where the runs go (default ./demo)")
    parser.add_argument("--quick", action="store_true",
                        help="a small version: 4,000 images, one epoch a run (about 8 minutes on 2 CPU cores)")
    parser.add_argument("--data", default="fashion-mnist", metavar="SPEC",
                        help="the seed's experiment on these images: a folder of your pictures (latent 128, a length "
                             "that fits the data) or a built-in set (default fashion-mnist: latent 16, 4 epochs)")
    parser.add_argument("--image-size", type=int, metavar="N", help="square size the images are resized and cropped "
                        "to (default: 28 for fashion-mnist, 32 for digits, 64 for folders)")
    parser.add_argument("--time", metavar="BUDGET", help="stop each of the four runs after this wall-clock time, "
                        "e.g. 10m (default: none)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.demo import run_demo

    result = run_demo(args.out, quick=args.quick, data=args.data, image_size=args.image_size, time=args.time)
    print(result.table)
    print(f"reconstructions side by side: {result.figure}")
    print(f"the three runs on the rate-distortion curve: {result.curve}")
    print(f"report: {result.report}")
    return 0
