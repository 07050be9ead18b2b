"""Bayesian neural networks on tables: vaelab's mean-field BNN against a deterministic MLP (MAP) and a deep
ensemble, and its training time against bayesian-torch on the identical network, side by side.

    .venv/bin/pip install -e ".[bench]"                                # bayesian-torch (installed with --no-deps)
    .venv/bin/python benchmarks/bnn.py                                 # print the result (~10 min)
    .venv/bin/python benchmarks/bnn.py --write docs/benchmarks.md      # and put it into the docs
    .venv/bin/python benchmarks/bnn.py --quick                         # a smoke run: 1 seed, short runs

Quality: `train_bnn` with the defaults (one hidden layer of 50, prior N(0, 1), --kl-weight elbo, 300 epochs of
minibatches of 32, Adam 1e-2), `--model map` (the same MLP, one point estimate, the prior as weight decay) and
`--model ensemble` (5 MAP members), each over several seeds (initialisation, row order, noise) on the same
seeded split; test predictive NLL (100 weight samples), ECE (15 bins), RMSE or accuracy, as mean +- sd.

Time: the same network (in -> 50 -> ReLU -> out, q(w) = N(mu, softplus(rho)^2) initialised at sigma = 1e-3,
prior N(0, 1) on every weight and bias, a learned noise std for regression) trained for the same steps on the
same minibatches with Adam 1e-2 on NLL + KL / N, by vaelab's `BNNTrainer.train_step` and by a loop over
bayesian-torch's `LinearReparameterization` layers. The estimators differ by design: bayesian-torch draws one
weight sample per minibatch, vaelab one output sample per row (local reparameterisation, two matrix products a
layer). CPU seconds (time.process_time) of each, one torch thread, alternated A, B, A, B so that both see the same
load; the medians and the median of the per-pair ratios.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from sections import cpu_name, write_section

from vaelab.bnn.config import BNNConfig
from vaelab.bnn.data import load_table
from vaelab.bnn.run import train_bnn
from vaelab.bnn.train import BNNTrainer, batch_rows

TABLES = ("diabetes", "breast-cancer")
ESTIMATORS = ("The timed network is the same for both (in -> 50 -> ReLU -> out, q(w) = N(mu, softplus(rho)^2) from "
              "sigma = 1e-3, prior N(0, 1), Adam 1e-2 on NLL + KL / N, the same minibatches), the gradient estimator "
              "is not: bayesian-torch's `LinearReparameterization` draws one weight sample per minibatch, vaelab one "
              "output sample per row (local reparameterisation: a second matrix product per layer, for gradients "
              "whose variance falls with the batch). The test metrics above are vaelab's defaults: one hidden layer "
              "of 50, 300 epochs of minibatches of 32; the MAP network is the same MLP with the prior as weight "
              "decay, the ensemble 5 of them from different initialisations.")
KINDS = (("bayes", "vaelab BNN (mean-field, elbo)"), ("map", "deterministic MLP (MAP)"),
         ("ensemble", "deep ensemble, 5 MAP members"))


def quality(table: str, seeds: int, epochs: int | None) -> dict[str, list[dict]]:
    """kind -> the test records of `seeds` runs."""
    results: dict[str, list[dict]] = {kind: [] for kind, _ in KINDS}
    with tempfile.TemporaryDirectory() as folder:
        for kind, _ in KINDS:
            for seed in range(seeds):
                updates = {"data.spec": table, "model.kind": kind, "training.seed": seed, "training.figures": False,
                           "training.progress": False, "training.epochs": epochs}
                config = BNNConfig().with_updates(updates)
                results[kind].append(train_bnn(config, Path(folder) / f"{kind}-{seed}").test)
    return results


class BayesianTorchNet(torch.nn.Module):
    """The same MLP from bayesian-torch's layers: prior N(0, 1) (its `prior_variance` is the prior's std),
    posterior sigma = softplus(rho) starting at softplus(-6.907) = 1e-3, as vaelab's default."""

    def __init__(self, in_features: int, out_features: int, width: int, regression: bool):
        super().__init__()
        from bayesian_torch.layers import LinearReparameterization

        rho = math.log(math.expm1(1e-3))
        options = {"prior_mean": 0.0, "prior_variance": 1.0, "posterior_mu_init": 0.0, "posterior_rho_init": rho}
        self.hidden = LinearReparameterization(in_features, width, **options)
        self.out = LinearReparameterization(width, out_features, **options)
        self.log_noise_std = torch.nn.Parameter(torch.zeros(())) if regression else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden, kl_hidden = self.hidden(x)
        out, kl_out = self.out(torch.relu(hidden))
        return out, kl_hidden + kl_out


