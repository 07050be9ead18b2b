"""Training throughput: vaelab's `Trainer` against pythae 0.1.2 on the identical network, and FLOP/s.

    .venv/bin/pip install -e ".[bench]"                                  # pythae==0.1.2, same torch
    .venv/bin/python benchmarks/throughput.py                            # print the report (~10 min)
    .venv/bin/python benchmarks/throughput.py --write docs/benchmarks.md # and write it into the docs

What is compared. Both libraries train the *same* `ConvVAE` modules (pythae gets them wrapped as a
`BaseEncoder` / `BaseDecoder`), from the same initial weights, at the same batch size, for the same
number of steps, each with its own data handling, loss and training loop:

- vaelab: `Trainer.fit()` on the cached uint8 array (batches cut by index, converted to float per
  batch), objective `--recon sse --beta 2`: loss = mean_batch[ sum_pixels (x - x_hat)^2 + 2 KL ];
  every step also computes the beta = 1 ELBO and the MSE and logs them (MetricLogging).
- pythae: `VAE(reconstruction_loss="mse")` trained by `BaseTrainer.train_step` (its DataLoader over
  an in-memory float `BaseDataset`, its forward + loss, `zero_grad/backward/step`, `loss.item()`):
  loss = mean_batch[ 0.5 * sum_pixels (x - x_hat)^2 + KL ], exactly half of vaelab's, so Adam
  (invariant to the scale of the loss) takes the same steps.

Every measurement runs in its own process, forked from this one before it has computed anything, so
no run inherits another's allocator state, thread pool or compiled graphs (the runs that compare
OpenMP's wait policy, which is read when torch loads, start a fresh interpreter instead). Within a run, a step is
timed from the end of the previous step to the end of this one; the first `--warmup` steps are
dropped, as is vaelab's once-per-epoch validation pass (pythae's `train_step` has none); a run's rate
is the batch size over its median step. Progress bars are off on both sides. The contenders
alternate, `--rounds` times each, and the median run is reported.

FLOP/s: the FLOPs of one training step (forward + backward, torch's `FlopCounterMode`, which counts
convolutions and matrix products) over the median step time, against a 4096 x 4096 float32 matmul
timed before every round of the same run, so that it sees the same machine.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch._inductor.config
from sections import cpu_name, write_section
from torch.utils.flop_counter import FlopCounterMode

from vaelab.config import Config, DataConfig, ModelConfig, ObjectiveConfig, TrainingConfig
from vaelab.data import load_images, split_indices
from vaelab.model import ConvVAE, build_model
from vaelab.objectives import build_objective
from vaelab.objectives.likelihood import Likelihood
from vaelab.training.batches import batch_indices, epoch_order
from vaelab.training.callbacks import Callback, MetricLogging
from vaelab.training.device import keep_freed_memory
from vaelab.training.loggers import JsonlLogger
from vaelab.training.trainer import Trainer

SECTION = "## Training throughput"
ARTWORKS = Path(__file__).resolve().parents[2] / "shared" / "data" / "artworks"


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


WORKLOADS: dict[str, Workload] = {}  # loaded before the first fork; the measuring processes inherit them


@dataclass
class Setup:
    """One way of training: the network, the batch and the loop's options."""

    width: int = 32
    latent_dim: int = 32
    batch_size: int = 128
    channels_last: bool | None = None  # None: vaelab's default
    amp: bool = False
    compile: bool = False  # torch.compile the model in place (nn.Module.compile)
    threads: int | None = None  # None: torch's default
    adam: str = "default"  # "default" (vaelab: fused), "foreach", "for-loop"
    keep_memory: bool | None = None  # glibc keeps freed memory (keep_freed_memory); None: the library's way
    reuse_recon: bool = True  # the objective's NLL and MSE from its recon term (False: a second pass, as before)
    activation: str = "silu"  # "relu": nn.ReLU in place of every nn.SiLU (another model, for comparison)


@dataclass
class Run:
    """The seconds of each timed step of one run, and the FLOPs of one step."""

    step_seconds: list[float]
    batch_size: int
    flops: int = 0
    rounds: list[float] = field(default_factory=list)  # images/s of every round, set by `alternate`
    warmup_seconds: float = 0.0  # the untimed first steps (compilation, for torch.compile)

    @property
    def seconds_per_step(self) -> float:
        return statistics.median(self.step_seconds)

    @property
    def images_per_second(self) -> float:
        return self.batch_size / self.seconds_per_step

    @property
    def gflops(self) -> float:
        return self.flops / self.seconds_per_step / 1e9


