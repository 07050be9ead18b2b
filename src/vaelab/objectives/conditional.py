"""Loss-conditional training: one model for every beta (Dosovitskiy & Djolonga 2020, "You Only Train Once").

Instead of one run per beta, one network is told the beta it should serve (FiLM, vaelab.film) and is
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
