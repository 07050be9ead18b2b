"""Known answers for the beta <-> sigma translation behind `vaelab explain`."""

import math

import pytest

from vaelab.errors import UsageError
from vaelab.objectives.explain import explain_beta, parse_image_shape


def test_summed_squared_error_implies_sigma_squared_beta_over_two():
    reading = explain_beta(0.1, recon="sse", image_shape=(3, 64, 64))
    assert reading.variance == pytest.approx(0.05)
    assert reading.sigma == pytest.approx(0.2236, abs=1e-4)
    assert reading.sigma_255 == pytest.approx(57.02, abs=1e-2)
    assert reading.pixels == 12288 and reading.sse_beta == 0.1
    text = reading.text()
    assert "sigma = 0.22 on a 0-1 scale (57 on 0-255)" in text
    assert "A typical pixel error of 0.22 on a 0-1 scale (57 of 255) is treated as noise" in text
    flat = " ".join(text.split())
    assert "tempers the likelihood" in flat and "no longer a bound on log p(x)" in flat
    assert "Re-read with sigma = 0.22 it is the plain beta = 1 ELBO" in flat


def test_mean_over_pixels_implies_sigma_squared_beta_d_over_two():
    reading = explain_beta(1.0, recon="mse-mean", image_shape=(3, 64, 64))
    assert reading.variance == pytest.approx(6144)
    assert reading.sigma == pytest.approx(78.38, abs=1e-2)
    assert reading.sse_beta == 12288
    flat = " ".join(reading.text().split())
    assert "pure noise" in flat and "most common bug" in flat and "--recon sse with beta = 1 * 12288 = 12288" in flat


def test_sigma_does_not_depend_on_the_image_size_for_summed_error_but_does_for_the_mean():
    assert explain_beta(0.5, image_shape=(1, 28, 28)).sigma == explain_beta(0.5, image_shape=(3, 256, 256)).sigma == 0.5
    assert explain_beta(0.5, recon="mse-mean", image_shape=(1, 28, 28)).sigma == pytest.approx(math.sqrt(0.5 * 784 / 2))


def test_beta_one_is_the_elbo_and_beta_zero_the_autoencoder():
    assert "this is the ELBO, a bound on log p(x)" in " ".join(explain_beta(1.0).text().split())
    zero = explain_beta(0.0)
    assert zero.sigma == 0 and "ELBO is -inf" in " ".join(zero.text().split())


@pytest.mark.parametrize("beta", [-0.1, math.inf, math.nan])
def test_impossible_betas_are_usage_errors(beta):
    with pytest.raises(UsageError, match="e.g. --beta 0.1"):
        explain_beta(beta)


@pytest.mark.parametrize("text,shape", [("3x64x64", (3, 64, 64)), ("1X28X28", (1, 28, 28))])
def test_image_shapes(text, shape):
    assert parse_image_shape(text) == shape


@pytest.mark.parametrize("text", ["3x64", "64", "3x64x0", "axbxc", "3x-1x4", "", "3x64x64x1"])
def test_bad_image_shapes_are_one_line_usage_errors(text):
    with pytest.raises(UsageError, match="is not CxHxW") as error:
        parse_image_shape(text)
    assert "\n" not in str(error.value)


def test_l1_reads_beta_as_the_scale_of_a_laplace_decoder():
    from vaelab.objectives.explain_losses import explain_recon

    reading = explain_recon(0.1, recon="l1", image_shape=(3, 64, 64))
    assert reading.std == pytest.approx(math.sqrt(2) * 0.1)
    flat = " ".join(reading.text().split())
    assert "= b * [ -log Laplace(x; x_hat, b) + KL ] + const, b = beta = 0.1" in flat
    assert "std sqrt(2) b = 0.14 on a 0-1 scale (36 on 0-255)" in flat
    assert "raises p(x|z) to the power 10" in flat and "below the sigma = sqrt(beta / 2) = 0.22" in flat
    assert "above the sigma = sqrt(beta / 2) = 0.71" in " ".join(explain_recon(1.0, recon="l1").text().split())
    assert "(D = 12288 pixel values)" in flat
    at_one = " ".join(explain_recon(1.0, recon="l1").text().split())
    assert "this is the ELBO, a bound on log p(x), of a Laplace decoder with scale b = 1" in at_one
    at_zero = " ".join(explain_recon(0.0, recon="l1", image_shape=(1, 28, 28)).text().split())
    assert "(D = 784 pixel values)" in at_zero and "b = 0" in at_zero and "whose ELBO is -inf" in at_zero
    # the squared errors are read by explain_beta, the one home of the beta <-> sigma reading
    assert explain_recon(0.1, recon="sse").text() == explain_beta(0.1, recon="sse").text()


@pytest.mark.parametrize("recon,formula", [("ms-ssim", "loss = 12288 * (1 - MS-SSIM(x, x_hat)) + 0.01 * KL"),
                                           ("watson-dft", "loss = WatsonDFT(x, x_hat) + 0.01 * KL"),
                                           ("focal-frequency", "loss = sum_uv w(u, v) |F(x) - F(x_hat)|^2 + 0.01 * KL")])
def test_a_loss_that_is_not_a_likelihood_has_no_sigma_to_read(recon, formula):
    from vaelab.objectives.explain_losses import explain_recon

    text = " ".join(explain_recon(0.01, recon=recon, image_shape=(3, 64, 64)).text().split())
    assert formula in text
    assert "the beta <-> sigma reading of the squared error (sigma^2 = beta / 2) no longer holds" in text
    assert "`elbo_optimal_sigma`" in text and "implied" not in text
