"""`vaelab runs`: list runs with their key numbers, and compare runs side by side."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from vaelab.errors import UsageError

EXAMPLES = """examples:
  vaelab runs ls runs                                   # every run below runs/, with its final numbers
  vaelab runs compare demo/vae-beta1 demo/vae-beta0.1 demo/ae --out compare.png
  vaelab runs compare demo/vae-beta1 demo/vae-beta0.1 demo/ae --html compare.html   # the answer page

After `vaelab evaluate RUN` of each run, compare prints and draws their eval.json side by side, the differences
against the first run (within noise or beyond) and the three questions answered on their numbers.
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
        "compare", help="two or more runs side by side: numbers, evaluations, samples and reconstructions",
        description="Print the runs' final validation numbers, their evaluations side by side (eval.json, after "
                    "`vaelab evaluate`) with the paired differences against the first run, and the three questions "
                    "answered on their numbers; write one figure (their loss terms over training and their "
                    "reconstructions of the same validation images) and, with --html, the page of all of it.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                         help="run directories (the first is the one the others are measured against)")
    compare.add_argument("--out", type=Path, default=Path("comparison.png"),
                         help="where the figure goes (default ./comparison.png)")
    compare.add_argument("--html", type=Path, metavar="PAGE",
                         help="also write the comparison page (self-contained HTML), e.g. compare.html (default: none)")
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
    from vaelab.evaluation.compare import decode_for_page
    from vaelab.run_dir import read_run
    from vaelab.viz.answers import answers
    from vaelab.viz.compare import format_table, plot_comparison
    from vaelab.viz.overfitting import overfitting
    from vaelab.viz.runs_page import write_comparison_page
    from vaelab.viz.side_by_side import differences_table, evaluation_table, text_table

    if len(args.runs) < 2:
        raise UsageError("compare needs two runs or more: vaelab runs compare RUN RUN ...")
    runs = [read_run(path) for path in args.runs]
    names = unique_names(args.runs)
    print(format_table(runs, names))
    for name, run in zip(names, runs):
        if (found := overfitting(run)) is not None:
            print(f"warning: {name}: {found.text()}")
    evaluated = evaluation_table(runs, names)
    if evaluated is None:
        print("\nnot evaluated yet: `vaelab evaluate RUN` for each run adds their evaluations side by side")
    else:
        print("\nevaluated (eval.json; +- standard errors over the images, [95% intervals]):")
        print(text_table(evaluated))
        differences = differences_table(runs, names, 0)
        if differences is not None:
            print(f"\npaired differences against {names[0]} over the same images (within noise: under 2 SE):")
            print(text_table(differences))
    for question, text in answers(runs, names).items():
        print(f"\n{QUESTIONS[question]}\n" + textwrap.fill(text, 110, initial_indent="  ", subsequent_indent="  "))
    decoded = decode_for_page(runs, names)
    if decoded is None or decoded.inputs is None:
        print("\nthe runs trained on different data: the figure shows their loss terms, not reconstructions")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    below = None if decoded is None or decoded.inputs is None else (decoded.inputs, decoded.reconstructions)
    plot_comparison(runs, args.out, reconstructions=below)
    print(f"\nfigure: {args.out}")
    if args.html is not None:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        page = write_comparison_page(runs, names, args.html, title=f"{len(runs)} runs compared: {', '.join(names)}",
                                     decode=lambda *_: decoded)
        print(f"page: {page}")
    return 0


QUESTIONS = {"scale": "Is it sound to scale the KL term?", "gradients": "What does it do in gradient descent?",
             "trade": "Does a smaller beta mean caring more about reconstructions than a smooth latent space?"}


def unique_names(paths: list[Path]) -> list[str]:
    """The runs' folder names, or their paths where two folders share a name (a/run and b/run)."""
    names = [path.name for path in paths]
    return names if len(set(names)) == len(names) else [path.as_posix() for path in paths]
