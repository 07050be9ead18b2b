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
    Bottom: the weighted loss that was minimised against the beta = 1 negative ELBO at the shared sigma. A model
    without a KL or an ELBO (the autoencoder, whose records hold none, and whose loss is its recon term) gets the
    top panel alone."""
    has = {key: any(_series(rows, split, key)[0] for split in ("train", "val")) for key in ("kl", "elbo_shared_sigma")}
    if not (has["kl"] or has["elbo_shared_sigma"]):  # the loss is the recon term: one panel
        fig, top = plt.subplots(figsize=(8, 4))
        bottom = None
    else:
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, height_ratios=(3, 2))
    terms = [(top, "recon", RECON_COLOUR, "recon")]
    if has["kl"]:
        terms.append((top.twinx(), "kl", KL_COLOUR, "KL"))
    for ax, key, colour, label in terms:
        ax.plot(*_series(rows, "train", key), color=colour, lw=1.2, alpha=0.8, label=f"{label} (train)")
        ax.plot(*_series(rows, "val", key), "o--", color=colour, ms=4, lw=1, label=f"{label} (val)")
        ax.set_ylabel(f"{label} (nats / image)" if key == "kl" else "reconstruction term (as trained)", color=colour)
        ax.tick_params(axis="y", colors=colour)
    lines = [line for ax, *_ in terms for line in ax.get_lines()]
    top.legend(lines, [line.get_label() for line in lines], loc="upper right", fontsize=8)
    top.set_title(title or ("the two loss terms, each on its own scale" if has["kl"] else "the reconstruction term"))
    if bottom is None:
        top.set_xlabel("step")
        fig.tight_layout()
        return save_figure(fig, path)
    curves = [(bottom, "loss", 1, "tab:purple", "loss as minimised")]
    if has["elbo_shared_sigma"]:
        curves.append((bottom.twinx(), "elbo_shared_sigma", -1, "tab:green", "-ELBO at the shared sigma (beta = 1)"))
    for ax, key, sign, colour, label in curves:
        for split, style in (("train", "-"), ("val", "o--")):
            steps, values = _series(rows, split, key)
            ax.plot(steps, [sign * v for v in values], style, color=colour, ms=4, lw=1.2, label=f"{label} ({split})")
        ax.set_ylabel(f"{label}", color=colour)
        ax.tick_params(axis="y", colors=colour)
    lines = [line for ax, *_ in curves for line in ax.get_lines()]
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
