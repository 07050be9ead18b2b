"""Decode one image file into a square RGB array, or say in a few words why it cannot be used.

Conventions (applied in this order):
- the first frame of an animated image;
- EXIF orientation applied (`ImageOps.exif_transpose`), so pictures stand the way a viewer shows them;
- 16-bit grey (modes I;16*, I) scaled to 8 bits, v8 = round(v16 * 255 / 65535), not clipped;
- transparency (RGBA, LA, PA, palette or colour-key transparency) composited on white, the
  background most viewers and papers show; every other mode (1, L, P, CMYK, YCbCr, F, ...) goes
  through Pillow's `convert("RGB")` (mode F is clipped to 0..255 there);
- the shorter side resized to the target size and the centre square kept (`pixels.fit_square`).

Pillow is made strict while decoding: truncated files raise (LOAD_TRUNCATED_IMAGES off) and its
decompression bomb warning (more than MAX_IMAGE_PIXELS) is an error like the bomb error (twice that).
"""

from __future__ import annotations

import errno
import io
import logging
import multiprocessing
import os
import signal
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from typing import BinaryIO, Generic, NamedTuple, TypeVar

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from vaelab.data.pixels import fit_square, set_channels
from vaelab.machine import available_cores, die_with_parent

log = logging.getLogger(__name__)
T = TypeVar("T")

WHITE = (255, 255, 255, 255)
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
# A grey picture saved as an RGB JPEG comes back with channels a level or two apart (chroma
# rounding); differences up to this many levels do not count as colour.
COLOUR_TOLERANCE = 2
# Only these decoders are tried, whatever the extension says: never, for example, Pillow's EPS
# plugin, which runs Ghostscript on the file. (JPEG also opens MPO, the JPEG many cameras write.)
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "DIB", "TIFF", "GIF")
# JPEGs are decoded at a reduced DCT scale, but to at least this many times the target size,
# as Pillow's `thumbnail` does (its reducing_gap of 2.0).
DRAFT_GAP = 2
# Below this many images, decoding in this process beats starting a pool of workers.
PARALLEL_MIN_IMAGES = 64


class Decoded(NamedTuple):
    """What decoding one file gives: pixels (S, S, 3) uint8 RGB, or None and the problem. `unopened`: the file
    itself could not be opened (permission denied, gone, ...), a problem that may pass, unlike a bad image."""

    pixels: np.ndarray | None
    has_colour: bool
    problem: str | None
    unopened: bool = False


def decode_file(path: str, size: int) -> Decoded:
    """Decode the file at `path` to (size, size, 3) uint8; never raises for a bad file."""
    try:
        with open(path, "rb") as file:
            return _decode(file, size)
    except OSError as error:  # cannot be opened: permissions, a link loop, ...
        return Decoded(None, False, describe_error(error), unopened=True)


def can_open(path: str) -> bool:
    """Whether the file at `path` can be opened now (as `decode_file` opens it)."""
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False


def decode_bytes(data: bytes, size: int) -> Decoded:
    """Decode an image file's bytes (e.g. a Hugging Face dataset's image) to (size, size, 3) uint8; never raises."""
    return _decode(io.BytesIO(data), size)


def _decode(file: BinaryIO, size: int) -> Decoded:
    try:
        with _strict_pillow(), Image.open(file, formats=FORMATS) as image:
            image.draft(None, (size * DRAFT_GAP, size * DRAFT_GAP))
            image.load()
            pixels = square_rgb(image, size)
    except Exception as error:  # noqa: BLE001 - any failure means "skip this file", with the reason
        return Decoded(None, False, describe_error(error))
    return Decoded(pixels, has_colour(pixels), None)


def square_rgb(image: Image.Image, size: int) -> np.ndarray:
    """A loaded Pillow image as the data pipeline makes it (the conventions above, from EXIF orientation on):
    (size, size, 3) uint8 RGB."""
    rgb = to_rgb(ImageOps.exif_transpose(image))
    return np.asarray(fit_square(rgb, size), dtype=np.uint8)  # (S, S, 3)


