"""RUN/report.html: one run's page, from config.yaml, metrics.jsonl, figures/*.png, eval.json and skipped.txt.

Each section appears when its data exists; a figure this module does not know still appears, under
"Other figures".
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from vaelab.diagnostics.aggregate import negative_mmd_note
from vaelab.diagnostics.gradients import GROUPS, regime
from vaelab.numbers import format_number
from vaelab.run_dir import RunSummary, read_run
from vaelab.viz.answers import shared_sigma_cost
from vaelab.viz.beta_reading import beta_reading
from vaelab.viz.compare import KEY_METRICS
from vaelab.viz.html import REPORT, Figure, Section, Table, embed_png, is_number, render
from vaelab.viz.linear_baseline import BASELINE, verdict
from vaelab.viz.method_notes import method_warnings, sigma_start, trained_objective, weighting_phrase
from vaelab.viz.overfitting import overfitting
from vaelab.viz.provenance import other_evaluations, steps_shown
from vaelab.viz.uncertainty import with_interval, with_uncertainty

SECTIONS = {
    "run": "The run",
    "warnings": "Warnings",
    "questions": "Your three questions, in short",
    "beta": "What your beta means",
    "losses": "The two loss terms over training",
    "reconstructions": "Reconstructions",
    "samples": "Samples from the prior",
    "walks": "Interpolations and traversals",
    "gradients": "The two gradients",
    "latent-usage": "KL per dimension and active units",
    "aggregate": "Aggregate posterior against the prior",
    "likelihood": "Likelihood and reconstruction quality",
    "linear": "Against the linear model, and on training images",
    "other-figures": "Other figures",
}

CAPTIONS = {
    "losses.png": "Each quantity on its own axis; lines are training averages, dots validation passes. Top: the "
                  "reconstruction term and the KL. Middle: the loss that was minimised and the beta = 1 negative "
                  "ELBO. Bottom: the KL weight in force, beta(t) (under GECO 1 / lambda, with lambda on the right), "
                  "and the decoder sigma beside the RMS error sqrt(MSE), the sigma that would fit the "
                  "reconstructions best.",
    "reconstructions.png": "Validation images (top row) and their reconstructions through the posterior mean; below "
                           "them, where the run drew them, training images and theirs: a network that reconstructs "
                           "these much better than the validation images is memorising.",
    "samples.png": "Decodes of z drawn from the run's prior (N(0, I) unless the title names another), with fixed "
                   "noise.",
    "samples_normal.png": "The same decoder on z drawn from N(0, I): beside the samples of the run's own prior, what "
                          "that prior changes.",
    "interpolations.png": "Decoded straight lines in latent space between pairs of validation images.",
    "traversals.png": "One latent dimension at a time swept across its range, the others held fixed: the most "
                      "active dimensions first.",
    "gradients.png": "Norms of the two gradients, the ratio |grad beta KL| / |grad recon| and their cosine, per "
                     "group of parameters, over training: solid in gradient descent, dashed in Adam's preconditioned "
                     "coordinates (the steps it takes); bands are 95% intervals over the fixed batches.",
    "kl_per_dim.png": "The mean KL of each latent dimension, sorted: a dimension near zero carries no information.",
    "latent_map.png": "The posterior means of validation images, projected on their two principal components.",
}

AE_CAPTIONS = {  # the autoencoder's figures draw no KL, ELBO or ratio of the two gradients
    "losses.png": "The reconstruction term, the loss the autoencoder minimised; lines are training averages, dots "
                  "validation passes.",
    "gradients.png": "The norm of the reconstruction term's gradient per group of parameters over training (there is "
                     "no KL term to weigh it against).",
    "traversals.png": "One code dimension at a time swept across its range, the others held fixed: the dimensions "
                      "that change the decoded image most first.",
}

# eval.json (names in docs/metrics.md): (key, label, how to read it), in the order the tables show them.
LIKELIHOOD = (
    ("elbo_shared_sigma", "ELBO at the shared sigma",
     "nats / image, beta = 1, the decoder read as a Gaussian of sigma = 0.7071 (sigma^2 = 1/2) as every run is: "
     "compare runs by this one"),
    ("iwae_shared_sigma", "IWAE at the shared sigma", "nats / image; tighter, and less the encoder's doing"),
    ("elbo", "ELBO, own likelihood",
     "nats / image, beta = 1 under the run's own sigma: the bound its loss stands for; higher is better"),
    ("iwae", "IWAE bound", "nats / image, own likelihood; tighter than the ELBO, closer to log p(x)"),
    ("bits_per_dim", "bits / dim", "from the IWAE bound, for 8-bit pixels; lower is better"),
    ("sigma", "decoder sigma", "the run's own (implied, fixed or learned) pixel noise"),
    ("elbo_optimal_sigma", "ELBO at the optimal sigma",
     "nats / image, with the sigma fitted to this run's errors on training images: each run at its best sigma, by "
     "one rule (the shared sigma above is one likelihood for all)"),
    ("iwae_optimal_sigma", "IWAE at the optimal sigma", "nats / image"),
    ("bits_per_dim_optimal_sigma", "bits / dim at the optimal sigma", "lower is better"),
    ("sigma_optimal", "optimal sigma", "sqrt of the mean squared error per pixel"),
    ("mse", "MSE", "per pixel, pixels in [0, 1], of the posterior mean's reconstruction (not a sample's)"),
    ("psnr", "PSNR", "dB, posterior means; higher is better"),
    ("ssim", "SSIM", "posterior means; 1 is a perfect reconstruction"),
)
AGGREGATE = (
    ("aggregate_kl_q_p", "KL(q(z) || N(0, I)), Monte Carlo",
     "nats; the mixture of the posteriors with each code's own in it: biased high (at most log N of MI)"),
    ("aggregate_kl_q_p_loo", "KL(q(z) || N(0, I)), leave-one-out", "nats; biased low: the truth lies between the two"),
    ("aggregate_kl_p_q", "KL(N(0, I) || q(z)): the prior's holes",
     "nats; where prior samples land that no code reaches"),
    ("aggregate_posterior_kl", "KL of the moment-matched q(z) to N(0, I)",
     "nats; a moment-only lower bound, blind to holes; needs N >= 10 Z images"),
    ("aggregate_posterior_mmd", "MMD between q(z) and N(0, I)", "0 when the two agree"),
    ("index_code_mi", "index-code mutual information",
     "nats; what z tells about which image it came from; at most log N"),
    ("index_code_mi_cap", "log N", "nats; the most the MI estimate can show on these images"),
    ("total_correlation", "total correlation", "nats; dependence between the latent dimensions"),
    ("dimensionwise_kl", "dimension-wise KL", "nats; each marginal of q(z) against N(0, 1)"),
)
LATENT = (
    ("active_units", "active units", "dimensions with Var_x E[z|x] > 0.01 (Burda et al. 2016)"),
    ("latent_dim", "latent dimensions", "all there are"),
    ("kl", "KL", ("nats / image, KL[q(z|x) || p(z)]: for N(0, I) the sum over dimensions of the bars above, for "
                  "another prior a Monte Carlo mean (kl_estimator in eval.json)")),
    ("linear_vae_dims", "directions a linear VAE keeps at this beta",
     ("the training images' principal directions with variance above sigma^2 in force (Lucas et al. 2019): "
     "compare with the dimensions of the bars above that carry KL")),
    ("linear_vae_threshold", "that sigma^2", "beta / 2 for summed squared error"),
)
WALKS = (
    ("smoothness", "interpolation smoothness",
     "summed step-to-step distances / end-to-end distance along decoded lines; 1 is perfectly even"),
)
# the prior holes against N(0, I) and against the run's own prior (model.prior), side by side: (label, N(0, I)'s
# eval.json key, the own prior's key, how to read it)
PRIOR_HOLES = (
    ("KL(q(z) || p(z)), Monte Carlo", "aggregate_kl_q_p", "aggregate_kl_q_prior",
     "nats; the codes' mixture with each code's own posterior in it: biased high"),
    ("KL(q(z) || p(z)), leave-one-out", "aggregate_kl_q_p_loo", "aggregate_kl_q_prior_loo",
     "nats; biased low: the truth lies between the two"),
    ("KL(p(z) || q(z)): the prior's holes", "aggregate_kl_p_q", "aggregate_kl_prior_q",
     "nats; where the prior's samples land that no code reaches"),
)
PRIOR_NAMES = {"vamp": "the VampPrior (learned)", "gmm": "the mixture fitted to the training codes"}
GRADIENT_COLUMNS = ("grad_ratio", "grad_cosine", "adam_ratio", "adam_cosine")
# eval.json entries that describe the evaluation rather than measure the model: shown in a sentence.
EVALUATION_FACTS = ("run", "checkpoint", "step", "weights", "reconstruction", "description", "model", "recon", "beta",
                    "data", "split", "images", "shared_sigma", "overlap_train", "overlap_val",
                    "pixels", "iw_samples", "seed", "seconds", "active_threshold", "mmd_kernel", "mmd_bandwidth",
                    "smoothness_pairs", "warnings", "not_applicable", "figures", "caveats", "per_image",
                    "likelihood_images", "aggregate_images", "aggregate_bootstrap", "aggregate_samples",
                    "aggregate_ess_min", "decomposition_samples", "sigma_fit_split", "sigma_fit_images",
                    "sigma_fit_of", "linear_vae_images", "pca_components", "pca_fit_images", "train_images", "prior",
                    "kl_estimator", "aggregate_ess_prior")
# metrics.jsonl fields that count training events worth a warning (steps skipped for a non-finite loss, ...)
EVENT_FIELD = re.compile(r"skipped|nonfinite|non_finite|^nan")


def write_run_report(run_dir: str | Path) -> Path:
    """RUN/report.html from config.yaml, metrics.jsonl, figures/*.png, eval.json and skipped.txt."""
    run = read_run(run_dir)
    return render("run.html.j2", run.run_dir / REPORT, titles=SECTIONS, **run_context(run))


def run_context(run: RunSummary) -> dict[str, Any]:
    """Everything run.html.j2 shows; a section's key is absent or empty when its data does not exist."""
    pngs = {path.name: path for path in sorted((run.run_dir / "figures").glob("*.png"))}
    shown: set[str] = set()

    captions = {**CAPTIONS, **(AE_CAPTIONS if run.config.model.kind == "ae" else {})}

    def figures(*names: str) -> list[Figure]:
        found = [name for name in names if name in pngs]
        shown.update(found)
        return [embed_png(pngs[name], captions.get(name, "")) for name in found]

    evaluation = run.evaluation
    used: set[str] = set()

    def rows(spec: tuple[tuple[str, str, str], ...]) -> list[tuple[str, Any, str]]:
        """(label, value, note) of the keys eval.json has; a null value shows its reason (`not_applicable`)."""
        found = []
        for key, label, note in spec:
            if key in used:  # shown already (the prior holes' table)
                continue
            if key in evaluation and (is_number(evaluation[key]) or evaluation[key] is None):
                reason = evaluation.get("not_applicable", {}).get(key) or evaluation.get("caveats", {}).get(key)
                if key == "aggregate_posterior_mmd":
                    reason = reason or negative_mmd_note(evaluation[key])
                found.append((label, with_uncertainty(evaluation, key), reason or note))
                used.update({key, f"{key}_se", f"{key}_ci"})
        return found

    context: dict[str, Any] = {
        "title": f"{run.name}: {run.config.describe()}",
        "run": run,
        "config": run.config,
        "config_yaml": (run.run_dir / "config.yaml").read_text(),
        "settings": _settings(run),
        "final": _final_table(run),
        "reading": beta_reading(run),
        "figures": {
            "losses": figures("losses.png"),
            "reconstructions": figures("reconstructions.png"),
            "samples": figures("samples.png", "samples_normal.png"),
            "walks": figures("interpolations.png", "traversals.png"),
            "gradients": figures("gradients.png"),
            "latent-usage": figures("kl_per_dim.png"),
            "aggregate": figures("latent_map.png"),
        },
        "gradients": _gradient_table(run),
        "walks": rows(WALKS),
        "latent": rows(LATENT),
        "prior_holes": _prior_holes(evaluation, used),
        "prior_name": PRIOR_NAMES.get(run.config.model.prior),
        "aggregate": rows(AGGREGATE),
        "likelihood": rows(LIKELIHOOD),
        "linear": rows(BASELINE),
        "verdict": verdict(evaluation),
        "warnings": _warnings(run) + method_warnings(run),
        "trained": trained_objective(run),
        "sigma_start": sigma_start(run),
        "overfitting": overfitting(run),
        "shared_sigma_cost": shared_sigma_cost(evaluation),
        "steps_shown": steps_shown(run),
        "other_evaluations": other_evaluations(run),
    }
    context["other_numbers"] = [(key, value) for key, value in evaluation.items()
                                if key not in used and key not in EVALUATION_FACTS and is_number(value)]
    context["evaluation"] = {key: evaluation[key] for key in EVALUATION_FACTS if key in evaluation}
    context["figures"]["other-figures"] = figures(*(name for name in pngs if name not in shown))
    present = {
        "run": True,
        "warnings": bool(context["warnings"]),
        "questions": True,
        "beta": context["reading"] is not None,
        "losses": bool(context["figures"]["losses"] or context["final"].rows),
        "reconstructions": bool(context["figures"]["reconstructions"]),
        "samples": bool(context["figures"]["samples"]),
        "walks": bool(context["figures"]["walks"] or context["walks"]),
        "gradients": bool(context["figures"]["gradients"] or context["gradients"].rows),
        "latent-usage": bool(context["figures"]["latent-usage"] or context["latent"]),
        "aggregate": bool(context["figures"]["aggregate"] or context["aggregate"] or context["prior_holes"].rows),
        "likelihood": bool(context["likelihood"] or context["other_numbers"]),
        "linear": bool(context["linear"]),
        "other-figures": bool(context["figures"]["other-figures"]),
    }
    context["sections"] = [Section(id, title) for id, title in SECTIONS.items() if present[id]]
    return context


def _prior_holes(evaluation: dict[str, Any], used: set[str]) -> Table:
    """The prior-hole estimates against N(0, I) and against the run's own prior, one row each (PRIOR_HOLES); no rows
    for a run with N(0, I) alone. A null value shows n/a, with the reason in `not_applicable`."""
    if "aggregate_kl_q_prior" not in evaluation:
        return Table(columns=[], rows=[])
    reasons = evaluation.get("not_applicable", {})
    rows, notes = [], {}
    for i, (label, normal, own, note) in enumerate(PRIOR_HOLES):
        rows.append([label, with_uncertainty(evaluation, normal), with_uncertainty(evaluation, own)])
        notes[i] = "; ".join([note, *dict.fromkeys(reasons[key] for key in (normal, own) if key in reasons)])
        used.update({normal, own, f"{normal}_ci", f"{own}_ci"})
    return Table(columns=["estimate", "N(0, I)", PRIOR_NAMES[evaluation["prior"]]], rows=rows, notes=notes)


def _settings(run: RunSummary) -> list[tuple[str, str]]:
    """The config in short phrases, for the reader who does not want to parse YAML."""
    data, model, objective, training = run.config.data, run.config.model, run.config.objective, run.config.training
    size = f"{data.image_size}x{data.image_size}" if data.image_size else "the source's default size"
    channels = {None: "channels as in the source", 1: "grey", 3: "RGB"}[data.channels]
    limit = f", first {data.limit} images" if data.limit else ""
    weighting = weighting_phrase(run)
    epochs = training.epochs or 10
    planned = f"{training.steps} steps" if training.steps else f"{epochs} epoch{'s' if epochs != 1 else ''}"
    return [
        ("data", f"{data.spec}, {size}, {channels}{limit}, {data.val_fraction:.0%} held out for validation"),
        ("model",
         f"{'VAE' if model.kind == 'vae' else 'plain autoencoder'}, latent {model.latent_dim}, width {model.width}"),
        ("objective", f"{objective.recon} reconstruction term" + ("" if model.kind == "ae" else f", {weighting}")),
        ("training", (f"{run.steps} steps done ({planned} asked), batch {training.batch_size}, "
                      f"Adam lr {training.lr:g}, seed {training.seed}")),
    ]


def _final_table(run: RunSummary) -> Table:
    """The last train and validation values of recon, KL, beta, ELBO, MSE and sigma."""
    rows = []
    for split in ("train", "val"):
        final = run.final(split)
        if final:
            rows.append([split, *(final.get(key, math.nan) for key, _ in KEY_METRICS)])
    return Table(columns=["split", *(label for _, label in KEY_METRICS)], rows=rows)


def _gradient_table(run: RunSummary) -> Table:
    """The latest gradient view (`grad_*/<group>`, `adam_*/<group>` in metrics.jsonl): one row per group, with
    the 95% intervals over its batches and the two terms' regime in a word (diagnostics.gradients)."""
    latest = next((r for r in reversed(run.records) if "grad_ratio/encoder" in r), None)
    if latest is None:
        return Table(columns=[], rows=[])
    rows = []
    for group in GROUPS:
        if f"grad_ratio/{group}" not in latest:
            continue
        ratio = latest[f"grad_ratio/{group}"]
        label = regime(ratio if is_number(ratio) else math.nan,
                       latest.get(f"grad_cancellation/{group}") if is_number(latest.get(f"grad_cancellation/{group}"))
                       else math.nan)
        rows.append([group, *(with_interval(latest, f"{name}/{group}") for name in GRADIENT_COLUMNS), label])
    return Table(columns=[f"step {latest['step']} ({latest.get('grad_batches', 1)} batches)",
                          "|grad beta KL| / |grad recon|", "cosine", "Adam: ratio", "Adam: cosine", "the two terms"],
                 rows=rows)


def _warnings(run: RunSummary) -> list[dict[str, Any]]:
    """Posterior collapse (eval.json), overfitting, non-finite or skipped training steps (metrics.jsonl), skipped
    inputs."""
    found = []
    for text in run.evaluation.get("warnings", []):
        found.append({"title": "From the evaluation", "text": str(text), "items": []})
    if (rising := overfitting(run)) is not None:
        found.append({"title": "Overfitting", "text": rising.text(), "items": []})
    final = run.final("val")
    terms = ("loss", "recon") if run.config.model.kind == "ae" else ("loss", "recon", "kl")  # the AE has no KL
    broken = [key for key in terms if key in final and not math.isfinite(final[key])]
    if broken:
        found.append({"title": "Training diverged", "items": [],
                      "text": f"the last validation pass has non-finite {', '.join(broken)}: start a new run "
                              "with a lower learning rate (and without bf16 autocast, if it was on)"})
    events: dict[str, list[tuple[int, Any]]] = {}
    for record in run.records:
        for key, value in record.items():
            if EVENT_FIELD.search(key) and is_number(value) and value > 0:
                events.setdefault(key, []).append((record["step"], value))
    for key, points in events.items():
        if key == "skipped_steps":  # the run's running total (training/nonfinite.py): the latest value is the count
            count = int(points[-1][1])
            found.append({"title": "Training events", "items": [],
                          "text": f"{count} step{'s' if count != 1 else ''} skipped (non-finite loss or gradient); "
                                  f"the first logged at step {points[0][0]}"})
            continue
        steps = ", ".join(str(step) for step, _ in points[:10]) + (", ..." if len(points) > 10 else "")
        found.append({"title": "Training events", "items": [],
                      "text": f"metrics.jsonl records {key} > 0 at {len(points)} logging points (steps {steps}; "
                              f"latest value {format_number(points[-1][1])})"})
    skipped = run.run_dir / "skipped.txt"
    if skipped.is_file():
        lines = [line for line in skipped.read_text().splitlines() if line.strip()]
        if lines:
            found.append({"title": "Skipped inputs", "items": lines[:50],
                          "text": f"{len(lines)} input file{'s' if len(lines) != 1 else ''} could not be read and "
                                  f"{'were' if len(lines) != 1 else 'was'} left out (skipped.txt"
                                  f"{', the first 50 below' if len(lines) > 50 else ''}):"})
    return found
