"""`vaelab explain`: what a KL weight beta means as a decoder noise level sigma, and why it matters; with --bnn,
what a BNN's KL weighting scheme means as the temperature of its likelihood."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaelab.errors import UsageError

DEFAULT_SHAPE = "3x64x64"

EXAMPLES = """examples:
  vaelab explain runs/art-b01                                    # a run's own beta, recon and image shape
  vaelab explain --beta 0.1                                      # the seed's loss: sigma = 0.22
  vaelab explain --beta 0.1 --recon sse --image-shape 3x64x64
  vaelab explain --beta 1 --recon mse-mean --image-shape 3x64x64   # F.mse_loss + KL: sigma = 78
  vaelab explain --beta 0.1 --recon l1                           # a Laplace decoder of scale b = 0.1
  vaelab explain --beta 0.01 --recon ms-ssim                     # not a likelihood: no sigma to read
  vaelab explain --beta 0.1 --data ../shared/data/artworks --image-size 64   # and what a linear VAE keeps there
  vaelab explain --bnn --kl-weight batch --n 309 --batch-size 32    # KL / B: a likelihood at T = 10
  vaelab explain --bnn --kl-weight blundell --n 60000 --batch-size 128
  vaelab explain --bnn --kl-weight elbo --n 309 --temperature 0.1 --tempering posterior
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "explain", help="read a KL weight as a decoder's sigma (beta) or a BNN's temperature", description=__doc__,
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", nargs="?", type=Path, metavar="RUN",
                        help="a run directory: read its own beta (GECO's weight in force, a schedule's last), "
                             "reconstruction term and image shape instead of --beta, --recon and --image-shape")
    parser.add_argument("--beta", type=float, help="the weight of the KL term, e.g. 0.1 (a VAE's; required without "
                                                   "RUN or --bnn)")
    parser.add_argument("--recon", choices=("sse", "mse-mean", "l1", "ms-ssim", "watson-dft", "focal-frequency"),
                        help="sse: squared error summed over pixels (default); mse-mean: averaged over pixels; l1: "
                             "absolute error (a Laplace decoder); ms-ssim, watson-dft, focal-frequency: losses that "
                             "are not likelihoods")
    parser.add_argument("--image-shape", metavar="CxHxW",
                        help="channels x height x width (default 3x64x64); D = C*H*W matters for mse-mean")
    parser.add_argument("--data", metavar="SPEC",
                        help="also read beta against these training images' spectrum: how many directions a linear "
                             "VAE keeps at this beta, and the beta at which each switches off (default: none)")
    parser.add_argument("--image-size", type=int, metavar="N",
                        help="with --data: resize to N x N (default as vaelab train: 28 for fashion-mnist, 32 for "
                             "digits, 64 for folders)")
    parser.add_argument("--channels", type=int, choices=(1, 3),
                        help="with --data: 1 (grey) or 3 (RGB) (default: 3 if any image has colour)")
    bnn = parser.add_argument_group("Bayesian neural networks (vaelab bnn)")
    bnn.add_argument("--bnn", action="store_true", help="read a BNN's --kl-weight as a temperature instead")
    bnn.add_argument("--kl-weight", default="elbo", metavar="SCHEME",
                     help="elbo (default), blundell, uniform-minibatch, batch, constant:LAMBDA or linear:STEPS")
    bnn.add_argument("--n", type=int, metavar="N", help="training rows (required with --bnn; no default)")
    bnn.add_argument("--batch-size", type=int, default=32, metavar="B", help="rows per minibatch (default 32)")
    bnn.add_argument("--temperature", type=float, default=1.0, metavar="T", help="--temperature of the run "
                                                                                 "(default 1)")
    bnn.add_argument("--tempering", choices=("likelihood", "posterior"), default="likelihood",
                     help="what the temperature tempers (default likelihood)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.bnn:
        from vaelab.bnn.explain import explain_kl_weight

        if args.n is None:
            raise UsageError("--bnn reads a scheme for a training set: give its rows with --n N (e.g. --n 309)")
        reading = explain_kl_weight(args.kl_weight, n=args.n, batch_size=args.batch_size,
                                    temperature=args.temperature, tempering=args.tempering)
        print(reading.text(), end="")
        return 0
    if args.run_dir is not None:
        given = [flag for flag, value in (("--beta", args.beta), ("--recon", args.recon),
                                          ("--image-shape", args.image_shape), ("--data", args.data)) if value]
        if given:
            raise UsageError(f"{given[0]} is the run's own with RUN: drop {given[0]}, or drop RUN to explain any beta")
        print(explain_run(args.run_dir), end="")
        return 0
    if args.beta is None:
        raise UsageError("say what to explain: a RUN directory, --beta B for a VAE, or --bnn --kl-weight SCHEME --n N "
                         "for a BNN")
    from vaelab.objectives.explain import parse_image_shape
    from vaelab.objectives.explain_losses import explain_recon

    args.recon = args.recon or "sse"
    if args.data is None:
        reading = explain_recon(args.beta, recon=args.recon, image_shape=parse_image_shape(args.image_shape or
                                                                                           DEFAULT_SHAPE))
        print(reading.text(), end="")
        return 0
    return explain_on_data(args)


def explain_run(run_dir: Path) -> str:
    """What the run's KL weight means, from its own files: its beta (GECO's 1 / lambda and a schedule's at the last
    validation), its reconstruction term and image shape (model.json); or why it has no beta to read."""
    from vaelab.numbers import format_number
    from vaelab.objectives.geco import pinned_note
    from vaelab.run_dir import read_run_end
    from vaelab.viz.beta_reading import beta_reading

    run = read_run_end(run_dir)
    objective, final = run.config.objective, run.final("val")
    facts = beta_reading(run)
    heading = f"{run.run_dir}: {run.config.describe()}, step {run.steps}\n"
    if facts is None:
        return heading + "no model.json or checkpoint yet, so the image shape is unknown: explain it once it trains\n"
    if facts["kind"] == "ae":
        return heading + ("A plain autoencoder has no KL term, so there is no beta to read: its loss is the "
                          "reconstruction term alone, the limit beta -> 0 of a VAE with squared error, where the "
                          "implied decoder sigma = sqrt(beta / 2) is 0 and the beta = 1 ELBO is -inf.\n")
    if facts["method"] == "capacity":
        return heading + (f"Capacity control trains recon + {objective.capacity_gamma:g} |KL - C(t)|: gamma pins "
                          "the KL to C(t) rather than weighing it, so there is no KL weight to read as a decoder "
                          "sigma.\n")
    if facts["reading"] is None:
        sigma = format_number(facts["sigma"], 3)
        return heading + (f"--recon {objective.recon} states its own decoder noise (sigma = {sigma} at the last "
                          f"validation), so beta = {facts['beta']:g} weighs the KL against a true log-likelihood: "
                          "beta = 1 is the ELBO, a beta below 1 tempers it.\n")
    where = {"geco": f"GECO's weight in force at step {final.get('step')}: beta = 1 / lambda = "
                     f"{format_number(facts['beta'])} (lambda = {format_number(final.get('geco_lambda'))})\n",
             "schedule": f"beta(t) follows {objective.beta_schedule}: read at its last validation, beta = "
                         f"{format_number(facts['beta'])}\n"}.get(facts["method"], "")
    note = ""
    if facts["method"] == "geco" and isinstance(final.get("geco_lambda"), float):
        pinned = pinned_note(final["geco_lambda"], objective)
        note = f"\nwarning: {pinned}\n" if pinned else ""
    return heading + where + "\n" + facts["reading"].text() + note


def explain_on_data(args: argparse.Namespace) -> int:
    """The reading for the data's own image shape, then the linear VAE's prediction on its training split."""
    if args.recon not in ("sse", "mse-mean"):
        raise UsageError(f"--data reads beta against the data's spectrum under a Gaussian decoder, which --recon "
                         f"{args.recon} is not: use --recon sse or mse-mean with --data, or drop --data")
    from vaelab.config import DataConfig
    from vaelab.data import load_images, split_indices
    from vaelab.diagnostics.spectrum import linear_prediction, pixel_spectrum
    from vaelab.objectives.explain import explain_beta, implied_variance

    config = DataConfig(spec=args.data, image_size=args.image_size, channels=args.channels)
    config.validate()
    data = load_images(config)
    shape = tuple(int(size) for size in data.images.shape[1:])
    reading = explain_beta(args.beta, recon=args.recon, image_shape=shape)
    train_index, _ = split_indices(len(data.images), config.val_fraction, config.split_seed)
    eigenvalues, images = pixel_spectrum(data.images[train_index])
    threshold = implied_variance(args.beta, recon=args.recon, pixels=reading.pixels)
    print(reading.text())
    print(linear_prediction(eigenvalues, threshold, beta=args.beta, images=images).text(), end="")
    return 0
