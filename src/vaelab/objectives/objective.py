"""The objective: the one place where the reconstruction term and the KL term are weighed.

    loss = mean over the batch of recon(x)  +  beta * kl_objective

The likelihood (likelihood.py, decoder_variance.py) gives the reconstruction term; the KL weighting
(weighting.py: a beta schedule, free bits, capacity control or GECO) gives beta and the KL term as
it enters the loss. A loss-conditional model (conditional.py) brings its own beta per example instead:
the betas it served, drawn here by `sample_beta`, weigh each example's KL. The trainer calls
`Objective(x, output, step)` and gets `LossTerms` back: the weighted loss it minimises, both terms,
the true KL and the beta = 1 ELBO, so the terms are never seen only as their sum. State that must
survive a restart (a learned sigma, GECO's multiplier) lives in this module's `state_dict`, which goes
into every checkpoint.

The KL is asked of the posterior and the prior the output carries (kl.py: closed form for N(0, I), Monte Carlo
for the VampPrior). `objective.method` forms the KL term: the ELBO's KL (elbo), beta-TCVAE's weighted parts
(tcvae.py) or InfoVAE's KL and MMD (infovae.py), which the KL weighting then weighs like the KL; or the
importance-weighted bound of `samples` codes per image in place of the whole ELBO objective (iwae.py).
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from vaelab.config import EXTRA_RECONS, Config, ObjectiveConfig
from vaelab.model import VAEOutput
from vaelab.objectives.adversarial import AdversarialTerm
from vaelab.objectives.capacity import CapacityControl
from vaelab.objectives.conditional import LogUniformBeta
from vaelab.objectives.decoder_variance import LearnedSigmaGaussian, OptimalSigmaGaussian
from vaelab.objectives.explain import implied_variance
from vaelab.objectives.focal_frequency import FocalFrequencyLoss
from vaelab.objectives.free_bits import FreeBits
from vaelab.objectives.geco import GECO
from vaelab.objectives.laplace import LaplaceL1
from vaelab.objectives.infovae import InfoMMD
from vaelab.objectives.iwae import iwae_bound, iwae_loss
from vaelab.objectives.kl import CLOSED_FORM, NO_KL, kl_estimate, monte_carlo
from vaelab.objectives.likelihood import Bernoulli, FixedGaussian, Likelihood, SumSquaredError, elbo_shared_sigma
from vaelab.objectives.ms_ssim import MSSSIMLoss
from vaelab.objectives.recon_loss import ReconstructionLoss, WithAddedLoss
from vaelab.objectives.schedules import BetaSchedule
from vaelab.objectives.tcvae import TotalCorrelationPenalty
from vaelab.objectives.terms import LossTerms
from vaelab.objectives.watson import WatsonDFTLoss
from vaelab.objectives.weighting import KLWeight, KLWeighting, ScheduledKL

FIXED_SIGMA = 1.0  # --recon gaussian's sigma without --sigma


def make_likelihood(config: ObjectiveConfig, image_shape: tuple[int, int, int]) -> Likelihood:
    """The decoder likelihood named by `config.recon` (or the loss, recon_loss.py), for images of shape (C, H, W),
    with `recon_extra` added."""
    if config.recon_extra is not None:
        main = make_likelihood(dataclasses.replace(config, recon_extra=None), image_shape)
        return WithAddedLoss(main, make_loss(config.recon_extra, image_shape), config.recon_extra_weight)
    if config.recon in EXTRA_RECONS:
        return make_loss(config.recon, image_shape)
    pixels = math.prod(image_shape)
    channels = image_shape[0]
    if config.recon == "l1":  # a Laplace decoder of scale b = beta (laplace.py); beta = 1 under capacity, as for sse
        return LaplaceL1(scale=1.0 if config.capacity is not None else config.beta, pixels=pixels)
    if config.recon in ("sse", "mse-mean"):
        # Capacity control has no KL weight to read as a sigma (gamma |KL - C| pins the KL instead): its ELBO is
        # the one summed squared error means at beta = 1, sigma^2 = 1/2. GECO's sigma follows its weight in
        # force (Objective.forward).
        beta = 1.0 if config.capacity is not None else config.beta
        return SumSquaredError(beta=beta, pixels=pixels, mean_over_pixels=config.recon == "mse-mean")
    if config.recon == "gaussian":
        return FixedGaussian(FIXED_SIGMA if config.sigma is None else config.sigma)
    if config.recon == "bernoulli":
        return Bernoulli()
    if config.recon == "sigma-learned":
        # without --sigma the training run starts it from the data (LearnedSigmaGaussian.start_at)
        return LearnedSigmaGaussian(channels=channels, per_channel=config.sigma_per_channel,
                                    init_sigma=FIXED_SIGMA if config.sigma is None else config.sigma)
    if config.recon == "sigma-optimal":
        return OptimalSigmaGaussian(channels=channels, per_channel=config.sigma_per_channel)
    raise ValueError(f"unknown reconstruction likelihood {config.recon!r}")


def make_loss(name: str, image_shape: tuple[int, int, int]) -> ReconstructionLoss:
    """The reconstruction loss that is not a likelihood named `name` (one of EXTRA_RECONS)."""
    if name == "ms-ssim":
        return MSSSIMLoss(image_shape)
    return WatsonDFTLoss() if name == "watson-dft" else FocalFrequencyLoss()


def make_kl_weighting(config: ObjectiveConfig, *, total_steps: int | None) -> KLWeighting:
    """The KL weighting the config names (a validated config names at most one of free bits, capacity, GECO)."""
    if config.geco_target is not None:
        return GECO.from_config(config)
    if config.capacity is not None:
        return CapacityControl.from_config(config)
    schedule = BetaSchedule.parse(config.beta_schedule, beta=config.beta, beta_start=config.beta_start,
                                  total_steps=total_steps)
    if config.free_bits > 0:
        return FreeBits(schedule, free_bits=config.free_bits, mode=config.free_bits_mode,
                        groups=config.free_bits_groups)
    return ScheduledKL(schedule)


def make_kl_term(config: ObjectiveConfig, *, dataset_size: int | None) -> TotalCorrelationPenalty | InfoMMD | None:
    """The KL term of `objective.method` where it is not the KL itself (tcvae, infovae); None otherwise. beta-TCVAE
    needs the training split's size N (None: restored from a checkpoint)."""
    if config.method == "tcvae":
        alpha, beta, gamma = config.tc_weights()
        return TotalCorrelationPenalty(alpha=alpha, beta=beta, gamma=gamma, sampling=config.tc_sampling or "mws",
                                       dataset_size=dataset_size or 0)
    if config.method == "infovae":
        alpha, lam = config.info_weights()
        return InfoMMD(alpha=alpha, lam=lam)
    return None


