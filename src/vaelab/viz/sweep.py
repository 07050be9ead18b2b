"""A sweep's figures, from its summary rows (vaelab.sweep.summary): the rate-distortion plane and the
final metrics against beta. Rows are dicts with the summary.csv columns; grid values under their
dotted keys.

    plot_rate_distortion(rows, path, ...)    SWEEP/figures/rate_distortion.png
    plot_metrics_vs_beta(rows, path, ...)    SWEEP/figures/metrics_vs_beta.png

Numbers that are missing or not finite (the beta = 1 ELBO of beta = 0 under sse, whose implied
sigma is 0) are left out of a plot, and a note on the plot names the runs left out.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from vaelab.numbers import format_value
from vaelab.viz.colours import MARKERS, distinct_colours
from vaelab.viz.figures import wrapped
from vaelab.viz.saving import save_figure

Row = dict[str, Any]
LEGEND_COLUMNS = 3  # the rate-distortion legend's, in its rows above the plot
SQUARED_ERROR = ("sse", "mse-mean")


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def groups(rows: Sequence[Row], group_keys: Sequence[str]) -> list[tuple[str, list[Row]]]:
    """Rows split by their values of `group_keys` (the axes other than beta), each sorted by beta, in
    order of first appearance; labelled e.g. "latent_dim=32" for a config key, by the value alone for another key
    (a caller's own grouping, e.g. "model": "one loss-conditional model"); "all runs" without group keys."""
    found: dict[tuple, list[Row]] = {}
    for row in rows:
        found.setdefault(tuple(row.get(key) for key in group_keys), []).append(row)
    labelled = []
    for values, members in found.items():
        label = ", ".join(f"{key.rpartition('.')[2]}={format_value(value)}" if "." in key else format_value(value)
                          for key, value in zip(group_keys, values))
        label = label or "all runs"
        labelled.append((label, sorted(members, key=lambda row: row["beta"] if finite(row["beta"]) else math.inf)))
    return labelled


def elbo_offset(rows: Sequence[Row], recon: str | None) -> float | None:
    """c in -ELBO = R + D + c for the distortion D of the summary, or None when the runs do not share one.

    sse: read as a Gaussian decoder, the seed's loss SSE + beta * KL has sigma^2 = beta / 2 (DESIGN.md),
    so the beta = 1 objective is the Gaussian with sigma^2 = 1/2, whose -log p(x|z) is
    SSE / (2 sigma^2) + P log sigma + (P / 2) log(2 pi) = SSE + (P / 2) log(pi) over P pixels: hence
    -ELBO = D + R + (P / 2) log(pi). mse-mean's distortion is the same SSE (recon * P). Every other
    likelihood's distortion is -log p(x|z) itself: c = 0.
    """
    if recon is None:
        return None
    if recon not in SQUARED_ERROR:
        return 0.0
    pixels = {row.get("pixels") for row in rows}
    if len(pixels) != 1 or not finite(next(iter(pixels))):
        return None
    return next(iter(pixels)) / 2 * math.log(math.pi)


def plot_rate_distortion(rows: Sequence[Row], path: Path, *, group_keys: Sequence[str] = (), recon: str | None = None,
                         title: str = "") -> Figure:
    """Rate R (x, nats) against distortion D (y) for every run, coloured by beta and joined along beta for
    each setting of the other axes, with iso-ELBO lines and the beta = 1 points ringed.

    Why the iso-ELBO lines are straight lines of slope -1: the ELBO is -(distortion + rate) when the
    distortion is -log p(x|z) (Alemi et al. 2018), so it is constant along D + R = const. For sse the
    distortion is the summed squared error, and the beta = 1 objective reads it as a Gaussian decoder with
    sigma^2 = 1/2: -ELBO = SSE + KL + (P / 2) log(pi) (see `elbo_offset`), again D + R = const: that is the
    ELBO at the shared sigma, `elbo_shared_sigma`, of every run (not each run's own `elbo`, under sigma^2 = beta / 2).
    The lines are labelled with the quantity they are level in (`iso_quantity`) when `recon` is given and the runs
    share their pixel count, else with R + D. Towards the lower left the ELBO is higher.

    A plain autoencoder (a row with `model.kind` "ae") has no rate: its codes are points, whose KL to the prior
    is not finite. It is drawn as a horizontal line at its distortion, not as a point at rate 0.
    """
    autoencoders = [row for row in rows if row.get("model.kind") == "ae" and finite(row.get("distortion"))]
    rows = [row for row in rows if row not in autoencoders]
    shown = [row for row in rows if finite(row.get("rate")) and finite(row.get("distortion"))]
    left_out = [row["run"] for row in rows if row not in shown]
    fig, ax = plt.subplots(figsize=(9, 7.2))
    betas = [row["beta"] for row in shown if finite(row.get("beta")) and row["beta"] > 0]
    norm = LogNorm(vmin=min(betas), vmax=max(betas)) if len(set(betas)) > 1 else None  # one beta: no scale to show
    for index, (label, members) in enumerate(groups(shown, group_keys)):
        marker = MARKERS[index % len(MARKERS)]
        rate = [row["rate"] for row in members]
        dist = [row["distortion"] for row in members]
        ax.plot(rate, dist, "-", color="0.55", lw=1.2, zorder=1)
        for row in members:
            beta = row.get("beta")
            colour = "white" if not finite(beta) or beta <= 0 else (
                plt.get_cmap("viridis")(norm(beta)) if norm is not None else "tab:blue")
            ax.scatter(row["rate"], row["distortion"], s=60, marker=marker, color=colour, edgecolors="black",
                       linewidths=0.8, zorder=3)
            if finite(beta) and beta == 1:
                ax.scatter(row["rate"], row["distortion"], s=320, facecolors="none", edgecolors="tab:red",
                           linewidths=1.8, zorder=2)
            ax.annotate(f"β={beta:g}" if finite(beta) else "β=?", (row["rate"], row["distortion"]),
                        xytext=(6, 4), textcoords="offset points", fontsize=7)
        ax.plot([], [], marker, ls="-", color="0.55", mfc="white", mec="black", label=label)
    if any(finite(row.get("beta")) and row["beta"] == 1 for row in shown):
        ax.scatter([], [], s=160, facecolors="none", edgecolors="tab:red", linewidths=1.8,
                   label="β = 1: the ELBO itself is trained")
    if any(row.get("beta") == 0 for row in shown):
        ax.scatter([], [], s=60, color="white", edgecolors="black", label="β = 0 (white): no KL pressure")
    if norm is not None:
        colourbar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=ax, pad=0.02)
        colourbar.set_label("β (KL weight)")
    _seed_error_bars(ax, shown)
    if shown:
        _iso_elbo_lines(ax, shown + [{**row, "rate": 0.0} for row in autoencoders], elbo_offset(shown, recon),
                        iso_quantity(recon))
    for row in autoencoders:
        ax.axhline(row["distortion"], color="black", ls=(0, (6, 2)), lw=1.2, zorder=2,
                   label=f"{row['run']}: autoencoder, no rate (point codes)")
    ax.set_xlabel("rate R = KL[q(z|x) || N(0, I)]  (nats / image)")
    ax.set_ylabel(f"distortion D  ({_distortion_unit(recon)})")
    entries = len(ax.get_legend_handles_labels()[1])
    rows_of_legend = math.ceil(entries / LEGEND_COLUMNS)
    if entries:  # above the plot, off the points and the iso-ELBO labels
        ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0, 1.01), ncol=min(entries, LEGEND_COLUMNS),
                  borderaxespad=0, frameon=False)
    heading = wrapped(title or "rate against distortion, one point per run", 7.5, 12)
    ax.set_title(heading, pad=8 + 15 * rows_of_legend)
    _caption(fig, _rate_distortion_caption(recon) + _left_out_note(left_out, "rate or distortion"),
             top=0.93 - 0.03 * rows_of_legend - 0.03 * heading.count("\n"))
    return save_figure(fig, path)