def decode_many(decode: Callable[[T, int], Decoded], inputs: Sequence[T], size: int) -> Iterator[Decoded]:
    """`decode(input, size)` over `inputs`, in order, on all cores when there are enough of them.

    The worker processes are spawned, not forked: a forked worker would inherit this process's descriptors,
    the locks of the run folder and of the cache among them, and hold them after this process is killed. Each
    worker dies with this process (`die_with_parent`) and leaves Ctrl-C to it; when this process stops early
    (Ctrl-C, an error), the images not yet started are not decoded.
    """
    workers = available_cores()
    if len(inputs) < PARALLEL_MIN_IMAGES or workers < 2:
        yield from map(decode, inputs, repeat(size))
        return
    log.info("decoding %d images on %d processes", len(inputs), workers)
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                               initargs=(os.getpid(),))
    try:
        yield from pool.map(decode, inputs, repeat(size), chunksize=max(1, len(inputs) // (workers * 16)))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _start_worker(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent handles it
    die_with_parent(parent)


@dataclass
class Stacked(Generic[T]):
    """Decoded images stacked: the pixels of the ones that decoded, and the others' problems."""

    pixels: np.ndarray  # (N, C, S, S) uint8, C = channels, or 3 / 1 as the images' colour says
    kept: list[T]  # the key of each of the N images, in order
    failed: list[tuple[T, str]]  # (key, problem) of each image that did not decode
    unopened: list[T]  # the keys of those whose file could not be opened (Decoded.unopened)


def stack(decoded: Iterable[tuple[T, Decoded]], count: int, size: int, channels: int | None) -> Stacked[T]:
    """Stack up to `count` (key, decoded image) pairs as (N, C, size, size) uint8. `channels` None: 3 if any
    image has colour, else 1 (pixels.set_channels)."""
    pixels = np.empty((count, 3, size, size), dtype=np.uint8)  # (count, 3, S, S)
    kept: list[T] = []
    failed: list[tuple[T, str]] = []
    unopened: list[T] = []
    colour = False
    for key, result in decoded:
        if result.problem is not None:
            failed.append((key, result.problem))
            if result.unopened:
                unopened.append(key)
            continue
        pixels[len(kept)] = result.pixels.transpose(2, 0, 1)  # (S, S, 3) -> (3, S, S)
        kept.append(key)
        colour = colour or result.has_colour
    return Stacked(set_channels(pixels[: len(kept)], channels or (3 if colour else 1)), kept, failed, unopened)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB (16-bit scaled to 8 bits, transparency composited on white)."""
    if image.mode in SIXTEEN_BIT_MODES:
        image = sixteen_to_eight_bits(image)
    if "A" in image.getbands() or "a" in image.getbands() or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", image.size, WHITE), rgba)
    return image.convert("RGB")


def sixteen_to_eight_bits(image: Image.Image) -> Image.Image:
    """16-bit grey -> 8-bit grey, v8 = round(v16 * 255 / 65535): 65535 -> 255, 32896 -> 128."""
    values = np.clip(np.asarray(image).astype(np.int64), 0, 65535)
    grey = Image.fromarray(((values * 255 + 32767) // 65535).astype(np.uint8), mode="L")
    if "transparency" in image.info:  # a tRNS colour key, in 16-bit units
        grey.info["transparency"] = (int(image.info["transparency"]) * 255 + 32767) // 65535
    return grey


def has_colour(pixels: np.ndarray) -> bool:
    """Whether (H, W, 3) uint8 pixels differ between channels by more than COLOUR_TOLERANCE."""
    channels = pixels.astype(np.int16)
    spread = np.abs(channels[..., 0] - channels[..., 1]).max(), np.abs(channels[..., 1] - channels[..., 2]).max()
    return max(spread) > COLOUR_TOLERANCE


def describe_error(error: BaseException) -> str:
    """A short reason for skipped.txt, e.g. "truncated image file" or "permission denied"."""
    if isinstance(error, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return f"too many pixels: over Pillow's decompression bomb limit of {Image.MAX_IMAGE_PIXELS}"
    if isinstance(error, UnidentifiedImageError):
        return "not an image: cannot identify image file"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, FileNotFoundError):
        return "file not found (a broken symbolic link?)"
    if isinstance(error, OSError) and error.errno == errno.ELOOP:
        return "symbolic link loop"
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if "truncated" in text:
        return "truncated image file"
    return f"unreadable image: {text[:100]}"


@contextmanager
def _strict_pillow() -> Iterator[None]:
    """Truncated images raise and the decompression bomb warning is an error, for this decode only."""
    loose = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = loose
