"""Figures of the diagnostics (vaelab.diagnostics): gradients.png, kl_per_dim.png, interpolations.png,
traversals.png and latent_map.png in RUN/figures/."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from vaelab.viz.colours import distinct_styles
from vaelab.viz.figures import KL_COLOUR, WIDTH, wrapped
from vaelab.viz.grid import image_row, show
from vaelab.viz.saving import save_figure

GROUP_COLOURS = {"encoder": "black", "encoder_body": "tab:green", "mean_head": "tab:blue",
                 "logvar_head": "tab:orange"}
INACTIVE_COLOUR = "0.7"


def _grad_series(rows: list[dict[str, Any]], key: str) -> tuple[list[int], list[float], list[list[float] | None]]:
    """(steps, values, intervals) of one gradient-view metric; intervals from `<name>_ci/<group>` where logged."""
    name, _, group = key.partition("/")
    points = [(r["step"], r[key], r.get(f"{name}_ci/{group}")) for r in rows
              if isinstance(r.get(key), float) and math.isfinite(r[key])]
    return [p[0] for p in points], [p[1] for p in points], [p[2] for p in points]


def _band(ax: matplotlib.axes.Axes, steps: list[int], intervals: list[list[float] | None], colour: str) -> None:
    known = [(s, ci) for s, ci in zip(steps, intervals) if ci is not None and None not in ci]
    if len(known) > 1:
        ax.fill_between([s for s, _ in known], [ci[0] for _, ci in known], [ci[1] for _, ci in known],
                        color=colour, alpha=0.15, lw=0)


def plot_gradients(rows: list[dict[str, Any]], path: Path, title: str = "") -> Figure:
    """Over training (the records of diagnostics.gradients): the norms of the two gradients per group, the
    ratio |grad beta KL| / |grad recon| and their cosine, each with its 95% interval over the fixed batches,
    in gradient descent (solid) and in Adam's preconditioned coordinates (dashed). A run whose KL term has no
    gradient anywhere (the autoencoder has no KL term) gets the norms alone: no ratio or cosine to draw."""
    with_kl = any(value > 0 for group in GROUP_COLOURS for value in _grad_series(rows, f"grad_kl_norm/{group}")[1])
    if not with_kl:
        fig, norms = plt.subplots(figsize=(8, 4))
        ratio = cosine = None
    else:
        fig, (norms, ratio, cosine) = plt.subplots(3, 1, figsize=(8, 8.5), sharex=True, height_ratios=(3, 2, 2))
    for group, colour in GROUP_COLOURS.items():
        for name, style, label in (("grad_recon_norm", "-", "|grad recon|"), ("grad_kl_norm", "--", "|grad beta KL|")):
            steps, values, _ = _grad_series(rows, f"{name}/{group}")
            positive = [(s, v) for s, v in zip(steps, values) if v > 0]
            if positive:
                norms.plot(*zip(*positive), style, color=colour, lw=1.2, label=f"{label}, {group}")
        for ax, name in ((ratio, "ratio"), (cosine, "cosine")) if with_kl else ():
            for prefix, style in (("grad", "-"), ("adam", "--")):
                steps, values, intervals = _grad_series(rows, f"{prefix}_{name}/{group}")
                if steps:
                    ax.plot(steps, values, style, color=colour, lw=1.2, marker=".", ms=3,
                            label=f"{group}{', Adam' if prefix == 'adam' else ''}")
                    _band(ax, steps, intervals, colour)
    steps, values, _ = _grad_series(rows, "grad_recon_norm/decoder")
    if steps:
        norms.plot(steps, values, ":", color="tab:red", lw=1.2, label="|grad recon|, decoder (no KL there)")
    norms.set_yscale("log")
    norms.set_ylabel("gradient norm")
    _legend(norms, ncol=2)
    norms.set_title(wrapped(title or "gradients of the two loss terms", 8, 12))
    if not with_kl:
        norms.set_xlabel("step (no KL term: the reconstruction's gradient alone)")
        fig.tight_layout()
        return save_figure(fig, path)
    ratio.axhline(1, color="0.5", lw=0.8)
    ratio.set_yscale("log")
    ratio.set_ylabel("|grad beta KL| / |grad recon|\n(solid: gradient; dashed: Adam)")
    _legend(ratio, ncol=2)
    cosine.axhline(0, color="0.5", lw=0.8)
    cosine.axhspan(-1.05, -0.9, color="0.9", lw=0, zorder=0)
    cosine.set_ylim(-1.05, 1.05)
    cosine.set_ylabel("cosine(recon, KL)\n(-1: they cancel)")
    _legend(cosine, ncol=2)
    cosine.set_xlabel("step (bands: 95% intervals over the fixed batches)")
    fig.tight_layout()
    return save_figure(fig, path)


def _legend(ax: matplotlib.axes.Axes, ncol: int = 1) -> None:
    """A legend where the panel has labelled lines (the AE's KL panels have none)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, ncol=ncol, loc="best")


def plot_kl_per_dim(kl: np.ndarray | None, variance: np.ndarray, threshold: float, path: Path,
                    title: str = "") -> Figure:
    """Bars per latent dimension, sorted: the KL (VAE) and Var_x E[z_j|x], active dimensions in colour.

    For the autoencoder (kl=None) only the variance of the codes is drawn. The figure is the report column's
    width whatever the latent size, so that its text is shown at its own size: with many dimensions the bars
    get thinner and only some of them are labelled, never the font smaller.
    """
    order = np.argsort(-(kl if kl is not None else variance))
    active = variance[order] > threshold
    colours = [KL_COLOUR if a else INACTIVE_COLOUR for a in active]
    panels = 2 if kl is not None else 1
    fig, axes = plt.subplots(panels, 1, figsize=(WIDTH, 2.6 * panels + 0.9), sharex=True, layout="constrained")
    axes = np.atleast_1d(axes)
    x = np.arange(len(order))
    if kl is not None:
        axes[0].bar(x, kl[order], color=colours, width=0.85)
        axes[0].set_ylabel("KL per dimension\n(nats / image)", fontsize=9)
    axes[-1].bar(x, variance[order], color=colours, width=0.85)
    axes[-1].axhline(threshold, color="k", lw=0.8, ls="--")
    axes[-1].set_yscale("log")
    axes[-1].set_ylabel("Var_x E[z_j | x]", fontsize=9)
    step = max(1, math.ceil(len(order) / 24))  # at most 24 labels: 9-point digits fit the width
    axes[-1].set_xticks(x[::step], [str(d) for d in order[::step]], fontsize=8)
    axes[-1].set_xlim(-0.7, len(order) - 0.3)
    axes[-1].set_xlabel("latent dimension (sorted; the label is its index)", fontsize=9)
    legend = [Patch(color=KL_COLOUR, label="active"), Patch(color=INACTIVE_COLOUR, label="inactive"),
              Line2D([], [], color="k", lw=0.8, ls="--", label=f"active above {threshold:g} (Burda et al. 2016)")]
    fig.legend(handles=legend, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(wrapped(title or f"{int(active.sum())} of {len(order)} dimensions active", WIDTH, 10), fontsize=10)
    return save_figure(fig, path)


def plot_interpolations(inputs: np.ndarray, paths: np.ndarray, ratios: np.ndarray, path: Path,
                        title: str = "") -> Figure:
    """One row per pair: the first input, the decoded path between the two codes, the second input.

    inputs: (P, 2, C, H, W); paths: (P, T + 1, C, H, W); ratios: (P,), the path ratio of each row.
    """
    pairs, points = paths.shape[:2]
    fig, axes = plt.subplots(pairs, 1, figsize=(min(0.75 * (points + 3), 16), 0.8 * pairs + 0.8))
    axes = np.atleast_1d(axes)
    for ax, ends, decoded, ratio in zip(axes, inputs, paths, ratios):
        first, middle, last = image_row(ends[:1]), image_row(decoded), image_row(ends[1:])
        gap = np.ones((first.shape[0], max(2, first.shape[1] // 3), first.shape[2]), dtype=first.dtype)
        show(ax, np.concatenate([first, gap, middle, gap, last], axis=1))
        ax.set_ylabel(f"{ratio:.2f}", rotation=0, ha="right", va="center", fontsize=9)
    axes[0].set_title(wrapped(title or "input | decoded linear interpolation of the posterior means | input",
                              fig.get_figwidth(), 10), fontsize=10)
    axes[-1].set_xlabel("row label: decoded path length / end-to-end distance (1 = straight)", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_traversals(images: np.ndarray, dims: list[int], values: np.ndarray, kl: np.ndarray | None, path: Path,
                    title: str = "") -> Figure:
    """One row per latent dimension: decodes with that dimension swept, the others at a fixed code.

    images: (R, V, C, H, W); values: (R, V), the values the dimension of each row takes.
    """
    rows, columns = images.shape[:2]
    fig, axes = plt.subplots(rows, 1, figsize=(min(0.75 * columns + 1.5, 16), 0.8 * rows + 0.8))
    axes = np.atleast_1d(axes)
    for ax, row, dim, span in zip(axes, images, dims, values):
        show(ax, image_row(row))
        label = f"z{dim}" + (f"\nKL {kl[dim]:.2f}" if kl is not None else "")
        label += f"\n[{span[0]:.1f}, {span[-1]:.1f}]"
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    axes[0].set_title(wrapped(title or "latent traversals of the most informative dimensions", fig.get_figwidth(), 10),
                      fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_latent_map(points: np.ndarray, labels: np.ndarray | None, classes: list[str] | None,
                    explained: np.ndarray, path: Path, title: str = "") -> Figure:
    """The posterior means projected on their first two principal components, coloured by label if any.

    points: (N, 2); explained: the share of the variance each component explains, (2,). Every class gets a
    style of its own (colours.distinct_styles: a colour, and past ten classes a marker too) and a line in the
    legend, which sits beside the map, never on it.
    """
    fig, ax = plt.subplots(figsize=(WIDTH, 5.6), layout="constrained")
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=6, alpha=0.6, color="tab:blue")
    else:
        present = np.unique(labels)
        for (colour, marker), label in zip(distinct_styles(len(present)), present):
            chosen = labels == label
            name = classes[label] if classes is not None and label < len(classes) else str(label)
            ax.scatter(points[chosen, 0], points[chosen, 1], s=10, alpha=0.75, color=colour, marker=marker,
                       label=name, gid=f"class/{name}")
        fig.legend(fontsize=7, markerscale=1.5, loc="outside right upper", ncol=1 + (len(present) - 1) // 16,
                   title=f"{len(present)} classes", title_fontsize=8)
    ax.set_xlabel(f"PC 1 ({100 * explained[0]:.0f}% of the variance)")
    ax.set_ylabel(f"PC 2 ({100 * explained[1]:.0f}% of the variance)")
    ax.set_title(wrapped(title or "posterior means, first two principal components", WIDTH * 0.6, 10), fontsize=10)
    return save_figure(fig, path)
