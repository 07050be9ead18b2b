"""The figures of a table run, drawn from what the run wrote (metrics.jsonl) and from the trained network.

    losses.png        the two terms, each on its own scale: expected NLL per example (left) and KL in nats (right),
                      train lines and validation dots; below, the loss as minimised against the lambda = 1 -ELBO
    kl_per_layer.png  KL(q || p) of each layer over training (validation passes)
    snr.png           the incoming-weight SNR of every hidden unit, with the pruning threshold (metrics.py)
    reliability.png   classification: accuracy against confidence in the 15 ECE bins; regression: the observed
                      coverage of the predictive quantiles against their nominal level
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from vaelab.bnn.metrics import SNR_THRESHOLD, Calibration
from vaelab.bnn.train import BNNTrainer
from vaelab.run_dir.metrics import read_metrics

NLL_COLOUR, KL_COLOUR = "tab:blue", "tab:red"


def write_figures(out: Path, trainer: BNNTrainer, calibration: Calibration) -> list[Path]:
    """RUN/figures/*.png for the run in `out` (its metrics.jsonl) and the network the trainer holds."""
    folder = out / "figures"
    folder.mkdir(exist_ok=True)
    records = read_metrics(out / "metrics.jsonl")
    title = trainer.config.describe()
    written = [folder / "losses.png", folder / "reliability.png"]
    plot_losses(records, written[0], title=title)
    plot_reliability(calibration, written[1], title=f"test split: ECE {calibration.ece:.3f}")
    if trainer.net.bayes:
        written += [folder / "kl_per_layer.png", folder / "snr.png"]
        plot_kl_per_layer(records, written[2])
        with torch.no_grad():
            snr = {name: values.numpy() for name, values in trainer.net.hidden_unit_snr().items()}
        if snr:
            plot_snr(snr, written[3])
        else:
            written.pop()
    return written


def _series(records: list[dict[str, Any]], split: str, key: str) -> tuple[list[int], list[float]]:
    points = [(r["step"], r[key]) for r in records
              if r.get("split") == split and isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    return [p[0] for p in points], [p[1] for p in points]


def plot_losses(records: list[dict[str, Any]], path: Path, title: str = "") -> None:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, height_ratios=(3, 2))
    right = top.twinx()
    bayes = any("kl" in r for r in records)
    second = ("kl", "KL(q || p), nats") if bayes else ("neg_log_prior", "-log p(w), nats")
    for ax, (key, label), colour in ((top, ("nll", "expected NLL, nats / example"), NLL_COLOUR),
                                     (right, second, KL_COLOUR)):
        ax.plot(*_series(records, "train", key), color=colour, lw=1.2, alpha=0.8, label=f"{key} (train)")
        ax.plot(*_series(records, "val", key), "o--", color=colour, ms=3, lw=1, label=f"{key} (val)")
        ax.set_ylabel(label, color=colour)
        ax.tick_params(axis="y", colors=colour)
    lines = top.get_lines() + right.get_lines()
    top.legend(lines, [line.get_label() for line in lines], loc="upper right", fontsize=8)
    top.set_title(title or "the two terms, each on its own scale", fontsize=10)
    bottom.plot(*_series(records, "train", "loss"), color="tab:purple", lw=1.2, label="loss as minimised (train)")
    if bayes:
        steps, elbo = _series(records, "train", "elbo")
        bottom.plot(steps, [-value for value in elbo], color="tab:green", lw=1.2, label="-ELBO at lambda = 1 (train)")
        steps, elbo = _series(records, "val", "elbo")
        bottom.plot(steps, [-value for value in elbo], "o--", color="tab:green", ms=3, lw=1, label="-ELBO (val)")
    bottom.set_ylabel("nats / example")
    bottom.set_xlabel("step")
    bottom.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_kl_per_layer(records: list[dict[str, Any]], path: Path) -> None:
    names = sorted({key for r in records for key in r if key.startswith("kl/")}, key=lambda k: int(k[8:]))
    fig, ax = plt.subplots(figsize=(7, 4))
    for name in names:
        ax.plot(*_series(records, "val", name), "o-", ms=3, label=name[3:])
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("KL(q || p) of the layer, nats")
    ax.set_title("KL per layer (validation passes); layer1 takes the inputs", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_snr(snr: dict[str, np.ndarray], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    values = np.concatenate(list(snr.values()))
    low, high = max(values.min(), 1e-3), max(values.max(), SNR_THRESHOLD * 10)
    bins = np.geomspace(min(low, SNR_THRESHOLD / 10), high * 1.1, 40)
    ax.hist([np.clip(v, bins[0], None) for v in snr.values()], bins=bins, stacked=True, label=list(snr))
    ax.axvline(SNR_THRESHOLD, color="black", ls="--", lw=1)
    pruned = int((values < SNR_THRESHOLD).sum())
    ax.set_xscale("log")
    ax.set_xlabel("unit SNR = sqrt(sum mu^2 / sum sigma^2) of the incoming weights")
    ax.set_ylabel("hidden units")
    ax.set_title(f"{pruned} of {len(values)} hidden units below the pruning threshold SNR = {SNR_THRESHOLD:g}",
                 fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_reliability(calibration: Calibration, path: Path, title: str = "") -> None:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="calibrated")
    if calibration.task == "classification":
        edges = np.linspace(0, 1, len(calibration.counts) + 1)
        filled = calibration.counts > 0
        ax.bar(edges[:-1][filled], calibration.observed[filled], width=np.diff(edges)[filled], align="edge",
               edgecolor="black", alpha=0.7, label="accuracy in the bin")
        ax.plot(calibration.expected[filled], calibration.expected[filled], "k.", label="mean confidence")
        ax.set_xlabel("confidence (max predicted probability)")
        ax.set_ylabel("accuracy")
    else:
        ax.plot(calibration.expected, calibration.observed, "o-", label="observed")
        ax.set_xlabel("nominal level p of the predictive quantile")
        ax.set_ylabel("fraction of targets below it")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_lambda_sweep(rows: list[dict[str, Any]], path: Path, title: str = "") -> None:
    """A sweep's test predictive NLL, RMSE or accuracy and pruned units against lambda (summary rows of
    vaelab.sweep.bnn): mean and sd over the rows that share a scheme and temperature (e.g. seeds); the MAP
    network and the ensemble as horizontal lines with their sd band. Schemes that are not a constant
    lambda (blundell, uniform-minibatch, batch, linear) are labelled at their epoch-mean lambda."""
    quality = "test_rmse" if any(r.get("test_rmse") is not None for r in rows) else "test_accuracy"
    panels = (("test_predictive_nll", "test predictive NLL, nats / example"),
              (quality, "test RMSE (target std units)" if quality == "test_rmse" else "test accuracy"),
              ("pruned_fraction", "pruned hidden units (fraction)"))
    rows = [{**row, "pruned_fraction": row["pruned_units"] / row["hidden_units"]
             if row.get("pruned_units") is not None and row.get("hidden_units") else None} for row in rows]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    bayes = [r for r in rows if r["kind"] == "bayes" and r.get("lambda")]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in bayes:
        groups.setdefault((row["tempering"] if row["temperature"] != 1 else "likelihood", row["kl_weight"],
                           row["temperature"]), []).append(row)
    for ax, (key, label) in zip(axes, panels):
        for tempering, colour in (("likelihood", "tab:blue"), ("posterior", "tab:purple")):
            points = sorted((members[0]["lambda"], *_mean_sd([m[key] for m in members]), scheme)
                            for (kind, scheme, _), members in groups.items() if kind == tempering)
            points = [p for p in points if math.isfinite(p[1])]
            line = [p for p in points if p[3] == "elbo" or p[3].startswith("constant")]
            if line:
                x, mean, sd, _ = zip(*line)
                ax.errorbar(x, mean, yerr=sd, fmt="o-", color=colour, ms=4, capsize=3,
                            label="constant lambda on the KL (likelihood tempering)" if tempering == "likelihood"
                            else "posterior tempering at T")
            for index, (xi, mean, sd, scheme) in enumerate(p for p in points if p not in line):
                ax.errorbar([xi], [mean], yerr=[sd], fmt="s", color="black", ms=4, capsize=3)
                ax.annotate(scheme, (xi, mean), textcoords="offset points", xytext=(5, 4 - 10 * index), fontsize=7)
        if key != "pruned_fraction":  # a point estimate has no posterior to prune
            for kind, colour in (("map", "tab:green"), ("ensemble", "tab:orange")):
                mean, sd = _mean_sd([r[key] for r in rows if r["kind"] == kind])
                if math.isfinite(mean):
                    ax.axhline(mean, color=colour, ls="--", lw=1, label=f"{kind} (mean)")
                    ax.axhspan(mean - sd, mean + sd, color=colour, alpha=0.15)
        ax.set_xscale("log")
        ax.set_xlabel("lambda (KL weight against the ELBO; 1 = ELBO)")
        ax.set_ylabel(label)
        ax.axvline(1, color="grey", lw=0.8, ls=":")
    axes[0].legend(fontsize=7)
    fig.suptitle(title + "  (error bars: sd over the runs of each point, e.g. seeds)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _mean_sd(values: list[Any]) -> tuple[float, float]:
    numbers = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not numbers:
        return math.nan, math.nan
    return float(np.mean(numbers)), float(np.std(numbers, ddof=1)) if len(numbers) > 1 else 0.0