# ---------------------------------------------------------------------------------------------
# Measurements (each runs in a fresh forked process, see `isolated`)


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


def vaelab_trainer(workload: Workload, setup: Setup, steps: int, callbacks: list[Callback]) -> Trainer:
    """A Trainer built the way `vaelab.training.run.train` builds one, minus checkpoints and figures."""
    training = {"steps": steps, "batch_size": setup.batch_size, "amp": setup.amp, "threads": setup.threads,
                "progress": False, "figures": False}
    if setup.channels_last is not None:
        training["channels_last"] = setup.channels_last
    config = Config(
        data=workload.data,
        model=ModelConfig(kind="vae", arch="plain", latent_dim=setup.latent_dim, width=setup.width,
                          activation=setup.activation or "silu"),
        objective=ObjectiveConfig(recon="sse", beta=2.0),
        training=TrainingConfig(**training),
    ).validate()
    if config.training.threads:
        torch.set_num_threads(config.training.threads)
    if setup.keep_memory is not False:
        keep_freed_memory()  # as vaelab.training.run.train does where a run starts on the CPU
    torch.manual_seed(config.training.seed)
    model = build_model(config, workload.shape)
    objective = build_objective(config, workload.shape, total_steps=steps)
    if config.training.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if not setup.reuse_recon:  # the base class's way: the NLL and the MSE computed again from the pixels
        likelihood = objective.likelihood
        likelihood.nll_given_recon = partial(Likelihood.nll_given_recon, likelihood)
        likelihood.mse_given_recon = partial(Likelihood.mse_given_recon, likelihood)
    trainer = Trainer(config=config, model=model, objective=objective, images=workload.images,
                      train_index=workload.train_index, val_index=workload.val_index,
                      device=torch.device("cpu"), callbacks=callbacks)
    if setup.compile:
        model.compile()  # in place: the state_dict keeps its names
    if setup.adam != "default":
        params = [p for group in trainer.optimizer.param_groups for p in group["params"]]
        foreach = setup.adam == "foreach"
        trainer.optimizer = torch.optim.Adam(params, lr=config.training.lr, foreach=foreach)
    return trainer


def time_vaelab(name: str, setup: Setup, steps: int, warmup: int) -> Run:
    workload = WORKLOADS[name]
    with tempfile.TemporaryDirectory() as tmp:
        stopwatch = Stopwatch()
        logging_ = MetricLogging([JsonlLogger(Path(tmp) / "metrics.jsonl")], every=20)
        trainer = vaelab_trainer(workload, setup, warmup + steps, [logging_, stopwatch])
        trainer.fit()
    x = trainer.batch(trainer.train_index[: trainer.batch_size])
    with FlopCounterMode(display=False) as counter:
        trainer.training_step(x)  # forward + backward; the Adam update is not counted
    return Run(stopwatch.step_seconds[warmup:], trainer.batch_size, counter.get_total_flops())


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

    c, size = net.hparams["channels"], net.hparams["image_size"]
    config = VAEConfig(input_dim=(c, size, size), latent_dim=net.latent_dim, reconstruction_loss="mse")
    return VAE(config, encoder=Encoder(), decoder=Decoder())


def time_pythae(name: str, setup: Setup, steps: int, warmup: int) -> Run:
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

    if setup.keep_memory:
        keep_freed_memory()
    workload, bs = WORKLOADS[name], setup.batch_size
    # Full batches only, as vaelab drops an epoch's last partial batch; float tensors in [0, 1],
    # the way pythae's users hand it their images.
    n = min(len(workload.train_index), (warmup + steps) * bs) // bs * bs
    data = torch.from_numpy(np.asarray(workload.images[np.sort(workload.train_index[:n])])).float() / 255.0
    dataset = BaseDataset(data, torch.zeros(n))
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)  # the initial weights vaelab's Trainer starts from (training.seed = 0)
        c, size, _ = workload.shape
        model = pythae_model(ConvVAE(image_size=size, channels=c, latent_dim=setup.latent_dim, width=setup.width))
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
    with FlopCounterMode(display=False) as counter:
        model({"data": data[:bs]}).loss.backward()
    return Run(stopwatch.step_seconds[warmup : warmup + steps], bs, counter.get_total_flops())


