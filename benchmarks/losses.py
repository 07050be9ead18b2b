"""What the reconstruction losses, priors and KL objectives buy, at equal CPU budgets: instead of tuning beta.

    .venv/bin/python benchmarks/losses.py --data artworks --budget 5 --write docs/benchmarks.md
    .venv/bin/python benchmarks/losses.py --data fashion-mnist --budget 3 --write docs/benchmarks.md
    .venv/bin/python benchmarks/losses.py --data fashion-mnist --budget 0.05 --limit 2000 --only sse   # a smoke run

The 698 paintings at 64 x 64 with latent 128, Fashion-MNIST at 28 x 28 with latent 16 (quality.py's DATA). Each
recipe (a list of config updates, `recipes`) trains with quality.py's budgeted training: one thread, as many steps
as its probe says fit the budget of CPU seconds. Every model is then measured by the same code on the validation
split (10%, split seed 0), from the posterior-mean reconstructions unless said otherwise:

- `mse`, `psnr`, `ssim`: diagnostics.reconstruction (per image, mean and standard error over the images)
- `ms_ssim`: objectives.ms_ssim at the scales the images allow (64 px: 3, 28 px: 2; the module says why)
- `sharpness`: the high-frequency energy of each reconstruction over its input's,
      sum_{|f| > 1/4} |F(x_hat)(f)|^2 / sum_{|f| > 1/4} |F(x)(f)|^2,   f in cycles per pixel (Nyquist 1/2)
  1 is as much fine detail as the input, below 1 blurred, above 1 detail (or noise) the input does not have;
  it needs no downloaded network (LPIPS or FID would)
- `rate`: the mean KL[q(z|x) || N(0, I)] in nats (closed form), or, for a prior of its own (model.prior),
  the run's own final validation `kl` (its Monte Carlo estimate, no standard error)
- `elbo`: quality.measure's beta = 1 ELBO under a Gaussian decoder at one shared sigma fitted on up to 500
  training images, 16 posterior samples per image: one rule for every model, whatever it trained on
- PCA with the latent size's components (fitted on the training split) beside them, pPCA's exact
  log-likelihood in the ELBO column.

`figures`: the validation images, then each model's reconstructions, and each model's decodes of 16 codes from its
prior (N(0, I), or its model.prior), pPCA's decodes beside them, one figure each.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from quality import DATA, base_config, fit_pca, images, measure, pca_row, train_for_budget
from sections import cpu_name, write_section

from vaelab.config import Config
from vaelab.diagnostics.intervals import standard_error
from vaelab.diagnostics.reconstruction import reconstruction_quality
from vaelab.objectives.ms_ssim import ms_ssim, scales_for
from vaelab.run_dir import read_metrics
from vaelab.run_dir.model import load_model
from vaelab.viz.figures import plot_reconstructions

SECTION = "## Instead of tuning beta: losses, priors and objectives at equal CPU budgets"
HIGH_FREQUENCY = 0.25  # cycles per pixel: the upper half of the band up to Nyquist
SHOWN = 5  # images in each row of the figures: one row per model (plot_reconstructions draws five a row)


@dataclass(frozen=True)
class Recipe:
    """A model to train: a label, its config updates (dotted keys), and updates that depend on the run's length."""

    label: str
    updates: dict
    at_length: dict = field(default_factory=dict)  # {key: fraction of the run's steps}, e.g. a start step

    def length_updates(self, steps: int) -> dict:
        """The updates that depend on the run's length, for a run of `steps` steps."""
        return {key: int(fraction * steps) for key, fraction in self.at_length.items()}


def recipes(pixels: int) -> list[Recipe]:
    """The recipes compared, each a list of config updates. The betas: sse at 1 (the seed's) and 0.1; l1 and the
    focal frequency loss at the sse's 0.1 (focal frequency at alpha = 0 is the SSE); MS-SSIM at 1e-3 per pixel
    value (pythae's MSSSIM_VAE: beta 1e-3 on 1 - MS-SSIM, whose D-fold sum is ours); Watson-DFT at 0.01 (its
    distance is some ten times below the SSE's scale); L1 + MS-SSIM at Zhao et al.'s mix 0.16 : 0.84; the priors
    and KL forms at the sse's beta = 0.1."""
    return [
        Recipe("sse, beta 1 (the seed's)", {"objective.beta": 1.0}),
        Recipe("sse, beta 0.1", {"objective.beta": 0.1}),
        Recipe("l1 (Laplace, b = 0.1)", {"objective.recon": "l1", "objective.beta": 0.1}),
        Recipe(f"ms-ssim, beta {1e-3 * pixels:.3g}", {"objective.recon": "ms-ssim", "objective.beta": 1e-3 * pixels}),
        Recipe("l1 + 5.25 x ms-ssim, beta 0.1", {"objective.recon": "l1", "objective.recon_extra": "ms-ssim",
                                                 "objective.recon_extra_weight": 0.84 / 0.16, "objective.beta": 0.1}),
        Recipe("watson-dft, beta 0.01", {"objective.recon": "watson-dft", "objective.beta": 0.01}),
        Recipe("focal-frequency, beta 0.1", {"objective.recon": "focal-frequency", "objective.beta": 0.1}),
        Recipe("sse + PatchGAN from half the run, beta 0.1", {"objective.beta": 0.1, "objective.gan_weight": 0.5},
               at_length={"objective.gan_start": 0.5}),
        Recipe("sse, beta 0.1, VampPrior", {"objective.beta": 0.1, "model.prior": "vamp"}),
        Recipe("sse, beta 0.1, GMM prior fitted after training", {"objective.beta": 0.1, "model.prior": "gmm"}),
        Recipe("sse, beta 0.1, IWAE K = 5", {"objective.beta": 0.1, "objective.method": "iwae"}),
        Recipe("sse, beta 0.1, beta-TCVAE (TC x 6)", {"objective.beta": 0.1, "objective.method": "tcvae",
                                                      "objective.tc_beta": 6.0}),
        Recipe("sse, beta 0.1, InfoVAE (MMD)", {"objective.beta": 0.1, "objective.method": "infovae"}),
    ]