def plot_metrics_vs_beta(rows: Sequence[Row], path: Path, *, group_keys: Sequence[str] = (), recon: str | None = None,
                         title: str = "") -> Figure:
    """The final beta = 1 ELBO, MSE and active units against beta, one line per setting of the other axes.

    beta is on a log axis; runs with beta = 0, which a log axis cannot place, sit in a narrow panel of
    their own on the left, not joined to the others. The ELBO panel leads with the bound at the shared sigma
    (`elbo_shared_sigma`, every run's decoder read as the Gaussian of sigma^2 = 1/2: like for like), then, dotted,
    the bound under each run's own likelihood (for sse, sigma^2 = beta / 2) and, dashed, with the decoder sigma
    fitted to each run (`elbo_optimal_sigma` of the evaluation).
    """
    implied = {"sse": ", σ² = β/2", "mse-mean": ", σ² = βP/2"}.get(recon, "")
    own = f"own likelihood{implied}"
    panels = (  # (summary column, line style, legend name); dashed and dotted series are drawn with hollow markers
        (("elbo_shared_sigma", "-", "shared σ² = 1/2"), ("elbo", ":", own), ("elbo_optimal_sigma", "--", "fitted σ")),
        (("mse", "-", "MSE"),),
        (("active_units", "-", "active units"),),
    )
    ylabels = ("ELBO, β = 1 (nats / image)", "MSE (per pixel)", "active units")
    with_zero = any(row.get("beta") == 0 for row in rows)
    fig, axes = plt.subplots(len(panels), 2 if with_zero else 1, figsize=(9, 9), sharey="row", squeeze=False,
                             gridspec_kw={"width_ratios": (1, 7)} if with_zero else None)
    labelled = groups(rows, group_keys)
    colours = distinct_colours(len(labelled))
    for panel, (series, ylabel, panel_axes) in enumerate(zip(panels, ylabels, axes)):
        main = panel_axes[-1]
        notes = []
        for key, style, name in series:
            left_out = []
            for index, (label, members) in enumerate(labelled):
                colour, marker = colours[index], MARKERS[index % len(MARKERS)]
                fill = "white" if style != "-" else colour
                measured = [row for row in members if finite(row.get(key))]
                positive = [row for row in measured if finite(row.get("beta")) and row["beta"] > 0]
                zero = [row for row in measured if row.get("beta") == 0]
                left_out += [row["run"] for row in members if row not in positive and row not in zero]
                legend = f"{label}, {name}" if len(labelled) > 1 and len(series) > 1 else (
                    label if len(labelled) > 1 else name)
                main.plot([row["beta"] for row in positive], [row[key] for row in positive], style, marker=marker,
                          color=colour, mfc=fill, label=legend, gid=f"{key}/{label}")
                if with_zero:
                    panel_axes[0].plot([0] * len(zero), [row[key] for row in zero], marker, color=colour, mfc=fill,
                                       gid=f"{key}/{label}")
            if left_out:  # named by the series, since another series of the panel may show these runs
                notes.append(_left_out_note(left_out, name if len(series) > 1 else key).strip())
        main.set_xscale("log")
        panel_axes[0].set_ylabel(ylabel)
        values = [row[key] for row in rows for key, _, _ in series if finite(row.get(key))]
        if values and min(values) > 0 and max(values) > 20 * min(values):
            main.set_yscale("log")  # e.g. MSEs from 0.001 (beta = 0) to 0.05 (beta = 10)
        if main.get_legend_handles_labels()[1]:
            main.legend(fontsize=8)
        if panel == len(panels) - 1:
            for ax in panel_axes:
                ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # active units are counts
        if notes:
            main.text(0.01, 0.02, "\n".join(notes), transform=main.transAxes, fontsize=7, color="0.35", va="bottom")
        if with_zero:
            zero_axis = panel_axes[0]
            zero_axis.set_xlim(-1, 1)
            zero_axis.set_xticks([0], ["0"])
            if panel == 0:
                zero_axis.set_title("β = 0", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("β")
    fig.suptitle(wrapped(title or "final validation metrics against β (log axis; β = 0 on its own at the left)", 9, 11),
                 fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


def _seed_error_bars(ax, rows: Sequence[Row]) -> None:
    """Over a grid of seeds (summary.csv's `rate_mean`, `rate_sd`, ...): each grid point's mean, with error
    bars of +- 1 sd over its seeds in both rate and distortion."""
    points = {}
    for row in rows:
        if all(finite(row.get(f"{name}_{stat}")) for name in ("rate", "distortion") for stat in ("mean", "sd")):
            points[(row["rate_mean"], row["distortion_mean"])] = (row["rate_sd"], row["distortion_sd"], row["seeds"])
    for (rate, dist), (rate_sd, dist_sd, seeds) in points.items():
        ax.errorbar(rate, dist, xerr=rate_sd, yerr=dist_sd, fmt="+", color="black", ms=12, capsize=4, lw=1.2,
                    zorder=4)
    if points:
        ax.errorbar([], [], xerr=[], yerr=[], fmt="+", color="black", capsize=4,
                    label=f"mean ± 1 sd over {next(iter(points.values()))[2]} seeds")


def iso_quantity(recon: str | None) -> str:
    """What the iso-lines are level in: under a squared error the ELBO at the shared sigma (the tables'
    `elbo_shared_sigma`), else each run's own ELBO, -log p(x|z) being its distortion (`elbo`)."""
    return "ELBO at the shared σ" if recon in SQUARED_ERROR else "ELBO"


LABEL_WIDTH, LABEL_HEIGHT = 0.3, 0.06  # an iso-line label's extent in fractions of the box, with a margin


def _iso_elbo_lines(ax, rows: Sequence[Row], offset: float | None, quantity: str = "ELBO") -> None:
    """Lines D + R = c across the plotted box (slope -1), labelled "`quantity` = -(c + offset)" or with c."""
    rate = [row["rate"] for row in rows]
    dist = [row["distortion"] for row in rows]
    x_margin = 0.08 * (max(rate) - min(rate) or abs(max(rate)) or 1.0)
    y_margin = 0.08 * (max(dist) - min(dist) or abs(max(dist)) or 1.0)
    x0, x1 = min(rate) - x_margin, max(rate) + x_margin
    y0, y1 = min(dist) - y_margin, max(dist) + y_margin
    placed: list[tuple[float, float]] = []  # labels' centres, in fractions of the box
    for level in MaxNLocator(nbins=7).tick_values(x0 + y0, x1 + y1):
        start, stop = max(x0, level - y1), min(x1, level - y0)  # the part of R + D = level inside the box
        if start >= stop:
            continue
        ax.plot([start, stop], [level - start, level - stop], "--", color="0.7", lw=0.9, zorder=0)
        # the label goes on the part of the line inside a box 12% (x) and 5% (y) inside the edges, where a
        # label of its size fits whole; a line that only cuts a corner is left unlabelled
        low = max(start, x0 + 0.12 * (x1 - x0), level - (y1 - 0.05 * (y1 - y0)))
        high = min(stop, x1 - 0.12 * (x1 - x0), level - (y0 + 0.05 * (y1 - y0)))
        if low > high:
            continue
        middle = (low + high) / 2
        centre = ((middle - x0) / (x1 - x0), (level - middle - y0) / (y1 - y0))
        if any(abs(centre[0] - x) < LABEL_WIDTH and abs(centre[1] - y) < LABEL_HEIGHT for x, y in placed):
            continue  # it would overprint a label already drawn: the line stays, unlabelled
        placed.append(centre)
        text = f"{quantity} = {-(level + offset):.5g}" if offset is not None else f"R + D = {level:.5g}"
        ax.text(middle, level - middle, text, fontsize=7, color="0.45", ha="center", va="center", zorder=0,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def _distortion_unit(recon: str | None) -> str:
    if recon in SQUARED_ERROR:
        return "summed squared error / image"
    return "-log p(x|z), nats / image" if recon is not None else "per image"


def _rate_distortion_caption(recon: str | None) -> str:
    if recon in SQUARED_ERROR:
        return ("Dashed: iso-ELBO lines of the ELBO at the shared sigma (elbo_shared_sigma in the tables): every "
                "run's decoder read as the Gaussian of sigma^2 = 1/2, the beta = 1 objective SSE + KL, so -ELBO = D + R "
                "+ (P/2) log(pi) for P pixels: constant along D + R = const, lines of slope -1, higher towards the "
                "lower left. Each run's own ELBO (sigma^2 = beta / 2) is another number. The red ring is beta = 1.")
    return ("Dashed: iso-ELBO lines. The distortion is -log p(x|z), so ELBO = -(D + R): constant along D + R = "
            "const, lines of slope -1, higher towards the lower left. The red ring marks beta = 1.")


def _left_out_note(names: Sequence[str], what: str) -> str:
    if not names:
        return ""
    listed = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    return f" Not shown ({what} missing or not finite): {listed}."


def _caption(fig, text: str, top: float = 0.94) -> None:
    lines = textwrap.wrap(text, 130)
    fig.subplots_adjust(bottom=0.1 + 0.025 * len(lines), top=top, left=0.1, right=0.98)
    fig.text(0.02, 0.015, "\n".join(lines), fontsize=8, va="bottom", ha="left", color="0.25")
