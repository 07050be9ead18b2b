"""Watson-DFT: 0 on identical images, growing with the noise, and the model's closed form on patterns whose
block DFT is known (a cosine of u cycles per 8-pixel block, amplitude a: two unitary-DFT coefficients of
255 a 8 / 2 = 1020 a each)."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from vaelab.objectives.watson import (
    ALPHA,
    W,
    WatsonDFTLoss,
    block_dft,
    dft_sensitivity,
    to_ycbcr,
    watson_distance,
)

WATSON_T = {0: 1.40, 2: 1.16, 4: 2.40, 6: 4.79}  # Watson's table, first column: DCT index i (i / 2 cycles per block)


def cosine(cycles, amplitude, size=(8, 8)):
    """amplitude cos(2 pi cycles y / 8) down the rows of a (1, 1, H, W) image."""
    y = torch.arange(size[0], dtype=torch.float64).view(1, 1, -1, 1)
    return (amplitude * torch.cos(2 * math.pi * cycles * y / 8)).expand(1, 1, *size)


def test_the_dft_sensitivity_is_watsons_table_at_the_same_frequency():
    t = dft_sensitivity()
    for u in range(8):
        assert t[u, 0].item() == pytest.approx(WATSON_T.get(2 * min(u, 8 - u), 6.56 if min(u, 8 - u) == 4 else None))
    assert t[4, 4].item() == 21.15 and torch.equal(t, t.T)


@pytest.mark.parametrize("cycles", [1, 2, 3])
def test_an_error_on_a_flat_block_is_weighed_by_the_frequency_sensitivity(cycles):
    # flat reference: no contrast masking, one block: no luminance masking, so m = t and D = (2 (1020 a / t)^4)^(1/4)
    x = torch.full((1, 1, 8, 8), 0.5, dtype=torch.float64)
    a = 0.01
    distance = watson_distance(x, x + cosine(cycles, a)).item()
    assert distance == pytest.approx(2 ** 0.25 * 1020 * a / WATSON_T[2 * cycles], rel=1e-6)


def test_contrast_masking_raises_the_threshold_where_the_reference_has_contrast():
    # m = max(t, |C|^w t^(1 - w)) with |C| = 1020 b from the reference's own pattern at that frequency
    b, a, t = 0.2, 0.01, WATSON_T[2]
    x = 0.5 + cosine(1, b)
    masked = watson_distance(x, x + cosine(1, a)).item()
    threshold = max(t, (1020 * b) ** W * t ** (1 - W))
    assert masked == pytest.approx(2 ** 0.25 * 1020 * a / threshold, rel=1e-6)
    assert masked < watson_distance(torch.full_like(x, 0.5), 0.5 + cosine(1, a)).item()


def test_luminance_masking_raises_the_threshold_of_brighter_blocks():
    # two blocks of means 0.25 and 0.75 (mean DC 1020), the error in the bright one: t (1530 / 1020)^alpha
    x = torch.cat([torch.full((1, 1, 8, 8), 0.25), torch.full((1, 1, 8, 8), 0.75)], dim=3).double()
    error = torch.cat([torch.zeros(1, 1, 8, 8, dtype=torch.float64), cosine(1, 0.01)], dim=3)
    expected = 2 ** 0.25 * 1020 * 0.01 / (WATSON_T[2] * 1.5**ALPHA)
    assert watson_distance(x, x + error).item() == pytest.approx(expected, rel=1e-6)


def test_the_loss_is_zero_on_identical_images_and_grows_with_the_noise_amplitude():
    torch.manual_seed(0)
    x = torch.nn.functional.interpolate(torch.rand(3, 3, 7, 7), size=28, mode="bilinear").clamp(0.05, 0.95)
    noise = torch.randn(x.shape)
    loss = WatsonDFTLoss()
    logit = lambda images: torch.logit(images.clamp(1e-6, 1 - 1e-6))
    assert loss.recon(x, logit(x)).abs().max().item() < 1e-3
    values = [loss.recon(x, logit((x + amplitude * noise).clamp(0, 1))) for amplitude in (0.005, 0.01, 0.03, 0.1)]
    for smaller, larger in itertools.pairwise(values):
        assert (smaller < larger).all()


def test_its_gradient_is_finite_at_and_near_a_perfect_reconstruction():
    x = torch.rand(2, 3, 16, 16)
    for offset in (0.0, 1e-4):
        x_hat = (x + offset).requires_grad_()
        watson_distance(x, x_hat).sum().backward()
        assert torch.isfinite(x_hat.grad).all()


def test_colour_is_compared_in_ycbcr_and_grey_as_it_is():
    rgb = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64).T.reshape(1, 3, 1, 3)
    expected = torch.tensor([[0.299, 0.5 - 0.168736, 1.0], [0.0, 0.5, 0.5], [1.0, 0.5, 0.5]], dtype=torch.float64)
    torch.testing.assert_close(to_ycbcr(rgb)[0, :, 0].T, expected)  # BT.601, full range: red, black, white
    grey = torch.rand(2, 1, 4, 4)
    assert torch.equal(to_ycbcr(grey), grey)


def test_the_shifted_block_grid_pads_by_replication_to_whole_blocks():
    x = torch.rand(1, 1, 13, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    padded = F.pad(x, (4, 2, 4, 7), mode="replicate")  # 4 + 13 + 7 = 24 rows, 4 + 10 + 2 = 16 columns
    first = torch.fft.fft2(255 * padded[0, 0, :8, :8], norm="ortho")
    last = torch.fft.fft2(255 * padded[0, 0, 16:, 8:], norm="ortho")
    blocks = block_dft(x, 4)
    assert blocks.shape == (1, 1, 6, 8, 8)
    torch.testing.assert_close(blocks[0, 0, 0], first)
    torch.testing.assert_close(blocks[0, 0, -1], last)


def test_a_batch_scores_each_image_as_alone():
    # masking uses each image's own blocks: its luminance mean is over the blocks of that image, not the batch
    generator = torch.Generator().manual_seed(4)
    x = torch.rand(3, 3, 16, 16, dtype=torch.float64, generator=generator) * torch.tensor([0.2, 0.6, 1.0],
                                                                                       dtype=torch.float64).view(3, 1, 1, 1)
    x_hat = (x + 0.05 * torch.randn(x.shape, dtype=torch.float64, generator=generator)).clamp(0, 1)
    loss = WatsonDFTLoss()
    alone = torch.cat([loss.recon(x[i : i + 1], torch.logit(x_hat[i : i + 1])) for i in range(3)])
    torch.testing.assert_close(loss.recon(x, torch.logit(x_hat)), alone)
