"""A trained run, ready to use: `vaelab.load(RUN)` and the `TrainedModel` it returns.

    model = vaelab.load("runs/art-b01")                       # best.pt, EMA weights, eval mode, on the CPU
    posterior = model.encode(["a.jpg", "b.jpg"])              # q(z|x): .mean, .std, .sample(), .kl()  (N, Z)
    images = model.decode(posterior.mean)                     # float (N, C, H, W) in [0, 1]
    model.reconstruct("a.jpg"), model.sample(16, generator=torch.Generator().manual_seed(0))
    model.interpolate("a.jpg", "b.jpg", steps=10)             # (11, C, H, W), a.jpg's reconstruction first
    vaelab.save_grid(model.sample(64), "samples.png")
    model.with_beta(0.1)                                      # a loss-conditional run (--beta-range) at another beta

The network comes from RUN/model.json and a checkpoint read with `weights_only=True` (vaelab.run_dir.load_network);
nothing reads the run's training data. Images are prepared by `vaelab.inference.images.as_images`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaelab.config import Config
from vaelab.diagnostics.smoothness import decode_means, interpolation_paths
from vaelab.inference.images import as_images
from vaelab.model import LatentModel, at_beta
from vaelab.model.posterior import DiagonalGaussian, PointMass
from vaelab.objectives.conditional import check_beta
from vaelab.run_dir import RunDir
from vaelab.run_dir.model import load_network
from vaelab.training.device import resolve_device

BATCH = 256  # images per forward pass


def load(run: str | Path, checkpoint: str = "best", beta: float | None = None, device: str = "cpu") -> TrainedModel:
    """The trained model of `run`: checkpoint `best` (highest validation ELBO) or `last`, in eval mode with the
    moving average of the weights where the run kept one, on `device` (cpu, cuda, mps or auto). `beta`: for a
    loss-conditional run, the beta to serve (default: the one it was validated at, objective.beta); no other run
    takes one."""
    run_dir = RunDir(Path(run))
    torch_device = resolve_device(device)
    network, state = load_network(run_dir, checkpoint, torch_device)
    config = Config.from_saved(state["config"])
    if beta is not None:
        check_beta(config, beta, run_dir.path, flag="beta")
    return TrainedModel(run_dir, network, config, step=state["step"], checkpoint=checkpoint, beta=beta)


class TrainedModel:
    """A trained network with the run's conventions: images in, images out, float (N, C, H, W) in [0, 1].

    `beta`: the beta served (a loss-conditional run's, any in `beta_range`), else the beta the run was trained
    at (None for the autoencoder, which has no KL term). `step`: the checkpoint's optimiser step.
    """

    def __init__(self, run: RunDir, network: LatentModel, config: Config, *, step: int, checkpoint: str,
                 beta: float | None = None):
        self.run, self.network, self.config, self.step, self.checkpoint = run, network, config, step, checkpoint
        objective = config.objective
        self.beta_range: tuple[float, float] | None = (None if objective.beta_range is None
                                                       else tuple(objective.beta_range))
        self.beta = (beta if beta is not None else objective.beta) if config.model.kind == "vae" else None
        self.served = at_beta(network, self.beta)  # a loss-conditional network at self.beta, any other as it is
        self.image_shape: tuple[int, int, int] = run.image_shape()
        self.latent_dim: int = network.latent_dim
        self.kind: str = config.model.kind  # vae or ae

    @property
    def conditional(self) -> bool:
        """Loss-conditional: one network for every beta of `beta_range`."""
        return self.beta_range is not None

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def with_beta(self, beta: float) -> TrainedModel:
        """The same loss-conditional network serving another beta of its range (the weights are shared)."""
        check_beta(self.config, beta, self.run.path, flag="beta")
        other = copy.copy(self)
        other.beta, other.served = beta, at_beta(self.network, beta)
        return other

    def prepare(self, images: Any) -> torch.Tensor:
        """`images` as the network takes them, (N, C, H, W) float32 in [0, 1] on the model's device."""
        return as_images(images, self.image_shape).to(self.device)

    @torch.no_grad()
    def encode(self, images: Any) -> DiagonalGaussian | PointMass:
        """The posterior q(z|x) of each image: `.mean` (N, Z), and for the VAE `.std`, `.sample()`, `.kl()`
        (nats per image); the autoencoder's is a point mass at its code."""
        x = self.prepare(images)  # (N, C, H, W)
        parts = [self.served.encode(x[i : i + BATCH]) for i in range(0, len(x), BATCH)]
        if isinstance(parts[0], PointMass):
            return PointMass(torch.cat([p.mean for p in parts]))
        return DiagonalGaussian(torch.cat([p.mean for p in parts]), torch.cat([p.logvar for p in parts]))

    @torch.no_grad()
    def decode(self, z: torch.Tensor | np.ndarray | list) -> torch.Tensor:
        """The decoder's pixel means sigmoid(logits) of codes (N, Z) or one code (Z,): (N, C, H, W) in [0, 1]."""
        z = torch.as_tensor(np.asarray(z, dtype=np.float32) if not isinstance(z, torch.Tensor) else z)
        z = z.to(self.device, torch.float32).reshape(-1, self.latent_dim)
        return decode_means(self.served, z, BATCH)

    def reconstruct(self, images: Any, sample: bool = False, generator: torch.Generator | None = None
                    ) -> torch.Tensor:
        """decode(z) of each image's code: the posterior mean, or with `sample` a draw z ~ q(z|x) (`generator`:
        a CPU generator, for the same draws on any device). (N, C, H, W) in [0, 1]"""
        posterior = self.encode(images)
        if not sample or isinstance(posterior, PointMass):
            return self.decode(posterior.mean)
        eps = torch.randn(posterior.mean.shape, generator=generator).to(self.device)
        return self.decode(posterior.mean + posterior.std * eps)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """decode(z) of n codes z ~ p(z), the run's prior (model.prior: N(0, I), the VampPrior, the mixture
        fitted to the training codes; N(0, I) where that mixture was not fitted yet), drawn on the CPU by
        `generator`, so a seed gives the same images on any device. For the autoencoder, whose codes were never
        pulled towards N(0, I), draws from N(0, I) show what its latent space lacks. (n, C, H, W) in [0, 1]"""
        prior = self.served.prior_density() if self.kind == "vae" else None
        if prior is None or prior.standard:
            return self.decode(torch.randn(n, self.latent_dim, generator=generator))
        return self.decode(prior.to("cpu").sample(n, generator))

    def interpolate(self, a: Any, b: Any, steps: int = 10) -> torch.Tensor:
        """Decodes of the `steps` + 1 codes (1 - t) z_a + t z_b, t = 0, 1/steps, ..., 1, between the posterior
        means of images a and b (a straight line in the latent space, as the report's interpolations).
        (steps + 1, C, H, W) in [0, 1]"""
        if steps < 1:
            raise ValueError(f"steps={steps}: an interpolation needs at least 1 step")
        z = self.encode([a, b]).mean
        return interpolation_paths(self.served, z[:1], z[1:], steps)[0]

    def describe(self) -> str:
        """One line: the run, its config in short, the checkpoint and the beta served."""
        served = f", served at beta = {self.beta:g}" if self.conditional else ""
        return f"{self.run.path}: {self.config.describe()}, {self.checkpoint}.pt at step {self.step}{served}"

    def __repr__(self) -> str:
        return (f"TrainedModel({str(self.run.path)!r}, {self.kind}, latent_dim={self.latent_dim}, "
                f"image_shape={self.image_shape}, beta={self.beta}, step={self.step})")
