"""The speed options of the training loop change how the work is done, not what is computed.

channels_last (NHWC memory layout) and the fused Adam update must give the same training run as
the plain layout and the reference Adam, within float32 round-off, on the CPU; keeping freed
memory in glibc's heap touches no arithmetic at all.
"""

import ctypes.util
import sys

import pytest
import torch

from vaelab.config import Config, DataConfig, ModelConfig, TrainingConfig
from vaelab.data import load_images, split_indices
from vaelab.training.device import keep_freed_memory
from vaelab.training.run import build_model, build_objective
from vaelab.training.trainer import Trainer

STEPS = 8


def trained(adam: str = "default", **training) -> Trainer:
    """A Trainer after STEPS steps on a small digits set, built as `vaelab.training.run.train` builds it."""
    config = Config(
        data=DataConfig(spec="digits", image_size=16, limit=400),
        model=ModelConfig(latent_dim=4, width=8),
        training=TrainingConfig(steps=STEPS, batch_size=32, progress=False, figures=False, **training),
    ).validate()
    data = load_images(config.data)
    train_index, val_index = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
    shape = tuple(data.images.shape[1:])
    torch.manual_seed(config.training.seed)
    model = build_model(config, shape)
    if config.training.channels_last:
        model = model.to(memory_format=torch.channels_last)
    trainer = Trainer(config=config, model=model, objective=build_objective(config, shape, total_steps=STEPS),
                      images=data.images, train_index=train_index, val_index=val_index,
                      device=torch.device("cpu"), callbacks=[])
    if adam == "reference":
        trainer.optimizer = torch.optim.Adam(trainer.optimizer.param_groups[0]["params"], lr=config.training.lr,
                                             foreach=False)
    trainer.fit()
    return trainer


def assert_same_run(a: Trainer, b: Trainer) -> None:
    for name, value in a.val_metrics.items():
        assert b.val_metrics[name] == pytest.approx(value, rel=1e-4, abs=1e-6, nan_ok=True), name
    for (name, p), q in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        torch.testing.assert_close(q.contiguous(), p.contiguous(), rtol=1e-4, atol=1e-5, msg=name)


@pytest.fixture(scope="module")
def plain() -> Trainer:
    return trained(channels_last=False)


def test_channels_last_trains_the_same(plain):
    other = trained(channels_last=True)
    assert other.model.encoder[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert_same_run(plain, other)


def test_fused_adam_matches_the_reference_update(plain):
    assert plain.optimizer.defaults["fused"]
    assert_same_run(plain, trained(adam="reference", channels_last=False))


def test_channels_last_is_the_default():
    assert TrainingConfig().channels_last


@pytest.mark.skipif(not sys.platform.startswith("linux") or ctypes.util.find_library("c") != "libc.so.6",
                    reason="keep_freed_memory needs glibc")
def test_keep_freed_memory_applies_on_glibc():
    assert keep_freed_memory()
    assert keep_freed_memory()  # idempotent: every Trainer on the CPU calls it
