"""Options shared by the commands that build a run's config (`train`, `sweep`), defined once here.

    add_config_options(parser)      --config, --set and the named shortcuts (data, model, objective, training)
    config_updates(args)            the flags given, as {dotted key: value}; --set wins over a named flag
    apply_updates(base, updates)    `base` with them; a new --steps replaces --epochs and the other way round
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vaelab.config import RECONS, Config, parse_assignment
from vaelab.defaults import DEFAULT_SIZES

# flag -> dotted config key; these are shortcuts for --set KEY=VALUE
SHORTCUTS = {
    "data": "data.spec",
    "image_size": "data.image_size",
    "channels": "data.channels",
    "data_root": "data.data_root",
    "val_fraction": "data.val_fraction",
    "limit": "data.limit",
    "augment": "data.augment",
    "model": "model.kind",
    "arch": "model.arch",
    "blocks": "model.blocks",
    "attention": "model.attention",
    "latent_dim": "model.latent_dim",
    "width": "model.width",
    "recon": "objective.recon",
    "beta": "objective.beta",
    "sigma": "objective.sigma",
    "sigma_per_channel": "objective.sigma_per_channel",
    "beta_schedule": "objective.beta_schedule",
    "beta_start": "objective.beta_start",
    "beta_range": "objective.beta_range",
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
    "time": "training.time",
    "val_every": "training.val_every",
    "lr_schedule": "training.lr_schedule",
    "warmup_steps": "training.warmup_steps",
    "weight_decay": "training.weight_decay",
    "ema": "training.ema",
    "batch_size": "training.batch_size",
    "lr": "training.lr",
    "seed": "training.seed",
    "device": "training.device",
    "tensorboard": "training.tensorboard",
    "clip_grad": "training.clip_grad",
    "max_bad_steps": "training.max_bad_steps",
    "amp": "training.amp",
    "channels_last": "training.channels_last",
    "compile": "training.compile",
}
RUN_LENGTH = ("training.epochs", "training.steps")


def add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="start from this config.yaml (e.g. a previous run's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="set any config key, e.g. --set objective.beta=0.1 (repeatable)")
    data = parser.add_argument_group("data")
    data.add_argument("--data", metavar="SPEC",
                      help="a folder of images, fashion-mnist, digits, or a Hugging Face dataset: hf:NAME[:SPLIT] "
                           "or a save_to_disk folder (required unless --config or --resume gives it; default: none)")
    data.add_argument("--image-size", type=int, metavar="N",
                      help=f"square size images are resized and cropped to (default: {_sizes()})")
    data.add_argument("--channels", type=int, choices=(1, 3),
                      help="1 (grey) or 3 (RGB); default: 3 if any image has colour")
    data.add_argument("--data-root", help="folder holding fashion-mnist's IDX files (default: $VAELAB_DATA, else "
                                           "/usr/share/datasets/fashion-mnist)")
    data.add_argument("--val-fraction", type=float, help="share of images held out for validation (default 0.1)")
    data.add_argument("--limit", type=int, metavar="N", help="use only N images (default: all)")
    data.add_argument("--augment", metavar="KINDS",
                      help="augment the training batches: auto (default: flip,crop for folders and Hugging Face "
                           "colour images, none for fashion-mnist and digits), none, flip, crop or flip,crop")
    model = parser.add_argument_group("model")
    model.add_argument("--model", choices=("vae", "ae"), help="vae (default) or ae: the same network, deterministic")
    model.add_argument("--arch", choices=("resnet", "plain"),
                       help="resnet (default): residual blocks, GroupNorm, nearest-neighbour upsampling; plain: the "
                            "seed's simple conv VAE (strided and transposed convolutions)")
    model.add_argument("--latent-dim", type=int, help="latent dimensions (default 32)")
    model.add_argument("--width", type=int, help="channels at full resolution (default 16)")
    model.add_argument("--blocks", type=int, help="resnet: residual blocks per resolution (default 1)")
    model.add_argument("--attention", action="store_const", const=True,
                       help="resnet: self-attention at the lowest resolution (default: off)")
    objective = parser.add_argument_group("objective")
    objective.add_argument("--recon", choices=RECONS, help="reconstruction term (default sse: sum of squared errors)")
    objective.add_argument("--beta", type=float, help="weight of the KL term (default 1)")
    objective.add_argument("--sigma", type=float,
                           help="decoder std for --recon gaussian (default 1), the start of sigma-learned (default: "
                                "the RMS error of the untrained network on the first training batch)")
    objective.add_argument("--sigma-per-channel", action="store_const", const=True,
                           help="sigma-learned / sigma-optimal: one sigma per colour channel (default: one shared)")
    objective.add_argument("--beta-schedule", metavar="SPEC",
                           help="constant (default), linear:STEPS, sigmoid:STEPS or cyclical:CYCLES:RATIO;"
                                " rises from --beta-start to --beta")
    objective.add_argument("--beta-start", type=float, metavar="B", help="where warm-ups and cycles start (default 0)")
    objective.add_argument("--beta-range", type=beta_range, metavar="LO:HI",
                           help="one loss-conditional model for every beta in [LO, HI], e.g. 0.01:10: each example "
                                "gets a log-uniform beta (Dosovitskiy & Djolonga 2020); validated at --beta "
                                "(default: off, one beta)")
    objective.add_argument("--free-bits", type=float, metavar="NATS",
                           help="free bits: the KL term becomes max(NATS, KL) per latent dim (Kingma et al. 2016; "
                                "default 0: off)")
    objective.add_argument("--free-bits-mode", choices=("dim", "group", "total"),
                           help="free bits per latent dim (default), per group (see free_bits_groups) or in total")
    objective.add_argument("--capacity", type=float, metavar="NATS",
                           help="capacity control: gamma * |KL - C(t)|, C rising to NATS (Burgess et al. 2018 use 25; "
                                "default: off)")
    objective.add_argument("--capacity-steps", type=int, metavar="N",
                           help="steps over which C rises from objective.capacity_start (default 100000)")
    objective.add_argument("--capacity-gamma", type=float, metavar="G", help="capacity control's weight (default 1000)")
    objective.add_argument("--geco-target", type=float, metavar="KAPPA",
                           help="GECO: minimise the KL subject to error <= KAPPA, e.g. an MSE of 0.01"
                                " (Rezende & Viola 2018; default: off)")
    objective.add_argument("--geco-units", choices=("mse", "recon"),
                           help="KAPPA is a per-pixel MSE (default) or in the recon term's units (nats per image)")
    objective.add_argument("--geco-lr", type=float, metavar="NU",
                           help="step size of GECO's multiplicative lambda update (default 0.01)")
    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=int,
                          help="epochs (default: a length that fits the data, 50 epochs within 2,000-20,000 steps)")
    training.add_argument("--steps", type=int, help="optimiser steps, instead of --epochs (default: as --epochs)")
    training.add_argument("--time", metavar="BUDGET",
                          help="stop when this wall-clock budget is spent, e.g. 10m, 90s, 1.5h (default: none)")
    training.add_argument("--val-every", type=int, metavar="STEPS",
                          help="steps between validations and checkpoints (default: about 20 a run, at epoch ends; at "
                               "most one an epoch)")
    training.add_argument("--batch-size", type=int, help="default 128; under torchrun, the global batch")
    training.add_argument("--lr", type=float, help="AdamW's learning rate (default 1e-3)")
    training.add_argument("--lr-schedule", choices=("constant", "cosine"),
                          help="cosine (default: linear warm-up, then a half cosine to 0) or constant")
    training.add_argument("--warmup-steps", type=int, metavar="N",
                          help="the cosine schedule's warm-up (default: 5%% of the run, at most 500)")
    training.add_argument("--weight-decay", type=float, metavar="W", help="AdamW's weight decay (default 0)")
    training.add_argument("--ema", action=argparse.BooleanOptionalAction,
                          help="validate, draw and evaluate a moving average of the weights (default: on)")
    training.add_argument("--seed", type=int, help="same seed, same numbers on the same machine (default 0)")
    training.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"),
                          help="auto (default: cuda, else mps, else cpu), cpu, cuda or mps")
    training.add_argument("--tensorboard", action="store_const", const=True,
                          help="also write TensorBoard events to OUT/tensorboard (pip install 'vaelab[tensorboard]'; "
                               "default: off)")
    training.add_argument("--clip-grad", type=float, metavar="MAX_NORM",
                          help="clip the gradients' total 2-norm to MAX_NORM, logged as grad_norm (default: off)")
    training.add_argument("--max-bad-steps", type=int, metavar="N",
                          help="stop after N steps in a row with a non-finite loss or gradient, each skipped "
                               "(default 20)")
    training.add_argument("--amp", action=argparse.BooleanOptionalAction, help="bf16 autocast (default: off)")
    training.add_argument("--channels-last", action=argparse.BooleanOptionalAction,
                          help="NHWC memory layout, faster on the CPU (default: on)")
    training.add_argument("--compile", action=argparse.BooleanOptionalAction,
                          help="torch.compile the model (default: off; compiling costs time at the start)")


def _sizes() -> str:
    """--image-size's defaults in words, from the data sources' own table."""
    return ", ".join(f"{size} for {'folders' if kind == 'folder' else kind}" for kind, size in DEFAULT_SIZES.items())


def beta_range(text: str) -> list[float]:
    """`--beta-range LO:HI` -> [LO, HI]; the config checks that 0 < LO < HI."""
    low, sep, high = text.partition(":")
    try:
        if sep:
            return [float(low), float(high)]
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not LO:HI, e.g. 0.01:10")


def config_updates(args: argparse.Namespace) -> dict[str, Any]:
    """The named flags given and every --set, as {dotted key: value}; --set wins over a named flag."""
    given = {SHORTCUTS[name]: value for name, value in vars(args).items() if name in SHORTCUTS and value is not None}
    return {**given, **dict(parse_assignment(item) for item in args.set)}


def apply_updates(base: Config, updates: dict[str, Any]) -> Config:
    """`base` with `updates`; giving one measure of the run length (epochs or steps) clears the other."""
    updates = dict(updates)
    for key, other in (RUN_LENGTH, RUN_LENGTH[::-1]):
        if key in updates:
            updates.setdefault(other, None)
    return base.with_updates(updates)
