"""Validation scores exactly the validation images, the same way whoever calls it."""

import pytest
import torch

from vaelab.data import load_images, split_indices
from vaelab.model import build_model
from vaelab.objectives import build_objective
from vaelab.training.batches import to_tensor
from vaelab.training.trainer import Trainer
from vaelab.training.validation import validate

from factories import tiny_config


def images_seen(model: torch.nn.Module) -> list[torch.Tensor]:
    """Every batch the model is called on, from now on."""
    seen: list[torch.Tensor] = []
    model.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    return seen


def setup(val_fraction: float = 0.1):
    config = tiny_config(2, data__limit=300, data__val_fraction=val_fraction)
    data = load_images(config.data)
    train_index, val_index = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
    shape = tuple(data.images.shape[1:])
    model = build_model(config, shape)
    objective = build_objective(config, shape, total_steps=2)
    return config, data, train_index, val_index, model, objective


def test_the_trainer_validates_on_the_validation_split_and_nothing_else():
    config, data, train_index, val_index, model, objective = setup()
    trainer = Trainer(config=config, model=model, objective=objective, images=data.images, train_index=train_index,
                      val_index=val_index, device=torch.device("cpu"), callbacks=[])
    seen = images_seen(trainer.eval_model)  # the moving average of the weights is what is validated
    metrics = trainer.validate()
    scored = torch.cat(seen)
    expected = to_tensor(data.images, val_index, torch.device("cpu"))
    assert len(val_index) == 30 and not set(val_index) & set(train_index)
    torch.testing.assert_close(scored, expected, rtol=0, atol=0)  # the validation images, each once, in order
    # and the numbers are those images' mean (the free function's, as evaluation calls it)
    again = validate(trainer.eval_model, objective, data.images, val_index, config=config, step=0,
                     device=torch.device("cpu"), batch_size=trainer.batch_size)
    assert metrics == again


def test_the_mean_is_over_images_whatever_the_chunks():
    """Sums over chunks of 2 * batch_size divided by the image count: the mean recon of 30 images scored in
    chunks of 8 equals the mean of the per-image terms computed in one pass."""
    config, data, _, val_index, model, objective = setup()
    device = torch.device("cpu")
    model.eval()
    x = to_tensor(data.images, val_index, device)
    with torch.no_grad():
        generator = torch.Generator().manual_seed(config.training.seed + 1)
        chunks = [objective(x[i : i + 8], model(x[i : i + 8], generator=generator), 0) for i in range(0, 30, 8)]
    per_image = torch.cat([terms.recon for terms in chunks])
    metrics = validate(model, objective, data.images, val_index, config=config, step=0, device=device, batch_size=4)
    assert metrics["recon"] == pytest.approx(float(per_image.double().mean()), rel=1e-6)  # float32 terms
