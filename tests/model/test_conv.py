"""The network adapts to the image size and channel count, and the AE twin shares its shape."""

import pytest
import torch

from vaelab.model import ConvVAE, model_from_hparams, spatial_sizes
from vaelab.model.posterior import DiagonalGaussian, PointMass


@pytest.mark.parametrize("size", [8, 28, 32, 64, 128, 256])
@pytest.mark.parametrize("channels", [1, 3])
def test_decoder_returns_the_input_shape(size, channels):
    model = ConvVAE(image_size=size, channels=channels, latent_dim=4, width=4)
    out = model(torch.rand(2, channels, size, size))
    assert out.logits.shape == (2, channels, size, size)
    assert out.z.shape == (2, 4)


def test_spatial_sizes():
    assert spatial_sizes(28) == [28, 14, 7, 4]
    assert spatial_sizes(64) == [64, 32, 16, 8, 4]
    assert spatial_sizes(8) == [8, 4]


def test_ae_is_the_same_network_with_a_deterministic_bottleneck():
    vae = ConvVAE(image_size=32, channels=3, latent_dim=16, width=8, kind="vae")
    ae = ConvVAE(image_size=32, channels=3, latent_dim=16, width=8, kind="ae")
    n_vae = sum(p.numel() for p in vae.parameters())
    n_ae = sum(p.numel() for p in ae.parameters())
    head_difference = vae.head.weight.numel() // 2 + vae.head.bias.numel() // 2  # the log-variance head
    assert n_vae - n_ae == head_difference
    x = torch.rand(3, 3, 32, 32)
    assert isinstance(vae.encode(x), DiagonalGaussian) and isinstance(ae.encode(x), PointMass)
    torch.testing.assert_close(ae(x).logits, ae(x).logits)  # deterministic


def test_hparams_rebuild_the_model():
    model = ConvVAE(image_size=28, channels=1, latent_dim=8, width=4, kind="ae")
    clone = model_from_hparams(model.hparams)
    clone.load_state_dict(model.state_dict())
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(clone(x).logits, model(x).logits)
