"""`vaelab explain`: what a KL weight beta means as a decoder noise level sigma, and why it matters."""

from __future__ import annotations

import argparse

EXAMPLES = """examples:
  vaelab explain --beta 0.1                                      # the seed's loss: sigma = 0.22
  vaelab explain --beta 0.1 --recon sse --image-shape 3x64x64
  vaelab explain --beta 1 --recon mse-mean --image-shape 3x64x64   # F.mse_loss + KL: sigma = 78
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "explain", help="read a KL weight beta as the decoder's sigma", description=__doc__, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--beta", type=float, required=True, help="the weight of the KL term, e.g. 0.1")
    parser.add_argument("--recon", choices=("sse", "mse-mean"), default="sse",
                        help="sse: squared error summed over pixels (default); mse-mean: averaged over pixels")
    parser.add_argument("--image-shape", default="3x64x64", metavar="CxHxW",
                        help="channels x height x width (default 3x64x64); D = C*H*W matters for mse-mean")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.objectives.explain import explain_beta, parse_image_shape

    reading = explain_beta(args.beta, recon=args.recon, image_shape=parse_image_shape(args.image_shape))
    print(reading.text(), end="")
    return 0
