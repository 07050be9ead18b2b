"""`vaelab.load`: the trained network used as the run used it. Each method against the identity that defines it,
computed through another path (the run directory's own loader, the decoder's logits)."""

import numpy as np
import pytest
import torch
from PIL import Image

import vaelab
from vaelab.errors import UsageError
from vaelab.model import at_beta
from vaelab.run_dir import load_checkpoint, save_checkpoint
from vaelab.run_dir.model import load_model, load_network
from vaelab.training.run import train

from factories import tiny_config


def digits(n=5, seed=0):
    """n random (16, 16) uint8 pictures."""
    return np.random.default_rng(seed).integers(0, 256, (n, 16, 16), dtype=np.uint8)


def test_reconstruct_decode_and_encode_are_the_trained_networks(trained_vae):
    model = vaelab.load(trained_vae)
    network = load_model(trained_vae)  # the same checkpoint through the run directory's loader: EMA weights
    x = torch.from_numpy(digits()[:, None]).float() / 255  # (5, 1, 16, 16)
    posterior = model.encode(x)
    with torch.no_grad():
        reference = network.encode(x)
        expected = torch.sigmoid(network.decode(reference.mean))  # the decoder's pixel means
    assert torch.allclose(posterior.mean, reference.mean) and torch.allclose(posterior.logvar, reference.logvar)
    assert torch.allclose(model.reconstruct(x), expected, atol=1e-6)
    assert torch.allclose(model.decode(reference.mean.numpy()), expected, atol=1e-6)  # arrays and tensors alike
    assert torch.allclose(model.decode(reference.mean[0]), expected[:1], atol=1e-6)  # one code (Z,)
    assert model.kind == "vae" and model.beta == 1.0 and model.step == 20 and model.image_shape == (1, 16, 16)


def test_samples_are_decodes_of_prior_draws_and_a_seed_repeats_them(trained_vae):
    model = vaelab.load(trained_vae)
    images = model.sample(6, generator=torch.Generator().manual_seed(3))
    z = torch.randn(6, model.latent_dim, generator=torch.Generator().manual_seed(3))
    assert torch.equal(images, model.decode(z))
    assert images.shape == (6, 1, 16, 16) and 0 <= images.min() and images.max() <= 1
    assert not torch.equal(images, model.sample(6, generator=torch.Generator().manual_seed(4)))


def test_samples_of_a_run_with_a_vampprior_are_decodes_of_that_priors_draws(tmp_path):
    run = train(tiny_config(4, data__limit=300, model__prior="vamp", model__prior_components=3), tmp_path / "vamp")
    model = vaelab.load(run.run_dir)
    prior = load_model(run.run_dir).prior_density()  # the mixture of the pseudo-inputs' posteriors
    assert not prior.standard and len(prior.mean) == 3
    draws = prior.sample(200, torch.Generator().manual_seed(7))
    images = model.sample(200, generator=torch.Generator().manual_seed(7))
    assert torch.allclose(images, model.decode(draws), atol=1e-6)


def test_a_sampled_reconstruction_decodes_a_draw_from_the_posterior(trained_vae):
    model = vaelab.load(trained_vae)
    x = digits(3)[:, None]  # (3, 1, 16, 16): a 3-D array would be one image of 3 channels
    posterior = model.encode(x)
    eps = torch.randn(posterior.mean.shape, generator=torch.Generator().manual_seed(5))
    expected = model.decode(posterior.mean + posterior.std * eps)
    assert torch.allclose(model.reconstruct(x, sample=True, generator=torch.Generator().manual_seed(5)), expected)


def test_an_interpolation_runs_from_one_reconstruction_to_the_other_in_a_straight_line(trained_vae):
    model = vaelab.load(trained_vae)
    a, b = digits(2)
    path = model.interpolate(a, b, steps=4)
    z = model.encode([a, b]).mean
    assert path.shape == (5, 1, 16, 16)
    assert torch.allclose(path[0], model.reconstruct(a)[0], atol=1e-6)
    assert torch.allclose(path[-1], model.reconstruct(b)[0], atol=1e-6)
    assert torch.allclose(path[2], model.decode((z[0] + z[1]) / 2)[0], atol=1e-6)  # t = 1/2
    assert torch.allclose(path[1], model.decode(0.75 * z[0] + 0.25 * z[1])[0], atol=1e-6)  # t = 1/4


