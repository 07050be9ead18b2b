"""`vaelab explain`: what a KL weight beta means as a decoder noise level sigma, and why it matters; with --bnn,
what a BNN's KL weighting scheme means as the temperature of its likelihood."""

from __future__ import annotations

import argparse

from vaelab.errors import UsageError

EXAMPLES = """examples:
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
    parser.add_argument("--beta", type=float, help="the weight of the KL term, e.g. 0.1 (a VAE's; required without "
                                                   "--bnn)")
    parser.add_argument("--recon", choices=("sse", "mse-mean", "l1", "ms-ssim", "watson-dft", "focal-frequency"),
                        default="sse", help="sse: squared error summed over pixels (default); mse-mean: averaged over "
                                            "pixels; l1: absolute error (a Laplace decoder); ms-ssim, watson-dft, "
                                            "focal-frequency: losses that are not likelihoods")
    parser.add_argument("--image-shape", default="3x64x64", metavar="CxHxW",
                        help="channels x height x width (default 3x64x64); D = C*H*W matters for mse-mean")
    parser.add_argument("--data", metavar="SPEC",
                        help="also read beta against these training images' spectrum: how many directions a linear "
                             "VAE keeps at this beta, and the beta at which each switches off")
    parser.add_argument("--image-size", type=int, metavar="N", help="with --data: resize to N x N (as vaelab train)")
    parser.add_argument("--channels", type=int, choices=(1, 3), help="with --data: 1 (grey) or 3 (RGB)")
    bnn = parser.add_argument_group("Bayesian neural networks (vaelab bnn)")
    bnn.add_argument("--bnn", action="store_true", help="read a BNN's --kl-weight as a temperature instead")
    bnn.add_argument("--kl-weight", default="elbo", metavar="SCHEME",
                     help="elbo (default), blundell, uniform-minibatch, batch, constant:LAMBDA or linear:STEPS")
    bnn.add_argument("--n", type=int, metavar="N", help="training rows (required with --bnn)")
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
    if args.beta is None:
        raise UsageError("say what to explain: --beta B for a VAE, or --bnn --kl-weight SCHEME --n N for a BNN")
    from vaelab.objectives.explain import parse_image_shape
    from vaelab.objectives.explain_losses import explain_recon

    if args.data is None:
        reading = explain_recon(args.beta, recon=args.recon, image_shape=parse_image_shape(args.image_shape))
        print(reading.text(), end="")
        return 0
    return explain_on_data(args)


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
