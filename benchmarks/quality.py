"""Reconstruction quality at equal CPU budgets: vaelab's defaults, today's plain network and recipe, PCA / pPCA,
and pythae 0.1.2's VAE and AE with its own benchmark networks, side by side on the same validation images.

    .venv/bin/pip install --no-deps pythae==0.1.2 imageio cloudpickle     # pythae's own deps would move torch
    .venv/bin/pip install pydantic                                          # pythae's configs (no torch in it)
    .venv/bin/python benchmarks/quality.py --data artworks --budgets 3,10 --write docs/benchmarks.md --results art.json
    .venv/bin/python benchmarks/quality.py --data fashion-mnist --budgets 3 --write docs/benchmarks.md
    .venv/bin/python benchmarks/quality.py --data artworks --study --budgets 5 --write docs/benchmarks.md

Each model trains for the steps that fit its budget of CPU seconds (time.process_time, all threads): a probe
of a few steps measures its CPU time per step, and the run is planned for budget / that many steps, so that
its learning-rate schedule ends where the budget does (a wall clock would charge it for whatever else the
machine runs); one thread each, so that the CPU time is work done, not threads waiting for a busy core.
Every model is then measured by the same code on the run's validation split (10% of the
images, split seed 0) and on its training split: PSNR and SSIM of the posterior-mean reconstructions (their
standard errors over the images), and the beta = 1 ELBO under a Gaussian decoder at one shared sigma and the
model's own prior, fitted by each model on its own reconstructions of up to 500 training images (the rule of
`vaelab evaluate`), with 16 posterior samples per image. PCA has the latent size's components, fitted on the
training split; pPCA's log-likelihood is exact. One seed per model.

`--study` compares candidate defaults (architecture, width, blocks, batch, learning rate, the linear path from PCA)
on the AE, and the VAE at beta = 0.1 for the candidates with the linear path, at one budget: quality per CPU-minute,
from which vaelab's defaults were chosen (`--only REGEX` picks candidates by label).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pythae_nets import pythae_run
from sections import cpu_name, write_section

from vaelab.config import Config
from vaelab.data import load_images, split_indices
from vaelab.diagnostics import likelihood
from vaelab.diagnostics.baseline import LinearBaseline, fit_linear_baseline
from vaelab.diagnostics.intervals import standard_error
from vaelab.diagnostics.reconstruction import reconstruction_quality
from vaelab.evaluation.measures import fitted_sigma
from vaelab.objectives.iwae import iwae_bound
from vaelab.objectives.likelihood import SumSquaredError
from vaelab.run_dir.model import load_model
from vaelab.training.callbacks import Callback
from vaelab.training.run import train

SECTION = "## Quality at equal CPU budgets"
DATA = {  # name: (--data, image size, latent size)
    "artworks": (str(Path(__file__).resolve().parents[2] / "shared" / "data" / "artworks"), 64, 128),
    "fashion-mnist": ("fashion-mnist", 28, 16),
}
PROBE_STEPS = 12
IW = 16
FIT_IMAGES = 500


@dataclass(frozen=True)
class Recipe:
    """A model to train: a label and its config updates (dotted keys)."""

    label: str
    updates: dict


def recipes(latent: int) -> list[Recipe]:
    plain = {"model.arch": "plain", "training.lr_schedule": "constant", "training.ema": False,
             "data.augment": "none", "training.batch_size": 128, "model.linear_path": False,
             "model.width": 32}
    return [
        Recipe("vaelab AE", {"model.kind": "ae"}),
        Recipe("vaelab VAE beta=0.1", {"objective.beta": 0.1}),
        Recipe("vaelab VAE beta=1", {"objective.beta": 1.0}),
        Recipe("plain AE (today's recipe)", {**plain, "model.kind": "ae"}),
        Recipe("plain VAE beta=0.1 (today's recipe)", {**plain, "objective.beta": 0.1}),
    ]


def study_recipes() -> list[Recipe]:
    """Candidate defaults of the network, on the AE (and the VAE at beta = 0.1 for those with the linear path)."""
    candidates = [Recipe(f"resnet width {w}, {b} block{'s' if b > 1 else ''}, batch {bs}",
                         {"model.kind": "ae", "model.width": w, "model.blocks": b, "training.batch_size": bs,
                          "model.linear_path": False})
                  for w, b, bs in ((8, 1, 32), (16, 1, 64), (32, 1, 64), (16, 2, 64), (16, 1, 32), (32, 1, 32))]
    candidates += [Recipe(f"plain width 32, batch {bs}, vaelab's recipe",
                          {"model.kind": "ae", "model.arch": "plain", "training.batch_size": bs,
                           "model.linear_path": False}) for bs in (32, 64)]
    linear = [Recipe(f"{arch} width {w}, 1 block, batch {bs}, linear path from PCA",
                     {"model.kind": "ae", "model.arch": arch, "model.width": w, "training.batch_size": bs,
                      "model.linear_path": True})
              for arch, w, bs in (("resnet", 8, 32), ("resnet", 16, 64), ("resnet", 16, 32), ("resnet", 16, 128),
                                   ("plain", 32, 32))]
    linear = [Recipe(r.label.replace("plain width 32, 1 block", "plain width 32"), r.updates) for r in linear]
    linear += [Recipe(f"resnet width 16, 1 block, batch 32, lr {lr:g}, linear path from PCA",
                      {"model.kind": "ae", "model.width": 16, "training.batch_size": 32, "model.linear_path": True,
                       "training.lr": lr}) for lr in (2e-3, 4e-3)]
    vae = [Recipe(r.label.replace("linear path", "VAE beta=0.1, linear path"),
                  {**r.updates, "model.kind": "vae", "objective.beta": 0.1}) for r in linear]
    return candidates + linear + vae


def base_config(data: str) -> Config:
    spec, size, latent = DATA[data]
    return Config().with_updates({"data.spec": spec, "data.image_size": size, "model.latent_dim": latent,
                                  "training.progress": False, "training.figures": False,
                                  "training.grad_every": 0, "training.threads": 1})


def cpu_seconds_per_step(config: Config, scratch: Path) -> float:
    """A probe: the CPU seconds of one optimiser step of `config`, from PROBE_STEPS steps after one to warm up."""
    probe = config.with_updates({"training.steps": 1 + PROBE_STEPS, "training.val_every": 10_000})
    started = {}

    class Clock(Callback):  # the clock starts after the first step
        def on_train_batch_end(self, trainer, terms):
            if trainer.step == 1:
                started["cpu"] = time.process_time()
            if trainer.step == 1 + PROBE_STEPS:
                started["per_step"] = (time.process_time() - started["cpu"]) / PROBE_STEPS

    train(probe, scratch / "probe", callbacks=[Clock()])
    return started["per_step"]


def train_for_budget(config: Config, budget: float, out: Path,
                     at_length: Callable[[int], dict] | None = None) -> tuple[Path, int, float]:
    """Train `config` for the steps its probe says fit `budget` CPU seconds; (run, steps, CPU seconds spent).
    `at_length(steps)` gives further config updates that depend on the run's length (e.g. a start step)."""
    per_step = cpu_seconds_per_step(config, out.parent / f"{out.name}-probe")
    steps = max(10, int(budget / per_step))
    started = time.process_time()
    updates = {"training.steps": steps, "training.epochs": None, **(at_length(steps) if at_length else {})}
    train(config.with_updates(updates), out)
    return out, steps, time.process_time() - started


