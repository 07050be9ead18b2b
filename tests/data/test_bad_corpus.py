"""End to end: `vaelab train` on a folder full of junk next to good pictures.

Every good or merely awkward image is trained on, every bad file is listed in RUN/skipped.txt with
its reason, and the run finishes (exit code 0). The unit tests of each case are in test_decode.py
and test_folder.py; this is the whole path: listing, decoding, the cache, the run directory.
"""

from __future__ import annotations

import builtins
import logging
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from vaelab.cli import main
from vaelab.config import Config
from vaelab.data import decode, folder, load_images
from vaelab.run_dir import read_metrics

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
NOT_AN_IMAGE = "not an image: cannot identify image file"
BOMB = f"too many pixels: over Pillow's decompression bomb limit of {Image.MAX_IMAGE_PIXELS}"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """length, type, data, CRC-32 of type + data (PNG spec, section 5.3)."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height RGB pixels, with a few bytes of data: cheap to write."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, truecolour
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + png_chunk(b"IEND", b""))


def jpeg_claiming(jpeg: bytes, width: int, height: int) -> bytes:
    """`jpeg` with its baseline frame header (SOF0: FF C0, length, precision, height, width) rewritten."""
    frame = bytearray(jpeg)
    start = frame.index(b"\xff\xc0")
    struct.pack_into(">HH", frame, start + 5, height, width)
    return bytes(frame)


def tiff_with_compression(tiff: bytes, code: int) -> bytes:
    """A little-endian TIFF with its Compression tag (259) set to `code`."""
    data = bytearray(tiff)
    assert data[:2] == b"II"
    ifd = struct.unpack_from("<I", data, 4)[0]
    for entry in range(struct.unpack_from("<H", data, ifd)[0]):
        offset = ifd + 2 + 12 * entry
        if struct.unpack_from("<H", data, offset)[0] == 259:
            struct.pack_into("<H", data, offset + 8, code)
            return bytes(data)
    raise AssertionError("no Compression tag")


def build_corpus(files) -> tuple[list[str], dict[str, str]]:
    """Write the corpus; return (names of the images that must be used, {bad file: reason})."""
    noise = files.noise
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    palette = Image.new("P", (16, 16), 0)
    palette.putpalette([*RED, *BLUE] + [0] * 762)
    palette.paste(1, (8, 0, 16, 16))
    jpeg = files.encode(noise((64, 64)), "JPEG", quality=95)
    png = files.encode(noise((32, 32), seed=1), "PNG")
    good = {
        "photo.jpg": lambda: files.save("photo.jpg", noise((40, 30), seed=2)),
        "UPPER.PNG": lambda: files.save("UPPER.PNG", noise(seed=3), format="PNG"),
        ".hidden.png": lambda: files.save(".hidden.png", noise(seed=4)),
        "sixteen-bit.png": lambda: files.save("sixteen-bit.png", Image.fromarray(np.full((8, 8), 40000, np.uint16))),
        "cmyk.jpg": lambda: files.save("cmyk.jpg", Image.new("CMYK", (16, 16), (0, 255, 255, 0))),
        "animated.gif": lambda: files.save("animated.gif", Image.new("RGB", (16, 16), RED), save_all=True,
                                           append_images=[Image.new("RGB", (16, 16), GREEN)], duration=50),
        "palette-transparent.png": lambda: files.save("palette-transparent.png", palette, transparency=0),
        "exif-rotated.jpg": lambda: files.save("exif-rotated.jpg", noise((40, 20), seed=5), exif=exif),
        "garbage-appended.jpg": lambda: files.raw("garbage-appended.jpg", jpeg + bytes(range(256)) * 2),
        "one-pixel.png": lambda: files.save("one-pixel.png", Image.new("RGB", (1, 1), BLUE)),
        "bitmap.bmp": lambda: files.save("bitmap.bmp", noise(seed=6)),
        "modern.webp": lambda: files.save("modern.webp", noise(seed=7)),
        "lzw.tiff": lambda: files.save("lzw.tiff", noise(seed=8), compression="tiff_lzw"),
        "png-named.jpg": lambda: files.raw("png-named.jpg", png),
        "caf\\xe9.png": lambda: files.raw(b"caf\xe9.png", png),  # a name that is not UTF-8
        "tab\\x09name.png": lambda: files.raw("tab\tname.png", png),  # a control character in the name
        "album.jpg/inside.png": lambda: files.save("album.jpg/inside.png", noise(seed=9)),  # a folder named .jpg
        "sub/nested.png": lambda: files.save("sub/nested.png", noise(seed=10)),
        "link-to-photo.png": lambda: os.symlink("photo.jpg", files.root / "link-to-photo.png"),
    }
    for write in good.values():
        write()
    tiff = files.encode(noise((16, 16), seed=11), "TIFF")
    gif = files.encode(noise((32, 32), seed=12), "GIF")
    webp = files.encode(noise((32, 32), seed=13), "WEBP")
    files.raw("truncated.jpg", jpeg[: len(jpeg) // 2])
    files.raw("truncated.png", png[: len(png) // 2])
    files.raw("new\nline.gif", gif[: len(gif) - 40])
    files.raw("truncated.webp", webp[: len(webp) // 2])
    files.raw("zero-bytes.jpg", b"")
    files.raw("text.png", b"this is a text file\n")
    files.raw("page.jpg", b"<!DOCTYPE html><html><body>404 Not Found</body></html>")
    files.raw("postscript.jpg", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")  # never Ghostscript
    files.raw("portable-pixmap.png", files.encode(noise(seed=14), "PPM"))  # not one of the decoded formats
    files.raw(b"bad\xff name.png", b"junk")
    files.raw("bomb.png", png_claiming(100_000, 100_000))
    files.raw("bomb.jpg", jpeg_claiming(jpeg, 65_000, 65_000))
    files.raw("zero-size.png", png_claiming(0, 0))
    files.raw("jpeg2000-compressed.tif", tiff_with_compression(tiff, 34712))  # no decoder for it
    broken_crc = bytearray(png)
    broken_crc[png.index(b"IDAT") + 6] ^= 0xFF
    files.raw("bad-crc.png", bytes(broken_crc))
    files.raw("locked.png", png).chmod(0)
    os.symlink("nowhere.png", files.root / "broken-link.png")
    os.symlink("loop.png", files.root / "loop.png")
    os.symlink("..", files.root / "sub" / "up")  # a folder loop: walked once
    os.mkfifo(files.root / "fifo.jpg")  # opening it would block
    (files.root / "empty-folder.jpg").mkdir()  # a folder, not a file: neither used nor listed
    bad = {
        "truncated.jpg": "truncated image file",
        "truncated.png": "truncated image file",
        "new\\x0aline.gif": "truncated image file",
        "truncated.webp": "unreadable image: could not create decoder object",
        "zero-bytes.jpg": "zero bytes",
        "text.png": NOT_AN_IMAGE,
        "page.jpg": NOT_AN_IMAGE,
        "postscript.jpg": NOT_AN_IMAGE,
        "portable-pixmap.png": NOT_AN_IMAGE,
        "bad\\xff name.png": NOT_AN_IMAGE,
        "bomb.png": BOMB,
        "bomb.jpg": BOMB,
        "zero-size.png": NOT_AN_IMAGE,
        "jpeg2000-compressed.tif": NOT_AN_IMAGE,
        "bad-crc.png": "unreadable image: broken data stream when reading image file",
        "locked.png": "permission denied",
        "broken-link.png": "broken symbolic link",
        "loop.png": "symbolic link loop",
        "fifo.jpg": "not a regular file",
    }
    return sorted(good), bad


def test_a_folder_of_bad_files_trains_on_every_good_image_and_lists_every_bad_one(image_files, tmp_path, monkeypatch,
                                                                                  caplog):
    monkeypatch.setenv("VAELAB_CACHE", str(tmp_path / "cache"))
    caplog.set_level(logging.INFO, logger="vaelab")
    good, bad = build_corpus(image_files)
    assert len(bad) >= 15

    # root reads a chmod 000 file anyway: refuse it as the kernel would refuse anyone else
    locked = os.fsencode(image_files.root / "locked.png")

    def open_as_a_user(path, *args, **kwargs):
        if os.fsencode(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(decode, "open", open_as_a_user, raising=False)
    run = tmp_path / "run"
    code = main(["train", "--data", str(image_files.root), "--out", str(run), "--epochs", "1", "--image-size", "16",
                 "--latent-dim", "2", "--width", "4", "--batch-size", "4", "--set", "training.progress=false",
                 "--set", "training.figures=false"])
    log = caplog.text
    assert code == 0, log

    # every bad file once, with its reason, one line each
    root = str(image_files.root)
    lines = (run / "skipped.txt").read_text(encoding="utf-8").splitlines()
    listed = dict(line.split("\t") for line in lines)
    assert len(listed) == len(lines)
    assert {os.path.relpath(path, root): reason for path, reason in listed.items()} == bad
    assert f"skipped {len(bad)} files that could not be used as images" in log

    # every good image in the cache the run trained on, and nothing else
    monkeypatch.setattr(folder, "decode_folder", lambda *args: pytest.fail("decoded again, not read from the cache"))
    data = load_images(Config.load(run / "config.yaml").data)
    assert sorted(data.names) == good
    assert data.images.shape == (len(good), 3, 16, 16)
    assert (np.asarray(data.images[data.names.index("animated.gif")]).transpose(1, 2, 0) == RED).all()
    assert (np.asarray(data.images[data.names.index("one-pixel.png")]).transpose(1, 2, 0) == BLUE).all()
    assert f"{len(good) - 2} train / 2 val images" in log  # 10% of 19, rounded

    val = [record for record in read_metrics(run / "metrics.jsonl") if record["split"] == "val"]
    assert len(val) == 1 and np.isfinite(val[0]["loss"])
    assert (run / "checkpoints" / "last.pt").exists()
