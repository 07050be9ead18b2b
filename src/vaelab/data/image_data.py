"""`ImageData`: the decoded images of one source, with their labels, names and skipped inputs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ImageData:
    """Images as uint8 (N, C, H, W), pixels 0..255 (the model side divides by 255, see DESIGN.md).

    `images` is memory-mapped from the cache (`np.load(mmap_mode="r")`) unless `--limit` picked a
    subset, which is then an in-memory copy of only those images. `labels` are int64 class indices
    into `classes` where the source has classes, else both are None. `names` has one entry per image
    (a path relative to the folder, or e.g. "fashion-mnist/train/123"); `skipped` lists every input
    file that could not be used as (path, reason); `recheck` the paths among them whose file could not be
    opened at all (permission denied, gone, ...): a problem that may pass, so the cache looks at them again.
    """

    images: np.ndarray  # (N, C, H, W) uint8
    labels: np.ndarray | None  # (N,) int64
    names: list[str]
    skipped: list[tuple[str, str]]
    classes: list[str] | None
    source: str  # e.g. "folder /work/shared/data/artworks (698 images)"
    recheck: list[str] = field(default_factory=list)  # paths as the file system takes them

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        return self.images.shape[2]
