"""Images for training: resolve `--data SPEC`, decode once, cache as uint8 (N, C, H, W), memory-map.

    data = load_images(config.data)        # ImageData: images, labels, names, skipped, classes, source
    train, val = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)

Modules: `sources` (what SPEC names), `folder` + `decode` (a folder of image files), `huggingface`
(a Hugging Face dataset), `fashion_mnist`, `digits`, `pixels` (resizing and channel conventions),
`cache` (the on-disk store), `split`
(seeded index selections), `skipped` (reporting unusable inputs).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from vaelab.config import DataConfig
from vaelab.data import cache
from vaelab.data.image_data import ImageData
from vaelab.data.skipped import skipped_warning, write_skipped
from vaelab.data.sources import resolve_source
from vaelab.data.split import limit_indices, split_indices

__all__ = ["ImageData", "at_model_shape", "load_images", "skipped_warning", "split_indices", "write_skipped"]

log = logging.getLogger(__name__)


def load_images(config: DataConfig) -> ImageData:
    """The images `config.spec` names, from the cache when it holds them, else decoded and cached.

    The cache key ignores `config.limit`: the whole source is cached, then the first `limit`
    images of a permutation seeded by `config.split_seed` are kept (copied into memory).
    """
    source = resolve_source(config)
    folder = cache.cache_folder(config.cache_dir)
    key = cache.cache_key(source.kind, source.identity)
    data = cache.load(folder, key)
    if data is None:
        with cache.building(folder, key):
            data = cache.load(folder, key)  # another process may have built it while we waited
            if data is None:
                log.info("decoding %s (once: cached as %s)", config.spec, folder / key)
                data = cache.store(folder, key, source.build())
    return _limited(data, config.limit, config.split_seed)


def at_model_shape(config: DataConfig, spec: str, image_shape: tuple[int, int, int]) -> DataConfig:
    """`config` with another source, `spec`, at a trained network's input shape (C, H, W): the images resized and
    cropped as the run's were, all of them (no --limit)."""
    channels, size, _ = image_shape
    other = replace(config, spec=spec, image_size=size, channels=channels, limit=None)
    other.validate()
    return other


def _limited(data: ImageData, limit: int | None, seed: int) -> ImageData:
    if limit is None or limit >= len(data.images):
        return data
    index = limit_indices(len(data.images), limit, seed)
    return replace(
        data,
        images=np.asarray(data.images[index]),  # (limit, C, H, W), read into memory
        labels=None if data.labels is None else data.labels[index],
        names=[data.names[i] for i in index],
        source=f"{data.source}, {limit} of them (--limit)",
    )
