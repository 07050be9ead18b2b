"""The explorer's answers without HTTP: decodes are the model's, uploads are prepared as files are, and a run
whose data is gone still serves everything but the map."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

import vaelab
from vaelab.errors import UsageError
from vaelab.run_dir import load_checkpoint, save_checkpoint
from vaelab.serve.explorer import Explorer


def png_pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data))).astype(np.float32) / 255


@pytest.fixture(scope="module")
def explorer(trained_conditional):
    return Explorer(vaelab.load(trained_conditional), max_upload_bytes=20_000)


def picture_bytes(size=(30, 20), seed=0) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_decode_is_the_models_decode_at_the_beta_asked_for(explorer):
    z = [0.5, -1.0, 2.0, 0.25]
    for beta in (None, 0.03, 10.0):
        expected = explorer.served(beta).decode(z)[0, 0].numpy()
        assert np.abs(png_pixels(explorer.decode(z, beta)) - expected).max() <= 0.5 / 255
    assert not np.array_equal(png_pixels(explorer.decode(z, 0.03)), png_pixels(explorer.decode(z, 10.0)))
    with pytest.raises(UsageError, match="a code needs 4 finite numbers, not 3"):
        explorer.decode([0.0, 0.0, 0.0], None)
    with pytest.raises(UsageError, match="outside the range"):
        explorer.decode(z, 11.0)


def test_an_upload_is_prepared_as_a_file_and_encoded_at_each_beta(explorer, tmp_path):
    data = picture_bytes()
    chosen = explorer.add_upload(data, "mine.png")
    (tmp_path / "mine.png").write_bytes(data)
    model = explorer.model
    assert np.abs(png_pixels(explorer.image_png(chosen["id"])) - model.prepare(tmp_path / "mine.png")[0, 0].numpy()
                  ).max() <= 0.5 / 255
    for beta in (0.01, 3.0):
        code = explorer.encode(chosen["id"], beta)
        posterior = model.with_beta(beta).encode(tmp_path / "mine.png")
        assert np.allclose(code["mean"], posterior.mean[0].numpy(), atol=1e-6)
        assert code["kl"] == pytest.approx(float(posterior.kl()[0]), rel=1e-5)


def test_uploads_that_are_not_images_or_too_large_are_refused_with_the_reason(explorer):
    with pytest.raises(UsageError, match="notes.txt cannot be used: not an image"):
        explorer.add_upload(b"just some words", "notes.txt")
    big = picture_bytes((200, 200))  # a real image, over the 20,000-byte limit: refused, not decoded
    assert len(big) > 20_000
    with pytest.raises(UsageError, match="big.png is larger than the upload limit of 20,000 bytes"):
        explorer.add_upload(big, "big.png")
    with pytest.raises(UsageError, match="no image 'nope' here"):
        explorer.encode("nope", None)


def test_the_map_is_the_validation_codes_and_a_click_on_a_point_decodes_its_projection(explorer):
    info = explorer.info()
    assert info["data_problem"] is None and info["basis"].endswith("validation images at beta = 1")
    plane = explorer.map.plane
    assert len(plane.points) == 30  # the validation split of 300 digits
    first = info["images"][0]["id"]
    z = np.array(explorer.encode(first, None)["mean"])  # the first validation image's code
    u, v = (z - plane.mean) @ plane.components.T
    index = info["map"]["names"].index(info["images"][0]["name"])
    assert np.allclose(plane.points[index], [u, v], atol=1e-5)
    assert info["beta_range"] == [0.01, 10.0] and [d["index"] for d in info["dimensions"]] != []


def test_without_the_runs_data_everything_but_the_map_works(trained_vae, tmp_path):
    run = tmp_path / "moved"  # a run trained on a folder that is gone
    (run / "checkpoints").mkdir(parents=True)
    for name in ("config.yaml", "model.json"):
        (run / name).write_text((trained_vae / name).read_text())
    state = load_checkpoint(trained_vae / "checkpoints" / "best.pt")
    state["config"]["data"]["spec"] = str(tmp_path / "gone")
    save_checkpoint(state, run / "checkpoints" / "best.pt")
    explorer = Explorer(vaelab.load(run), max_upload_bytes=10**6)
    info = explorer.info()
    assert info["map"] is None and "gone: no such folder" in info["data_problem"]
    assert info["basis"] == "no validation images and no eval.json" and info["images"] == []
    assert png_pixels(explorer.decode([0.0] * 4, None)).shape == (16, 16)
    chosen = explorer.add_upload(picture_bytes(), "mine.png")
    assert len(explorer.encode(chosen["id"], None)["mean"]) == 4
    with pytest.raises(UsageError, match="beta needs a loss-conditional run"):
        explorer.decode([0.0] * 4, 0.5)
    assert torch.is_tensor(explorer.image(chosen["id"]))
