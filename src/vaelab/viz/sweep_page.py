"""SWEEP/report.html: a sweep's page, from summary.csv (one row per run), the sweep's figures and its runs."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from vaelab.run_dir import find_runs, read_run
from vaelab.viz.answers import answers
from vaelab.viz.beta_reading import readings
from vaelab.viz.collection import RUNS_SECTIONS, run_links, runs_list, with_sections
from vaelab.viz.html import REPORT, Figure, Table, embed_png, render

# summary.csv columns (docs/metrics.md) shown in the sweep report's first table, with the grid's keys.
SWEEP_KEY_METRICS = ("rate", "distortion", "elbo_shared_sigma", "elbo", "elbo_optimal_sigma", "mse", "active_units",
                     "aggregate_posterior_kl")


def write_sweep_report(sweep_dir: str | Path) -> Path:
    """SWEEP/report.html from summary.csv (one row per run), the sweep's figures and its runs."""
    sweep_dir = Path(sweep_dir)
    with (sweep_dir / "summary.csv").open(newline="") as handle:
        reader = csv.reader(handle)
        columns = next(reader, [])
        rows = [[_parse_cell(cell) for cell in row] for row in reader if row]
    runs = [read_run(run) for run in find_runs(sweep_dir) if run.path != sweep_dir]
    table = Table(columns=columns, rows=rows, links=run_links(sweep_dir, rows))
    # The run, the grid's dotted config keys and the numbers of the rate-distortion story first; every
    # column of summary.csv in a second table below.
    key_columns = [c for i, c in enumerate(columns) if i == 0 or "." in c or c in SWEEP_KEY_METRICS]
    pngs = {path.name: path for folder in (sweep_dir, sweep_dir / "figures") for path in sorted(folder.glob("*.png"))}
    shown: set[str] = set()

    def figures(names: list[str], caption: str) -> list[Figure]:
        shown.update(names)
        return [embed_png(pngs[name], caption) for name in names]

    context = {
        "title": f"{sweep_dir.name}: a sweep of {len(rows)} runs",
        "kind": "sweep",
        "directory": sweep_dir,
        "summary": table.select(key_columns) if len(key_columns) < len(columns) else table,
        "summary_all": table if len(key_columns) < len(columns) else None,
        "figures": {
            "rate-distortion": figures(
                [name for name in pngs if name.startswith("rate_distortion")],
                "Each point is a run: rate (KL, nats) against distortion; under a squared error the ELBO at the "
                "shared sigma (elbo_shared_sigma) is constant along the dashed lines."),
            "vs-beta": figures([name for name in pngs if "vs_beta" in name and name not in shown],
                               "Final validation metrics against beta."),
            "reconstructions": figures(
                [name for name in pngs if name.startswith("reconstructions") and name not in shown],
                "The same validation inputs, reconstructed by every run."),
            "comparison": [],
        },
        "readings": readings(runs),
        "answers": answers(runs, [Path(os.path.relpath(run.run_dir, sweep_dir)).as_posix() for run in runs]),
        "runs": runs_list(sweep_dir, runs),
    }
    context["figures"]["other-figures"] = figures([name for name in pngs if name not in shown], "")
    return render("runs.html.j2", sweep_dir / REPORT, titles=RUNS_SECTIONS, **with_sections(context))


def _parse_cell(cell: str) -> Any:
    """A summary.csv cell as a number where it is one (so the table formats and sorts it), None where it
    is empty (a number the run does not have, shown as n/a), else the text."""
    if cell == "":
        return None
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        return float(cell)
    except ValueError:
        return cell
