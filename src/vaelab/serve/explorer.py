"""The explorer's state and its answers, without HTTP: what each request of the page computes.

Every answer that is an image is a small PNG decoded here, on the server; numbers go out as JSON. The model is
used by one request at a time (a lock), so that requests do not fight over the cores.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from vaelab.errors import UsageError
from vaelab.inference import TrainedModel, png_bytes
from vaelab.inference.images import image_bytes
from vaelab.inference.latents import encode_rows, validation_images
from vaelab.serve.latent_space import MAP_IMAGES, LatentMap, LatentSummary, latent_map, summarise

STORED_IMAGES = 200  # uploads kept (the oldest are forgotten first)
MAX_STEPS = 24  # of an interpolation
DEFAULT_IMAGES = 2  # validation images offered as the chosen image and the interpolation's ends at the start


class Explorer:
    """A trained model served to the page: its latent summary, the validation map (when the run's data is there),
    the images chosen so far, and the decodes."""

    def __init__(self, model: TrainedModel, max_upload_bytes: int, seed: int = 0):
        self.model = model
        self.max_upload_bytes = max_upload_bytes
        self.lock = threading.Lock()
        self.images: OrderedDict[str, tuple[str, torch.Tensor]] = OrderedDict()  # id -> (name, (1, C, H, W))
        self.map: LatentMap | None = None
        self.data_problem: str | None = None
        means = logvars = None
        basis = ""
        try:
            data, val_index = validation_images(model)
        except UsageError as error:
            self.data_problem = str(error)
        else:
            if len(val_index) > MAP_IMAGES:
                val_index = np.sort(np.random.default_rng(seed).choice(val_index, MAP_IMAGES, replace=False))
            x = torch.from_numpy(np.asarray(data.images[val_index])).float().div_(255.0)  # (N, C, H, W)
            means, logvars = encode_rows(model, data.images, val_index)
            names = [data.names[i] for i in val_index]
            labels = (None if data.labels is None or data.classes is None
                      else [data.classes[data.labels[i]] for i in val_index])
            self.map = latent_map(means, x, names, labels)
            beta = f" at beta = {model.beta:g}" if model.conditional else ""
            basis = f"{len(val_index)} validation images{beta}"
            for i in range(min(DEFAULT_IMAGES, len(val_index))):
                self.images[f"val-{val_index[i]}"] = (names[i], x[i : i + 1])
        self.summary: LatentSummary = summarise(model, means, logvars, basis, model.run.evaluation())

    def info(self) -> dict[str, Any]:
        """What the page needs to draw itself."""
        model = self.model
        return {
            "run": str(model.run.path), "describe": model.describe(), "kind": model.kind,
            "latent_dim": model.latent_dim, "image_shape": list(model.image_shape),
            "beta": model.beta, "beta_range": None if model.beta_range is None else list(model.beta_range),
            "trained_beta": model.config.objective.beta,
            "dimensions": [vars(d) for d in self.summary.dimensions], "basis": self.summary.basis,
            "map": None if self.map is None else self.map.as_json(), "data_problem": self.data_problem,
            "images": [{"id": key, "name": name} for key, (name, _) in self.images.items()],
            "max_upload_bytes": self.max_upload_bytes, "max_steps": MAX_STEPS,
        }

    def served(self, beta: float | None) -> TrainedModel:
        """The model at `beta` (a loss-conditional run's, inside its range), or as it started (None)."""
        return self.model if beta is None else self.model.with_beta(beta)

    def decode(self, z: list[float], beta: float | None) -> bytes:
        """The decoded image of one code (Z numbers), as PNG."""
        if len(z) != self.model.latent_dim or not np.all(np.isfinite(z)):
            raise UsageError(f"a code needs {self.model.latent_dim} finite numbers, not {len(z)}")
        with self.lock:
            return png_bytes(self.served(beta).decode(z).cpu())

    def encode(self, image: str, beta: float | None) -> dict[str, Any]:
        """The posterior mean of a chosen image, and its KL in nats (the VAE's)."""
        x = self.image(image)
        with self.lock:
            posterior = self.served(beta).encode(x)
        kl = float(posterior.kl()[0]) if self.model.kind == "vae" else None
        return {"mean": posterior.mean[0].tolist(), "kl": kl}

    def interpolate(self, a: str, b: str, steps: int, beta: float | None) -> bytes:
        """The decoded straight line between the codes of two chosen images, one row of steps + 1 images, as PNG."""
        if not 1 <= steps <= MAX_STEPS:
            raise UsageError(f"steps={steps}: give 1 to {MAX_STEPS}")
        x_a, x_b = self.image(a), self.image(b)
        with self.lock:
            path = self.served(beta).interpolate(x_a, x_b, steps)
        return png_bytes(path.cpu())

    def add_upload(self, data: bytes, name: str) -> dict[str, str]:
        """An uploaded image file, prepared as the run's data was; `UsageError` when it is not an image."""
        if len(data) > self.max_upload_bytes:  # the server refuses these before reading them; never decode one
            raise UsageError(f"{name} is larger than the upload limit of {self.max_upload_bytes:,} bytes")
        x = image_bytes(data, self.model.image_shape, name)
        key = hashlib.sha256(data).hexdigest()[:16]
        with self.lock:
            self.images[key] = (name, x)
            self.images.move_to_end(key)
            while len(self.images) > STORED_IMAGES:
                self.images.popitem(last=False)
        return {"id": key, "name": name}

    def image(self, key: str) -> torch.Tensor:
        """A chosen image (1, C, H, W) by its id."""
        with self.lock:
            found = self.images.get(key)
        if found is None:
            raise UsageError(f"no image {key!r} here (the server keeps the last {STORED_IMAGES}): pick it again")
        return found[1]

    def image_png(self, key: str) -> bytes:
        """A chosen image as the network sees it, as PNG."""
        return png_bytes(self.image(key))
