"""`vaelab sweep` as a user runs it: a 2x2 grid on two workers, its summary against each run's own files,
the figures, resuming after a run was cut short, bad grids, Ray, and the shape of the curve on digits."""

import csv
import json
import math
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from vaelab.cli import main
from vaelab.run_dir import read_metrics

TINY = ["--data", "digits", "--image-size", "16", "--width", "8", "--limit", "400", "--steps", "30",
        "--set", "training.figures=false", "--set", "training.grad_every=0"]
GRID = ["--grid", "objective.beta=0,1", "--grid", "model.latent_dim=2,4"]
NAMES = ["beta=0,latent_dim=2", "beta=0,latent_dim=4", "beta=1,latent_dim=2", "beta=1,latent_dim=4"]


def run_cli(*args):
    return main([str(a) for a in args])


def read_summary(sweep):
    with (sweep / "summary.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def final_val(run_dir):
    return [r for r in read_metrics(run_dir / "metrics.jsonl") if r.get("split") == "val" and "loss" in r][-1]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """The 2x2 sweep, trained once for the tests of this module that only read it."""
    out = tmp_path_factory.mktemp("sweep") / "digits"
    assert run_cli("sweep", "--out", out, *GRID, "--workers", "2", *TINY) == 0
    return out


def test_the_summary_holds_each_runs_own_final_numbers(sweep):
    rows = read_summary(sweep)
    assert [row["run"] for row in rows] == NAMES
    assert list(rows[0])[:3] == ["run", "objective.beta", "model.latent_dim"]
    for row in rows:
        run_dir = sweep / row["run_dir"]
        assert run_dir == sweep / "runs" / row["run"]
        final = final_val(run_dir)
        evaluation = json.loads((run_dir / "eval.json").read_text())
        assert row["status"] == "finished" and int(row["steps"]) == final["step"] == 30
        assert float(row["rate"]) == final["kl"]
        assert float(row["distortion"]) == final["recon"]  # sse: the summed squared error itself
        for name in ("beta", "sigma", "loss", "mse"):
            assert float(row[name]) == final[name], name
        assert int(row["active_units"]) == evaluation["active_units"]
        assert float(row["aggregate_posterior_kl"]) == evaluation["aggregate_posterior_kl"]
        assert evaluation["checkpoint"] == "last" and evaluation["iw_samples"] == 10
        assert int(row["pixels"]) == 16 * 16
    by_name = {row["run"]: row for row in rows}
    # beta = 0 under sse implies sigma = 0: no finite ELBO, written as an empty cell
    assert by_name["beta=0,latent_dim=2"]["elbo"] == "" and float(by_name["beta=0,latent_dim=2"]["sigma"]) == 0
    # beta = 1: -ELBO = SSE + KL + (P/2) log(pi), the relation the iso-ELBO lines are drawn from
    one = by_name["beta=1,latent_dim=4"]
    minus_elbo = float(one["rate"]) + float(one["distortion"]) + 128 * math.log(math.pi)
    assert float(one["elbo"]) == pytest.approx(-minus_elbo, rel=1e-5)
    assert float(one["elbo"]) == final_val(sweep / one["run_dir"])["elbo"]
    # ... and for every run of any beta (beta = 0 included), that relation is its ELBO at the shared sigma: the
    # quantity the iso-lines are level in is the one tabulated
    for row in rows:
        minus_elbo = float(row["rate"]) + float(row["distortion"]) + 128 * math.log(math.pi)
        assert float(row["elbo_shared_sigma"]) == pytest.approx(-minus_elbo, rel=1e-4), row["run"]


def test_the_figures_have_content(sweep):
    for name, min_size in (("rate_distortion.png", (800, 600)), ("metrics_vs_beta.png", (800, 800)),
                           ("reconstructions.png", (600, 400))):
        image = np.asarray(Image.open(sweep / "figures" / name).convert("L"), dtype=float)
        assert image.shape[1] >= min_size[0] and image.shape[0] >= min_size[1], name
        assert image.std() > 20 and (image < 100).mean() > 0.01, name  # drawn on, not a blank page


def test_sweep_yaml_records_the_grid_and_another_grid_is_refused(sweep, capsys):
    record = (sweep / "sweep.yaml").read_text()
    assert "objective.beta" in record and "model.latent_dim" in record
    assert run_cli("sweep", "--out", sweep, "--grid", "objective.beta=0,2", "--grid", "model.latent_dim=2,4",
                   *TINY) == 2  # beta = 1 dropped (values may be added, not taken away)
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "holds a sweep over another grid" in err, err
    assert run_cli("sweep", "--out", sweep, *GRID, *TINY, "--lr", "0.01") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "base config differs in training.lr" in err, err


def test_a_rerun_keeps_finished_runs_and_resumes_the_one_cut_short(sweep, tmp_path):
    out = tmp_path / "digits"
    shutil.copytree(sweep, out)  # copies keep the files' modification times
    short = out / "runs" / "beta=1,latent_dim=4"
    shutil.rmtree(short)  # as if the sweep had been killed at step 11 of that run:
    assert run_cli("train", "--out", short, "--beta", "1", "--latent-dim", "4", *TINY, "--steps", "11") == 0
    kept = {path: path.stat().st_mtime_ns for path in (out / "runs").rglob("*") if path.is_file()
            and not path.is_relative_to(short)}

    assert run_cli("sweep", "--out", out, *GRID, "--workers", "2", *TINY) == 0
    assert {path: path.stat().st_mtime_ns for path in kept} == kept  # finished runs untouched
    steps = [r["step"] for r in read_metrics(short / "metrics.jsonl") if r.get("split") == "val"]
    # validation comes every 2 steps (360 images, batch 128) and at the end: 11 is there only if it resumed
    assert 11 in steps and steps[-1] == 30 and len(steps) == len(set(steps))
    row = {row["run"]: row for row in read_summary(out)}["beta=1,latent_dim=4"]
    assert row["status"] == "finished" and float(row["rate"]) == final_val(short)["kl"]
    # and each run goes on by itself as an ordinary run directory
    assert run_cli("train", "--out", out / "runs" / "beta=0,latent_dim=2", "--resume", "--steps", "33") == 0
    assert final_val(out / "runs" / "beta=0,latent_dim=2")["step"] == 33


def test_a_failing_run_is_reported_and_the_others_finish(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU, so training.device=cuda does not fail here")
    out = tmp_path / "failing"
    assert run_cli("sweep", "--out", out, "--grid", "training.device=cpu,cuda", *TINY) == 1
    err = capsys.readouterr().err
    assert "1 of 2 runs did not finish (device=cuda: --device cuda was asked for" in err, err
    rows = {row["run"]: row for row in read_summary(out)}
    assert rows["device=cpu"]["status"] == "finished" and rows["device=cpu"]["rate"] != ""
    assert rows["device=cuda"]["status"] == "failed" and rows["device=cuda"]["rate"] == ""
    assert (out / "figures" / "rate_distortion.png").exists()


@pytest.mark.parametrize("grid,message", [
    (["--grid", "objective.betta=0,1"], "unknown config key 'objective.betta'"),
    (["--grid", "objective.beta"], "is not KEY=V1,V2"),
    (["--grid", "objective.beta=1,-1"], "run beta=-1: objective.beta=-1.0 must be >= 0"),
    (["--grid", "model.latent_dim=2,4", "--latent-dim", "8"], "model.latent_dim is a --grid axis"),
    ([], "say what to sweep"),
])
def test_bad_grids_are_one_line_and_exit_code_2(tmp_path, capsys, grid, message):
    assert run_cli("sweep", "--out", tmp_path / "sweep", *TINY, *grid) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "sweep").exists()


def test_ray_executor(tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        out = tmp_path / "ray"
        assert run_cli("sweep", "--out", out, "--grid", "objective.beta=0.1,1", "--executor", "ray",
                       "--workers", "2", *TINY) == 0
    finally:
        ray.shutdown()
    rows = read_summary(out)
    assert [row["status"] for row in rows] == ["finished", "finished"]
    for row in rows:
        assert float(row["rate"]) == final_val(out / row["run_dir"])["kl"]


def test_rate_falls_and_distortion_rises_with_beta(tmp_path):
    out = tmp_path / "curve"
    assert run_cli("sweep", "--out", out, "--data", "digits", "--image-size", "16", "--latent-dim", "8",
                   "--width", "16", "--limit", "1500", "--steps", "200", "--batch-size", "64", "--lr", "3e-3",
                   "--grid", "objective.beta=0.1,1,10", "--workers", "2",
                   "--set", "training.figures=false", "--set", "training.grad_every=0") == 0
    rows = read_summary(out)
    assert [float(row["beta"]) for row in rows] == [0.1, 1, 10]
    rate = [float(row["rate"]) for row in rows]
    distortion = [float(row["distortion"]) for row in rows]
    assert rate[0] > rate[1] > rate[2], rate
    assert distortion[0] < distortion[1] < distortion[2], distortion
