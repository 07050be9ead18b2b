"""The priors that start from, or are fitted to, the training images (model/prior.py): the VampPrior's pseudo-inputs
start at K training images; the ex-post mixture (`model.prior=gmm`, Ghosh et al. 2020, sec. 4) is fitted to the
codes of the training images at every validation, so that every checkpoint carries the mixture of its own weights.

The fit: z ~ q(z|x) for CODES_PER_IMAGE codes of each of at most FIT_IMAGES training images (a subset drawn with
the run's seed; the autoencoder's one code each), as they are (never augmented), encoded by the weights that are
evaluated (the moving average); then EM for a mixture of K Gaussians (scikit-learn's GaussianMixture: k-means
start, seeded with the run's seed; full or diagonal covariances, `model.prior_covariance`). Sampling several codes
per image fits q(z), the aggregate posterior, with each posterior's spread, not only their means.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from sklearn.mixture import GaussianMixture

from vaelab.errors import UsageError
from vaelab.model.prior import VampPrior
from vaelab.training.callbacks import Callback

log = logging.getLogger("vaelab")
FIT_IMAGES = 2000
CODES_PER_IMAGE = 4


def check_components(prior: str, components: int, train_images: int) -> None:
    """K pseudo-inputs or components need at least K training images."""
    if components > train_images:
        raise UsageError(f"model.prior_components={components} exceeds the {train_images} training images that "
                         f"the {prior} prior starts from or is fitted to: use at most {train_images}")


def start_pseudo_inputs(prior: VampPrior, images: np.ndarray, train_index: np.ndarray, seed: int) -> None:
    """The pseudo-inputs at K training images drawn with `seed`; images: uint8 (N, C, H, W)."""
    check_components("vamp", prior.components, len(train_index))
    chosen = np.sort(np.random.default_rng(seed).choice(train_index, prior.components, replace=False))
    pixels = torch.from_numpy(np.asarray(images[chosen])).float() / 255
    prior.start_at(pixels.to(prior.pseudo_logits.device))


def fit_mixture(codes: np.ndarray, components: int, covariance: str, seed: int
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EM for a K-component Gaussian mixture on codes (M, Z): weights (K,), means (K, Z) and covariances (K, Z, Z)
    (full) or variances (K, Z) (diag), float64."""
    mixture = GaussianMixture(n_components=components, covariance_type=covariance, random_state=seed).fit(codes)
    return tuple(torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in (mixture.weights_, mixture.means_,
                                                                             mixture.covariances_))


class PriorFitting(Callback):
    """`model.prior=gmm`: the mixture refitted to the training codes at every validation and before the checkpoint
    of an interrupted run. Place it before Checkpointing and the figures, which then carry it."""

    def __init__(self) -> None:
        self.fitted_step: int | None = None

    def on_validation_end(self, trainer, metrics):
        self.fit(trainer)

    def on_interrupt(self, trainer):
        self.fit(trainer)

    @torch.no_grad()
    def fit(self, trainer) -> None:
        if self.fitted_step == trainer.step:
            return
        training = trainer.config.training
        rng = np.random.default_rng(training.seed)
        index = np.sort(rng.choice(trainer.train_index, min(FIT_IMAGES, len(trainer.train_index)), replace=False))
        model = trainer.eval_model
        was_training = model.training
        model.eval()
        generator = torch.Generator(device=trainer.device).manual_seed(training.seed + trainer.step)
        codes = []
        for start in range(0, len(index), 2 * trainer.batch_size):
            posterior = model.encode(trainer.batch(index[start : start + 2 * trainer.batch_size]))
            per_image = 1 if model.kind == "ae" else CODES_PER_IMAGE
            codes.append(posterior.sample(generator, per_image).flatten(0, 1).double().cpu())
        model.train(was_training)
        prior = model.prior
        mixture = fit_mixture(torch.cat(codes).numpy(), len(prior.mean), prior.covariance, training.seed)
        for network in {id(trainer.model): trainer.model, id(model): model}.values():
            network.prior.set_mixture(*(part.to(trainer.device) for part in mixture))
        self.fitted_step = trainer.step
