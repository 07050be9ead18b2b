"""The explorer's order of the latent dimensions and its map, on codes whose answers are known in closed form."""

import copy
import math

import numpy as np
import pytest

import vaelab
from vaelab.diagnostics.latent import latent_plane
from vaelab.serve.latent_space import summarise


def kl_closed_form(mean, logvar):
    """KL[N(mean, exp(logvar)) || N(0, 1)] = 0.5 (mean^2 + exp(logvar) - 1 - logvar)."""
    return 0.5 * (mean**2 + np.exp(logvar) - 1 - logvar)


def test_dimensions_are_ordered_by_their_kl_and_the_inactive_ones_are_marked_collapsed(trained_vae):
    model = vaelab.load(trained_vae)
    n = 400
    rng = np.random.default_rng(0)
    means = np.zeros((n, 4), dtype=np.float32)
    logvars = np.zeros((n, 4), dtype=np.float32)
    means[:, 1] = rng.choice([-2.0, 2.0], n)  # moves with the image: KL 0.5 * 4 = 2 nats each
    means[:, 3] = rng.normal(0, 0.5, n)
    logvars[:, 3] = math.log(0.25)  # KL 0.5 (m^2 + 0.25 - 1 - log 0.25) on average over m ~ N(0, 0.25)
    means[:, 2] = 0.05  # a constant shift: some KL, no information (Var_x E[z|x] = 0)
    summary = summarise(model, means, logvars, "400 synthetic codes", {})
    assert [d.index for d in summary.dimensions] == [1, 3, 2, 0]
    dims = {d.index: d for d in summary.dimensions}
    for j in range(4):
        per_image = kl_closed_form(means[:, j].astype(float), logvars[:, j].astype(float))
        assert dims[j].kl == pytest.approx(per_image.mean(), rel=1e-5, abs=1e-7)
        assert dims[j].kl_se == pytest.approx(per_image.std(ddof=1) / math.sqrt(n), rel=1e-4, abs=1e-9)
    assert dims[1].kl == pytest.approx(2.0)
    assert [dims[j].collapsed for j in range(4)] == [True, False, True, False]  # Var_x E[z_j|x] <= 0.01
    assert (dims[1].low, dims[1].high) == (-3.0, 3.0)  # the prior's +- 3 sd
    assert summary.basis == "400 synthetic codes"


def test_the_autoencoders_dimensions_are_ordered_by_the_variance_of_its_codes(trained_vae):
    model = copy.copy(vaelab.load(trained_vae))
    model.kind = "ae"  # codes without a posterior variance, on a scale of their own
    means = np.random.default_rng(2).normal([0.0, 5.0, 0.0, 1.0], [1.0, 0.1, 10.0, 0.0], size=(500, 4))
    summary = summarise(model, means.astype(np.float32), None, "500 codes", {})
    assert [d.index for d in summary.dimensions] == [2, 0, 1, 3]
    dims = {d.index: d for d in summary.dimensions}
    assert dims[2].kl is None and dims[2].collapsed is None  # no KL, and no unit scale to call one collapsed
    assert dims[2].variance == pytest.approx(means[:, 2].var(), rel=1e-5)
    centre, spread = means[:, 1].mean(), means[:, 1].std()  # the codes' own mean and sd
    assert (dims[1].low, dims[1].high) == pytest.approx((centre - 3 * spread, centre + 3 * spread), rel=1e-5)
    assert (dims[3].low, dims[3].high) == pytest.approx((-2.0, 4.0), rel=1e-6)  # a constant code: +- 3 around it


def test_without_codes_eval_json_orders_them_and_without_either_the_index_order_stays(trained_vae):
    model = vaelab.load(trained_vae)
    evaluation = {"kl_per_dim": [0.1, 3.0, 0.0, 1.0], "posterior_mean_variance": [0.5, 2.0, 0.001, 1.0],
                  "images": 70}
    summary = summarise(model, None, None, "", evaluation)
    assert [d.index for d in summary.dimensions] == [1, 3, 0, 2]
    assert [d.collapsed for d in summary.dimensions] == [False, False, False, True]
    assert summary.basis.startswith("eval.json (70 images")
    bare = summarise(model, None, None, "", {})
    assert [d.index for d in bare.dimensions] == [0, 1, 2, 3] and bare.dimensions[0].collapsed is None


def test_the_map_plane_gives_back_codes_that_lie_in_a_plane():
    rng = np.random.default_rng(1)
    basis = np.linalg.qr(rng.normal(size=(6, 2)))[0].T  # two orthonormal directions in 6 dimensions
    centre = rng.normal(size=6)
    codes = centre + rng.normal(size=(50, 2)) * [3.0, 1.0] @ basis  # (50, 6), exactly in the plane
    plane = latent_plane(codes)
    back = plane.mean + plane.points @ plane.components  # what a click on each point decodes
    assert np.allclose(back, codes, atol=1e-10)
    assert plane.explained.sum() == pytest.approx(1.0)
    assert plane.explained[0] > plane.explained[1]
