"""MSE, PSNR and SSIM per image."""

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from vaelab.diagnostics.reconstruction import reconstruction_quality, ssim


def test_psnr_is_ten_log10_of_one_over_the_mse_of_each_image():
    x = torch.full((2, 1, 16, 16), 0.5)  # not 0: (x + x_hat)^2 would pass at x = 0
    reconstruction = torch.stack([torch.full((1, 16, 16), 0.6), torch.full((1, 16, 16), 0.49)])
    quality = reconstruction_quality(x, reconstruction)
    np.testing.assert_allclose(quality.mse, [0.01, 0.0001], rtol=1e-4)
    np.testing.assert_allclose(quality.psnr, [20.0, 40.0], rtol=1e-4)
    np.testing.assert_allclose(quality.ssim, ssim(x, reconstruction))  # the SSIM is carried at 16 x 16


def test_ssim_is_one_for_a_perfect_reconstruction_and_matches_scikit_image():
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 24, 24, generator=generator)
    assert ssim(x, x) == pytest.approx([1.0, 1.0, 1.0])
    noisy = (x + 0.1 * torch.randn(x.shape, generator=generator)).clamp(0, 1)
    values = ssim(x, noisy)
    assert np.all(values < 0.99)
    one = structural_similarity(x[1].double().numpy(), noisy[1].double().numpy(), data_range=1.0, channel_axis=0,
                                gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert values[1] == pytest.approx(one)


def test_ssim_is_undefined_below_the_window_size():
    x = torch.rand(2, 1, 10, 11)
    assert ssim(x, x) is None
    assert reconstruction_quality(x, x * 0.5).ssim is None
    square = torch.rand(2, 1, 11, 11)  # the window's own size is enough
    assert ssim(square, square) == pytest.approx([1.0, 1.0])
