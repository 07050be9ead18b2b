"""The run's figures: the two loss terms over training, reconstructions, and prior samples."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from vaelab.viz.grid import image_grid, image_row, show
from vaelab.viz.saving import save_figure

RECON_COLOUR = "tab:blue"
KL_COLOUR = "tab:red"


def _series(rows: list[dict[str, Any]], split: str, key: str) -> tuple[list[int], list[float]]:
    points = [(r["step"], r[key]) for r in rows if r.get("split") == split and key in r and math.isfinite(r[key])]
    return [p[0] for p in points], [p[1] for p in points]


def plot_losses(rows: list[dict[str, Any]], path: Path, title: str = "") -> Figure:
    """Top: recon (left axis) and KL (right axis), each at its own scale, train lines and val dots.
    Bottom: the weighted loss that was minimised against the beta = 1 negative ELBO."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, height_ratios=(3, 2))
    right = top.twinx()
    for ax, key, colour, label in ((top, "recon", RECON_COLOUR, "recon"), (right, "kl", KL_COLOUR, "KL")):
        ax.plot(*_series(rows, "train", key), color=colour, lw=1.2, alpha=0.8, label=f"{label} (train)")
        ax.plot(*_series(rows, "val", key), "o--", color=colour, ms=4, lw=1, label=f"{label} (val)")
        ax.set_ylabel(f"{label} (nats / image)" if key == "kl" else "reconstruction term (as trained)", color=colour)
        ax.tick_params(axis="y", colors=colour)
    lines = top.get_lines() + right.get_lines()
    top.legend(lines, [line.get_label() for line in lines], loc="upper right", fontsize=8)
    top.set_title(title or "the two loss terms, each on its own scale")
    elbo_axis = bottom.twinx()
    for ax, key, sign, colour, label in (
        (bottom, "loss", 1, "tab:purple", "loss as minimised"),
        (elbo_axis, "elbo", -1, "tab:green", "-ELBO (beta = 1)"),
    ):
        for split, style in (("train", "-"), ("val", "o--")):
            steps, values = _series(rows, split, key)
            ax.plot(steps, [sign * v for v in values], style, color=colour, ms=4, lw=1.2, label=f"{label} ({split})")
        ax.set_ylabel(f"{label}", color=colour)
        ax.tick_params(axis="y", colors=colour)
    lines = bottom.get_lines() + elbo_axis.get_lines()
    bottom.legend(lines, [line.get_label() for line in lines], loc="upper right", fontsize=8)
    bottom.set_xlabel("step")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_reconstructions(inputs, rows: list[tuple[str, Any]], path: Path, title: str = "") -> Figure:
    """The inputs on the first row, then one row of reconstructions per (label, images) pair."""
    labelled = [("input", inputs), *rows]
    fig, axes = plt.subplots(len(labelled), 1, figsize=(min(1.0 * len(inputs), 14), 1.15 * len(labelled) + 0.4))
    axes = [axes] if len(labelled) == 1 else axes
    for ax, (label, images) in zip(axes, labelled):
        show(ax, image_row(images))
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_samples(images, path: Path, columns: int = 8, title: str = "decodes of z ~ N(0, I)") -> Figure:
    fig, ax = plt.subplots(figsize=(columns * 0.9, math.ceil(len(images) / columns) * 0.9 + 0.4))
    show(ax, image_grid(images, columns))
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
