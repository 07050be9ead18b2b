"""The training recipe: the moving average of the weights, the learning-rate schedule, a length that fits the
data, the time budget, and augmented runs that validate on their images as they are and resume exactly."""


import numpy as np
import pytest
import torch
from PIL import Image

from vaelab.cli import main
from vaelab.config import Config, TrainingConfig
from vaelab.data import load_images, split_indices
from vaelab.data.augment import training_augmentation
from vaelab.model import build_model
from vaelab.objectives import build_objective
from vaelab.run_dir import load_checkpoint, read_metrics
from vaelab.training import trainer as trainer_module
from vaelab.training.ema import WeightAverage, ema_decay
from vaelab.training.length import MAX_STEPS, MIN_STEPS, run_length, validation_interval
from vaelab.training.lr_schedule import learning_rate, warmup_steps
from vaelab.training.run import train
from vaelab.training.trainer import Trainer

from factories import tiny_config


def test_the_moving_average_follows_its_formula():
    model = torch.nn.Linear(2, 1, bias=False)
    average = WeightAverage(model, decay=0.9)
    expected = model.weight.detach().clone()
    for t in range(1, 40):
        with torch.no_grad():
            model.weight.add_(1.0)  # the trained weights move
        average.update(model)
        d = min(0.9, (1 + t) / (10 + t))
        expected = d * expected + (1 - d) * model.weight.detach()
        torch.testing.assert_close(average.model.weight, expected)
    assert ema_decay(1, 0.999) == pytest.approx(2 / 11) and ema_decay(10_000, 0.999) == 0.999
    assert not average.model.weight.requires_grad


def test_the_learning_rate_at_known_steps():
    values = {t: learning_rate(t, lr=1.0, schedule="cosine", warmup=10, total_steps=110) for t in (0, 4, 9, 10, 60, 110)}
    assert values == pytest.approx({0: 0.1, 4: 0.5, 9: 1.0, 10: 1.0, 60: 0.5, 110: 0.0})
    assert learning_rate(50, lr=3e-4, schedule="constant", warmup=10, total_steps=110) == 3e-4
    assert warmup_steps(1000, None) == 50 and warmup_steps(100_000, None) == 500 and warmup_steps(1000, 7) == 7
    assert warmup_steps(10, None) == 1  # 5% of a short run rounds to 0: one warm-up step, never more
    # past the planned length (a run resumed with more steps) the cosine stays at its floor instead of rising
    assert learning_rate(150, lr=1.0, schedule="cosine", warmup=10, total_steps=110) == pytest.approx(0.0, abs=1e-12)


def test_a_length_that_fits_the_data():
    small = run_length(TrainingConfig(batch_size=64), 628)  # the paintings' training split: 9 steps an epoch
    assert small.steps == MIN_STEPS and "raised to the floor" in small.reason
    large = run_length(TrainingConfig(batch_size=128), 54_000)
    assert large.steps == MAX_STEPS and "capped" in large.reason
    middle = run_length(TrainingConfig(batch_size=100), 10_000)
    assert middle.steps == 50 * 100 and "50 epochs of 100 steps" in middle.reason
    assert "about 50 passes over every image" in middle.reason and "floor" not in middle.reason
    assert "about 204 passes" in small.reason  # 2,000 steps of 64 over 628 images
    assert run_length(TrainingConfig(steps=7), 10_000).steps == 7
    assert run_length(TrainingConfig(epochs=3, batch_size=100), 1000).steps == 30
    assert validation_interval(TrainingConfig(), per_epoch=9, total_steps=2000) == 108  # 12 epochs: ~20 passes
    assert validation_interval(TrainingConfig(), per_epoch=312, total_steps=1250) == 312  # every epoch
    assert validation_interval(TrainingConfig(), per_epoch=5, total_steps=2000) == 100  # 628 paintings: 20 epochs
    assert validation_interval(TrainingConfig(val_every=5), per_epoch=9, total_steps=2000) == 5


