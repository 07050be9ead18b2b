"""Training throughput: vaelab's `Trainer` against pythae 0.1.2 on the identical network, and FLOP/s.

    .venv/bin/pip install -e ".[bench]"                                  # pythae==0.1.2, same torch
    .venv/bin/python benchmarks/throughput.py                            # print the report (~8 min)
    .venv/bin/python benchmarks/throughput.py --write docs/benchmarks.md # and write it into the docs

What is compared. Both libraries train the *same* `ConvVAE` modules (pythae gets them wrapped as a
`BaseEncoder` / `BaseDecoder`), from the same initial weights, at the same batch size, for the same
number of steps, each with its own data handling, loss and training loop:

- vaelab: `Trainer.fit()` on the cached uint8 array (batches cut by index, converted to float per
  batch), objective `--recon sse --beta 2`: loss = mean_batch[ sum_pixels (x - x_hat)^2 + 2 KL ];
  every step also computes the beta = 1 ELBO and the MSE and logs them (MetricLogging).
- pythae: `VAE(reconstruction_loss="mse")` trained by `BaseTrainer.train_step` (its DataLoader
  over an in-memory float `BaseDataset`, its forward + loss, `zero_grad/backward/step`,
  `loss.item()`): loss = mean_batch[ 0.5 * sum_pixels (x - x_hat)^2 + KL ], i.e. exactly half of
  vaelab's, so Adam (invariant to the loss scale) takes the same steps.

The timed interval of a step runs from the end of the previous step to the end of this one; the
first `--warmup` steps of every run are dropped, and vaelab's once-per-epoch validation pass (which
pythae's `train_step` does not do) is taken out of the interval it falls in. Progress bars are off
on both sides. The two libraries alternate, `--rounds` times each, and medians are reported.

FLOP/s: the FLOPs of one training step (forward + backward; torch's `FlopCounterMode`, which counts
convolutions and matrix products) divided by the median step time, against a 4096 x 4096 float32
matmul timed in the same run (between the rounds, so it sees the same machine load).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import logging
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from vaelab.config import Config, DataConfig, ModelConfig, ObjectiveConfig, TrainingConfig
from vaelab.data import load_images, split_indices
from vaelab.model import ConvVAE
from vaelab.training.callbacks import Callback, MetricLogging
from vaelab.training.loggers import JsonlLogger
from vaelab.training.run import build_model, build_objective
from vaelab.training.trainer import Trainer

SECTION = "## Training throughput"
ARTWORKS = Path(__file__).resolve().parents[2] / "shared" / "data" / "artworks"


# ---------------------------------------------------------------------------------------------
# Workloads and measurements


@dataclass
class Workload:
    """A dataset as both libraries see it: vaelab's cached uint8 array and its training split."""

    name: str
    data: DataConfig
    images: np.ndarray  # (N, C, H, W) uint8, memory-mapped
    train_index: np.ndarray
    val_index: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    @classmethod
    def load(cls, name: str, data: DataConfig) -> Workload:
        loaded = load_images(data)  # decoding and caching happen here, outside every timed interval
        train, val = split_indices(len(loaded.images), data.val_fraction, data.split_seed)
        return cls(name, data, loaded.images, train, val)


@dataclass
class Setup:
    """One way of training: the network, the batch and the loop's options."""

    width: int = 32
    latent_dim: int = 32
    batch_size: int = 128
    channels_last: bool | None = None  # None: vaelab's default
    amp: bool = False
    compile: bool | None = None  # None: vaelab's default (only where TrainingConfig has the field)
    threads: int | None = None  # None: torch's default
    adam: str = "default"  # "default" (vaelab: fused), "fused", "foreach", "for-loop"


@dataclass
class Run:
    """The seconds of each timed step of one run, and the FLOPs of one of its steps."""

    step_seconds: list[float]
    batch_size: int
    flops: int = 0

    @property
    def seconds_per_step(self) -> float:
        return statistics.median(self.step_seconds)

    @property
    def images_per_second(self) -> float:
        return self.batch_size * len(self.step_seconds) / sum(self.step_seconds)


