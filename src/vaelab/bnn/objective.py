"""The loss of one minibatch as a named structure: the two terms, the weight in force, and the lambda = 1 ELBO.

Per example, for a Bayesian network (weighting.py, eq. 1, with the temperature folded in):

    loss = nll + kl_weight * (kl + entropy_factor * entropy) / N

    nll            mean_b E_q[-log p(y_b | x_b, w)], by Monte Carlo over `samples` draws per example
    kl             KL(q(w) || p(w)) of the whole network (nats, not divided by anything)
    kl_weight      lambda of the scheme at this step, times T under likelihood tempering
    entropy_factor 1 - T under posterior tempering (E_q[-log p(w)] - T H[q] = KL + (1 - T) H[q]), else 0
    N              the training examples

    elbo = -(nll + kl / N)        the lambda = 1, T = 1 ELBO per example, nats (higher is better)

A MAP network or ensemble minimises nll + (-log p(w)) / N, the log posterior up to a constant per example
(weight decay 1 / (N s^2) on the mean NLL); it has no q, so `kl`, `entropy` and `elbo` are None.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vaelab.bnn.model import TableNet
from vaelab.bnn.weighting import Tempering


@dataclass
class BNNTerms:
    """One minibatch's objective, per example (nats): loss == nll + kl_weight * (kl + entropy_factor * entropy) / n
    for a Bayesian network, nll + neg_log_prior / n for point estimates."""

    loss: torch.Tensor
    nll: torch.Tensor
    n: int
    kl_weight: float
    entropy_factor: float = 0.0
    kl: torch.Tensor | None = None
    kl_per_layer: dict[str, torch.Tensor] | None = None
    entropy: torch.Tensor | None = None
    neg_log_prior: torch.Tensor | None = None

    @property
    def elbo(self) -> torch.Tensor | None:
        """-(nll + KL / N): the untempered, lambda = 1 ELBO per example; None without a posterior."""
        return None if self.kl is None else -(self.nll + self.kl / self.n)

    def scalars(self) -> dict[str, float]:
        """The terms as the metrics.jsonl names them (docs/metrics.md)."""
        record = {"loss": self.loss.item(), "nll": self.nll.item()}
        if self.kl is not None:
            record.update(kl=self.kl.item(), kl_weight=self.kl_weight, elbo=self.elbo.item(),
                          entropy=self.entropy.item())
            record.update({f"kl/{name}": value.item() for name, value in self.kl_per_layer.items()})
        else:
            record["neg_log_prior"] = self.neg_log_prior.item()
        return record


def minibatch_terms(net: TableNet, x: torch.Tensor, y: torch.Tensor, *, n: int, kl_weight: float,
                    tempering: Tempering, samples: int, generator: torch.Generator | None = None) -> BNNTerms:
    """The objective on a minibatch (x (B, J), y (B,)) of a training set of n examples. `kl_weight` is the
    scheme's lambda at this step (weighting.KLWeighting.weight); the temperature multiplies it here."""
    outputs = net.draws(x, samples, generator)  # (S, B, O)
    nll = -net.log_likelihood(outputs, y).mean()  # the mean over draws and examples
    if not net.bayes:
        penalty = net.neg_log_prior()
        return BNNTerms(loss=nll + penalty / n, nll=nll, n=n, kl_weight=0.0, neg_log_prior=penalty)
    per_layer = net.kl_per_layer()
    kl = torch.stack(list(per_layer.values())).sum()
    weight = kl_weight * tempering.lambda_factor
    if tempering.entropy_factor:
        entropy = net.entropy()
        loss = nll + weight * (kl + tempering.entropy_factor * entropy) / n
    else:
        with torch.no_grad():  # logged, not trained: its gradient would be multiplied by 0
            entropy = net.entropy()
        loss = nll + weight * kl / n
    return BNNTerms(loss=loss, nll=nll, n=n, kl_weight=weight, entropy_factor=tempering.entropy_factor, kl=kl,
                    kl_per_layer=per_layer, entropy=entropy)