def high_frequency_energy(x: torch.Tensor) -> torch.Tensor:
    """sum over channels and frequencies |f| > 1/4 cycle per pixel of |F(x)(f)|^2 (unitary 2-D DFT). (N, C, H, W)
    -> (N,)"""
    height, width = x.shape[-2:]
    radius = torch.sqrt(torch.fft.fftfreq(height).view(-1, 1) ** 2 + torch.fft.fftfreq(width).view(1, -1) ** 2)
    power = torch.fft.fft2(x.double(), norm="ortho").abs().pow(2)
    return (power * (radius > HIGH_FREQUENCY)).flatten(1).sum(dim=1)


def prior_codes(model: torch.nn.Module, n: int, generator: torch.Generator) -> torch.Tensor:
    """n codes from the model's prior: the model.prior density where there is one, else N(0, I)."""
    density = model.prior_density()  # None: a mixture not fitted yet
    if density is None:
        return torch.randn(n, model.latent_dim, generator=generator)
    return density.sample(n, generator)


@torch.no_grad()
def loss_measures(x: torch.Tensor, reconstruction: torch.Tensor) -> dict:
    """mse, psnr, ssim, ms_ssim and sharpness per image, as means with their standard errors."""
    quality = reconstruction_quality(x, reconstruction)
    per_image = {"mse": quality.mse, "psnr": quality.psnr, "ssim": quality.ssim,
                 "ms_ssim": ms_ssim(x, reconstruction, scales_for(*x.shape[-2:])).numpy(),
                 "sharpness": (high_frequency_energy(reconstruction) / high_frequency_energy(x)).numpy()}
    row = {}
    for name, values in per_image.items():
        row[name] = None if values is None else float(np.mean(values))
        row[f"{name}_se"] = None if values is None else standard_error(values)
    return row


@torch.no_grad()
def model_row(run: Path, val_x: torch.Tensor, fit_x: torch.Tensor) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """The measures of a trained run, its reconstructions of the first SHOWN validation images and SHOWN decodes of
    its prior's codes."""
    model = load_model(run, "last")
    posterior = torch.cat([model.encode(val_x[i : i + 200]).mean for i in range(0, len(val_x), 200)])
    reconstruction = torch.cat([torch.sigmoid(model.decode(posterior[i : i + 200]))
                                for i in range(0, len(posterior), 200)])
    row = {**measure(model, val_x, fit_x, gaussian=True), **loss_measures(val_x, reconstruction)}
    if model.prior_density().standard:  # N(0, I): the KL in closed form
        kl = torch.cat([model.encode(val_x[i : i + 200]).kl() for i in range(0, len(val_x), 200)]).numpy()
        row.update(rate=float(kl.mean()), rate_se=standard_error(kl))
    else:
        row.update(rate=[r for r in read_metrics(run / "metrics.jsonl") if r["split"] == "val"][-1]["kl"], rate_se=None)
    samples = torch.sigmoid(model.decode(prior_codes(model, SHOWN, torch.Generator().manual_seed(0))))
    return row, reconstruction[:SHOWN], samples


def pca_measures(config: Config, train_images: np.ndarray, val_x: torch.Tensor) -> tuple[dict, torch.Tensor,
                                                                                          torch.Tensor]:
    """PCA's row (quality.pca_row, with the measures above), its reconstructions and pPCA's decodes of N(0, I)
    codes (mean + U (Lambda - sigma^2)^(1/2) z, without the isotropic noise)."""
    baseline = fit_pca(config, train_images)
    flat = val_x.double().reshape(len(val_x), -1).numpy()
    reconstruction = torch.from_numpy(baseline.reconstruct(flat)).reshape(val_x.shape).float()
    z = torch.randn(SHOWN, baseline.components, generator=torch.Generator().manual_seed(0)).double().numpy()
    scale = np.sqrt(np.clip(baseline.eigenvalues - baseline.noise_variance, 0, None))
    samples = np.clip(baseline.mean + (z * scale) @ baseline.directions, 0, 1).reshape(SHOWN, *val_x.shape[1:])
    row = {**pca_row(config, train_images, val_x), **loss_measures(val_x, reconstruction), "rate": None}
    return row, reconstruction[:SHOWN], torch.from_numpy(samples).float()


