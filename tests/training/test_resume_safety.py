"""A resume never loses or overwrites what a run has: it needs last.pt (a run with only best.pt is refused, not
retrained), the run's own config.yaml (an empty one is refused, not read as the defaults) and a checkpoint
trained with that config; a checkpoint that does not fit is one line, for `train --resume` and for
`evaluate`. A new run that fails before it has logged or saved anything leaves its folder as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vaelab.cli import main
from vaelab.errors import UsageError
from vaelab.run_dir import read_metrics
from vaelab.training.run import train
from vaelab.training.trainer import Trainer

from factories import tiny_config


def snapshot(run: Path) -> dict[str, bytes]:
    """Every file of the run and its bytes."""
    return {str(path.relative_to(run)): path.read_bytes() for path in sorted(run.rglob("*")) if path.is_file()}


def one_line_error(capsys, *args) -> str:
    assert main([str(a) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("vaelab: error: "), err
    return err


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished 16-step run (one epoch: last.pt and best.pt at step 16)."""
    run = tmp_path_factory.mktemp("trained") / "run"
    train(tiny_config(16), run)
    return run


@pytest.fixture
def run(trained, tmp_path) -> Path:
    """A copy of the trained run, to damage."""
    copy = tmp_path / "run"
    for name, content in snapshot(trained).items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(content)
    return copy


def test_a_run_without_last_pt_is_not_retrained_and_keeps_best_pt(run, capsys):
    (run / "checkpoints" / "last.pt").unlink()
    before = snapshot(run)
    err = one_line_error(capsys, "train", "--out", run, "--resume")
    assert f"has no checkpoints/last.pt to continue from, but its best.pt is there: to continue from best.pt, copy it " \
           f"(cp {run}/checkpoints/best.pt {run}/checkpoints/last.pt)" in err
    assert snapshot(run) == before


def test_best_pt_copied_to_last_pt_resumes_from_it(run):
    (run / "checkpoints" / "last.pt").write_bytes((run / "checkpoints" / "best.pt").read_bytes())
    assert train(tiny_config(20), run, resume=True).steps == 20


def test_a_run_stopped_before_its_first_checkpoint_trains_from_step_0(tmp_path, monkeypatch, caplog):
    original = Trainer.training_step
    steps = iter(range(100))

    def killed(self, x):
        if next(steps) == 7:
            raise SystemExit("killed")  # as a kill would: no checkpoint saved, the records of 5 steps written
        return original(self, x)

    monkeypatch.setattr(Trainer, "training_step", killed)
    with pytest.raises(SystemExit):
        train(tiny_config(20, training__log_every=5), tmp_path / "run")
    monkeypatch.setattr(Trainer, "training_step", original)
    assert [r["step"] for r in read_metrics(tmp_path / "run" / "metrics.jsonl")] == [5]
    caplog.set_level("INFO", logger="vaelab")
    assert train(tiny_config(20, training__log_every=5), tmp_path / "run", resume=True).steps == 20
    assert "stopped before its first checkpoint: training it from step 0" in caplog.text
    assert [r["step"] for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["split"] == "train"] == [5, 10,
                                                                                                            15, 20]


@pytest.mark.parametrize("content", ["", "\n", "# cut short\n"])
def test_an_empty_config_is_refused_not_read_as_the_defaults(run, capsys, content):
    (run / "config.yaml").write_text(content)
    before = snapshot(run)
    err = one_line_error(capsys, "train", "--out", run, "--resume")
    assert f"config file {run}/config.yaml is empty" in err
    assert snapshot(run) == before


def test_a_config_that_is_not_the_checkpoints_is_refused(run, capsys):
    config = (run / "config.yaml").read_text()
    assert "  beta: 1.0\n" in config
    (run / "config.yaml").write_text(config.replace("  beta: 1.0\n", "  beta: 0.5\n"))
    before = snapshot(run)
    err = one_line_error(capsys, "train", "--out", run, "--resume", "--steps", "20")
    assert f"{run}/checkpoints/last.pt was trained with objective.beta=1.0, but the run's config.yaml says 0.5" in err
    assert snapshot(run) == before


def damage(path: Path, how: str) -> None:
    state = torch.load(path, weights_only=True)
    if how == "a key missing":
        del state["optimizer"], state["model"], state["ema"]
    else:
        name = next(iter(state["model"]))
        for weights in (state["model"], state["ema"]["model"]):
            weights[name] = torch.zeros(3, 3)
    torch.save(state, path)


@pytest.mark.parametrize("how,message", [
    ("a key missing", "has no 'model': it is damaged or was not written by vaelab for this run"),
    ("a wrong shape", "does not fit this run's model (size mismatch for "),
])
def test_a_checkpoint_that_does_not_fit_is_one_line_for_resume_and_evaluate(run, capsys, how, message):
    for name in ("last", "best"):
        damage(run / "checkpoints" / f"{name}.pt", how)
    before = snapshot(run)
    err = one_line_error(capsys, "train", "--out", run, "--resume", "--steps", "20")
    assert f"checkpoint {run}/checkpoints/last.pt {message}" in err
    err = one_line_error(capsys, "evaluate", run, "--max-images", "20", "--iw-samples", "2")
    assert f"checkpoint {run}/checkpoints/last.pt {message}" in err  # evaluate reads last.pt too
    assert snapshot(run) == before


def test_a_new_run_that_fails_before_logging_leaves_its_folder_as_it_was(tmp_path, monkeypatch):
    def broken(self):
        raise RuntimeError("broken at the start of training")

    monkeypatch.setattr(Trainer, "fit", broken)
    created = tmp_path / "runs" / "new"
    with pytest.raises(RuntimeError, match="broken at the start"):
        train(tiny_config(4), created)
    assert not (tmp_path / "runs").exists(), "config.yaml, model.json, metrics.jsonl, .lock and the folders all gone"
    (tmp_path / "mine").mkdir()
    with pytest.raises(RuntimeError, match="broken at the start"):
        train(tiny_config(4), tmp_path / "mine")
    assert list((tmp_path / "mine").iterdir()) == [], "a folder that was there stays, empty as it was"
    monkeypatch.undo()
    assert train(tiny_config(4), tmp_path / "mine").steps == 4  # and takes the run


def test_a_failed_resume_deletes_nothing(run, monkeypatch):
    monkeypatch.setattr(Trainer, "fit", lambda self: (_ for _ in ()).throw(UsageError("stopped")))
    before = snapshot(run)
    with pytest.raises(UsageError, match="stopped"):
        train(tiny_config(20), run, resume=True)
    assert snapshot(run).keys() == before.keys()


def test_a_damaged_metrics_line_does_not_stop_a_resume(run, caplog):
    lines = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    lines[0] = "\x00" * 40 + "\n"
    (run / "metrics.jsonl").write_text("".join(lines))
    assert train(tiny_config(20), run, resume=True).steps == 20
    assert f"{run}/metrics.jsonl line 1 is damaged (not a JSON record with a step): left out" in caplog.text
