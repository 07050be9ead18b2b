"""Loss-conditional training: log-uniform betas, each example's loss recon_b + beta_b * KL_b, what is logged,
and the combinations that are refused."""

import math

import pytest
import torch

from vaelab.config import Config, ObjectiveConfig
from vaelab.errors import UsageError
from vaelab.model import ConvVAE, at_beta
from vaelab.objectives import Objective, check_objective
from vaelab.objectives.conditional import LogUniformBeta

SHAPE = (1, 8, 8)


def test_log_uniform_betas_stay_in_range_with_the_geometric_mean_as_median():
    betas = LogUniformBeta(0.01, 10.0).sample(200_000, torch.Generator().manual_seed(0))
    assert betas.shape == (200_000,) and betas.min() >= 0.01 and betas.max() <= 10.0
    assert float(betas.median()) == pytest.approx(math.sqrt(0.01 * 10.0), rel=0.02)
    assert LogUniformBeta(0.01, 10.0).median == pytest.approx(math.sqrt(0.1))
    # the same share of examples in every decade: log10 beta is uniform on [-2, 1]
    decades = torch.histc(betas.log10(), bins=3, min=-2, max=1) / len(betas)
    torch.testing.assert_close(decades, torch.full((3,), 1 / 3), atol=0.01, rtol=0)
    # the draws are the generator's (a resumed run draws the same betas), not the global stream's
    torch.manual_seed(1)
    again = LogUniformBeta(0.01, 10.0).sample(5, torch.Generator().manual_seed(0))
    torch.manual_seed(2)
    assert torch.equal(again, LogUniformBeta(0.01, 10.0).sample(5, torch.Generator().manual_seed(0)))


def conditional_setup(recon="sse", beta=1.0):
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=1, latent_dim=3, width=4, film_width=8)
    config = ObjectiveConfig(recon=recon, beta=beta, beta_range=[0.01, 10.0])
    config.validate()
    return model, Objective(config, image_shape=SHAPE), torch.rand(5, *SHAPE)


@pytest.mark.parametrize("recon", ["sse", "mse-mean", "gaussian", "bernoulli"])
def test_each_example_is_weighed_by_its_own_beta(recon):
    model, objective, x = conditional_setup(recon)
    betas = objective.sample_beta(len(x), torch.Generator().manual_seed(1))
    assert betas.shape == (5,) and len(set(betas.tolist())) == 5
    terms = objective(x, model(x, generator=torch.Generator().manual_seed(0), beta=betas), step=0)
    per_example = terms.recon + betas * terms.kl  # recon_b + beta_b * KL_b
    torch.testing.assert_close(terms.loss, per_example.mean())
    assert not torch.allclose(terms.loss, (terms.recon + betas.mean() * terms.kl).mean())  # not one shared beta
    assert terms.metrics()["beta"] == pytest.approx(math.exp(betas.double().log().mean()))  # the geometric mean


def test_at_one_beta_the_terms_are_a_separate_runs():
    model, objective, x = conditional_setup("sse", beta=0.1)
    terms = objective(x, at_beta(model, 0.1)(x, generator=torch.Generator().manual_seed(0)), step=0)
    torch.testing.assert_close(terms.loss, terms.recon.mean() + 0.1 * terms.kl.mean())
    metrics = terms.metrics()
    assert metrics["beta"] == 0.1  # exactly, as a separate run at 0.1 logs it
    assert metrics["sigma"] == pytest.approx(math.sqrt(0.1 / 2))  # sse: the ELBO under beta's implied sigma
    minus_elbo = terms.recon / (2 * 0.05) + 64 * 0.5 * math.log(2 * math.pi * 0.05) + terms.kl
    torch.testing.assert_close(terms.elbo, -minus_elbo)


def test_an_ordinary_objective_draws_no_betas():
    objective = Objective(ObjectiveConfig(beta=0.5), image_shape=SHAPE)
    assert objective.sample_beta(4, torch.Generator()) is None
    _, conditional, _ = conditional_setup(beta=0.5)
    assert conditional.weighting is None and conditional.beta_at(10) == 0.5  # its validation beta


@pytest.mark.parametrize("updates,message", [
    ({"objective.beta_range": [1.0, 0.1]}, "0 < LO < HI"),
    ({"objective.beta_range": [0.0, 1.0]}, "0 < LO < HI"),
    ({"objective.beta_range": [0.5, 0.5]}, "0 < LO < HI"),
    ({"objective.beta_range": [0.1, 1.0, 10.0]}, "must be \\[LO, HI\\]"),
    ({"objective.beta_range": [0.01, 10], "objective.free_bits": 0.5}, "--free-bits sets the KL weight itself"),
    ({"objective.beta_range": [0.01, 10], "objective.capacity": 25}, "--capacity"),
    ({"objective.beta_range": [0.01, 10], "objective.geco_target": 0.01}, "--geco-target"),
    ({"objective.beta_range": [0.01, 10], "objective.beta_schedule": "linear:100"}, "--beta-schedule linear:100"),
    ({"objective.beta_range": [0.01, 10], "objective.recon": "sigma-learned"}, "one decoder sigma"),
    ({"objective.beta_range": [0.01, 0.1]}, "objective.beta=1 is outside .* --beta 0.032"),
    ({"objective.beta_range": [0.01, 10], "model.kind": "ae"}, "autoencoder has no KL term"),
])
def test_what_a_beta_range_does_not_combine_with_is_refused(updates, message):
    with pytest.raises(UsageError, match=message):
        check_objective(Config().with_updates(updates))


def test_the_range_is_saved_and_described(tmp_path):
    config = Config().with_updates({"objective.beta_range": "[0.01, 10]", "objective.beta": 0.1})
    config.save(tmp_path / "config.yaml")
    assert Config.load(tmp_path / "config.yaml").objective.beta_range == [0.01, 10.0]
    assert config.describe() == ("VAE, latent 32, summed squared error + 0.1 x KL "
                                 "(loss-conditional: one model for every beta in [0.01, 10])")