@torch.no_grad()
def measure(model: torch.nn.Module, val_x: torch.Tensor, fit_x: torch.Tensor, gaussian: bool) -> dict:
    """PSNR, SSIM (with standard errors) on val_x; the ELBO at one shared sigma (fitted on fit_x) for a VAE."""
    def recon(x):
        return torch.cat([torch.sigmoid(model.decode(model.encode(x[i:i + 200]).mean)) for i in range(0, len(x), 200)])

    val, train_q = reconstruction_quality(val_x, recon(val_x)), reconstruction_quality(fit_x, recon(fit_x))
    row = {"psnr": float(val.psnr.mean()), "psnr_se": standard_error(val.psnr),
           "ssim": None if val.ssim is None else float(val.ssim.mean()), "train_psnr": float(train_q.psnr.mean()),
           "per_image_psnr": val.psnr, "elbo": None}
    if gaussian:
        generator = torch.Generator().manual_seed(0)
        pixels = math.prod(val_x.shape[1:])
        dummy = SumSquaredError(beta=1.0, pixels=pixels, mean_over_pixels=False)  # only its squared errors are used
        sigma = fitted_sigma(model, dummy, fit_x, generator)
        samples = likelihood.importance_samples(model, dummy, val_x, samples=IW, generator=generator,
                                                prior=own_prior(model))
        weights = samples.log_weights(likelihood.gaussian_log_likelihood(samples.squared_error, sigma, pixels))
        elbo = iwae_bound(weights, 1).numpy()
        row.update(elbo=float(elbo.mean()), elbo_se=standard_error(elbo), sigma=sigma)
    return row


