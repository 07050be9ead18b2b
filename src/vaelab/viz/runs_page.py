"""DIR/report.html for a folder of runs (e.g. the demo's): their final numbers side by side, their loss terms
over training, their reconstructions, what each beta means, and DIR/rate_distortion*.png where there is one."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path

import torch

from vaelab.errors import UsageError
from vaelab.run_dir import RunSummary, find_runs, read_run
from vaelab.viz.beta_reading import readings
from vaelab.viz.collection import RUNS_SECTIONS, run_links, runs_list, with_sections
from vaelab.viz.compare import KEY_METRICS, plot_comparison
from vaelab.viz.html import REPORT, Table, embed_png, render

Reconstructions = tuple[torch.Tensor, list[tuple[str, torch.Tensor]]]  # inputs (n, C, H, W), (run, its images)
Reconstruct = Callable[[list[RunSummary]], Reconstructions | None]  # None: the runs' images do not compare


def write_runs_report(directory: str | Path, title: str | None = None, reconstruct: Reconstruct | None = None
                      ) -> Path:
    """DIR/report.html comparing every run below DIR (e.g. the demo's): a table of their final numbers, a
    figure of their loss terms (with, below, the same inputs and each run's reconstructions from
    `reconstruct`, which runs the networks, unless DIR holds a reconstructions*.png of its own), what each
    beta means, and DIR/rate_distortion*.png (the demo's curve) where there is one."""
    directory = Path(directory)
    runs = [read_run(run) for run in find_runs(directory)]
    if not runs:
        raise UsageError(f"{directory} holds no runs (no */config.yaml): train some with `vaelab train --out`")
    columns = ["run", "steps", *(label for _, label in KEY_METRICS)]
    rows = [[run.run_dir.relative_to(directory).as_posix(), run.steps,
             *(run.final("val").get(key, math.nan) for key, _ in KEY_METRICS)] for run in runs]
    notes = {i: run.config.describe() for i, run in enumerate(runs)}
    pngs = sorted(directory.glob("*.png"))
    reconstruction_pngs = [path for path in pngs if path.name.startswith("reconstructions")]
    curves = [path for path in pngs if path.name.startswith("rate_distortion")]
    below = reconstruct(runs) if reconstruct is not None and not reconstruction_pngs else None
    comparison = io.BytesIO()
    plot_comparison(runs, comparison, reconstructions=below)
    context = {
        "title": title or f"{directory.name}: {len(runs)} runs compared",
        "kind": "runs",
        "directory": directory,
        "summary": Table(columns=columns, rows=rows, links=run_links(directory, rows), notes=notes),
        "summary_all": None,
        "figures": {
            "rate-distortion": [embed_png(path, "Rate (KL, nats) against distortion; the beta = 1 ELBO is "
                                          "constant along the iso-ELBO lines.") for path in curves],
            "vs-beta": [],
            "reconstructions": [embed_png(path, "The same validation inputs, reconstructed by every run.")
                                for path in reconstruction_pngs],
            "comparison": [embed_png(comparison.getvalue(), "Each run's recon term, KL and beta = 1 negative ELBO "
                                     "over training" + ("; below, the same validation images and every run's "
                                                        "reconstructions." if below is not None else "."))],
            "other-figures": [embed_png(path, path.name) for path in pngs
                              if path not in [*reconstruction_pngs, *curves]],
        },
        "readings": readings(runs),
        "runs": runs_list(directory, runs),
    }
    return render("runs.html.j2", directory / REPORT, titles=RUNS_SECTIONS, **with_sections(context))
