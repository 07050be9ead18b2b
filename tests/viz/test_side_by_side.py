"""Evaluations side by side (viz.side_by_side) and the three questions answered on them (viz.answers): the
numbers are the eval.json numbers, the paired differences and bound gaps are computed image by image, and the
sentences follow the numbers."""

import math
from pathlib import Path

import numpy as np
import pytest

from vaelab.run_dir import RunSummary
from vaelab.viz.answers import answers, shared_sigma_cost
from vaelab.viz.side_by_side import bound_gap, differences_table, evaluation_table, reference_index, text_table

from factories import tiny_config

INDEX = list(range(50))


def evaluated_run(name, beta, *, psnr, elbo_shared, holes, kind="vae", seed=0):
    """A run with an eval.json of known per-image values: PSNR and shared-sigma ELBO around the given means."""
    rng = np.random.default_rng(seed)
    psnr_images = psnr + rng.normal(0, 1.0, len(INDEX))
    elbo_images = elbo_shared + rng.normal(0, 5.0, len(INDEX))
    iwae_images = elbo_images + 2.0 + rng.uniform(0, 1, len(INDEX))
    own_elbo = elbo_images + 30.0
    own_iwae = own_elbo + 1.0
    evaluation = {
        "checkpoint": "last", "step": 200, "weights": "ema", "split": "val", "images": len(INDEX), "beta": beta,
        "iw_samples": 10, "sigma": math.sqrt(beta / 2),
        "psnr": float(psnr_images.mean()), "psnr_se": float(psnr_images.std(ddof=1) / math.sqrt(len(INDEX))),
        "elbo_shared_sigma": float(elbo_images.mean()),
        "elbo_shared_sigma_se": float(elbo_images.std(ddof=1) / math.sqrt(len(INDEX))), "kl": 10.0 / beta,
        "aggregate_kl_p_q": holes, "active_units": 4,
        "per_image": {"index": INDEX, "psnr": psnr_images.tolist(),
                      "likelihood": {"index": INDEX, "elbo_shared_sigma": elbo_images.tolist(),
                                     "iwae_shared_sigma": iwae_images.tolist(), "elbo": own_elbo.tolist(),
                                     "iwae": own_iwae.tolist()}},
    }
    config = tiny_config(model__kind=kind, objective__beta=beta)
    records = [{"step": 200, "split": "val", "loss": 1.0, "kl": 10.0 / beta, "mse": 0.02, "sigma": evaluation["sigma"],
                "elbo_shared_sigma": evaluation["elbo_shared_sigma"]},
               {"step": 200, "split": "train", "grad_ratio/encoder": 0.97, "grad_cosine/encoder": -0.95,
                "grad_cancellation/encoder": 0.05, "grad_ratio_ci/encoder": [0.9, 1.04]}]
    return RunSummary(run_dir=Path(name), config=config, records=records, evaluation=evaluation)


def test_the_table_shows_each_runs_eval_json_with_its_standard_error():
    runs = [evaluated_run("b1", 1.0, psnr=20.0, elbo_shared=-500.0, holes=0.5),
            evaluated_run("b01", 0.1, psnr=22.0, elbo_shared=-480.0, holes=3.0, seed=1)]
    table = evaluation_table(runs, ["b1", "b01"])
    rows = {row[0]: row[1:] for row in table.rows}
    assert rows["evaluated"] == ["last.pt, step 200, moving average; 50 validation images"] * 2
    evaluation = runs[0].evaluation
    assert rows["ELBO at the shared sigma (beta = 1)"][0] == (f"{evaluation['elbo_shared_sigma']:.4g} ± "
                                                          f"{evaluation['elbo_shared_sigma_se']:.2g}")
    assert list(rows)[1] == "ELBO at the shared sigma (beta = 1)"  # the like-for-like ELBO leads
    assert rows["|grad beta KL| / |grad recon|, encoder"] == ["0.97 [0.9, 1.04]"] * 2
    assert "b01" in text_table(table).splitlines()[0]


