"""sigma-learned without --sigma starts at the optimum for the untrained network: the RMS error of its
reconstructions of the first training batch (Rybkin et al. 2021: the best sigma is sqrt(MSE))."""

import pytest
import torch

from vaelab.data import load_images, split_indices
from vaelab.run_dir import read_metrics
from vaelab.training.batches import batch_indices, epoch_order, to_tensor
from vaelab.training.run import train, training_network

from factories import tiny_config


def first_batch_rms(config, per_channel=False):
    """The RMS error of the untrained network (the seed's, its linear path at PCA) on the first training batch, computed here anew."""
    data = load_images(config.data)
    train_index, _ = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
    index = batch_indices(epoch_order(train_index, config.training.seed, 0), 0, config.training.batch_size)
    x = to_tensor(data.images, index, torch.device("cpu"), config.training.channels_last)
    model = training_network(config, data.images, train_index, torch.device("cpu"))
    with torch.no_grad():
        squared = (x - model(x, sample=False).reconstruction).pow(2)
    return squared.mean(dim=(0, 2, 3)).sqrt() if per_channel else squared.mean().sqrt()


@pytest.mark.parametrize("per_channel", [False, True])
def test_a_learned_sigma_without_a_start_begins_at_the_first_batchs_rms_error(tmp_path, per_channel):
    config = tiny_config(1, objective__recon="sigma-learned", objective__sigma_per_channel=per_channel,
                         data__channels=3 if per_channel else None, training__log_every=1)
    train(config, tmp_path / "run")
    first = next(r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["split"] == "train")
    # the record of step 1 holds the sigma its step trained with, before the optimiser moved it
    expected = first_batch_rms(config, per_channel)
    if per_channel:
        assert [first[f"sigma_channel_{c}"] for c in range(3)] == pytest.approx(expected.tolist(), rel=1e-5)
    else:
        assert first["sigma"] == pytest.approx(float(expected), rel=1e-5)
    assert 0.05 < first["sigma"] < 0.7


def test_a_given_start_is_kept(tmp_path):
    config = tiny_config(1, objective__recon="sigma-learned", objective__sigma=0.9, training__log_every=1)
    train(config, tmp_path / "run")
    first = next(r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["split"] == "train")
    assert first["sigma"] == pytest.approx(0.9, rel=1e-6)
