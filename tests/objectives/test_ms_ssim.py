"""MS-SSIM as a loss: 0 on identical images, plain SSIM at one scale, the library's MS-SSIM at five, and the
scales that small images allow."""

import numpy as np
import pytest
import torch
from pytorch_msssim import ms_ssim as library_ms_ssim
from skimage.metrics import structural_similarity

from vaelab.errors import UsageError
from vaelab.objectives.ms_ssim import MSSSIMLoss, ms_ssim, scales_for


def smooth_images(n, channels, size, seed=0):
    """Images with structure at several scales (blurred noise), in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, channels, size // 4, size // 4, generator=generator)
    return torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False).clamp(0, 1)


def logits(images):
    return torch.logit(images.clamp(1e-6, 1 - 1e-6))


@pytest.mark.parametrize("size,scales", [(11, 1), (16, 1), (21, 2), (28, 2), (41, 3), (64, 3), (128, 4), (160, 4),
                                         (161, 5), (256, 5), (400, 5)])
def test_the_scales_are_the_most_whose_window_fits(size, scales):
    assert scales_for(size, size + 7) == scales


def test_images_smaller_than_the_window_are_refused_in_one_line():
    with pytest.raises(UsageError, match="at least 11 x 11") as error:
        MSSSIMLoss((1, 10, 10))
    assert "\n" not in str(error.value)


def test_loss_is_zero_on_identical_images_and_grows_with_noise():
    x = smooth_images(4, 3, 64)
    loss = MSSSIMLoss((3, 64, 64))
    assert loss.scales == 3
    torch.testing.assert_close(loss.recon(x, logits(x)), torch.zeros(4), atol=0.02, rtol=0)  # D = 12288: 1 - MS-SSIM < 2e-6
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    values = [loss.recon(x, logits((x + amplitude * noise).clamp(0, 1))).mean().item() for amplitude in (0.02, 0.05, 0.1, 0.2)]
    assert values == sorted(values) and values[0] > 0


def test_one_scale_is_scikit_images_ssim():
    # an independent implementation: Wang et al. 2004's SSIM, 11 x 11 Gaussian window of std 1.5, K = (0.01, 0.03)
    x = smooth_images(3, 3, 16, seed=2)
    y = (x + 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(3))).clamp(0, 1)
    expected = [structural_similarity(a, b, data_range=1.0, channel_axis=0, gaussian_weights=True, sigma=1.5,
                                      use_sample_covariance=False)
                for a, b in zip(x.double().numpy(), y.double().numpy())]
    np.testing.assert_allclose(ms_ssim(x.double(), y.double(), scales=1).numpy(), expected, rtol=1e-6)


def test_five_scales_are_the_librarys_ms_ssim_and_the_loss_is_d_times_one_minus_it():
    x = smooth_images(2, 1, 176, seed=4)
    y = (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(5))).clamp(0, 1)
    expected = library_ms_ssim(x, y, data_range=1.0, size_average=False)
    torch.testing.assert_close(ms_ssim(x, y, scales=5), expected)
    torch.testing.assert_close(MSSSIMLoss((1, 176, 176)).recon(x, logits(y)), 176 * 176 * (1 - expected),
                               rtol=1e-4, atol=1e-2)


def test_odd_sides_are_padded_before_each_halving_as_the_library_does():
    # 165 x 170: the height is odd at the first and second halvings, the width only at the third
    x = smooth_images(2, 1, 176, seed=6)[..., :165, :170]
    y = (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(7))).clamp(0, 1)
    torch.testing.assert_close(ms_ssim(x, y, scales=5), library_ms_ssim(x, y, data_range=1.0, size_average=False))
