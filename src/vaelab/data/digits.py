"""scikit-learn's handwritten digits (UCI optdigits test set): 1797 grey 8x8 images, labels 0..9.

Pixels are counts 0..16 (of a 4x4 block of a 32x32 bitmap); they are scaled to 0..255 and the
images upscaled with bicubic interpolation to the target size (default 32).
"""

from __future__ import annotations

from importlib.metadata import version

import numpy as np
from PIL import Image

from vaelab.data.image_data import ImageData
from vaelab.data.pixels import set_channels


def identity() -> dict[str, str]:
    """What the cache key needs: the data ships inside scikit-learn, so its version."""
    return {"scikit-learn": version("scikit-learn")}


def load_digits_images(size: int, channels: int | None) -> ImageData:
    """(1797, C, size, size) uint8; grey, replicated when channels == 3."""
    from sklearn.datasets import load_digits  # here, not at the top: scikit-learn takes a second to import

    digits = load_digits()
    counts = digits.images  # (N, 8, 8) float, 0..16
    small = np.rint(counts * (255 / 16)).astype(np.uint8)
    images = np.stack([np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC))
                       for image in small])  # (N, S, S)
    return ImageData(
        images=set_channels(images[:, None], channels or 1),  # (N, C, S, S)
        labels=digits.target.astype(np.int64),
        names=[f"digits/{i}" for i in range(len(images))],
        skipped=[],
        classes=[str(digit) for digit in range(10)],
        source=f"digits (scikit-learn {version('scikit-learn')}, {len(images)} images)",
    )
