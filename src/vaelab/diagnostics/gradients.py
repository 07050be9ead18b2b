"""Gradient decomposition: how much of each update comes from the reconstruction term and how much
from the KL term, for the encoder, the decoder and the whole network.

The objective is loss = mean(recon) + beta * kl_objective (objectives/weighting.py), so for one
batch and one draw of the reparameterisation noise, autograd being linear,

    g_recon = grad mean(recon)        g_kl = grad (loss - mean(recon)) = grad beta * kl_objective
    g       = grad loss = g_recon + g_kl

where beta * kl_objective is the KL term as it enters the loss: beta * mean KL for a constant or
scheduled beta, its free-bits or capacity form otherwise. Over a set of parameters (a "part": the
encoder, the decoder, or all trained parameters) we report

    grad_recon_norm = |g_recon|
    grad_kl_norm    = |g_kl|
    grad_cosine     = <g_recon, g_kl> / (|g_recon| |g_kl|)     -1: the terms pull in opposite directions
    grad_kl_share   = <g_kl, g> / |g|^2                         the KL term's share of the update

The shares of the two terms, <g_recon, g> / |g|^2 and <g_kl, g> / |g|^2, add up to 1: each is the
length of that term's projection onto the update direction g, in units of |g|. A share below 0 or
above 1 means the terms conflict (one pushes back against the update the other makes).
The KL does not depend on the decoder, so on the decoder g_kl = 0: grad_kl_norm is 0, the share 0
and the cosine undefined (logged as null). The plain autoencoder has no KL term at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from vaelab.model import AtBeta, ConvVAE
from vaelab.objectives import Objective

NAMES = ("grad_recon_norm", "grad_kl_norm", "grad_cosine", "grad_kl_share")


@dataclass
class GradientStatistics:
    """The two gradients of one part of the network, compared (see the module docstring)."""

    recon_norm: float
    kl_norm: float
    cosine: float  # nan when either gradient is zero
    kl_share: float  # nan when the total gradient is zero

    @classmethod
    def of(cls, g_recon: torch.Tensor, g_kl: torch.Tensor) -> GradientStatistics:
        """g_recon, g_kl: flat gradients of the same parameters. (P,) each"""
        g_recon, g_kl = g_recon.double(), g_kl.double()
        rr, kk, rk = float(g_recon @ g_recon), float(g_kl @ g_kl), float(g_recon @ g_kl)
        total = rr + 2 * rk + kk  # |g_recon + g_kl|^2
        return cls(
            recon_norm=math.sqrt(rr),
            kl_norm=math.sqrt(kk),
            cosine=rk / math.sqrt(rr * kk) if rr > 0 and kk > 0 else math.nan,
            kl_share=(kk + rk) / total if total > 0 else math.nan,  # <g_kl, g_recon + g_kl> / |g|^2
        )


def model_parts(model: ConvVAE | AtBeta, objective: Objective) -> dict[str, list[nn.Parameter]]:
    """The parameter sets reported on: encoder, decoder, and all trained parameters (with, e.g., a learned sigma)."""
    trained = [*model.parameters(), *objective.parameters()]
    return {"encoder": model.encoder_parameters, "decoder": model.decoder_parameters, "all": trained}


def term_gradients(
    model: ConvVAE | AtBeta, objective: Objective, x: torch.Tensor, *, step: int,
    generator: torch.Generator | None = None,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{part: (g_recon, g_kl)} as flat vectors, for one batch x (B, C, H, W) and one noise draw.

    Two backward passes through one forward pass; the parameters' `.grad` is left untouched and the
    objective runs in eval mode (GECO updates its multiplier only in training mode), so this can run
    between training steps without changing the optimisation.
    """
    parts = model_parts(model, objective)
    params = list({id(p): p for part in parts.values() for p in part if p.requires_grad}.values())
    was_training = objective.training
    objective.eval()
    try:
        terms = objective(x, model(x, generator=generator), step)
    finally:
        objective.train(was_training)
    recon = terms.recon.mean()
    kl_term = terms.loss - recon  # beta * kl_objective, the KL term as it enters the loss
    g_recon = _grad(recon, params, retain_graph=True)
    g_kl = _grad(kl_term, params, retain_graph=False)
    index = {id(p): i for i, p in enumerate(params)}

    def flat(grads: list[torch.Tensor], part: list[nn.Parameter]) -> torch.Tensor:
        return torch.cat([grads[index[id(p)]].flatten() for p in part if id(p) in index])

    return {name: (flat(g_recon, part), flat(g_kl, part)) for name, part in parts.items()}


def gradient_metrics(gradients: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    """Metric names of metrics.jsonl: `grad_recon_norm/encoder`, ..., `grad_kl_share/all`."""
    metrics = {}
    for part, (g_recon, g_kl) in gradients.items():
        stats = GradientStatistics.of(g_recon, g_kl)
        values = (stats.recon_norm, stats.kl_norm, stats.cosine, stats.kl_share)
        metrics.update({f"{name}/{part}": value for name, value in zip(NAMES, values)})
    return metrics


def _grad(output: torch.Tensor, params: list[nn.Parameter], *, retain_graph: bool) -> list[torch.Tensor]:
    """d output / d params, zeros for parameters it does not depend on (the KL and the decoder)."""
    if not output.requires_grad:  # the autoencoder's KL term is a constant zero
        return [torch.zeros_like(p) for p in params]
    grads = torch.autograd.grad(output, params, retain_graph=retain_graph, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
