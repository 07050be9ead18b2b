"""`vaelab train`: train a VAE (or its AE twin) on a folder of images or a built-in dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaelab.config import RECONS, Config, parse_assignment
from vaelab.errors import UsageError
from vaelab.training.run import train

EXAMPLES = """examples:
  vaelab train --data ../shared/data/artworks --image-size 64 --latent-dim 128 --beta 0.1 --out runs/art-b01
  vaelab train --data fashion-mnist --model ae --out runs/fm-ae
  vaelab train --config runs/art-b01/config.yaml --out runs/again     # re-create a run from its config
  vaelab train --out runs/art-b01 --resume                            # continue where it stopped
  vaelab train --data digits --out runs/d --set objective.recon=bernoulli --set training.log_every=5
"""

# flag -> dotted config key; these are shortcuts for --set KEY=VALUE
SHORTCUTS = {
    "data": "data.spec",
    "image_size": "data.image_size",
    "channels": "data.channels",
    "data_root": "data.data_root",
    "val_fraction": "data.val_fraction",
    "limit": "data.limit",
    "model": "model.kind",
    "latent_dim": "model.latent_dim",
    "width": "model.width",
    "recon": "objective.recon",
    "beta": "objective.beta",
    "sigma": "objective.sigma",
    "epochs": "training.epochs",
    "steps": "training.steps",
    "batch_size": "training.batch_size",
    "lr": "training.lr",
    "seed": "training.seed",
    "device": "training.device",
}
RUN_LENGTH = {"epochs", "steps"}


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train", help="train one run", description=__doc__, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, type=Path, help="run directory to create (or to resume)")
    parser.add_argument("--config", type=Path, help="start from this config.yaml (e.g. a previous run's)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from checkpoints/last.pt")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="set any config key, e.g. --set objective.beta=0.1 (repeatable)")
    data = parser.add_argument_group("data")
    data.add_argument("--data", metavar="SPEC", help="a folder of images, fashion-mnist, or digits")
    data.add_argument("--image-size", type=int, help="square size images are resized and cropped to")
    data.add_argument("--channels", type=int, choices=(1, 3), help="1 (grey) or 3 (RGB); default: 3 if any image has colour")
    data.add_argument("--data-root", help="folder holding fashion-mnist's IDX files")
    data.add_argument("--val-fraction", type=float, help="share of images held out for validation (default 0.1)")
    data.add_argument("--limit", type=int, help="use only N images")
    model = parser.add_argument_group("model")
    model.add_argument("--model", choices=("vae", "ae"), help="vae (default) or ae: the same network, deterministic")
    model.add_argument("--latent-dim", type=int, help="latent dimensions (default 32)")
    model.add_argument("--width", type=int, help="channels of the first convolution (default 32)")
    objective = parser.add_argument_group("objective")
    objective.add_argument("--recon", choices=RECONS, help="reconstruction term (default sse: sum of squared errors)")
    objective.add_argument("--beta", type=float, help="weight of the KL term (default 1)")
    objective.add_argument("--sigma", type=float, help="decoder std for --recon gaussian")
    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=int, help="epochs (default 10)")
    training.add_argument("--steps", type=int, help="optimiser steps, instead of --epochs")
    training.add_argument("--batch-size", type=int, help="default 128")
    training.add_argument("--lr", type=float, help="Adam's learning rate (default 1e-3)")
    training.add_argument("--seed", type=int, help="same seed, same numbers on the same machine")
    training.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    parser.set_defaults(run=run)


def config_from_args(args: argparse.Namespace) -> Config:
    """Defaults < --config (or the run's own config.yaml on --resume) < named flags < --set."""
    given = {SHORTCUTS[name]: value for name, value in vars(args).items() if name in SHORTCUTS and value is not None}
    updates = dict(parse_assignment(item) for item in args.set)
    if args.resume:
        changed = sorted({key.split(".")[-1] for key in [*given, *updates]} - RUN_LENGTH)
        if changed:
            raise UsageError(f"--resume continues the saved run; it cannot change {', '.join(changed)}: drop those flags")
        base = Config.load(args.out / "config.yaml") if (args.out / "config.yaml").exists() else None
        if base is None:
            raise UsageError(f"{args.out} holds no run to resume (no config.yaml): start it without --resume")
    elif args.config is not None:
        base = Config.load(args.config)
    else:
        if args.data is None:
            raise UsageError("say what to train on: --data FOLDER, --data fashion-mnist or --data digits")
        base = Config()
    if "training.steps" in given:
        updates.setdefault("training.epochs", None)
    if "training.epochs" in given:
        updates.setdefault("training.steps", None)
    return base.with_updates({**given, **updates})


def run(args: argparse.Namespace) -> int:
    result = train(config_from_args(args), args.out, resume=args.resume)
    metrics = result.metrics
    print(
        f"{result.run_dir}: step {result.steps}, val recon {metrics['recon']:.4g}, KL {metrics['kl']:.4g}, "
        f"ELBO(beta=1) {metrics['elbo']:.4g}, MSE {metrics['mse']:.4g}"
    )
    return 0
