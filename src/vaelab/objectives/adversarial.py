"""The optional adversarial term (`objective.gan_weight > 0`): a PatchGAN discriminator trained from scratch
beside the VAE, the recipe of the latent-diffusion autoencoders (Esser, Rombach & Ommer 2021, "Taming
Transformers for High-Resolution Image Synthesis", sec. 3.2; Rombach et al. 2022), with the discriminator of
pix2pix (Isola et al. 2017): 4 x 4 convolutions, `gan_layers` of them of stride 2 and two of stride 1, LeakyReLU
0.2, one logit per patch (70 x 70 pixels at 3 layers). GroupNorm stands in for its BatchNorm: no running
statistics, so the discriminator is the same in every mode, a resumed run exact and DDP's processes alike.

    hinge loss (Lim & Ye 2017)   L_D = 1/2 [ mean relu(1 - D(x)) + mean relu(1 + D(x_hat)) ]
                                 L_G = -mean D(x_hat)
    adaptive weight (Esser et al. eq. 7)
                                 lambda = |grad_L recon| / (|grad_L L_G| + 1e-4), clamped to [0, 1e4], detached,
                                 L the weight of the decoder's last layer, recon the batch mean of the recon term
    the VAE's loss               recon + beta * KL + gan_weight * lambda * L_G        from step gan_start on

The discriminator takes a step of Adam (betas 0.5, 0.9, the learning rate in force) on L_D after each VAE step
from gan_start on; its weights and its optimiser's state are part of the objective's state, so checkpoints
carry them and a resumed run continues exactly. Validation has no adversarial term (lambda needs gradients, as
in the latent-diffusion code): a validation loss is recon + beta * KL. Logged with each training step: `gan_lambda`
(gan_weight * lambda in force, 0 before gan_start), `gan_generator` (L_G), `disc_loss` (L_D), `disc_real` and
`disc_fake` (the mean logits).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from vaelab.config import Config, ObjectiveConfig
from vaelab.errors import UsageError
from vaelab.model.resnet import group_norm

ADAM_BETAS = (0.5, 0.9)  # the latent-diffusion autoencoders' discriminator optimiser
MAX_WIDTH_FACTOR = 8  # pix2pix: the channels double per layer up to 8 x the first's


def check_config(config: Config) -> None:
    """The adversarial term sharpens a VAE's decoder: not on the plain AE, not on a loss-conditional model (one
    discriminator cannot judge every beta's reconstructions); its settings only with it."""
    objective = config.objective
    if objective.gan_weight == 0:
        unused = [name for name in ("gan_start", "gan_layers")
                  if getattr(objective, name) != getattr(ObjectiveConfig, name)]
        if unused:
            raise UsageError(f"objective.{unused[0]} shapes the adversarial term, which is off: set "
                             "objective.gan_weight (e.g. --set objective.gan_weight=0.5) or drop it")
        return
    if config.model.kind == "ae":
        raise UsageError("objective.gan_weight: a PatchGAN term on the plain AE is refused: it is the latent-diffusion "
                         "recipe for a VAE's decoder; use --model vae (e.g. --beta 1e-6 as there) or drop the GAN")
    if objective.beta_range is not None:
        raise UsageError("objective.gan_weight with objective.beta_range: one discriminator cannot judge the "
                         "reconstructions of every beta of a loss-conditional model; drop one of them")


def patches_per_side(size: int, layers: int) -> int:
    """The discriminator's output size on images `size` pixels a side: each stride-2 4 x 4 convolution (padding 1)
    halves it, rounding down; each of the two of stride 1 takes one off."""
    for _ in range(layers):
        size //= 2
    return size - 2


