"""`vaelab train`: train a VAE (or its AE twin) on a folder of images or a built-in dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaelab.cli.options import add_config_options, apply_updates, config_updates
from vaelab.config import RESUMABLE_KEYS, Config
from vaelab.errors import UsageError
from vaelab.numbers import format_number

EXAMPLES = """examples:
  vaelab train --data ../shared/data/artworks --image-size 64 --latent-dim 128 --beta 0.1 --out runs/art-b01
  vaelab train --data fashion-mnist --model ae --out runs/fm-ae
  vaelab train --config runs/art-b01/config.yaml --out runs/again     # re-create a run from its config
  vaelab train --out runs/art-b01 --resume                            # continue where it stopped
  vaelab train --data digits --out runs/d --set objective.recon=bernoulli --set training.log_every=5
  vaelab train --data fashion-mnist --lr 3e-4 --clip-grad 1000 --out runs/fm-safe   # after non-finite steps (exit 2)

weighing the KL term (one of free bits, capacity, GECO; see docs/kl-weighting.md and `vaelab explain`):
  vaelab train --data ../shared/data/artworks --recon sigma-learned --out runs/art-sl     # learn the decoder's sigma
  vaelab train --data ../shared/data/artworks --recon sigma-optimal --sigma-per-channel --out runs/art-so
  vaelab train --data ../shared/data/artworks --beta-schedule cyclical:4:0.5 --out runs/art-cyc   # 4 warm-ups
  vaelab train --data ../shared/data/artworks --beta-schedule linear:5000 --beta 0.1 --out runs/art-warm
  vaelab train --data ../shared/data/artworks --free-bits 0.25 --out runs/art-fb        # 0.25 nats per latent dim
  vaelab train --data ../shared/data/artworks --capacity 25 --capacity-steps 20000 --out runs/art-cap
  vaelab train --data ../shared/data/artworks --geco-target 0.01 --out runs/art-geco    # keep the MSE at 0.01
  vaelab train --data fashion-mnist --beta-range 0.01:10 --out runs/fm-all   # one model for every beta in the range
  vaelab evaluate runs/fm-all --beta 0.1                                     # ... read off at beta = 0.1
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train", help="train one run", description=__doc__, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, type=Path, help="run directory to create (or to resume)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from checkpoints/last.pt")
    add_config_options(parser)
    parser.set_defaults(run=run)


def config_from_args(args: argparse.Namespace) -> Config:
    """Defaults < --config (or the run's own config.yaml on --resume) < named flags < --set."""
    updates = config_updates(args)
    if args.resume:
        changed = sorted({key.split(".")[-1] for key in updates if key not in RESUMABLE_KEYS})
        if changed:
            raise UsageError(f"--resume continues the saved run; it cannot change {', '.join(changed)} (only the run "
                             "length, the display and execution options: --epochs/--steps, --device, threads, ...): "
                             "drop those flags")
        base = Config.load_saved(args.out / "config.yaml") if (args.out / "config.yaml").exists() else None
        if base is None:
            raise UsageError(f"{args.out} holds no run to resume (no config.yaml): start it without --resume")
    elif args.config is not None:
        base = Config.load(args.config)
    else:
        if args.data is None:
            raise UsageError("say what to train on: --data FOLDER, --data fashion-mnist or --data digits")
        base = Config()
    return apply_updates(base, updates)


def run(args: argparse.Namespace) -> int:
    from vaelab.training.distributed import is_rank_zero
    from vaelab.training.run import train

    result = train(config_from_args(args), args.out, resume=args.resume)
    if is_rank_zero():  # under torchrun every process ends with the same result
        print(final_line(result.run_dir, result.steps, result.metrics))
    return 0


def final_line(run_dir: Path, steps: int, metrics: dict[str, float]) -> str:
    """The run's last validation pass in one line; "n/a" for what its model has not (the autoencoder's KL, ELBO)."""
    return (f"{run_dir}: step {steps}, val recon {format_number(metrics['recon'])}, KL {format_number(metrics['kl'])}, "
            f"ELBO(beta=1) at the shared sigma {format_number(metrics.get('elbo_shared_sigma'))}, under its own "
            f"{format_number(metrics['elbo'])}, MSE (z ~ q) {format_number(metrics['mse'])}")