def time_training(table: str, steps: int, repeats: int) -> dict[str, list[float]]:
    """CPU seconds of `steps` training steps of each implementation, `repeats` times, alternated."""
    torch.set_num_threads(1)
    config = BNNConfig().with_updates({"data.spec": table, "training.steps": steps, "training.progress": False})
    data = load_table(config.data)
    regression = data.task == "regression"
    seconds: dict[str, list[float]] = {"vaelab": [], "bayesian-torch": []}
    for repeat in range(repeats):
        trainer = BNNTrainer(config.with_updates({"training.seed": repeat}), data)
        started = time.process_time()
        for _ in range(steps):
            trainer.train_step()
        seconds["vaelab"].append(time.process_time() - started)

        torch.manual_seed(repeat)
        net = BayesianTorchNet(len(data.features), data.out_features, config.model.widths[0], regression)
        optimizer = torch.optim.Adam(net.parameters(), lr=config.training.lr)
        x, y = torch.from_numpy(data.x["train"]), torch.from_numpy(data.y["train"])
        n, batch = len(y), config.training.batch_size
        started = time.process_time()
        for step in range(steps):
            rows = torch.from_numpy(batch_rows(step, n, batch, repeat))
            out, kl = net(x[rows])
            if regression:
                noise = net.log_noise_std.exp()
                nll = (0.5 * math.log(2 * math.pi) + net.log_noise_std
                       + (y[rows] - out[:, 0]).square() / (2 * noise ** 2)).mean()
            else:
                nll = torch.nn.functional.cross_entropy(out, y[rows])
            loss = nll + kl / n
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        seconds["bayesian-torch"].append(time.process_time() - started)
    return seconds


def mean_sd(values: list[float], digits: int = 3) -> str:
    if len(values) < 2:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def report(args: argparse.Namespace) -> str:
    load = os.getloadavg()[0]
    started = time.perf_counter()
    lines = ["## Bayesian neural networks", "",
             "Written by `benchmarks/bnn.py`; every number below comes from one run of", "",
             f"    python benchmarks/bnn.py {''.join(args.given)}--write docs/benchmarks.md", "",
             (f"Machine: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, one torch thread; load "
             f"average {load:.2f} at the start (the machine was shared with other work: the CPU-time ratio, "
             "measured side by side, is the number to read, not the seconds)."), ""]
    for table in args.tables:
        results = quality(table, args.seeds, args.epochs)
        regression = "rmse" in results["bayes"][0]
        quality_name = "rmse" if regression else "accuracy"
        lines += [f"### {table}: test metrics, {args.seeds} seeds (mean ± sd)", "",
                  (f"| network | predictive NLL (nats) | ECE | {'RMSE (target sd)' if regression else 'accuracy'} "
                  "| pruned units |"), "|---|---|---|---|---|"]
        for kind, label in KINDS:
            records = results[kind]
            pruned = (mean_sd([r["pruned_units"] for r in records], digits=1) + f" of {records[0]['hidden_units']}"
                      if "pruned_units" in records[0] else "-")
            lines.append(f"| {label} | {mean_sd([r['predictive_nll'] for r in records])} | "
                         f"{mean_sd([r['ece'] for r in records])} | {mean_sd([r[quality_name] for r in records])} "
                         f"| {pruned} |")
        lines.append("")
        seconds = time_training(table, args.steps, args.repeats)
        ratios = [a / b for a, b in zip(seconds["vaelab"], seconds["bayesian-torch"])]
        lines += [f"### {table}: training time, {args.steps} steps, {args.repeats} repetitions", "",
                  "| implementation | CPU s (median) | CPU ms / step | all repetitions (CPU s) |", "|---|---|---|---|"]
        for name, values in seconds.items():
            median = statistics.median(values)
            lines.append(f"| {name} | {median:.2f} | {1000 * median / args.steps:.2f} | "
                         f"{', '.join(f'{v:.2f}' for v in values)} |")
        lines += ["", (f"vaelab / bayesian-torch CPU time: {statistics.median(ratios):.2f}x (median of the per-pair "
                      f"ratios; range {min(ratios):.2f}-{max(ratios):.2f})."), ""]
    lines += [ESTIMATORS, ""]
    lines.append(f"Load average {os.getloadavg()[0]:.2f} at the end; the run took "
                 f"{(time.perf_counter() - started) / 60:.1f} min.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(TABLES), help="tables to measure (default: both)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per network for the test metrics (default 5)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default: vaelab bnn's, 300)")
    parser.add_argument("--steps", type=int, default=1000, help="training steps timed (default 1000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions of each (default 5)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 seed, 5 epochs, 50 steps, 2 repeats")
    parser.add_argument("--write", type=Path, help="write the report into this markdown file's section")
    args = parser.parse_args(argv)
    args.given = [f"{arg} " for arg in (sys.argv[1:] if argv is None else argv) if arg != "--write"
                  and arg != str(args.write)]  # the command line, as the report quotes it: "--seeds 3 "
    if args.quick:
        args.seeds, args.epochs, args.steps, args.repeats = 1, 5, 50, 2
    text = report(args)
    print(text)
    if args.write:
        write_section(args.write, text)
        print(f"wrote {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
