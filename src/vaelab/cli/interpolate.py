"""`vaelab interpolate`: a walk between two images in the latent space, saved as a row of images.

The codes (1 - t) z_A + t z_B, t = 0, 1/STEPS, ..., 1, between the posterior means of A and B, decoded: the
first picture is A's reconstruction, the last B's."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaelab.cli.trained import load_trained, subcommand

EXAMPLES = """examples:
  vaelab interpolate runs/art-b01 a.jpg b.jpg --steps 10 --out path.png   # 11 pictures, A's reconstruction first
  vaelab interpolate runs/fm-all-betas shoe.png shirt.png --beta 0.03 --out low.png   # at two betas of a
  vaelab interpolate runs/fm-all-betas shoe.png shirt.png --beta 3 --out high.png     # loss-conditional run
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = subcommand(commands, "interpolate", "decodes of a straight line between two images' codes -> a row",
                        __doc__, EXAMPLES)
    parser.add_argument("a", type=Path, metavar="A", help="the image at t = 0")
    parser.add_argument("b", type=Path, metavar="B", help="the image at t = 1")
    parser.add_argument("--steps", type=int, default=10, help="steps between A and B (default 10: 11 pictures)")
    parser.add_argument("--out", type=Path, required=True, help="the row: a .png file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.errors import UsageError
    from vaelab.inference import save_grid

    if args.steps < 1:
        raise UsageError(f"--steps {args.steps} must be at least 1")
    model = load_trained(args)
    path = model.interpolate(args.a, args.b, args.steps)
    save_grid(path, args.out, columns=len(path))
    print(f"{args.out}: {len(path)} decodes from {args.a} to {args.b} by {model.describe()}")
    return 0
