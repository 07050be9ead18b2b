"""`vaelab sweep`: train a grid of runs in parallel and draw their rate-distortion curve."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vaelab.cli.options import add_config_options, apply_updates, config_updates
from vaelab.config import Config
from vaelab.defaults import EXECUTORS, SWEEP_IW_SAMPLES
from vaelab.errors import UsageError
from vaelab.sweep.grid import parse_axes

EXAMPLES = """examples:
  vaelab sweep --data ../shared/data/artworks --image-size 64 --out sweeps/art \\
               --grid objective.beta=0,0.03,0.1,0.3,1,3 --grid model.latent_dim=32,128 --epochs 30 --workers 2
  vaelab sweep --data digits --out sweeps/digits --grid objective.beta=0.1,1,10 --steps 2000
  vaelab sweep --data fashion-mnist --out sweeps/fm --grid objective.recon=sse,bernoulli --grid objective.beta=0.1,1
  RAY_ADDRESS=ray://head:10001 vaelab sweep ... --executor ray --workers 16 --set training.threads=4
  vaelab sweep --data fashion-mnist --out sweeps/fm-yoto --conditional --grid objective.beta=0.01,0.1,1,10 --steps 3000
  vaelab sweep --bnn --data diabetes --out sweeps/diabetes --grid objective.kl_weight=constant:0.1,elbo,batch \
               --grid training.seed=0,1,2 --workers 2          # table networks (docs/bnn.md), MAP and ensemble beside

Every combination of the --grid values is one run, an ordinary run directory OUT/runs/<name>/ (e.g.
OUT/runs/beta=0.1,latent_dim=32, which `vaelab train --out OUT/runs/<name> --resume` continues on its
own). Run the same command again to resume an interrupted sweep: finished runs are kept, the others
continue from their checkpoints (only --epochs/--steps may change). Add values to an axis (e.g.
objective.beta=0,0.1,1 -> 0,0.1,1,10) to grow the sweep: only the new runs train. A line per finished run
gives its numbers and the time left at the pace so far. Each of the --workers runs uses
cores / workers threads (or training.threads). Results: OUT/summary.csv (columns: docs/metrics.md),
OUT/figures/rate_distortion.png, metrics_vs_beta.png, reconstructions.png, and OUT/report.html.

--conditional trains one loss-conditional model for the whole beta axis (per setting of the other
axes), on --beta-range or from the axis's smallest to its largest beta, and reads every beta's row off
it: OUT/runs/beta=0.01-10/ is the model, OUT/runs/beta=0.01-10/beta=0.1/ its evaluation at 0.1. The
same summary, figures and report, for about the cost of one run (docs/kl-weighting.md).
"""
TABLE = ("status", "beta", "rate", "distortion", "elbo_shared_sigma", "elbo", "mse", "active_units")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "sweep", help="train a grid of runs and draw their rate-distortion curve", description=__doc__,
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, type=Path, help="sweep directory to create (or to resume)")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                        help="a config key and its values, e.g. objective.beta=0.1,1,10 (repeatable: the runs are "
                             "the product of the axes)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="runs trained at the same time (default 1)")
    parser.add_argument("--executor", choices=EXECUTORS, default="local",
                        help="local processes (default) or Ray tasks (pip install 'vaelab[ray]'; "
                             "RAY_ADDRESS names a cluster, else Ray starts here)")
    parser.add_argument("--iw-samples", type=int, default=SWEEP_IW_SAMPLES, metavar="K",
                        help=f"importance samples per image in each run's evaluation (default {SWEEP_IW_SAMPLES})")
    parser.add_argument("--conditional", action="store_true",
                        help="one loss-conditional model for the objective.beta axis instead of a run per beta "
                             "(implied by --beta-range)")
    parser.add_argument("--bnn", action="store_true",
                        help="a grid of `vaelab bnn` runs on a table (--data diabetes, wine, breast-cancer, digits or "
                             "a CSV with --set data.target=COLUMN), with a MAP network and an ensemble as baselines")
    parser.add_argument("--no-baselines", action="store_true", help="with --bnn: train no MAP and ensemble runs")
    add_config_options(parser)
    parser.set_defaults(run=run)


def config_from_args(args: argparse.Namespace, axis_keys: set[str]) -> Config:
    """The base config every run starts from: defaults < --config < named flags < --set. --beta-range is
    the sweep's (`run_sweep`), not the base config's."""
    updates = config_updates(args)
    if args.beta_range is not None:
        updates.pop("objective.beta_range")
    both = sorted(axis_keys & set(updates))
    if both:
        raise UsageError(f"{both[0]} is a --grid axis and is also set by a flag or --set: drop one of them")
    if args.config is not None:
        base = Config.load(args.config)
    elif args.data is None:
        raise UsageError("say what to train on: --data FOLDER, --data fashion-mnist or --data digits")
    else:
        base = Config()
    return apply_updates(base, updates)


def run(args: argparse.Namespace) -> int:
    if args.bnn:
        from vaelab.cli.bnn import run_sweep as run_bnn_sweep

        return run_bnn_sweep(args)
    from vaelab.numbers import format_number
    from vaelab.sweep.executor import make_executor
    from vaelab.sweep.run import run_sweep

    axes = parse_axes(args.grid)
    base = config_from_args(args, {axis.key for axis in axes})
    result = run_sweep(base, axes, args.out, executor=make_executor(args.executor, args.workers),
                       iw_samples=args.iw_samples, conditional=args.conditional, beta_range=args.beta_range)
    width = max(len("run"), *(len(row["run"]) for row in result.rows))
    print("  ".join([f"{'run':<{width}}", *(f"{name:>{max(12, len(name))}}" for name in TABLE)]))
    for row in result.rows:
        print("  ".join([f"{row['run']:<{width}}",
                         *(f"{format_number(row[name]):>{max(12, len(name))}}" for name in TABLE)]))
    print(f"summary: {result.summary}")
    for figure in result.figures:
        print(f"figure: {figure}")
    if result.unfinished:
        listed = "; ".join(f"{outcome.name}: {outcome.reason or outcome.status}" for outcome in result.unfinished)
        print(f"vaelab: {len(result.unfinished)} of {len(result.rows)} runs did not finish ({listed}); "
              "re-run the same command to retry them", file=sys.stderr)
        return 1
    return 0