def test_the_differences_are_paired_over_the_same_images():
    a = evaluated_run("b1", 1.0, psnr=20.0, elbo_shared=-500.0, holes=0.5)
    b = evaluated_run("b01", 0.1, psnr=22.0, elbo_shared=-480.0, holes=3.0, seed=1)
    table = differences_table([a, b], ["b1", "b01"], 0)
    rows = {row[0]: row[1] for row in table.rows}
    d = np.array(b.evaluation["per_image"]["psnr"]) - np.array(a.evaluation["per_image"]["psnr"])
    se = d.std(ddof=1) / math.sqrt(len(d))
    assert rows["PSNR, dB (posterior means)"] == f"{d.mean():.4g} ± {se:.2g}, beyond noise (n = 50)"
    assert table.columns == ["quantity", "b01 − b1"]


def test_the_bound_gap_is_the_mean_of_the_per_image_gaps():
    run = evaluated_run("b01", 0.1, psnr=22.0, elbo_shared=-480.0, holes=3.0)
    likelihood = run.evaluation["per_image"]["likelihood"]
    gaps = np.array(likelihood["iwae_shared_sigma"]) - np.array(likelihood["elbo_shared_sigma"])
    mean, se, n = bound_gap(run.evaluation, "iwae_shared_sigma", "elbo_shared_sigma")
    assert (mean, se, n) == pytest.approx((gaps.mean(), gaps.std(ddof=1) / math.sqrt(50), 50))
    text = shared_sigma_cost(run.evaluation)
    assert "fitted to its own sigma, 0.224" in text and "its decoder's posterior is wider than its q(z|x)" in text
    assert f"is {mean:.4g} ± {se:.2g} nats at the shared sigma and 1 ± 0 at its own (over 50 images)" in text
    assert "its encoder costs it more" in text  # a gap of about 2.5 against 1
    smaller = {**likelihood, "iwae_shared_sigma": (np.array(likelihood["elbo_shared_sigma"]) + 0.5).tolist()}
    text = shared_sigma_cost({**run.evaluation, "per_image": {"likelihood": smaller}})
    assert "costs it no more than at its own" in text
    assert shared_sigma_cost({**run.evaluation, "sigma": math.sqrt(0.5)}) is None  # beta = 1: one and the same


def test_the_three_answers_are_computed_from_the_runs_and_change_with_them():
    usual = [evaluated_run("b1", 1.0, psnr=20.0, elbo_shared=-500.0, holes=0.5),
             evaluated_run("b01", 0.1, psnr=22.0, elbo_shared=-480.0, holes=3.0, seed=1)]
    said = answers(usual, ["b1", "b01"])
    assert "b01 (beta = 0.1), against b1 (beta = 1), spends more nats per image" in said["trade"]
    assert "reconstructs better than it" in said["trade"] and "leaves larger holes" in said["trade"]
    assert "the trade-off as the rate-distortion view has it" in said["trade"]
    assert "b01 has the higher ELBO" in said["scale"] and "beyond noise" in said["scale"]
    assert "b1 (beta = 1): 0.97, cosine -0.95 (balanced, step 200)" in said["gradients"]
    # the same runs with the smaller beta reconstructing worse: the sentence says so
    unusual = [evaluated_run("b1", 1.0, psnr=22.0, elbo_shared=-480.0, holes=3.0),
               evaluated_run("b01", 0.1, psnr=20.0, elbo_shared=-500.0, holes=0.5, seed=1)]
    said = answers(unusual, ["b1", "b01"])
    assert "reconstructs worse than it" in said["trade"] and "leaves smaller holes" in said["trade"]
    assert "not the usual trade-off" in said["trade"] and "b1 has the higher ELBO" in said["scale"]


def test_the_reference_run_is_the_vae_at_beta_one_and_the_autoencoder_answers_nothing():
    ae = evaluated_run("ae", 1.0, psnr=25.0, elbo_shared=math.nan, holes=0.0, kind="ae")
    runs = [ae, evaluated_run("b01", 0.1, psnr=22.0, elbo_shared=-480.0, holes=3.0),
            evaluated_run("b1", 1.0, psnr=20.0, elbo_shared=-500.0, holes=0.5, seed=1)]
    assert reference_index(runs) == 2
    assert "ae" not in answers(runs, ["ae", "b01", "b1"])["trade"]
