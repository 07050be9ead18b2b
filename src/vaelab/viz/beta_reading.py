"""What a run's beta means, for the pages: `vaelab explain`'s reading of it as a decoder sigma, cut into
blocks for HTML, or what its decoder states instead."""

from __future__ import annotations

import math
from typing import Any

from vaelab.objectives.explain import explain_beta
from vaelab.objectives.explain_losses import LOSS_FORMULAS, explain_recon
from vaelab.run_dir import RunDir, RunSummary


def beta_reading(run: RunSummary) -> dict[str, Any] | None:
    """What the run's beta means (from `vaelab.objectives.explain`), or what its decoder states instead;
    None while the image size that the reading names is unknown (no checkpoint yet)."""
    objective = run.config.objective
    kind = run.config.model.kind
    method = weighting_method(run)
    beta = objective.beta
    if method in ("geco", "schedule"):  # the weight in force at the end (GECO's 1 / lambda): the last validation's
        beta = run.final("val").get("beta", beta)
    facts = {"reading": None, "recon": objective.recon, "kind": kind, "beta": beta, "method": method,
             "sigma": run.final("val").get("sigma", math.nan)}
    loss = objective.recon in LOSS_FORMULAS or objective.recon_extra is not None or objective.recon == "l1"
    if kind == "ae" or (objective.recon not in ("sse", "mse-mean") and not loss) or method == "capacity":
        return facts
    shape = _image_shape(run)
    if shape is None:
        return None
    if loss:  # a Laplace's scale, or a loss with no noise level (explain_losses.py): read, not a Gaussian's sigma
        recon = objective.recon if objective.recon_extra is None else objective.recon_extra
        return {**facts, "laplace": recon == "l1",
                "loss_blocks": _explain_blocks(explain_recon(beta, recon=recon, image_shape=shape).text())}
    reading = explain_beta(beta, recon=objective.recon, image_shape=shape)
    return {**facts, "reading": reading, "blocks": _explain_blocks(reading.text())}


def weighting_method(run: RunSummary) -> str:
    """How the run weighs its KL: "geco", "capacity", "free-bits", "schedule", "conditional" or "beta"."""
    objective = run.config.objective
    if objective.geco_target is not None:
        return "geco"
    if objective.capacity is not None:
        return "capacity"
    if objective.free_bits > 0:
        return "free-bits"
    if objective.beta_range is not None:
        return "conditional"
    return "schedule" if objective.beta_schedule != "constant" else "beta"


def _explain_blocks(printed: str) -> list[tuple[str, str]]:
    """What `vaelab explain` prints cut into blocks for HTML: ("formula", lines), ("sigma", the implied-sigma or
    Laplace-scale line, shown large) and ("text", paragraph)."""
    blocks = []
    for block in printed.strip().split("\n\n"):
        if block.lstrip().startswith("loss ="):
            blocks.append(("formula", "\n".join(line.removeprefix("  ") for line in block.splitlines())))
        else:
            text = " ".join(line.strip() for line in block.splitlines())
            blocks.append(("sigma" if text.lower().startswith("implied") else "text", text))
    return blocks


def _image_shape(run: RunSummary) -> tuple[int, int, int] | None:
    """(C, H, W) the run trained on: config.yaml, or where it leaves them to the data, model.json (None before
    the run has written it)."""
    data = run.config.data
    if data.image_size is not None and data.channels is not None:
        return data.channels, data.image_size, data.image_size
    folder = RunDir(run.run_dir)
    if not (folder.model_file.is_file() or folder.checkpoint("last").is_file()):
        return None
    return folder.image_shape()


def readings(runs: list[RunSummary]) -> list[dict[str, Any]]:
    """What each run's beta means as a decoder sigma (autoencoders, and runs whose decoder states its own
    sigma, are left out)."""
    found = []
    for run in runs:
        beta = beta_reading(run)
        if beta is not None and beta["reading"] is not None:
            found.append({"run": run.name, **beta})
    return found
