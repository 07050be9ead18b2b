"""The page of several runs compared (a folder of runs such as the demo's, `vaelab report DIR`; or the runs named to
`vaelab runs compare --html`): the answer page. Their final numbers; after `vaelab evaluate`, their eval.json side
by side with the paired differences against a reference run; the three questions answered from these numbers;
their prior samples and reconstructions side by side (decoded by the caller, which runs the networks); their loss
terms over training; what each beta means; and DIR/rate_distortion*.png where there is one."""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from vaelab.errors import UsageError
from vaelab.run_dir import RunSummary, find_runs, read_run
from vaelab.viz.answers import answers
from vaelab.viz.beta_reading import readings
from vaelab.viz.collection import RUNS_SECTIONS, run_links, runs_list, with_sections
from vaelab.viz.compare import KEY_METRICS, plot_comparison, plot_image_rows
from vaelab.viz.html import REPORT, Table, embed_png, render
from vaelab.viz.overfitting import overfitting
from vaelab.viz.side_by_side import differences_table, evaluation_table, reference_index


@dataclass
class Decoded:
    """What the page shows that needs the networks (vaelab.evaluation.compare decodes it, from each run's
    checkpoint of the rule defaults.CHECKPOINT): the same validation inputs (n, C, H, W) and each run's
    reconstructions of them (None when the runs do not share their data), and each run's decodes of the same
    z ~ N(0, I)."""

    inputs: torch.Tensor | None
    reconstructions: list[tuple[str, torch.Tensor]]
    samples: list[tuple[str, torch.Tensor]]


Decode = Callable[[list[RunSummary], list[str]], Decoded | None]  # (runs, their names on the page) -> Decoded


def write_runs_report(directory: str | Path, title: str | None = None, decode: Decode | None = None) -> Path:
    """DIR/report.html comparing every run below DIR (symbolic links to runs count), the runs named by their path
    below DIR; DIR/rate_distortion*.png (the demo's curve) and DIR/reconstructions*.png are shown too."""
    directory = Path(directory)
    runs = [read_run(run) for run in find_runs(directory)]
    if not runs:
        raise UsageError(f"{directory} holds no runs (no */config.yaml): train some with `vaelab train --out`")
    names = [Path(os.path.relpath(run.run_dir, directory)).as_posix() for run in runs]
    return write_comparison_page(runs, names, directory / REPORT, decode=decode, reference=reference_index(runs),
                                 title=title or f"{directory.name}: {len(runs)} runs compared",
                                 pngs=sorted(directory.glob("*.png")))


def write_comparison_page(runs: list[RunSummary], names: list[str], out: Path, *, title: str, reference: int = 0,
                          decode: Decode | None = None, pngs: list[Path] | None = None) -> Path:
    """`out` (an HTML file) comparing `runs`, named `names`; differences are against `runs[reference]`; links to
    the runs' own pages are relative to `out`'s folder."""
    directory = out.parent
    pngs = pngs or []
    rows = [[name, run.steps, *(run.final("val").get(key, math.nan) for key, _ in KEY_METRICS)]
            for name, run in zip(names, runs)]
    notes = {i: run.config.describe() for i, run in enumerate(runs)}
    reconstruction_pngs = [path for path in pngs if path.name.startswith("reconstructions")]
    curves = [path for path in pngs if path.name.startswith("rate_distortion")]
    decoded = decode(runs, names) if decode is not None else None
    below = None
    if decoded is not None and decoded.inputs is not None and not reconstruction_pngs:
        below = (decoded.inputs, decoded.reconstructions)
    comparison = io.BytesIO()
    plot_comparison(runs, comparison, reconstructions=below)
    samples = []
    if decoded is not None and decoded.samples:
        picture = io.BytesIO()
        plot_image_rows(decoded.samples, picture, title="decodes of the same z ~ N(0, I), one row per run")
        samples.append(embed_png(picture.getvalue(), "Samples from the prior: the same codes z ~ N(0, I) (one draw per "
                                 "latent size) through each run's decoder, from its checkpoints/last.pt."))
    context = {
        "title": title,
        "kind": "runs",
        "directory": directory,
        "summary": Table(columns=["run", "steps", *(label for _, label in KEY_METRICS)], rows=rows,
                         links=run_links(directory, rows), notes=notes),
        "summary_all": None,
        "warnings": [{"run": name, "text": found.text()} for name, run in zip(names, runs)
                     if (found := overfitting(run)) is not None],
        "evaluation": evaluation_table(runs, names),
        "differences": differences_table(runs, names, reference) if len(runs) > 1 else None,
        "reference": names[reference],
        "answers": answers(runs, names),
        "figures": {
            "rate-distortion": [embed_png(path, "Rate (KL, nats) against distortion; the ELBO at the shared sigma is "
                                          "constant along the dashed lines.") for path in curves],
            "vs-beta": [],
            "samples": samples,
            "reconstructions": [embed_png(path, "The same validation inputs, reconstructed by every run.")
                                for path in reconstruction_pngs],
            "comparison": [embed_png(comparison.getvalue(), "Each run's recon term, KL and negative ELBO at the shared "
                                     "sigma over training" + ("; below, the same validation images and every run's "
                                                              "reconstructions (posterior means, checkpoints/last.pt)."
                                                              if below is not None else "."))],
            "other-figures": [embed_png(path, path.name) for path in pngs
                              if path not in [*reconstruction_pngs, *curves]],
        },
        "readings": readings(runs),
        "runs": runs_list(directory, runs),
    }
    return render("runs.html.j2", out, titles=RUNS_SECTIONS, **with_sections(context))
