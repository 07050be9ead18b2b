"""`vaelab sample | reconstruct | encode | interpolate` on a tiny trained run: each output holds what the Python
API computes, and bad input is one line and exit code 2."""

import sys

import numpy as np
import pytest
import torch
from PIL import Image

import vaelab
from vaelab.cli import main
from vaelab.config import DataConfig
from vaelab.data import load_images


@pytest.fixture
def pictures(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i, shape in enumerate([(20, 30, 3), (16, 16), (40, 25)]):
        paths.append(tmp_path / f"picture{i}.png")
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(paths[-1])
    return paths


def pixels(path):
    return np.asarray(Image.open(path)).astype(np.float32) / 255


def test_sample_writes_the_decodes_of_the_seeded_prior_draws(trained_vae, tmp_path, capsys):
    out = tmp_path / "samples.png"
    assert main(["sample", str(trained_vae), "--n", "5", "--columns", "3", "--seed", "7", "--out", str(out)]) == 0
    assert "5 decodes of z ~ N(0, I) (seed 7)" in capsys.readouterr().out
    expected = vaelab.load(trained_vae).sample(5, generator=torch.Generator().manual_seed(7))
    grid = pixels(out)  # 2 rows of 3 at 16x16, 1 pixel between
    assert grid.shape == (33, 50)
    assert np.abs(grid[17:33, 17:33] - expected[4, 0].numpy()).max() <= 0.5 / 255  # row 2, column 2


def test_reconstruct_puts_each_input_above_its_reconstruction(trained_vae, pictures, tmp_path):
    out = tmp_path / "recon.png"
    assert main(["reconstruct", str(trained_vae), *map(str, pictures), "--columns", "2", "--out", str(out)]) == 0
    model = vaelab.load(trained_vae)
    inputs, outputs = model.prepare(pictures), model.reconstruct(pictures)
    grid = pixels(out)  # rows: inputs 0-1, their reconstructions, input 2, its reconstruction
    assert grid.shape == (4 * 17 - 1, 33)
    for row, image in ((0, inputs[0]), (1, outputs[0]), (2, inputs[2]), (3, outputs[2])):
        assert np.abs(grid[17 * row : 17 * row + 16, :16] - image[0].numpy()).max() <= 0.5 / 255
    assert np.abs(grid[17:33, 17:33] - outputs[1, 0].numpy()).max() <= 0.5 / 255


def test_encode_writes_every_images_posterior_with_names_and_labels(trained_vae, tmp_path, capsys):
    out = tmp_path / "digits.npz"
    assert main(["encode", str(trained_vae), "--data", "digits", "--out", str(out)]) == 0
    assert "mean, logvar (1797, 4), names, labels" in capsys.readouterr().out
    saved = np.load(out)  # no pickled objects
    data = load_images(DataConfig(spec="digits", image_size=16, channels=1))
    posterior = vaelab.load(trained_vae).encode(data.images[[0, 500, 1796]])
    assert np.allclose(saved["mean"][[0, 500, 1796]], posterior.mean.numpy(), atol=1e-6)
    assert np.allclose(saved["logvar"][[0, 500, 1796]], posterior.logvar.numpy(), atol=1e-6)
    assert list(saved["names"][:2]) == data.names[:2] and np.array_equal(saved["labels"], data.labels)
    assert float(saved["beta"]) == 1.0 and list(saved["classes"]) == data.classes


def test_interpolate_writes_the_decoded_path(trained_vae, pictures, tmp_path):
    out = tmp_path / "path.png"
    assert main(["interpolate", str(trained_vae), str(pictures[0]), str(pictures[1]), "--steps", "3",
                 "--out", str(out)]) == 0
    path = vaelab.load(trained_vae).interpolate(pictures[0], pictures[1], 3)
    row = pixels(out)
    assert row.shape == (16, 4 * 17 - 1)
    assert np.abs(row[:, 51:67] - path[3, 0].numpy()).max() <= 0.5 / 255


def test_a_loss_conditional_run_samples_at_the_beta_asked_for(trained_conditional, tmp_path):
    out = tmp_path / "b003.png"
    assert main(["sample", str(trained_conditional), "--beta", "0.03", "--n", "1", "--out", str(out)]) == 0
    expected = vaelab.load(trained_conditional, beta=0.03).sample(1, generator=torch.Generator().manual_seed(0))
    assert np.abs(pixels(out) - expected[0, 0].numpy()).max() <= 0.5 / 255


def bad(argv, capsys):
    """Runs the command; returns its one line on stderr after checking the exit code is 2."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("vaelab: error: ") and "Traceback" not in err
    return err


def test_bad_input_is_one_line_and_exit_code_2(trained_vae, trained_conditional, tmp_path, capsys):
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a picture")
    out = str(tmp_path / "out.png")
    assert "notes.jpg cannot be used: not an image" in bad(["reconstruct", str(trained_vae), str(notes), "--out", out],
                                                           capsys)
    assert "beta needs a loss-conditional run" in bad(["sample", str(trained_vae), "--beta", "0.1", "--out", out],
                                                      capsys)
    assert "beta 50 is outside the range" in bad(["sample", str(trained_conditional), "--beta", "50", "--out", out],
                                                 capsys)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.yaml").write_text((trained_vae / "config.yaml").read_text())
    assert "has no checkpoint best.pt: train it first" in bad(["sample", str(empty), "--out", out], capsys)
    assert "give a file name ending in .png" in bad(["sample", str(trained_vae), "--out", str(tmp_path / "s.svg")],
                                                   capsys)
    assert "ending in .npz" in bad(["encode", str(trained_vae), "--data", "digits", "--out", out], capsys)
    assert "--steps 0 must be at least 1" in bad(["interpolate", str(trained_vae), str(notes), str(notes),
                                                  "--steps", "0", "--out", out], capsys)


def test_explore_without_its_server_libraries_says_what_to_install(trained_vae, monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "vaelab.serve.server", raising=False)
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if it were not installed
    assert bad(["explore", str(trained_vae)], capsys) == ("vaelab: error: vaelab explore needs starlette and uvicorn "
                                                          "(uvicorn is missing): pip install 'vaelab[explore]'")
