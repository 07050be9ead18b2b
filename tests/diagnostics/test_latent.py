"""Known answers for KL per dimension, active units and the posterior-collapse warning."""

import numpy as np
import pytest
import torch

from vaelab.diagnostics.latent import (
    Encodings,
    active_units,
    collapse_warning,
    encode,
    kl_per_dim,
    posterior_mean_variance,
)
from vaelab.model import ConvVAE


def test_active_units_count_dimensions_whose_mean_varies_more_than_a_hundredth():
    torch.manual_seed(0)
    base = torch.randn(4000, 1)
    base = (base - base.mean()) / base.std(correction=0)  # unit variance exactly
    scales = torch.tensor([0.0, 0.05, 0.2, 1.0])  # variances 0, 0.0025, 0.04, 1
    encodings = Encodings(mean=base * scales, logvar=torch.zeros(4000, 4))
    np.testing.assert_allclose(posterior_mean_variance(encodings), scales.double() ** 2, rtol=1e-6, atol=1e-12)
    assert active_units(encodings) == 2
    assert active_units(encodings, threshold=0.001) == 3


def test_kl_per_dim_known_answer_and_sum():
    # KL[N(1, 1) || N(0, 1)] = 0.5 * 1^2 = 0.5; KL[N(0, e^-2) || N(0, 1)] = 0.5 * (e^-2 - 1 + 2)
    mean = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    logvar = torch.tensor([[0.0, -2.0], [0.0, -2.0]])
    encodings = Encodings(mean=mean, logvar=logvar)
    expected = [0.5, 0.5 * (np.exp(-2.0) - 1 + 2)]
    np.testing.assert_allclose(kl_per_dim(encodings), expected, rtol=1e-6)
    assert kl_per_dim(encodings).sum() == pytest.approx(float(encodings.posterior().kl().mean()))


def test_collapse_warning():
    assert "none of the 8" in collapse_warning(0, 8)
    assert "5 of 8" in collapse_warning(3, 8)
    assert collapse_warning(4, 8) is None  # exactly half inactive is not "more than half"
    assert collapse_warning(8, 8) is None


def test_encode_in_batches_matches_one_pass():
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=1, latent_dim=3, width=4)
    x = torch.rand(7, 1, 8, 8)
    encodings = encode(model, x, batch_size=3)
    posterior = model.encode(x)
    torch.testing.assert_close(encodings.mean, posterior.mean.detach())
    torch.testing.assert_close(encodings.logvar, posterior.logvar.detach())
    ae = ConvVAE(image_size=8, channels=1, latent_dim=3, width=4, kind="ae")
    codes = encode(ae, x, batch_size=3)
    assert codes.logvar is None and not codes.gaussian
    torch.testing.assert_close(codes.sample(), codes.mean)
