"""`evaluate_run(RUN)`: every diagnostic on a trained run's validation images, into RUN/eval.json and
RUN/figures/. This is the whole of `vaelab evaluate`; the metric names are listed in docs/metrics.md.

Which weights: checkpoints/last.pt by default (defaults.CHECKPOINT, the rule the sweep and the comparison pages
follow too), or best.pt; the moving average of the weights where the run kept one (training.ema), as validation
used them. eval.json says which (`checkpoint`, `step`, `weights`).

Which images: the run's own validation split (the data, split fraction and seed of its config), or
with `data=SPEC` images of another source, resized to the model's input; at most `max_images` of
them, a seeded random subset when there are more. Reconstructions, interpolations, traversals and
the latent map use the posterior means; the likelihood bounds sample the posterior. An evaluation on
another source goes to RUN/data=NAME/ (eval.json and figures/, with its reconstructions and prior samples),
never over the run's own, and says how many of its images are the run's training or validation images
(overlap.py).

Numbers that a model cannot have are null, with the reason under "not_applicable": the plain
autoencoder has no posterior density, hence no KL, ELBO, IWAE or bits/dim.

The likelihood bounds, the KL and the prior holes are those of the prior the model generates from
(model.prior: N(0, I), the VampPrior, or the mixture fitted after training); the prior holes are also given
against N(0, I), side by side.

A loss-conditional run (objective.beta_range) is evaluated at its validation beta, `objective.beta`, or
with `beta=B` at any beta of its range, as if it were a run trained at B (for sse, the ELBO is under
B's implied sigma). Those evaluations go to RUN/beta=B/: eval.json, figures/ (with reconstructions
and prior samples at B) and metrics.jsonl, holding the validation record that a run trained at B logs
at its end (the same pass over the validation split), so that B's point on the rate-distortion curve
reads like a separate run's.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaelab.defaults import CHECKPOINT, IW_IMAGES, IW_SAMPLES, MAX_IMAGES
from vaelab.diagnostics import latent, smoothness
from vaelab.diagnostics.intervals import standard_error
from vaelab.errors import UsageError
from vaelab.evaluation.baseline import linear_and_training_comparison
from vaelab.evaluation.figures import draw_figures, draw_served_figures
from vaelab.evaluation.images import evaluation_data, training_subset
from vaelab.evaluation.latent_measures import latent_metrics, linear_vae_metrics
from vaelab.evaluation.loaded import load_run, write_validation_record
from vaelab.evaluation.overlap import overlap_warning
from vaelab.evaluation.measures import (
    LIKELIHOOD_NAMES,
    NO_DENSITY,
    fitted_sigma,
    interpolation_smoothness,
    likelihood_metrics,
    quality_metrics,
)
from vaelab.model import at_beta
from vaelab.objectives.kl import CLOSED_FORM, NO_KL, monte_carlo
from vaelab.run_dir import RunDir
from vaelab.training.device import resolve_device
from vaelab.viz.report import refresh_report

log = logging.getLogger("vaelab")
FEW_IMAGES = 200  # below this many evaluated images, eval.json says so in its warnings


def evaluation_folder(run: RunDir, beta: float | None = None, data: str | None = None) -> RunDir:
    """Where an evaluation goes: RUN/, RUN/beta=B/ (a loss-conditional run at B), RUN/data=NAME/ (another source)
    or RUN/beta=B/data=NAME/."""
    out = run if beta is None else run.at_beta(beta)
    return out if data is None else out.on_data(data)


def evaluate_run(
    run_dir: str | Path, *, iw_samples: int = IW_SAMPLES, data: str | None = None, checkpoint: str = CHECKPOINT,
    max_images: int = MAX_IMAGES, iw_images: int = IW_IMAGES, device: str = "cpu", seed: int = 0,
    write_figures: bool = True, beta: float | None = None,
) -> dict[str, Any]:
    """Evaluate `run_dir`'s checkpoint (`last` or `best`), write RUN/eval.json and figures, return the results;
    with `beta`, a loss-conditional run at that beta, into RUN/beta=B/; with `data`, into RUN/data=NAME/ (or
    RUN/beta=B/data=NAME/); see the module docstring."""
    if iw_samples < 1:
        raise UsageError(f"--iw-samples {iw_samples} must be at least 1: e.g. --iw-samples 1000")
    if max_images < 2:
        raise UsageError(f"--max-images {max_images} must be at least 2")
    if iw_images < 2:
        raise UsageError(f"--iw-images {iw_images} must be at least 2: e.g. --iw-images {IW_IMAGES}")
    started = time.perf_counter()
    run = RunDir(Path(run_dir))
    torch_device = resolve_device(device)
    loaded = load_run(run, checkpoint, torch_device, beta)
    state, config, objective = loaded.state, loaded.config, loaded.objective
    model = at_beta(loaded.network, config.objective.beta)
    prior = model.prior_density()
    if config.model.prior == "gmm" and int(loaded.network.prior.fitted_step) != state["step"]:
        raise UsageError(f"the mixture prior in {run.path}'s {checkpoint}.pt is not fitted to its weights (step "
                         f"{state['step']}): the mixture is fitted when a run ends, so finish it first "
                         f"(vaelab train --out {run.path} --resume)")
    image_shape = loaded.image_shape
    images = evaluation_data(config, data, image_shape, max_images, seed, torch_device)
    out = evaluation_folder(run, beta, data)
    if beta is not None:
        run.at_beta(beta).path.mkdir(exist_ok=True)
        write_validation_record(run.at_beta(beta).metrics_file, loaded, torch_device)
    out.path.mkdir(exist_ok=True)
    generator = torch.Generator(device=torch_device).manual_seed(seed)

    results: dict[str, Any] = {
        "run": str(run.path), "checkpoint": checkpoint, "step": state["step"],
        "weights": "ema" if state.get("ema") is not None else "trained", "reconstruction": "posterior mean",
        "description": config.describe(),
        "model": model.kind, "recon": config.objective.recon, "beta": config.objective.beta,
        "beta_range": config.objective.beta_range,
        "latent_dim": model.latent_dim, "data": images.source, "split": images.split, "images": len(images.x),
        "pixels": math.prod(image_shape), "iw_samples": iw_samples, "seed": seed, "prior": config.model.prior,
        "kl_estimator": NO_KL if model.kind == "ae" else CLOSED_FORM if prior.standard else monte_carlo(iw_samples),
    }
    not_applicable: dict[str, str] = {}
    caveats: dict[str, str] = {}
    warnings: list[str] = []
    if images.overlap is not None:
        results.update(images.overlap)
        warnings += [warning] if (warning := overlap_warning(images.overlap, len(images.x))) else []
    per_image: dict[str, Any] = {"index": images.index.tolist()}
    encodings = latent.encode(model, images.x)
    reconstruction = smoothness.decode_means(model, encodings.mean)
    results.update(quality_metrics(images.x, reconstruction, not_applicable, per_image))
    fit, train_images = training_subset(config, image_shape, seed, torch_device)
    results.update(linear_and_training_comparison(config, model, images.x, np.array(per_image["psnr"]), fit))
    results.update(latent_metrics(encodings, generator, seed, not_applicable, caveats, warnings, per_image, prior))
    if model.kind == "vae":
        sigma_fitted = fitted_sigma(model, objective.likelihood, fit, generator)
        results.update(sigma_fit_split="train", sigma_fit_images=len(fit), sigma_fit_of=train_images)
        results.update(linear_vae_metrics(config, objective, fit, not_applicable))
        bounded = np.arange(len(images.x))
        if len(bounded) > iw_images:
            bounded = np.sort(np.random.default_rng(seed).choice(bounded, size=iw_images, replace=False))
        bounds: dict[str, Any] = {"index": images.index[bounded].tolist()}
        results["likelihood_images"] = len(bounded)
        results.update(likelihood_metrics(model, objective, config, images.x[torch.from_numpy(bounded)], iw_samples,
                                          generator, not_applicable, sigma_fitted, bounds, prior))
        per_image["likelihood"] = bounds
    else:
        for name in LIKELIHOOD_NAMES:
            results[name] = None
            not_applicable[name] = NO_DENSITY
    ratios, paths, pairs = interpolation_smoothness(model, encodings, seed)
    finite = ratios[np.isfinite(ratios)]
    results["smoothness"] = float(finite.mean()) if len(finite) else None
    results["smoothness_se"] = standard_error(finite) if len(finite) > 1 else None
    results["smoothness_pairs"] = len(finite)
    if len(images.x) < FEW_IMAGES:
        warnings.append(f"only {len(images.x)} images evaluated: every number here carries its standard error or "
                        "interval over them, and several are withheld at this N (not_applicable says why)")
    for warning in warnings:
        log.warning("%s: %s", run.path, warning)
    results["warnings"] = warnings
    results["not_applicable"] = not_applicable
    results["caveats"] = caveats
    results["per_image"] = per_image
    if write_figures:
        results["figures"] = draw_figures(out.path, config, model, images, encodings, results, paths, ratios, pairs)
        if out != run:  # the run's own were drawn during training, at its validation beta, of its validation images
            results["figures"] += draw_served_figures(out.path, config, model, images, results)
    results["seconds"] = round(time.perf_counter() - started, 2)
    out.save_evaluation(results)
    if beta is None:  # the page shows RUN/eval.json, and lists (never shows instead) an evaluation on other data
        refresh_report(run.path)
    return results
