"""FiLM conditioning on beta: an untrained conditional network is the unconditional one, training the FiLM
layers makes beta change the output, and a checkpoint's hparams rebuild the conditional model."""

import pytest
import torch

from vaelab.model import AtBeta, ConvVAE, at_beta, model_from_hparams
from vaelab.model.film import FiLM

SIZE = {"image_size": 16, "channels": 1, "latent_dim": 4, "width": 8}


def conditional_twin() -> tuple[ConvVAE, ConvVAE]:
    """An unconditional model and a conditional one holding the same convolution weights."""
    torch.manual_seed(0)
    plain = ConvVAE(**SIZE)
    conditional = ConvVAE(**SIZE, film_width=16)
    missing, unexpected = conditional.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(name.startswith(("embedding", "encoder_films", "decoder_films")) for name in missing)
    return plain, conditional


def test_film_with_zero_parameters_is_the_identity():
    film = FiLM(width=5, channels=3)
    h, c = torch.randn(2, 3, 4, 4), torch.randn(2, 5)
    assert torch.equal(film(h, c), h)
    with torch.no_grad():
        film.to_gamma_delta.bias.copy_(torch.tensor([1.0, 0.0, -0.5, 0.25, 0.0, 2.0]))  # gamma (3,), delta (3,)
    expected = h * torch.tensor([2.0, 1.0, 0.5])[:, None, None] + torch.tensor([0.25, 0.0, 2.0])[:, None, None]
    torch.testing.assert_close(film(h, c), expected)  # h * (1 + gamma) + delta per channel


def test_an_untrained_conditional_network_reproduces_the_unconditional_one():
    plain, conditional = conditional_twin()
    x = torch.rand(3, 1, 16, 16)
    expected = plain(x, sample=False)
    for beta in (0.01, 1.0, torch.tensor([0.01, 1.0, 10.0])):
        out = conditional(x, sample=False, beta=beta)
        torch.testing.assert_close(out.logits, expected.logits, rtol=0, atol=0)
        torch.testing.assert_close(out.posterior.logvar, expected.posterior.logvar, rtol=0, atol=0)


def test_trained_film_layers_make_the_output_depend_on_beta():
    _, conditional = conditional_twin()
    torch.manual_seed(1)
    with torch.no_grad():
        for film in [*conditional.encoder_films, *conditional.decoder_films]:
            film.to_gamma_delta.weight.normal_(0, 0.5)
    x = torch.rand(3, 1, 16, 16)
    low, high = (conditional(x, sample=False, beta=beta) for beta in (0.01, 10.0))
    assert (low.logits - high.logits).abs().max() > 1e-3
    assert (low.posterior.mean - high.posterior.mean).abs().max() > 1e-3
    # one beta per example: each row is what that beta alone gives
    mixed = conditional(x, sample=False, beta=torch.tensor([0.01, 10.0, 0.01]))
    torch.testing.assert_close(mixed.logits[1], high.logits[1])
    torch.testing.assert_close(mixed.logits[2], low.logits[2])


def test_at_beta_gives_the_unconditional_interface():
    _, conditional = conditional_twin()
    plain = ConvVAE(**SIZE)
    assert at_beta(plain, 0.3) is plain  # an ordinary model is itself at its own beta
    served = at_beta(conditional, 0.3)
    assert isinstance(served, AtBeta) and served.latent_dim == 4 and served.hparams["film_width"] == 16
    x, z = torch.rand(2, 1, 16, 16), torch.randn(2, 4)
    torch.testing.assert_close(served.decode(z), conditional.decode(z, 0.3))
    assert served(x, sample=False).beta == 0.3


def test_the_beta_must_be_given_to_a_conditional_model_and_only_to_it():
    plain, conditional = conditional_twin()
    x = torch.rand(2, 1, 16, 16)
    with pytest.raises(ValueError, match="needs the beta"):
        conditional(x)
    with pytest.raises(ValueError, match="needs the beta"):
        plain(x, beta=1.0)


def test_hparams_rebuild_the_conditional_model():
    _, conditional = conditional_twin()
    rebuilt = model_from_hparams(conditional.hparams)
    rebuilt.load_state_dict(conditional.state_dict())  # strict: the same FiLM layers
    assert rebuilt.conditional and len(rebuilt.encoder_films) == 2 and len(rebuilt.decoder_films) == 1

