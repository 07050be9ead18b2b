"""The objective's config: every method is reachable from the flags, and impossible settings are one-line errors."""

import pytest

from vaelab.cli import build_parser, main
from vaelab.cli.train import config_from_args
from vaelab.config import Config, ObjectiveConfig
from vaelab.errors import UsageError
from vaelab.objectives import check_objective


def flags_to_objective(*flags):
    args = build_parser().parse_args(["train", "--data", "digits", "--out", "/nonexistent/run", *flags])
    return config_from_args(args).objective


def test_every_method_is_reachable_from_the_command_line():
    assert flags_to_objective("--beta-schedule", "cyclical:4:0.5", "--beta-start", "0.1").beta_schedule == "cyclical:4:0.5"
    free_bits = flags_to_objective("--free-bits", "0.25", "--free-bits-mode", "total")
    assert (free_bits.free_bits, free_bits.free_bits_mode) == (0.25, "total")
    capacity = flags_to_objective("--capacity", "25", "--capacity-steps", "2000", "--capacity-gamma", "100")
    assert (capacity.capacity, capacity.capacity_steps, capacity.capacity_gamma) == (25.0, 2000, 100.0)
    geco = flags_to_objective("--geco-target", "0.01", "--geco-lr", "0.05", "--geco-units", "mse")
    assert (geco.geco_target, geco.geco_lr, geco.geco_units) == (0.01, 0.05, "mse")
    sigma = flags_to_objective("--recon", "sigma-learned", "--sigma-per-channel")
    assert (sigma.recon, sigma.sigma_per_channel) == ("sigma-learned", True)
    assert flags_to_objective("--recon", "sigma-optimal").sigma_per_channel is False
    group = flags_to_objective("--free-bits", "1", "--free-bits-mode", "group", "--set", "objective.free_bits_groups=4")
    assert group.free_bits_groups == 4


def test_defaults_are_valid_and_keep_the_seed_loss():
    config = check_objective(Config()).objective
    assert (config.recon, config.beta, config.beta_schedule) == ("sse", 1.0, "constant")


@pytest.mark.parametrize("fields,message", [
    ({"beta_schedule": "cyclical:4"}, "--beta-schedule cyclical:4:0.5"),
    ({"beta_schedule": "linear:0"}, "e.g. linear:5000"),
    ({"beta_start": -1.0}, "objective.beta_start=-1.0 must be >= 0"),
    ({"capacity": 25.0, "free_bits": 0.5}, "choose one of them"),
    ({"capacity": 25.0, "beta_schedule": "linear:100"}, "drop --beta-schedule linear:100"),
    ({"geco_target": 0.01, "beta_schedule": "cyclical:2:0.5"}, "GECO sets beta = 1/lambda"),
    ({"capacity": 25.0, "capacity_gamma": 0.0}, "--capacity-gamma"),
    ({"capacity": 25.0, "capacity_start": -1.0}, "capacity_start=-1.0 must be >= 0"),
    ({"geco_target": 0.01, "recon": "bernoulli"}, "use --recon sse, or --geco-units recon"),
    ({"geco_target": 0.01, "geco_lr": 0.0}, "--geco-lr 0.01"),
    ({"geco_lambda_init": 1e5}, "0 < min <= init <= max"),
    ({"geco_target": 100.0, "geco_units": "recon", "recon": "gaussian"}, "GECO needs a positive reconstruction error"),
    ({"sigma_per_channel": True}, "needs --recon sigma-learned or --recon sigma-optimal"),
    ({"recon": "sigma-learned", "sigma": 1e-3}, "below sigma-learned's floor"),
])
def test_impossible_settings_are_one_line_usage_errors(fields, message):
    with pytest.raises(UsageError) as error:
        check_objective(Config(objective=ObjectiveConfig(**fields)).validate())
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("fields", [
    {"geco_target": 0.01, "geco_alpha": 0.0},  # no moving average: [0, 1)
    {"geco_target": 0.01, "geco_lambda_min": 1.0, "geco_lambda_init": 1.0, "geco_lambda_max": 1.0},  # a pinned lambda
    {"capacity": 0.0, "capacity_steps": 1},  # a capacity of 0 nats, reached at once
    {"method": "iwae", "iwae_samples": 1, "beta": 0.1},  # K = 1: the ELBO
    {"method": "tcvae", "tc_alpha": 0.0, "tc_beta": 0.0, "tc_gamma": 0.0},  # each weight may be 0
])
def test_the_edges_of_each_allowed_range_are_allowed(fields):
    check_objective(Config(objective=ObjectiveConfig(**fields)).validate())


def test_geco_in_recon_units_accepts_any_likelihood():
    check_objective(Config(objective=ObjectiveConfig(geco_target=150.0, geco_units="recon", recon="bernoulli")))
    check_objective(Config(objective=ObjectiveConfig(geco_target=0.01, recon="mse-mean")))


def test_a_bad_schedule_in_a_config_file_is_refused_before_anything_is_written(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    Config().save(path)
    path.write_text(path.read_text().replace("beta_schedule: constant", "beta_schedule: warmup"))
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    assert "beta_schedule='warmup' is not a schedule" in capsys.readouterr().err
    assert not (tmp_path / "run" / "config.yaml").exists()
