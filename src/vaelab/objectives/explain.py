"""The translation between beta and the decoder's sigma: what a squared-error loss with a KL weight means.

The Gaussian NLL with std sigma is SSE / (2 sigma^2) + D log sigma + D/2 log(2 pi), so

    SSE + beta * KL  =  2 sigma^2 * [ -log N(x; x_hat, sigma^2 I) + KL ] + const,   sigma^2 = beta / 2

and with the squared error averaged over the D pixel values (PyTorch's default reduction) the same
holds with sigma^2 = beta * D / 2. Under Adam the factor 2 sigma^2 does not change the training, so a
"beta-VAE with squared error" is a plain beta = 1 VAE whose decoder assumes pixel noise of std sigma.
Read with a fixed likelihood instead (sigma^2 = 1/2, the one sse means at beta = 1), beta < 1 raises
the likelihood to the power 1/beta: a tempered objective, no longer a bound on log p(x).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass

from vaelab.errors import UsageError
from vaelab.numbers import format_number

UNIFORM_PIXEL_STD = 1 / math.sqrt(12)  # std of a pixel uniform on [0, 1]: 0.29, the spread of a "typical" image


def parse_image_shape(text: str) -> tuple[int, int, int]:
    """'3x64x64' -> (3, 64, 64); anything else raises a one-line `UsageError`."""
    parts = text.lower().split("x")
    if len(parts) == 3 and all(part.strip().isdigit() and int(part) > 0 for part in parts):
        channels, height, width = (int(part) for part in parts)
        return channels, height, width
    raise UsageError(f"--image-shape {text!r} is not CxHxW with positive sizes: e.g. --image-shape 3x64x64")


@dataclass(frozen=True)
class BetaReading:
    """beta read as a decoder std. `sse_beta` is the beta of the same objective written with --recon sse."""

    beta: float
    recon: str  # "sse" or "mse-mean"
    image_shape: tuple[int, int, int]
    pixels: int  # D = C * H * W
    variance: float  # sigma^2 = beta / 2, or beta * D / 2
    sigma: float  # on the 0-1 pixel scale
    sse_beta: float

    @property
    def sigma_255(self) -> float:
        """sigma on the 0-255 scale of 8-bit pixels."""
        return 255 * self.sigma

    def text(self) -> str:
        """The reading in words, as `vaelab explain` prints it (paragraphs wrapped at 100 columns)."""
        c, h, w = self.image_shape
        if self.recon == "sse":
            error, rule, factor = "sum (x - x_hat)^2", "beta / 2", ""
        else:
            error, rule, factor = f"sum (x - x_hat)^2 / {self.pixels}", "beta * D / 2", " / D"
        lines = [
            f"beta = {self.beta:g} with --recon {self.recon}, images {c}x{h}x{w} (D = {self.pixels} pixel values)",
            "",
            f"  loss = {error} + {self.beta:g} * KL",
            (f"       = 2 sigma^2 * [ -log N(x; x_hat, sigma^2) + KL ]{factor} + const,"
             f"  sigma^2 = {rule} = {self.variance:.4g}"),
            "",
        ]
        paragraphs = []
        if self.sigma == 0:
            paragraphs.append(
                "Implied decoder std: sigma = 0. Any pixel error costs infinitely more than the KL, so the KL is"
                " ignored: this is an autoencoder with a noisy bottleneck, and its ELBO is -inf."
            )
        else:
            sigma, sigma_255 = format_number(self.sigma, 2), format_number(self.sigma_255, 2)
            lines += [f"implied decoder std: sigma = {sigma} on a 0-1 scale ({sigma_255} on 0-255)", ""]
            paragraphs.append(
                f"A typical pixel error of {sigma} on a 0-1 scale ({sigma_255} of 255) is treated as noise: "
                + what_sigma_means(self.sigma)
            )
            paragraphs.append(self._tempering())
        if self.recon == "mse-mean":
            paragraphs.append(
                f"--recon mse-mean averages the squared error over the D = {self.pixels} pixel values (PyTorch's"
                f" default reduction='mean'), so it is --recon sse with beta = {self.beta:g} * {self.pixels} ="
                f" {self.sse_beta:.6g}: the same --beta weighs the KL {self.pixels} times more than with summed"
                " error. F.mse_loss(x_hat, x) + beta * KL is the most common bug in public VAE code. To choose the"
                " noise level sigma, sum over pixels with --recon sse --beta 2*sigma^2 (e.g. --beta 0.02 for"
                " sigma = 0.1), or keep the mean with --beta 2*sigma^2/D."
            )
        for paragraph in paragraphs:
            lines += [*textwrap.wrap(paragraph, width=100, subsequent_indent="  "), ""]
        return "\n".join(lines).rstrip() + "\n"

    def _tempering(self) -> str:
        if self.sse_beta == 1:
            return ("beta = 1 on the summed squared error: this is the ELBO, a bound on log p(x), of a Gaussian"
                    " decoder with that sigma.")
        below = self.sse_beta < 1
        if self.recon == "sse":
            weight = f"beta = {self.beta:g}"
        else:
            weight = f"A KL weight of {self.sse_beta:.6g} on the summed error"
        return (
            f"{weight} {'<' if below else '>'} 1 tempers the likelihood: read with the sigma^2 = 1/2 that summed"
            f" squared error means at beta = 1, the objective raises p(x|z) to the power {1 / self.sse_beta:.4g}"
            f" ({'sharper' if below else 'flatter'}) and is then no longer a bound on log p(x). Re-read with"
            f" sigma = {format_number(self.sigma, 2)} it is the plain beta = 1 ELBO of a Gaussian decoder with that"
            " sigma, which is a bound: vaelab logs that ELBO as `elbo` and that sigma as `sigma`."
        )


def implied_variance(beta: float, *, recon: str, pixels: int) -> float:
    """The decoder variance that `recon + beta * KL` implies: sigma^2 = beta / 2 for the summed squared error
    (`sse`), beta * D / 2 for its mean over the D = `pixels` values (`mse-mean`)."""
    return (beta * pixels if recon == "mse-mean" else beta) / 2


def explain_beta(beta: float, *, recon: str = "sse", image_shape: tuple[int, int, int] = (3, 64, 64)) -> BetaReading:
    """The decoder std that `recon + beta * KL` implies: sigma^2 = beta / 2 (sse) or beta * D / 2 (mse-mean)."""
    if not (math.isfinite(beta) and beta >= 0):
        raise UsageError(f"--beta {beta:g} is not a finite number >= 0: e.g. --beta 0.1")
    if recon not in ("sse", "mse-mean"):
        raise UsageError(f"--recon {recon} states its own sigma: explain reads --recon sse or --recon mse-mean")
    pixels = math.prod(image_shape)
    variance = implied_variance(beta, recon=recon, pixels=pixels)
    sse_beta = 2 * variance  # the beta of the same objective written with the summed squared error
    return BetaReading(beta=beta, recon=recon, image_shape=tuple(image_shape), pixels=pixels, variance=variance,
                       sigma=math.sqrt(variance), sse_beta=sse_beta)


def what_sigma_means(sigma: float) -> str:
    if sigma >= 1:
        return ("more than the whole 0-1 range: the image is pure noise to the model. Expect the KL to win,"
                " the posterior to collapse, and every reconstruction to look like the mean image.")
    if sigma >= UNIFORM_PIXEL_STD:
        return ("as large as the spread of the pixels themselves"
                f" (uniform 0-1 pixels have std {UNIFORM_PIXEL_STD:.2f}):"
                " most of the image counts as noise. Expect blurry reconstructions and few active latents.")
    return ("differences of that size are cheaper to leave as noise than to encode in z, so expect finer detail"
            " to be blurred away.")
