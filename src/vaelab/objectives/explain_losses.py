"""What beta means with a reconstruction term other than the squared error: `vaelab explain --recon l1 | ms-ssim |
watson-dft | focal-frequency` and the run page (numbers only: no torch, so that `vaelab explain` stays light).

- l1 is a Laplace decoder: L1 + beta KL = b [ -log Laplace(x; x_hat, b) + KL ] + const with scale b = beta
  (objectives/laplace.py), the counterpart of sigma^2 = beta / 2 for the summed squared error (explain.py).
- ms-ssim, watson-dft and focal-frequency are not likelihoods (objectives/recon_loss.py): the beta <-> sigma
  reading no longer holds, and the run logs the Gaussian ELBO at the optimal shared sigma in its place.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass

from vaelab.errors import UsageError
from vaelab.numbers import format_number
from vaelab.objectives.explain import BetaReading, explain_beta, what_sigma_means

LOSS_FORMULAS = {  # recon of each loss that is not a likelihood, as its module writes it; {d} is D
    "ms-ssim": "{d} * (1 - MS-SSIM(x, x_hat))",
    "watson-dft": "WatsonDFT(x, x_hat)",
    "focal-frequency": "sum_uv w(u, v) |F(x) - F(x_hat)|^2",
}


def wrap(paragraphs: list[str], head: list[str]) -> str:
    """`head` lines, then each paragraph wrapped at 100 columns, blank lines between (as `BetaReading.text`)."""
    lines = list(head)
    for paragraph in paragraphs:
        lines += [*textwrap.wrap(paragraph, width=100, subsequent_indent="  "), ""]
    return "\n".join(lines).rstrip() + "\n"


@dataclass(frozen=True)
class LaplaceReading:
    """beta read as the scale b of a Laplace decoder (`--recon l1`): b = beta, std sqrt(2) b."""

    beta: float
    image_shape: tuple[int, int, int]

    @property
    def std(self) -> float:
        return math.sqrt(2) * self.beta

    def text(self) -> str:
        c, h, w = self.image_shape
        pixels = c * h * w
        head = [f"beta = {self.beta:g} with --recon l1, images {c}x{h}x{w} (D = {pixels} pixel values)", "",
                f"  loss = sum |x - x_hat| + {self.beta:g} * KL",
                f"       = b * [ -log Laplace(x; x_hat, b) + KL ] + const,  b = beta = {self.beta:.4g}", ""]
        if self.beta == 0:
            return wrap([("Implied Laplace scale: b = 0. Any pixel error costs infinitely more than the KL, so the KL"
                          " is ignored: an autoencoder with a noisy bottleneck, whose ELBO is -inf.")], head)
        std, std_255 = format_number(self.std, 2), format_number(255 * self.std, 2)
        head += [(f"implied Laplace decoder: scale b = {format_number(self.beta, 2)}, std sqrt(2) b = {std} on a"
                  f" 0-1 scale ({std_255} on 0-255)"), ""]
        tempering = ("beta = 1 on the summed absolute error: this is the ELBO, a bound on log p(x), of a Laplace"
                     " decoder with scale b = 1." if self.beta == 1 else
                     f"Read with the b = 1 that the summed absolute error means at beta = 1, beta = {self.beta:g}"
                     f" raises p(x|z) to the power {1 / self.beta:.4g} and is no longer a bound on log p(x); re-read"
                     f" with b = {self.beta:g} it is the plain beta = 1 ELBO of a Laplace decoder with that scale,"
                     " which is a bound: vaelab logs that ELBO as `elbo` and the std sqrt(2) b as `sigma`.")
        gaussian = math.sqrt(self.beta / 2)
        side = "below" if self.std < gaussian else "above" if self.std > gaussian else "equal to"
        noise = f"Pixel errors of std {std} on a 0-1 scale ({std_255} of 255) are treated as noise: "
        compared = (f"At this beta the Laplace's std is {side} the sigma = sqrt(beta / 2) ="
                    f" {format_number(gaussian, 2)} that the summed squared error implies (the two cross at"
                    " beta = 1/4), and its heavier tails forgive a few large errors more than many small ones.")
        return wrap([noise + what_sigma_means(self.std), tempering, compared], head)


@dataclass(frozen=True)
class LossReading:
    """A loss that is not a likelihood: beta is a trade-off weight with no noise level behind it."""

    beta: float
    recon: str
    image_shape: tuple[int, int, int]

    def text(self) -> str:
        c, h, w = self.image_shape
        pixels = c * h * w
        formula = LOSS_FORMULAS[self.recon].format(d=pixels)
        head = [f"beta = {self.beta:g} with --recon {self.recon}, images {c}x{h}x{w} (D = {pixels} pixel values)", "",
                f"  loss = {formula} + {self.beta:g} * KL", ""]
        no_reading = (f"--recon {self.recon} is not the negative log-likelihood of any decoder, so this loss is not"
                      " an ELBO and the beta <-> sigma reading of the squared error (sigma^2 = beta / 2) no longer"
                      " holds: beta is a plain trade-off weight, on a scale that the loss sets, with no pixel noise"
                      " level behind it. Tune it by what it does (reconstructions, samples, the KL) rather than by"
                      " its value.")
        compared = ("So that the run can still be compared with the others, vaelab logs `elbo_optimal_sigma`: the"
                    " beta = 1 ELBO of the same encoder and decoder read as a Gaussian decoder at the optimal shared"
                    " sigma (sigma^2 = the mean squared pixel error, logged as `sigma_optimal`; `elbo` itself is n/a),"
                    " and `vaelab evaluate` gives every run its elbo_optimal_sigma with that sigma fitted on the"
                    " training images.")
        return wrap([no_reading, compared], head)


def explain_recon(beta: float, *, recon: str = "sse", image_shape: tuple[int, int, int] = (3, 64, 64)
                  ) -> BetaReading | LaplaceReading | LossReading:
    """What `recon + beta * KL` means: a Gaussian's sigma (sse, mse-mean), a Laplace's scale (l1), or no noise
    level at all (a loss that is not a likelihood)."""
    if recon in LOSS_FORMULAS or recon == "l1":
        if not (math.isfinite(beta) and beta >= 0):
            raise UsageError(f"--beta {beta:g} is not a finite number >= 0: e.g. --beta 0.1")
        if recon == "l1":
            return LaplaceReading(beta=beta, image_shape=tuple(image_shape))
        return LossReading(beta=beta, recon=recon, image_shape=tuple(image_shape))
    return explain_beta(beta, recon=recon, image_shape=image_shape)
