"""The network a config describes, and the network a checkpoint's hyperparameters describe."""

from __future__ import annotations

from typing import Any

from vaelab.config import Config
from vaelab.errors import UsageError
from vaelab.model.base import LatentModel
from vaelab.model.conv import ConvVAE, spatial_sizes
from vaelab.model.linear import LinearVAE
from vaelab.model.linear_path import WithLinearPath
from vaelab.model.prior import build_prior
from vaelab.model.resnet import ResNetVAE, default_channel_mults

ARCHS = {"resnet": ResNetVAE, "plain": ConvVAE, "linear": LinearVAE}  # linear: the analytic answer's network
PRIOR_KEYS = ("prior", "prior_components", "prior_covariance")  # in the hparams of a network with another prior


def attach_prior(network: LatentModel, kind: str, components: int | None = None, covariance: str | None = None
                 ) -> LatentModel:
    """`network` with the prior `kind` (model/prior.py) in place of N(0, I), and the prior in its hparams (N(0, I)
    leaves them as they were, so that a checkpoint from before vaelab had priors rebuilds the same network)."""
    if kind == "normal":
        return network
    channels, size = network.hparams["channels"], network.hparams["image_size"]
    network.prior = build_prior(kind, latent_dim=network.latent_dim, image_shape=(channels, size, size),
                                components=components, covariance=covariance)
    network.hparams = {**network.hparams, "prior": kind, "prior_components": components,
                       "prior_covariance": covariance}
    return network


def build_model(config: Config, image_shape: tuple[int, int, int]) -> LatentModel:
    """The network of `config` for images (C, H, W): loss-conditional on beta (FiLM) when
    `objective.beta_range` is set."""
    channels, size, _ = image_shape
    model = config.model
    conditional = config.objective.beta_range is not None
    common = {"image_size": size, "channels": channels, "latent_dim": model.latent_dim, "width": model.width,
              "kind": model.kind, "film_width": model.film_width if conditional else None,
              "activation": model.activation}
    if model.arch == "plain":
        network = ConvVAE(**common)
        network = WithLinearPath(network) if model.linear_path else network
        return attach_prior(network, model.prior, model.prior_components, model.prior_covariance)
    sizes = spatial_sizes(size)
    if model.channel_mults is not None and len(model.channel_mults) != len(sizes):
        raise UsageError(f"model.channel_mults={model.channel_mults} needs one multiplier per resolution of a "
                         f"{size}x{size} image ({len(sizes)}: {', '.join(map(str, sizes))}): e.g. "
                         f"--set model.channel_mults=[{', '.join(map(str, default_channel_mults(len(sizes))))}]")
    network = ResNetVAE(**common, blocks=model.blocks, channel_mults=model.channel_mults, attention=model.attention)
    network = WithLinearPath(network) if model.linear_path else network
    return attach_prior(network, model.prior, model.prior_components, model.prior_covariance)


def model_from_hparams(hparams: dict[str, Any]) -> LatentModel:
    """The network a checkpoint's (or model.json's) `model_hparams` rebuild, untrained; hyperparameters
    without an `arch` are the plain network's, from before vaelab had a second one."""
    arguments = dict(hparams)
    prior = [arguments.pop(key, None) for key in PRIOR_KEYS]
    linear_path = arguments.pop("linear_path", False)
    network = ARCHS[arguments.pop("arch", "plain")](**arguments)
    network = WithLinearPath(network) if linear_path else network
    return attach_prior(network, prior[0] or "normal", *prior[1:])

