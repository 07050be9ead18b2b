"""What the explorer page shows of the latent space: the dimensions ordered by how much they carry, and the map of
the validation codes.

The order and the collapse marks come from the run's validation images (at most MAP_IMAGES of them, a seeded
subset), encoded at the beta the page starts at:
- KL_j = mean over the N images of KL[q(z_j|x) || N(0, 1)] (nats; they sum to the mean KL), with its standard
  error over the images; the autoencoder, which has no KL, is ordered by Var_x E[z_j|x] instead;
- a dimension is marked collapsed when Var_x E[z_j|x] <= 0.01 (inactive, Burda et al. 2016, sec. 5.2): its
  posterior mean does not move with the image, so the decoder cannot read anything from it.
Without the validation images, eval.json's `kl_per_dim` and `posterior_mean_variance` (from `vaelab evaluate`, at
objective.beta) serve; without either, the dimensions keep their index order.

The map is the plane of the first two principal components of the validation posterior means
(`diagnostics.latent.latent_plane`), each image drawn as a thumbnail at its point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vaelab.diagnostics import latent
from vaelab.diagnostics.intervals import standard_error
from vaelab.inference import TrainedModel
from vaelab.inference.pictures import png_bytes

MAP_IMAGES = 300  # validation images on the map and in the KL estimates
THUMBNAIL = 24  # pixels a side of the map's thumbnails at most
PRIOR_SPAN = 3.0  # sliders span +- 3 prior standard deviations (the autoencoder: +- 3 sd of its codes)


@dataclass
class Dimension:
    """One latent dimension as the page lists it."""

    index: int
    kl: float | None  # nats, mean over the images
    kl_se: float | None
    variance: float | None  # Var_x E[z_j|x]
    collapsed: bool | None  # None: unknown (no images, or the autoencoder, whose scale is arbitrary)
    low: float
    high: float


@dataclass
class LatentSummary:
    """The dimensions in the page's order (most KL first) and where the numbers come from."""

    dimensions: list[Dimension]
    basis: str  # e.g. "300 validation images at beta = 0.1"


def summarise(model: TrainedModel, means: np.ndarray | None, logvars: np.ndarray | None, basis: str,
              evaluation: dict) -> LatentSummary:
    """The summary from validation codes (N, Z) (logvars None for the autoencoder), else from eval.json."""
    z = model.latent_dim
    kl = kl_se = variance = None
    low, high = np.full(z, -PRIOR_SPAN), np.full(z, PRIOR_SPAN)
    if means is not None:
        encodings = latent.Encodings(torch.from_numpy(means), None if logvars is None else torch.from_numpy(logvars))
        variance = latent.posterior_mean_variance(encodings)
        if logvars is not None:
            kl = latent.kl_per_dim(encodings)
            per_image = encodings.posterior().kl_per_dim().double().numpy()  # (N, Z)
            kl_se = np.array([standard_error(per_image[:, j]) for j in range(z)])
        else:
            centre, spread = means.mean(axis=0), means.std(axis=0)
            spread = np.where(spread > 0, spread, 1.0)  # a code that never moves still gets a slider to move
            low, high = centre - PRIOR_SPAN * spread, centre + PRIOR_SPAN * spread
    elif evaluation.get("kl_per_dim") is not None or evaluation.get("posterior_mean_variance") is not None:
        kl = None if evaluation.get("kl_per_dim") is None else np.array(evaluation["kl_per_dim"], dtype=float)
        if evaluation.get("posterior_mean_variance") is not None:
            variance = np.array(evaluation["posterior_mean_variance"], dtype=float)
        basis = f"eval.json ({evaluation.get('images', '?')} images, beta = {model.config.objective.beta:g})"
    strength = kl if kl is not None else variance
    order = np.argsort(-strength, kind="stable") if strength is not None else np.arange(z)
    gaussian = model.kind == "vae"
    dimensions = [Dimension(index=int(j), kl=_number(kl, j), kl_se=_number(kl_se, j), variance=_number(variance, j),
                            collapsed=(bool(variance[j] <= latent.ACTIVE_THRESHOLD)
                                       if variance is not None and gaussian else None),
                            low=float(low[j]), high=float(high[j])) for j in order]
    return LatentSummary(dimensions, basis if strength is not None else "no validation images and no eval.json")


def _number(values: np.ndarray | None, j: int) -> float | None:
    return None if values is None or not np.isfinite(values[j]) else float(values[j])


@dataclass
class LatentMap:
    """The validation codes on their principal plane, and their thumbnails in one sprite, `columns` to a row."""

    plane: latent.LatentPlane
    names: list[str]
    labels: list[str] | None
    thumbnails: bytes  # PNG
    columns: int
    thumbnail: int  # pixels a side

    def as_json(self) -> dict:
        return {"points": np.round(self.plane.points, 4).tolist(), "mean": self.plane.mean.tolist(),
                "components": self.plane.components.tolist(), "explained": self.plane.explained.tolist(),
                "names": self.names, "labels": self.labels, "columns": self.columns, "thumbnail": self.thumbnail}


def latent_map(means: np.ndarray, images: torch.Tensor, names: list[str], labels: list[str] | None) -> LatentMap:
    """The map of codes (N, Z) of images (N, C, H, W) in [0, 1]."""
    side = min(THUMBNAIL, images.shape[-1])
    small = torch.nn.functional.interpolate(images.float(), size=(side, side), mode="area")  # box average
    columns = int(np.ceil(np.sqrt(len(images))))
    return LatentMap(plane=latent.latent_plane(means), names=names, labels=labels,
                     thumbnails=png_bytes(small, columns, pad=0), columns=columns, thumbnail=side)
