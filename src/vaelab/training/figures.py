"""The callback that writes RUN/figures/ at the end of every epoch and of the run."""

from __future__ import annotations

from pathlib import Path

import torch

from vaelab.model import at_beta
from vaelab.training.callbacks import Callback
from vaelab.training.loggers import read_metrics
from vaelab.viz.figures import plot_losses, plot_reconstructions, plot_samples

N_RECONSTRUCTIONS = 10
N_SAMPLES = 32


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

    @torch.no_grad()
    def write(self, trainer) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        beta = trainer.config.objective.beta
        served = at_beta(trainer.model, beta)  # a loss-conditional model at its validation beta
        shown_at = f", shown at beta = {beta:g}" if trainer.model.conditional else ""
        title = f"{trainer.config.describe()} — step {trainer.step}{shown_at}"
        plot_losses(read_metrics(self.run_dir / "metrics.jsonl"), self.directory / "losses.png", title=title)
        was_training = trainer.model.training
        trainer.model.eval()
        index = (trainer.val_index if len(trainer.val_index) else trainer.train_index)[:N_RECONSTRUCTIONS]
        x = trainer.batch(index)
        reconstruction = served(x, sample=False).reconstruction
        plot_reconstructions(x, [("reconstruction", reconstruction)], self.directory / "reconstructions.png",
                             title=title)
        # Also for the AE: its unregularised latent space is what makes prior samples fail.
        generator = torch.Generator(device=trainer.device).manual_seed(0)
        z = torch.randn(N_SAMPLES, trainer.model.latent_dim, generator=generator, device=trainer.device)
        samples = torch.sigmoid(served.decode(z))
        plot_samples(samples, self.directory / "samples.png", title=f"decodes of z ~ N(0, I) — {title}")
        trainer.model.train(was_training)
