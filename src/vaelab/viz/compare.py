"""Runs side by side: a run directory read back (`RunSummary`), and one figure comparing runs'
loss terms over training and their reconstructions of the same validation images.

Used by `vaelab runs ls/compare`, by the demo, and by the reports of a sweep or a folder of runs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import matplotlib
import numpy as np
import torch

from vaelab.config import Config
from vaelab.data import load_images, split_indices
from vaelab.errors import UsageError
from vaelab.model import ConvVAE, at_beta
from vaelab.training.checkpoint import load_checkpoint
from vaelab.training.loggers import read_metrics
from vaelab.viz.figures import plot_reconstructions
from vaelab.viz.grid import image_row, show

matplotlib.use("Agg")
import matplotlib.pyplot as plt

# The numbers that sum a run up, in the order tables show them: (metric name, column header).
KEY_METRICS = (
    ("recon", "recon (as trained)"),
    ("kl", "KL (nats)"),
    ("beta", "beta"),
    ("elbo", "ELBO, beta=1"),
    ("mse", "MSE"),
    ("sigma", "sigma"),
)


@dataclass
class RunSummary:
    """A run directory read back: its config, every metrics.jsonl record and eval.json (if any)."""

    run_dir: Path
    config: Config
    records: list[dict[str, Any]]
    evaluation: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def steps(self) -> int:
        return max((int(r["step"]) for r in self.records), default=0)

    def final(self, split: str) -> dict[str, Any]:
        """The last loss record of a split ("train" or "val"); {} before the first one is logged.
        (Diagnostics log records of their own, e.g. gradient shares, which hold no `loss`.)"""
        return next((r for r in reversed(self.records) if r.get("split") == split and "loss" in r), {})

    def series(self, split: str, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of one metric in one split, finite values only."""
        points = [(r["step"], r[key]) for r in self.records
                  if r.get("split") == split and isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
        return [p[0] for p in points], [float(p[1]) for p in points]


def read_run(run_dir: str | Path) -> RunSummary:
    """Read RUN/config.yaml, RUN/metrics.jsonl and RUN/eval.json; a folder without config.yaml is refused."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise UsageError(f"{run_dir} is not a run directory (no config.yaml): give the --out of a `vaelab train`")
    evaluation_path = run_dir / "eval.json"
    evaluation = json.loads(evaluation_path.read_text()) if evaluation_path.is_file() else {}
    return RunSummary(run_dir=run_dir, config=Config.load(run_dir / "config.yaml"),
                      records=read_metrics(run_dir / "metrics.jsonl"), evaluation=evaluation)


def find_runs(directory: str | Path) -> list[Path]:
    """`directory` itself if it is a run, else every run directory below it, sorted by path."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a folder: give a run directory or a folder of runs")
    if (directory / "config.yaml").is_file():
        return [directory]
    return sorted(path.parent for path in directory.rglob("config.yaml") if (path.parent / "metrics.jsonl").exists())


@torch.no_grad()
def reconstruct(runs: list[RunSummary], n: int = 10) -> tuple[torch.Tensor, list[tuple[str, torch.Tensor]]]:
    """The first `n` validation images of the first run's data, and each run's reconstructions of them
    (posterior means through the decoder, from checkpoints/last.pt; a loss-conditional model's at the beta
    of the run's config). Every run must share that data."""
    data_config = runs[0].config.data
    different = [run.name for run in runs if run.config.data != data_config]
    if different:
        raise UsageError(f"{', '.join(different)} trained on other data than {runs[0].name}: "
                         "compare reconstructions of runs on the same data")
    data = load_images(data_config)
    _, val_index = split_indices(len(data.images), data_config.val_fraction, data_config.split_seed)
    index = val_index[:n] if len(val_index) else np.arange(min(n, len(data.images)))
    x = torch.from_numpy(np.ascontiguousarray(data.images[index])).float() / 255  # (n, C, H, W)
    rows = []
    for run in runs:
        state = load_checkpoint(run.run_dir / "checkpoints" / "last.pt")
        model = ConvVAE(**state["model_hparams"])
        model.load_state_dict(state["model"])
        model.eval()
        rows.append((run.name, at_beta(model, run.config.objective.beta)(x, sample=False).reconstruction))
    return x, rows


