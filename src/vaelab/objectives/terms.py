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
    elbo:  the beta = 1 evidence lower bound under the run's own likelihood (its sigma), per example (B,)
    elbo_shared_sigma: the beta = 1 ELBO with the decoder read as a Gaussian of the sigma every run shares,
           sigma^2 = 1/2 (likelihood.SHARED_SIGMA), per example (B,): the one to compare runs by
    mse:   mean squared pixel error per example (B,)
    beta:  the KL weight in force at this step; a loss-conditional model's are per example (B,), logged
           as their geometric mean exp(mean log beta), the centre of a log-uniform draw
    sigma: the decoder standard deviation (implied, fixed, learned or optimal); nan for Bernoulli and the AE
    extras: the state of the KL-weighting method (e.g. capacity, geco_lambda), logged as is

    Values that live on the device (a learned sigma, GECO's multiplier) stay tensors, so that logging a step
    does not wait for it.
    """

    loss: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor
    elbo: torch.Tensor
    elbo_shared_sigma: torch.Tensor
    mse: torch.Tensor
    beta: float | torch.Tensor
    sigma: float | torch.Tensor = math.nan
    extras: dict[str, float | torch.Tensor] = field(default_factory=dict)

    def metric_values(self) -> dict[str, float | torch.Tensor]:
        """Batch means under the metric names of DESIGN.md, as detached 0-d float64 tensors (or floats where a
        value is a plain number): adding them up over steps costs no host synchronisation (`as_floats` reads
        them)."""
        values = {
            "loss": self.loss.detach(),
            "recon": self.recon.detach().mean(),
            "kl": self.kl.detach().mean(),
            "beta": self._beta(),
            "elbo": self.elbo.detach().mean(),
            "elbo_shared_sigma": self.elbo_shared_sigma.detach().mean(),
            "mse": self.mse.detach().mean(),
            "sigma": self.sigma,
            **self.extras,
        }
        return {name: value.detach().double() if isinstance(value, torch.Tensor) else value
                for name, value in values.items()}

    def metrics(self) -> dict[str, float]:
        """`metric_values` as plain floats (one host synchronisation)."""
        return as_floats(self.metric_values())

    def logged_beta(self) -> float:
        """beta as one number: itself, or the geometric mean of per-example betas."""
        return float(self._beta())

    def _beta(self) -> float | torch.Tensor:
        if isinstance(self.beta, torch.Tensor):
            return self.beta.detach().double().log().mean().exp()
        return float(self.beta)


def as_floats(values: dict[str, float | torch.Tensor]) -> dict[str, float]:
    """Plain floats from a mix of floats and 0-d tensors, reading all the tensors back in one transfer."""
    tensors = {name: value for name, value in values.items() if isinstance(value, torch.Tensor)}
    read = {}
    if tensors:
        read = dict(zip(tensors, torch.stack([t.double().reshape(()) for t in tensors.values()]).tolist()))
    return {name: read[name] if name in read else float(value) for name, value in values.items()}
