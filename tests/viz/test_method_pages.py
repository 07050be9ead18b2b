"""Each KL-weighting method and decoder sigma read right on the run page: GECO by the weight in force and its
implied sigma, never the unused objective.beta; a target the data cannot reach warned about in the terminal and on
the page; a learned sigma's start and its lag behind the RMS error; a negative unbiased MMD explained."""

import json
import math
import re
from html import unescape

import pytest

from vaelab.config import Config
from vaelab.diagnostics.aggregate import negative_mmd_note
from vaelab.training.run import train
from vaelab.viz.report import write_report

from factories import tiny_config


def page_text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.replace("<wbr>", ""))))


def section(html: str, id: str) -> str:
    return page_text(html.split(f'<section id="{id}">', 1)[1].split("</section>", 1)[0])


def test_a_geco_run_whose_target_is_out_of_reach_is_read_by_its_weight_and_warned_about(tmp_path, caplog):
    # an MSE of 1e-5 on 16x16 digits in 12 steps is out of reach: lambda climbs to its cap of 2 and stays
    config = tiny_config(12, objective__geco_target=1e-5, objective__geco_lr=0.5, objective__geco_lambda_max=2.0,
                         training__val_every=6)
    with caplog.at_level("WARNING", logger="vaelab"):
        train(config, tmp_path / "run")
    warned = [record.getMessage() for record in caplog.records if "pinned at its cap" in record.getMessage()]
    assert len(warned) == 2  # when it got there (step 6), and again at the end
    assert warned[0].startswith("step 6: GECO's lambda is pinned at its cap geco_lambda_max = 2: the error never "
                                "came down to --geco-target 1e-05 (MSE)")
    html = write_report(tmp_path / "run").read_text()
    settings = section(html, "run")
    # 1 / lambda = 0.5 is the weight in force; with summed squared error, sigma^2 = 0.5 / 2
    assert "the KL weight is 1 / lambda, found by the constraint, 0.5 at the end (lambda = 2), i.e. a decoder " \
           "sigma of 0.5" in settings
    assert "beta = 1" not in settings
    assert "GECO's target" in section(html, "warnings") and "pinned at its cap" in section(html, "warnings")
    assert "Training minimised recon + (1 / lambda_t) × KL" in section(html, "losses")
    beta = section(html, "beta")
    assert "beta = 1 / lambda = 0.5" in beta and "sigma = 0.5" in beta


def write_run(folder, updates, val, evaluation=None):
    """A run directory by hand: its config, one train and one val record, and an eval.json."""
    folder.mkdir()
    Config().with_updates(updates).save(folder / "config.yaml")
    base = {"step": 10, "epoch": 1, "loss": 1.0, "recon": 1.0, "kl": 1.0, "beta": 1.0, "elbo": -2.0}
    lines = [{**base, "split": "train", **val}, {**base, "split": "val", **val}]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    if evaluation is not None:
        (folder / "eval.json").write_text(json.dumps(evaluation))
    return folder


@pytest.mark.parametrize("sigma, warned", [(0.82, True), (0.17, False)])
def test_a_learned_sigma_far_from_the_rms_error_is_warned_about(tmp_path, sigma, warned):
    run = write_run(tmp_path / "run", {"objective.recon": "sigma-learned", "data.image_size": 16, "data.channels": 1},
                    {"sigma": sigma, "mse": 0.16**2})
    html = write_report(run).read_text()
    assert ("The learned sigma has not caught up" in html) == warned
    if warned:
        assert "ended at 0.82 while the RMS error of the validation reconstructions is 0.16" in section(html,
                                                                                                      "warnings")
    assert "sigma started at the RMS error of the untrained network's reconstructions of the first training " \
           "batch" in section(html, "beta")


def test_a_negative_mmd_is_explained_on_the_page():
    assert negative_mmd_note(0.002) is None and negative_mmd_note(None) is None
    assert negative_mmd_note(-0.0004).startswith("below 0 only because the estimate is unbiased")


def test_the_page_explains_a_negative_mmd_where_it_shows_it(tmp_path):
    evaluation = {"aggregate_posterior_mmd": -0.0004, "aggregate_posterior_mmd_ci": [-0.001, 0.0008]}
    run = write_run(tmp_path / "run", {"data.image_size": 16, "data.channels": 1}, {"sigma": math.sqrt(0.5),
                                                                                   "mse": 0.02}, evaluation)
    aggregate = section(write_report(run).read_text(), "aggregate")
    assert "-0.0004 [-0.001, 0.0008] below 0 only because the estimate is unbiased" in aggregate
