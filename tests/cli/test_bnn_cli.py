"""`vaelab bnn` and `vaelab explain --bnn` as a user runs them: results, and bad input in one line with exit 2."""

import re

import pytest

from vaelab.cli import main

FAST = ["--widths", "8", "--steps", "20", "--test-samples", "5", "--set", "training.figures=false",
        "--set", "training.progress=false"]


def test_bnn_trains_and_prints_its_test_metrics(tmp_path, capsys):
    assert main(["bnn", "--data", "diabetes", "--out", str(tmp_path / "run"), "--kl-weight", "batch", *FAST]) == 0
    out = capsys.readouterr().out
    assert "step 20, test predictive NLL" in out and "RMSE" in out and "pruned units" in out
    assert "kl_weight: batch" in (tmp_path / "run" / "config.yaml").read_text()
    assert main(["bnn", "--out", str(tmp_path / "run"), "--resume", "--steps", "30"]) == 0
    assert "step 30" in capsys.readouterr().out
    (tmp_path / "run" / "report.html").unlink()
    assert main(["report", str(tmp_path / "run")]) == 0
    assert "What your KL weight means" in (tmp_path / "run" / "report.html").read_text()


def test_a_csv_classification_run(tmp_path, capsys):
    table = tmp_path / "table.csv"
    table.write_text("a,b,kind\n" + "\n".join(f"{i % 7},{i % 5},{'xy'[i % 2]}" for i in range(40)) + "\n")
    assert main(["bnn", "--data", str(table), "--target", "kind", "--task", "classification",
                 "--out", str(tmp_path / "run"), *FAST]) == 0
    assert "accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--data", "iris"], "--data 'iris' is unknown: use one of diabetes, wine, breast-cancer, digits or a .csv file"),
    (["--data", "TABLE", "--target", "nope"], "--target 'nope' is not a column of .*: its columns are a, y"),
    (["--data", "diabetes", "--kl-weight", "half"], "--kl-weight 'half' is unknown"),
    (["--data", "diabetes", "--temperature", "0"], "--temperature 0 must be a finite number > 0"),
    (["--data", "diabetes", "--prior-std", "-1"], "--prior-std -1 must be > 0"),
    (["--data", "diabetes", "--widths", "50,0"], "--widths 50,0: every hidden width must be at least 1"),
    (["--data", "diabetes", "--widths", "fifty"], "--widths 'fifty' is not a list of whole numbers"),
    (["--data", "diabetes", "--model", "map", "--kl-weight", "batch"], "--model map trains point estimates"),
    (["--data", "diabetes", "--set", "model.depth=2"], "unknown config key 'model.depth'"),
    (["--widths", "8"], "say what to train on"),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, args, message):
    table = tmp_path / "table.csv"
    table.write_text("a,y\n" + "\n".join(f"{i},{2 * i}" for i in range(20)) + "\n")
    args = [str(table) if arg == "TABLE" else arg for arg in args]
    assert main(["bnn", *args, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.search(message, err), err
    assert not (tmp_path / "run" / "config.yaml").exists()  # nothing was started


def test_an_out_holding_another_run_is_refused(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert main(["bnn", "--data", "diabetes", "--out", run, *FAST]) == 0
    assert main(["bnn", "--data", "wine", "--out", run, *FAST]) == 2
    assert "already holds files: pass --resume" in capsys.readouterr().err
    assert main(["bnn", "--out", run, "--resume", "--kl-weight", "batch"]) == 2
    assert "--resume continues the saved run; it cannot change kl_weight" in capsys.readouterr().err


def test_explain_reads_a_scheme_as_a_temperature(capsys):
    assert main(["explain", "--bnn", "--kl-weight", "batch", "--n", "320", "--batch-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "lambda = 10 on minibatch 1" in out and "implied likelihood temperature: T = lambda = 10" in out
    assert "warm posterior" in out and "common bug" in out
    assert main(["explain", "--bnn", "--kl-weight", "blundell", "--n", "100000", "--batch-size", "1"]) == 0
    out = capsys.readouterr().out  # lambda_M = pi_M N / B_M = 2^-100000 * 10^5 = 10^(-30103.0 + 5)
    assert "lambda = 50,000 on minibatch 1, 10^-30098.0 on minibatch 100000; mean over an epoch 1" in out
    assert main(["explain", "--bnn", "--kl-weight", "elbo", "--n", "100", "--temperature", "0.1"]) == 0
    assert "T = lambda = 0.1" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--bnn", "--kl-weight", "elbo"], "give its rows with --n N"),
    ([], "say what to explain: a RUN directory, --beta B for a VAE, or --bnn"),
    (["--bnn", "--n", "10", "--kl-weight", "constant:-2"], "LAMBDA must be a finite number >= 0"),
])
def test_explain_bad_input(capsys, args, message):
    assert main(["explain", *args]) == 2
    assert message in capsys.readouterr().err