class PatchDiscriminator(nn.Module):
    """pix2pix's N-layer discriminator with GroupNorm: images in [0, 1] (B, C, H, W) -> patch logits (B, 1, h, w)."""

    def __init__(self, *, channels: int, width: int, layers: int):
        super().__init__()
        widths = [width * min(2**n, MAX_WIDTH_FACTOR) for n in range(layers + 1)]
        stack: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        for n in range(1, layers + 1):
            stride = 2 if n < layers else 1
            stack += [nn.Conv2d(widths[n - 1], widths[n], 4, stride=stride, padding=1, bias=False),
                      group_norm(widths[n]), nn.LeakyReLU(0.2)]
        stack.append(nn.Conv2d(widths[layers], 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*stack)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(2 * images - 1)  # pixels in [-1, 1], as in the latent-diffusion code


def hinge_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """L_D = 1/2 [mean relu(1 - D(x)) + mean relu(1 + D(x_hat))] (Lim & Ye 2017)."""
    return 0.5 * (torch.relu(1 - real_logits).mean() + torch.relu(1 + fake_logits).mean())


def adaptive_weight(recon: torch.Tensor, generator_loss: torch.Tensor, last_layer: torch.Tensor) -> torch.Tensor:
    """lambda = |grad recon| / (|grad L_G| + 1e-4) at `last_layer`, clamped to [0, 1e4] and detached (Esser et al.
    2021, eq. 7): the adversarial term's gradient there is scaled to the reconstruction's."""
    recon_grad = torch.autograd.grad(recon, last_layer, retain_graph=True)[0]
    generator_grad = torch.autograd.grad(generator_loss, last_layer, retain_graph=True)[0]
    return (recon_grad.norm() / (generator_grad.norm() + 1e-4)).clamp(0, 1e4).detach()


class AdversarialTerm(nn.Module):
    """The discriminator, its optimiser (in the module's state: `get_extra_state`) and the two losses."""

    def __init__(self, *, image_shape: tuple[int, int, int], width: int, layers: int, weight: float, start: int):
        super().__init__()
        channels, height, width_px = image_shape
        if patches_per_side(min(height, width_px), layers) < 1:
            fits = max((n for n in range(1, layers) if patches_per_side(min(height, width_px), n) >= 1), default=0)
            fix = (f"use --set objective.gan_layers={fits}" if fits else "use larger images (e.g. --image-size 32)")
            raise UsageError(f"objective.gan_layers={layers} leaves the discriminator no patch on {height} x "
                             f"{width_px} images: {fix}")
        self.discriminator = PatchDiscriminator(channels=channels, width=width, layers=layers)
        self.weight = weight
        self.start = start
        self.optimizer = torch.optim.Adam(self.discriminator.parameters(), betas=ADAM_BETAS)

    def generator_term(self, fake: torch.Tensor, recon: torch.Tensor, last_layer: torch.Tensor, step: int
                       ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(gan_weight * lambda * L_G, its logged values): the term the VAE's loss adds at `step` (0 before
        gan_start). fake: the reconstructions (B, C, H, W) with their graph; recon: the batch mean of the recon
        term; the discriminator's weights get no gradient from it."""
        self.discriminator.requires_grad_(False)
        try:
            generator_loss = -self.discriminator(fake).mean()
        finally:
            self.discriminator.requires_grad_(True)
        if step < self.start:
            zero = torch.zeros((), device=fake.device)
            return zero, {"gan_lambda": zero, "gan_generator": generator_loss.detach()}
        weight = self.weight * adaptive_weight(recon, generator_loss, last_layer)
        return weight * generator_loss, {"gan_lambda": weight, "gan_generator": generator_loss.detach()}

    def discriminator_step(self, real: torch.Tensor, fake: torch.Tensor, *, step: int, lr: float,
                           sync: Callable[[nn.Module], None] | None = None) -> dict[str, torch.Tensor]:
        """One Adam step of the discriminator on L_D (from gan_start on; before it L_D is only measured), after the
        VAE's step `step`. real, fake: (B, C, H, W), fake detached. `sync` averages its gradients over the
        processes of a data-parallel run. Returns the values to log."""
        training = step >= self.start
        with torch.set_grad_enabled(training):
            real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
            loss = hinge_discriminator_loss(real_logits, fake_logits)
        if training:
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if sync is not None:
                sync(self)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            self.optimizer.step()
        return {"disc_loss": loss.detach(), "disc_real": real_logits.detach().mean(),
                "disc_fake": fake_logits.detach().mean()}

    def get_extra_state(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
