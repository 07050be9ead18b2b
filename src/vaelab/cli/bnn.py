"""`vaelab bnn`: train a variational Bayesian neural network (or its MAP / ensemble baselines) on a table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vaelab.bnn.config import KINDS, TABLES, BNNConfig
from vaelab.bnn.weighting import SCHEME_HELP, TEMPERINGS
from vaelab.config import parse_assignment
from vaelab.errors import UsageError

SCHEMES_TEXT = "\n".join(f"  {name:<18} {text}" for name, text in SCHEME_HELP.items())
EXAMPLES = f"""examples:
  vaelab bnn --data diabetes --out runs/diabetes                    # the ELBO, one hidden layer of 50
  vaelab bnn --data diabetes --kl-weight batch --out runs/diabetes-bug   # KL / B: N / B times too much KL
  vaelab bnn --data wine --temperature 0.1 --out runs/wine-cold     # a cold posterior (likelihood tempering)
  vaelab bnn --data digits --widths 100,100 --kl-weight linear:2000 --epochs 100 --out runs/digits
  vaelab bnn --data table.csv --target price --prior-std 0.5 --out runs/prices
  vaelab bnn --data diabetes --model ensemble --members 5 --out runs/diabetes-ens   # deep ensemble baseline
  vaelab bnn --out runs/diabetes --resume --epochs 600              # continue where it stopped, or longer
  vaelab explain --bnn --kl-weight blundell --n 309 --batch-size 32 # what a scheme means as a temperature

--kl-weight SCHEME (per-example loss = mean NLL + lambda * KL / N; lambda = 1 is the ELBO):
{SCHEMES_TEXT}

--temperature T and --tempering (Wenzel et al. 2020, sec. 2-3):
  likelihood  p(D|w)^(1/T) p(w): the same as lambda -> T * lambda (default)
  posterior   (p(D|w) p(w))^(1/T): also weighs the entropy of q by T, so every variance shrinks by T
