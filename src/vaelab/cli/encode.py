"""`vaelab encode`: the posterior of every image of a data source, saved as latents.npz.

latents.npz holds `mean` and `logvar` (N, Z) (the autoencoder: `mean`, its codes), `names`, `labels` and
`classes` where the source has them, `beta` and `source`; read it with numpy.load. Images are resized and
cropped to the network's input as the run's own were."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaelab.cli.trained import load_trained, subcommand

EXAMPLES = """examples:
  vaelab encode runs/art-b01 --data ../shared/data/artworks --out art.npz
  vaelab encode runs/fm --data fashion-mnist --out fm.npz             # all 70,000 images, with their labels
  vaelab encode runs/fm-all-betas --data fashion-mnist --beta 0.1 --out fm-b01.npz
  python -c "import numpy; z = numpy.load('art.npz'); print(z['mean'].shape, z['names'][:3])"
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = subcommand(commands, "encode", "the posterior of every image of a source -> latents.npz", __doc__,
                        EXAMPLES)
    parser.add_argument("--data", metavar="SPEC", required=True,
                        help="a folder of images, fashion-mnist, digits, or a Hugging Face dataset")
    parser.add_argument("--out", type=Path, required=True, help="a .npz file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.inference.latents import encode_source

    model = load_trained(args)
    latents = encode_source(model, args.data)
    latents.save(args.out)
    keys = "mean, logvar" if latents.logvar is not None else "mean (the autoencoder's codes)"
    labels = ", labels" if latents.labels is not None else ""
    print(f"{args.out}: {keys} {latents.mean.shape}, names{labels} of {latents.source}, by {model.describe()}")
    return 0
