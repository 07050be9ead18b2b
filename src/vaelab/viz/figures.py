"""The run's figures: the two loss terms over training, reconstructions, and prior samples."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from vaelab.config import Config, ObjectiveConfig
from vaelab.viz.grid import image_grid, image_row, show
from vaelab.viz.saving import save_figure

RECON_COLOUR = "tab:blue"
KL_COLOUR = "tab:red"
LOSS_COLOUR = "tab:purple"
ELBO_COLOUR = "tab:green"
OWN_ELBO_COLOUR = "tab:olive"
BETA_COLOUR = "tab:orange"
SIGMA_COLOUR = "tab:brown"
RMS_COLOUR = "tab:gray"
RECONSTRUCTION_COLUMNS = 5  # images a row in reconstructions.png
WIDTH = 8.1  # inches: at DPI 100 the report's column (54rem less its padding) shows the figure at its own size
TRAIN, VAL = {"ls": "-", "lw": 1.2, "alpha": 0.85}, {"ls": "--", "marker": "o", "ms": 3.5, "lw": 0.8}


def _series(rows: list[dict[str, Any]], split: str, key: str) -> tuple[list[int], list[float]]:
    points = [(r["step"], r[key]) for r in rows
              if r.get("split") == split and key in r and isinstance(r[key], (int, float)) and math.isfinite(r[key])]
    return [p[0] for p in points], [p[1] for p in points]


def _draw(ax, rows, key: str, colour: str, *, transform=None, gid: str | None = None) -> list[float]:
    """Training averages as a line and validation passes as dots of one quantity; returns the values drawn."""
    drawn = []
    for split, style in (("train", TRAIN), ("val", VAL)):
        steps, values = _series(rows, split, key)
        values = [transform(v) for v in values] if transform else values
        ax.plot(steps, values, color=colour, gid=f"{gid or key}/{split}", **style)
        drawn += values
    return drawn


def _log_if_wide(ax, values: list[float]) -> None:
    if values and min(values) > 0 and max(values) > 20 * min(values):
        log_axis(ax)


def log_axis(ax) -> None:
    """A log y axis with plain tick labels (0.2, 5, 300 rather than 2 x 10^-1)."""
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)


def plain_log_ticks(axis) -> None:
    """Ticks of a log axis as plain numbers, the minor ones labelled at 2 and 5 times a power of ten."""
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(FuncFormatter(lambda value, _: f"{value:g}" if f"{value:.0e}"[0] in "25" else ""))


def plot_losses(rows: list[dict[str, Any]], path: Path, title: str = "", *, config: Config | None = None) -> Figure:
    """Six panels over training, each quantity on an axis of its own (no twin axes, so no curve hides another):

        the reconstruction term (as trained)       the KL (and capacity control's C(t))
        the loss as minimised                      the beta = 1 negative ELBO
        the KL weight in force, beta(t)            the pixel scale: the decoder sigma beside the RMS error
        (GECO: 1 / lambda, lambda on the right)    sqrt(MSE), the sigma that fits the reconstructions best

    Lines are training averages, dots validation passes; one legend above the panels says so and names the
    extra lines, so that no legend sits on the data. `config` (the run's) names the weighting in the beta panel
    and draws GECO's target and bound."""
    objective = None if config is None else config.objective
    fig, axes = plt.subplots(3, 2, figsize=(WIDTH, 8.6), sharex=True, layout="constrained")
    (recon, kl), (loss, elbo), (beta, scale) = axes
    extra = []
    _draw(recon, rows, "recon", RECON_COLOUR)
    recon.set_title("reconstruction term (as trained)", fontsize=10)
    kl_values = [v for split in ("train", "val") for v in _series(rows, split, "kl")[1] if math.isfinite(v)]
    autoencoder = (config is not None and config.model.kind == "ae") or (rows and not kl_values)
    if autoencoder:  # a point mass has no density: no KL, no ELBO (its records hold none)
        for ax, words in ((kl, "no KL term: a point-mass posterior"), (elbo, "no ELBO: a point mass has no density")):
            ax.text(0.5, 0.5, words, ha="center", va="center", transform=ax.transAxes, color="0.4")
            ax.set_yticks([])
    else:
        _log_if_wide(kl, _draw(kl, rows, "kl", KL_COLOUR))
        if _series(rows, "val", "elbo_shared_sigma")[0] or _series(rows, "train", "elbo_shared_sigma")[0]:
            _draw(elbo, rows, "elbo_shared_sigma", ELBO_COLOUR, transform=lambda v: -v)
            extra.append(Line2D([], [], color=ELBO_COLOUR, label="-ELBO at the shared sigma^2 = 1/2 (runs compare by it)"))
            extra.append(Line2D([], [], color=OWN_ELBO_COLOUR, label="-ELBO at the run's own sigma"))
        _draw(elbo, rows, "elbo", OWN_ELBO_COLOUR, transform=lambda v: -v)
    kl.set_title("KL (nats / image)", fontsize=10)
    steps, capacity = _series(rows, "train", "capacity")
    if steps:
        kl.plot(steps, capacity, ":", color="black", lw=1.2, gid="capacity")
        extra.append(Line2D([], [], ls=":", color="black", label="capacity C(t), the KL's target"))
    _draw(loss, rows, "loss", LOSS_COLOUR)
    loss.set_title("loss as minimised", fontsize=10)
    elbo.set_title("-ELBO, beta = 1 (nats / image)", fontsize=10)
    if autoencoder:
        beta.text(0.5, 0.5, "no KL term: no weight", ha="center", va="center", transform=beta.transAxes, color="0.4")
        beta.set_yticks([])
    else:
        extra += _draw_weight(beta, rows, objective)
    extra += _draw_pixel_scale(scale, rows, objective)
    for ax in axes[-1]:
        ax.set_xlabel("step")
    handles = [Line2D([], [], color="0.3", **TRAIN, label="training average"),
               Line2D([], [], color="0.3", **VAL, label="validation pass"), *extra]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(3, len(handles)), fontsize=8, frameon=False)
    fig.suptitle(wrapped(title or "the loss terms over training, each on its own scale", WIDTH, 11), fontsize=11)
    return save_figure(fig, path)


def _draw_weight(ax, rows, objective: ObjectiveConfig | None) -> list[Line2D]:
    """beta(t), the KL weight in force; under GECO also lambda = 1 / beta as a second scale of the same curve, and
    the bound 1 / geco_lambda_max where the weight came down to it."""
    values = _draw(ax, rows, "beta", BETA_COLOUR)
    method = "beta(t)"
    extra = []
    if objective is not None and objective.geco_target is not None:
        method = "beta(t) = 1 / lambda (GECO)"
        log_axis(ax)
        second = ax.secondary_yaxis("right", functions=(_reciprocal, _reciprocal))
        second.set_ylabel("lambda", fontsize=9)
        plain_log_ticks(second.yaxis)
        floor = 1 / objective.geco_lambda_max
        if values and min(values) <= floor * 1.001:
            ax.axhline(floor, ls=":", color="black", lw=1)
            extra.append(Line2D([], [], ls=":", color="black", label="bound 1 / geco_lambda_max: target out of reach"))
    else:
        if objective is not None and objective.capacity is not None:
            method = "gamma, capacity control's weight"
        elif objective is not None and objective.beta_schedule != "constant":
            method = f"beta(t), schedule {objective.beta_schedule}"
        _log_if_wide(ax, values)
    ax.set_title(f"KL weight in force: {method}", fontsize=10)
    return extra


def _draw_pixel_scale(ax, rows, objective: ObjectiveConfig | None) -> list[Line2D]:
    """The decoder sigma (implied, fixed, learned or fitted) against the RMS error sqrt(MSE), on the 0-1 pixel
    scale; GECO's target as an RMS error, sqrt(kappa), where kappa is an MSE."""
    extra = []
    if _draw(ax, rows, "sigma", SIGMA_COLOUR):
        extra.append(Line2D([], [], color=SIGMA_COLOUR, label="decoder sigma"))
    _draw(ax, rows, "mse", RMS_COLOUR, transform=math.sqrt, gid="rms")
    extra.append(Line2D([], [], color=RMS_COLOUR, label="RMS error sqrt(MSE): the best-fitting sigma"))
    if objective is not None and objective.geco_target is not None and objective.geco_units == "mse":
        ax.axhline(math.sqrt(objective.geco_target), ls=":", color=RMS_COLOUR, lw=1, gid="geco_target")
        extra.append(Line2D([], [], ls=":", color=RMS_COLOUR, label="GECO's target, sqrt(kappa)"))
    ax.set_title("pixel scale (0-1 pixels)", fontsize=10)
    _log_if_wide(ax, [line_value for line in ax.get_lines() for line_value in line.get_ydata()])
    return extra


def _reciprocal(values):
    with np.errstate(divide="ignore"):
        return 1 / np.asarray(values, dtype=float)


def wrapped(text: str, width_inches: float, fontsize: float) -> str:
    """`text` broken into lines that fit `width_inches` at `fontsize` points (a character is about 0.6 em wide),
    so that a long title is never cut at the figure's edge."""
    per_line = max(20, int(width_inches * 72 / (0.6 * fontsize)))
    return "\n".join(part for line in text.split("\n") for part in textwrap.wrap(line, per_line) or [""])


def plot_reconstructions(inputs, rows: list[tuple[str, Any]], path: Path, title: str = "") -> Figure:
    """The inputs on the first row, then one row of reconstructions per (label, images) pair, RECONSTRUCTION_COLUMNS
    images a row: more inputs continue in a second block of the same rows, so that each image is drawn at about
    150 pixels in the report's column rather than shrunk to fit one long row."""
    labelled = [("input", inputs), *rows]
    count = len(inputs)
    columns = min(count, RECONSTRUCTION_COLUMNS)
    blocks = [(start, min(start + columns, count)) for start in range(0, count, columns)]
    height, width = image_row(inputs[:1]).shape[:2]
    label_inches, image_inches = 1.5, (WIDTH - 1.7) / columns
    row_inches = image_inches * height / width + 0.12
    fig, axes = plt.subplots(len(blocks) * len(labelled), 1, squeeze=False,
                             figsize=(WIDTH, row_inches * len(blocks) * len(labelled) + 0.25 * len(blocks) + 0.5))
    for block, (start, stop) in enumerate(blocks):
        for i, (label, images) in enumerate(labelled):
            ax = axes[block * len(labelled) + i, 0]
            show(ax, image_row(images[start:stop]))
            ax.set_ylabel(label if len(blocks) == 1 else f"{label}\n{start + 1}-{stop}", rotation=0, ha="right",
                          va="center", fontsize=9)
    fig.subplots_adjust(left=label_inches / WIDTH, right=0.99, top=1 - 0.5 / fig.get_figheight(), bottom=0.01,
                        hspace=0.08)
    if title:
        fig.suptitle(wrapped(title, WIDTH, 10), fontsize=10)
    return save_figure(fig, path)


def plot_samples(images, path: Path, columns: int = 8, title: str = "decodes of z ~ N(0, I)") -> Figure:
    heading = wrapped(title, columns * 0.9, 10)
    fig, ax = plt.subplots(figsize=(columns * 0.9, math.ceil(len(images) / columns) * 0.9 + 0.25 + 0.2 * (
        heading.count("\n") + 1)))
    show(ax, image_grid(images, columns))
    ax.set_title(heading, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
