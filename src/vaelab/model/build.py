"""The network a config describes, and the network a checkpoint's hyperparameters describe."""

from __future__ import annotations

from typing import Any

from vaelab.config import Config
from vaelab.model.conv import ConvVAE


def build_model(config: Config, image_shape: tuple[int, int, int]) -> ConvVAE:
    """The network of `config` for images (C, H, W): loss-conditional on beta (FiLM) when
    `objective.beta_range` is set."""
    channels, size, _ = image_shape
    conditional = config.objective.beta_range is not None
    return ConvVAE(
        image_size=size, channels=channels, latent_dim=config.model.latent_dim, width=config.model.width,
        kind=config.model.kind, film_width=config.model.film_width if conditional else None,
    )


def model_from_hparams(hparams: dict[str, Any]) -> ConvVAE:
    """The network a checkpoint's (or model.json's) `model_hparams` rebuild, untrained."""
    return ConvVAE(**hparams)


def image_shape_of(hparams: dict[str, Any]) -> tuple[int, int, int]:
    """(C, H, W) of the images the network of `hparams` takes."""
    return hparams["channels"], hparams["image_size"], hparams["image_size"]
