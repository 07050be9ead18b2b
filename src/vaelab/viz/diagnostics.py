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

from vaelab.viz.figures import KL_COLOUR, RECON_COLOUR
from vaelab.viz.grid import image_row, show
from vaelab.viz.saving import save_figure

PART_STYLES = {"encoder": "-", "decoder": ":", "all": "--"}
INACTIVE_COLOUR = "0.7"


def _grad_series(rows: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    points = [(r["step"], r[key]) for r in rows if key in r and isinstance(r[key], float) and math.isfinite(r[key])]
    return [p[0] for p in points], [p[1] for p in points]


def plot_gradients(rows: list[dict[str, Any]], path: Path, title: str = "") -> Figure:
    """Over training: the norms of the two gradients, their cosine, and the KL term's share of the update,
    for the encoder, the decoder and all parameters (the records of diagnostics.gradients)."""
    fig, (norms, cosine, share) = plt.subplots(3, 1, figsize=(8, 8), sharex=True, height_ratios=(3, 2, 2))
    for part, style in PART_STYLES.items():
        for name, colour, label in (("grad_recon_norm", RECON_COLOUR, "|grad recon|"),
                                    ("grad_kl_norm", KL_COLOUR, "|grad beta KL|")):
            steps, values = _grad_series(rows, f"{name}/{part}")
            positive = [(s, v) for s, v in zip(steps, values) if v > 0]  # the decoder's KL gradient is 0
            if positive:
                norms.plot(*zip(*positive), style, color=colour, lw=1.3, label=f"{label}, {part}")
        for ax, name, colour in ((cosine, "grad_cosine", "tab:purple"), (share, "grad_kl_share", KL_COLOUR)):
            steps, values = _grad_series(rows, f"{name}/{part}")
            if steps:  # the decoder's cosine is undefined: its KL gradient is 0
                ax.plot(steps, values, style, color=colour, lw=1.3, label=part)
    norms.set_yscale("log")
    norms.set_ylabel("gradient norm")
    _legend(norms, ncol=2)
    norms.set_title(title or "gradients of the two loss terms")
    cosine.axhline(0, color="0.5", lw=0.8)
    cosine.set_ylim(-1.05, 1.05)
    cosine.set_ylabel("cosine(recon, KL)\n(-1: they fight)")
    _legend(cosine)
    share.axhline(0, color="0.5", lw=0.8)
    share.axhline(1, color="0.5", lw=0.8)
    share.set_yscale("symlog", linthresh=1)  # linear in [-1, 1]; large when the two terms nearly cancel
    low, high = share.get_ylim()
    share.set_yticks([t for t in (-1000, -100, -10, -1, -0.5, 0, 0.5, 1, 10, 100, 1000) if low <= t <= high])
    share.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    share.set_ylabel("KL share of the update\n<g_kl, g> / |g|^2")
    _legend(share)
    share.set_xlabel("step")
    fig.tight_layout()
    return save_figure(fig, path)


def _legend(ax: matplotlib.axes.Axes, ncol: int = 1) -> None:
    """A legend where the panel has labelled lines (the AE's KL panels have none)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, ncol=ncol, loc="best")


def plot_kl_per_dim(kl: np.ndarray | None, variance: np.ndarray, threshold: float, path: Path, title: str = "") -> Figure:
    """Bars per latent dimension, sorted: the KL (VAE) and Var_x E[z_j|x], active dimensions in colour.

    For the autoencoder (kl=None) only the variance of the codes is drawn.
    """
    order = np.argsort(-(kl if kl is not None else variance))
    active = variance[order] > threshold
    colours = [KL_COLOUR if a else INACTIVE_COLOUR for a in active]
    panels = 2 if kl is not None else 1
    width = min(max(6.0, 0.22 * len(order) + 2), 16)
    fig, axes = plt.subplots(panels, 1, figsize=(width, 2.6 * panels + 0.6), sharex=True)
    axes = np.atleast_1d(axes)
    x = np.arange(len(order))
    if kl is not None:
        axes[0].bar(x, kl[order], color=colours)
        axes[0].set_ylabel("KL per dimension\n(nats / image)")
    axes[-1].bar(x, variance[order], color=colours)
    axes[-1].axhline(threshold, color="k", lw=0.8, ls="--", label=f"active above {threshold:g} (Burda et al. 2016)")
    axes[-1].set_yscale("log")
    axes[-1].set_ylabel("Var_x E[z_j | x]")
    axes[-1].legend(fontsize=8, loc="upper right")
    step = max(1, len(order) // 32)
    axes[-1].set_xticks(x[::step], [str(d) for d in order[::step]], fontsize=7)
    axes[-1].set_xlabel("latent dimension (sorted)")
    axes[0].set_title(title or f"{int(active.sum())} of {len(order)} dimensions active", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_interpolations(inputs: np.ndarray, paths: np.ndarray, ratios: np.ndarray, path: Path, title: str = "") -> Figure:
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
    axes[0].set_title(title or "input | decoded linear interpolation of the posterior means | input", fontsize=10)
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
    axes[0].set_title(title or "latent traversals of the most informative dimensions", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_latent_map(points: np.ndarray, labels: np.ndarray | None, classes: list[str] | None,
                    explained: np.ndarray, path: Path, title: str = "") -> Figure:
    """The posterior means projected on their first two principal components, coloured by label if any.

    points: (N, 2); explained: the share of the variance each component explains, (2,).
    """
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=6, alpha=0.6, color="tab:blue")
    else:
        present = np.unique(labels)
        cmap = plt.get_cmap("tab10" if len(present) <= 10 else "tab20" if len(present) <= 20 else "viridis")
        for i, label in enumerate(present):
            chosen = labels == label
            name = classes[label] if classes is not None and label < len(classes) else str(label)
            colour = cmap(i % cmap.N) if len(present) <= 20 else cmap(i / max(1, len(present) - 1))
            ax.scatter(points[chosen, 0], points[chosen, 1], s=6, alpha=0.7, color=colour, label=name)
        if len(present) <= 20:
            ax.legend(fontsize=7, markerscale=2, loc="best")
        else:  # too many for a legend: say what the colours are
            ax.text(0.01, 0.99, f"colour: one per class ({len(present)} classes)", transform=ax.transAxes,
                    fontsize=8, va="top")
    ax.set_xlabel(f"PC 1 ({100 * explained[0]:.0f}% of the variance)")
    ax.set_ylabel(f"PC 2 ({100 * explained[1]:.0f}% of the variance)")
    ax.set_title(title or "posterior means, first two principal components", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
