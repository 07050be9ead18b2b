"""Overfitting read from metrics.jsonl (viz.overfitting): held-out error rising while the training error falls."""

from pathlib import Path

import pytest

from vaelab.run_dir import RunSummary
from vaelab.viz.overfitting import overfitting

from factories import tiny_config


def run_with(val_mse, train_mse, kind="ae"):
    """A run whose validation passes and training averages (one each at steps 100, 200, ...) have these MSEs."""
    records = []
    for i, (val, train) in enumerate(zip(val_mse, train_mse)):
        step = 100 * (i + 1)
        records.append({"step": step, "split": "train", "loss": train, "mse": train})
        records.append({"step": step, "split": "val", "loss": val, "mse": val})
    return RunSummary(run_dir=Path("run"), config=tiny_config(model__kind=kind), records=records)


def test_validation_rising_while_training_falls_is_overfitting():
    found = overfitting(run_with([0.050, 0.030, 0.032, 0.036], [0.050, 0.028, 0.020, 0.015]))
    assert found is not None and found.metric == "mse"
    assert (found.best_step, found.best, found.last_step, found.last) == (200, 0.030, 400, 0.036)
    assert (found.train_then, found.train_last) == (0.028, 0.015)
    text = found.text()
    assert "rose from 0.03 at step 200 (its best) to 0.036 at step 400 (+20%)" in text
    assert "fell from 0.028 to 0.015" in text


@pytest.mark.parametrize(("val", "train"), [
    ([0.05, 0.03, 0.0305, 0.031], [0.05, 0.028, 0.02, 0.015]),  # +3%: within the wobble of validation
    ([0.05, 0.03, 0.036, 0.040], [0.05, 0.028, 0.032, 0.036]),  # both rise: a KL weight that grows, not memorising
    ([0.05, 0.04, 0.035, 0.030], [0.05, 0.03, 0.020, 0.015]),  # still improving
    ([0.05, 0.06], [0.05, 0.02]),  # two passes say nothing
])
def test_no_overfitting_without_both_moves(val, train):
    assert overfitting(run_with(val, train)) is None


def test_a_vae_is_also_watched_by_its_elbo_at_the_shared_sigma():
    # flat MSE, but the held-out ELBO at the shared sigma falls (its -ELBO rises) while the training one improves
    run = run_with([0.03] * 4, [0.03] * 4, kind="vae")
    for record, elbo in zip([r for r in run.records if r["split"] == "val"], [-300.0, -250.0, -262.0, -280.0]):
        record["elbo_shared_sigma"] = elbo
    for record, elbo in zip([r for r in run.records if r["split"] == "train"], [-300.0, -240.0, -220.0, -200.0]):
        record["elbo_shared_sigma"] = elbo
    found = overfitting(run)
    assert found is not None and found.metric == "elbo_shared_sigma"
    assert (found.best, found.last) == (250.0, 280.0)  # as -ELBO: lower is better
    assert "-ELBO at the shared sigma rose from 250 at step 200" in found.text()