def own_prior(model: torch.nn.Module):
    """A vaelab model's p(z) (model.prior: N(0, I), the VampPrior, the fitted mixture); N(0, I) (None) for pythae's."""
    return model.prior_density() if hasattr(model, "prior_density") else None


def images(config: Config) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """The validation images and up to FIT_IMAGES training images (floats), and the two splits' uint8 arrays."""
    data = load_images(config.data)
    train_index, val_index = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
    as_float = lambda index: torch.from_numpy(np.asarray(data.images[index])).float() / 255
    fit = np.sort(np.random.default_rng(0).choice(train_index, min(FIT_IMAGES, len(train_index)), replace=False))
    return as_float(val_index), as_float(fit), np.asarray(data.images[train_index]), np.asarray(data.images[val_index])


def fit_pca(config: Config, train_images: np.ndarray) -> LinearBaseline:
    """PCA / pPCA with the latent size's components, fitted on the training split (uint8 images)."""
    return fit_linear_baseline(train_images.reshape(len(train_images), -1).astype(np.float32) / 255,
                               config.model.latent_dim)


def pca_row(config: Config, train_images: np.ndarray, val_x: torch.Tensor) -> dict:
    baseline = fit_pca(config, train_images)
    flat = val_x.double().reshape(len(val_x), -1).numpy()
    quality = reconstruction_quality(val_x, torch.from_numpy(baseline.reconstruct(flat)).reshape(val_x.shape).float())
    log_likelihood = baseline.log_likelihood(flat)
    return {"psnr": float(quality.psnr.mean()), "psnr_se": standard_error(quality.psnr),
            "ssim": None if quality.ssim is None else float(quality.ssim.mean()), "per_image_psnr": quality.psnr,
            "elbo": float(log_likelihood.mean()), "elbo_se": standard_error(log_likelihood), "train_psnr": None}


def table(rows: list[tuple[str, int | None, float | None, dict]], pca: dict) -> list[str]:
    lines = [("| model | steps | CPU min | val PSNR (dB) | gain over PCA (dB) | val SSIM | train PSNR | "
             "ELBO at a shared sigma (nats / image) |"), "|---|---:|---:|---:|---:|---:|---:|---:|"]

    def cell(value, digits=2, se=None):
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "n/a"
        return f"{value:.{digits}f}" + (f" ± {se:.{digits}f}" if se is not None and math.isfinite(se) else "")

    for label, steps, cpu, row in [*rows, ("PCA / pPCA (exact log-likelihood)", None, None, pca)]:
        gain = row["per_image_psnr"] - pca["per_image_psnr"]
        lines.append(f"| {label} | {steps or ''} | {cell(cpu and cpu / 60, 1)} | "
                     f"{cell(row['psnr'], 2, row['psnr_se'])} "
                     f"| {cell(float(gain.mean()), 2, standard_error(gain))} | {cell(row['ssim'], 3)} | "
                     f"{cell(row['train_psnr'])} | {cell(row['elbo'], 0, row.get('elbo_se'))} |")
    return lines


def train_and_measure(config: Config, budget: float, out: Path, val_x: torch.Tensor, fit_x: torch.Tensor
                      ) -> tuple[int, float, dict]:
    """(steps, CPU seconds, measures) of `config` trained for `budget` CPU minutes."""
    run, steps, cpu = train_for_budget(config, budget * 60, out)
    model = load_model(run, "last")
    return steps, cpu, measure(model, val_x, fit_x, model.kind == "vae")


