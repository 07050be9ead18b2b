"""The loss: decoder likelihoods, the KL weighting, and the `LossTerms` they produce.

    likelihood.py        the reconstruction term: sse, mse-mean, gaussian, bernoulli
    decoder_variance.py  the sigma-VAE likelihoods: sigma-learned, sigma-optimal
    schedules.py         beta as a pure function of the step: constant, linear, sigmoid, cyclical
    weighting.py         the interface every KL weighting implements, and the scheduled beta
    free_bits.py         free bits: max(lambda, KL) per dimension, group or in total
    capacity.py          capacity control: gamma * |KL - C(t)|
    geco.py              GECO: the KL minimised under a reconstruction constraint
    objective.py         `Objective`: composes one likelihood and one KL weighting into `LossTerms`
    explain.py           the translation between beta and the decoder's sigma (`vaelab explain`)
"""

from vaelab.objectives.likelihood import Likelihood, gaussian_nll, squared_error
from vaelab.objectives.objective import Objective, make_kl_weighting, make_likelihood
from vaelab.objectives.schedules import BetaSchedule
from vaelab.objectives.terms import LossTerms
from vaelab.objectives.weighting import KLWeight, KLWeighting

__all__ = [
    "BetaSchedule",
    "KLWeight",
    "KLWeighting",
    "Likelihood",
    "LossTerms",
    "Objective",
    "gaussian_nll",
    "make_kl_weighting",
    "make_likelihood",
    "squared_error",
]
