"""The PatchGAN term: the hinge losses, the adaptive weight and the discriminator's size, on known values."""

import math

import pytest
import torch

from vaelab.errors import UsageError
from vaelab.objectives.adversarial import (
    AdversarialTerm,
    PatchDiscriminator,
    adaptive_weight,
    hinge_discriminator_loss,
    patches_per_side,
)


def test_hinge_loss_known_value():
    # relu(1 - [2, 0.5]) = [0, 0.5], relu(1 + [-2, 0]) = [0, 1]: 0.5 * (0.25 + 0.5)
    loss = hinge_discriminator_loss(torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0]))
    assert loss.item() == pytest.approx(0.375)


def test_adaptive_weight_is_the_ratio_of_the_gradient_norms_at_the_last_layer_clamped():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    recon, generator = 3 * w.sum(), (w**2).sum()  # gradients 3 (1, 1) and 2 w = (2, 4)
    assert adaptive_weight(recon, generator, w).item() == pytest.approx(3 * math.sqrt(2) / (math.sqrt(20) + 1e-4))
    assert adaptive_weight(3 * w.sum(), 0 * w.sum(), w).item() == 1e4  # 3 sqrt(2) / 1e-4, clamped
    assert not adaptive_weight(3 * w.sum(), (w**2).sum(), w).requires_grad


@pytest.mark.parametrize("size,layers", [(16, 1), (16, 2), (28, 3), (64, 3), (64, 4)])
def test_the_discriminator_outputs_the_patches_it_is_said_to(size, layers):
    logits = PatchDiscriminator(channels=3, width=4, layers=layers)(torch.rand(2, 3, size, size))
    assert logits.shape == (2, 1, patches_per_side(size, layers), patches_per_side(size, layers))
    assert patches_per_side(64, 3) == 6 and patches_per_side(28, 3) == 1  # 70 x 70 patches: 6 x 6 on 64 px


def test_too_many_layers_for_the_images_is_a_one_line_error_that_names_what_fits():
    with pytest.raises(UsageError, match=r"gan_layers=3 leaves the discriminator no patch on 16 x 16 images: use "
                                         r"--set objective.gan_layers=2") as error:
        AdversarialTerm(image_shape=(1, 16, 16), width=4, layers=3, weight=0.5, start=0)
    assert "\n" not in str(error.value)


def test_the_generator_term_starts_at_its_step_and_gives_the_discriminator_no_gradient():
    torch.manual_seed(0)
    term = AdversarialTerm(image_shape=(1, 16, 16), width=4, layers=1, weight=0.5, start=10)
    last = torch.randn(4, requires_grad=True)
    fake = torch.sigmoid(last.sum() * torch.ones(2, 1, 16, 16) + torch.randn(2, 1, 16, 16))
    recon = (fake - 0.5).pow(2).sum()
    before, logged = term.generator_term(fake, recon, last, step=9)
    assert before.item() == 0 and logged["gan_lambda"].item() == 0
    after, logged = term.generator_term(fake, recon, last, step=10)
    expected = 0.5 * adaptive_weight(recon, -term.discriminator(fake).mean(), last)
    assert logged["gan_lambda"].item() == pytest.approx(expected.item(), rel=1e-5)
    torch.testing.assert_close(after, logged["gan_lambda"] * logged["gan_generator"])
    # L_G = -mean D(x_hat) (Lim & Ye 2017): the VAE lowers it by raising the discriminator's patch logits
    torch.testing.assert_close(logged["gan_generator"], -term.discriminator.net(2 * fake - 1).detach().mean())
    after.backward()
    assert all(p.grad is None for p in term.discriminator.parameters())
    assert all(p.requires_grad for p in term.discriminator.parameters())  # frozen only for the VAE's term
