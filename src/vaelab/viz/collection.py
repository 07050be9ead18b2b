"""What the pages of many runs share (a sweep's and a folder of runs', both drawn by runs.html.j2): their
sections, the list of runs and links to their pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vaelab.run_dir import RunSummary
from vaelab.viz.html import REPORT, Section

RUNS_SECTIONS = {
    "summary": "Summary",
    "rate-distortion": "Rate against distortion",
    "vs-beta": "Metrics against beta",
    "reconstructions": "Reconstructions side by side",
    "comparison": "Loss terms over training",
    "beta": "What each beta means",
    "questions": "Your three questions, in short",
    "other-figures": "Other figures",
    "runs": "The runs",
}


def with_sections(context: dict[str, Any]) -> dict[str, Any]:
    figures = context["figures"]
    present = {
        "summary": bool(context["summary"].rows),
        "beta": bool(context["readings"]),
        "questions": True,
        "runs": bool(context["runs"]),
        **{key: bool(figures[key]) for key in ("rate-distortion", "vs-beta", "reconstructions", "comparison",
                                               "other-figures")},
    }
    return {**context, "sections": [Section(id, title) for id, title in RUNS_SECTIONS.items() if present[id]]}


def run_links(directory: Path, rows: list[list[Any]]) -> dict[int, str]:
    """Each row that names a run below `directory` (in any cell, e.g. summary.csv's run_dir) links to the
    run's report, relative so that the folder can be moved."""
    links = {}
    for i, row in enumerate(rows):
        named = [cell for cell in row if isinstance(cell, str) and cell and (directory / cell / REPORT).is_file()]
        if named:
            links[i] = f"{Path(named[0]).as_posix()}/{REPORT}"
    return links


def runs_list(directory: Path, runs: list[RunSummary]) -> list[dict[str, Any]]:
    return [{"name": run.run_dir.relative_to(directory).as_posix(), "describe": run.config.describe(),
             "href": f"{run.run_dir.relative_to(directory).as_posix()}/{REPORT}",
             "has_report": (run.run_dir / REPORT).is_file()} for run in runs]