def matmul_gflops(n: int = 4096, reps: int = 5) -> float:
    """float32 (n x n) @ (n x n), median over `reps`, in GFLOP/s (2 n^3 FLOPs per product)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


@contextlib.contextmanager
def num_threads(threads: int | None):
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Stopwatch(Callback):
    """Seconds of each training step (end of the previous step to end of this one), minus validation."""

    def __init__(self) -> None:
        self.step_seconds: list[float] = []
        self.last = 0.0

    def on_fit_start(self, trainer):
        self.last = time.perf_counter()

    def on_train_batch_end(self, trainer, terms):
        now = time.perf_counter()
        self.step_seconds.append(now - self.last)
        self.last = now

    def on_validation_end(self, trainer, metrics):
        self.last = time.perf_counter()  # the validation pass is not a training step


def vaelab_config(workload: Workload, setup: Setup, steps: int) -> Config:
    training = dict(steps=steps, batch_size=setup.batch_size, amp=setup.amp, threads=setup.threads,
                    progress=False, figures=False)
    if setup.channels_last is not None:
        training["channels_last"] = setup.channels_last
    if setup.compile is not None:
        training["compile"] = setup.compile
    return Config(
        data=workload.data,
        model=ModelConfig(kind="vae", latent_dim=setup.latent_dim, width=setup.width),
        objective=ObjectiveConfig(recon="sse", beta=2.0),
        training=TrainingConfig(**training),
    ).validate()


def vaelab_trainer(workload: Workload, setup: Setup, steps: int, callbacks: list[Callback]) -> Trainer:
    """A Trainer built the way `vaelab.training.run.train` builds one, minus checkpoints and figures."""
    config = vaelab_config(workload, setup, steps)
    torch.manual_seed(config.training.seed)
    model = build_model(config, workload.shape)
    objective = build_objective(config, workload.shape, total_steps=steps)
    if config.training.channels_last:
        model = model.to(memory_format=torch.channels_last)
    trainer = Trainer(config=config, model=model, objective=objective, images=workload.images,
                      train_index=workload.train_index, val_index=workload.val_index,
                      device=torch.device("cpu"), callbacks=callbacks)
    if setup.adam != "default":
        params = [p for group in trainer.optimizer.param_groups for p in group["params"]]
        trainer.optimizer = make_adam(params, config.training.lr, setup.adam)
    return trainer


def make_adam(params, lr: float, kind: str) -> torch.optim.Adam:
    flags = {"fused": dict(fused=True), "foreach": dict(foreach=True), "for-loop": dict(foreach=False)}[kind]
    return torch.optim.Adam(params, lr=lr, **flags)


def time_vaelab(workload: Workload, setup: Setup, *, steps: int, warmup: int) -> Run:
    with num_threads(setup.threads), tempfile.TemporaryDirectory() as tmp:
        stopwatch = Stopwatch()
        logging_ = MetricLogging([JsonlLogger(Path(tmp) / "metrics.jsonl")], every=20)
        trainer = vaelab_trainer(workload, setup, warmup + steps, [logging_, stopwatch])
        trainer.fit()
        run = Run(stopwatch.step_seconds[warmup:], trainer.batch_size)
        run.flops = vaelab_step_flops(trainer)
    return run


def vaelab_step_flops(trainer: Trainer) -> int:
    """FLOPs of one `Trainer.training_step` (forward + backward; the Adam update is not counted)."""
    x = trainer.batch(trainer.train_index[: trainer.batch_size])
    with FlopCounterMode(display=False) as counter:
        trainer.training_step(x)
    return counter.get_total_flops()


# ---------------------------------------------------------------------------------------------
# pythae 0.1.2 on the same modules


def pythae_model(net: ConvVAE):
    """pythae's VAE whose encoder and decoder are `net`'s own modules (the identical network)."""
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.encoder, self.head = net.encoder, net.head

        def forward(self, x):
            mean, logvar = self.head(self.encoder(x)).chunk(2, dim=1)
            return ModelOutput(embedding=mean, log_covariance=logvar)

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.project, self.decoder = net.project, net.decoder

        def forward(self, z):
            logits = self.decoder(self.project(z).view(-1, *net.bottleneck_shape))
            return ModelOutput(reconstruction=torch.sigmoid(logits))

    c, h, w = net.hparams["channels"], net.hparams["image_size"], net.hparams["image_size"]
    config = VAEConfig(input_dim=(c, h, w), latent_dim=net.latent_dim, reconstruction_loss="mse")
    return VAE(config, encoder=Encoder(), decoder=Decoder())


def time_pythae(workload: Workload, setup: Setup, *, steps: int, warmup: int) -> Run:
    from pythae.data.datasets import BaseDataset
    from pythae.trainers import BaseTrainer, BaseTrainerConfig
    from pythae.trainers.training_callbacks import ProgressBarCallback, TrainingCallback

    class PythaeStopwatch(TrainingCallback):
        def __init__(self):
            self.step_seconds: list[float] = []
            self.last = 0.0

        def on_train_step_end(self, training_config, **kwargs):
            now = time.perf_counter()
            self.step_seconds.append(now - self.last)
            self.last = now

    bs = setup.batch_size
    # Full batches only, as vaelab drops an epoch's last partial batch; the images are float
    # tensors in [0, 1], the way pythae's users hand it their data.
    n = min(len(workload.train_index), (warmup + steps) * bs) // bs * bs
    data = torch.from_numpy(np.asarray(workload.images[np.sort(workload.train_index[:n])])).float() / 255.0
    dataset = BaseDataset(data, torch.zeros(n))

    with num_threads(setup.threads), tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        net = ConvVAE(image_size=workload.shape[1], channels=workload.shape[0], latent_dim=setup.latent_dim,
                      width=setup.width)
        model = pythae_model(net)
        stopwatch = PythaeStopwatch()
        config = BaseTrainerConfig(output_dir=tmp, per_device_train_batch_size=bs, learning_rate=1e-3,
                                   num_epochs=math.ceil((warmup + steps) / (n // bs)), seed=0, no_cuda=True)
        trainer = BaseTrainer(model, dataset, training_config=config, callbacks=[stopwatch])
        trainer.prepare_training()
        handler = trainer.callback_handler
        handler.callbacks = [c for c in handler.callbacks if not isinstance(c, ProgressBarCallback)]
        for epoch in range(1, config.num_epochs + 1):
            stopwatch.last = time.perf_counter()
            trainer.train_step(epoch)
        run = Run(stopwatch.step_seconds[warmup : warmup + steps], bs)
        batch = {"data": data[:bs]}
        with FlopCounterMode(display=False) as counter:
            model(batch).loss.backward()
        run.flops = counter.get_total_flops()
    return run


# ---------------------------------------------------------------------------------------------
# Where the time goes: per-layer times and FLOPs


def layer_profile(workload: Workload, setup: Setup, reps: int = 5) -> tuple[list[dict], float]:
    """Forward and backward milliseconds and FLOPs of every layer of one training step.

    Module hooks time each layer (on the CPU every op is synchronous, so wall time is the layer's
    time); the rest of the step (loss, sampling, the Adam update, cutting the batch) is what is left.
    """
    with num_threads(setup.threads):
        trainer = vaelab_trainer(workload, setup, 1, [])
        model = trainer.model
        x = trainer.batch(trainer.train_index[: trainer.batch_size])
        layers = {name: m for name, m in model.named_modules() if not list(m.children())}
        times = {name: [0.0, 0.0] for name in layers}
        starts: dict[tuple[str, int], float] = {}
        last_backward = [0.0]  # when the most recent layer's backward ended

        def stamp(name, phase, begin):
            def hook(*_):
                now = time.perf_counter()
                if begin:
                    starts[(name, phase)] = now
                else:
                    times[name][phase] += now - starts.pop((name, phase))
                    if phase == 1:
                        last_backward[0] = now
            return hook

        def first_layer_backward(name):
            # The input needs no gradient, so the first layer's module backward hooks never fire:
            # its backward (the weight gradient) runs from the previous layer's backward end until
            # its parameters' gradients are accumulated.
            def hook(_):
                times[name][1] += time.perf_counter() - last_backward[0]
                last_backward[0] = time.perf_counter()
            return hook

        handles = []
        for name, module in layers.items():
            handles += [module.register_forward_pre_hook(stamp(name, 0, True)),
                        module.register_forward_hook(stamp(name, 0, False)),
                        module.register_full_backward_pre_hook(stamp(name, 1, True)),
                        module.register_full_backward_hook(stamp(name, 1, False))]
        first = next(iter(layers))
        handles += [p.register_post_accumulate_grad_hook(first_layer_backward(first))
                    for p in layers[first].parameters()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(2):
                trainer.training_step(x)
            for t in times.values():
                t[0] = t[1] = 0.0
            start = time.perf_counter()
            for _ in range(reps):
                trainer.training_step(x)
            step = (time.perf_counter() - start) / reps
        for handle in handles:
            handle.remove()
        with FlopCounterMode(display=False) as counter:
            trainer.training_step(x)
        per_module = counter.get_flop_counts()
    rows = []
    for name, module in layers.items():
        flops = sum(per_module.get(f"ConvVAE.{name}", {}).values())
        fwd, bwd = times[name][0] / reps, times[name][1] / reps
        rows.append(dict(name=name, kind=type(module).__name__, forward=fwd, backward=bwd, flops=flops))
    return rows, step


# ---------------------------------------------------------------------------------------------
# The report


def fmt(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}" if abs(x) < 10 ** digits else f"{x:.0f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    matmul: list[float] = field(default_factory=list)

    def add(self, text: str = "") -> None:
        self.lines.append(text)
        print(text, flush=True)

    def measure_matmul(self) -> float:
        self.matmul.append(matmul_gflops())
        return self.matmul[-1]

    @property
    def peak(self) -> float:
        return statistics.median(self.matmul)


def alternate(runs: dict[str, Callable[[], Run]], rounds: int, report: Report) -> dict[str, list[Run]]:
    """Each contender once per round, the order rotated every round; a matmul before each round."""
    results: dict[str, list[Run]] = {name: [] for name in runs}
    names = list(runs)
    for r in range(rounds):
        report.measure_matmul()
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            results[name].append(runs[name]())
            print(f"    round {r + 1} {name}: {results[name][-1].images_per_second:.0f} img/s", file=sys.stderr)
    return results


def median_rate(runs: list[Run]) -> float:
    return statistics.median(run.images_per_second for run in runs)


def median_step(runs: list[Run]) -> float:
    return statistics.median(run.seconds_per_step for run in runs)


def compare_libraries(workloads, setup, args, report) -> None:
    report.add(f"### vaelab against pythae 0.1.2 (width {setup.width}, latent {setup.latent_dim}, "
               f"batch {setup.batch_size}, {args.steps} timed steps after {args.warmup} warm-up, "
               f"{args.rounds} rounds alternating)")
    report.add()
    rows = []
    for workload in workloads:
        results = alternate({
            "vaelab": lambda w=workload: time_vaelab(w, setup, steps=args.steps, warmup=args.warmup),
            "pythae": lambda w=workload: time_pythae(w, setup, steps=args.steps, warmup=args.warmup),
        }, args.rounds, report)
        v, p = results["vaelab"], results["pythae"]
        ratio = median_rate(v) / median_rate(p)
        for name, runs in (("vaelab", v), ("pythae", p)):
            gflops = runs[0].flops / median_step(runs) / 1e9
            rows.append([workload.name, name, fmt(median_rate(runs)),
                         ", ".join(fmt(r.images_per_second) for r in runs), fmt(median_step(runs) * 1e3),
                         fmt(runs[0].flops / 1e9), fmt(gflops), f"{gflops / report.peak:.2f}",
                         f"**{ratio:.2f}**" if name == "vaelab" else ""])
    report.add(table(["data", "library", "images/s (median)", "per round", "ms/step", "GFLOP/step",
                      "GFLOP/s", "of matmul", "vaelab / pythae"], rows))
    report.add()


def compare_options(workloads, base: Setup, variants: dict[str, dict], args, report) -> dict:
    report.add(f"### Options of vaelab's loop ({args.option_steps} timed steps, {args.option_rounds} rounds "
               "alternating; ratio to the first row)")
    report.add()
    rows, summary = [], {}
    for workload in workloads:
        results = alternate({
            name: (lambda w=workload, s=replace(base, **change): time_vaelab(w, s, steps=args.option_steps,
                                                                              warmup=args.warmup))
            for name, change in variants.items()
        }, args.option_rounds, report)
        first = median_rate(next(iter(results.values())))
        for name, runs in results.items():
            gflops = runs[0].flops / median_step(runs) / 1e9
            summary[(workload.name, name)] = median_rate(runs) / first
            rows.append([workload.name, name, fmt(median_rate(runs)), ", ".join(fmt(r.images_per_second) for r in runs),
                         f"{median_rate(runs) / first:.2f}", fmt(gflops), f"{gflops / report.peak:.2f}"])
    report.add(table(["data", "option", "images/s (median)", "per round", "ratio", "GFLOP/s", "of matmul"], rows))
    report.add()
    return summary


def scaling(workload, base: Setup, grid: list[dict], args, report) -> None:
    report.add(f"### FLOP efficiency against width and batch size ({workload.name}, {args.grid_steps} timed steps, "
               "1 run each)")
    report.add()
    rows = []
    for change in grid:
        setup = replace(base, **change)
        report.measure_matmul()
        run = time_vaelab(workload, setup, steps=args.grid_steps, warmup=args.warmup)
        gflops = run.flops / run.seconds_per_step / 1e9
        rows.append([str(setup.width), str(setup.batch_size), fmt(run.images_per_second),
                     fmt(run.seconds_per_step * 1e3), fmt(run.flops / 1e9), fmt(gflops), f"{gflops / report.peak:.2f}"])
    report.add(table(["width", "batch", "images/s", "ms/step", "GFLOP/step", "GFLOP/s", "of matmul"], rows))
    report.add()


def profile(workload, setup: Setup, report) -> None:
    rows, step = layer_profile(workload, setup)
    total_flops = sum(r["flops"] for r in rows)
    layer_time = sum(r["forward"] + r["backward"] for r in rows)
    report.add(f"### Where a step goes ({workload.name}, width {setup.width}, batch {setup.batch_size}, "
               f"channels_last={vaelab_config(workload, setup, 1).training.channels_last}): "
               f"{fmt(step * 1e3)} ms per step")
    report.add()
    out = []
    for r in rows:
        seconds = r["forward"] + r["backward"]
        rate = f"{r['flops'] / seconds / 1e9:.0f}" if r["flops"] and seconds else ""
        out.append([r["name"], r["kind"], f"{r['forward'] * 1e3:.1f}", f"{r['backward'] * 1e3:.1f}",
                    f"{100 * seconds / step:.0f}%", f"{100 * r['flops'] / total_flops:.0f}%", rate,
                    f"{float(rate) / report.peak:.2f}" if rate else ""])
    rest = step - layer_time
    out.append(["(rest)", "loss, sampling, Adam, batch", "", "", f"{100 * rest / step:.0f}%", "0%", "", ""])
    report.add(table(["layer", "kind", "forward ms", "backward ms", "share of time", "share of FLOPs", "GFLOP/s",
                      "of matmul"], out))
    report.add()


def write_section(path: Path, text: str) -> None:
    """Put `text` (starting with SECTION) into `path`, replacing only the old Training throughput section."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = old.splitlines()
    try:
        start = lines.index(SECTION)
    except ValueError:
        new = old.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        before, after = "\n".join(lines[:start]), "\n".join(lines[end:])
        new = before.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n" + ("\n" + after + "\n" if after else "")
    path.write_text(new)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per run (vaelab vs pythae)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps at the start of every run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--option-steps", type=int, default=20)
    parser.add_argument("--option-rounds", type=int, default=3)
    parser.add_argument("--grid-steps", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="a smoke run: few steps, one round, no grid")
    parser.add_argument("--write", type=Path, help="write the report into this markdown file's section")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps = args.option_steps = args.grid_steps = 3
        args.rounds = args.option_rounds = 1
        args.warmup = 1

    logging.getLogger("pythae").setLevel(logging.WARNING)
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("pythae"):
            logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="pythae")

    started = time.perf_counter()
    load_before = os.getloadavg()
    fashion = Workload.load("Fashion-MNIST 28x28x1", DataConfig(spec="fashion-mnist"))
    art = Workload.load("artworks 64x64x3", DataConfig(spec=str(ARTWORKS), image_size=64))
    workloads = [fashion, art]

    report = Report()
    command = "python benchmarks/throughput.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:]))
    report.add(SECTION)
    report.add()
    report.add("Written by `benchmarks/throughput.py`; every number below comes from one run of")
    report.add()
    report.add(f"    {command.strip()}")
    report.add()
    defaults = TrainingConfig()
    report.add(f"Machine: {platform.processor() or platform.machine()}, {cpu_name()}, {os.cpu_count()} cores, "
               f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
               f"load average {load_before[0]:.2f} at the start.")
    report.add(f"vaelab's defaults: channels_last={defaults.channels_last}, "
               f"compile={getattr(defaults, 'compile', 'n/a')}, amp={defaults.amp}, fused Adam, threads=torch's default.")
    report.add()

    base = Setup()
    compare_libraries(workloads, base, args, report)

    variants = {
        "defaults": {},
        "channels_last on": dict(channels_last=True),
        "channels_last off": dict(channels_last=False),
        "Adam foreach": dict(adam="foreach"),
        "Adam for-loop": dict(adam="for-loop"),
        "1 thread": dict(threads=1),
        "bf16 autocast (amp)": dict(amp=True),
    }
    if "compile" in TrainingConfig.__dataclass_fields__:
        variants["compile on"] = dict(compile=True)
        variants["compile off"] = dict(compile=False)
    compare_options(workloads, base, variants, args, report)

    if not args.quick:
        grid = [dict(width=16), dict(width=32), dict(width=64), dict(batch_size=32), dict(batch_size=512)]
        scaling(art, base, grid, args, report)
    profile(art, base, report)

    report.measure_matmul()
    report.add(f"float32 matmul 4096 x 4096 @ 4096 x 4096: median {fmt(report.peak)} GFLOP/s over "
               f"{len(report.matmul)} measurements between the runs (range {fmt(min(report.matmul))} to "
               f"{fmt(max(report.matmul))}); \"of matmul\" columns divide by the median. "
               f"Load average {os.getloadavg()[0]:.2f} at the end; the run took "
               f"{(time.perf_counter() - started) / 60:.1f} min.")
    report.add()
    if args.write:
        write_section(args.write, "\n".join(report.lines))
        print(f"wrote {args.write}", file=sys.stderr)


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


if __name__ == "__main__":
    main()