T < 1 is a cold posterior, T > 1 a warm one. Metrics in RUN/metrics.jsonl (docs/metrics.md, "bnn runs"),
figures in RUN/figures/, the page RUN/report.html; docs/bnn.md answers the KL-weight questions with numbers.
"""
SHORTCUTS = {  # flag -> dotted key of BNNConfig
    "data": "data.spec", "target": "data.target", "task": "data.task",
    "model": "model.kind", "prior_std": "model.prior_std", "members": "model.members", "noise": "model.noise",
    "noise_std": "model.noise_std",
    "kl_weight": "objective.kl_weight", "temperature": "objective.temperature", "tempering": "objective.tempering",
    "train_samples": "objective.train_samples", "test_samples": "objective.test_samples",
    "epochs": "training.epochs", "steps": "training.steps", "batch_size": "training.batch_size", "lr": "training.lr",
    "lr_schedule": "training.lr_schedule", "seed": "training.seed", "threads": "training.threads",
}
RUN_LENGTH = ("training.epochs", "training.steps")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "bnn", help="train a variational Bayesian neural network on a table", description=__doc__, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, type=Path, help="run directory to create (or to resume)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from checkpoints/last.pt")
    parser.add_argument("--config", type=Path, help="start from this config.yaml (e.g. a previous run's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any config key, e.g. --set model.posterior_std_init=0.01 (repeatable)")
    data = parser.add_argument_group("data")
    data.add_argument("--data", help=f"{', '.join(TABLES)} (scikit-learn's bundled tables) or a .csv file "
                                     "(required unless --config or --resume gives it)")
    data.add_argument("--target", help="the CSV column to predict (required with a .csv file)")
    data.add_argument("--task", choices=("regression", "classification"), help="a CSV's task (default regression)")
    model = parser.add_argument_group("model")
    model.add_argument("--model", choices=KINDS, help="bayes: mean-field Gaussian weights (default); map: one point "
                                                      "estimate, the prior as weight decay; ensemble: MAP members")
    model.add_argument("--widths", metavar="W1,W2,...", help="hidden layer widths (default 50; '' for none)")
    model.add_argument("--prior-std", type=float, metavar="S", help="p(w) = N(0, S^2) on every weight (default 1)")
    model.add_argument("--members", type=int, metavar="K", help="ensemble size (default 5)")
    model.add_argument("--noise", choices=("learned", "fixed"), help="regression noise std: learned (default) or "
                                                                     "fixed at --noise-std")
    model.add_argument("--noise-std", type=float, metavar="SIGMA", help="fixed or initial noise std (default 1)")
    objective = parser.add_argument_group("KL weight and temperature")
    objective.add_argument("--kl-weight", metavar="SCHEME", help="elbo (default), blundell, uniform-minibatch, batch, "
                                                                 "constant:LAMBDA or linear:STEPS (below)")
    objective.add_argument("--temperature", type=float, metavar="T", help="T > 0; 1 is no tempering (default)")
    objective.add_argument("--tempering", choices=TEMPERINGS, help="what T tempers: likelihood (default) or "
                                                                   "posterior")
    objective.add_argument("--train-samples", type=int, metavar="S", help="output samples per row and step "
                                                                          "(default 1)")
    objective.add_argument("--test-samples", type=int, metavar="S", help="weight samples per prediction "
                                                                         "(default 100)")
    training = parser.add_argument_group("training")
    length = training.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, help="passes over the training rows (default 300)")
    length.add_argument("--steps", type=int, help="optimiser steps instead of epochs (default: as --epochs)")
    training.add_argument("--batch-size", type=int, metavar="B", help="rows per minibatch (default 32)")
    training.add_argument("--lr", type=float, help="Adam's learning rate (default 1e-2)")
    training.add_argument("--lr-schedule", choices=("constant", "cosine"), help="constant (default) or cosine to 0")
    training.add_argument("--seed", type=int, help="initialisation, row order and noise (default 0)")
    training.add_argument("--threads", type=int, help="torch threads (default 1: fastest for networks this small)")
    parser.set_defaults(run=run)


def parse_widths(text: str) -> list[int]:
    """'50,50' -> [50, 50]; '' -> [] (a linear model)."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not all(part.lstrip("-").isdigit() for part in parts):
        raise UsageError(f"--widths {text!r} is not a list of whole numbers: e.g. --widths 50,50")
    return [int(part) for part in parts]


def config_updates(args: argparse.Namespace) -> dict[str, Any]:
    """The flags given, as {dotted key: value}; --set wins over a named flag."""
    updates: dict[str, Any] = {key: getattr(args, flag) for flag, key in SHORTCUTS.items()
                               if getattr(args, flag) is not None}
    if args.widths is not None:
        updates["model.widths"] = parse_widths(args.widths)
    updates.update(parse_assignment(text) for text in args.set)
    return updates


def config_from_args(args: argparse.Namespace) -> BNNConfig:
    """Defaults < --config (or the run's own config.yaml on --resume) < named flags < --set."""
    updates = config_updates(args)
    if args.resume:
        changed = sorted({key.split(".")[-1] for key in updates if key not in RUN_LENGTH})
        if changed:
            raise UsageError(f"--resume continues the saved run; it cannot change {', '.join(changed)}: drop those "
                             "flags")
        if not (args.out / "config.yaml").exists():
            raise UsageError(f"{args.out} holds no run to resume (no config.yaml): start it without --resume")
        base = BNNConfig.load(args.out / "config.yaml")
    elif args.config is not None:
        base = BNNConfig.load(args.config)
    elif args.data is None:
        raise UsageError(f"say what to train on: --data {' | '.join(TABLES)} or --data FILE.csv --target COLUMN")
    else:
        base = BNNConfig()
    if any(key in updates for key in RUN_LENGTH):  # a new --steps replaces --epochs and the other way round
        base = base.with_updates({"training.epochs": None, "training.steps": None})
    return base.with_updates(updates)


