"""Runs read back (run_dir.summary): runs written before the shared-sigma ELBO, and the autoencoder's nulls, read
as runs are written now."""

import json
import math

import pytest

from vaelab.run_dir import read_run

from factories import tiny_config

PIXELS = 16 * 16


def write_old_run(folder, kind, records):
    folder.mkdir()
    tiny_config(model__kind=kind).save(folder / "config.yaml")
    (folder / "model.json").write_text(json.dumps({"model_hparams": {}, "image_shape": [1, 16, 16]}))
    (folder / "metrics.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))


def test_an_old_vae_record_gets_its_shared_sigma_elbo_from_its_mse_and_kl(tmp_path):
    # -ELBO at sigma^2 = 1/2 = SSE + KL + D/2 log(pi), with SSE = mse * D
    record = {"step": 10, "epoch": 0, "split": "val", "loss": 20.0, "recon": 12.8, "kl": 7.0, "beta": 1.0,
              "elbo": -160.0, "mse": 0.05, "sigma": 0.7071}
    write_old_run(tmp_path / "run", "vae", [record, {"step": 10, "split": "train", "grad_ratio/encoder": 0.9}])
    run = read_run(tmp_path / "run")
    expected = -(0.05 * PIXELS + 7.0 + PIXELS / 2 * math.log(math.pi))
    assert run.final("val")["elbo_shared_sigma"] == pytest.approx(expected)
    assert run.final("val")["elbo"] == -160.0  # the run's own, as logged
    assert "elbo_shared_sigma" not in run.records[1]  # a gradient record has no loss terms


def test_an_old_autoencoder_record_has_no_kl_elbo_or_sigma(tmp_path):
    # runs from before logged the AE's KL as 0 and the sigma of beta = 1, 0.7071
    record = {"step": 10, "epoch": 0, "split": "val", "loss": 9.0, "recon": 9.0, "kl": 0.0, "beta": 0.0,
              "elbo": None, "mse": 0.035, "sigma": 0.7071067811865476}
    write_old_run(tmp_path / "ae", "ae", [record])
    final = read_run(tmp_path / "ae").final("val")
    assert all(math.isnan(final[name]) for name in ("kl", "elbo", "elbo_shared_sigma", "sigma"))
    assert final["recon"] == 9.0 and final["mse"] == 0.035
