"""Runs' evaluations side by side (each run's eval.json, from `vaelab evaluate`), for the comparison pages and
`vaelab runs compare`: one row per quantity and one column per run, every number with its standard error or
interval; the latest gradient view of each run (metrics.jsonl); and the paired differences of each run against a
reference run over the same images, within noise or beyond (noise.py)."""

from __future__ import annotations

import math
from typing import Any

from vaelab.numbers import format_number
from vaelab.run_dir import RunSummary
from vaelab.viz.html import Table
from vaelab.viz.noise import COMPARED, NOISE_SES, paired_difference
from vaelab.viz.uncertainty import with_interval, with_uncertainty

EVALUATED = (  # (eval.json key, label), the like-for-like ELBO first
    ("elbo_shared_sigma", "ELBO at the shared sigma (beta = 1)"),
    ("iwae_shared_sigma", "IWAE at the shared sigma"),
    ("elbo", "ELBO, own likelihood"),
    ("iwae", "IWAE, own likelihood"),
    ("sigma", "own sigma"),
    ("elbo_optimal_sigma", "ELBO at the sigma fitted to the run"),
    ("sigma_optimal", "that fitted sigma"),
    ("psnr", "PSNR, dB (posterior means)"),
    ("ssim", "SSIM (posterior means)"),
    ("mse", "MSE (posterior means)"),
    ("pca_psnr", "PCA's PSNR, dB (same latent size)"),
    ("kl", "rate: KL, nats"),
    ("active_units", "active units"),
    ("aggregate_kl_q_p_loo", "KL(q(z) || N(0, I)), leave-one-out"),
    ("aggregate_kl_p_q", "KL(N(0, I) || q(z)): the prior's holes"),
    ("aggregate_posterior_mmd", "MMD(q(z), N(0, I))"),
    ("smoothness", "interpolation smoothness (1 = straight)"),
)
GRADIENT_VIEW = (  # metrics.jsonl's latest gradient view, on the encoder (where beta acts)
    ("grad_ratio/encoder", "|grad beta KL| / |grad recon|, encoder"),
    ("grad_cosine/encoder", "cosine of the two, encoder"),
    ("adam_ratio/encoder", "the ratio in Adam's coordinates"),
)
DIFFERENCE_LABELS = {**dict(EVALUATED), "iwae_optimal_sigma": "IWAE at the sigma fitted to the run"}


def bound_gap(evaluation: dict[str, Any], iwae: str, elbo: str) -> tuple[float, float, int] | None:
    """(mean over images of IWAE_K - ELBO, its standard error, the images) from eval.json's per-image bounds, e.g.
    ("iwae_shared_sigma", "elbo_shared_sigma"): a lower bound on how far the encoder's q(z|x) is from the decoder's
    posterior under that sigma (log p(x) - ELBO = KL(q(z|x) || p(z|x)) >= IWAE_K - ELBO)."""
    table = (evaluation.get("per_image") or {}).get("likelihood") or {}
    upper, lower = table.get(iwae), table.get(elbo)
    if not isinstance(upper, list) or not isinstance(lower, list) or len(upper) != len(lower) or len(upper) < 2:
        return None
    gaps = [a - b for a, b in zip(upper, lower) if a is not None and b is not None]
    if len(gaps) < 2:
        return None
    mean = sum(gaps) / len(gaps)
    sd = math.sqrt(sum((g - mean) ** 2 for g in gaps) / (len(gaps) - 1))
    return mean, sd / math.sqrt(len(gaps)), len(gaps)


def reference_index(runs: list[RunSummary]) -> int:
    """The run the others are measured against on a folder's page: a VAE at beta = 1 (no scaling of the KL) with
    an evaluation, else the first evaluated VAE, else the first run."""
    vaes = [i for i, run in enumerate(runs) if run.config.model.kind == "vae" and run.evaluation]
    at_one = [i for i in vaes if run_beta(runs[i]) == 1]
    return (at_one or vaes or [0])[0]


def run_beta(run: RunSummary) -> float | None:
    """The beta a run's evaluation is at (its config's otherwise); None for the autoencoder."""
    if run.config.model.kind == "ae":
        return None
    return run.evaluation.get("beta", run.config.objective.beta)


