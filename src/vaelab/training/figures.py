"""The run's pictures of its model: reconstructions of fixed images and decodes of fixed prior samples, and the
callback that redraws them, with the loss curves, at the end of every epoch and of the run. A run with a prior of
its own (model.prior: the VampPrior, the fitted mixture) shows decodes of that prior's samples and, beside them,
of N(0, I)'s."""

from __future__ import annotations

import textwrap
from pathlib import Path

import torch
from torch import nn

from vaelab.model import at_beta
from vaelab.model.prior import StandardNormal
from vaelab.run_dir import read_metrics
from vaelab.training.callbacks import Callback
from vaelab.viz.figures import plot_losses, plot_reconstructions, plot_samples

N_RECONSTRUCTIONS = 10
N_SAMPLES = 32
TITLE_CHARACTERS = 80  # a line of the samples' title at its font size, across 8 images
PRIOR_WORDS = {"vamp": "the VampPrior", "gmm": "the fitted mixture"}


@torch.no_grad()
def draw_model_figures(model: nn.Module, x: torch.Tensor, directory: Path, title: str,
                       train_x: torch.Tensor | None = None) -> list[str]:
    """directory/reconstructions.png (`x`, (B, C, H, W), through the posterior mean; with `train_x`, training
    images as they are below them, so that memorising shows) and samples.png (decodes of N_SAMPLES z drawn from
    the model's prior with fixed noise; with a prior other than N(0, I), also samples_normal.png, of N(0, I)) of
    a model serving one beta. Returns the file names written."""
    directory.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    rows = [("reconstruction", model(x, sample=False).reconstruction)]
    if train_x is not None:
        rows += [("training input", train_x), ("its reconstruction", model(train_x, sample=False).reconstruction)]
    plot_reconstructions(x, rows, directory / "reconstructions.png", title=title)
    # Also for the AE: its unregularised latent space is what makes prior samples fail.
    normal = StandardNormal(model.latent_dim, x.device)
    prior = model.prior_density() or normal  # a mixture not fitted yet: N(0, I), the prior it trains with
    names = {"samples.png": prior} if prior.standard else {"samples.png": prior, "samples_normal.png": normal}
    for name, density in names.items():
        z = density.sample(N_SAMPLES, torch.Generator(device=x.device).manual_seed(0))
        which = "N(0, I)" if density.standard else PRIOR_WORDS[model.hparams["prior"]]
        lines = [f"decodes of z ~ {which}", *textwrap.wrap(title, TITLE_CHARACTERS)]  # the grid is 8 images wide
        plot_samples(torch.sigmoid(model.decode(z)), directory / name, title="\n".join(lines))
    model.train(was_training)
    return ["reconstructions.png", *names]


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
        plot_losses(read_metrics(self.run_dir / "metrics.jsonl"), self.directory / "losses.png", title=title)
        index = (trainer.val_index if len(trainer.val_index) else trainer.train_index)[:N_RECONSTRUCTIONS]
        train_x = trainer.batch(trainer.train_index[:N_RECONSTRUCTIONS])  # as they are: never augmented
        # a loss-conditional model at its validation beta
        draw_model_figures(at_beta(trainer.eval_model, beta), trainer.batch(index), self.directory, title, train_x)
