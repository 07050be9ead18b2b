"""How long the command line takes to answer when it trains nothing: `vaelab --help`, a command's help,
a mistyped flag, `vaelab explain`. Each command line runs in a fresh interpreter, ROUNDS times, the
commands taking turns; the figure is the median wall time. Beside them, in the same rounds: an empty
interpreter (the floor) and an interpreter that imports torch, matplotlib's pyplot and scikit-learn's
PCA, which every command paid before the commands imported them only when they run.

    .venv/bin/python benchmarks/startup.py --write docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sections import cpu_name, write_section

ROUNDS = 7
VAELAB = [sys.executable, "-m", "vaelab"]
COMMANDS = {
    "python -c pass (the floor)": [sys.executable, "-c", "pass"],
    "vaelab --help": [*VAELAB, "--help"],
    "vaelab train --help": [*VAELAB, "train", "--help"],
    "vaelab train --no-such-flag (exit 2)": [*VAELAB, "train", "--no-such-flag"],
    "vaelab explain --beta 0.1": [*VAELAB, "explain", "--beta", "0.1"],
    "import torch, matplotlib.pyplot, sklearn.decomposition": [
        sys.executable, "-c", "import torch, matplotlib.pyplot, sklearn.decomposition"],
}


def seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="put the section into this markdown file")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(ROUNDS):
        for name, command in COMMANDS.items():
            times[name].append(seconds(command))
    heavy = statistics.median(times["import torch, matplotlib.pyplot, sklearn.decomposition"])
    rows = [f"| {name} | {statistics.median(seen):.2f} | {min(seen):.2f} | {statistics.median(seen) / heavy:.2f} |"
            for name, seen in times.items()]
    text = "\n".join([
        "## Start-up of the command line",
        "",
        "Written by `benchmarks/startup.py`; every number below comes from one run of",
        "",
        "    .venv/bin/python benchmarks/startup.py --write docs/benchmarks.md",
        "",
        (f"Machine: {cpu_name()}, {os.cpu_count()} cores; load average {load:.2f} at the start. Each command line "
        f"runs in a fresh interpreter, {ROUNDS} rounds with the command lines taking turns."),
        "",
        "| command line | median s | fastest s | of the heavy imports |",
        "|---|---|---|---|",
        *rows,
        "",
        ("The last row is what every command line paid before the commands imported torch, matplotlib and "
        "scikit-learn only when they run (cli/__init__.py); `vaelab explain` is arithmetic and never loads them."),
    ])
    print(text)
    if args.write:
        write_section(args.write, text)


if __name__ == "__main__":
    main()
