"""The loss: decoder likelihoods, the KL weighting, and the `LossTerms` they produce."""

from vaelab.objectives.likelihood import Likelihood, gaussian_nll, squared_error
from vaelab.objectives.objective import Objective, make_likelihood
from vaelab.objectives.terms import LossTerms

__all__ = ["Likelihood", "LossTerms", "Objective", "gaussian_nll", "make_likelihood", "squared_error"]
