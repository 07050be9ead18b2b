"""Runs side by side: one table of their final numbers, and one figure comparing their loss terms over
training (and, given them, their reconstructions of the same validation images).

Used by `vaelab runs ls/compare`, by the demo, and by the reports of a sweep or a folder of runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from vaelab.numbers import format_number
from vaelab.run_dir import RunSummary

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# The numbers that sum a run up, in the order tables show them: (metric name, column header). The like-for-like
# ELBO (every run's decoder read at the one shared sigma) leads; the run's own (its implied or learned sigma)
# follows; the MSE is of one posterior sample per image, as validation draws it.
KEY_METRICS = (
    ("elbo_shared_sigma", "ELBO, shared sigma"),
    ("recon", "recon (as trained)"),
    ("kl", "KL (nats)"),
    ("beta", "beta"),
    ("elbo", "ELBO, own sigma"),
    ("mse", "MSE (z ~ q)"),
    ("sigma", "own sigma"),
)


def plot_comparison(runs: list[RunSummary], path: Path | BinaryIO, *,
                    reconstructions: tuple[Any, list[tuple[str, Any]]] | None = None) -> Figure:
    """Top: the recon term, KL and beta = 1 negative ELBO at the shared sigma (every run's decoder read as the one
    Gaussian, so that the gaps between runs are like for like) of every run over training (training averages as
    lines, validation passes as dots, one colour per run; a model without a KL or an ELBO, the AE, is left out of
    those panels). Below, with `reconstructions` (the inputs and
    (label, images) per run, from vaelab.evaluation.compare): the inputs and each run's reconstructions, one
    row per run."""
    # matplotlib (and torch, through the image grids) load here, not with the module: `vaelab runs ls` prints
    # format_table's table without them
    import matplotlib.pyplot as plt

    from vaelab.objectives.likelihood import SHARED_SIGMA
    from vaelab.viz.colours import run_colours
    from vaelab.viz.grid import image_row, show
    from vaelab.viz.saving import save_figure

    labelled = []
    if reconstructions is not None:
        inputs, rows = reconstructions
        labelled = [("input", inputs), *rows]
    fig = plt.figure(figsize=(10, 3.2 + 0.95 * len(labelled)), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=(3.2, 0.95 * len(labelled))) if labelled else (fig, None)
    axes = top.subplots(1, 3)
    colours = run_colours(str(run.run_dir.resolve()) for run in runs)  # the colour rule of every page
    for ax, key, title in zip(axes, ("recon", "kl", "elbo_shared_sigma"), (
            "recon term (as trained)", "KL (nats / image)", f"-ELBO at the shared sigma = {SHARED_SIGMA:.3g}\n"
                                                           "(beta = 1, nats / image)")):
        sign = -1 if key == "elbo_shared_sigma" else 1
        magnitudes = []
        for run in runs:
            colour = colours[str(run.run_dir.resolve())]
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
    return save_figure(fig, path)


def format_table(runs: list[RunSummary], names: list[str] | None = None, statuses: list[str] | None = None) -> str:
    """One line per run: name (default: the folder's), description, steps (and, given, the training's status:
    running, finished, interrupted, failed) and the final validation numbers of KEY_METRICS."""
    names = names or [run.name for run in runs]
    name_width = max(len("run"), *(len(name) for name in names))
    describe_width = max(len("config"), *(len(run.config.describe()) for run in runs))
    header = [f"{'run':<{name_width}}", f"{'config':<{describe_width}}", f"{'steps':>6}"]
    header += [f"{'status':<11}"] if statuses else []
    header += [f"{label:>{max(10, len(label))}}" for _, label in KEY_METRICS]
    lines = ["  ".join(header)]
    for index, (name, run) in enumerate(zip(names, runs)):
        final = run.final("val")
        cells = [f"{name:<{name_width}}", f"{run.config.describe():<{describe_width}}", f"{run.steps:>6}"]
        cells += [f"{statuses[index]:<11}"] if statuses else []
        cells += [f"{format_number(final.get(key)):>{max(10, len(label))}}" for key, label in KEY_METRICS]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def plot_image_rows(rows: list[tuple[str, Any]], path: Path | BinaryIO, title: str = "") -> Figure:
    """One labelled row of images per (label, images (n, C, H, W)) pair, e.g. each run's decodes of the same prior
    samples."""
    import matplotlib.pyplot as plt

    from vaelab.viz.grid import image_row, show
    from vaelab.viz.saving import save_figure

    width = max(len(images) for _, images in rows)
    fig, axes = plt.subplots(len(rows), 1, figsize=(min(1.0 * width + 1.5, 14), 1.1 * len(rows) + 0.5),
                             squeeze=False, layout="constrained")
    for ax, (label, images) in zip(axes[:, 0], rows):
        show(ax, image_row(images))
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)
