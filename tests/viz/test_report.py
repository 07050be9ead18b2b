"""The HTML reports: which sections appear with which data, the numbers they show, and that they are
self-contained. (test_browser.py opens them in Chromium.)"""

import base64
import csv
import json
import logging
import re
import shutil
from html import unescape

import pytest

from vaelab.errors import UsageError
from vaelab.numbers import format_number
from vaelab.run_dir import read_run
from vaelab.training import run as run_module
from vaelab.viz import report as report_module
from vaelab.viz.report import write_report

RUN_SECTIONS = ["run", "questions", "beta", "losses", "reconstructions", "samples", "walks", "gradients",
                "latent-usage", "aggregate", "likelihood", "linear"]


def section_ids(html: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', html)


def section_html(html: str, id: str) -> str:
    return html.split(f'<section id="{id}">', 1)[1].split("</section>", 1)[0]


def section(html: str, id: str) -> str:
    """The text of one section, tags stripped."""
    body = section_html(html, id).replace("<wbr>", "")
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def assert_self_contained(html: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "@import" not in html and "url(" not in html
    for source in re.findall(r'<img src="([^"]+)"', html):
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Content-Security-Policy" in html


def test_a_run_report_shows_every_section_its_data_fills(story):
    run_dir = story / "vae-beta0.1"
    path = write_report(run_dir)
    html = path.read_text()
    assert path == run_dir / "report.html"
    assert_self_contained(html)
    ids = section_ids(html)
    assert [i for i in ids if i != "warnings"] == RUN_SECTIONS  # warnings appear when there is one
    for id in ids:  # the table of contents lists every section, in order
        assert f'href="#{id}"' in html
    assert "VAE, latent 4, summed squared error + 0.1 x KL" in section(html, "run")
    evaluation = json.loads((run_dir / "eval.json").read_text())
    linear = section(html, "linear")  # the network against PCA of its latent size, with the numbers of eval.json
    assert f"PCA-{evaluation['pca_components']}, the linear autoencoder with the same latent size" in linear
    assert f"{format_number(evaluation['psnr'], 3)} against {format_number(evaluation['pca_psnr'], 3)} dB" in linear
    # what beta = 0.1 means: sigma^2 = beta / 2, from vaelab.objectives.explain
    beta = section(html, "beta")
    assert "sigma = 0.22 on a 0-1 scale (57 on 0-255)" in beta and "tempers the likelihood" in beta
    assert "docs/kl-weighting.md" in section(html, "questions")
    # the final values table holds metrics.jsonl's last validation record
    val = read_run(run_dir).final("val")
    losses = section(html, "losses")
    row = losses.split(" val ", 1)[1].split()
    assert [float(v.replace(",", "")) for v in row[:7]] == pytest.approx(
        [val["elbo_shared_sigma"], val["recon"], val["kl"], val["beta"], val["elbo"], val["mse"], val["sigma"]],
        rel=1e-3)
    assert f"at step {val['step']} (the moving average of the weights" in losses
    # eval.json's numbers, each in its section
    evaluation = json.loads((run_dir / "eval.json").read_text())
    assert f"active units {evaluation['active_units']} " in section(html, "latent-usage")
    likelihood = section(html, "likelihood")
    for label, key in (("IWAE bound", "iwae"), ("bits / dim", "bits_per_dim"), ("PSNR", "psnr"), ("MSE", "mse")):
        value = float(likelihood.split(f" {label} ", 1)[1].split()[0])
        assert value == pytest.approx(evaluation[key], rel=1e-3), label
    assert "KL of the moment-matched q(z) to N(0, I)" in section(html, "aggregate")
    gradients = section(html, "gradients")
    assert "|grad beta KL| / |grad recon|" in gradients and "Adam: ratio" in gradients
    assert "mean_head" in gradients and "logvar_head" in gradients


def test_the_autoencoder_report_says_there_is_no_beta_and_no_elbo(story):
    html = write_report(story / "ae").read_text()
    assert "plain autoencoder has no KL term" in section(html, "beta")
    final = section(html, "losses").split(" val ", 1)[1].split()
    # a point-mass posterior: no ELBO at any sigma, no KL, and no decoder sigma (not the 0.7071 of beta = 1)
    assert [final[i] for i in (0, 2, 4, 6)] == ["n/a"] * 4
    assert not {"walks", "latent-usage", "aggregate", "likelihood"} & set(section_ids(html))  # not evaluated


def test_warnings_list_skipped_files_and_training_events_escaped(story, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(story / "vae-beta1", run_dir)
    (run_dir / "skipped.txt").write_text("paintings/<script>alert(1)</script>.jpg\tcannot identify image file\n")
    with (run_dir / "metrics.jsonl").open("a") as handle:
        handle.write(json.dumps({"step": 21, "epoch": 2, "split": "train", "skipped_steps": 3}) + "\n")
    html = write_report(run_dir).read_text()
    warnings = section(html, "warnings")
    assert "1 input file could not be read" in warnings
    assert "3 steps skipped (non-finite loss or gradient); the first logged at step 21" in warnings
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<li class="warn"><a href="#warnings">' in html


def test_a_number_the_model_cannot_have_shows_the_reason(story, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(story / "vae-beta1", run_dir)
    reason = "the autoencoder's posterior is a point mass: it has no density"
    (run_dir / "eval.json").write_text(json.dumps({"elbo": None, "iwae": -180.5, "not_applicable": {"elbo": reason},
                                                   "future_metric": 0.5}))
    likelihood = section(write_report(run_dir).read_text(), "likelihood")
    assert f"ELBO, own likelihood n/a {reason}" in likelihood and "IWAE bound -180.5" in likelihood
    assert "future_metric 0.5" in likelihood  # a number this page does not know is still shown


def test_a_run_with_nothing_but_its_config_gets_a_short_report(story, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(story / "vae-beta1" / "config.yaml", run_dir)
    html = write_report(run_dir).read_text()
    assert section_ids(html) == ["run", "questions"]  # no checkpoint yet: not even the image size is known


def test_a_sweep_report_follows_the_sweep_contract(sweep):
    html = write_report(sweep).read_text()
    assert_self_contained(html)
    assert section_ids(html) == ["summary", "questions", "rate-distortion", "vs-beta", "reconstructions", "beta",
                                 "runs"]
    summary = section_html(html, "summary")
    assert '<table class="sortable">' in summary and '<th scope="col">objective.<wbr>beta</th>' in summary
    assert '<a href="runs/beta=1/report.html">beta=1</a>' in summary  # each run opens its own report
    rate = (sweep / "summary.csv").read_text().splitlines()[0].split(",").index("rate")
    for row in (sweep / "summary.csv").read_text().splitlines()[1:]:
        assert f'data-value="{row.split(",")[rate]}"' in summary  # the exact number, for sorting
    # The run, the grid and the key numbers first; every column of summary.csv in a second table.
    first, every = summary.split("<details>")
    assert "<th scope=\"col\">rate</th>" in first and "run_<wbr>dir" not in first and "run_<wbr>dir" in every
    with (sweep / "summary.csv").open() as handle:
        empty = sum(cell == "" for row in list(csv.reader(handle))[1:] for cell in row)
    assert empty >= 1 and every.count('data-value="nan">n/a</td>') == empty  # beta = 0's ELBO: n/a, not nan
    assert "beta=0.1 0.1 sse 0.2236" in section(html, "beta")
    assert '<a href="runs/beta=0.1/report.html">runs/beta=0.1</a>' in section_html(html, "runs")
    assert "other-figures" not in html  # every figure of the sweep has its own section


def test_a_folder_of_runs_gets_a_comparison_report(story):
    html = write_report(story).read_text()
    assert_self_contained(html)
    assert section_ids(html) == ["summary", "questions", "evaluation", "comparison", "beta", "runs"]
    summary = section(html, "summary")
    for name in ("ae", "vae-beta0.1", "vae-beta1"):
        assert name in summary
    assert "AE, latent 4, summed squared error (no KL term)" in summary
    readings = section(html, "beta")
    assert "vae-beta1 1 sse 0.7071" in readings and "vae-beta0.1 0.1 sse 0.2236" in readings


def test_a_folder_without_runs_is_refused(tmp_path):
    with pytest.raises(UsageError, match="neither a run"):
        write_report(tmp_path)


def test_train_writes_the_report_and_survives_its_failure(story, tmp_path, monkeypatch, caplog):
    assert (story / "vae-beta1" / "report.html").is_file()  # written by train() at the end of the run

    def broken(run_dir):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report_module, "write_report", broken)
    config = read_run(story / "vae-beta1").config.with_updates({"training.steps": 2, "training.figures": False})
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        result = run_module.train(config, tmp_path / "run")
    assert result.steps == 2 and (tmp_path / "run" / "checkpoints" / "last.pt").is_file()
    assert "report failed (RuntimeError: disk full); retry with: vaelab report" in caplog.text


def test_the_run_page_leads_with_the_shared_sigma_and_says_what_reading_there_costs(story):
    run_dir = story / "vae-beta0.1"
    html = write_report(run_dir).read_text()
    evaluation = json.loads((run_dir / "eval.json").read_text())
    likelihood = section(html, "likelihood")
    shared = f"ELBO at the shared sigma {format_number(evaluation['elbo_shared_sigma'])} ± "
    assert shared in likelihood and likelihood.index(shared) < likelihood.index("ELBO, own likelihood")
    # beta = 0.1: an encoder fitted to sigma = 0.224, read at 0.707
    assert "This run's encoder was fitted to its own sigma, 0.224; at the shared sigma 0.707" in likelihood
    assert "checkpoint last.pt (step 20, the moving average of the weights)" in likelihood
    assert "Another step" not in likelihood


def test_the_run_page_says_when_its_evaluation_is_of_another_step(story, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(story / "vae-beta0.1", run_dir)
    evaluation = json.loads((run_dir / "eval.json").read_text())
    (run_dir / "eval.json").write_text(json.dumps({**evaluation, "checkpoint": "best", "step": 10}))
    likelihood = section(write_report(run_dir).read_text(), "likelihood")
    assert "This evaluation is of best.pt at step 10; the figures and final values above are of step 20" in likelihood


def test_an_overfitting_autoencoder_is_warned_about_and_not_praised(story, tmp_path):
    run_dir = tmp_path / "ae"
    shutil.copytree(story / "ae", run_dir)
    (run_dir / "figures").mkdir(exist_ok=True)  # the story's AE drew no figures: any PNG gives the section
    shutil.copy(story / "vae-beta0.1" / "figures" / "reconstructions.png", run_dir / "figures")
    html = write_report(run_dir).read_text()
    assert "reconstruct well" not in html and "Overfitting" not in html  # 20 steps: nothing to say yet
    with (run_dir / "metrics.jsonl").open("a") as handle:  # validation up by 30% while training goes down
        for step, (train, val) in enumerate([(0.03, 0.020), (0.02, 0.024), (0.01, 0.026)], start=21):
            for split, mse in (("train", train), ("val", val)):
                handle.write(json.dumps({"step": step, "epoch": 3, "split": split, "loss": 10 * mse, "recon": 10 * mse,
                                         "mse": mse, "kl": None, "beta": 0.0, "elbo": None}) + "\n")
    html = write_report(run_dir).read_text()
    assert "validation MSE (one z ~ q per image) rose from 0.02 at step 21 (its best) to 0.026 at step 23" in section(
        html, "warnings")
    assert "it overfits (see the warning above)" in section(html, "reconstructions")
