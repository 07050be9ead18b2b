"""A sweep over training.seed: summary.csv gives each grid point's mean and sd over its seeds, and the
rate-distortion figure draws them as error bars."""

from types import SimpleNamespace

import pytest

from vaelab.sweep.summary import columns, with_seed_statistics
from vaelab.viz.sweep import plot_rate_distortion


def test_each_grid_point_gets_the_mean_and_sd_over_its_seeds(tmp_path):
    plan = SimpleNamespace(axes=[SimpleNamespace(key="objective.beta"), SimpleNamespace(key="training.seed")])
    rows = [{"run": f"beta={beta},seed={seed}", "objective.beta": beta, "training.seed": seed, "beta": beta,
             "rate": rate, "distortion": 100.0 - rate, "elbo": None, "elbo_optimal_sigma": 1.0, "mse": 0.01}
            for beta, rates in ((0.1, (10.0, 12.0, 14.0)), (1.0, (3.0, 3.0, 6.0))) for seed, rate in enumerate(rates)]
    assert {"rate_mean", "rate_sd", "seeds"} <= set(columns(plan)) - set(columns(SimpleNamespace(axes=plan.axes[:1])))
    summarised = {row["run"]: row for row in with_seed_statistics(plan, rows)}
    first = summarised["beta=0.1,seed=0"]
    assert (first["rate_mean"], first["rate_sd"], first["seeds"]) == (12.0, pytest.approx(2.0), 3)
    assert summarised["beta=1.0,seed=2"]["rate_sd"] == pytest.approx(3 ** 0.5)
    assert first["elbo_mean"] is None and first["elbo_sd"] is None  # no seed had the number
    path = tmp_path / "rate_distortion.png"
    plot_rate_distortion(list(summarised.values()), path, group_keys=["training.seed"], recon="sse")
    assert path.stat().st_size > 0
