"""The run's and the comparison's figures read back from what they draw: which values each panel holds, and where
the legends and titles sit against the data (display pixels, after the figure is drawn; never pixel colours). The
autoencoder gets no KL, ELBO, ratio or cosine curves, and the ELBO panels draw the ELBO at the shared sigma."""

import io
import math
from pathlib import Path

import numpy as np
import pytest

from vaelab.config import Config
from vaelab.run_dir import RunSummary
from vaelab.viz.compare import plot_comparison
from vaelab.viz.diagnostics import plot_gradients
from vaelab.viz.figures import plot_losses, plot_reconstructions, plot_samples

from drawn import box, drawn_figure, inside, lines, overlap
from factories import tiny_config


def records(betas, *, sigma=0.3, mse=0.01, geco=False):
    """Train and val records of a run whose KL weight follows `betas` (one pair of records per value)."""
    rows = []
    for i, beta in enumerate(betas):
        for split in ("train", "val"):
            row = {"step": 10 * (i + 1), "split": split, "loss": 100.0 - i, "recon": 90.0 - i, "kl": 5.0 + i,
                   "beta": beta, "elbo": -500.0 + i, "mse": mse * (1 - 0.05 * i), "sigma": sigma * (1 - 0.1 * i)}
            if geco:
                row["geco_lambda"] = 1 / beta
            rows.append(row)
    return rows


def geco_config(**objective):
    return Config().with_updates({"objective.geco_target": 0.01, **{f"objective.{k}": v for k, v in objective.items()}})


def test_losses_draws_each_quantity_on_an_axis_of_its_own_and_no_legend_on_the_data(tmp_path):
    rows = records([0.5, 0.2, 0.1])
    fig = drawn_figure(plot_losses(rows, tmp_path / "losses.png", title="a run",
                                   config=Config().with_updates({"objective.beta_schedule": "linear:30"})))
    panels = {}
    for ax in fig.axes:
        series = {line.get_gid().split("/")[0] for line in ax.get_lines() if line.get_gid()}
        for name in series:
            assert name not in panels, f"{name} drawn twice"
            panels[name] = ax
    assert set(panels) == {"recon", "kl", "loss", "elbo", "beta", "sigma", "rms"}
    assert len({id(ax) for name, ax in panels.items() if name not in ("sigma", "rms")}) == 5  # no twin axes
    # the values drawn are the records': beta(t), sigma, sqrt(MSE) beside it, -ELBO
    (val_beta,) = lines(fig, "beta/val")
    assert list(val_beta.get_ydata()) == [0.5, 0.2, 0.1]
    assert "linear:30" in panels["beta"].get_title()
    (rms,) = lines(fig, "rms/val")
    assert list(rms.get_ydata()) == pytest.approx([math.sqrt(r["mse"]) for r in rows if r["split"] == "val"])
    (elbo,) = lines(fig, "elbo/train")
    assert list(elbo.get_ydata()) == [500.0, 499.0, 498.0]
    # one legend, for the whole figure, clear of every panel
    (legend,) = fig.legends
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels[:2] == ["training average", "validation pass"] and "decoder sigma" in labels
    for ax in fig.axes:
        assert not overlap(box(legend), box(ax)), ax.get_title()
        assert ax.get_legend() is None
    assert inside(box(legend), fig.bbox) and inside(box(fig._suptitle), fig.bbox)


