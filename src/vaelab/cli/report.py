"""`vaelab report`: (re)write the self-contained HTML report of a run, a sweep or a folder of runs."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLES = """examples:
  vaelab report runs/art-b01     # RUN/report.html: config, what beta means, loss terms, figures, eval.json
  vaelab report sweeps/art       # SWEEP/report.html: summary table, rate-distortion, metrics against beta
  vaelab report demo             # a folder of runs (or of symbolic links to runs): their evaluations, samples and
                                 # reconstructions side by side, and the three questions answered on their numbers
  vaelab report runs/diabetes    # a `vaelab bnn` run (or a `vaelab sweep --bnn` sweep): its own page

The page holds everything inline (figures, styles): open it in any browser, offline, or send it on.
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "report", help="write the HTML report of a run, a sweep or a folder of runs", description=__doc__,
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", type=Path, metavar="RUN_OR_SWEEP_DIR",
                        help="a run directory (config.yaml), a sweep (summary.csv) or a folder holding runs")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.evaluation.compare import decode_for_page
    from vaelab.sweep.bnn import write_bnn_page
    from vaelab.viz.report import write_report

    page = write_bnn_page(args.path)  # a `vaelab bnn` run or a `vaelab sweep --bnn` sweep has its own pages
    if page is not None:
        print(page)
        return 0

    # a folder of runs shows their prior samples and reconstructions of the same images side by side
    print(write_report(args.path, decode=decode_for_page))
    return 0
