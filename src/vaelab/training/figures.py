"""The run's pictures of its model: reconstructions of fixed images and decodes of fixed prior samples, and the
callback that redraws them, with the loss curves, at the end of every epoch and of the run."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from vaelab.model import at_beta
from vaelab.run_dir import read_metrics
from vaelab.training.callbacks import Callback
from vaelab.viz.figures import plot_losses, plot_reconstructions, plot_samples

N_RECONSTRUCTIONS = 10
N_SAMPLES = 32


@torch.no_grad()
def draw_model_figures(model: nn.Module, x: torch.Tensor, directory: Path, title: str,
                       train_x: torch.Tensor | None = None) -> list[str]:
    """directory/reconstructions.png (`x`, (B, C, H, W), through the posterior mean; with `train_x`, training
    images as they are below them, so that memorising shows) and samples.png (decodes of N_SAMPLES fixed
    z ~ N(0, I)) of a model serving one beta. Returns the file names written."""
    directory.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    rows = [("reconstruction", model(x, sample=False).reconstruction)]
    if train_x is not None:
        rows += [("training input", train_x), ("its reconstruction", model(train_x, sample=False).reconstruction)]
    plot_reconstructions(x, rows, directory / "reconstructions.png", title=title)
    # Also for the AE: its unregularised latent space is what makes prior samples fail.
    generator = torch.Generator(device=x.device).manual_seed(0)
    z = torch.randn(N_SAMPLES, model.latent_dim, generator=generator, device=x.device)
    plot_samples(torch.sigmoid(model.decode(z)), directory / "samples.png", title=f"decodes of z ~ N(0, I) — {title}")
    model.train(was_training)
    return ["reconstructions.png", "samples.png"]


class FigureWriter(Callback):
    """losses.png, reconstructions.png (fixed validation inputs) and samples.png (fixed z ~ N(0, I)); a
    loss-conditional model's at its validation beta, `objective.beta`."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.directory = run_dir / "figures"

    def on_validation_end(self, trainer, metrics):
        self.write(trainer)

    def on_fit_end(self, trainer):
        self.write(trainer)

    def write(self, trainer) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        beta = trainer.config.objective.beta
        shown_at = f", shown at beta = {beta:g}" if trainer.model.conditional else ""
        title = f"{trainer.config.describe()} — step {trainer.step}{shown_at}"
        plot_losses(read_metrics(self.run_dir / "metrics.jsonl"), self.directory / "losses.png", title=title,
                    config=trainer.config)
        index = (trainer.val_index if len(trainer.val_index) else trainer.train_index)[:N_RECONSTRUCTIONS]
        train_x = trainer.batch(trainer.train_index[:N_RECONSTRUCTIONS])  # as they are: never augmented
        # a loss-conditional model at its validation beta
        draw_model_figures(at_beta(trainer.eval_model, beta), trainer.batch(index), self.directory, title, train_x)
