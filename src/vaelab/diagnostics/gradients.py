"""The gradient view: how the reconstruction term and the KL term pull on each part of the network, in
gradient descent and in the steps Adam actually takes.

The objective is loss = mean(recon) + beta * kl_objective (objectives/weighting.py), so for one batch and
one draw of the reparameterisation noise, autograd being linear,

    g_recon = grad mean(recon)        g_kl = grad (loss - mean(recon)) = grad beta * kl_objective
    g       = grad loss = g_recon + g_kl

where beta * kl_objective is the KL term as it enters the loss (beta * mean KL for a constant or scheduled
beta, its free-bits or capacity form otherwise). Over a group of parameters we report

    ratio        = |g_kl| / |g_recon|                        how hard the KL pulls, against the reconstruction
    cosine       = <g_recon, g_kl> / (|g_recon| |g_kl|)       -1: the two pull in opposite directions
    cancellation = |g_recon + g_kl| / (|g_recon| + |g_kl|)    0: they cancel exactly, 1: they point the same way

Both ratio and cosine are well defined whenever the two gradients are not zero, also when they nearly
cancel. The "share" <g_kl, g> / |g|^2 that vaelab logged before is not: its denominator goes to 0 as the
terms balance, so at cosine -0.98 a ratio of 0.98 reads 0.00 and one of 1.02 reads 0.99. And the terms do
balance, at any stationary point of the loss and for any beta: the share measured nothing about beta.
When the cancellation is below BALANCED the terms are labelled "balanced": they mostly cancel, and the
step is what is left of their difference.

Adam does not step along g but along m / (sqrt(v) + eps) (Kingma & Ba 2015, Algorithm 1), each coordinate
divided by its running RMS gradient. The same ratio and cosine of the preconditioned terms,
g_recon / (sqrt(v_hat) + eps) and g_kl / (sqrt(v_hat) + eps) with the optimiser's current bias-corrected
v_hat, compare the two terms in the coordinates that move the weights (`adam_ratio`, `adam_cosine`).

Groups (`parameter_groups`): the encoder, and within it the body (every encoder parameter but the
posterior head), the rows of the head that give the posterior mean and those that give the log-variance;
and the decoder, which the KL does not depend on (its ratio is 0 and its cosine undefined).

The numbers of one record are means over several fixed batches, with a 95% t interval over them
(`summarise`): the noise of one batch and one noise draw is part of what they measure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vaelab.diagnostics.intervals import mean_and_interval
from vaelab.model import AtBeta, ConvVAE
from vaelab.objectives import Objective

BALANCED = 0.25  # cancellation below this: the two terms mostly cancel (e.g. cosine -0.9 at ratio 0.8 to 1.25)
GROUPS = ("encoder", "encoder_body", "mean_head", "logvar_head", "decoder")
Piece = tuple[nn.Parameter, slice | None]  # a parameter, or the rows of it that belong to a group


@dataclass
class GradientStatistics:
    """The two gradients of one group of parameters on one batch, compared (see the module docstring)."""

    recon_norm: float
    kl_norm: float
    ratio: float  # nan when the reconstruction gradient is zero
    cosine: float  # nan when either gradient is zero
    cancellation: float  # nan when both are zero

    @classmethod
    def of(cls, g_recon: torch.Tensor, g_kl: torch.Tensor) -> GradientStatistics:
        """g_recon, g_kl: flat gradients of the same parameters. (P,) each"""
        g_recon, g_kl = g_recon.double(), g_kl.double()
        rr, kk, rk = float(g_recon @ g_recon), float(g_kl @ g_kl), float(g_recon @ g_kl)
        recon_norm, kl_norm = math.sqrt(rr), math.sqrt(kk)
        total = math.sqrt(max(rr + 2 * rk + kk, 0.0))  # |g_recon + g_kl|
        return cls(
            recon_norm=recon_norm,
            kl_norm=kl_norm,
            ratio=kl_norm / recon_norm if rr > 0 else math.nan,
            cosine=rk / (recon_norm * kl_norm) if rr > 0 and kk > 0 else math.nan,
            cancellation=total / (recon_norm + kl_norm) if rr + kk > 0 else math.nan,
        )


def regime(ratio: float, cancellation: float) -> str:
    """The two terms in a word: "balanced" when they mostly cancel, else which of them leads; "no KL" where
    the KL does not reach (the decoder, the autoencoder)."""
    if not math.isfinite(ratio) or ratio == 0:
        return "no KL"
    if math.isfinite(cancellation) and cancellation < BALANCED:
        return "balanced"
    return "reconstruction leads" if ratio < 1 else "KL leads"


def parameter_groups(model: ConvVAE | AtBeta) -> dict[str, list[Piece]]:
    """The groups reported on (GROUPS): the encoder, its body and the mean and log-variance rows of its
    posterior head (the `posterior_head` Linear whose output is chunked into mean and log-variance), and
    the decoder. A network without such a head gets the encoder and the decoder alone."""
    network = model.model if isinstance(model, AtBeta) else model
    encoder = [(p, None) for p in model.encoder_parameters]
    groups: dict[str, list[Piece]] = {"encoder": encoder}
    head = getattr(network, "posterior_head", None)
    if model.kind == "vae" and isinstance(head, nn.Linear):
        z = model.latent_dim
        in_head = {id(head.weight), id(head.bias)}
        body = [(p, rows) for p, rows in encoder if id(p) not in in_head]
        if body:
            groups["encoder_body"] = body
        groups["mean_head"] = [(head.weight, slice(0, z)), (head.bias, slice(0, z))]
        groups["logvar_head"] = [(head.weight, slice(z, 2 * z)), (head.bias, slice(z, 2 * z))]
    groups["decoder"] = [(p, None) for p in model.decoder_parameters]
    return groups


@dataclass
class TermGradients:
    """d mean(recon) and d (beta kl_objective) with respect to each parameter of `params`, for one batch."""

    params: list[nn.Parameter]
    recon: list[torch.Tensor]
    kl: list[torch.Tensor]

    def of_group(self, pieces: list[Piece], scale: dict[int, torch.Tensor] | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """(g_recon, g_kl) of a group as flat vectors; with `scale` each parameter's gradients divided by its
        tensor there (Adam's sqrt(v_hat) + eps)."""
        index = {id(p): i for i, p in enumerate(self.params)}

        def flat(grads: list[torch.Tensor]) -> torch.Tensor:
            parts = []
            for p, rows in pieces:
                if id(p) not in index:
                    continue
                g = grads[index[id(p)]] if scale is None else grads[index[id(p)]] / scale[id(p)]
                parts.append((g if rows is None else g[rows]).flatten())
            return torch.cat(parts) if parts else torch.zeros(0)

        return flat(self.recon), flat(self.kl)


def term_gradients(model: ConvVAE | AtBeta, objective: Objective, x: torch.Tensor, *, step: int,
                   generator: torch.Generator | None = None) -> TermGradients:
    """The two terms' gradients for one batch x (B, C, H, W) and one noise draw, for every trained parameter
    of the model.

    Two backward passes through one forward pass; the parameters' `.grad` is left untouched and the
    objective runs in eval mode (GECO updates its multiplier only in training mode), so this can run
    between training steps without changing the optimisation.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    was_training = objective.training
    objective.eval()
    try:
        terms = objective(x, model(x, generator=generator, samples=objective.samples), step, generator=generator)
    finally:
        objective.train(was_training)
    recon = terms.recon.mean()
    kl_term = terms.loss - recon  # beta * kl_objective, the KL term as it enters the loss
    return TermGradients(params=params, recon=_grad(recon, params, retain_graph=True),
                         kl=_grad(kl_term, params, retain_graph=False))


def batch_statistics(gradients: TermGradients, groups: dict[str, list[Piece]],
                     preconditioner: dict[int, torch.Tensor] | None = None
                     ) -> dict[str, tuple[GradientStatistics, GradientStatistics | None]]:
    """{group: (statistics of the gradients, statistics of Adam's preconditioned gradients or None)}."""
    found = {}
    for name, pieces in groups.items():
        plain = GradientStatistics.of(*gradients.of_group(pieces))
        adam = None if preconditioner is None else GradientStatistics.of(*gradients.of_group(pieces, preconditioner))
        found[name] = (plain, adam)
    return found


def summarise(per_batch: list[dict[str, tuple[GradientStatistics, GradientStatistics | None]]]) -> dict[str, object]:
    """Metric names of metrics.jsonl (docs/metrics.md): per group G, `grad_recon_norm/G`, `grad_kl_norm/G`,
    `grad_ratio/G` and `grad_cosine/G` with `_ci/G` (95% t intervals over the batches), `grad_cancellation/G`,
    and `adam_ratio/G`, `adam_cosine/G` with their intervals; `grad_batches`, the number of batches."""
    metrics: dict[str, object] = {"grad_batches": len(per_batch)}
    for group in per_batch[0]:
        plain = [batch[group][0] for batch in per_batch]
        adam = [batch[group][1] for batch in per_batch if batch[group][1] is not None]
        metrics[f"grad_recon_norm/{group}"] = float(np.mean([s.recon_norm for s in plain]))
        metrics[f"grad_kl_norm/{group}"] = float(np.mean([s.kl_norm for s in plain]))
        metrics[f"grad_cancellation/{group}"] = mean_and_interval([s.cancellation for s in plain])[0]
        series = [("grad", plain)] + ([("adam", adam)] if adam else [])
        for prefix, statistics in series:
            for name in ("ratio", "cosine"):
                mean, interval = mean_and_interval([getattr(s, name) for s in statistics])
                metrics[f"{prefix}_{name}/{group}"] = mean
                metrics[f"{prefix}_{name}_ci/{group}"] = interval
    return metrics


def _grad(output: torch.Tensor, params: list[nn.Parameter], *, retain_graph: bool) -> list[torch.Tensor]:
    """d output / d params, zeros for parameters it does not depend on (the KL and the decoder)."""
    if not output.requires_grad:  # the autoencoder's KL term is a constant zero
        return [torch.zeros_like(p) for p in params]
    grads = torch.autograd.grad(output, params, retain_graph=retain_graph, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
