"""Decoding one file: every Pillow mode to RGB, EXIF orientation, resize + centre crop, and problems."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFile

from vaelab.data import decode
from vaelab.data.decode import decode_file, has_colour, sixteen_to_eight_bits

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def decoded(path, size=16):
    result = decode_file(str(path), size)
    assert result.problem is None, result.problem
    assert result.pixels.shape == (size, size, 3) and result.pixels.dtype == np.uint8
    return result


def test_sixteen_bit_grey_is_scaled_not_clipped(image_files):
    values = np.array([[0, 257, 1000, 32896, 65535]], dtype=np.uint16)
    assert np.asarray(sixteen_to_eight_bits(Image.fromarray(values))).tolist() == [[0, 1, 4, 128, 255]]
    for level, expected in ((65535, 255), (32896, 128)):
        path = image_files.save(f"g{level}.png", Image.fromarray(np.full((8, 8), level, dtype=np.uint16)))
        assert Image.open(path).mode.startswith("I")
        result = decoded(path, size=8)
        assert (result.pixels == expected).all() and not result.has_colour


def test_cmyk_jpeg_becomes_rgb(image_files):
    path = image_files.save("cmyk.jpg", image_files.solid((0, 255, 255, 0), mode="CMYK"))  # no cyan: red
    assert Image.open(path).mode == "CMYK"
    result = decoded(path)
    assert result.has_colour
    assert np.abs(result.pixels.astype(int) - RED).max() <= 3


def test_animated_gif_gives_its_first_frame(image_files):
    frames = [image_files.solid(RED), image_files.solid(GREEN)]
    path = image_files.save("anim.gif", frames[0], save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(path).n_frames == 2
    assert (decoded(path).pixels == RED).all()


def test_palette_transparency_is_composited_on_white(image_files):
    palette = Image.new("P", (16, 16), 0)
    palette.putpalette([*RED, *BLUE] + [0] * 762)
    palette.paste(1, (8, 0, 16, 16))  # right half blue, left half index 0: red but transparent
    path = image_files.save("palette.png", palette, transparency=0)
    pixels = decoded(path).pixels
    assert (pixels[:, :6] == WHITE).all() and (pixels[:, 10:] == BLUE).all()


def test_rgba_and_la_are_composited_on_white(image_files):
    rgba = Image.new("RGBA", (16, 16), (255, 0, 0, 0))  # fully transparent red
    rgba.paste((0, 0, 0, 128), (8, 0, 16, 16))  # half-transparent black
    pixels = decoded(image_files.save("rgba.png", rgba)).pixels
    assert (pixels[:, :6] == WHITE).all()
    assert np.abs(pixels[:, 10:].astype(int) - 127).max() <= 1

    la = decoded(image_files.save("la.png", Image.new("LA", (16, 16), (0, 0))))
    assert (la.pixels == 255).all() and not la.has_colour


def test_one_bit_image_keeps_black_and_white(image_files):
    one = Image.new("1", (16, 16), 0)
    one.paste(1, (0, 0, 8, 16))
    path = image_files.save("one.png", one)
    assert Image.open(path).mode == "1"
    result = decoded(path)  # same size: no resampling
    assert not result.has_colour
    assert (result.pixels[:, :8] == 255).all() and (result.pixels[:, 8:] == 0).all()


def test_exif_orientation_is_applied(image_files):
    stored = Image.new("RGB", (40, 20), RED)  # stored landscape: left red, right blue
    stored.paste(BLUE, (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": left goes to the top
    pixels = decoded(image_files.save("rotated.jpg", stored, exif=exif, quality=95)).pixels.astype(int)
    assert np.abs(pixels[:4] - RED).max() < 40, "top rows should be red"
    assert np.abs(pixels[-4:] - BLUE).max() < 40, "bottom rows should be blue"


@pytest.mark.parametrize("size", [8, 16, 32])
def test_centre_crop_keeps_the_middle_of_a_wide_image(image_files, size):
    wide = Image.new("RGB", (96, 32), RED)  # red | green | blue thirds
    wide.paste(GREEN, (32, 0, 64, 32))
    wide.paste(BLUE, (64, 0, 96, 32))
    pixels = decoded(image_files.save("wide.png", wide), size=size).pixels.astype(int)
    assert (pixels[:, 1:-1] == GREEN).all()  # the outermost columns may blend with the neighbours
    assert np.abs(pixels.mean(axis=(0, 1)) - GREEN).max() < 8


def test_centre_crop_keeps_the_middle_of_a_tall_image(image_files):
    tall = Image.new("RGB", (20, 60), RED)
    tall.paste(GREEN, (0, 20, 20, 40))
    pixels = decoded(image_files.save("tall.png", tall), size=10).pixels
    assert (pixels[1:-1] == GREEN).all()


def test_small_images_are_upscaled(image_files):
    assert decoded(image_files.save("tiny.png", image_files.noise((4, 6))), size=32).pixels.shape == (32, 32, 3)


def test_colour_detection_tolerates_jpeg_rounding():
    grey = np.repeat(np.arange(64, dtype=np.uint8).reshape(8, 8, 1), 3, axis=2)
    assert not has_colour(grey)
    grey[0, 0] = (10, 11, 12)  # a grey photo saved as an RGB JPEG
    assert not has_colour(grey)
    grey[0, 0] = (10, 40, 10)
    assert has_colour(grey)


def test_truncated_files_are_reported_even_when_pillow_is_set_to_load_them(image_files, monkeypatch):
    data = image_files.encode(image_files.noise((64, 64)), "JPEG", quality=95)
    path = image_files.raw("cut.jpg", data[: len(data) // 2])
    assert decode_file(str(path), 16).problem == "truncated image file"
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # set by some other library
    assert decode_file(str(path), 16).problem == "truncated image file"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True, "the caller's setting is restored"


def test_problems_are_described_in_a_few_words(image_files, tmp_path):
    cases = {
        image_files.raw("text.png", b"this is not an image\n"): "not an image: cannot identify image file",
        image_files.raw("empty.png", b""): "not an image: cannot identify image file",
        tmp_path / "missing.png": "file not found (a broken symbolic link?)",
    }
    for path, reason in cases.items():
        result = decode_file(str(path), 16)
        assert (result.pixels, result.has_colour, result.problem) == (None, False, reason)


def test_the_content_decides_the_format_among_the_supported_ones(image_files):
    jpeg = image_files.raw("really-a-jpeg.png", image_files.encode(image_files.noise(), "JPEG"))
    assert decoded(jpeg).has_colour
    ppm = image_files.raw("portable.png", image_files.encode(image_files.noise(), "PPM"))
    assert decode_file(str(ppm), 16).problem == "not an image: cannot identify image file"


@pytest.mark.parametrize("pixels", [144, 400])  # over the limit: Pillow warns; over twice the limit: it raises
def test_decompression_bombs_are_refused(image_files, monkeypatch, pixels):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    side = int(pixels**0.5)
    path = image_files.save("bomb.png", image_files.noise((side, side)))
    assert decode_file(str(path), 8).problem.startswith("too many pixels")


def test_unreadable_files_are_reported(image_files, monkeypatch):
    path = image_files.save("locked.png", image_files.noise())

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(decode, "open", refuse, raising=False)  # chmod 000 does not stop root
    assert decode_file(str(path), 16).problem == "permission denied"