def test_geco_draws_lambda_as_a_second_scale_of_beta_and_its_bound_when_pinned(tmp_path):
    config = geco_config(geco_lambda_max=100.0)
    rows = records([0.5, 0.05, 0.01], geco=True)  # 1 / lambda came down to 1 / lambda_max
    fig = drawn_figure(plot_losses(rows, tmp_path / "losses.png", config=config))
    beta_axis = lines(fig, "beta/val")[0].axes
    assert "1 / lambda (GECO)" in beta_axis.get_title() and beta_axis.get_yscale() == "log"
    (second,) = beta_axis.child_axes
    assert second.get_ylabel() == "lambda"
    forward = second._functions[0]
    assert list(forward([0.5, 0.01])) == [2.0, 100.0]  # the right-hand scale reads the same curve as lambda
    assert [line.get_ydata()[0] for line in beta_axis.get_lines() if line.get_gid() is None] == [0.01]
    (target,) = lines(fig, "geco_target")
    assert target.get_ydata()[0] == pytest.approx(0.1)  # kappa = 0.01 as an RMS error
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert "bound 1 / geco_lambda_max: target out of reach" in labels
    # lambda within its bounds: no bound line
    free = drawn_figure(plot_losses(records([0.5, 0.2], geco=True), tmp_path / "free.png", config=config))
    assert [line for line in lines(free, "beta/val")[0].axes.get_lines() if line.get_gid() is None] == []


def test_a_long_title_is_wrapped_inside_the_figure(tmp_path):
    title = "VAE, latent 128, summed squared error + KL under GECO (MSE <= 0.01) on a folder of paintings — step 20000"
    fig = drawn_figure(plot_losses(records([1.0]), tmp_path / "losses.png", title=title * 2))
    assert "\n" in fig._suptitle.get_text() and inside(box(fig._suptitle), fig.bbox)


def test_reconstructions_are_drawn_five_a_row_at_a_readable_size(tmp_path):
    rng = np.random.default_rng(0)
    inputs = rng.random((10, 3, 32, 32)).astype(np.float32)
    rows = [("reconstruction", inputs * 0.5), ("training input", inputs[::-1]), ("its reconstruction", inputs * 0.7)]
    fig = drawn_figure(plot_reconstructions(inputs, rows, tmp_path / "reconstructions.png", title="t"))
    assert len(fig.axes) == 8  # two blocks of the four rows
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels[0] == "input\n1-5" and labels[5] == "reconstruction\n6-10"
    for ax in fig.axes:
        (picture,) = ax.get_images()
        assert picture.get_array().shape[1] == 5 * 33 - 1  # five 32-pixel images, 1 pixel apart
        assert box(ax).width / 5 >= 120  # display pixels per image, at the size the report shows the PNG
    # the second block's inputs are images 6 to 10, as they are
    np.testing.assert_allclose(fig.axes[4].get_images()[0].get_array()[:, :32], inputs[5].transpose(1, 2, 0))
    few = drawn_figure(plot_reconstructions(inputs[:3], [("reconstruction", inputs[:3])], tmp_path / "few.png"))
    assert [ax.get_ylabel() for ax in few.axes] == ["input", "reconstruction"]


LONG = ("VAE, latent 128, summed squared error + 1000 x |KL - C|, C rising from 0 to 25 nats over 100000 steps "
        "on a folder of paintings — step 20000")


def test_long_titles_are_wrapped_inside_every_figure(tmp_path):
    from vaelab.viz.diagnostics import plot_gradients, plot_traversals
    from vaelab.viz.sweep import plot_metrics_vs_beta, plot_rate_distortion

    images = np.random.default_rng(0).random((8, 1, 8, 8))
    row = {"run": "beta=1", "beta": 1.0, "rate": 5.0, "distortion": 10.0, "elbo": -20.0, "mse": 0.01,
           "active_units": 3, "pixels": 64}
    figures = [
        plot_samples(images, tmp_path / "s.png", title=LONG),
        plot_traversals(images.reshape(2, 4, 1, 8, 8), [0, 1], np.zeros((2, 4)), None, tmp_path / "t.png", LONG),
        plot_gradients([], tmp_path / "g.png", title=LONG),
        plot_rate_distortion([row], tmp_path / "rd.png", recon="sse", title=LONG),
        plot_metrics_vs_beta([row], tmp_path / "mb.png", title=LONG),
    ]
    for fig in figures:
        drawn_figure(fig)
        titles = [fig._suptitle] if fig._suptitle is not None else []
        titles += [ax.title for ax in fig.axes if ax.title.get_text()]
        assert titles
        for title in titles:
            assert inside(box(title), fig.bbox), title.get_text()