@pytest.fixture
def paintings(tmp_path):
    """48 generated colour pictures in a folder: a source that augments by default (flip and crop)."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(48):
        pixels = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
        pixels[:, :12] //= 4  # a dark left half: a flip shows
        Image.fromarray(pixels).save(folder / f"{i}.png")
    return folder


def folder_config(folder, steps=12, **updates) -> Config:
    return tiny_config(steps, data__spec=str(folder), data__limit=None, training__batch_size=8,
                       training__log_every=2, **updates)


def test_augmented_training_validates_on_the_images_as_they_are(paintings):
    config = folder_config(paintings)
    data = load_images(config.data)
    train_index, val_index = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
    shape = tuple(data.images.shape[1:])
    augmentation = training_augmentation(config.data, data, device=torch.device("cpu"), channels_last=False)
    assert augmentation.flip and augmentation.crop and augmentation.images.shape[-1] == 20  # the 1.25x cache
    trainer = Trainer(config=config, model=build_model(config, shape), objective=build_objective(config, shape,
                      total_steps=12), images=data.images, train_index=train_index, val_index=val_index,
                      device=torch.device("cpu"), callbacks=[], augmentation=augmentation)
    batch = trainer.training_batch(train_index[:8])
    assert not torch.equal(batch, trainer.batch(train_index[:8]))  # training batches are augmented
    seen = []
    trainer.eval_model.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    trainer.validate()
    torch.testing.assert_close(torch.cat(seen), trainer.batch(val_index).contiguous(memory_format=torch.channels_last),
                               rtol=0, atol=0)  # exactly the cached validation images


def test_an_augmented_run_with_its_average_and_schedule_resumes_exactly(paintings, tmp_path, monkeypatch):
    full = train(folder_config(paintings, 20), tmp_path / "full")
    original = Trainer.training_step
    calls = {"n": 0}

    def interrupted(self, x):
        calls["n"] += 1
        if calls["n"] == 9:
            raise KeyboardInterrupt
        return original(self, x)

    monkeypatch.setattr(Trainer, "training_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(folder_config(paintings, 20), tmp_path / "run")
    monkeypatch.setattr(Trainer, "training_step", original)
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["step"] == 8 and state["ema"]["updates"] == 8
    assert train(folder_config(paintings, 20), tmp_path / "run", resume=True).metrics == full.metrics
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    for name, tensor in a["ema"]["model"].items():
        assert torch.equal(tensor, b["ema"]["model"][name]), name
    lrs = [r["lr"] for r in read_metrics(tmp_path / "full" / "metrics.jsonl") if r["split"] == "train"]
    warmup = warmup_steps(20, None)  # 1 step: the first step's rate is the full one
    assert lrs[0] == pytest.approx(learning_rate(1, lr=1e-3, schedule="cosine", warmup=warmup, total_steps=20))
    assert lrs[-1] == pytest.approx(learning_rate(19, lr=1e-3, schedule="cosine", warmup=warmup, total_steps=20))
    assert lrs[-1] < 1e-5  # the cosine has come down to (almost) nothing at the last step


def test_a_time_budget_ends_the_run_with_its_files_and_it_resumes(paintings, tmp_path, monkeypatch, caplog):
    clock = {"now": 0.0}

    def monotonic():
        clock["now"] += 1.0  # one second per look at the clock: the loop looks once a step
        return clock["now"]

    monkeypatch.setattr(trainer_module.time, "monotonic", monotonic)
    result = train(folder_config(paintings, 50, training__time="6s"), tmp_path / "run")
    assert 3 <= result.steps < 50
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["step"] == result.steps and (tmp_path / "run" / "report.html").is_file()
    val = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["split"] == "val"]
    assert val[-1]["step"] == result.steps  # validated where it stopped
    monkeypatch.undo()
    assert train(folder_config(paintings, 50), tmp_path / "run", resume=True).steps == 50


@pytest.mark.parametrize("flags, message", [
    (["--time", "0"], "training.time=0 is not a time budget"),
    (["--time", "abc"], "training.time=abc is not a time budget"),
    (["--time", "90"], "training.time=90 is not a time budget: give a positive number with a unit"),
    (["--set", "model.arch=nope"], "model.arch='nope' is unknown: use --arch resnet or --arch plain"),
    (["--augment", "flip,crop"], "on 1-channel data"),
    (["--augment", "crop", "--channels", "3", "--image-size", "8"], "crops of 8x8 images"),
    (["--augment", "spin"], "data.augment='spin' is not an augmentation"),
    (["--arch", "plain", "--blocks", "2"], "model.blocks shapes the residual network"),
])
def test_bad_recipe_settings_are_one_line(tmp_path, capsys, flags, message):
    assert main(["train", "--data", "digits", "--image-size", "16", "--limit", "100", "--steps", "2",
                 "--out", str(tmp_path / "run"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "run" / "config.yaml").exists()