def plot_run_reconstructions(runs: list[tuple[str, Path | RunSummary]], path: Path, *, n: int = 10,
                             title: str = "") -> None:
    """The same `n` validation images on the first row, then one row of reconstructions per
    (label, run directory or run read back); the runs must share their data (see `reconstruct`)."""
    summaries = [run if isinstance(run, RunSummary) else read_run(run) for _, run in runs]
    inputs, rows = reconstruct(summaries, n)
    plot_reconstructions(inputs, [(label, images) for (label, _), (_, images) in zip(runs, rows)], path, title=title)


def plot_comparison(runs: list[RunSummary], path: Path | BinaryIO, *, n: int = 8, reconstructions: bool = True) -> None:
    """Top: the recon term, KL and beta = 1 negative ELBO of every run over training (training averages as
    lines, validation passes as dots, one colour per run). Below (with `reconstructions`): the same
    validation inputs and each run's reconstructions, one row per run."""
    labelled = []
    if reconstructions:
        inputs, rows = reconstruct(runs, n)
        labelled = [("input", inputs), *rows]
    fig = plt.figure(figsize=(10, 3.2 + 0.95 * len(labelled)), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=(3.2, 0.95 * len(labelled))) if labelled else (fig, None)
    axes = top.subplots(1, 3)
    for ax, key, title in zip(axes, ("recon", "kl", "elbo"), ("recon term (as trained)", "KL (nats / image)",
                                                                  "-ELBO, beta = 1 (nats / image)")):
        sign = -1 if key == "elbo" else 1
        magnitudes = []
        for i, run in enumerate(runs):
            colour = f"C{i % 10}"
            for split, style in (("train", "-"), ("val", "o")):
                steps, series = run.series(split, key)
                magnitudes += [sign * v for v in series]
                ax.plot(steps, [sign * v for v in series], style, color=colour, ms=4, lw=1.2, alpha=0.85,
                        label=run.name if split == "train" else None)
        if magnitudes and min(magnitudes) > 0 and max(magnitudes) > 20 * min(magnitudes):
            ax.set_yscale("log")  # e.g. an AE's recon term next to a VAE's, or KLs of 0.1 and 50
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
    axes[0].legend(fontsize=8)
    top.suptitle("loss terms over training: lines are training averages, dots validation passes", fontsize=11)
    if bottom is not None:
        image_axes = bottom.subplots(len(labelled), 1, squeeze=False)[:, 0]
        for ax, (label, images) in zip(image_axes, labelled):
            show(ax, image_row(images))
            ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
        bottom.suptitle("reconstructions of the same validation images", fontsize=11)
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)


def format_table(runs: list[RunSummary], names: list[str] | None = None) -> str:
    """One line per run: name (default: the folder's), description, steps and the final validation
    numbers of KEY_METRICS."""
    names = names or [run.name for run in runs]
    name_width = max(len("run"), *(len(name) for name in names))
    describe_width = max(len("config"), *(len(run.config.describe()) for run in runs))
    header = [f"{'run':<{name_width}}", f"{'config':<{describe_width}}", f"{'steps':>6}"]
    header += [f"{label:>{max(10, len(label))}}" for _, label in KEY_METRICS]
    lines = ["  ".join(header)]
    for name, run in zip(names, runs):
        final = run.final("val")
        cells = [f"{name:<{name_width}}", f"{run.config.describe():<{describe_width}}", f"{run.steps:>6}"]
        cells += [f"{format_number(final.get(key)):>{max(10, len(label))}}" for key, label in KEY_METRICS]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def format_number(value: Any) -> str:
    """4 significant digits; "n/a" for a missing or non-finite number (e.g. the AE's ELBO)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "n/a" if value is None else str(value)
    if not math.isfinite(value):
        return "n/a"
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}"
