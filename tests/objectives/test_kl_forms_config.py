"""The priors' and the KL-term methods' settings: each impossible one, alone or in combination, is a one-line
error naming the fix, before anything is written."""

import pytest

from vaelab.cli import main
from vaelab.config import Config
from vaelab.errors import UsageError
from vaelab.objectives import check_objective


@pytest.mark.parametrize("updates, message", [
    ({"model.prior": "flow"}, "model.prior='flow' is unknown: use normal, vamp, gmm"),
    ({"model.prior_components": 10}, "drop it, or add --set model.prior=vamp"),
    ({"model.prior": "vamp", "model.prior_components": 0}, "model.prior_components=0 must be at least 1"),
    ({"model.prior": "vamp", "model.prior_covariance": "full"}, "add --set model.prior=gmm"),
    ({"model.prior": "gmm", "model.prior_covariance": "spherical"}, "use full or diag"),
    ({"model.prior": "vamp", "model.kind": "ae"}, "or --set model.prior=gmm"),
    ({"model.prior": "gmm", "objective.beta_range": [0.1, 1.0]}, "drop --beta-range"),
    ({"objective.method": "wae"}, "objective.method='wae' is unknown: use elbo, iwae, tcvae, infovae"),
    ({"objective.method": "iwae", "objective.iwae_samples": 0}, "iwae_samples=0 must be at least 1"),
    ({"objective.iwae_samples": 5}, "add --set objective.method=iwae"),
    ({"objective.method": "iwae", "objective.beta_schedule": "linear:100"}, "drop --beta-schedule linear:100"),
    ({"objective.method": "iwae", "objective.recon": "sigma-optimal"}, "use --recon sigma-learned"),
    ({"objective.method": "iwae", "objective.recon": "bernoulli", "objective.beta": 0.5}, "needs --beta 1"),
    ({"objective.method": "iwae", "objective.beta": 0.0}, "needs beta > 0"),
    ({"objective.method": "tcvae", "objective.tc_beta": -1.0}, "tc_beta=-1.0 must be >= 0"),
    ({"objective.method": "tcvae", "objective.tc_sampling": "full"}, "use mws (minibatch-weighted) or mss"),
    ({"objective.tc_beta": 6.0}, "add --set objective.method=tcvae"),
    ({"objective.method": "tcvae", "model.prior": "vamp"}, "needs a prior that factorises"),
    ({"objective.method": "infovae", "objective.info_alpha": 2.0}, "info_alpha=2.0 must be at most 1"),
    ({"objective.method": "infovae", "objective.info_lambda": -1.0}, "is the MMD's weight and must be >= 0"),
    ({"objective.info_lambda": 100.0}, "add --set objective.method=infovae"),
    ({"objective.method": "iwae", "model.kind": "ae"}, "use --model vae, or drop the method"),
    ({"objective.method": "tcvae", "objective.free_bits": 0.5}, "drop --free-bits"),
    ({"objective.method": "infovae", "objective.geco_target": 0.01}, "drop --geco-target"),
    ({"model.prior": "vamp", "objective.free_bits": 0.5}, "use --set objective.free_bits_mode=total"),
])
def test_impossible_settings_are_one_line_usage_errors(updates, message):
    with pytest.raises(UsageError) as error:
        check_objective(Config().with_updates(updates))
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("updates", [
    {"model.prior": "vamp", "model.prior_components": 20}, {"model.prior": "gmm", "model.kind": "ae"},
    {"model.prior": "gmm", "model.prior_covariance": "diag"}, {"objective.method": "iwae", "objective.beta": 0.1},
    {"objective.method": "tcvae", "objective.tc_beta": 6.0, "objective.beta_schedule": "linear:100"},
    {"objective.method": "infovae", "model.prior": "vamp"},
    {"model.prior": "vamp", "objective.free_bits": 0.5, "objective.free_bits_mode": "total"},
])
def test_the_sensible_combinations_pass(updates):
    check_objective(Config().with_updates(updates))


def test_more_components_than_training_images_stop_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--data", "digits", "--image-size", "8", "--limit", "20", "--out", str(out),
                 "--set", "model.prior=vamp", "--set", "model.prior_components=50"])
    assert code == 2
    assert "model.prior_components=50 exceeds the 18 training images" in capsys.readouterr().err
    assert not (out / "config.yaml").exists()
