"""What a trained table network is worth on held-out rows: predictive NLL, RMSE or accuracy, calibration,
and how many hidden units the posterior has switched off.

Predictive distribution: the mixture over S draws w_s ~ q(w) (one per member for an ensemble, one for MAP),

    log p(y | x, D) ~ log (1/S) sum_s p(y | x, w_s)                  -> predictive_nll = -mean of it, nats

    rmse      sqrt(mean (y - mean_s f_s(x))^2), in units of the training targets' std (bnn/data.py)
    accuracy  argmax of the mean predicted probabilities

Expected calibration error, 15 equal-width bins (Guo et al. 2017, "On Calibration of Modern Neural Networks",
eq. 3): with confidence c_n = max_k p(k | x_n, D) and bin B_m = {n : c_n in ((m-1)/15, m/15]},

    ECE = sum_m |B_m| / N * |acc(B_m) - conf(B_m)|

For regression, the same idea on quantiles (Kuleshov et al. 2018, "Accurate Uncertainties for Deep Learning
Using Calibrated Regression", eq. 9, unweighted): with the PIT value u_n = F_n(y_n) of the predictive CDF and
the 15 levels p_m = (m - 1/2) / 15,

    ECE = 1/15 sum_m |#{n : u_n <= p_m} / N - p_m|

0 when the predictive quantiles hold their nominal coverage.

Pruned units (Trippe & Turner 2017, "Overpruning in Variational Bayesian Neural Networks"; Blundell et al.
2015, sec. 5.1 prune weights by |mu| / sigma): a hidden unit is pruned when the signal-to-noise ratio of its
incoming weights, SNR_k = sqrt(sum_j mu_kj^2 / sum_j sigma_kj^2) (layers.BayesLinear.unit_snr), is below 1:
the weight noise it adds to its pre-activation is larger than what its means carry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from vaelab.bnn.model import TableNet
from vaelab.bnn.objective import minibatch_terms
from vaelab.bnn.weighting import Tempering

ECE_BINS = 15
SNR_THRESHOLD = 1.0


@dataclass
class Calibration:
    """What a reliability diagram draws: per bin (classification) or level (regression), the expected and the
    observed frequency and the number of examples (classification) behind it."""

    task: str
    expected: np.ndarray  # (M,) mean confidence per bin / nominal level p_m
    observed: np.ndarray  # (M,) accuracy per bin / observed coverage
    counts: np.ndarray  # (M,)
    ece: float


def predictive_log_likelihood(log_lik: torch.Tensor) -> torch.Tensor:
    """log (1/S) sum_s p(y_n | x_n, w_s) for log_lik (S, N): (N,), by log-sum-exp."""
    return torch.logsumexp(log_lik, dim=0) - math.log(log_lik.shape[0])


def classification_calibration(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> Calibration:
    """ECE of predicted probabilities (N, C) against labels (N,), `bins` equal-width bins of confidence."""
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(float)
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)  # bin m covers ((m-1)/M, m/M]
    counts = np.bincount(which, minlength=bins)
    sums = np.bincount(which, weights=confidence, minlength=bins)
    hits = np.bincount(which, weights=correct, minlength=bins)
    with np.errstate(invalid="ignore"):
        expected, observed = sums / counts, hits / counts
    ece = float(np.sum(np.abs(hits - sums)) / len(labels))  # sum_m |B_m|/N |acc - conf|
    return Calibration("classification", expected, observed, counts, ece)


def regression_calibration(pit: np.ndarray, levels: int = ECE_BINS) -> Calibration:
    """Quantile calibration of PIT values u_n = F_n(y_n) (N,) at levels p_m = (m - 1/2) / M."""
    expected = (np.arange(levels) + 0.5) / levels
    observed = (pit[None, :] <= expected[:, None]).mean(axis=1)
    counts = np.full(levels, len(pit))
    return Calibration("regression", expected, observed, counts, float(np.abs(observed - expected).mean()))


def mixture_pit(y: torch.Tensor, means: torch.Tensor, noise_std: torch.Tensor) -> torch.Tensor:
    """F(y) of the equal mixture of N(means_s, noise_std^2) over draws s: (N,) for means (S, N)."""
    return torch.special.ndtr((y - means) / noise_std).mean(dim=0)


def pruned_units(snr: dict[str, torch.Tensor], threshold: float = SNR_THRESHOLD) -> int:
    """Hidden units whose incoming-weight SNR is below `threshold` (module docstring)."""
    return int(sum((values < threshold).sum().item() for values in snr.values()))


@torch.no_grad()
def evaluate(net: TableNet, x: torch.Tensor, y: torch.Tensor, *, n_train: int, kl_weight: float,
             tempering: Tempering, samples: int, generator: torch.Generator) -> tuple[dict[str, float], Calibration]:
    """The metrics of one split (docs/metrics.md, "bnn runs"): the loss terms on every row of it (`kl_weight`:
    the lambda of the scheme over the current epoch), the predictive metrics and the pruned units."""
    terms = minibatch_terms(net, x, y, n=n_train, kl_weight=kl_weight, tempering=tempering, samples=samples,
                            generator=generator)
    record = terms.scalars()
    outputs = net.draws(x, samples, generator)  # (S, N, O), fresh draws for the predictive distribution
    log_lik = net.log_likelihood(outputs, y)  # (S, N)
    record["predictive_nll"] = -predictive_log_likelihood(log_lik).mean().item()
    if net.task == "regression":
        means = outputs[..., 0]  # (S, N)
        record["rmse"] = (y - means.mean(0)).square().mean().sqrt().item()
        record["noise_std"] = net.noise_std.item()
        calibration = regression_calibration(mixture_pit(y, means, net.noise_std).numpy())
    else:
        probs = torch.softmax(outputs, dim=-1).mean(0)  # (N, C)
        record["accuracy"] = (probs.argmax(-1) == y).float().mean().item()
        calibration = classification_calibration(probs.numpy(), y.numpy())
    record["ece"] = calibration.ece
    if net.bayes:
        record["pruned_units"] = pruned_units(net.hidden_unit_snr())
        record["hidden_units"] = sum(net.hparams["widths"])
    return record, calibration
