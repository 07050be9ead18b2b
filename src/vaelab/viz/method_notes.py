"""Each KL-weighting method and decoder sigma read right on a run's page: the objective as trained in words (with
the weight in force where a method finds it, GECO's 1 / lambda and its implied sigma, never the unused
`objective.beta`), and the warnings a method's final numbers call for.

    weighting_phrase(run)     "beta = 0.1", "beta(t) linear:5000 from 0 to 0.1", "GECO: ... 1 / lambda = 0.131 ..."
    trained_objective(run)    the loss the run minimised, e.g. "recon + (1 / lambda_t) × KL"
    method_warnings(run)      GECO's lambda pinned at a bound; a learned sigma far from the RMS error it fits
    sigma_start(run)          where a learned sigma started
"""

from __future__ import annotations

import math
from typing import Any

from vaelab.numbers import format_number
from vaelab.objectives.explain import implied_variance
from vaelab.objectives.geco import pinned_note
from vaelab.run_dir import RunDir, RunSummary
from vaelab.viz.html import is_number

SIGMA_LAG = 1.5  # a learned sigma this many times above (or below) the RMS error it fits is worth a word


def weighting_phrase(run: RunSummary) -> str:
    """How the run weighed its KL term, in a phrase for the settings list."""
    objective, final = run.config.objective, run.final("val")
    if objective.geco_target is not None:
        units = "MSE" if objective.geco_units == "mse" else "recon term"
        phrase = (f"GECO: the KL minimised subject to {units} <= {objective.geco_target:g} (Rezende & Viola 2018); "
                  "the KL weight is 1 / lambda, found by the constraint")
        if is_number(final.get("geco_lambda")) and math.isfinite(final["geco_lambda"]):
            lam = final["geco_lambda"]
            phrase += f", {format_number(1 / lam)} at the end (lambda = {format_number(lam)})"
            if objective.recon in ("sse", "mse-mean"):
                pixels = math.prod(RunDir(run.run_dir).image_shape()) if objective.recon == "mse-mean" else 0
                sigma = math.sqrt(implied_variance(1 / lam, recon=objective.recon, pixels=pixels))
                phrase += f", i.e. a decoder sigma of {format_number(sigma, 3)}"
        return phrase
    if objective.capacity is not None:
        return (f"capacity control: gamma = {objective.capacity_gamma:g} times |KL - C(t)|, C rising from "
                f"{objective.capacity_start:g} to {objective.capacity:g} nats over {objective.capacity_steps} steps")
    phrase = f"beta = {objective.beta:g}"
    if objective.beta_range is not None:
        low, high = objective.beta_range
        phrase = f"every beta in [{low:g}, {high:g}] (loss-conditional), validated at beta = {objective.beta:g}"
    elif objective.beta_schedule != "constant":
        phrase = (f"beta(t) following {objective.beta_schedule} from {objective.beta_start:g} to {objective.beta:g} "
                  f"(the KL weight panel of the loss figure draws it)")
    if objective.free_bits > 0:
        phrase += f", free bits {objective.free_bits:g} nats ({objective.free_bits_mode})"
    return phrase


def trained_objective(run: RunSummary) -> str:
    """The loss the run minimised, as the loss section's first sentence writes it."""
    objective = run.config.objective
    if objective.geco_target is not None:
        return "recon + (1 / lambda_t) × KL, with lambda_t set after every step by GECO's constraint"
    if objective.capacity is not None:
        return f"recon + {objective.capacity_gamma:g} × |KL − C(t)|"
    kl = f"max({objective.free_bits:g}, KL) per {objective.free_bits_mode}" if objective.free_bits > 0 else "KL"
    if objective.beta_range is not None:
        return f"recon + beta × {kl}, beta drawn for each example"
    if objective.beta_schedule != "constant":
        return f"recon + beta(t) × {kl}, beta(t) following {objective.beta_schedule}"
    return f"recon + {objective.beta:g} × {kl}"


def sigma_start(run: RunSummary) -> str | None:
    """Where a learned sigma started (None for other decoders)."""
    objective = run.config.objective
    if objective.recon != "sigma-learned":
        return None
    if objective.sigma is not None:
        return f"sigma started at --sigma {objective.sigma:g}"
    return ("sigma started at the RMS error of the untrained network's reconstructions of the first training "
            "batch, the sigma that fits them best")


def method_warnings(run: RunSummary) -> list[dict[str, Any]]:
    """Warnings for the run page: GECO's lambda at a bound of its range at the last validation, a learned sigma
    still far from the RMS error sqrt(MSE) it should approach (its optimum, Rybkin et al. 2021)."""
    objective, final = run.config.objective, run.final("val")
    found = []
    if objective.geco_target is not None and is_number(final.get("geco_lambda")):
        note = pinned_note(final["geco_lambda"], objective)
        if note is not None:
            found.append({"title": "GECO's target", "text": note + ".", "items": []})
    sigma, mse = final.get("sigma"), final.get("mse")
    if objective.recon == "sigma-learned" and is_number(sigma) and is_number(mse) and mse > 0 and sigma > 0:
        rms = math.sqrt(mse)
        if max(sigma / rms, rms / sigma) > SIGMA_LAG:
            found.append({"title": "The learned sigma has not caught up", "items": [], "text": (
                f"the decoder's sigma ended at {format_number(sigma, 3)} while the RMS error of the validation "
                f"reconstructions is {format_number(rms, 3)}, the sigma that would fit them best: Adam moves log "
                "sigma by about its learning rate a step, so the ELBO above is read under a likelihood that does "
                "not fit these errors yet. Train longer, or use --recon sigma-optimal, which sets sigma to the "
                "RMS error at every step.")})
    return found

