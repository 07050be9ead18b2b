"""`vaelab report RUN_OR_SWEEP_DIR` as a user runs it."""

import pytest

from vaelab.cli import main

from factories import tiny_flags

TINY = [*tiny_flags(limit=300), "--steps", "20", "--batch-size", "32", "--set", "training.figures=false"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report-cli") / "run"
    assert main(["train", "--out", str(out), "--beta", "0.1", *TINY]) == 0
    return out


def test_train_writes_the_report_and_report_rewrites_it(run_dir, capsys):
    report = run_dir / "report.html"
    assert "What your beta means" in report.read_text()
    report.unlink()
    assert main(["report", str(run_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(report)
    html = report.read_text()
    assert "VAE, latent 4, summed squared error + 0.1 x KL" in html and 'id="losses"' in html


def test_a_damaged_metrics_line_is_left_out_with_a_warning(run_dir, tmp_path, capsys, caplog):
    run = tmp_path / "run"
    run.mkdir()
    for path in run_dir.iterdir():
        if path.is_file():
            (run / path.name).write_bytes(path.read_bytes())
    lines = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    lines[1] = '{"step": 3, "spl\x01\n'  # bytes written over a record
    (run / "metrics.jsonl").write_text("".join(lines))
    assert main(["report", str(run)]) == 0
    assert f"{run}/metrics.jsonl line 2 is damaged (not a JSON record with a step): left out" in caplog.text
    assert "What your beta means" in (run / "report.html").read_text()


def test_a_folder_of_runs_gets_one_page(run_dir, capsys):
    assert main(["report", str(run_dir.parent)]) == 0
    page = run_dir.parent / "report.html"
    assert capsys.readouterr().out.strip() == str(page)
    assert '<a href="run/report.html">run</a>' in page.read_text()


@pytest.mark.parametrize("name", ["missing", "empty"])
def test_a_path_that_holds_no_run_is_one_line_and_exit_code_2(tmp_path, capsys, name):
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{tmp_path / name}" in err, err
