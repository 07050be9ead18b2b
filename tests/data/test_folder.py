"""A folder of images through `load_images`: good files used, bad files skipped with a reason."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from vaelab.data import decode, load_images
from vaelab.errors import UsageError

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def build_zoo(files) -> tuple[list[str], dict[str, str]]:
    """Write good files of every kind and broken ones; return (good names, {bad name: reason})."""
    good = {
        "rgb.jpg": files.noise(),
        "upper.JPG": files.noise(seed=1),
        "dotted.Jpeg": files.noise(seed=2),
        "grey.png": Image.new("L", (20, 30), 90),
        "la.png": Image.new("LA", (16, 16), (50, 128)),
        "rgba.webp": Image.new("RGBA", (16, 16), (0, 0, 255, 200)),
        "one.bmp": Image.new("1", (16, 16), 1),
        "cmyk.tif": Image.new("CMYK", (16, 16), (0, 255, 255, 0)),
        "photo.TIFF": files.noise(seed=3),
        "album.jpg/inside.png": files.noise(seed=4),  # a folder whose name ends in .jpg
        "deep/er/still.png": files.noise(seed=5),
    }
    for name, image in good.items():
        files.save(name, image)
    files.save("anim.gif", Image.new("RGB", (16, 16), RED), save_all=True,
               append_images=[Image.new("RGB", (16, 16), GREEN)])
    files.save("sixteen.png", Image.fromarray(np.full((8, 8), 40000, dtype=np.uint16)))
    files.raw(b"caf\xe9.png", files.encode(files.noise(seed=6), "PNG"))  # a name that is not UTF-8
    files.raw("notes.txt", b"not an image extension: ignored")
    files.raw("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>')
    files.raw("deep/phone.HEIC", b"ftypheic")
    jpeg = files.encode(files.noise((64, 64)), "JPEG", quality=95)
    files.raw("truncated.jpg", jpeg[: len(jpeg) // 2])
    files.raw("empty.png", b"")
    files.raw("text.png", b"hello\n")
    files.raw(b"bad\xff.png", b"junk")
    os.symlink("nowhere.png", files.root / "broken.png")
    os.symlink("loop.png", files.root / "loop.png")
    os.symlink("..", files.root / "deep" / "up")  # a folder link loop: must not be walked forever
    os.mkfifo(files.root / "pipe.jpg")  # opening it would block
    names = sorted([*good, "anim.gif", "sixteen.png", "caf\\xe9.png"])
    bad = {
        "truncated.jpg": "truncated image file",
        "empty.png": "zero bytes",
        "text.png": "not an image: cannot identify image file",
        "bad\\xff.png": "not an image: cannot identify image file",
        "broken.png": "broken symbolic link",
        "loop.png": "symbolic link loop",
        "pipe.jpg": "not a regular file",
        "drawing.svg": "an image format vaelab does not decode (SVG): convert it to PNG or JPEG",
        "deep/phone.HEIC": "an image format vaelab does not decode (HEIC): convert it to PNG or JPEG",
    }
    return names, bad


def test_every_good_file_is_used_and_every_bad_one_skipped_with_a_reason(image_files, data_config):
    names, bad = build_zoo(image_files)
    data = load_images(data_config(image_files.root, image_size=32))
    assert sorted(data.names) == names
    assert data.images.shape == (len(names), 3, 32, 32) and data.images.dtype == np.uint8
    root = str(image_files.root)
    assert data.skipped == sorted((os.path.join(root, name), reason) for name, reason in bad.items())
    assert data.source == f"folder {root} ({len(names)} images)"
    assert data.labels is None and data.classes is None  # some images are directly in the folder
    gif = np.asarray(data.images[data.names.index("anim.gif")])
    assert (gif.transpose(1, 2, 0) == RED).all(), "the first frame"


def test_unreadable_files_are_skipped_unless_we_are_root(image_files, data_config):
    image_files.save("ok.png", image_files.noise())
    locked = image_files.save("locked.png", image_files.noise(seed=1))
    locked.chmod(0)
    data = load_images(data_config(image_files.root))
    if os.geteuid() == 0:  # root reads it anyway
        assert data.names == ["locked.png", "ok.png"]
    else:
        assert data.names == ["ok.png"] and data.skipped == [(str(locked), "permission denied")]


def test_bombs_are_skipped(image_files, data_config, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    image_files.save("small.png", image_files.noise((16, 16)))
    image_files.save("bomb.png", image_files.noise((40, 40)))
    data = load_images(data_config(image_files.root))
    assert data.names == ["small.png"]
    assert data.skipped[0][0].endswith("bomb.png") and data.skipped[0][1].startswith("too many pixels")


def test_channels_are_detected_from_the_images(image_files, data_config):
    image_files.save("a.png", Image.new("L", (16, 16), 10))
    image_files.save("b.jpg", Image.new("RGB", (16, 16), (70, 70, 70)))  # grey, stored as RGB
    grey = load_images(data_config(image_files.root))
    assert grey.channels == 1 and grey.images.shape == (2, 1, 64, 64)

    image_files.save("c.png", Image.new("RGB", (16, 16), (200, 30, 30)))
    colour = load_images(data_config(image_files.root))
    assert colour.channels == 3 and colour.images.shape == (3, 3, 64, 64)


def test_requested_channels_win(image_files, data_config):
    image_files.save("red.png", Image.new("RGB", (16, 16), RED))
    image_files.save("grey.png", Image.new("L", (16, 16), 77))
    as_grey = load_images(data_config(image_files.root, channels=1))
    assert as_grey.images.shape == (2, 1, 64, 64)
    assert (as_grey.images[as_grey.names.index("red.png")] == 76).all()  # BT.601: 0.299 * 255
    as_rgb = load_images(data_config(image_files.root, channels=3))
    assert (as_rgb.images[as_rgb.names.index("grey.png")] == 77).all()


@pytest.mark.parametrize("size", [28, 32, 64])
def test_images_are_square_at_the_requested_size(image_files, data_config, size):
    image_files.save("wide.png", image_files.noise((90, 40)))
    image_files.save("tall.jpg", image_files.noise((30, 70)))
    assert load_images(data_config(image_files.root, image_size=size)).images.shape == (2, 3, size, size)


def test_first_level_sub_folders_are_the_classes(image_files, data_config):
    for name in ("cats/a.png", "cats/b.png", "dogs/x/c.png", "birds/d.png"):
        image_files.save(name, image_files.noise())
    image_files.raw("empty/bad.png", b"")  # no usable image: not a class
    data = load_images(data_config(image_files.root))
    assert data.classes == ["birds", "cats", "dogs"]
    assert data.names == ["birds/d.png", "cats/a.png", "cats/b.png", "dogs/x/c.png"]
    assert data.labels.tolist() == [0, 1, 1, 2] and data.labels.dtype == np.int64


def test_many_files_are_decoded_in_worker_processes_with_the_same_result(image_files, data_config, monkeypatch,
                                                                         tmp_path):
    count = decode.PARALLEL_MIN_IMAGES + 6
    for i in range(count):
        image_files.save(f"{i:03d}.png", image_files.noise((24, 20), seed=i))
    image_files.raw("zz-bad.png", b"junk")
    pooled = load_images(data_config(image_files.root, image_size=16))
    monkeypatch.setattr(decode, "PARALLEL_MIN_IMAGES", 10**9)
    in_process = load_images(data_config(image_files.root, image_size=16, cache_dir=str(tmp_path / "other-cache")))
    assert len(pooled.names) == count
    assert np.array_equal(pooled.images, in_process.images)
    assert pooled.skipped == in_process.skipped == [(str(image_files.root / "zz-bad.png"),
                                                     "not an image: cannot identify image file")]


def test_a_folder_without_images_is_a_usage_error(image_files, data_config):
    image_files.raw("readme.txt", b"no images here")
    with pytest.raises(UsageError, match="no images in .*point --data at a folder of images"):
        load_images(data_config(image_files.root))


def test_a_folder_of_only_broken_images_is_a_usage_error(image_files, data_config):
    image_files.raw("a.png", b"")
    image_files.raw("b.jpg", b"junk")
    with pytest.raises(UsageError, match=r"no readable images in .*all 2 image files were skipped .*zero bytes"):
        load_images(data_config(image_files.root))


def test_a_missing_path_is_a_usage_error_naming_what_spec_may_be(tmp_path, data_config):
    with pytest.raises(UsageError, match="nope: no such folder.*folder of images, fashion-mnist, digits or hf:NAME"):
        load_images(data_config(tmp_path / "nope"))
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(UsageError, match="is a file, not a folder"):
        load_images(data_config(tmp_path / "file.png"))