def paired_steps(name: str, setups: dict[str, Setup], steps: int, warmup: int) -> dict[str, Run]:
    """Every variant's Trainer in one process, their steps interleaved (one step of each per round).

    Whatever else the machine does at a moment slows all variants alike, so small differences stay
    visible. Each step is what `Trainer.fit` does for it: cut and convert the batch, the training
    step, the metric logging.
    """
    workload = WORKLOADS[name]
    default_threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        trainers, loggers = {}, {}
        for variant, setup in setups.items():
            torch.set_num_threads(default_threads)
            trainers[variant] = vaelab_trainer(workload, setup, warmup + steps, [])
            loggers[variant] = MetricLogging([JsonlLogger(Path(tmp) / f"{len(loggers)}.jsonl")], every=20)
        seconds: dict[str, list[float]] = {variant: [] for variant in setups}
        names = list(setups)
        for step in range(warmup + steps):
            for variant in names[step % len(names):] + names[: step % len(names)]:
                trainer = trainers[variant]
                torch.set_num_threads(setups[variant].threads or default_threads)
                order = epoch_order(trainer.train_index, trainer.config.training.seed, trainer.epoch)
                index = batch_indices(order, trainer.step % trainer.steps_per_epoch, trainer.batch_size)
                start = time.perf_counter()
                terms = trainer.training_step(trainer.batch(index))
                trainer.step += 1
                loggers[variant].on_train_batch_end(trainer, terms)
                seconds[variant].append(time.perf_counter() - start)
        torch.set_num_threads(default_threads)
    return {variant: Run(seconds[variant][warmup:], trainers[variant].batch_size,
                         warmup_seconds=sum(seconds[variant][:warmup])) for variant in setups}


def adam_update_ms(name: str, kind: str, reps: int = 50) -> float:
    """Milliseconds of one Adam update of the default network's parameters (gradients filled in)."""
    c, size, _ = WORKLOADS[name].shape
    params = list(ConvVAE(image_size=size, channels=c, latent_dim=32, width=32).parameters())
    for p in params:
        p.grad = torch.randn_like(p)
    flags = {"fused": True} if kind == "fused" else {"foreach": kind == "foreach"}
    optimizer = torch.optim.Adam(params, lr=1e-3, **flags)
    times = []
    for _ in range(reps + 5):
        start = time.perf_counter()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[5:]) * 1e3


def layer_profile(name: str, setup: Setup, reps: int = 5) -> tuple[list[dict], float]:
    """Forward and backward seconds and FLOPs of every layer of one training step, and the step's seconds.

    Module hooks time each layer (on the CPU every op is synchronous, so wall time is the layer's
    time); the rest of the step (loss, sampling, the Adam update, cutting the batch) is what is left.
    """
    trainer = vaelab_trainer(WORKLOADS[name], setup, 1, [])
    x = trainer.batch(trainer.train_index[: trainer.batch_size])
    layers = {name: m for name, m in trainer.model.named_modules() if not list(m.children())}
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
                last_backward[0] = now if phase == 1 else last_backward[0]
        return hook

    def first_layer_backward(name):
        # The input needs no gradient, so the first layer's module backward hooks never fire: its
        # backward (the weight gradient) runs from the previous layer's backward end until its
        # parameters' gradients are accumulated.
        def hook(_):
            now = time.perf_counter()
            times[name][1] += now - last_backward[0]
            last_backward[0] = now
        return hook

    handles = []
    for layer, module in layers.items():
        handles += [module.register_forward_pre_hook(stamp(layer, 0, True)),
                    module.register_forward_hook(stamp(layer, 0, False)),
                    module.register_full_backward_pre_hook(stamp(layer, 1, True)),
                    module.register_full_backward_hook(stamp(layer, 1, False))]
    first = next(iter(layers))
    handles += [p.register_post_accumulate_grad_hook(first_layer_backward(first)) for p in layers[first].parameters()]
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
    rows = [{"name": layer, "kind": type(module).__name__, "forward": times[layer][0] / reps,
             "backward": times[layer][1] / reps, "flops": sum(per_module.get(f"ConvVAE.{layer}", {}).values())}
            for layer, module in layers.items()]
    return rows, step