def kind_records(kind):
    """Train and val records of three steps, as a VAE or the AE (nulls read back as nan) logs them."""
    nan = float("nan")
    found = []
    for step in (10, 20, 30):
        vae = kind == "vae"
        terms = {"loss": 30.0 - step / 10, "recon": 20.0 - step / 10, "mse": 0.05, "beta": 1.0 if vae else 0.0,
                 "kl": 10.0 + step / 10 if vae else nan, "elbo": -160.0 - step if vae else nan,
                 "elbo_shared_sigma": -150.0 - step if vae else nan, "sigma": 0.7071 if vae else nan}
        found += [{"step": step, "split": split, **terms} for split in ("train", "val")]
        found.append({"step": step, "split": "train", "grad_recon_norm/encoder": 1.0,
                      "grad_kl_norm/encoder": 0.9 if vae else 0.0, "grad_ratio/encoder": 0.9 if vae else 0.0,
                      "grad_cosine/encoder": -0.95 if vae else nan})
    return found


def labels(fig):
    return [line.get_label() for ax in fig.axes for line in ax.get_lines()]


def test_the_autoencoders_losses_draw_no_kl_or_elbo_and_the_vaes_draw_both_elbos(tmp_path):
    ae = plot_losses(kind_records("ae"), tmp_path / "losses.png")
    drawn = {line.get_gid().split("/")[0] for ax in ae.axes for line in ax.get_lines() if line.get_gid()}
    assert "recon" in drawn and not drawn & {"kl", "elbo", "elbo_shared_sigma", "beta"}
    said = [text.get_text() for ax in ae.axes for text in ax.texts]
    assert "no KL term: a point-mass posterior" in said and "no ELBO: a point mass has no density" in said
    vae = plot_losses(kind_records("vae"), tmp_path / "losses.png")
    (shared,) = lines(vae, "elbo_shared_sigma/val")
    assert list(shared.get_ydata()) == [160.0, 170.0, 180.0]  # minus elbo_shared_sigma
    (own,) = lines(vae, "elbo/val")
    assert list(own.get_ydata()) == [170.0, 180.0, 190.0] and own.axes is shared.axes  # the run's own, beside it


def test_the_autoencoders_gradient_figure_draws_the_norms_alone(tmp_path):
    ae = plot_gradients(kind_records("ae"), tmp_path / "gradients.png")
    assert len(ae.axes) == 1 and labels(ae) == ["|grad recon|, encoder"]
    assert len(plot_gradients(kind_records("vae"), tmp_path / "gradients.png").axes) == 3


def test_the_comparison_draws_minus_the_elbo_at_the_shared_sigma_and_leaves_the_ae_out(tmp_path):
    runs = [RunSummary(run_dir=Path(kind), config=tiny_config(model__kind=kind), records=kind_records(kind))
            for kind in ("vae", "ae")]
    fig = plot_comparison(runs, io.BytesIO())
    recon, kl, elbo = fig.axes[:3]
    assert "shared sigma" in elbo.get_title()
    drawn = [list(line.get_ydata()) for line in elbo.get_lines() if len(line.get_ydata())]
    assert drawn == [[160.0, 170.0, 180.0]] * 2  # the VAE's -elbo_shared_sigma, train and val; nothing of the AE
    assert sum(len(line.get_ydata()) > 0 for line in kl.get_lines()) == 2  # the AE has no KL
    assert sum(len(line.get_ydata()) > 0 for line in recon.get_lines()) == 4  # ... but a recon term
    assert [t.get_text() for t in recon.get_legend().get_texts()] == ["vae", "ae"]
