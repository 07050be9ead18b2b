"""`vaelab sample`: decodes of codes drawn from the prior, z ~ N(0, I), saved as a grid of images."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaelab.cli.trained import load_trained, subcommand

EXAMPLES = """examples:
  vaelab sample runs/art-b01 --n 64 --out samples.png              # 64 decodes of z ~ N(0, I), 8 to a row
  vaelab sample runs/art-b01 --n 16 --columns 4 --seed 3 --out s.png
  vaelab sample runs/fm-all-betas --beta 0.1 --out b01.png         # a loss-conditional run at beta 0.1
  vaelab sample runs/fm-ae --out ae.png     # the autoencoder: its codes were never pulled towards N(0, I)
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = subcommand(commands, "sample", "decode codes drawn from the prior N(0, I) -> a grid of images",
                        __doc__, EXAMPLES)
    parser.add_argument("--n", type=int, default=64, help="how many images (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the codes drawn (default 0)")
    parser.add_argument("--columns", type=int, default=8, help="images per row (default 8)")
    parser.add_argument("--out", type=Path, required=True, help="the grid: a .png file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from vaelab.errors import UsageError
    from vaelab.inference import save_grid

    if args.n < 1 or args.columns < 1:
        raise UsageError(f"--n {args.n} --columns {args.columns}: both must be at least 1")
    model = load_trained(args)
    images = model.sample(args.n, generator=torch.Generator().manual_seed(args.seed))
    save_grid(images, args.out, columns=args.columns)
    print(f"{args.out}: {args.n} decodes of z ~ N(0, I) (seed {args.seed}) from {model.describe()}")
    return 0
