"""Which latent dimensions the traversal figure sweeps (evaluation.figures.traversal_dims): a VAE's of largest KL,
an autoencoder's of largest effect on the decoded image, whatever their spread."""

import numpy as np
import torch
from torch import nn

from vaelab.evaluation.figures import traversal_dims


class Decoder(nn.Module):
    """A decoder that ignores z0, uses z1 strongly and z2 weakly: logits 4 z1 + 0.5 z2 on a 4x4 image."""

    def decode(self, z):
        return (4 * z[:, 1] + 0.5 * z[:, 2]).view(-1, 1, 1, 1).expand(-1, 1, 4, 4)


def test_an_autoencoder_sweeps_the_dimensions_its_decoder_uses_not_the_widest():
    base = torch.zeros(3)
    values = torch.tensor([[-15.0, 0.0, 15.0], [-0.5, 0.0, 0.5], [-3.0, 0.0, 3.0]])  # z0 is the widest
    assert traversal_dims(Decoder(), base, values, kl=None) == [1, 2, 0]


def test_a_vae_sweeps_its_dimensions_of_largest_kl():
    values = torch.zeros(3, 3)
    assert traversal_dims(Decoder(), torch.zeros(3), values, kl=np.array([0.1, 2.0, 0.7])) == [1, 2, 0]
    assert traversal_dims(Decoder(), torch.zeros(3), values, kl=np.array([3.0, 0.0, 1.0])) == [0, 2, 1]
