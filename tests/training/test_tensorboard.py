"""`--tensorboard`: the metrics of metrics.jsonl and the run's figures, as TensorBoard events."""

import json

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from vaelab.cli import main


def test_tensorboard_events_hold_the_logged_metrics_and_the_figures(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--data", "digits", "--out", str(out), "--image-size", "16", "--limit", "300",
                 "--latent-dim", "4", "--width", "8", "--steps", "10", "--batch-size", "32", "--beta", "0.1",
                 "--tensorboard", "--set", "training.grad_every=5"]) == 0
    events = EventAccumulator(str(out / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    for split in ("train", "val"):
        logged = [r for r in records if r["split"] == split and "kl" in r]
        scalars = events.Scalars(f"{split}/kl")
        assert [s.step for s in scalars] == [r["step"] for r in logged]
        assert [s.value for s in scalars] == pytest.approx([r["kl"] for r in logged], rel=1e-5)  # float32
    assert "train/grad_ratio/encoder" in events.Tags()["scalars"]
    images = events.Tags()["images"]
    assert {"figures/losses", "figures/reconstructions", "figures/samples"} <= set(images)
    last = events.Images("figures/losses")[-1]
    assert last.step == 10 and last.width > 100


def test_without_the_flag_there_are_no_events(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--data", "digits", "--out", str(out), "--image-size", "16", "--limit", "300",
                 "--latent-dim", "4", "--width", "8", "--steps", "2", "--set", "training.figures=false"]) == 0
    assert not (out / "tensorboard").exists()
