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
