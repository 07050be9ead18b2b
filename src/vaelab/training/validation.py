"""Validation: the mean loss terms over a set of images, the one pass that training and evaluation share.

`validate` scores exactly the images at `index` (the run's validation split, by the caller's choice) with
the posterior sampled under a fixed seed, so that every pass of a run is comparable with the others and
an evaluation's record with the one the run logged; a loss-conditional model is scored at the config's
beta. It runs the model in eval mode and leaves it, and the objective, in the mode they were in.

`step` is the number of steps done, as the records' `step`; the KL weight the pass uses is that of the last
step taken, beta(step - 1), the weight the model was trained at (a cyclical schedule's beta(T) after the
run's T steps, steps counting from 0, would be a new cycle's 0, a weight the model never trained at).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
from torch import nn

from vaelab.config import Config
from vaelab.model import at_beta
from vaelab.model.posterior import LOG_2PI
from vaelab.objectives import Objective
from vaelab.objectives.decoder_variance import LOG_SIGMA_FLOOR, OptimalSigmaGaussian
from vaelab.objectives.recon_loss import ReconstructionLoss
from vaelab.objectives.terms import as_floats
from vaelab.training.batches import to_tensor

SSE_PREFIX = "_sse/"  # a sigma-optimal run's summed squared error per channel, during a validation pass


def autocast(config: Config, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast under `training.amp`, else nothing."""
    if config.training.amp:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def validation_seed(config: Config) -> int:
    """The seed of every validation pass's posterior samples (apart from the training noise's)."""
    return config.training.seed + 1


def validate(model: nn.Module, objective: Objective, images: np.ndarray, index: np.ndarray, *, config: Config,
             step: int, device: torch.device, batch_size: int) -> dict[str, float]:
    """The mean loss terms (metrics.jsonl's names) over the images `images[index]`, uint8 (N, C, H, W)."""
    sums = validation_sums(model, objective, images, index, config=config, step=step, device=device,
                           batch_size=batch_size)
    return with_one_sigma({name: total / len(index) for name, total in sums.items()}, objective, images.shape[1:])


def with_one_sigma(means: dict[str, float], objective: Objective, image_shape: tuple[int, ...]) -> dict[str, float]:
    """The validation means of a `sigma-optimal` run, and the `elbo_optimal_sigma` of a loss that is not a
    likelihood (objectives/recon_loss.py), re-read under one sigma for the whole validation set.

    Their training re-fits sigma to every batch; scored chunk by chunk, each chunk would be scored under its
    own sigma. The optimum over the whole set is sigma_c^2 = mean SSE_c / P_c, P_c the pixels a sigma covers
    (H W per channel c, or all D for one shared sigma), from the summed squared errors that `validation_sums`
    adds up (`_sse/<c>`). The Gaussian NLL is linear in the SSE, so the means follow in closed form
    (Rybkin et al. 2021), with sigma floored at e^-6 as in training:

        nll = sum_c [ mean SSE_c / (2 sigma_c^2) + P_c log sigma_c ] + D/2 log 2 pi,   elbo = -(nll + kl)

    For sigma-optimal nll is its recon, and the loss changes by the change in recon (its KL term does not
    depend on sigma). Other runs' means come back as they are; the `_sse/` entries are dropped."""
    sse = [means.pop(f"{SSE_PREFIX}{c}") for c in range(image_shape[0]) if f"{SSE_PREFIX}{c}" in means]
    likelihood = objective.likelihood
    if not sse or not fits_one_sigma(objective):
        return means
    channels, height, width = image_shape
    per_channel = isinstance(likelihood, OptimalSigmaGaussian) and likelihood.per_channel
    groups = sse if per_channel else [sum(sse)]  # mean SSE under each sigma
    pixels = height * width if per_channel else channels * height * width
    log_sigma = [max(0.5 * math.log(max(total / pixels, 1e-300)), LOG_SIGMA_FLOOR) for total in groups]
    nll = sum(total / (2 * math.exp(2 * ls)) + pixels * ls for total, ls in zip(groups, log_sigma))
    nll += 0.5 * channels * height * width * LOG_2PI
    sigma = sum(math.exp(ls) for ls in log_sigma) / len(log_sigma)
    if isinstance(likelihood, ReconstructionLoss):
        return {**means, "elbo_optimal_sigma": -(nll + means["kl"]), "sigma_optimal": sigma}
    means["loss"] += nll - means["recon"]
    means["recon"] = nll
    means["elbo"] = -(nll + means["kl"])
    means["sigma"] = sigma
    if per_channel:
        means.update({f"sigma_channel_{c}": math.exp(ls) for c, ls in enumerate(log_sigma)})
    return means


def fits_one_sigma(objective: Objective) -> bool:
    """Whether a validation pass fits one sigma to all its images (`with_one_sigma`): for `sigma-optimal`, and for
    the Gaussian ELBO that a VAE trained with a loss that is not a likelihood logs."""
    if isinstance(objective.likelihood, ReconstructionLoss):
        return not objective.deterministic
    return isinstance(objective.likelihood, OptimalSigmaGaussian)


@torch.no_grad()
def validation_sums(model: nn.Module, objective: Objective, images: np.ndarray, index: np.ndarray, *,
                    config: Config, step: int, device: torch.device, batch_size: int) -> dict[str, float]:
    """The loss terms summed over the images `images[index]` (a data-parallel run adds the processes' sums
    before dividing).

    Images go through in chunks of 2 * `batch_size` (the training batch in force), so that a pass draws
    the same noise in the same order whoever calls it.
    """
    was_training = model.training, objective.training
    model.eval()
    objective.eval()
    generator = torch.Generator(device=device).manual_seed(validation_seed(config))
    served = at_beta(model, config.objective.beta)  # a loss-conditional model at its validation beta
    sums: dict[str, float | torch.Tensor] = {}
    chunk = 2 * batch_size
    last_step = max(step - 1, 0)  # the step whose KL weight the model was last trained at
    try:
        for start in range(0, len(index), chunk):
            x = to_tensor(images, index[start : start + chunk], device, config.training.channels_last)
            with autocast(config, device):
                output = served(x, generator=generator, samples=objective.samples)
                terms = objective(x, output, last_step, generator=generator)
            values = terms.metric_values()
            if fits_one_sigma(objective):  # summed for `with_one_sigma`
                sse = (x - output.reconstruction.float()).pow(2).sum(dim=(2, 3)).double().mean(dim=0)  # (C,)
                values.update({f"{SSE_PREFIX}{c}": value for c, value in enumerate(sse.unbind())})
            for name, value in values.items():
                sums[name] = sums.get(name, 0.0) + value * len(x)
    finally:
        model.train(was_training[0])
        objective.train(was_training[1])
    return as_floats(sums)
