"""Loss-conditional training: one model for every beta (Dosovitskiy & Djolonga 2020, "You Only Train Once").

Instead of one run per beta, one network is told the beta it should serve (FiLM, vaelab.model.film) and is
trained on all of them at once. Each training example gets its own beta, drawn log-uniformly over
`objective.beta_range` = [lo, hi],

    log beta ~ U(log lo, log hi),  i.e.  beta = lo * (hi / lo)^u,  u ~ U(0, 1)

so every decade of the range gets the same share of the examples; the median is the geometric mean
sqrt(lo * hi). The loss weighs each example's KL by its own beta (YOTO, eq. 2 with a per-example
weight), the objective of a separate run at that beta averaged over the betas:

    loss = mean over the batch b of [recon_b + beta_b * KL_b]

`beta` in the training logs is the geometric mean of the batch's betas. Validation, figures and
best.pt use the fixed beta `objective.beta` (inside the range), so that every validation pass is
comparable and reads like a separate run's at that beta; `vaelab evaluate RUN --beta B` serves any
other beta of the range.
"""

from __future__ import annotations

import math

import torch

from vaelab.config import Config
from vaelab.errors import UsageError


def check_config(config: Config, weighting: list[str]) -> None:
    """A loss-conditional model's range, and what it does not combine with: `weighting`, the flags of the KL
    weighting methods the config also sets (each sets the KL weight itself)."""
    objective = config.objective
    if config.model.kind == "ae":
        raise UsageError("the autoencoder has no KL term, so no beta to condition on: drop --beta-range, "
                         "or use --model vae")
    if len(objective.beta_range) != 2 or not 0 < objective.beta_range[0] < objective.beta_range[1]:
        raise UsageError(f"objective.beta_range={objective.beta_range} must be [LO, HI] with 0 < LO < HI: "
                         "e.g. --beta-range 0.01:10")
    low, high = objective.beta_range
    if weighting:
        raise UsageError(f"--beta-range gives every example its own fixed beta, and {weighting[0]} sets the KL "
                         f"weight itself: drop one of the two")
    if objective.recon in ("sigma-learned", "sigma-optimal"):
        raise UsageError(f"--recon {objective.recon} fits one decoder sigma to all examples, but the sigma that suits "
                         "a beta changes with beta: use --recon sse, mse-mean, gaussian or bernoulli with "
                         "--beta-range")
    if not low <= objective.beta <= high:
        raise UsageError(f"objective.beta={objective.beta:g} is outside objective.beta_range [{low:g}, {high:g}]: a "
                         "loss-conditional model is validated and drawn at objective.beta; give --beta inside "
                         f"the range, e.g. --beta {math.sqrt(low * high):.2g}")


def check_beta(config: Config, beta: float, run: object, flag: str = "--beta") -> None:
    """A beta to serve from the run (at `run`, for the message) that `config` trained: one inside the range of a
    loss-conditional run; no other run serves any beta but its own. `flag`: how the user gave it."""
    objective = config.objective
    if objective.beta_range is None:
        trained = ("is an autoencoder: it has no KL term, so no beta" if config.model.kind == "ae"
                   else f"was trained at beta = {objective.beta:g} alone")
        raise UsageError(f"{run} {trained}: {flag} needs a loss-conditional run (vaelab train --beta-range LO:HI)")
    low, high = objective.beta_range
    if not (math.isfinite(beta) and low <= beta <= high):
        raise UsageError(f"{flag} {beta:g} is outside the range {run} was trained on, [{low:g}, {high:g}]: give a beta "
                         "inside it")


class LogUniformBeta:
    """Per-example KL weights drawn log-uniformly over [low, high]."""

    def __init__(self, low: float, high: float):
        self.low = low
        self.high = high

    @property
    def median(self) -> float:
        """sqrt(low * high): half of the betas fall below the geometric mean of the ends."""
        return math.sqrt(self.low * self.high)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n betas, lo * (hi / lo)^u with u ~ U(0, 1), on the generator's device. (n,)"""
        u = torch.rand(n, generator=generator, device=generator.device)
        return self.low * (self.high / self.low) ** u
