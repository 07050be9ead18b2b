"""`vaelab runs`: list runs with their key numbers, and compare runs side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaelab.errors import UsageError

EXAMPLES = """examples:
  vaelab runs ls runs                                   # every run below runs/, with its final numbers
  vaelab runs compare demo/vae-beta1 demo/vae-beta0.1 demo/ae --out compare.png
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "runs", help="list runs, or compare runs side by side", description=__doc__, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = actions.add_parser("ls", help="list the runs below a folder with their status and final validation numbers",
                            description="Every run below DIR (folders with a config.yaml), one line each: its steps, "
                                        "its status (running, finished, interrupted: resume it with vaelab train "
                                        "--out RUN --resume, failed: killed or crashed, unknown: a run from before "
                                        "vaelab recorded it) and its last validation numbers.")
    ls.add_argument("directory", type=Path, metavar="DIR", help="a folder of runs, e.g. runs")
    ls.set_defaults(run=list_runs)
    compare = actions.add_parser(
        "compare", help="a table and a figure of two or more runs' loss terms and reconstructions",
        description="Print the runs' final validation numbers and write one figure: their loss terms over "
                    "training and their reconstructions of the same validation images.",
    )
    compare.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="run directories")
    compare.add_argument("--out", type=Path, default=Path("comparison.png"),
                         help="where the figure goes (default ./comparison.png)")
    compare.set_defaults(run=compare_runs)


def list_runs(args: argparse.Namespace) -> int:
    from vaelab.run_dir import RunDir, find_runs, read_run_end
    from vaelab.viz.compare import format_table

    paths = find_runs(args.directory)
    if not paths:
        raise UsageError(f"{args.directory} holds no runs (no */config.yaml with a metrics.jsonl)")
    runs, unreadable = [], []
    for path in paths:
        try:
            runs.append(read_run_end(path))  # the config and the last records: a few kilobytes a run
        except UsageError as error:
            unreadable.append(f"{path.path}: {error}")
    if runs:
        names = [run.run_dir.relative_to(args.directory).as_posix() if run.run_dir != args.directory else run.name
                 for run in runs]
        print(format_table(runs, names, statuses=[RunDir(run.run_dir).status() for run in runs]))
    for line in unreadable:
        print(f"unreadable: {line}")
    return 0


def compare_runs(args: argparse.Namespace) -> int:
    from vaelab.evaluation.compare import reconstruct
    from vaelab.run_dir import read_run
    from vaelab.viz.compare import format_table, plot_comparison
    from vaelab.viz.noise import noise_lines

    if len(args.runs) < 2:
        raise UsageError("compare needs two runs or more: vaelab runs compare RUN RUN ...")
    runs = [read_run(path) for path in args.runs]
    print(format_table(runs))
    print("differences against the first run, from eval.json (paired over the same validation images):")
    for line in noise_lines([run.name for run in runs], [run.evaluation for run in runs]):
        print(f"  {line}")
    same_data = all(run.config.data == runs[0].config.data for run in runs)
    if not same_data:
        print("the runs trained on different data: the figure shows their loss terms, not reconstructions")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot_comparison(runs, args.out, reconstructions=reconstruct(runs, 8) if same_data else None)
    print(f"figure: {args.out}")
    return 0