def isolated(fn, *args):
    """fn(*args) in a new process forked from this one (which has loaded the data and computed nothing)."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_in_child, args=(send, fn, args))
    child.start()
    send.close()
    try:
        ok, value = receive.recv()
    except EOFError:
        ok, value = False, f"the process died (exit code {child.join() or child.exitcode})"
    child.join()
    if not ok:
        raise RuntimeError(f"{fn.__name__}{args} failed in its process:\n{value}")
    return value


@contextlib.contextmanager
def environment(env: dict[str, str | None]):
    """os.environ with `env` applied (None: the variable unset), restored on exit."""
    def apply(values: dict[str, str | None]) -> None:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    saved = {name: os.environ.get(name) for name in env}
    apply(env)
    try:
        yield
    finally:
        apply(saved)


def spawned(env: dict[str, str | None], fn, *args):
    """fn(*args) in a fresh interpreter started with `env` applied to this one's environment (see
    `environment`): for settings that a library reads only when it loads, such as OpenMP's."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_in_child, args=(send, fn, args))
    with environment(env):
        child.start()
    send.close()
    ok, value = receive.recv()
    child.join()
    if not ok:
        raise RuntimeError(f"{fn.__name__}{args} failed in its process:\n{value}")
    return value


def time_vaelab_loading(name: str, data: DataConfig, setup: Setup, steps: int, warmup: int) -> Run:
    """`time_vaelab` in a process that has not loaded the workload (a `spawned` one): from the cache first."""
    WORKLOADS[name] = Workload.load(name, data)
    return time_vaelab(name, setup, steps, warmup)


def _in_child(send, fn, args) -> None:
    try:
        send.send((True, fn(*args)))
    except BaseException:  # noqa: BLE001 - sent to the parent, which reports it
        send.send((False, traceback.format_exc()))


# ---------------------------------------------------------------------------------------------
# The report


def fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    matmul: list[float] = field(default_factory=list)

    def add(self, text: str = "") -> None:
        self.lines.append(text)
        print(text, flush=True)

    def measure_matmul(self) -> None:
        self.matmul.append(isolated(matmul_gflops))

    @property
    def peak(self) -> float:
        return statistics.median(self.matmul)

    def of_peak(self, run: Run) -> str:
        return f"{run.gflops / self.peak:.2f}"


