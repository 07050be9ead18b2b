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

weighing the KL term (one of free bits, capacity, GECO; see docs/kl-weighting.md and `vaelab explain`):
  vaelab train --data ../shared/data/artworks --recon sigma-learned --out runs/art-sl     # learn the decoder's sigma
  vaelab train --data ../shared/data/artworks --recon sigma-optimal --sigma-per-channel --out runs/art-so
  vaelab train --data ../shared/data/artworks --beta-schedule cyclical:4:0.5 --out runs/art-cyc   # 4 warm-ups
  vaelab train --data ../shared/data/artworks --beta-schedule linear:5000 --beta 0.1 --out runs/art-warm
  vaelab train --data ../shared/data/artworks --free-bits 0.25 --out runs/art-fb        # 0.25 nats per latent dim
  vaelab train --data ../shared/data/artworks --capacity 25 --capacity-steps 20000 --out runs/art-cap
  vaelab train --data ../shared/data/artworks --geco-target 0.01 --out runs/art-geco    # keep the MSE at 0.01
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
    "sigma_per_channel": "objective.sigma_per_channel",
    "beta_schedule": "objective.beta_schedule",
    "beta_start": "objective.beta_start",
    "free_bits": "objective.free_bits",
    "free_bits_mode": "objective.free_bits_mode",
    "capacity": "objective.capacity",
    "capacity_steps": "objective.capacity_steps",
    "capacity_gamma": "objective.capacity_gamma",
    "geco_target": "objective.geco_target",
    "geco_units": "objective.geco_units",
    "geco_lr": "objective.geco_lr",
    "epochs": "training.epochs",
    "steps": "training.steps",
    "batch_size": "training.batch_size",
    "lr": "training.lr",
    "seed": "training.seed",
    "device": "training.device",
    "tensorboard": "training.tensorboard",
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
    objective.add_argument("--sigma", type=float, help="decoder std for --recon gaussian (start for sigma-learned)")
    objective.add_argument("--sigma-per-channel", action="store_const", const=True,
                           help="sigma-learned / sigma-optimal: one sigma per colour channel")
    objective.add_argument("--beta-schedule", metavar="SPEC",
                           help="constant (default), linear:STEPS, sigmoid:STEPS or cyclical:CYCLES:RATIO;"
                                " rises from --beta-start to --beta")
    objective.add_argument("--beta-start", type=float, metavar="B", help="where warm-ups and cycles start (default 0)")
    objective.add_argument("--free-bits", type=float, metavar="NATS",
                           help="free bits: the KL term becomes max(NATS, KL) per latent dim (Kingma et al. 2016)")
    objective.add_argument("--free-bits-mode", choices=("dim", "group", "total"),
                           help="free bits per latent dim (default), per group (see free_bits_groups) or in total")
    objective.add_argument("--capacity", type=float, metavar="NATS",
                           help="capacity control: gamma * |KL - C(t)|, C rising to NATS (Burgess et al. 2018 use 25)")
    objective.add_argument("--capacity-steps", type=int, metavar="N",
                           help="steps over which C rises from objective.capacity_start (default 100000)")
    objective.add_argument("--capacity-gamma", type=float, metavar="G", help="capacity control's weight (default 1000)")
    objective.add_argument("--geco-target", type=float, metavar="KAPPA",
                           help="GECO: minimise the KL subject to error <= KAPPA, e.g. an MSE of 0.01"
                                " (Rezende & Viola 2018)")
    objective.add_argument("--geco-units", choices=("mse", "recon"),
                           help="KAPPA is a per-pixel MSE (default) or in the recon term's units (nats per image)")
    objective.add_argument("--geco-lr", type=float, metavar="NU",
                           help="step size of GECO's multiplicative lambda update (default 0.01)")
    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=int, help="epochs (default 10)")
    training.add_argument("--steps", type=int, help="optimiser steps, instead of --epochs")
    training.add_argument("--batch-size", type=int, help="default 128")
    training.add_argument("--lr", type=float, help="Adam's learning rate (default 1e-3)")
    training.add_argument("--seed", type=int, help="same seed, same numbers on the same machine")
    training.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    training.add_argument("--tensorboard", action="store_const", const=True,
                          help="also write TensorBoard events to OUT/tensorboard (pip install 'vaelab[tensorboard]')")
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
