"""Where a page's numbers come from: which step and weights the figures and the final values show against the
evaluation's checkpoint, and the run's evaluations in folders of their own (RUN/beta=B/, RUN/data=NAME/)."""

from __future__ import annotations

from typing import Any

from vaelab.run_dir import RunSummary, read_json
from vaelab.viz.uncertainty import with_uncertainty


def steps_shown(run: RunSummary) -> dict[str, Any]:
    """Which weights each part of the page shows: the training figures and the final values are of the last step
    (the last validation pass: the moving-average weights, with training.ema), the evaluation of its checkpoint;
    `differ` when the two steps are not the same."""
    last = run.final("val").get("step", run.steps)
    evaluated = run.evaluation.get("step")
    return {"last": last, "evaluated": evaluated, "checkpoint": run.evaluation.get("checkpoint"),
            "ema": run.config.training.ema, "differ": evaluated is not None and evaluated != last}


def other_evaluations(run: RunSummary) -> list[dict[str, Any]]:
    """The run's evaluations in folders of their own (RUN/beta=B/, RUN/data=NAME/): where, on what, and how many
    of their images the run trained on."""
    found = []
    for path in sorted([*run.run_dir.glob("*=*/eval.json"), *run.run_dir.glob("beta=*/data=*/eval.json")]):
        evaluation = read_json(path)
        if evaluation:
            found.append({"path": path.relative_to(run.run_dir).as_posix(), "data": evaluation.get("data"),
                          "images": evaluation.get("images"), "overlap_train": evaluation.get("overlap_train"),
                          "elbo_shared_sigma": with_uncertainty(evaluation, "elbo_shared_sigma")
                          if "elbo_shared_sigma" in evaluation else None,
                          "psnr": with_uncertainty(evaluation, "psnr") if "psnr" in evaluation else None})
    return found
