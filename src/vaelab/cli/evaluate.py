"""`vaelab evaluate`: likelihood bounds, reconstruction quality and latent-space diagnostics of a
trained run, written to RUN/eval.json (names and units: docs/metrics.md) and figures to RUN/figures/."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaelab.defaults import CHECKPOINT, IW_IMAGES, IW_SAMPLES, MAX_IMAGES
from vaelab.numbers import format_number

EXAMPLES = """examples:
  vaelab evaluate runs/art-b01                        # all validation images; 1000 importance samples on 1000
  vaelab evaluate runs/fm --iw-samples 5000 --checkpoint best
  vaelab evaluate runs/fm --iw-samples 50 --max-images 200   # a quick look
  vaelab evaluate runs/fm --data ../shared/data/artworks    # another source at the model's size -> RUN/data=artworks/
  vaelab evaluate runs/fm-all-betas --beta 0.1   # a loss-conditional run (--beta-range) at beta 0.1 -> RUN/beta=0.1/
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "evaluate", help="diagnostics and likelihood of a trained run -> RUN/eval.json", description=__doc__,
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN", help="a run directory written by vaelab train")
    parser.add_argument("--iw-samples", type=int, default=IW_SAMPLES, metavar="K",
                        help=f"importance samples per image for the IWAE bound (default {IW_SAMPLES})")
    parser.add_argument("--data", metavar="SPEC",
                        help="evaluate on this source instead of the run's validation images, into RUN/data=NAME/ "
                             "(the run's own eval.json stays); images the run trained on are counted and named "
                             "(default: the run's validation split)")
    parser.add_argument("--checkpoint", choices=("last", "best"), default=CHECKPOINT,
                        help=f"last (the weights the run ended with, as its figures and a sweep show them; default "
                             f"{CHECKPOINT}) or best (highest validation score)")
    parser.add_argument("--max-images", type=int, default=MAX_IMAGES, metavar="N",
                        help=f"evaluate at most N images (default {MAX_IMAGES}: all validation images)")
    parser.add_argument("--iw-images", type=int, default=IW_IMAGES, metavar="N",
                        help=f"of which the ELBO and IWAE bounds use at most N (default {IW_IMAGES})")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                        help="auto (default: cuda, else mps, else cpu), cpu, cuda or mps")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the posterior samples and image choices (default 0)")
    parser.add_argument("--beta", type=float, metavar="B",
                        help="a loss-conditional run (trained with --beta-range) at this beta of its range, written "
                             "to RUN/beta=B/ (default: at its validation beta, objective.beta, into RUN/)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.evaluation.evaluate import evaluate_run, evaluation_folder
    from vaelab.run_dir import RunDir

    results = evaluate_run(args.run_dir, iw_samples=args.iw_samples, data=args.data, checkpoint=args.checkpoint,
                           max_images=args.max_images, iw_images=args.iw_images, device=args.device, seed=args.seed,
                           beta=args.beta)
    print(summary(results, evaluation_folder(RunDir(args.run_dir), args.beta, args.data).path))
    return 0


def summary(results: dict, directory: Path) -> str:
    """A few lines for the terminal, each number with its standard error or interval; everything is in
    `directory`/eval.json."""
    from vaelab.diagnostics.aggregate import negative_mmd_note

    def number(name: str, unit: str = "") -> str:
        value = results.get(name)
        text = format_number(value) + ("" if value is None else unit)
        if results.get(f"{name}_se") is not None:
            return f"{text} +- {format_number(results[f'{name}_se'], 2)}"
        interval = results.get(f"{name}_ci")
        if isinstance(interval, list) and None not in interval:
            return f"{text} [{format_number(interval[0], 3)}, {format_number(interval[1], 3)}]"
        return text

    k = results["iw_samples"]
    weights = {"ema": ", moving-average weights", "trained": ""}.get(results.get("weights"), "")
    images = "validation images" if results["split"] == "val" else "images of --data"
    overlap = results.get("overlap_train")
    if overlap is not None:
        images += f", {overlap} of them training images and {results['overlap_val']} validation images of the run"
    likelihood = [
        (f"  ELBO at the shared sigma {format_number(results.get('shared_sigma'))} {number('elbo_shared_sigma')}  "
         f"IWAE_{k} {number('iwae_shared_sigma')} nats  (compare runs by these)"),
        (f"  own likelihood (sigma {format_number(results.get('sigma'))}): ELBO {number('elbo')}  "
         f"IWAE_{k} {number('iwae')} nats  ({number('bits_per_dim')} bits/dim)"),
        (f"  sigma {number('sigma_optimal')} fitted on {results.get('sigma_fit_images', 0)} training images: "
         f"ELBO {number('elbo_optimal_sigma')}  IWAE_{k} {number('iwae_optimal_sigma')} nats"),
        (f"  KL {number('kl')} nats ({results.get('kl_estimator', 'closed form')})  "
         f"active units {results['active_units']}/{results['latent_dim']}"),
    ]
    if results["model"] == "ae":
        likelihood = [f"  a point-mass posterior: no ELBO, IWAE, KL or decoder sigma; active codes "
                      f"{results['active_units']}/{results['latent_dim']}"]
    lines = [
        (f"{results['run']}: {results['description']}, {results['checkpoint']}.pt (step {results['step']}"
         f"{weights}), {results['images']} {images}; +- are standard errors over the images"),
        *likelihood,
        (f"  aggregate posterior on {results['aggregate_images']} images against N(0, I): KL(q||p) "
         f"{number('aggregate_kl_q_p')} "
         f"(leave-one-out {number('aggregate_kl_q_p_loo')}), KL(p||q) {number('aggregate_kl_p_q')}, "
         f"moment-matched {number('aggregate_posterior_kl')}, MMD {number('aggregate_posterior_mmd')}"),
        *([f"  MMD {note}"] if (note := negative_mmd_note(results.get("aggregate_posterior_mmd"))) else []),
        *([(f"  against the run's own prior ({results['prior']}): KL(q||p) {number('aggregate_kl_q_prior')} "
            f"(leave-one-out {number('aggregate_kl_q_prior_loo')}), KL(p||q) {number('aggregate_kl_prior_q')}")]
          if "aggregate_kl_q_prior" in results else []),
        (f"  posterior means: MSE {number('mse')}  PSNR {number('psnr', ' dB')}  SSIM {number('ssim')}  "
         f"smoothness {number('smoothness')}"),
        *[f"  warning: {warning}" for warning in results["warnings"]],
        f"written: {directory / 'eval.json'} in {results['seconds']:.0f} s (n/a: its not_applicable says why)",
    ]
    return "\n".join(lines)
