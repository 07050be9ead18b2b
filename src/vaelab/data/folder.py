"""A folder of images: list the files, decode them on all cores, assemble an `ImageData`.

Conventions:
- the folder is searched recursively for EXTENSIONS (any case); symbolic links to folders are
  followed but every folder is visited once, so link loops end; paths are sorted, so the order
  of the images is the same on every machine;
- a file that cannot be used (broken link, zero bytes, not an image, truncated, an image format that
  is not decoded such as SVG, ...) is skipped and listed with its reason, never fatal; only a folder
  with no usable image is an error;
- labels follow torchvision's ImageFolder: the index of the image's first-level sub-folder in
  the sorted `classes`, when every image lives in a sub-folder (else no labels);
- channels: 3 if any image has colour, else 1, decided in the same decoding pass (workers return
  RGB and a colour flag; grey is taken with the BT.601 luma afterwards, see `pixels`);
- names are paths relative to the folder; bytes that are not UTF-8 are shown as \\xNN and control
  characters (tab, newline) escaped, so every name and reason can go into a text file.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

import numpy as np

from vaelab.data.decode import decode_file, decode_many, describe_error, stack
from vaelab.data.image_data import ImageData
from vaelab.errors import UsageError

EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
# Image files that are not decoded (vector drawings, formats Pillow needs a plugin for, EPS, which would run
# Ghostscript): listed as skipped, so that none goes missing without a word.
UNDECODED = {".svg": "SVG", ".svgz": "SVG", ".eps": "EPS", ".heic": "HEIC", ".heif": "HEIF", ".avif": "AVIF"}
_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(32), 127)}


@dataclass(frozen=True)
class FolderListing:
    """The image files under `root`, as the cache key sees them."""

    root: str  # absolute path of the folder
    files: list[tuple[str, int, int]]  # (relative path, size in bytes, mtime in ns), sorted
    unusable: list[tuple[str, str]]  # (relative path, reason): found while listing, never decoded


def list_folder(root: str) -> FolderListing:
    """Find every file with an image extension under `root` (recursively) and stat it.

    A folder without any such file is a `UsageError`.
    """
    root = os.path.abspath(root)
    files: list[tuple[str, int, int]] = []
    unusable: list[tuple[str, str]] = []

    def unlistable(error: OSError) -> None:
        where = os.path.relpath(error.filename, root) if error.filename else "."
        unusable.append((where, f"folder could not be listed: {describe_error(error)}"))

    visited = {_identity(root)}
    for folder, subfolders, names in os.walk(root, onerror=unlistable, followlinks=True):
        subfolders[:] = [name for name in subfolders if _first_visit(os.path.join(folder, name), visited)]
        for name in names:
            extension = os.path.splitext(name)[1].lower()
            if extension in UNDECODED:
                reason = f"an image format vaelab does not decode ({UNDECODED[extension]}): convert it to PNG or JPEG"
                unusable.append((os.path.relpath(os.path.join(folder, name), root), reason))
            elif name.lower().endswith(EXTENSIONS):
                path = os.path.join(folder, name)
                entry, reason = _stat_file(path)
                relative = os.path.relpath(path, root)
                if reason is None:
                    files.append((relative, *entry))
                else:
                    unusable.append((relative, reason))
    if not files and not unusable:
        raise UsageError(
            f"no images in {display_path(root)}: it holds no {', '.join(EXTENSIONS)} files (searched recursively); "
            "point --data at a folder of images"
        )
    return FolderListing(root, sorted(files), sorted(unusable))


def decode_folder(listing: FolderListing, size: int, channels: int | None) -> ImageData:
    """Decode every listed file to (size, size) and stack them as (N, C, size, size) uint8."""
    paths = [os.path.join(listing.root, relative) for relative, _, _ in listing.files]
    relatives = [relative for relative, _, _ in listing.files]
    stacked = stack(zip(relatives, decode_many(decode_file, paths, size)), len(paths), size, channels)
    names = stacked.kept
    skipped = sorted((display_path(os.path.join(listing.root, relative)), reason)
                     for relative, reason in [*listing.unusable, *stacked.failed])
    if not names:
        raise UsageError(
            f"no readable images in {display_path(listing.root)}: all {len(skipped)} image files were skipped "
            f"({_examples(skipped)}); point --data at a folder of jpg/png images"
        )
    labels, classes = _labels(names)
    return ImageData(
        images=stacked.pixels, labels=labels, names=[display_path(name) for name in names], skipped=skipped,
        classes=classes, source=f"folder {display_path(listing.root)} ({len(names)} images)",
        recheck=[os.path.join(listing.root, relative) for relative in stacked.unopened],
    )


def display_path(path: str) -> str:
    """`path` as printable UTF-8: undecodable bytes as \\xNN, control characters as \\xNN too."""
    return os.fsencode(path).decode("utf-8", "backslashreplace").translate(_ESCAPES)


def _stat_file(path: str) -> tuple[tuple[int, int], str | None]:
    """((size, mtime_ns), None) for a usable regular file, else ((0, 0), reason)."""
    try:
        info = os.stat(path)  # follows symbolic links
    except FileNotFoundError:
        return (0, 0), "broken symbolic link" if os.path.islink(path) else "file not found"
    except OSError as error:
        return (0, 0), describe_error(error)
    if not stat.S_ISREG(info.st_mode):
        return (0, 0), "not a regular file"
    if info.st_size == 0:
        return (0, 0), "zero bytes"
    return (info.st_size, info.st_mtime_ns), None


def _first_visit(folder: str, visited: set[tuple[int, int]]) -> bool:
    """Whether `folder` (maybe reached through a link) is new; marks it visited."""
    try:
        identity = _identity(folder)
    except OSError:
        return False
    if identity in visited:
        return False
    visited.add(identity)
    return True


def _identity(folder: str) -> tuple[int, int]:
    info = os.stat(folder)
    return info.st_dev, info.st_ino


def _labels(names: list[str]) -> tuple[np.ndarray | None, list[str] | None]:
    """(N,) int64 index of each image's first-level sub-folder and the sorted folder names."""
    parts = [name.split(os.sep) for name in names]
    if any(len(part) == 1 for part in parts):
        return None, None
    classes = sorted({part[0] for part in parts})
    index = {name: i for i, name in enumerate(classes)}
    labels = np.array([index[part[0]] for part in parts], dtype=np.int64)
    return labels, [display_path(name) for name in classes]


def _examples(skipped: list[tuple[str, str]], count: int = 3) -> str:
    shown = [f"{path}: {reason}" for path, reason in skipped[:count]]
    return "; ".join(shown) + ("; ..." if len(skipped) > count else "")