def alternate(contenders: dict[str, tuple], rounds: int, report: Report) -> dict[str, Run]:
    """Each contender once per round (order rotated every round) after a matmul; the median run of each."""
    results: dict[str, list[Run]] = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(rounds):
        report.measure_matmul()
        for name in names[r % len(names):] + names[: r % len(names)]:
            results[name].append(isolated(*contenders[name]))
            print(f"    round {r + 1} {name}: {results[name][-1].images_per_second:.0f} img/s", file=sys.stderr)
    medians = {}
    for name, runs in results.items():
        medians[name] = sorted(runs, key=lambda run: run.seconds_per_step)[len(runs) // 2]
        medians[name].rounds = [run.images_per_second for run in runs]
    return medians


def compare_libraries(names: list[str], setup: Setup, steps: dict[str, int], args, report: Report) -> dict:
    report.add(f"### vaelab against pythae 0.1.2 (width {setup.width}, latent {setup.latent_dim}, batch "
               f"{setup.batch_size}; {args.rounds} rounds)")
    report.add()
    rows, ratios = [], {}
    for name in names:
        runs = alternate({
            "vaelab": (time_vaelab, name, setup, steps[name], args.warmup),
            "pythae": (time_pythae, name, setup, steps[name], args.warmup),
            "pythae + keep_freed_memory": (time_pythae, name, replace(setup, keep_memory=True), steps[name],
                                           args.warmup),
        }, args.rounds, report)
        ratios[name] = runs["vaelab"].images_per_second / runs["pythae"].images_per_second
        for library, run in runs.items():
            ratio = runs["vaelab"].images_per_second / run.images_per_second
            rows.append([name, str(steps[name]), library, fmt(run.images_per_second),
                         ", ".join(fmt(x) for x in run.rounds), fmt(run.seconds_per_step * 1e3), fmt(run.flops / 1e9),
                         fmt(run.gflops), report.of_peak(run), "" if library == "vaelab" else f"**{ratio:.2f}**"])
        ratios[(name, "flops")] = runs["vaelab"].gflops
    report.add(table(["data", "steps", "library", "images/s", "per round", "ms/step", "GFLOP/step", "GFLOP/s",
                      "of matmul", "vaelab / this"], rows))
    report.add()
    return ratios


def compare_options(names: list[str], base: Setup, variants: dict[str, dict], steps: dict[str, int], args,
                    report: Report) -> dict:
    report.add("### Options of vaelab's loop")
    report.add()
    report.add("Each dataset's variants train side by side in one process, one step of each in turn, so that "
               "the machine's other work slows them alike; \"ratio\" is the variant's rate over the defaults'.")
    report.add()
    rows, ratios = [], {}
    warmup = max(args.warmup, 5)
    for name in names:
        report.measure_matmul()
        setups = {variant: replace(base, **change) for variant, change in variants.items()}
        runs = isolated(paired_steps, name, setups, steps[name], warmup)
        flops = isolated(time_vaelab, name, base, 1, 1).flops  # the same for every variant
        first = next(iter(runs.values()))
        for variant, run in runs.items():
            run.flops = flops
            ratios[(name, variant)] = run.images_per_second / first.images_per_second
            rows.append([name, str(len(run.step_seconds)), variant, fmt(run.images_per_second),
                         fmt(run.seconds_per_step * 1e3), f"{ratios[(name, variant)]:.2f}", fmt(run.gflops),
                         report.of_peak(run), f"{run.warmup_seconds:.1f}"])
    report.add(table(["data", "steps", "option", "images/s", "ms/step", "ratio", "GFLOP/s", "of matmul",
                      f"first {warmup} steps, s"], rows))
    report.add()
    rows = [[name, *(f"{isolated(adam_update_ms, name, kind):.2f}" for kind in ("fused", "foreach", "for-loop"))]
            for name in names]
    report.add("One Adam update of the same network alone, in milliseconds (so the differences between the Adam "
               "rows above can be read against the step time):")
    report.add()
    report.add(table(["network for", "fused (vaelab)", "foreach", "for-loop (torch's CPU default, pythae)"], rows))
    report.add()
    report.add(f"glibc's malloc as is against keep_freed_memory() (a process-wide setting, so here one process "
               f"per run; {args.option_rounds} rounds):")
    report.add()
    rows = []
    for name in names:
        runs = alternate({"keep_freed_memory() (default)": (time_vaelab, name, base, steps[name] // 2, args.warmup),
                          "glibc's malloc as is": (time_vaelab, name, replace(base, keep_memory=False),
                                                   steps[name] // 2, args.warmup)}, args.option_rounds, report)
        first = next(iter(runs.values()))
        for variant, run in runs.items():
            ratios[(name, variant)] = run.images_per_second / first.images_per_second
            rows.append([name, variant, fmt(run.images_per_second), ", ".join(fmt(x) for x in run.rounds),
                         f"{ratios[(name, variant)]:.2f}"])
    report.add(table(["data", "allocator", "images/s", "per round", "ratio"], rows))
    report.add()
    return ratios


def wait_policy(names: list[str], base: Setup, steps: dict[str, int], args, report: Report) -> dict:
    report.add(f"OpenMP's wait policy is read once, when torch loads, so here every run starts a fresh interpreter "
               f"({args.option_rounds} rounds; load average {os.getloadavg()[0]:.2f} before). By default an idle "
               "OpenMP thread spins for a while before it sleeps; PASSIVE makes it sleep at once, which leaves the "
               "core to whatever else is runnable, at the price of a wake-up per parallel region:")
    report.add()
    policies = {"OpenMP's default": {"OMP_WAIT_POLICY": None},
                "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"}}
    rows, ratios = [], {}
    for name in names:
        runs: dict[str, list[Run]] = {policy: [] for policy in policies}
        for r in range(args.option_rounds):
            for policy in list(policies)[r % 2:] + list(policies)[: r % 2]:
                runs[policy].append(spawned(policies[policy], time_vaelab_loading, name, WORKLOADS[name].data, base,
                                            steps[name] // 2, args.warmup))
        rates = {policy: statistics.median(run.images_per_second for run in done) for policy, done in runs.items()}
        first = next(iter(rates.values()))
        for policy, done in runs.items():
            ratios[(name, policy)] = rates[policy] / first
            rows.append([name, policy, fmt(rates[policy]), ", ".join(fmt(run.images_per_second) for run in done),
                         f"{ratios[(name, policy)]:.2f}"])
    report.add(table(["data", "waiting threads", "images/s", "per round", "ratio"], rows))
    report.add()
    return ratios


def scaling(name: str, base: Setup, grid: list[dict], args, report: Report) -> None:
    report.add(f"### FLOP efficiency against width and batch size ({name}; {args.grid_steps} timed steps, "
               "one run each)")
    report.add()
    rows = []
    for change in grid:
        setup = replace(base, **change)
        report.measure_matmul()
        run = isolated(time_vaelab, name, setup, args.grid_steps, args.warmup)
        rows.append([str(setup.width), str(setup.batch_size), fmt(run.images_per_second),
                     fmt(run.seconds_per_step * 1e3), fmt(run.flops / 1e9), fmt(run.gflops), report.of_peak(run)])
    report.add(table(["width", "batch", "images/s", "ms/step", "GFLOP/step", "GFLOP/s", "of matmul"], rows))
    report.add()


def profile(name: str, setup: Setup, report: Report) -> float:
    """Write the per-layer table; return the rate of the FLOP-counted layers alone, over the matmul's."""
    rows, step = isolated(layer_profile, name, setup)
    total_flops = sum(r["flops"] for r in rows)
    channels_last = TrainingConfig().channels_last if setup.channels_last is None else setup.channels_last
    layout = "channels_last" if channels_last else "contiguous (NCHW)"
    report.add(f"### Where a step goes ({name}, width {setup.width}, batch {setup.batch_size}, {layout}; "
               f"{fmt(step * 1e3)} ms per step with the timing hooks)")
    report.add()
    out = []
    for r in rows:
        seconds = r["forward"] + r["backward"]
        rate = r["flops"] / seconds / 1e9 if r["flops"] and seconds else None
        out.append([r["name"], r["kind"], f"{r['forward'] * 1e3:.1f}", f"{r['backward'] * 1e3:.1f}",
                    f"{100 * seconds / step:.0f}%", f"{100 * r['flops'] / total_flops:.0f}%",
                    f"{rate:.0f}" if rate else "", f"{rate / report.peak:.2f}" if rate else ""])
    rest = step - sum(r["forward"] + r["backward"] for r in rows)
    out.append(["(rest)", "loss, sampling, Adam, batch", "", "", f"{100 * rest / step:.0f}%", "0%", "", ""])
    report.add(table(["layer", "kind", "forward ms", "backward ms", "share of time", "share of FLOPs", "GFLOP/s",
                      "of matmul"], out))
    report.add()
    # The same table in three sentences: the wide layers, the thin first and last ones, everything else.
    big = [r for r in rows if r["flops"] > 0.1 * total_flops]
    thin = [rows[0], next(r for r in reversed(rows) if r["flops"])]
    rate = lambda group: sum(r["flops"] for r in group) / sum(r["forward"] + r["backward"] for r in group) / 1e9
    share = lambda group: sum(r["forward"] + r["backward"] for r in group) / step
    small = sum(r["forward"] + r["backward"] for r in rows if not r["flops"]) + rest
    bound = rate([r for r in rows if r["flops"]]) / report.peak
    report.add(f"The {len(big)} wide convolutions ({100 * sum(r['flops'] for r in big) / total_flops:.0f}% of the "
               f"FLOPs) run at {rate(big) / report.peak:.2f} of the matmul and take {100 * share(big):.0f}% of the "
               f"step; the first and last layers (from and to the {WORKLOADS[name].shape[0]} image channels) run "
               f"at {rate(thin) / report.peak:.2f} "
               f"({100 * sum(r['flops'] for r in thin) / total_flops:.0f}% of the FLOPs, "
               f"{100 * share(thin):.0f}% of the time); the activations, the loss, sampling, the Adam update "
               f"and cutting the batch do no counted FLOPs and take {100 * small / step:.0f}%. Were those free, "
               f"the step would run at the rate of its FLOP-counted layers: {bound:.2f} of the matmul.")
    report.add()
    return bound




ABOUT = """\
Both libraries train the same `ConvVAE` modules (vaelab's default network: width 32, latent 32;
pythae gets them wrapped as its `BaseEncoder` / `BaseDecoder`) from the same initial weights, at
the same batch size, for the same number of steps, each with its own data handling, loss and loop.
vaelab: `Trainer.fit()` on the cached uint8 array, objective `--recon sse --beta 2`, i.e.
mean over the batch of sum over pixels (x - x_hat)^2 + 2 KL, plus the beta = 1 ELBO and the MSE
computed and logged every step. pythae: `VAE(reconstruction_loss="mse")` trained by
`BaseTrainer.train_step` on an in-memory float `BaseDataset`: mean over the batch of
0.5 * sum over pixels (x - x_hat)^2 + KL, exactly half of vaelab's loss, so that Adam (invariant
to the scale of the loss) takes the same steps. Every measurement runs in a process of its own,
forked before anything was computed; a run's rate is the batch size over its median step (the
first steps and vaelab's validation passes are not timed); the contenders alternate and the
median round is shown, with every round's rate next to it. FLOPs are counted by torch's
`FlopCounterMode` (convolutions and matrix products of the forward and backward pass) and divided
by the median step time; "of matmul" divides that by the rate of a float32 4096 x 4096 matmul
timed before every round in the same run.

`pythae + keep_freed_memory` is pythae with the one allocator setting vaelab makes on the CPU
(`vaelab.training.device.keep_freed_memory`): glibc's malloc otherwise returns a step's freed
activation buffers to the kernel and page-faults them back in (zeroed) on the next step. That row
shows where vaelab's lead over pythae comes from, and that pythae's users can have it too
(`MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=2147483647` in the environment).
"""


DEFAULTS = """\
vaelab turns on by default what made both datasets faster while computing the same numbers (to
float round-off, tests/training/test_options.py): the NHWC layout (`training.channels_last`), the
allocator setting `keep_freed_memory()` on the CPU, and the fused Adam update (whose gain is small
beside a step: see the Adam table). The objective takes the beta = 1 ELBO's NLL and the logged MSE
from the recon term it has just computed (for `sse`, NLL = SSE / (2 sigma^2) + D log sigma +
D/2 log(2 pi) and MSE = SSE / D) instead of going over the pixels twice more: the row "NLL and MSE
in a second pass (as before)" is the old way, whose gradients are the same bit for bit. bf16
autocast (`training.amp`) is faster but rounds every convolution's inputs to bfloat16's 8-bit
mantissa, so it stays an opt-in, and its FLOP/s would have to be held against a bfloat16 matmul, not
the float32 one. torch's default thread count (one per core) stays. torch.compile
(`training.compile`) stays off: it gained nothing consistent over repeated runs on this CPU (oneDNN
already runs the convolutions; it only fuses the cheap element-wise work) and costs the compilation
in the table's last column (measured without torch's compile caches), again for every new batch
shape (validation, figures). "ReLU for SiLU" is another model, not a way of computing this one: its
activation is cheaper, but the network's activation is a modelling choice (`model.activation`,
recorded in the checkpoint), so it is measured here and not made the default. OMP_WAIT_POLICY=PASSIVE is an
environment variable that OpenMP reads when torch loads, so a library cannot set it for its caller:
on a machine that other jobs share (as this one was), export it before starting vaelab; on an idle
machine the spinning default avoids a wake-up per parallel region. Wider networks use the CPU better
(see the width table), but the width is the model's, not a speed option: the default stays at 32.
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fashion-steps", type=int, default=100, help="timed steps of a Fashion-MNIST run")
    parser.add_argument("--art-steps", type=int, default=25, help="timed steps of an artworks run")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps at the start of every run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of vaelab against pythae")
    parser.add_argument("--option-rounds", type=int, default=3, help="rounds of the allocator comparison")
    parser.add_argument("--grid-steps", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="a smoke run: few steps, one round, no grid")
    parser.add_argument("--write", type=Path, help="write the report into this markdown file's section")
    args = parser.parse_args(argv)
    if args.quick:
        args.fashion_steps = args.art_steps = args.grid_steps = 4
        args.rounds = args.option_rounds = args.warmup = 1

    logging.disable(logging.WARNING)  # pythae logs every trainer's set-up at INFO and WARNING
    warnings.filterwarnings("ignore")
    torch._dynamo.config.automatic_dynamic_shapes = False  # one graph per batch shape (training, validation)
    torch._inductor.config.force_disable_caches = True  # compile from scratch, as a first run on a machine does
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    fashion, art = "Fashion-MNIST 28x28x1", "artworks 64x64x3"
    WORKLOADS[fashion] = Workload.load(fashion, DataConfig(spec="fashion-mnist"))
    WORKLOADS[art] = Workload.load(art, DataConfig(spec=str(ARTWORKS), image_size=64))
    steps = {fashion: args.fashion_steps, art: args.art_steps}

    report = Report()
    report.add(SECTION)
    report.add()
    report.add("Written by `benchmarks/throughput.py`; every number in this section comes from one run of")
    report.add()
    wait = f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']} " if "OMP_WAIT_POLICY" in os.environ else ""
    report.add(f"    {wait}.venv/bin/python benchmarks/throughput.py "
               f"{' '.join(sys.argv[1:] if argv is None else argv)}".rstrip())
    report.add()
    defaults = TrainingConfig()
    report.add(f"Machine: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, "
               f"{torch.get_num_threads()} threads; load average {load_before:.2f} at the start. vaelab's "
               f"defaults on the CPU: channels_last={defaults.channels_last}, amp={defaults.amp}, fused Adam, "
               "torch's default thread count, keep_freed_memory().")
    report.add()
    summary_at = len(report.lines)
    report.add(ABOUT)

    base = Setup()
    results = compare_libraries([fashion, art], base, steps, args, report)
    variants = {
        "defaults": {},
        f"channels_last={not defaults.channels_last}": {"channels_last": not defaults.channels_last},
        "Adam foreach": {"adam": "foreach"},
        "Adam for-loop (pythae's)": {"adam": "for-loop"},
        "1 thread": {"threads": 1},
        "torch.compile": {"compile": True},
        "bf16 autocast (amp)": {"amp": True},
        "NLL and MSE in a second pass (as before)": {"reuse_recon": False},
        "ReLU for SiLU (another model)": {"activation": "relu"},
    }
    options = compare_options([fashion, art], base, variants, steps, args, report)
    options |= wait_policy([fashion, art], base, steps, args, report)
    if not args.quick:
        grid = [{"width": 16}, {"width": 32}, {"width": 64}, {"batch_size": 32}, {"batch_size": 512}]
        scaling(art, base, grid, args, report)
    bound = profile(art, base, report)

    report.measure_matmul()
    report.add(f"float32 matmul 4096 x 4096 @ 4096 x 4096: median {fmt(report.peak)} GFLOP/s over "
               f"{len(report.matmul)} measurements spread over the run (range {fmt(min(report.matmul))} to "
               f"{fmt(max(report.matmul))}); the \"of matmul\" columns divide by the median. Load average "
               f"{os.getloadavg()[0]:.2f} at the end; the run took {(time.perf_counter() - started) / 60:.1f} min.")
    report.add()

    efficiency = results[(art, "flops")] / report.peak
    verdict = lambda ok: "met" if ok else "**not met**"
    summary = (f"**Targets.** vaelab / pythae: {results[fashion]:.2f} on Fashion-MNIST and {results[art]:.2f} on "
               f"the artworks (target >= 1.0: {verdict(min(results[fashion], results[art]) >= 1.0)}). Training "
               f"FLOP/s at 64 x 64: {efficiency:.2f} of the float32 matmul (target 0.8: {verdict(efficiency >= 0.8)}); "
               f"the layers that do the FLOPs run at {bound:.2f} of it by themselves (\"Where a step goes\"), the "
               "step's rate if the activations, the loss, sampling, Adam and the batch took no time at all.")
    measured = "; ".join(f"{variant} {options[(fashion, variant)]:.2f} / {options[(art, variant)]:.2f}"
                         for variant in [*list(variants)[1:], "glibc's malloc as is", "OMP_WAIT_POLICY=PASSIVE"])
    choices = (f"**Defaults.** Rates against vaelab's defaults in this run (Fashion-MNIST / artworks): {measured}. "
               + DEFAULTS)
    report.lines[summary_at:summary_at] = [summary, "", choices, ""]
    print(summary)
    if args.write:
        write_section(args.write, "\n".join(report.lines))
        print(f"wrote {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
