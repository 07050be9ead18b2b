"""`vaelab train` as a user runs it: one epoch on digits and on a generated folder, config round trips,
and bad input that ends in one clear line with exit code 2."""

import json

import numpy as np
import pytest
import yaml
from PIL import Image

from vaelab.cli import main
from vaelab.errors import UsageError


def run_cli(*args):
    return main([str(a) for a in args])


def test_one_epoch_on_digits_writes_the_run_directory(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli("train", "--data", "digits", "--out", out, "--epochs", "1", "--beta", "0.1", "--latent-dim", "4",
                   "--width", "8", "--image-size", "16") == 0
    assert "ELBO(beta=1)" in capsys.readouterr().out
    for name in ("config.yaml", "metrics.jsonl", "checkpoints/last.pt", "checkpoints/best.pt",
                 "figures/losses.png", "figures/reconstructions.png", "figures/samples.png"):
        assert (out / name).exists(), name
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert {r["split"] for r in rows} == {"train", "val"}
    val = [r for r in rows if r["split"] == "val"][-1]
    assert val["beta"] == 0.1 and val["sigma"] == pytest.approx((0.1 / 2) ** 0.5)
    assert val["loss"] == pytest.approx(val["recon"] + 0.1 * val["kl"], rel=1e-6)
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["objective"]["beta"] == 0.1 and saved["model"]["latent_dim"] == 4


def test_one_epoch_on_a_generated_folder_and_a_run_recreated_from_its_config(tmp_path):
    folder = tmp_path / "pictures"
    rng = np.random.default_rng(0)
    for i in range(40):
        (folder / f"painter{i % 3}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(folder / f"painter{i % 3}" / f"{i}.jpg")
    (folder / "notes.png").write_text("not an image")
    first = tmp_path / "first"
    assert run_cli("train", "--data", folder, "--out", first, "--epochs", "1", "--image-size", "16",
                   "--batch-size", "8", "--latent-dim", "4", "--width", "4") == 0
    assert "notes.png" in (first / "skipped.txt").read_text()
    again = tmp_path / "again"
    assert run_cli("train", "--config", first / "config.yaml", "--out", again) == 0
    last = lambda run: [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()][-1]
    assert last(first) == last(again)


def test_resume_from_the_cli_extends_a_run(tmp_path):
    out = tmp_path / "run"
    common = ["--data", "digits", "--out", out, "--latent-dim", "4", "--width", "4", "--image-size", "16", "--limit", "300"]
    assert run_cli("train", *common, "--steps", "10") == 0
    assert run_cli("train", "--out", out, "--resume", "--steps", "15") == 0
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 15


def test_resume_takes_new_execution_options_and_refuses_a_new_objective(tmp_path, capsys):
    out = tmp_path / "run"
    common = ["--data", "digits", "--out", out, "--latent-dim", "4", "--width", "4", "--image-size", "16", "--limit", "300"]
    assert run_cli("train", *common, "--steps", "6") == 0
    assert run_cli("train", "--out", out, "--resume", "--steps", "8", "--device", "cpu", "--set", "training.threads=1",
                   "--max-bad-steps", "5") == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["training"]["threads"] == 1
    assert run_cli("train", "--out", out, "--resume", "--beta", "0.5") == 2
    assert "cannot change beta" in capsys.readouterr().err


def test_a_checkpoint_of_another_device_resumes_on_this_one(tmp_path, caplog):
    """A run trained on CUDA resumes on a CPU: a CUDA generator's state (16 bytes: seed and offset) does not fit
    a CPU generator, so the noise restarts from a seed; the weights and step continue."""
    import torch

    out = tmp_path / "run"
    assert run_cli("train", "--data", "digits", "--out", out, "--latent-dim", "4", "--width", "4", "--image-size", "16",
                   "--limit", "300", "--steps", "4") == 0
    last = out / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)
    state["noise"] = torch.zeros(16, dtype=torch.uint8)  # as torch.Generator("cuda").get_state() is
    torch.save(state, last)
    assert run_cli("train", "--out", out, "--resume", "--steps", "6", "--device", "cpu") == 0
    assert "noise generator belongs to another kind of device" in caplog.text
    assert max(json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()) == 6


@pytest.mark.parametrize(
    "args,message",
    [
        (["--data", "digits", "--beta", "-1"], "objective.beta=-1.0 must be >= 0"),
        (["--data", "digits", "--latent-dim", "0"], "latent_dim=0 must be at least 1"),
        (["--data", "digits", "--set", "objective.betta=1"], "unknown config key 'objective.betta'"),
        (["--data", "digits", "--set", "model.width=wide"], "model.width must be int"),
        (["--data", "digits", "--set", "objective.beta=.inf"], "objective.beta must be a finite number, got inf"),
        (["--data", "digits", "--set", "objective.beta=[0.1"], "objective.beta must be float, got '[0.1'"),
        (["--data", "digits", "--image-size", "4"], "too small"),
        (["--data", "digits", "--image-size", "100000"], "too large"),
        (["--data", "/no/such/folder"], "/no/such/folder"),
        (["--beta", "0.1"], "say what to train on"),
        (["--data", "digits", "--seed", "-1"], "training.seed=-1 is not a seed: use a whole number from 0 to 2**63 - 1"),
        (["--data", "digits", "--seed", str(10**23)], f"training.seed={10**23} is not a seed"),
        (["--data", "digits", "--set", "data.split_seed=-3"], "data.split_seed=-3 is not a seed"),
        (["--data", "digits", "--latent-dim", "100000000"], "GiB (weights, gradients, Adam's moments, their average)"),
        (["--data", "digits", "--width", "100000", "--no-ema"], "GiB (weights, gradients, Adam's moments), more than"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2_and_leaves_nothing_behind(tmp_path, capsys, args, message):
    assert run_cli("train", "--out", tmp_path / "runs" / "run", *args, "--steps", "1") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert list(tmp_path.iterdir()) == [], "no run folder, no lock, no empty parent folder"


def test_a_model_too_large_is_refused_with_its_size():
    import torch

    from vaelab.training.device import check_model_fits

    memory = 2**30  # 1 GiB: with the moving average 20 bytes a parameter, 53,687,091 parameters fit
    check_model_fits(53_687_091, torch.device("cpu"), ema=True, memory=memory)
    with pytest.raises(UsageError, match=r"53,687,092 parameters: training it needs at least 1 GiB .* more than the "
                                         r"1 GiB of this machine"):
        check_model_fits(53_687_092, torch.device("cpu"), ema=True, memory=memory)
    check_model_fits(67_108_864, torch.device("cpu"), ema=False, memory=memory)  # 16 bytes each without it
    with pytest.raises(UsageError):
        check_model_fits(67_108_865, torch.device("cpu"), ema=False, memory=memory)


@pytest.mark.parametrize("content,message", [
    (bytes(range(256)) * 4, "is not text (not UTF-8): give a YAML file"),
    (b"", "is empty: it must hold a mapping of sections"),
    (b"# only a comment\n", "is empty"),
    (None, "is a folder: give the path of a YAML file"),
])
def test_a_config_file_that_is_not_a_config_is_one_line(tmp_path, capsys, content, message):
    config = tmp_path / "c.yaml"
    if content is None:
        config.mkdir()
    else:
        config.write_bytes(content)
    assert run_cli("train", "--config", config, "--out", tmp_path / "run") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


@pytest.mark.parametrize("occupant,message", [
    ("another run", "already holds files: pass --resume to continue that run, or choose a new --out"),
    ("a file", "as the run directory (File exists): choose another --out"),
])
def test_an_output_directory_that_is_taken_is_exit_code_2(tmp_path, capsys, occupant, message):
    out = tmp_path / "run"
    if occupant == "a file":
        out.write_text("not a folder")
    else:
        assert run_cli("train", "--data", "digits", "--out", out, "--beta", "0.5", "--steps", "1", "--image-size", "8",
                       "--latent-dim", "2", "--width", "2", "--limit", "40", "--set", "training.figures=false") == 0
        capsys.readouterr()
    assert run_cli("train", "--data", "digits", "--out", out, "--steps", "1") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_unknown_key_in_a_config_file(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("data: {spec: digits}\nmodel: {latent: 3}\n")
    assert run_cli("train", "--config", config, "--out", tmp_path / "run") == 2
    assert "unknown config key 'model.latent'" in capsys.readouterr().err