class Objective(nn.Module):
    """recon + beta * kl_objective, composed from the config's likelihood and KL weighting.

    `total_steps` is the run's length, which the cyclical schedule divides into cycles.
    `deterministic=True` is the plain autoencoder: it has no KL term, so the loss is the recon term
    alone (beta = 0) and no KL weighting is built. With `objective.beta_range` the betas come with the
    model's output (loss-conditional training) and no KL weighting is built either. `prior` is the model's
    (model.prior), which decides the KL's estimator; `dataset_size` the training split's size (beta-TCVAE).
    The model is to draw `samples` codes per image (`forward(..., samples=objective.samples)`).
    """

    def __init__(self, config: ObjectiveConfig, *, image_shape: tuple[int, int, int], deterministic: bool = False,
                 total_steps: int | None = None, prior: str = "normal", dataset_size: int | None = None,
                 discriminator_width: int = 32):
        super().__init__()
        self.config = config
        self.deterministic = deterministic
        self.pixels = math.prod(image_shape)
        self.likelihood = make_likelihood(config, image_shape)
        self.beta_range = None if config.beta_range is None else LogUniformBeta(*config.beta_range)
        conditional_or_ae = deterministic or self.beta_range is not None
        self.weighting = None if conditional_or_ae else make_kl_weighting(config, total_steps=total_steps)
        self.kl_term = None if conditional_or_ae else make_kl_term(config, dataset_size=dataset_size)
        self.iwae = config.method == "iwae" and not conditional_or_ae
        self.samples = config.iwae_k() if self.iwae else 1
        self.kl_estimator = NO_KL if deterministic else monte_carlo(self.samples) if prior == "vamp" else CLOSED_FORM
        self.adversarial = None if config.gan_weight == 0 else AdversarialTerm(
            image_shape=image_shape, width=discriminator_width, layers=config.gan_layers, weight=config.gan_weight,
            start=config.gan_start)

    def trained_with_model(self) -> list[nn.Parameter]:
        """The parameters that the model's optimiser trains (a learned sigma); not the discriminator's, which
        trains on its own loss with its own optimiser (adversarial.py)."""
        own = set() if self.adversarial is None else set(self.adversarial.parameters())
        return [parameter for parameter in self.parameters() if parameter not in own]

    def beta_at(self, step: int) -> float:
        """The KL weight at a training step (0 for the autoencoder, which has no KL term; a loss-conditional
        model's validation beta)."""
        if self.beta_range is not None:
            return self.config.beta
        return 0.0 if self.weighting is None else self.weighting.beta_at(step)

    def sample_beta(self, n: int, generator: torch.Generator) -> torch.Tensor | None:
        """The betas of a training batch of n examples for a loss-conditional model (n,); None otherwise."""
        return None if self.beta_range is None else self.beta_range.sample(n, generator)

    def forward(self, x: torch.Tensor, output: VAEOutput, step: int, generator: torch.Generator | None = None,
                last_layer: torch.Tensor | None = None) -> LossTerms:
        """x: (B, C, H, W) in [0, 1]; output: the model's forward pass on x (`self.samples` codes per image);
        generator: the noise of this pass, for the draws a KL term needs (InfoVAE's prior draws). `last_layer`,
        the weight of the decoder's last layer, is given by a training step: with it the adversarial term (if
        any) joins the loss."""
        k = output.samples
        target = x if k == 1 else x.expand(k, *x.shape).flatten(0, 1)  # (K B, C, H, W), as output.logits
        recon_k = self.likelihood.recon(target, output.logits)  # (K B,)
        recon = recon_k.view(k, -1).mean(dim=0)  # (B,)
        estimate = kl_estimate(output.posterior, output.z, output.prior)
        kl = estimate.kl  # (B,)
        with torch.no_grad():
            mse = self.likelihood.mse_given_recon(target, output.logits, recon_k).view(k, -1).mean(dim=0)  # (B,)
        extras: dict[str, float | torch.Tensor] = {}
        if output.beta is not None:
            # Each example's KL weighed by the beta the model served it: mean_b [recon_b + beta_b * KL_b]
            weight = KLWeight(beta=output.beta, kl_objective=kl)
        elif self.weighting is None:
            weight = KLWeight(beta=0.0, kl_objective=kl.mean())  # the point mass's KL is zeros
        else:
            term, kl_per_dim = kl, estimate.kl_per_dim
            if self.kl_term is not None:
                term, extras = self.kl_term(output, estimate, generator)
            per_dim = kl_per_dim if kl_per_dim is not None and self.kl_term is None else term[:, None]
            weight = self.weighting(recon=recon, kl=term, kl_per_dim=per_dim, mse=mse, step=step)
        if self.iwae:
            loss = iwae_loss(recon_k.view(k, -1), estimate.log_ratio, weight.beta).mean()
        else:
            loss = recon.mean() + (weight.beta * weight.kl_objective).mean()
        sigma = self.likelihood.logged_sigma()
        extras = {**weight.extras, **extras, **self.likelihood.metrics()}
        if self.adversarial is not None and last_layer is not None:
            adversarial, logged = self.adversarial.generator_term(output.reconstruction, recon.mean(), last_layer, step)
            loss = loss + adversarial
            extras.update(logged)
        with torch.no_grad():
            if self.deterministic:
                # A point-mass posterior has no density: no KL, no ELBO, and no decoder sigma is stated.
                kl = elbo = elbo_shared = torch.full_like(recon, math.nan)
                sigma = math.nan
            else:
                elbo_shared = elbo_shared_sigma(mse * self.pixels, kl, self.pixels)
                if isinstance(self.likelihood, ReconstructionLoss):  # no ELBO of its own: see the optimal sigma's
                    elbo = torch.full_like(recon, math.nan)
                    extras.update(self.likelihood.elbo_optimal_sigma(target, output.logits, kl.repeat(k)))
                elif self._sigma_follows_weight():
                    nll, sigma = self.likelihood.nll_at_weight(recon.detach(), torch.as_tensor(weight.beta).double())
                    elbo = -(nll + kl)
                else:
                    nll_k = self.likelihood.nll_given_recon(target, output.logits, recon_k).view(k, -1)  # (K, B)
                    elbo = -(nll_k.mean(dim=0) + kl)
                    if self.iwae:
                        extras["iwae"] = iwae_bound(-(nll_k + estimate.log_ratio), k).mean()
        return LossTerms(
            loss=loss, recon=recon, kl=kl, elbo=elbo, elbo_shared_sigma=elbo_shared, mse=mse, beta=weight.beta,
            sigma=sigma, extras=extras,
        )

    def _sigma_follows_weight(self) -> bool:
        """GECO with a squared error: the sigma the loss implies is that of the weight found, 1 / lambda."""
        return isinstance(self.weighting, GECO) and isinstance(self.likelihood, SumSquaredError)

    def sigma(self) -> float:
        """The decoder std in force now (nan where there is none, as for the autoencoder): under GECO with a squared
        error, the sigma of its current weight 1 / lambda; else the likelihood's (implied, fixed, learned or latest
        optimal)."""
        if self.deterministic:
            return math.nan
        if self._sigma_follows_weight():
            variance = implied_variance(self.weighting.beta_at(0), recon=self.likelihood.kind,
                                        pixels=self.likelihood.pixels)
            return math.sqrt(variance)
        return self.likelihood.sigma()


def build_objective(config: Config, image_shape: tuple[int, int, int], *, total_steps: int,
                    train_images: int | None = None) -> Objective:
    """The objective of a run's config; `total_steps` is the run's length (cyclical beta schedules divide it),
    `train_images` the training split's size (beta-TCVAE's N; None where a checkpoint's state follows)."""
    return Objective(config.objective, image_shape=image_shape, deterministic=config.model.kind == "ae",
                     total_steps=total_steps, prior=config.model.prior, dataset_size=train_images,
                     discriminator_width=config.model.width)
