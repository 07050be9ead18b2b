"""What the pages of many runs share (a sweep's and a folder of runs', both drawn by runs.html.j2): their
sections, the list of runs and links to their pages."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vaelab.run_dir import RunSummary
from vaelab.viz.html import REPORT, Section

RUNS_SECTIONS = {
    "summary": "Summary",
    "warnings": "Warnings",
    "questions": "Your three questions, on these runs",
    "evaluation": "Evaluated side by side",
    "rate-distortion": "Rate against distortion",
    "vs-beta": "Metrics against beta",
    "samples": "Samples from the prior, side by side",
    "reconstructions": "Reconstructions side by side",
    "comparison": "Loss terms over training",
    "beta": "What each beta means",
    "other-figures": "Other figures",
    "runs": "The runs",
}
FIGURE_SECTIONS = ("rate-distortion", "vs-beta", "samples", "reconstructions", "comparison", "other-figures")


def with_sections(context: dict[str, Any]) -> dict[str, Any]:
    """The context with its `sections` (those it has data for) and the keys a page of a sweep does not fill."""
    context = {"warnings": [], "evaluation": None, "differences": None, "reference": None, "answers": {}, **context}
    figures = context["figures"]
    present = {
        "summary": bool(context["summary"].rows),
        "warnings": bool(context["warnings"]),
        "beta": bool(context["readings"]),
        "questions": True,
        "evaluation": context["evaluation"] is not None,
        "runs": bool(context["runs"]),
        **{key: bool(figures.get(key)) for key in FIGURE_SECTIONS},
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
    """Each run's name and the link to its page, relative to the page's `directory` (which need not hold them)."""
    found = []
    for run in runs:
        name = Path(os.path.relpath(run.run_dir, directory)).as_posix()
        found.append({"name": name, "describe": run.config.describe(), "href": f"{name}/{REPORT}",
                      "has_report": (run.run_dir / REPORT).is_file()})
    return found
