"""One loss-conditional model against separate runs: the rate-distortion curve of 8 betas on Fashion-MNIST.

`vaelab sweep` trains one run per beta; `vaelab sweep --conditional` trains one model for all of them
(Dosovitskiy & Djolonga 2020) for the same number of steps as each separate run, then evaluates it at
every beta. Targets (issue 5): the whole curve in at most a quarter of the time, and every beta's
beta = 1 ELBO within 2% of the separately trained model's.

    .venv/bin/python benchmarks/sweep.py                              # print the result (~12 min)
    .venv/bin/python benchmarks/sweep.py --write docs/benchmarks.md   # and put it into the docs
    .venv/bin/python benchmarks/sweep.py --variant film128:model.film_width=128 --variant wide:range=0.003:30

Each `--variant NAME:KEY=VALUE,...` is one more conditional sweep with config keys changed (e.g. a wider
FiLM MLP) or another sampling range (`range=LO:HI`, wider than the betas evaluated); the first, plain
`conditional`, is always run. Both kinds of sweep run one job at a time with one torch thread
(`training.threads=1`: on a 2-core machine shared with other work, two threads per step were several
times slower), and the timed interval is the whole `run_sweep`: training with its validation passes,
the cheap evaluation of every point (10 importance samples), summary.csv, figures and report. The
compared numbers are the summary's: the final validation record at each beta (one posterior sample
per image, the same validation images for both). The likelihood is Bernoulli, so that the beta = 1
ELBO is one and the same bound at every beta (under sse its implied sigma changes with beta).
With `--out DIR` the sweeps are kept, and a sweep already finished there (with the same settings) is
read back with its recorded time instead of being trained again.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from sections import cpu_name, write_section

from vaelab.config import Config
from vaelab.numbers import format_value
from vaelab.sweep.executor import LocalExecutor
from vaelab.sweep.grid import parse_axes
from vaelab.sweep.run import run_sweep

SECTION = "## Sweeps: one conditional model against separate runs"
TARGET_RATIO = 0.25
TARGET_GAP = 0.02
BETAS = "0.01,0.03,0.1,0.2,0.5,1,3,10"
RESULT = "benchmark.json"
READING = """**Reading.** Where the beta = 1 ELBO differs by more than 2% the conditional model does better, not
worse: at small betas it settles at a lower rate than the separately trained run (the rate columns) with no
more distortion (the MSE columns of the first table), and the rate it does not spend raises the beta = 1
ELBO. Read as
"within 2%" in both directions, the ELBO target is therefore missed at the small betas; read as "no more than
2% worse", it is met at every beta. The measure each separate run is trained on, the loss at its beta, is
the fairer comparison: there the conditional model matches or beats the separate runs up to beta = 1 and
falls behind at the top of its range, where it keeps more rate than a run trained for beta = 10 alone. The
paper's two remedies were tried as the variants: a wider FiLM MLP (128 hidden units) changes little; drawing
betas from a range that reaches past the largest beta evaluated (up to 30), so that beta = 10 is no longer
at the edge of the distribution, narrows the gap at beta = 10 and costs a little at the small betas. At
1500 steps the separate runs at small beta are probably not converged either (their loss at beta is higher
than the conditional model's), so these gaps measure two unfinished optimisations against each other as much
as the method."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--betas", default=BETAS)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--limit", type=int, default=10_000)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...")
    parser.add_argument("--out", type=Path, help="keep the sweeps here (and reuse the finished ones)")
    parser.add_argument("--write", type=Path, metavar="FILE.md", help=f"put the result under '{SECTION}' in FILE.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="vaelab: %(message)s")

    base = Config().with_updates({
        "data.spec": "fashion-mnist", "data.limit": args.limit, "model.width": args.width,
        "model.latent_dim": args.latent_dim, "objective.recon": "bernoulli", "training.steps": args.steps,
        "training.batch_size": args.batch_size, "training.threads": 1, "training.figures": False,
        "training.grad_every": 0, "training.log_every": 100, "training.progress": False,
    })
    axes = parse_axes([f"objective.beta={args.betas}"])
    variants = [("conditional", {}, None), *(parse_variant(text) for text in args.variant)]
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch)
        separate = timed_sweep(out / "separate", base, axes)
        conditional = {name: timed_sweep(out / name, base.with_updates(updates), axes, beta_range)
                       for name, updates, beta_range in variants}
    text = report(args, base, separate, conditional, variants)
    print(text)
    if args.write:
        write_section(args.write, text)


def parse_variant(text: str) -> tuple[str, dict[str, str], list[float] | None]:
    """`film128:model.film_width=128,range=0.003:30` -> ("film128", {"model.film_width": "128"}, [0.003, 30])."""
    name, _, assignments = text.partition(":")
    updates, beta_range = {}, None
    for assignment in filter(None, assignments.split(",")):
        key, _, value = assignment.partition("=")
        if key == "range":
            low, _, high = value.partition(":")
            beta_range = [float(low), float(high)]
        else:
            updates[key] = value
    return name, updates, beta_range


