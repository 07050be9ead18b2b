"""`LossTerms`: the loss terms of one batch, carried together so no one ever sees only their sum.

Reduction convention (DESIGN.md): per-example tensors are sums over pixels (recon, elbo) or over
latent dimensions (kl), in nats per image; `mse` is per pixel; batch values are means over examples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch


@dataclass
class LossTerms:
    """One batch's objective and the terms it is made of.

    loss:  the scalar that is minimised (batch mean of the weighted objective)
    recon: the reconstruction term as trained, per example (B,)
    kl:    the true KL[q(z|x) || p(z)] per example (B,), before free bits or capacity control
    elbo:  the beta = 1 evidence lower bound under the stated likelihood, per example (B,)
    mse:   mean squared pixel error per example (B,)
    beta:  the KL weight in force at this step; a loss-conditional model's are per example (B,), logged
           as their geometric mean exp(mean log beta), the centre of a log-uniform draw
    sigma: the decoder standard deviation (implied, fixed, learned or optimal); nan for Bernoulli
    extras: the state of the KL-weighting method (e.g. capacity, geco_lambda), logged as is
    """

    loss: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor
    elbo: torch.Tensor
    mse: torch.Tensor
    beta: float | torch.Tensor
    sigma: float = math.nan
    extras: dict[str, float] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """Batch means as plain floats, under the metric names of DESIGN.md."""
        return {
            "loss": float(self.loss.detach()),
            "recon": float(self.recon.detach().mean()),
            "kl": float(self.kl.detach().mean()),
            "beta": self.logged_beta(),
            "elbo": float(self.elbo.detach().mean()),
            "mse": float(self.mse.detach().mean()),
            "sigma": float(self.sigma),
            **self.extras,
        }

    def logged_beta(self) -> float:
        """beta as one number: itself, or the geometric mean of per-example betas."""
        if isinstance(self.beta, torch.Tensor):
            return float(self.beta.detach().double().log().mean().exp())
        return float(self.beta)
