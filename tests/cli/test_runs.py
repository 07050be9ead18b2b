"""`vaelab runs ls DIR` and `vaelab runs compare RUN RUN ...` as a user runs them."""

import shutil

import pytest
from PIL import Image

from vaelab.cli import main
from vaelab.numbers import format_number

from factories import tiny_flags

TINY = [*tiny_flags(limit=300), "--steps", "20", "--batch-size", "32", "--set", "training.figures=false"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """runs/b1 and runs/b01 (beta 1 and 0.1), and runs/nested/ae: a plain autoencoder one folder deeper."""
    root = tmp_path_factory.mktemp("runs-cli") / "runs"
    for name, args in (("b1", ["--beta", "1"]), ("b01", ["--beta", "0.1"]), ("nested/ae", ["--model", "ae"])):
        assert main(["train", "--out", str(root / name), *args, *TINY]) == 0
    return root


def test_ls_lists_every_run_below_a_folder_with_its_numbers(runs, capsys):
    capsys.readouterr()
    assert main(["runs", "ls", str(runs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["run", "config", "steps"]
    assert lines[0].index("ELBO, shared sigma") < lines[0].index("ELBO, own sigma")  # the like-for-like one leads
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"b01", "b1", "nested/ae"}
    assert "VAE, latent 4, summed squared error + 0.1 x KL" in rows["b01"]
    # the autoencoder has no ELBO at either sigma, no KL and no decoder sigma: n/a, never nan or 0.7071
    assert rows["nested/ae"].count("n/a") == 4 and "nan" not in rows["nested/ae"] and "0.7071" not in rows["nested/ae"]
    assert rows["b1"].count("n/a") == 0 and rows["b1"].split()[-1] == "0.7071"


def test_compare_prints_a_table_and_writes_the_figure(runs, tmp_path, capsys):
    figure = tmp_path / "out" / "compare.png"
    capsys.readouterr()
    assert main(["runs", "compare", str(runs / "b1"), str(runs / "b01"), str(runs / "nested" / "ae"),
                 "--out", str(figure)]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()[1:4]] == ["b1", "b01", "ae"]
    assert out.splitlines()[-1] == f"figure: {figure}"
    with Image.open(figure) as image:
        width, height = image.size
    assert width == 1000 and height > 500  # loss terms on top, four rows of images below


def test_runs_on_different_data_are_compared_by_their_loss_terms(runs, tmp_path, capsys):
    other = tmp_path / "small"
    assert main(["train", "--out", str(other), *TINY, "--image-size", "12"]) == 0
    capsys.readouterr()
    assert main(["runs", "compare", str(runs / "b1"), str(other), "--out", str(tmp_path / "compare.png")]) == 0
    assert "different data: the figure shows their loss terms" in capsys.readouterr().out
    with Image.open(tmp_path / "compare.png") as image:
        assert image.size[1] < 400  # the loss terms alone
    shutil.copytree(runs / "b1", tmp_path / "b1")
    assert main(["report", str(tmp_path)]) == 0  # one page for both, without common images
    assert "runs compared" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize(
    "args,message",
    [
        (["compare", "RUNS/b1"], "compare needs two runs or more"),
        (["compare", "RUNS/b1", "RUNS/nope"], "is not a run directory"),
        (["ls", "RUNS/nope"], "is not a folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(runs, capsys, args, message):
    capsys.readouterr()
    assert main(["runs", *(a.replace("RUNS", str(runs)) for a in args)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_compare_says_whether_differences_are_within_noise(runs, capsys):
    from vaelab.evaluation.evaluate import evaluate_run
    from vaelab.viz.noise import paired_difference

    a, b = (evaluate_run(runs / name, iw_samples=2, write_figures=False) for name in ("b1", "b01"))
    capsys.readouterr()
    assert main(["runs", "compare", str(runs / "b1"), str(runs / "b01"), str(runs / "b1"),
                 "--out", str(runs.parent / "noise.png")]) == 0
    out = capsys.readouterr().out
    difference, se, n = paired_difference(b, a, "mse")
    assert n == 30 and se > 0
    expected = "within noise" if abs(difference) <= 2 * se else "beyond noise"
    differences = out.split("paired differences against", 1)[1]
    row = next(line for line in differences.splitlines() if line.startswith("MSE (posterior means)"))
    # the columns: b01 - b1, then b1 - b1 (a run against itself: every difference is 0, within noise)
    assert f"{format_number(difference)} ± {format_number(se, 2)}, {expected} (n = 30)" in row
    assert row.rstrip().endswith("0 ± 0, within noise (n = 30)")
