"""A loss-conditional sweep: one model per setting of the other axes, each grid point read off its evaluation
at the point's beta, written to the same summary.csv and figures as separate runs; and the grids it refuses."""

import csv

import pytest

from vaelab.cli import main
from vaelab.config import Config
from vaelab.errors import UsageError
from vaelab.run_dir import read_metrics
from vaelab.sweep.conditional import plan_conditional_sweep
from vaelab.sweep.grid import parse_axes
from vaelab.sweep.run import run_sweep

from factories import TINY as FACTORY_TINY
from factories import InProcess

TINY = {**FACTORY_TINY, "data.limit": 400, "training.steps": 30, "training.threads": 1}


def test_the_plan_trains_one_model_per_setting_of_the_other_axes(tmp_path):
    base = Config().with_updates(TINY)
    axes = parse_axes(["model.latent_dim=2,4", "objective.beta=0.1,1,3"])
    plan = plan_conditional_sweep(base, axes, tmp_path)
    assert [model.name for model in plan.models] == ["latent_dim=2,beta=0.1-3", "latent_dim=4,beta=0.1-3"]
    names = [run.name for run in plan.runs]
    assert names[:3] == ["latent_dim=2,beta=0.1", "latent_dim=2,beta=1", "latent_dim=2,beta=3"]
    model = plan.models[1]
    assert model.config.objective.beta_range == [0.1, 3.0] and model.config.objective.beta == 1.0
    assert model.config.model.latent_dim == 4
    point = model.points[0]
    assert point.run_dir == tmp_path / "runs" / "latent_dim=4,beta=0.1-3"
    assert point.evaluation_dir == point.run_dir / "beta=0.1" and point.config.objective.beta == 0.1
    # the validation beta is the base's (1), clipped into the range; --beta-range widens the range
    clipped = plan_conditional_sweep(base, parse_axes(["objective.beta=0.01,0.1"]), tmp_path)
    assert clipped.models[0].config.objective.beta == 0.1
    wide = plan_conditional_sweep(base, parse_axes(["objective.beta=0.1,1"]), tmp_path, beta_range=[0.01, 10])
    assert wide.models[0].name == "beta=0.01-10" and wide.models[0].config.objective.beta_range == [0.01, 10]


@pytest.mark.parametrize("grid,beta_range,message", [
    (["model.latent_dim=2,4"], None, "list them as --grid objective.beta"),
    (["objective.beta=0,0.1,1"], None, "has 0: a loss-conditional model serves betas above 0"),
    (["objective.beta=0.1,1,30"], [0.01, 10], "has 30, outside --beta-range 0.01:10"),
    (["objective.beta=0.1,1", "model.kind=vae,ae"], None, "run beta=0.1-1,kind=ae: the autoencoder has no KL"),
])
def test_grids_a_conditional_model_cannot_serve_are_refused(tmp_path, grid, beta_range, message):
    with pytest.raises(UsageError, match=message):
        plan_conditional_sweep(Config().with_updates(TINY), parse_axes(grid), tmp_path, beta_range)


def test_one_model_gives_every_row_of_the_summary(tmp_path, capsys):
    out = tmp_path / "sweep"
    axes = parse_axes(["objective.beta=0.03,0.3,3"])
    result = run_sweep(Config().with_updates(TINY), axes, out, executor=InProcess(), iw_samples=2, conditional=True)
    assert not result.unfinished
    assert sorted(path.name for path in (out / "runs").iterdir()) == ["beta=0.03-3"]
    model = out / "runs" / "beta=0.03-3"
    with (out / "summary.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["run"] for row in rows] == ["beta=0.03", "beta=0.3", "beta=3"]
    for row in rows:
        val = read_metrics(model / f"beta={row['objective.beta']}" / "metrics.jsonl")[0]
        assert row["status"] == "finished" and row["run_dir"] == "runs/beta=0.03-3" and int(row["steps"]) == 30
        assert float(row["rate"]) == val["kl"] and float(row["distortion"]) == val["recon"]
        assert float(row["beta"]) == pytest.approx(float(row["objective.beta"]))
    rates = [float(row["rate"]) for row in rows]
    assert rates[0] > rates[-1]  # rate falls as beta rises
    assert {"rate_distortion.png", "metrics_vs_beta.png", "reconstructions.png"} <= {
        path.name for path in (out / "figures").iterdir()}
    # run again: nothing to train or evaluate; the other kind of sweep is refused on this folder
    again = run_sweep(Config().with_updates(TINY), axes, out, executor=InProcess(), iw_samples=2, conditional=True)
    assert again.rows == result.rows
    with pytest.raises(UsageError, match="holds a sweep of one loss-conditional model: re-run it with --conditional"):
        run_sweep(Config().with_updates(TINY), axes, out, executor=InProcess())


def test_the_cli_takes_a_beta_range(tmp_path, capsys):
    args = ["sweep", "--data", "digits", "--out", str(tmp_path / "s"), "--grid", "objective.beta=0.1,1",
            "--beta-range", "0.2:10"]
    assert main(args) == 2  # --beta-range implies --conditional, and 0.1 lies outside it
    assert "has 0.1, outside --beta-range 0.2:10" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args[:-1], "0.2-10"])
    assert "'0.2-10' is not LO:HI" in capsys.readouterr().err
