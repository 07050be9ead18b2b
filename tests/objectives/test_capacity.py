"""Capacity control: gamma * |KL - C(t)| with C rising linearly (on real training: test_training_methods.py)."""

import pytest
import torch

from vaelab.config import ObjectiveConfig
from vaelab.model import ConvVAE
from vaelab.objectives import Objective
from vaelab.objectives.capacity import capacity_at


def test_capacity_rises_linearly_then_holds():
    values = [capacity_at(t, start=0.0, end=25.0, steps=100_000) for t in (0, 1, 50_000, 100_000, 200_000)]
    assert values == pytest.approx([0.0, 25e-5, 12.5, 25.0, 25.0])
    assert capacity_at(5, start=2.0, end=12.0, steps=10) == pytest.approx(7.0)


def test_paper_defaults():
    config = ObjectiveConfig(capacity=25.0)
    assert (config.capacity_gamma, config.capacity_start, config.capacity_steps) == (1000.0, 0.0, 100_000)


def test_loss_is_recon_plus_gamma_times_distance_to_capacity():
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=1, latent_dim=3, width=4)
    objective = Objective(ObjectiveConfig(capacity=10.0, capacity_steps=100, capacity_gamma=50.0), image_shape=(1, 8, 8))
    x = torch.rand(5, 1, 8, 8)
    output = model(x, generator=torch.Generator().manual_seed(0))
    for step, capacity in [(0, 0.0), (30, 3.0), (500, 10.0)]:
        terms = objective(x, output, step)
        kl = terms.kl.detach().mean()
        torch.testing.assert_close(terms.loss.detach(), terms.recon.detach().mean() + 50.0 * (kl - capacity).abs())
        assert terms.beta == 50.0 and terms.extras["capacity"] == pytest.approx(capacity)
        assert terms.extras["kl_objective"] == pytest.approx(float((kl - capacity).abs()), rel=1e-6)


def test_the_kl_gradient_pushes_towards_the_capacity_from_both_sides():
    objective = Objective(ObjectiveConfig(capacity=2.0, capacity_steps=1, capacity_gamma=1.0), image_shape=(1, 8, 8))
    for kl_value, sign in [(1.0, -1.0), (3.0, 1.0)]:
        kl_per_dim = torch.full((4, 1), kl_value, requires_grad=True)
        weight = objective.weighting(recon=torch.zeros(4), kl=kl_per_dim.sum(dim=1), kl_per_dim=kl_per_dim,
                                     mse=torch.zeros(4), step=10)
        weight.kl_objective.backward()
        torch.testing.assert_close(kl_per_dim.grad, torch.full((4, 1), sign / 4))
