"""The network of a `vaelab bnn` run: an MLP of ReLU layers, Bayesian (mean-field Gaussian weights), MAP
(one point estimate) or a deep ensemble of MAP members, with its likelihood.

    net = TableNet.from_config(config.model, task="regression", in_features=10, out_features=1)
    outputs = net.draws(x, samples=100, generator=g)    # (S, B, O): S weight samples (ensemble: S = members)
    log_lik = net.log_likelihood(outputs, y)            # (S, B): log p(y_b | x_b, w_s)

Likelihoods, per example (nats):

    regression       log N(y; f(x), sigma_n^2) = -1/2 log(2 pi) - log sigma_n - (y - f)^2 / (2 sigma_n^2),
                     sigma_n learned (a point estimate, as in Blundell et al.'s regression) or fixed
    classification   log softmax(f(x))_y

A deep ensemble (Lakshminarayanan et al. 2017) is `members` MAP networks from different initialisations;
its training loss is the mean of the members' losses, which under Adam (invariant to a constant factor per
parameter) trains each member exactly as if it were alone.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
from torch import nn

from vaelab.bnn.config import NetworkConfig
from vaelab.bnn.layers import BayesLinear, PointLinear


class MLP(nn.Module):
    """Linear layers with ReLU between them; the last layer's outputs are the mean (regression) or logits."""

    def __init__(self, sizes: list[int], *, bayes: bool, prior_std: float, posterior_std_init: float):
        super().__init__()
        self.layers = nn.ModuleList(
            BayesLinear(i, o, prior_std=prior_std, posterior_std_init=posterior_std_init) if bayes
            else PointLinear(i, o, prior_std=prior_std)
            for i, o in itertools.pairwise(sizes)
        )

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, *,
                sample: bool = True) -> torch.Tensor:
        for index, layer in enumerate(self.layers):
            x = layer(x, generator, sample=sample)
            if index < len(self.layers) - 1:
                x = torch.relu(x)
        return x


class TableNet(nn.Module):
    def __init__(self, *, kind: str, task: str, in_features: int, out_features: int, widths: list[int],
                 prior_std: float, posterior_std_init: float, members: int, noise: str, noise_std: float):
        super().__init__()
        self.hparams: dict[str, Any] = {  # every constructor argument: the network rebuilds itself from these
            "kind": kind, "task": task, "in_features": in_features, "out_features": out_features,
            "widths": list(widths), "prior_std": prior_std, "posterior_std_init": posterior_std_init,
            "members": members, "noise": noise, "noise_std": noise_std,
        }
        self.kind, self.task = kind, task
        sizes = [in_features, *widths, out_features]
        count = members if kind == "ensemble" else 1
        self.members = nn.ModuleList(MLP(sizes, bayes=kind == "bayes", prior_std=prior_std,
                                         posterior_std_init=posterior_std_init) for _ in range(count))
        log_noise = torch.tensor(math.log(noise_std))
        if task == "regression" and noise == "learned":
            self.log_noise_std = nn.Parameter(log_noise)
        else:
            self.register_buffer("log_noise_std", log_noise)

    @classmethod
    def from_config(cls, model: NetworkConfig, *, task: str, in_features: int, out_features: int) -> TableNet:
        return cls(kind=model.kind, task=task, in_features=in_features, out_features=out_features,
                   widths=model.widths, prior_std=model.prior_std, posterior_std_init=model.posterior_std_init,
                   members=model.members, noise=model.noise, noise_std=model.noise_std)

    @property
    def bayes(self) -> bool:
        return self.kind == "bayes"

    @property
    def noise_std(self) -> torch.Tensor:
        return self.log_noise_std.exp()

    def layers(self) -> list[tuple[str, nn.Module]]:
        """(name, layer) of the first member: layer1 is the input layer, the last one the output layer."""
        return [(f"layer{i + 1}", layer) for i, layer in enumerate(self.members[0].layers)]

    def draws(self, x: torch.Tensor, samples: int, generator: torch.Generator | None = None, *,
              sample: bool = True) -> torch.Tensor:
        """Outputs (S, B, O) for inputs (B, J): S draws of the weights (local reparameterisation: independent for
        each example), one for a MAP network, one per member of an ensemble. sample=False: the posterior means."""
        if self.bayes:
            if not sample:
                return self.members[0](x, sample=False).unsqueeze(0)
            repeated = x.unsqueeze(0).expand(samples, *x.shape).reshape(samples * x.shape[0], x.shape[1])
            return self.members[0](repeated, generator).reshape(samples, x.shape[0], -1)
        return torch.stack([member(x) for member in self.members])

    def log_likelihood(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """log p(y_b | x_b, w_s) (S, B) for outputs (S, B, O), nats per example (module docstring)."""
        if self.task == "regression":
            mean = outputs[..., 0]
            return (-0.5 * math.log(2 * math.pi) - self.log_noise_std
                    - (y - mean).square() / (2 * self.log_noise_std.exp().square()))
        log_probs = torch.log_softmax(outputs, dim=-1)
        return log_probs.gather(-1, y.expand(outputs.shape[0], -1).unsqueeze(-1)).squeeze(-1)

    def kl_per_layer(self) -> dict[str, torch.Tensor]:
        """KL(q || p) of each layer's weights and biases, nats (Bayesian networks only)."""
        return {name: layer.kl() for name, layer in self.layers()}

    def entropy(self) -> torch.Tensor:
        """H[q] of all the weights, nats (Bayesian networks only)."""
        return sum(layer.entropy() for _, layer in self.layers())

    def neg_log_prior(self) -> torch.Tensor:
        """-log p(w) of a point estimate, nats; an ensemble's mean over its members."""
        return torch.stack([sum(layer.neg_log_prior() for layer in member.layers)
                            for member in self.members]).mean()

    def hidden_unit_snr(self) -> dict[str, torch.Tensor]:
        """Each hidden layer's units' incoming-weight SNR (layers.BayesLinear.unit_snr); the output layer is left
        out: its units are the outputs, never pruned."""
        return {name: layer.unit_snr() for name, layer in self.layers()[:-1]}