def sweep_config_from_args(args: argparse.Namespace, axis_keys: set[str]) -> BNNConfig:
    """The base config of `vaelab sweep --bnn`: defaults < --config < the sweep's flags that a bnn run has (--data,
    --epochs/--steps, --batch-size, --lr, --seed) < --set."""
    from vaelab.cli.options import SHORTCUTS as IMAGE_SHORTCUTS
    from vaelab.cli.options import config_updates as sweep_updates

    if args.conditional or args.beta_range is not None:
        raise UsageError("--conditional and --beta-range train a loss-conditional VAE: drop them with --bnn")
    updates = sweep_updates(args)
    flags = {key: f"--{name.replace('_', '-')}" for name, key in IMAGE_SHORTCUTS.items()}
    image_only = sorted(flags[key] for key in updates if key in flags and key not in SHORTCUTS.values())
    if image_only:
        raise UsageError(f"{image_only[0]} is an option of image runs; a --bnn sweep takes --data, --epochs/--steps, "
                         "--batch-size, --lr, --seed, and --set KEY=VALUE for the rest (keys of vaelab bnn's config)")
    both = sorted(axis_keys & set(updates))
    if both:
        raise UsageError(f"{both[0]} is a --grid axis and is also set by a flag or --set: drop one of them")
    if args.config is not None:
        base = BNNConfig.load(args.config)
    elif args.data is None:
        raise UsageError(f"say what to train on: --data {' | '.join(TABLES)} or --data FILE.csv "
                         "--set data.target=COLUMN")
    else:
        base = BNNConfig()
    if any(key in updates for key in RUN_LENGTH):
        base = base.with_updates({"training.epochs": None, "training.steps": None})
    return base.with_updates(updates)


def run_sweep(args: argparse.Namespace) -> int:
    """`vaelab sweep --bnn`: a grid of bnn runs (vaelab.sweep.bnn) and its table on stdout."""
    import sys

    from vaelab.numbers import format_number
    from vaelab.sweep.bnn import run_bnn_sweep
    from vaelab.sweep.executor import make_executor
    from vaelab.sweep.grid import parse_axes

    axes = parse_axes(args.grid)
    base = sweep_config_from_args(args, {axis.key for axis in axes})
    result = run_bnn_sweep(base, axes, args.out, executor=make_executor(args.executor, args.workers),
                           baselines=not args.no_baselines)
    quality = "test_rmse" if base.data.spec == "diabetes" or any(r["test_rmse"] is not None for r in result.rows) \
        else "test_accuracy"
    table = ("status", "lambda", "test_predictive_nll", quality, "test_ece", "pruned_units")
    width = max(len("run"), *(len(row["run"]) for row in result.rows))
    print("  ".join([f"{'run':<{width}}", *(f"{name:>19}" for name in table)]))
    for row in result.rows:
        print("  ".join([f"{row['run']:<{width}}", *(f"{format_number(row[name]):>19}" for name in table)]))
    print(f"summary: {result.summary}")
    for figure in result.figures:
        print(f"figure: {figure}")
    if result.unfinished:
        listed = "; ".join(f"{outcome.name}: {outcome.reason or outcome.status}" for outcome in result.unfinished)
        print(f"vaelab: {len(result.unfinished)} of {len(result.rows)} runs did not finish ({listed}); re-run the "
              "same command to retry them", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    from vaelab.bnn.run import train_bnn

    result = train_bnn(config_from_args(args), args.out, resume=args.resume)
    test = result.test
    quality = f"RMSE {test['rmse']:.4g}" if "rmse" in test else f"accuracy {test['accuracy']:.4g}"
    elbo = f", ELBO(lambda=1) {test['elbo']:.4g}" if "elbo" in test else ""
    pruned = f", pruned units {test['pruned_units']}/{test['hidden_units']}" if "pruned_units" in test else ""
    print(f"{result.run_dir}: step {result.steps}, test predictive NLL {test['predictive_nll']:.4g}, {quality}, "
          f"ECE {test['ece']:.3g}{elbo}{pruned}")
    return 0
