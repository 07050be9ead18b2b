"""Predictive NLL, calibration and pruned units, on constructed predictions with known answers (bnn/metrics.py)."""

import math

import numpy as np
import pytest
import torch

from vaelab.bnn.layers import BayesLinear
from vaelab.bnn.metrics import (
    classification_calibration,
    mixture_pit,
    predictive_log_likelihood,
    pruned_units,
    regression_calibration,
)


def test_predictive_log_likelihood_is_the_log_of_the_mean_density():
    log_lik = torch.log(torch.tensor([[0.1, 0.5], [0.3, 0.5]]))  # (S = 2, N = 2)
    assert torch.allclose(predictive_log_likelihood(log_lik), torch.log(torch.tensor([0.2, 0.5])))
    far = torch.tensor([[-1000.0], [-1001.0]])  # densities below the smallest float: still finite, by log-sum-exp
    assert predictive_log_likelihood(far).item() == pytest.approx(-1000 + math.log((1 + math.exp(-1)) / 2))


def test_calibrated_predictions_read_an_ece_near_zero():
    rng = np.random.default_rng(0)
    n = 200_000
    confidence = rng.uniform(0.5, 1.0, n)
    correct = rng.uniform(size=n) < confidence  # right with exactly the stated probability
    labels = np.where(correct, 0, 1)
    probs = np.stack([confidence, 1 - confidence], axis=1)
    # the ECE of calibrated predictions is only sampling noise: ~ sqrt(c (1 - c) / n_bin) per bin, ~0.002 here
    assert classification_calibration(probs, labels).ece < 0.005


def test_a_known_miscalibration_reads_its_size():
    """Always 90 % confident, right 60 % of the time: |0.6 - 0.9| = 0.3, all in one bin."""
    probs = np.tile([0.9, 0.05, 0.05], (10, 1))
    labels = np.array([0] * 6 + [1] * 4)
    calibration = classification_calibration(probs, labels)
    assert calibration.ece == pytest.approx(0.3)
    assert calibration.counts.sum() == 10 and calibration.counts[13] == 10  # 0.9 is in bin (13/15, 14/15]


def test_two_bins_with_opposite_errors_do_not_cancel():
    probs = np.array([[0.95, 0.05]] * 4 + [[0.55, 0.45]] * 4)
    labels = np.array([0, 0, 1, 1, 0, 0, 0, 0])  # 50 % right at 0.95, 100 % right at 0.55
    assert classification_calibration(probs, labels).ece == pytest.approx(0.5 * 0.45 + 0.5 * 0.45)


def test_regression_calibration_of_uniform_and_of_overdispersed_pit_values():
    uniform = (np.arange(100_000) + 0.5) / 100_000  # the PIT of a calibrated forecast
    assert regression_calibration(uniform).ece == pytest.approx(0, abs=1e-4)
    # every target at the predictive median (far too wide a forecast): coverage 0 below p = 1/2, 1 above
    levels = (np.arange(15) + 0.5) / 15
    expected = np.mean(np.minimum(levels, 1 - levels))
    assert regression_calibration(np.full(1000, 0.5)).ece == pytest.approx(expected)


def test_the_pit_of_a_mixture_is_the_mean_of_its_components_cdfs():
    means = torch.tensor([[0.0], [2.0]])  # (S = 2, N = 1)
    pit = mixture_pit(torch.tensor([1.0]), means, torch.tensor(1.0))
    assert pit.item() == pytest.approx(0.5 * (0.8413447 + 0.1586553), abs=1e-6)


def test_units_whose_incoming_weights_are_noise_count_as_pruned():
    layer = BayesLinear(4, 3, prior_std=1.0, posterior_std_init=1.0)
    with torch.no_grad():
        layer.weight_mu.copy_(torch.tensor([[3.0, 0, 0, 0],  # SNR sqrt(9 / 4) = 1.5: kept
                                            [0.5, 0.5, 0.5, 0.5],  # sqrt(1 / 4) = 0.5: pruned
                                            [0.0, 0.0, 0.0, 0.0]]))  # the prior's mean: pruned
        layer.weight_rho.fill_(math.log(math.e - 1))  # sigma = softplus(rho) = 1
    snr = layer.unit_snr()
    assert torch.allclose(snr, torch.tensor([1.5, 0.5, 0.0]), atol=1e-6)
    assert pruned_units({"layer1": snr}) == 2
    assert pruned_units({"layer1": snr}, threshold=0.4) == 1
