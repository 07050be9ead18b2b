"""pythae 0.1.2's VAE and AE with its own benchmark networks (CelebA's convnets for 64 x 64 colour images,
MNIST's for 28 x 28 grey ones) at its default training settings (Adam, learning rate 1e-4, batch 64), trained
for the epochs that fit a CPU budget, and wrapped so that vaelab's measurements read them: `encode(x)` gives
the posterior (the AE's point mass), `decode(z)` logits (pythae's decoders end in a sigmoid)."""

from __future__ import annotations

import math
import tempfile
import time

import numpy as np
import torch
from torch import nn

from vaelab.config import Config
from vaelab.model.posterior import DiagonalGaussian, PointMass


class PythaeAdapter(nn.Module):
    """A trained pythae model as vaelab's code reads a network."""

    def __init__(self, model, kind: str, latent_dim: int):
        super().__init__()
        self.pythae = model.eval()
        self.kind = kind.lower()
        self.latent_dim = latent_dim

    def encode(self, x: torch.Tensor):
        out = self.pythae.encoder(x)
        if self.kind == "ae":
            return PointMass(out.embedding)
        return DiagonalGaussian(out.embedding, out.log_covariance)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.logit(self.pythae.decoder(z).reconstruction.clamp(1e-6, 1 - 1e-6))


def networks(kind: str, model_config, channels: int):
    from pythae.models.nn.benchmarks import celeba, mnist

    family, suffix = (celeba, "CELEBA") if channels == 3 else (mnist, "MNIST")
    encoder = getattr(family, f"Encoder_Conv_{'VAE' if kind == 'VAE' else 'AE'}_{suffix}")(model_config)
    decoder = getattr(family, f"Decoder_Conv_AE_{suffix}")(model_config)
    return encoder, decoder


def build(kind: str, config: Config, shape: tuple[int, int, int]):
    from pythae.models import AE, VAE, AEConfig, VAEConfig

    configs = {"VAE": VAEConfig, "AE": AEConfig}
    model_config = configs[kind](input_dim=shape, latent_dim=config.model.latent_dim, reconstruction_loss="mse")
    encoder, decoder = networks(kind, model_config, shape[0])
    return (VAE if kind == "VAE" else AE)(model_config, encoder=encoder, decoder=decoder)


def epochs(model, dataset, count: int) -> float:
    """Train `model` for `count` epochs with pythae's BaseTrainer at its defaults; the CPU seconds it took."""
    from pythae.trainers import BaseTrainer, BaseTrainerConfig
    from pythae.trainers.training_callbacks import ProgressBarCallback

    with tempfile.TemporaryDirectory() as out:
        trainer_config = BaseTrainerConfig(output_dir=out, num_epochs=count, seed=0, no_cuda=True)
        trainer = BaseTrainer(model, dataset, training_config=trainer_config)
        trainer.prepare_training()
        handler = trainer.callback_handler
        handler.callbacks = [c for c in handler.callbacks if not isinstance(c, ProgressBarCallback)]
        started = time.process_time()
        for epoch in range(1, count + 1):
            trainer.train_step(epoch)
        return time.process_time() - started


def pythae_run(kind: str, train_images: np.ndarray, config: Config, budget: float
               ) -> tuple[PythaeAdapter, int, float]:
    """(the trained model, its optimiser steps, CPU seconds): one probe epoch, then a fresh model for the epochs
    the budget holds; where it holds one epoch or fewer, the probe is that run (the same seeds train the same
    model), so the budget is not spent twice."""
    from pythae.data.datasets import BaseDataset

    data = torch.from_numpy(train_images).float() / 255
    dataset = BaseDataset(data, torch.zeros(len(data)))
    shape = tuple(train_images.shape[1:])
    torch.manual_seed(0)
    probe = build(kind, config, shape)
    per_epoch = epochs(probe, dataset, 1)
    count = max(1, int(budget / per_epoch))
    if count == 1:
        return PythaeAdapter(probe, kind, config.model.latent_dim), math.ceil(len(data) / 64), per_epoch
    torch.manual_seed(0)
    model = build(kind, config, shape)
    cpu = epochs(model, dataset, count)
    steps = count * math.ceil(len(data) / 64)
    return PythaeAdapter(model, kind, config.model.latent_dim), steps, cpu
