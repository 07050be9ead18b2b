"""The codes of many images: a whole data source (`vaelab encode`), or the run's own validation images.

latents.npz holds `mean` (N, Z) float32, the posterior means (the autoencoder's codes); `logvar` (N, Z), the
posterior log-variances (not for the autoencoder); `names` (N,), each image's name in its source; `labels` (N,)
int64 and `classes` where the source has classes; `beta`, the beta served (nan for the autoencoder); `source`.
Read it with `numpy.load(path)`: no pickled objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaelab.data import ImageData, at_model_shape, load_images, split_indices
from vaelab.data.cache import read_rows
from vaelab.errors import UsageError
from vaelab.files import atomic_write
from vaelab.inference.trained import TrainedModel

CHUNK = 4096  # images read from the cache at a time


@dataclass
class Latents:
    """q(z|x) of N images: means and log-variances (N, Z) float32 (logvar None for the autoencoder)."""

    mean: np.ndarray
    logvar: np.ndarray | None
    names: list[str]
    labels: np.ndarray | None
    classes: list[str] | None
    source: str
    beta: float | None

    def save(self, path: str | Path) -> Path:
        """latents.npz (keys in the module's docstring), written atomically."""
        path = Path(path)
        if path.suffix != ".npz":
            raise UsageError(f"cannot write codes to {path}: give a file name ending in .npz")
        arrays = {"mean": self.mean, "names": np.array(self.names, dtype=str), "source": np.array(self.source),
                  "beta": np.array(math.nan if self.beta is None else self.beta)}
        if self.logvar is not None:
            arrays["logvar"] = self.logvar
        if self.labels is not None:
            arrays["labels"] = self.labels.astype(np.int64)
        if self.classes is not None:
            arrays["classes"] = np.array(self.classes, dtype=str)
        atomic_write(path, lambda handle: np.savez(handle, **arrays))
        return path


def encode_rows(model: TrainedModel, images: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Posterior means and log-variances (None for the autoencoder) of the uint8 (N, C, H, W) rows at `index`."""
    means, logvars = [], []
    for start in range(0, len(index), CHUNK):
        posterior = model.encode(read_rows(images, index[start : start + CHUNK]))
        means.append(posterior.mean.float().cpu().numpy())
        if model.kind == "vae":
            logvars.append(posterior.logvar.float().cpu().numpy())
    return np.concatenate(means), np.concatenate(logvars) if logvars else None


def encode_source(model: TrainedModel, spec: str) -> Latents:
    """The codes of every image of `spec` (a folder, fashion-mnist, digits, hf:NAME), resized and cropped to the
    network's input as the run's own images were."""
    data = load_images(at_model_shape(model.config.data, spec, model.image_shape))
    mean, logvar = encode_rows(model, data.images, np.arange(len(data.images)))
    return Latents(mean=mean, logvar=logvar, names=list(data.names), labels=data.labels, classes=data.classes,
                   source=data.source, beta=model.beta)


def validation_images(model: TrainedModel) -> tuple[ImageData, np.ndarray]:
    """The run's images and the indices of its validation split (data.split_indices with the run's config): the
    images it never trained on. A `UsageError` says why when the data is not there (or no longer fits)."""
    data = load_images(model.config.data)
    if tuple(data.images.shape[1:]) != tuple(model.image_shape):
        raise UsageError(f"the run's data {model.config.data.spec} now gives images of {data.images.shape[1:]}, the "
                         f"model takes {model.image_shape}: the data changed since training")
    _, val_index = split_indices(len(data.images), model.config.data.val_fraction, model.config.data.split_seed)
    return data, val_index
