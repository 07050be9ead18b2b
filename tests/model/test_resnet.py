"""The residual network: any image size, the AE twin, FiLM conditioning, and checkpoints that rebuild it."""

import pytest
import torch

from vaelab.model import ConvVAE, ResNetVAE, model_from_hparams
from vaelab.model.resnet import SelfAttention, group_norm
from vaelab.run_dir.checkpoint import load_checkpoint


@pytest.mark.parametrize("size", [8, 16, 28, 64])
def test_the_decoder_lands_on_the_input_size(size):
    model = ResNetVAE(image_size=size, channels=3, latent_dim=5, width=8, blocks=2, attention=True)
    out = model(torch.rand(2, 3, size, size))
    assert out.logits.shape == (2, 3, size, size) and out.z.shape == (2, 5)


def test_the_autoencoder_is_the_network_without_the_log_variance_head():
    vae = ResNetVAE(image_size=16, channels=1, latent_dim=6, width=8)
    ae = ResNetVAE(image_size=16, channels=1, latent_dim=6, width=8, kind="ae")
    head = vae.head[-1]
    assert sum(p.numel() for p in vae.parameters()) - sum(p.numel() for p in ae.parameters()) == (
        head.weight.numel() // 2 + head.bias.numel() // 2)


def test_hparams_rebuild_it_and_an_old_checkpoint_rebuilds_the_plain_network(tmp_path):
    model = ResNetVAE(image_size=16, channels=3, latent_dim=4, width=8, channel_mults=[1, 2, 2], attention=True)
    clone = model_from_hparams(model.hparams)
    clone.load_state_dict(model.state_dict())
    x = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(clone(x, sample=False).logits, model(x, sample=False).logits)
    # hyperparameters saved before vaelab had two networks have no "arch": they are the plain one's
    old = {"image_size": 16, "channels": 3, "latent_dim": 4, "width": 8, "kind": "vae", "film_width": None}
    plain = ConvVAE(**old)
    torch.save({"model_hparams": old, "model": plain.state_dict()}, tmp_path / "old.pt")
    state = load_checkpoint(tmp_path / "old.pt")
    rebuilt = model_from_hparams(state["model_hparams"])
    rebuilt.load_state_dict(state["model"])
    assert isinstance(rebuilt, ConvVAE)
    torch.testing.assert_close(rebuilt(x, sample=False).logits, plain(x, sample=False).logits)


def test_an_untrained_conditional_network_is_the_unconditional_one():
    """FiLM starts as the identity (film.py): at any beta the conditional network computes what the
    unconditional one with the same weights does."""
    torch.manual_seed(0)
    conditional = ResNetVAE(image_size=16, channels=1, latent_dim=4, width=8, film_width=16)
    plain = ResNetVAE(image_size=16, channels=1, latent_dim=4, width=8)
    plain.load_state_dict({k: v for k, v in conditional.state_dict().items() if k in plain.state_dict()})
    x = torch.rand(3, 1, 16, 16)
    for beta in (0.1, 3.0):
        torch.testing.assert_close(conditional(x, sample=False, beta=beta).logits, plain(x, sample=False).logits)


def test_self_attention_mixes_positions_and_group_norm_divides_the_channels():
    attention = SelfAttention(8)
    h = torch.zeros(1, 8, 4, 4)
    h[0, :, 0, 0] = 1.0  # one position differs: attention spreads it to the others
    torch.nn.init.normal_(attention.proj.weight)
    out = attention(h) - h
    assert out[0, :, 3, 3].abs().sum() > 0
    assert [group_norm(c).num_groups for c in (8, 16, 48, 128, 3)] == [2, 4, 12, 32, 1]
