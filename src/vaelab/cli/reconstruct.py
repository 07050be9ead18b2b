"""`vaelab reconstruct`: images of your own through the model, each above its reconstruction, saved as a grid.

Each image is prepared as the run's data was (resized on its shorter side, the centre square kept, the run's
channels) and decoded from its posterior mean, or with --sample from a draw z ~ q(z|x)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaelab.cli.trained import load_trained, subcommand

EXAMPLES = """examples:
  vaelab reconstruct runs/art-b01 photo.jpg sketch.png --out recon.png   # inputs above their reconstructions
  vaelab reconstruct runs/art-b01 ../shared/data/artworks/*.jpg --columns 10 --out all.png
  vaelab reconstruct runs/fm-all-betas shoe.png --beta 3 --out b3.png    # a loss-conditional run at beta 3
  vaelab reconstruct runs/art-b01 photo.jpg --sample --seed 1 --out draw.png   # decode z ~ q(z|x), not the mean
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = subcommand(commands, "reconstruct", "images through the model -> a grid of inputs and reconstructions",
                        __doc__, EXAMPLES)
    parser.add_argument("images", type=Path, nargs="+", metavar="IMG", help="image files (JPEG, PNG, WebP, ...)")
    parser.add_argument("--sample", action="store_true", help="decode a draw z ~ q(z|x) instead of the mean")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws of --sample (default 0)")
    parser.add_argument("--columns", type=int, default=8, help="images per row (default 8)")
    parser.add_argument("--out", type=Path, required=True, help="the grid: a .png file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from vaelab.errors import UsageError
    from vaelab.inference import save_grid

    if args.columns < 1:
        raise UsageError(f"--columns {args.columns} must be at least 1")
    model = load_trained(args)
    inputs = model.prepare(args.images)  # (N, C, H, W)
    outputs = model.reconstruct(inputs, sample=args.sample, generator=torch.Generator().manual_seed(args.seed))
    columns = min(args.columns, len(inputs))
    rows = []  # a row of inputs, the row of their reconstructions below, and so on
    for start in range(0, len(inputs), columns):
        for images in (inputs, outputs):
            row = images[start : start + columns]
            rows.append(torch.cat([row, torch.ones(columns - len(row), *row.shape[1:], device=row.device)]))
    save_grid(torch.cat(rows), args.out, columns=columns)
    kind = "draws z ~ q(z|x)" if args.sample else "posterior means"
    print(f"{args.out}: {len(inputs)} images above their reconstructions ({kind}) by {model.describe()}")
    return 0