def test_a_loss_conditional_run_serves_each_beta_of_its_range(trained_conditional):
    model = vaelab.load(trained_conditional)
    assert model.conditional and model.beta == 1.0 and model.beta_range == (0.01, 10.0)  # objective.beta
    network, _ = load_network(trained_conditional)
    x = torch.from_numpy(digits()[:, None]).float() / 255
    low, high = model.with_beta(0.01), vaelab.load(trained_conditional, beta=10.0)
    torch.set_grad_enabled(False)  # the references below: no graph
    for served, beta in ((low, 0.01), (high, 10.0)):
        reference = at_beta(network, beta)
        assert served.beta == beta
        assert torch.allclose(served.encode(x).mean, reference.encode(x).mean)
        assert torch.allclose(served.sample(3, torch.Generator().manual_seed(0)),
                              torch.sigmoid(reference.decode(torch.randn(3, 4, generator=torch.Generator()
                                                                         .manual_seed(0)))), atol=1e-6)
    assert not torch.allclose(low.encode(x).mean, high.encode(x).mean)  # the beta reaches the network
    assert model.beta == 1.0  # with_beta left the original as it was
    torch.set_grad_enabled(True)


def test_betas_a_run_cannot_serve_are_refused_in_one_line(trained_vae, trained_conditional):
    with pytest.raises(UsageError, match="beta 20 is outside the range .* \\[0.01, 10\\]: give a beta inside it"):
        vaelab.load(trained_conditional, beta=20)
    with pytest.raises(UsageError, match="beta nan is outside the range"):
        vaelab.load(trained_conditional).with_beta(float("nan"))
    with pytest.raises(UsageError, match="was trained at beta = 1 alone: beta needs a loss-conditional run"):
        vaelab.load(trained_vae, beta=0.5)


def test_a_model_loads_and_works_without_the_runs_training_data(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i, picture in enumerate(digits(40)):
        Image.fromarray(picture).save(folder / f"{i}.png")
    run = train(tiny_config(4, data__spec=str(folder), data__limit=None, data__augment="none"), tmp_path / "run").run_dir
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    model = vaelab.load(run)
    assert model.reconstruct(list(digits(2))).shape == (2, 1, 16, 16)


def test_a_run_without_the_checkpoint_asked_for_says_what_to_do(trained_vae, tmp_path):
    run = tmp_path / "fresh"
    run.mkdir()
    (run / "config.yaml").write_text((trained_vae / "config.yaml").read_text())
    with pytest.raises(UsageError, match="has no checkpoint best.pt: train it first"):
        vaelab.load(run)
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.pt").write_bytes((trained_vae / "checkpoints" / "last.pt").read_bytes())
    with pytest.raises(UsageError, match="has no checkpoint best.pt: use --checkpoint last"):
        vaelab.load(run)
    assert vaelab.load(run, checkpoint="last").step == 20
    with pytest.raises(UsageError, match="is not a run directory"):
        vaelab.load(tmp_path / "nowhere")


def test_a_checkpoint_of_another_version_is_refused_in_one_line(trained_vae, tmp_path):
    run = tmp_path / "old"
    (run / "checkpoints").mkdir(parents=True)
    for name in ("config.yaml", "model.json"):
        (run / name).write_text((trained_vae / name).read_text())
    state = load_checkpoint(trained_vae / "checkpoints" / "best.pt")
    weights = state["ema"]["model"]
    weights["renamed.weight"] = weights.pop(next(iter(weights)))  # a layer the network of today does not have
    state["vaelab_version"] = "0.0.1"
    save_checkpoint(state, run / "checkpoints" / "best.pt")
    with pytest.raises(UsageError, match="written by vaelab 0.0.1\\) does not fit the network model.json describes "
                                         "in vaelab .* load it with the vaelab that wrote it"):
        vaelab.load(run)


def test_a_checkpoint_that_would_run_code_is_refused(trained_vae, tmp_path):
    run = tmp_path / "hostile"
    (run / "checkpoints").mkdir(parents=True)
    for name in ("config.yaml", "model.json"):
        (run / name).write_text((trained_vae / name).read_text())
    torch.save({"model": Image.new("L", (1, 1))}, run / "checkpoints" / "best.pt")  # a pickled object
    with pytest.raises(UsageError, match="is refused: it holds a reference to PIL"):
        vaelab.load(run)


def test_a_saved_grid_holds_the_images_rounded_to_8_bits(tmp_path):
    images = torch.rand(5, 3, 4, 6, generator=torch.Generator().manual_seed(0))
    path = vaelab.save_grid(images, tmp_path / "grid.png", columns=3)
    grid = np.asarray(Image.open(path))  # 2 rows of 3: (2 * 4 + 1, 3 * 6 + 2, 3)
    assert grid.shape == (9, 20, 3)
    expected = np.rint(images.numpy().transpose(0, 2, 3, 1) * 255).astype(np.uint8)  # (N, H, W, C)
    assert np.array_equal(grid[5:9, 7:13], expected[4])  # second row, second column
    assert np.array_equal(grid[0:4, 0:6], expected[0])
    assert (grid[4] == 255).all() and (grid[5:9, 14:] == 255).all()  # padding, and the empty sixth cell
    with pytest.raises(UsageError, match="give a file name ending in .png"):
        vaelab.save_grid(images, tmp_path / "grid.svg")