def timed_sweep(out: Path, base: Config, axes, beta_range: list[float] | None = None) -> dict[str, Any]:
    """Run (or read back) one sweep: {"seconds": wall clock, "load": the 1-minute load average before and
    after, "rows": summary rows by beta}."""
    settings = {"base": base.to_dict(), "axes": [axis.to_dict() for axis in axes], "beta_range": beta_range,
                "conditional": out.name != "separate"}
    saved = out / RESULT
    if saved.exists() and json.loads(saved.read_text())["settings"] == settings:
        return json.loads(saved.read_text())
    load_before, started = os.getloadavg()[0], time.perf_counter()
    result = run_sweep(base, axes, out, executor=LocalExecutor(1), conditional=settings["conditional"],
                       beta_range=beta_range)
    measured = {"settings": settings, "seconds": time.perf_counter() - started,
                "load": [load_before, os.getloadavg()[0]],
                "rows": {format_value(row["objective.beta"]): row for row in result.rows}}
    saved.write_text(json.dumps(measured, indent=1, default=str))
    return measured


def report(args, base: Config, separate: dict, conditional: dict[str, dict], variants) -> str:
    betas = list(separate["rows"])
    load_before, load_after = separate["load"][0], conditional[variants[-1][0]]["load"][1]
    lines = [
        SECTION, "",
        "Written by `benchmarks/sweep.py`; every number below comes from one run of", "",
        "    .venv/bin/python benchmarks/sweep.py --write docs/benchmarks.md "
        + " ".join(f"--variant {text}" for text in args.variant), "",
        (f"Machine: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, one thread per run; load average "
         f"{load_before:.1f} at the start and {load_after:.1f} at the end (shared with other work)."), "",
        (f"Problem: Fashion-MNIST, the first {args.limit:,} images (a tenth held out for validation), 28 x 28; "
         f"ConvVAE width {args.width}, latent {args.latent_dim}; Bernoulli likelihood; batch {args.batch_size}, "
         f"{args.steps} steps, Adam at {base.training.lr:g}. Separate: one run per beta ({len(betas)} runs, "
         f"{len(betas) * args.steps} steps). Conditional: one model of the same network with FiLM layers "
         f"(film_width {base.model.film_width} unless the variant says otherwise), {args.steps} steps, each example's "
         "beta drawn log-uniformly over the range (by default from the smallest to the largest beta below)."), "",
    ]
    for name, updates, beta_range in variants:
        result = conditional[name]
        ratio = result["seconds"] / separate["seconds"]
        gaps = {beta: relative_gap(result["rows"][beta]["elbo"], separate["rows"][beta]["elbo"]) for beta in betas}
        losses = {beta: relative_gap(separate["rows"][beta]["loss"], result["rows"][beta]["loss"]) for beta in betas}
        within = [beta for beta, gap in gaps.items() if abs(gap) <= TARGET_GAP]
        not_worse = [beta for beta, gap in gaps.items() if gap >= -TARGET_GAP]
        worst = min(gaps, key=lambda beta: -abs(gaps[beta]))
        change = ", ".join([*(f"{key}={value}" for key, value in updates.items()),
                            *([f"sampling range [{beta_range[0]:g}, {beta_range[1]:g}]"] if beta_range else [])])
        lines += [
            f"### {name}{f' ({change})' if change else ''}", "",
            (f"**Targets.** Wall clock {result['seconds']:.0f} s against {separate['seconds']:.0f} s: ratio "
             f"{ratio:.3f} (target <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else '**not met**'}). "
             "ELBO within "
             f"{TARGET_GAP:.0%} of the separate run's at {len(within)} of {len(betas)} betas "
             f"({'met' if len(within) == len(betas) else '**not met**'}; largest gap {gaps[worst]:+.1%} at "
             f"beta = {worst}); not more than {TARGET_GAP:.0%} worse at {len(not_worse)} of {len(betas)}."),
            "",
            own_objective(losses),
            "",
            ("| beta | rate, separate | rate, conditional | ELBO, separate | ELBO, conditional | ELBO gap | "
             "MSE, separate | MSE, conditional | loss at beta, separate | loss at beta, conditional | loss gap |"),
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for beta in betas:
            own, one = separate["rows"][beta], result["rows"][beta]
            lines.append(f"| {beta} | {number(own['rate'])} | {number(one['rate'])} | {number(own['elbo'])} | "
                         f"{number(one['elbo'])} | {gaps[beta]:+.2%} | {number(own['mse'])} | {number(one['mse'])} | "
                         f"{number(own['loss'])} | {number(one['loss'])} | {losses[beta]:+.2%} |")
        lines.append("")
    lines.append("ELBO gap: (conditional - separate) / |separate|, the beta = 1 ELBO (nats per image, higher is "
                 "better); negative is worse for the conditional model. Loss at beta: the objective each separate "
                 "run minimises, distortion + beta * rate (lower is better); its gap is (separate - conditional) / "
                 "separate, negative again where the conditional model does worse. Rates in nats per image; MSE "
                 "per pixel.")
    lines += ["", READING]
    return "\n".join(lines) + "\n"


def own_objective(losses: dict[str, float]) -> str:
    """Where the conditional model does better and worse than the separate runs on each beta's own objective."""
    better = [beta for beta, gap in losses.items() if gap >= 0]
    worse = [beta for beta, gap in losses.items() if gap < 0]
    text = f"On each beta's own objective (loss at beta) it does better at beta = {', '.join(better) or 'none'}"
    if not worse:
        return text + "."
    worst = min(worse, key=lambda beta: losses[beta])
    return text + f" and worse at {', '.join(worse)} (by {-losses[worst]:.1%} at beta = {worst})."


def relative_gap(value: Any, reference: Any) -> float:
    return (float(value) - float(reference)) / abs(float(reference))


def number(value: Any) -> str:
    return f"{float(value):.4g}" if value not in (None, "") else "n/a"



if __name__ == "__main__":
    main()
