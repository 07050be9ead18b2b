"""Focal frequency loss: the summed squared error at alpha = 0 (Parseval), and each frequency's error weighed by
its share of the largest one at alpha = 1."""

import math

import pytest
import torch

from vaelab.objectives.focal_frequency import FocalFrequencyLoss, focal_frequency_loss


def wave(cycles_y, cycles_x, amplitude, size=16):
    y = torch.arange(size, dtype=torch.float64).view(-1, 1)
    x = torch.arange(size, dtype=torch.float64).view(1, -1)
    return amplitude * torch.cos(2 * math.pi * (cycles_y * y + cycles_x * x) / size).view(1, 1, size, size)


def test_alpha_zero_is_the_summed_squared_error():
    torch.manual_seed(0)
    x, x_hat = torch.rand(4, 3, 12, 10, dtype=torch.float64), torch.rand(4, 3, 12, 10, dtype=torch.float64)
    torch.testing.assert_close(focal_frequency_loss(x, x_hat, alpha=0.0), (x - x_hat).pow(2).sum(dim=(1, 2, 3)))


def test_each_frequency_is_weighed_by_its_error_over_the_largest():
    # error = a wave + b wave at two frequencies, a > b: weights 1 and b / a, so
    # FFL = SSE(a wave) + (b / a) SSE(b wave), each SSE = amplitude^2 * pixels / 2
    a, b, pixels = 0.3, 0.1, 16 * 16
    x = torch.full((1, 1, 16, 16), 0.5, dtype=torch.float64)
    error = wave(1, 0, a) + wave(2, 3, b)
    expected = a**2 * pixels / 2 + (b / a) * b**2 * pixels / 2
    assert focal_frequency_loss(x, x + error).item() == pytest.approx(expected, rel=1e-9)


def test_zero_on_identical_images_with_a_finite_gradient_and_positive_otherwise():
    x = torch.rand(2, 1, 8, 8)
    loss = FocalFrequencyLoss()
    logits = torch.logit(x).requires_grad_()
    value = loss.recon(x, logits)
    assert value.abs().max().item() < 1e-10
    value.sum().backward()
    assert torch.isfinite(logits.grad).all()
    assert (loss.recon(x, torch.logit(x) + 0.1) > 0).all()


def test_each_image_and_channel_is_weighed_by_its_own_largest_error():
    # the weights are normalised per image and channel (Jiang et al. 2021): a batch scores each image as alone
    x = torch.rand(3, 2, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x_hat = x + torch.tensor([0.01, 0.3, 0.05], dtype=torch.float64).view(3, 1, 1, 1) * torch.randn(
        x.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    alone = torch.cat([focal_frequency_loss(x[i : i + 1], x_hat[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(focal_frequency_loss(x, x_hat), alone)
    per_channel = sum(focal_frequency_loss(x[:, c : c + 1], x_hat[:, c : c + 1]) for c in range(2))
    torch.testing.assert_close(focal_frequency_loss(x, x_hat), per_channel)