def cell(row: dict, name: str, digits: int) -> str:
    value, se = row.get(name), row.get(f"{name}_se")
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}" + (f" ± {se:.{digits}f}" if se is not None and math.isfinite(se) else "")


def table(rows: list[tuple[str, int | None, float | None, dict]]) -> list[str]:
    header = ("| model | steps | CPU min | val MSE | PSNR (dB) | SSIM | MS-SSIM | sharpness (HF energy ratio) | "
              "rate: KL (nats) | ELBO at a shared sigma (nats / image) |")
    lines = [header, "|---|---:|" + "---:|" * 8]
    for label, steps, cpu, row in rows:
        cpu_text = "" if cpu is None else f"{cpu / 60:.1f}"
        lines.append(f"| {label} | {steps or ''} | {cpu_text} | {cell(row, 'mse', 4)} | {cell(row, 'psnr', 2)} | "
                     f"{cell(row, 'ssim', 3)} | {cell(row, 'ms_ssim', 3)} | {cell(row, 'sharpness', 3)} | "
                     f"{cell(row, 'rate', 1)} | {cell(row, 'elbo', 0)} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=DATA, default="artworks")
    parser.add_argument("--budget", type=float, default=5.0, help="CPU minutes per model")
    parser.add_argument("--only", metavar="TEXT", help="only the recipes whose label contains TEXT")
    parser.add_argument("--limit", type=int, help="use only N images (smoke runs)")
    parser.add_argument("--write", type=Path, metavar="FILE.md", help="the section into FILE.md, figures beside it")
    parser.add_argument("--figures", type=Path, default=Path("."), help="folder of the figures without --write")
    parser.add_argument("--results", type=Path, metavar="FILE.pt",
                        help="keep each recipe's measures and pictures here as it finishes; a rerun takes those it holds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="vaelab: %(message)s")
    torch.set_num_threads(1)  # one thread per model, as quality.py: CPU time is then work done
    config = base_config(args.data)
    if args.limit:
        config = config.with_updates({"data.limit": args.limit})
    val_x, fit_x, train_images, _ = images(config)
    pca, pca_reconstructions, pca_samples = pca_measures(config, train_images, val_x)
    rows, reconstructions, samples = [], [], []
    kept = torch.load(args.results, weights_only=False) if args.results and args.results.exists() else {}
    with tempfile.TemporaryDirectory() as scratch:
        for recipe in recipes(math.prod(val_x.shape[1:])):
            if args.only and args.only not in recipe.label:
                continue
            if recipe.label not in kept:
                run, steps, cpu = train_for_budget(config.with_updates(recipe.updates), args.budget * 60,
                                                   Path(scratch) / f"run{len(rows)}", at_length=recipe.length_updates)
                kept[recipe.label] = (steps, cpu, *model_row(run, val_x, fit_x))
                if args.results:
                    torch.save(kept, args.results)
            steps, cpu, row, reconstruction, sample = kept[recipe.label]
            reconstruction, sample = reconstruction[:SHOWN], sample[:SHOWN]  # results kept with more
            rows.append((recipe.label, steps, cpu, row))
            reconstructions.append((textwrap.fill(recipe.label, 18), reconstruction))  # the figures' label column
            samples.append((textwrap.fill(recipe.label, 18), sample))
            print(recipe.label, steps, f"{cpu / 60:.1f} CPU min", f"PSNR {row['psnr']:.2f}", flush=True)
    rows.append((f"PCA / pPCA ({config.model.latent_dim} components; exact log-likelihood)", None, None, pca))
    folder = args.write.parent if args.write else args.figures
    names = {kind: f"losses-{args.data}-{kind}.png" for kind in ("reconstructions", "samples")}
    shown = val_x[:SHOWN]
    plot_reconstructions(shown, [*reconstructions, ("PCA", pca_reconstructions)], folder / names["reconstructions"],
                         title=f"{args.data}: validation images and their posterior-mean reconstructions")
    plot_reconstructions(shown, [*samples, ("pPCA", pca_samples)], folder / names["samples"],
                         title=f"{args.data}: validation images, then decodes of codes from each model's prior")
    head = [f"{SECTION}: {args.data}", "",
            (f"`python benchmarks/losses.py --data {args.data} --budget {args.budget:g}"
             f"{f' --limit {args.limit}' if args.limit else ''}`. Machine: {cpu_name()}, {os.cpu_count()} cores, "
             f"shared with other work (CPU time is what is budgeted); torch {torch.__version__}; one seed per model; "
             f"{len(val_x)} validation images, ± one standard error over them. benchmarks/losses.py says how each "
             "number is measured."), ""]
    text = "\n".join([*head, *table(rows), "", f"![reconstructions]({names['reconstructions']})",
                      f"![prior samples]({names['samples']})", ""])
    print(text)
    if args.write:
        write_section(args.write, text)


if __name__ == "__main__":
    main()
