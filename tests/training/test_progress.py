"""The progress bar (callbacks.ProgressBar) draws itself on a terminal only; a log file or a pipe gets
the validation lines alone, not the bar's redraws."""

from tests.training.test_resume import small_config
from vaelab.training.run import train


def test_where_stderr_is_not_a_terminal_only_the_validation_lines_are_written(tmp_path, capsys):
    # pytest's captured stderr is not a terminal
    train(small_config(40).with_updates({"training.progress": True}), tmp_path / "run")
    captured = capsys.readouterr()
    assert "\r" not in captured.err and "step/s" not in captured.err  # no bar
    lines = [line for line in captured.out.splitlines() if line.startswith("epoch ")]  # tqdm.write: stdout
    assert [line.split(":")[0] for line in lines] == ["epoch 1 step 16", "epoch 2 step 32", "epoch 2 step 40"]
    assert all("val loss" in line and "elbo(beta=1)" in line for line in lines)


def test_the_terminal_says_n_a_for_what_the_autoencoder_has_not():
    from pathlib import Path

    from vaelab.cli.train import final_line
    from vaelab.training.callbacks import validation_line

    nan = float("nan")
    ae = {"loss": 9.5, "recon": 9.5, "kl": nan, "elbo": nan, "elbo_shared_sigma": nan, "mse": 0.0371, "sigma": nan}
    line = validation_line(3, 120, ae)
    assert "nan" not in line and line.count("n/a") == 3
    assert "elbo(beta=1): shared sigma n/a, own likelihood n/a  mse(z~q) 0.0371" in line
    vae = {**ae, "kl": 12.5, "elbo": -150.25, "elbo_shared_sigma": -162.5}
    assert "elbo(beta=1): shared sigma -162.5, own likelihood -150.2" in validation_line(3, 120, vae)
    final = final_line(Path("runs/ae"), 120, ae)
    assert "nan" not in final and "ELBO(beta=1) at the shared sigma n/a, under its own n/a" in final
