"""The config is typed, strict about unknown keys, and round-trips through YAML."""

import pytest
import yaml

from vaelab.config import Config, parse_assignment
from vaelab.errors import UsageError


def test_yaml_round_trip(tmp_path):
    config = Config().with_updates({"objective.beta": "0.1", "data.spec": "digits", "model.kind": "ae"})
    config.save(tmp_path / "c.yaml")
    assert Config.load(tmp_path / "c.yaml") == config
    assert config.objective.beta == 0.1 and isinstance(config.objective.beta, float)


def test_ints_are_accepted_for_floats_but_not_the_reverse():
    assert Config.from_dict({"objective": {"beta": 1}}).objective.beta == 1.0
    with pytest.raises(UsageError, match="model.latent_dim must be int"):
        Config.from_dict({"model": {"latent_dim": 1.5}})
    with pytest.raises(UsageError, match="training.amp must be bool"):
        Config.from_dict({"training": {"amp": "yes"}})


@pytest.mark.parametrize("raw,message", [
    ({"dat": {}}, "unknown config key 'dat'"),
    ({"data": {"size": 3}}, "unknown config key 'data.size'"),
    ({"data": 3}, "must be a mapping"),
    ({"training": {"epochs": 2, "steps": 3}}, "either training.epochs or training.steps"),
    ({"objective": {"free_bits": float("nan")}}, "objective.free_bits must be a finite number, got nan"),
    ({"training": {"lr": float("inf")}}, "training.lr must be a finite number, got inf"),
    ({"data": {"image_size": 4096}}, "data.image_size=4096 is too large"),
])
def test_bad_configs_are_refused(raw, message):
    with pytest.raises(UsageError, match=message):
        Config.from_dict(raw)


def test_describe_says_the_run_in_words():
    assert Config().with_updates({"model.latent_dim": 128, "objective.beta": 0.1}).describe() == \
        "VAE, latent 128, summed squared error + 0.1 x KL"
    assert Config().with_updates({"model.kind": "ae"}).describe().startswith("AE, latent 32")
    assert Config().with_updates({"objective.geco_target": 0.01}).describe().endswith("KL under GECO (MSE <= 0.01)")
    assert Config().with_updates({"objective.capacity": 25, "objective.capacity_steps": 1000}).describe().endswith(
        "1000 x |KL - C|, C rising from 0 to 25 nats over 1000 steps")
    assert Config().with_updates({"objective.free_bits": 0.25, "objective.beta": 0.5,
                                  "objective.beta_schedule": "linear:100"}).describe().endswith(
        "0.5 x max(KL, 0.25 nats per dim) (beta schedule linear:100)")
    assert Config().with_updates({"objective.recon": "sigma-learned"}).describe() == \
        "VAE, latent 32, Gaussian NLL (learned sigma) + KL"


def test_parse_assignment():
    assert parse_assignment("objective.beta=0.1") == ("objective.beta", "0.1")
    with pytest.raises(UsageError):
        parse_assignment("objective.beta")


def test_set_values_are_yaml_or_else_the_text_itself():
    assert Config().with_updates({"data.spec": "/data/[set 1]"}).data.spec == "/data/[set 1]"  # not valid YAML
    assert Config().with_updates({"data.limit": "null"}).data.limit is None
    with pytest.raises(UsageError, match="objective.beta must be float, got '\\[0.1'"):
        Config().with_updates({"objective.beta": "[0.1"})


def test_floats_written_without_a_dot_are_numbers():
    """YAML 1.1 reads 1e-3 as text; for float keys it is the number the user meant."""
    assert Config().with_updates({"training.lr": "1e-3"}).training.lr == 1e-3
    assert Config.from_dict({"objective": {"beta": "2E-1"}}).objective.beta == 0.2
    with pytest.raises(UsageError, match="finite"):
        Config().with_updates({"training.lr": "nan"})


def test_a_run_saved_before_a_key_existed_reads_as_it_was_trained(tmp_path):
    # config.yaml of a run from before the residual network and the training recipe: no arch, linear_path,
    # augment, lr_schedule or ema keys. It was trained as the plain network, no augmentation, constant rate, no EMA.
    raw = Config().to_dict()
    for section, name in (("model", "arch"), ("model", "linear_path"), ("data", "augment"),
                          ("training", "lr_schedule"), ("training", "ema")):
        del raw[section][name]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    old = Config.load_saved(path)
    assert (old.model.arch, old.model.linear_path, old.data.augment) == ("plain", False, "none")
    assert (old.training.lr_schedule, old.training.ema) == ("constant", False)
    new = Config.load(path)  # a user's own config file takes today's defaults
    assert (new.model.arch, new.model.linear_path, new.training.ema) == ("resnet", True, True)
    assert Config.from_saved(Config().to_dict()) == Config()  # a run that has the keys keeps them
