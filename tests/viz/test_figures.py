"""What the run's and the comparison's figures draw (read from the matplotlib objects, not the pixels): the
autoencoder gets no KL, ELBO, ratio or cosine axes, and the ELBO panels draw the ELBO at the shared sigma."""

import io
from pathlib import Path


from vaelab.run_dir import RunSummary
from vaelab.viz.compare import plot_comparison
from vaelab.viz.diagnostics import plot_gradients
from vaelab.viz.figures import plot_losses

from factories import tiny_config


def records(kind):
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


def test_the_autoencoders_losses_have_no_kl_or_elbo_axis(tmp_path):
    ae = plot_losses(records("ae"), tmp_path / "losses.png")
    assert len(ae.axes) == 1 and labels(ae) == ["recon (train)", "recon (val)"]  # its loss is its recon term
    vae = plot_losses(records("vae"), tmp_path / "losses.png")
    assert len(vae.axes) == 4  # each of the two panels with its twin
    elbo = next(line for ax in vae.axes for line in ax.get_lines()
                if line.get_label() == "-ELBO at the shared sigma (beta = 1) (val)")
    assert list(elbo.get_ydata()) == [160.0, 170.0, 180.0]  # minus elbo_shared_sigma, not the own elbo


def test_the_autoencoders_gradient_figure_draws_the_norms_alone(tmp_path):
    ae = plot_gradients(records("ae"), tmp_path / "gradients.png")
    assert len(ae.axes) == 1 and labels(ae) == ["|grad recon|, encoder"]
    assert len(plot_gradients(records("vae"), tmp_path / "gradients.png").axes) == 3


def test_the_comparison_draws_minus_the_elbo_at_the_shared_sigma_and_leaves_the_ae_out(tmp_path):
    runs = [RunSummary(run_dir=Path(kind), config=tiny_config(model__kind=kind), records=records(kind))
            for kind in ("vae", "ae")]
    fig = plot_comparison(runs, io.BytesIO())
    recon, kl, elbo = fig.axes[:3]
    assert "shared sigma" in elbo.get_title()
    drawn = [list(line.get_ydata()) for line in elbo.get_lines() if len(line.get_ydata())]
    assert drawn == [[160.0, 170.0, 180.0]] * 2  # the VAE's -elbo_shared_sigma, train and val; nothing of the AE
    assert sum(len(line.get_ydata()) > 0 for line in kl.get_lines()) == 2  # the AE has no KL
    assert sum(len(line.get_ydata()) > 0 for line in recon.get_lines()) == 4  # ... but a recon term
    assert [t.get_text() for t in recon.get_legend().get_texts()] == ["vae", "ae"]