def kept(path: Path | None, budget: float, label: str) -> tuple | None:
    """The row of `label` at `budget` that an earlier run kept in `path`, if any."""
    found = json.loads(path.read_text()).get(f"{budget:g}/{label}") if path and path.exists() else None
    if found is None:
        return None
    steps, cpu, row = found
    return label, steps, cpu, {**row, "per_image_psnr": np.asarray(row["per_image_psnr"])}


def keep(path: Path | None, budget: float, label: str, result: tuple[int, float, dict]) -> tuple:
    """The row (label, steps, CPU seconds, measures), kept in `path` as it is measured."""
    steps, cpu, row = result
    if path is not None:
        held = json.loads(path.read_text()) if path.exists() else {}
        psnr = np.asarray(row["per_image_psnr"]).tolist()
        held[f"{budget:g}/{label}"] = [steps, cpu, {**row, "per_image_psnr": psnr}]
        path.write_text(json.dumps(held))
    return label, steps, cpu, row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=DATA, default="artworks")
    parser.add_argument("--budgets", default="3,10", help="CPU minutes per model, comma-separated")
    parser.add_argument("--study", action="store_true", help="candidate defaults of the network")
    parser.add_argument("--no-pythae", action="store_true")
    parser.add_argument("--only", metavar="REGEX", help="only the models whose label matches REGEX")
    parser.add_argument("--write", type=Path, metavar="FILE.md")
    parser.add_argument("--results", type=Path, metavar="FILE.json",
                        help="keep each model's measures here as it finishes; a rerun takes the models it holds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="vaelab: %(message)s")
    torch.set_num_threads(1)  # one thread per model: CPU time is then work done, not threads spinning for a core
    config = base_config(args.data)
    val_x, fit_x, train_images, _ = images(config)
    pca = pca_row(config, train_images, val_x)
    lines = []
    for budget in (float(b) for b in args.budgets.split(",")):
        rows = []
        with tempfile.TemporaryDirectory() as scratch:
            for recipe in (study_recipes() if args.study else recipes(config.model.latent_dim)):
                if args.only and not re.search(args.only, recipe.label):
                    continue
                rows.append(kept(args.results, budget, recipe.label) or keep(
                    args.results, budget, recipe.label, train_and_measure(
                        config.with_updates(recipe.updates), budget, Path(scratch) / f"run{len(rows)}", val_x, fit_x)))
                print(recipe.label, rows[-1][1], f"{rows[-1][2] / 60:.1f} CPU min", f"PSNR {rows[-1][3]['psnr']:.2f}",
                      flush=True)
            if not args.study and not args.no_pythae:
                for kind in ("VAE", "AE"):
                    label = f"pythae {kind} (its benchmark network, default settings)"
                    found = kept(args.results, budget, label)
                    if found is None:
                        model, steps, cpu = pythae_run(kind, train_images, config, budget * 60)
                        found = keep(args.results, budget, label, (steps, cpu, measure(model, val_x, fit_x,
                                                                                       kind == "VAE")))
                    rows.append(found)
                    print(label, rows[-1][1], f"PSNR {rows[-1][3]['psnr']:.2f}", flush=True)
        what = "candidate defaults of the network" if args.study else "every model"
        lines += [f"### {args.data}, {budget:g} CPU minutes per model ({what})", "", *table(rows, pca), ""]
    head = [f"{SECTION}" + (f" (study: {args.data})" if args.study else f": {args.data}"), "",
            (f"`python benchmarks/quality.py --data {args.data} --budgets {args.budgets}"
            f"{' --study' if args.study else ''}`. Machine: {cpu_name()}, {os.cpu_count()} cores, shared with "
            f"other work (CPU time is what is budgeted); torch {torch.__version__}; one seed per model; "
            f"{len(val_x)} validation images, ± one standard error over them."), ""]
    text = "\n".join(head + lines)
    print(text)
    if args.write:
        write_section(args.write, text)


if __name__ == "__main__":
    main()
