"""The evaluation of a run whose reconstruction term is no likelihood: no ELBO, IWAE or sigma of its own (null,
with the reason), the bounds at the shared sigma as for every run."""

import torch

from vaelab.config import Config
from vaelab.evaluation.measures import likelihood_metrics
from vaelab.model import ConvVAE
from vaelab.objectives import build_objective


def test_a_loss_has_no_bound_of_its_own_and_the_shared_sigma_ones_as_every_run():
    torch.manual_seed(0)
    config = Config().with_updates({"objective.recon": "watson-dft"})
    model = ConvVAE(image_size=16, channels=1, latent_dim=2, width=4)
    objective = build_objective(config, (1, 16, 16), total_steps=1)
    not_applicable, per_image = {}, {}
    results = likelihood_metrics(model, objective, config, torch.rand(4, 1, 16, 16), 3, torch.Generator(),
                                 not_applicable, 0.3, per_image)
    for name in ("elbo", "elbo_se", "iwae", "bits_per_dim", "sigma"):
        assert results[name] is None and "is no likelihood: see elbo_optimal_sigma" in not_applicable[name]
    assert results["elbo_optimal_sigma"] < 0 and results["iwae_optimal_sigma"] >= results["elbo_optimal_sigma"]
    assert results["iwae_shared_sigma"] >= results["elbo_shared_sigma"]  # a Gaussian at sigma^2 = 1/2, as for every run
    assert set(per_image) == {"elbo_optimal_sigma", "iwae_optimal_sigma", "bits_per_dim_optimal_sigma",
                              "elbo_shared_sigma", "iwae_shared_sigma"}
