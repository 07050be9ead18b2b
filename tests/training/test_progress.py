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


def test_the_epoch_line_names_the_weight_and_the_sigma_where_they_move():
    from types import SimpleNamespace

    from vaelab.config import Config
    from vaelab.training.callbacks import epoch_line

    metrics = {"loss": 93.49, "recon": 91.42, "kl": 18.73, "elbo": 780.9, "mse": 0.0296, "beta": 0.1316,
               "sigma": 0.2565}

    def line(updates, **extra):
        trainer = SimpleNamespace(config=Config().with_updates(updates), epoch=30, step=120)
        return epoch_line(trainer, {**metrics, **extra})

    geco = line({"objective.geco_target": 0.01}, geco_lambda=7.6)
    assert geco.endswith("mse(z~q) 0.0296  beta 0.1316 (1 / lambda, lambda 7.6)  sigma 0.257 (RMS error 0.172)")
    learned = line({"objective.recon": "sigma-learned"})
    assert learned.endswith("mse(z~q) 0.0296  sigma 0.257 (RMS error 0.172)") and " beta " not in learned
    assert line({"objective.beta_schedule": "linear:100"}).endswith("mse(z~q) 0.0296  beta 0.1316")
    assert line({}).endswith("mse(z~q) 0.0296")  # a constant beta and its implied sigma: nothing moves


def test_the_terminal_says_n_a_for_what_the_autoencoder_has_not():
    from pathlib import Path
    from types import SimpleNamespace

    from vaelab.config import Config

    from vaelab.cli.train import final_line
    from vaelab.training.callbacks import epoch_line

    nan = float("nan")
    ae = {"loss": 9.5, "recon": 9.5, "kl": nan, "elbo": nan, "elbo_shared_sigma": nan, "mse": 0.0371, "sigma": nan}
    trainer = lambda kind: SimpleNamespace(config=Config().with_updates({"model.kind": kind}), epoch=3, step=120)  # noqa: E731
    line = epoch_line(trainer("ae"), ae)
    assert "nan" not in line and line.count("n/a") == 3
    assert "elbo(beta=1): shared sigma n/a, own likelihood n/a  mse(z~q) 0.0371" in line
    vae = {**ae, "kl": 12.5, "elbo": -150.25, "elbo_shared_sigma": -162.5}
    assert "elbo(beta=1): shared sigma -162.5, own likelihood -150.2" in epoch_line(trainer("vae"), vae)
    final = final_line(Path("runs/ae"), 120, ae)
    assert "nan" not in final and "ELBO(beta=1) at the shared sigma n/a, under its own n/a" in final
