"""The run's pictures of its model: reconstructions of fixed images and decodes of fixed prior samples, and the
callback that redraws them, with the loss curves, at validations (at the cadence of `FigureCadence`) and at the
end of the run. A run with a prior of its own (model.prior: the VampPrior, the fitted mixture) shows decodes of
that prior's samples and, beside them, of N(0, I)'s."""

from __future__ import annotations

import contextlib
import math
import textwrap
import time
from collections.abc import Callable, Iterator
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


FIGURE_SHARE = 0.1  # the most of a run's wall time that redrawing its figures may take


class FigureCadence:
    """Whether a validation redraws the figures: only once the training since the last drawing took at least
    (1 - share) / share times as long as that drawing did, so that drawing costs at most `share` of the run's time
    whatever its length, its data or the machine. (Validation comes about 20 times a run, every few steps on a
    small folder, where four PNGs can take longer to draw than the steps between them.) The first validation
    draws; the run's end always does. The callbacks that draw (figures, gradients) share one cadence: they draw
    at the same validations, and their drawings add up to one cost."""

    def __init__(self, share: float = FIGURE_SHARE, clock: Callable[[], float] = time.monotonic):
        self.share = share
        self.clock = clock
        self.decided: tuple[int, bool] | None = None  # (step, whether its validation draws)
        self.cost = 0.0  # seconds the drawings at `drawn_step` took
        self.drawn_step: int | None = None
        self.ended: float | None = None  # when the last drawing ended

    def due(self, step: int) -> bool:
        """Whether the validation at `step` draws (the same answer for every callback that asks)."""
        if self.decided is None or self.decided[0] != step:
            waited = math.inf if self.ended is None else self.clock() - self.ended
            self.decided = (step, waited * self.share >= self.cost * (1 - self.share))
        return self.decided[1]

    @contextlib.contextmanager
    def drawing(self, step: int) -> Iterator[None]:
        """Time one drawing at `step`; the drawings of one step add up."""
        started = self.clock()
        try:
            yield
        finally:
            spent = self.clock() - started
            self.cost = spent + (self.cost if self.drawn_step == step else 0.0)
            self.drawn_step = step
            self.ended = self.clock()


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
    loss-conditional model's at its validation beta, `objective.beta`. Redrawn at the validations `cadence` picks
    and at the end of the run."""

    def __init__(self, run_dir: Path, cadence: FigureCadence | None = None):
        self.run_dir = run_dir
        self.directory = run_dir / "figures"
        self.cadence = cadence or FigureCadence()
        self.written_step: int | None = None

    def on_validation_end(self, trainer, metrics):
        if self.cadence.due(trainer.step):
            self._draw(trainer)

    def on_fit_end(self, trainer):
        if self.written_step != trainer.step:
            self._draw(trainer)

    def _draw(self, trainer) -> None:
        with self.cadence.drawing(trainer.step):
            self.write(trainer)
        self.written_step = trainer.step

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
