"""The loss: decoder likelihoods, the KL weighting, and the `LossTerms` they produce.

    likelihood.py        the reconstruction term: sse, mse-mean, gaussian, bernoulli
    decoder_variance.py  the sigma-VAE likelihoods: sigma-learned, sigma-optimal
    laplace.py           l1: the summed absolute error, a Laplace decoder of scale b = beta
    recon_loss.py        losses that are not likelihoods, and one added to a likelihood's term (recon_extra)
    ms_ssim.py           ms-ssim: multi-scale SSIM (pytorch-msssim's statistics), fewer scales on small images
    watson.py            watson-dft: Watson's perceptual model on 8 x 8 block DFTs
    focal_frequency.py   focal-frequency: the focal frequency loss
    adversarial.py       the optional PatchGAN term: hinge losses, adaptive weight, start step
    schedules.py         beta as a pure function of the step: constant, linear, sigmoid, cyclical
    kl.py                the KL of q(z|x) to p(z): closed form for N(0, I), Monte Carlo for another prior
    iwae.py              the importance-weighted bound, and IWAE training (objective.method=iwae)
    tcvae.py             beta-TCVAE: the KL split into MI, TC and dimension-wise KL (objective.method=tcvae)
    infovae.py           InfoVAE / MMD-VAE: the KL joined or replaced by an MMD (objective.method=infovae)
    mmd.py               the maximum mean discrepancy and its kernels (RBF, IMQ)
    weighting.py         the interface every KL weighting implements, and the scheduled beta
    free_bits.py         free bits: max(lambda, KL) per dimension, group or in total
    capacity.py          capacity control: gamma * |KL - C(t)|
    geco.py              GECO: the KL minimised under a reconstruction constraint
    conditional.py       loss-conditional training: a log-uniform beta per example
    objective.py         `Objective`: composes one likelihood and one KL weighting into `LossTerms`
    rules.py             which settings make sense, alone and together (each method's own beside it)
    explain.py           the translation between beta and the decoder's sigma (`vaelab explain`)
    explain_losses.py    the same for l1 (a Laplace's scale) and for the losses that are not likelihoods
"""

import importlib

_HOMES = {  # each name's module; imported on first use, so that `vaelab explain` (arithmetic) does not load torch
    "BetaSchedule": "schedules",
    "KLWeight": "weighting",
    "KLWeighting": "weighting",
    "Likelihood": "likelihood",
    "LossTerms": "terms",
    "Objective": "objective",
    "build_objective": "objective",
    "check_objective": "rules",
    "gaussian_nll": "likelihood",
    "make_kl_weighting": "objective",
    "make_likelihood": "objective",
    "squared_error": "likelihood",
}


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(f"vaelab.objectives.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'vaelab.objectives' has no attribute {name!r}")
