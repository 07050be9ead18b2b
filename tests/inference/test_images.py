"""Images from the user are prepared exactly as the run's data was: a file by the data pipeline itself, and a
Pillow image or an array of the same picture to the same pixels."""

import numpy as np
import pytest
import torch
from PIL import Image

from vaelab.config import DataConfig
from vaelab.data import load_images
from vaelab.errors import UsageError
from vaelab.inference import as_images


@pytest.fixture
def pictures(tmp_path):
    """A folder of three awkward pictures: a wide colour PNG, a tall grey PNG, a transparent RGBA PNG."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "pictures"
    folder.mkdir()
    Image.fromarray(rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)).save(folder / "wide.png")
    Image.fromarray(rng.integers(0, 256, (45, 21), dtype=np.uint8)).save(folder / "tall.png")
    Image.fromarray(rng.integers(0, 256, (40, 40, 4), dtype=np.uint8)).save(folder / "clear.png")
    return folder


@pytest.mark.parametrize("channels", [3, 1])
def test_a_file_gives_the_pixels_the_runs_data_pipeline_gave(pictures, channels):
    data = load_images(DataConfig(spec=str(pictures), image_size=16, channels=channels))
    paths = [pictures / name for name in data.names]
    x = as_images(paths, (channels, 16, 16))
    assert x.dtype == torch.float32 and x.shape == (3, channels, 16, 16)
    assert np.array_equal(np.rint(x.numpy() * 255).astype(np.uint8), data.images)


def test_pillow_images_arrays_and_tensors_of_a_picture_give_its_files_pixels(pictures):
    shape = (3, 16, 16)
    for name in ("wide.png", "tall.png", "clear.png"):
        expected = as_images(pictures / name, shape)
        with Image.open(pictures / name) as image:
            pixels = np.asarray(image)  # (H, W), (H, W, 3) or (H, W, 4)
            assert torch.equal(as_images(image, shape), expected)
        assert torch.equal(as_images(pixels, shape), expected)
        if pixels.ndim == 3:  # channels first, as a tensor
            assert torch.equal(as_images(torch.from_numpy(pixels.transpose(2, 0, 1).copy()), shape), expected)
    assert torch.equal(as_images([pictures / "wide.png", pictures / "tall.png"], shape),
                       torch.cat([as_images(pictures / "wide.png", shape), as_images(pictures / "tall.png", shape)]))
    assert torch.equal(as_images((pictures / "wide.png").read_bytes(), shape), as_images(pictures / "wide.png", shape))


def test_floats_at_the_networks_shape_pass_unchanged_and_other_floats_are_rounded_to_8_bits_first():
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.random((2, 3, 16, 16), dtype=np.float32))
    assert torch.equal(as_images(x, (3, 16, 16)), x)  # a decode's output goes back in as it is
    wide = rng.random((20, 30, 3))
    assert torch.equal(as_images(wide, (3, 16, 16)), as_images(np.rint(wide * 255).astype(np.uint8), (3, 16, 16)))
    # uint8 at the network's shape skips Pillow, which would have changed nothing
    pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert torch.equal(as_images(pixels, (3, 16, 16)), as_images(Image.fromarray(pixels), (3, 16, 16)))


@pytest.mark.parametrize("images, message", [
    (np.full((16, 16), 1.5), "float images must lie in \\[0, 1\\]"),
    (np.full((16, 16), np.nan), "float images must lie in \\[0, 1\\]"),
    (np.zeros((16, 16), dtype=np.int64), "integer images must be uint8"),
    (np.zeros((1, 1, 1, 16, 16)), "2 to 4 axes"),
    (np.zeros((16, 16, 7), dtype=np.uint8), "cannot tell the channels"),
    ([], "non-empty list"),
    (3.0, "cannot use float as images"),
])
def test_images_that_cannot_be_used_are_a_one_line_usage_error(images, message):
    with pytest.raises(UsageError, match=message):
        as_images(images, (3, 16, 16))


def test_a_file_that_is_not_an_image_names_the_file_and_the_fix(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    with pytest.raises(UsageError, match="notes.txt cannot be used: not an image: .* give a JPEG, PNG"):
        as_images(notes, (1, 16, 16))
    with pytest.raises(UsageError, match="missing.png cannot be used: file not found"):
        as_images(tmp_path / "missing.png", (1, 16, 16))
