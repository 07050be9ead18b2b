"""The priors that start from, or are fitted to, the training images (model/prior.py): the VampPrior's pseudo-inputs
start at K training images; the ex-post mixture (`model.prior=gmm`, Ghosh et al. 2020, sec. 4) is fitted to the
codes of the training images at the end of the run, for the weights of last.pt and of best.pt each.

The fit: z ~ q(z|x) for CODES_PER_IMAGE codes of each of at most FIT_IMAGES training images (a subset drawn with
the run's seed; the autoencoder's one code each), as they are (never augmented), encoded by the weights that are
evaluated (the moving average); then EM for a mixture of K Gaussians (scikit-learn's GaussianMixture: k-means
start, seeded with the run's seed; full or diagonal covariances, `model.prior_covariance`). Sampling several codes
per image fits q(z), the aggregate posterior, with each posterior's spread, not only their means. EM with full
covariances costs seconds to minutes in high dimensions, which is why it runs at the end and not at every
validation: the checkpoints of a run under way carry no mixture (or the one of an earlier end), and
`fitted_step` says so.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits
from torch import nn

from vaelab.errors import UsageError
from vaelab.model.prior import VampPrior
from vaelab.run_dir import load_checkpoint, save_checkpoint
from vaelab.training.callbacks import Callback

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
    (full) or variances (K, Z) (diag), float64. On one thread: the same codes give the same mixture bit for bit
    (a resumed run's), and the k-means start's OpenMP threads cannot crawl on a busy machine."""
    with threadpool_limits(limits=1):
        mixture = GaussianMixture(n_components=components, covariance_type=covariance, random_state=seed).fit(codes)
    return tuple(torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in (mixture.weights_, mixture.means_,
                                                                             mixture.covariances_))


@torch.no_grad()
def fit_to_training_codes(network: nn.Module, trainer, step: int) -> None:
    """`network`'s mixture prior fitted to its codes of the training images (module docstring), as of `step`."""
    seed = trainer.config.training.seed
    index = np.sort(np.random.default_rng(seed).choice(trainer.train_index, min(FIT_IMAGES, len(trainer.train_index)),
                                                       replace=False))
    was_training = network.training
    network.eval()
    generator = torch.Generator(device=trainer.device).manual_seed(seed + step)
    per_image = 1 if network.kind == "ae" else CODES_PER_IMAGE
    codes = []
    for start in range(0, len(index), 2 * trainer.batch_size):
        posterior = network.encode(trainer.batch(index[start : start + 2 * trainer.batch_size]))
        codes.append(posterior.sample(generator, per_image).flatten(0, 1).double().cpu())
    network.train(was_training)
    prior = network.prior
    mixture = fit_mixture(torch.cat(codes).numpy(), len(prior.mean), prior.covariance, seed)
    prior.set_mixture(*(part.to(trainer.device) for part in mixture), step=step)


class PriorFitting(Callback):
    """`model.prior=gmm`: the mixture fitted to the training codes of the evaluated weights at the run's last
    validation and before an interrupted run's last.pt, and best.pt's refitted to its own weights at the end.
    Place it before Checkpointing and the figures, which then carry it."""

    def __init__(self, checkpoints: Path):
        self.checkpoints = checkpoints

    def on_validation_end(self, trainer, metrics):
        if trainer.step >= trainer.total_steps or trainer.out_of_time:  # the last one: last.pt follows
            self.fit(trainer)

    def on_interrupt(self, trainer):
        self.fit(trainer)

    def fit(self, trainer) -> None:
        fit_to_training_codes(trainer.eval_model, trainer, trainer.step)
        if trainer.model is not trainer.eval_model:  # the average copies the trained model's buffers at every step
            trainer.model.prior.load_state_dict(trainer.eval_model.prior.state_dict())

    def on_fit_end(self, trainer):
        """best.pt, written at an earlier validation, gets the mixture of its own weights."""
        path = self.checkpoints / "best.pt"
        if not path.exists():
            return
        state = load_checkpoint(path, map_location=trainer.device)
        weights = state["model"] if state.get("ema") is None else state["ema"]["model"]
        if int(weights["prior.fitted_step"]) == state["step"]:
            return
        network = copy.deepcopy(trainer.eval_model)
        network.load_state_dict(weights)
        fit_to_training_codes(network, trainer, state["step"])
        fitted = {f"prior.{name}": value for name, value in network.prior.state_dict().items()}
        state["model"].update(fitted)
        if state.get("ema") is not None:
            state["ema"]["model"].update(fitted)
        save_checkpoint(state, path)
