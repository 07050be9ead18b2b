"""Where everything of a run lives, and reading and writing its small files.

    RUN/config.yaml        the resolved config (written atomically)
    RUN/model.json         what builds the network: its hyperparameters and image shape (no optimiser state)
    RUN/metrics.jsonl      one record per line (metrics.py)
    RUN/checkpoints/       last.pt, best.pt (checkpoint.py)
    RUN/figures/           the run's PNGs
    RUN/eval.json          `vaelab evaluate`'s numbers (written atomically)
    RUN/beta=B/            a loss-conditional run evaluated at another beta: metrics.jsonl, eval.json, figures/
    RUN/status.json        how the training stands: running, finished, interrupted or failed, at which step
    RUN/data=NAME/         the run evaluated on another source (`vaelab evaluate --data`): eval.json, figures/
    RUN/report.html, RUN/skipped.txt, RUN/tensorboard/, RUN/.lock (only while a process trains the run)
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaelab.config import Config
from vaelab.errors import UsageError
from vaelab.files import atomic_write_text, lock_held
from vaelab.numbers import format_value, stored
from vaelab.run_dir.metrics import read_metrics
from vaelab.version import __version__

CONFIG = "config.yaml"
MODEL = "model.json"
METRICS = "metrics.jsonl"
EVALUATION = "eval.json"
REPORT = "report.html"
SKIPPED = "skipped.txt"
STATUS = "status.json"
LOCK = ".lock"
STATUSES = ("running", "finished", "interrupted", "failed")  # what training writes into status.json
CHECKPOINTS = ("best", "last")


@dataclass(frozen=True)
class RunDir:
    """A run directory (or a loss-conditional run's evaluation folder RUN/beta=B/, which has the same files
    but config.yaml, model.json and checkpoints)."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def name(self) -> str:
        return self.path.name

    config_file = property(lambda self: self.path / CONFIG)
    model_file = property(lambda self: self.path / MODEL)
    metrics_file = property(lambda self: self.path / METRICS)
    evaluation_file = property(lambda self: self.path / EVALUATION)
    report_file = property(lambda self: self.path / REPORT)
    skipped_file = property(lambda self: self.path / SKIPPED)
    lock_file = property(lambda self: self.path / LOCK)
    status_file = property(lambda self: self.path / STATUS)
    checkpoints = property(lambda self: self.path / "checkpoints")
    figures = property(lambda self: self.path / "figures")
    tensorboard = property(lambda self: self.path / "tensorboard")

    def checkpoint(self, name: str) -> Path:
        """checkpoints/<name>.pt, name `best` or `last`."""
        return self.checkpoints / f"{name}.pt"

    def at_beta(self, beta: float) -> RunDir:
        """RUN/beta=B/: where the evaluation of a loss-conditional run at `beta` goes."""
        return RunDir(self.path / f"beta={format_value(beta)}")

    def on_data(self, spec: str) -> RunDir:
        """RUN/data=NAME/: where an evaluation on another source goes (NAME: the spec's last path part, e.g.
        `data=artworks` for ../shared/data/artworks, `data=fashion-mnist`)."""
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(spec.rstrip("/")).name or spec).strip("-.") or "other"
        return RunDir(self.path / f"data={name}")

    def is_run(self) -> bool:
        return self.config_file.is_file()

    def config(self) -> Config:
        """The run's config.yaml; a folder without one is not a run (a one-line `UsageError`)."""
        if not self.is_run():
            raise UsageError(f"{self.path} is not a run directory (no {CONFIG}): give the --out of a `vaelab train`")
        return Config.load_saved(self.config_file)

    def save_config(self, config: Config) -> None:
        config.save(self.config_file)

    def records(self) -> list[dict[str, Any]]:
        return read_metrics(self.metrics_file)

    def evaluation(self) -> dict[str, Any]:
        """eval.json, {} when the run has not been evaluated (or the file was cut short)."""
        return read_json(self.evaluation_file)

    def save_evaluation(self, results: dict[str, Any]) -> None:
        write_json(self.evaluation_file, results)

    def save_status(self, status: str, **facts: Any) -> None:
        """status.json: one of STATUSES and facts such as the step, the run's length or the error."""
        write_json(self.status_file, {"status": status, **facts})

    def status(self) -> str:
        """How the training stands: "running" while a process holds the run's lock; else the status training
        last wrote, where "running" means its process ended without saying how (killed or crashed): "failed";
        "unknown" for a run from before status.json."""
        if lock_held(self.lock_file):
            return "running"
        saved = read_json(self.status_file).get("status")
        if saved == "running":
            return "failed"
        return saved if saved in STATUSES else "unknown"

    def model_info(self) -> dict[str, Any]:
        """{"model_hparams": ..., "image_shape": [C, H, W]}: model.json, or for runs from before it was
        written, the hyperparameters saved in a checkpoint."""
        info = read_json(self.model_file)
        if info:
            return info
        from vaelab.run_dir.checkpoint import load_checkpoint  # torch, only for runs from before model.json

        for name in ("last", "best"):
            if self.checkpoint(name).is_file():
                return model_info(load_checkpoint(self.checkpoint(name))["model_hparams"])
        raise UsageError(f"{self.path} has no {MODEL} and no checkpoint: train the run first "
                         f"(vaelab train --out {self.path})")

    def save_model_info(self, hparams: dict[str, Any]) -> None:
        write_json(self.model_file, model_info(hparams))

    def image_shape(self) -> tuple[int, int, int]:
        channels, height, width = self.model_info()["image_shape"]
        return channels, height, width


def model_info(hparams: dict[str, Any]) -> dict[str, Any]:
    """model.json's content for a network's constructor arguments."""
    return {"vaelab_version": __version__, "model_hparams": hparams,
            "image_shape": [hparams["channels"], hparams["image_size"], hparams["image_size"]]}


def find_runs(directory: str | Path) -> list[RunDir]:
    """`directory` itself if it is a run, else every run below it (a config.yaml beside a metrics.jsonl),
    sorted by path; symbolic links to runs are followed."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a folder: give a run directory or a folder of runs")
    if RunDir(directory).is_run():
        return [RunDir(directory)]
    found = {path.parent for path in directory.glob(f"**/{CONFIG}") if (path.parent / METRICS).exists()}
    found |= {link for link in directory.iterdir() if link.is_symlink() and RunDir(link).is_run()}
    return [RunDir(path) for path in sorted(found)]


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file's object; {} when the file is missing or cut short."""
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def write_json(path: Path, value: dict[str, Any]) -> None:
    """Atomically, indented; non-finite floats become null (eval.json's convention)."""
    atomic_write_text(path, json.dumps(_json_safe(stored(value)), indent=2) + "\n")


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
