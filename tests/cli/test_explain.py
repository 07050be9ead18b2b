"""`vaelab explain` as a user runs it."""

import pytest

from vaelab.cli import main


def test_explain_prints_the_implied_sigma(capsys):
    assert main(["explain", "--beta", "0.1", "--recon", "sse", "--image-shape", "3x64x64"]) == 0
    out = capsys.readouterr().out
    assert "sigma^2 = beta / 2 = 0.05" in out
    assert "implied decoder std: sigma = 0.22 on a 0-1 scale (57 on 0-255)" in out


def test_explain_mse_mean_shows_the_common_bug(capsys):
    assert main(["explain", "--beta", "1", "--recon", "mse-mean", "--image-shape", "3x64x64"]) == 0
    out = capsys.readouterr().out
    assert "sigma^2 = beta * D / 2 = 6144" in out and "sigma = 78 on a 0-1 scale" in out
    assert "most common bug" in " ".join(out.split())


def test_explain_defaults_to_summed_error_on_64_pixel_colour_images(capsys):
    assert main(["explain", "--beta", "2"]) == 0
    assert "images 3x64x64" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--beta", "-1"], "--beta -1 is not a finite number >= 0"),
    (["--beta", "0.1", "--image-shape", "64x64"], "--image-shape '64x64' is not CxHxW"),
])
def test_impossible_values_end_in_one_line_and_exit_code_2(capsys, args, message):
    assert main(["explain", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_unknown_recon_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["explain", "--beta", "1", "--recon", "bernoulli"])
    assert exit_.value.code == 2


def test_explain_on_data_counts_the_directions_a_linear_vae_keeps(capsys):
    from vaelab.config import DataConfig
    from vaelab.data import load_images, split_indices
    from vaelab.diagnostics.spectrum import pixel_spectrum

    assert main(["explain", "--beta", "0.1", "--data", "digits"]) == 0
    out = capsys.readouterr().out
    data = load_images(DataConfig(spec="digits"))
    train, _ = split_indices(len(data.images), 0.1, 0)
    eigenvalues, n = pixel_spectrum(data.images[train])
    kept = int((eigenvalues > 0.05).sum())  # sigma^2 = beta / 2
    assert f"  {kept} direction" in out and f"of {n} training images" in out and "sigma^2 = beta / 2 = 0.05" in out
    first = out.split("switches off at beta")[1].splitlines()[1].split()
    assert float(first[2]) == pytest.approx(2 * eigenvalues[0], rel=1e-3)  # beta_1 = 2 lambda_1


def test_explain_reads_l1_as_a_laplace_decoder_and_a_loss_as_no_likelihood(capsys):
    assert main(["explain", "--beta", "0.1", "--recon", "l1"]) == 0
    assert "implied Laplace decoder: scale b = 0.1" in capsys.readouterr().out
    assert main(["explain", "--beta", "0.01", "--recon", "watson-dft"]) == 0
    assert "no longer holds" in " ".join(capsys.readouterr().out.split())


def test_explain_refuses_the_data_spectrum_for_a_decoder_that_is_not_gaussian(capsys):
    assert main(["explain", "--beta", "0.1", "--recon", "l1", "--data", "digits"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--data reads beta against the data's spectrum under a Gaussian decoder" in err and "\n" not in err


def test_explain_reads_a_runs_own_beta_recon_and_image_shape(tmp_path, capsys):
    from vaelab.training.run import train

    from factories import tiny_config

    train(tiny_config(4, objective__beta=0.1, objective__recon="mse-mean"), tmp_path / "b01")
    capsys.readouterr()
    assert main(["explain", str(tmp_path / "b01")]) == 0
    out = capsys.readouterr().out
    # digits at 16x16 in grey: D = 256, mse-mean's sigma^2 = beta * D / 2 = 12.8
    assert "beta = 0.1 with --recon mse-mean, images 1x16x16 (D = 256 pixel values)" in out
    assert "sigma^2 = beta * D / 2 = 12.8" in out
    assert main(["explain", str(tmp_path / "b01"), "--beta", "1"]) == 2
    assert "--beta is the run's own with RUN" in capsys.readouterr().err


def test_explain_reads_geco_by_its_weight_in_force(tmp_path, capsys):
    from vaelab.run_dir import read_run
    from vaelab.training.run import train

    from factories import tiny_config

    train(tiny_config(4, objective__geco_target=0.01, objective__geco_lr=0.5), tmp_path / "geco")
    final = read_run(tmp_path / "geco").final("val")
    capsys.readouterr()
    assert main(["explain", str(tmp_path / "geco")]) == 0
    out = capsys.readouterr().out
    beta = final["beta"]
    assert f"beta = 1 / lambda = {beta:.4g}" in out and f"beta = {beta:g} with --recon sse" in out
    assert f"sigma^2 = beta / 2 = {beta / 2:.4g}" in out and "beta = 1 with" not in out