def evaluated_facts(run: RunSummary) -> str:
    """Which weights and images a run's eval.json measures, e.g. "last.pt, step 400, EMA; 70 validation images"."""
    evaluation = run.evaluation
    if not evaluation:
        return "not evaluated: vaelab evaluate RUN"
    weights = {"ema": ", moving average", "trained": ""}.get(evaluation.get("weights"), "")
    images = "validation images" if evaluation.get("split") == "val" else "images of another source"
    return (f"{evaluation.get('checkpoint', '?')}.pt, step {evaluation.get('step', '?')}{weights}; "
            f"{evaluation.get('images', '?')} {images}")


def latest_gradient_view(run: RunSummary) -> dict[str, Any] | None:
    """The run's last gradient-view record (metrics.jsonl), None when it logged none or has no KL term."""
    if run.config.model.kind == "ae":
        return None
    return next((record for record in reversed(run.records) if "grad_ratio/encoder" in record), None)


def evaluation_table(runs: list[RunSummary], names: list[str]) -> Table | None:
    """One row per quantity of EVALUATED and GRADIENT_VIEW, one column per run; None when no run is evaluated."""
    if not any(run.evaluation for run in runs):
        return None
    rows: list[list[Any]] = [["evaluated", *(evaluated_facts(run) for run in runs)]]
    for key, label in EVALUATED:
        if any(key in run.evaluation for run in runs):
            rows.append([label, *(with_uncertainty(run.evaluation, key) if key in run.evaluation else None
                                  for run in runs)])
    for (iwae, elbo), label in ((("iwae_shared_sigma", "elbo_shared_sigma"), "IWAE - ELBO at the shared sigma"),
                                (("iwae", "elbo"), "IWAE - ELBO at its own sigma")):
        gaps = [bound_gap(run.evaluation, iwae, elbo) for run in runs]
        if any(gaps):
            rows.append([label, *(None if gap is None else f"{format_number(gap[0])} ± {format_number(gap[1], 2)}"
                                  for gap in gaps)])
    views = [latest_gradient_view(run) for run in runs]
    for key, label in GRADIENT_VIEW:
        if any(view is not None and key in view for view in views):
            rows.append([label, *(None if view is None else with_interval(view, key) for view in views)])
    if any(views):
        rows.append(["gradient view at step", *(None if view is None else view["step"] for view in views)])
    return Table(columns=["quantity", *names], rows=rows, numbers_right=True)


def difference(run: RunSummary, reference: RunSummary, key: str) -> tuple[float, float, int, bool] | None:
    """(mean paired difference run - reference, its SE, the images, whether it is beyond noise) of one metric."""
    found = paired_difference(run.evaluation, reference.evaluation, key)
    if found is None:
        return None
    value, se, n = found
    return value, se, n, abs(value) > NOISE_SES * se


def differences_table(runs: list[RunSummary], names: list[str], reference: int) -> Table | None:
    """Paired differences over the same evaluated images of each run against `runs[reference]` (COMPARED's
    metrics): "-640 ± 21, beyond noise"; None when fewer than two runs are evaluated on shared images."""
    others = [i for i in range(len(runs)) if i != reference]
    rows = []
    for key in COMPARED:
        cells = []
        for i in others:
            found = difference(runs[i], runs[reference], key)
            cells.append(None if found is None else
                         f"{format_number(found[0])} ± {format_number(found[1], 2)}, "
                         f"{'beyond' if found[3] else 'within'} noise (n = {found[2]})")
        if any(cell is not None for cell in cells):
            rows.append([DIFFERENCE_LABELS.get(key, key), *cells])
    if not rows:
        return None
    return Table(columns=["quantity", *(f"{names[i]} − {names[reference]}" for i in others)], rows=rows,
                 numbers_right=True)


def text_table(table: Table) -> str:
    """A table for the terminal: columns padded to their widest cell, numbers formatted as on the pages."""
    cells = [[str(column) for column in table.columns]]
    cells += [[format_number(value) if not isinstance(value, str) else value for value in row] for row in table.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(table.columns))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells)
