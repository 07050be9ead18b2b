"""The report a person reads: one self-contained HTML page per run, per sweep and per folder of runs.

    write_report(path)        RUN/report.html, SWEEP/report.html or DIR/report.html, whichever `path` is
    refresh_report(path)      the same at the end of train, evaluate and sweep, logging instead of raising

The pages: run_page.py (one run), sweep_page.py (a sweep's summary.csv), runs_page.py (a folder of runs);
html.py has the machinery they share. The pages only read saved files and draw; none runs a network (the
side-by-side reconstructions and samples of a folder of runs come from the caller, see `write_runs_report`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from vaelab.errors import UsageError
from vaelab.run_dir import find_runs
from vaelab.viz.run_page import write_run_report
from vaelab.viz.runs_page import Decode, write_runs_report
from vaelab.viz.sweep_page import write_sweep_report

log = logging.getLogger("vaelab")


def write_report(path: str | Path, decode: Decode | None = None) -> Path:
    """Write the report of a run (config.yaml), a sweep (summary.csv) or a folder holding runs (whose
    reconstructions of the same images and prior samples `decode` gives, see `write_runs_report`)."""
    path = Path(path)
    if (path / "config.yaml").is_file():
        return write_run_report(path)
    if (path / "summary.csv").is_file():
        return write_sweep_report(path)
    if path.is_dir() and find_runs(path):
        return write_runs_report(path, decode=decode)
    raise UsageError(f"{path} is neither a run (config.yaml), a sweep (summary.csv) nor a folder of runs: "
                     "give the --out of `vaelab train`, `vaelab sweep` or `vaelab demo`")


def refresh_report(path: Path) -> Path | None:
    """`write_report(path)` at the end of a command that has saved its results (train, evaluate, sweep).

    The page only reads saved files, so a failure here costs the page, never the results: it is
    logged with the command that retries it, and None is returned.
    """
    try:
        written = write_report(path)
    except Exception as error:  # noqa: BLE001 - whatever broke, the results are saved and the page can be redone
        log.warning("the results are saved, but the report failed (%s: %s); retry with: vaelab report %s",
                    type(error).__name__, error, path)
        return None
    log.info("report: %s", written)
    return written
