"""`vaelab sweep --bnn`: a grid of table runs with MAP and ensemble baselines, its summary, figure and resume."""

import csv

import pytest

from vaelab.bnn.config import BNNConfig
from vaelab.cli import main
from vaelab.sweep.bnn import BNN_COLUMNS, BNN_SUMMARISED, run_bnn_sweep
from vaelab.sweep.grid import parse_axes
from vaelab.sweep.jobs import FINISHED


class InProcess:
    """The executor protocol (sweep/executor.py), one job after another in this process: no worker start-up."""

    workers = 1

    def __init__(self):
        self.ran = []

    def run(self, jobs, on_outcome):
        outcomes = []
        for job in jobs:
            self.ran.append(job.name)
            outcomes.append(job())
            on_outcome(outcomes[-1])
        return outcomes


BASE = {"data.spec": "diabetes", "model.widths": [6], "training.steps": 12, "training.eval_every": 6,
        "objective.test_samples": 5, "training.figures": False, "model.members": 2}


def test_a_sweep_trains_the_grid_and_its_baselines(tmp_path):
    axes = parse_axes(["objective.kl_weight=constant:0.1,batch", "training.seed=0,1"])
    executor = InProcess()
    result = run_bnn_sweep(BNNConfig().with_updates(BASE), axes, tmp_path / "s", executor=executor)
    names = [row["run"] for row in result.rows]
    assert names[:4] == ["kl_weight=constant_0.1,seed=0", "kl_weight=constant_0.1,seed=1", "kl_weight=batch,seed=0",
                         "kl_weight=batch,seed=1"]
    assert names[4:] == ["baseline=map,seed=0", "baseline=ensemble,seed=0", "baseline=map,seed=1",
                         "baseline=ensemble,seed=1"]
    assert all(row["status"] == FINISHED and row["test_predictive_nll"] is not None for row in result.rows)
    rows = {row["run"]: row for row in csv.DictReader((tmp_path / "s" / "summary.csv").open())}
    seeded = [f"{name}_{stat}" for name in BNN_SUMMARISED for stat in ("mean", "sd")]
    assert list(next(iter(rows.values()))) == ["run", "objective.kl_weight", "training.seed", *BNN_COLUMNS, *seeded,
                                               "seeds"]
    batch = [float(rows[f"kl_weight=batch,seed={seed}"]["test_predictive_nll"]) for seed in (0, 1)]
    assert float(rows["kl_weight=batch,seed=1"]["test_predictive_nll_mean"]) == pytest.approx(sum(batch) / 2)
    maps = [float(rows[f"baseline=map,seed={seed}"]["test_predictive_nll"]) for seed in (0, 1)]
    assert float(rows["baseline=map,seed=0"]["test_predictive_nll_mean"]) == pytest.approx(sum(maps) / 2)  # not
    assert rows["baseline=map,seed=0"]["seeds"] == "2"  # mixed with the ensemble's rows, which share its axes
    assert float(rows["kl_weight=batch,seed=0"]["lambda"]) == pytest.approx(9)  # N / B = 288 / 32
    assert float(rows["kl_weight=constant_0.1,seed=1"]["lambda"]) == pytest.approx(0.1)
    assert rows["baseline=map,seed=1"]["lambda"] == "" and rows["baseline=map,seed=1"]["kind"] == "map"
    assert rows["baseline=ensemble,seed=0"]["training.seed"] == "0"
    assert (tmp_path / "s" / "figures" / "bnn_sweep.png").stat().st_size > 10_000
    html = (tmp_path / "s" / "report.html").read_text()
    assert "baseline=ensemble,seed=1" in html and "data:image/png;base64," in html

    (tmp_path / "s" / "report.html").unlink()
    assert main(["report", str(tmp_path / "s")]) == 0  # the page again, from the files alone
    assert "baseline=ensemble,seed=1" in (tmp_path / "s" / "report.html").read_text()

    again = InProcess()
    run_bnn_sweep(BNNConfig().with_updates(BASE), axes, tmp_path / "s", executor=again)
    assert again.ran == []  # every run finished: kept as it is
    longer = InProcess()
    run_bnn_sweep(BNNConfig().with_updates({**BASE, "training.steps": 18}), axes, tmp_path / "s", executor=longer)
    assert len(longer.ran) == 8  # a new length resumes every run


def test_another_grid_or_base_on_the_same_sweep_is_refused_and_a_grown_grid_trains_its_new_runs(tmp_path, capsys):
    out = str(tmp_path / "s")
    common = ["sweep", "--bnn", "--data", "diabetes", "--out", out, "--steps", "6", "--no-baselines",
              "--set", "model.widths=[4]", "--set", "objective.test_samples=3", "--set", "training.figures=false"]
    assert main([*common, "--grid", "objective.temperature=0.5"]) == 0  # one run, in a worker process
    assert "temperature=0.5" in capsys.readouterr().out
    assert main([*common, "--grid", "objective.temperature=3"]) == 2  # 0.5 dropped: another grid
    assert "holds a sweep over another grid" in capsys.readouterr().err
    assert main([*common, "--grid", "objective.temperature=0.5,3"]) == 0  # a value added: the grid grows
    assert "temperature=3" in capsys.readouterr().out
    assert main([*common, "--grid", "objective.temperature=0.5,3", "--set", "model.prior_std=0.5"]) == 2
    assert "base config differs in model.prior_std" in capsys.readouterr().err


@pytest.mark.parametrize("args,message", [
    (["--image-size", "32"], "--image-size is an option of image runs"),
    (["--conditional"], "--conditional and --beta-range train a loss-conditional VAE"),
    (["--set", "objective.kl_weight=batch"], "objective.kl_weight is a --grid axis and is also set"),
    (["--grid", "training.seed=0,1"], "--grid training.seed is given twice"),
])
def test_bad_bnn_sweeps_are_one_line(tmp_path, capsys, args, message):
    argv = ["sweep", "--bnn", "--data", "diabetes", "--out", str(tmp_path / "s"), "--grid", "training.seed=0", *args]
    argv = [*argv, "--grid", "objective.kl_weight=elbo"] if "objective.kl_weight=batch" in " ".join(args) else argv
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
