"""The seed's experiment, on Fashion-MNIST: the same network as a VAE with beta = 1 ("no scaling"),
as a VAE with beta = 0.1 ("KL scaled by 0.1"), and as a plain autoencoder; and where the three sit on
the rate-distortion curve, which one loss-conditional model of the same network (trained for every
beta in [0.03, 3] at once, Dosovitskiy & Djolonga 2020) traces for the cost of one more run.

It prints two tables (recon, KL, the beta = 1 ELBO at the shared sigma and under the run's own, MSE per run,
and the conditional model's at each beta of the curve), writes one figure with the three rows of reconstructions
under the same validation inputs and one with the curve (out/rate_distortion.png: the curve, the two VAEs as
points of their own, and the AE as a line at its distortion, since its point codes have no rate), and a report
page comparing the runs with the curve (out/report.html; each run also has its own).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from vaelab.config import Config, DataConfig, ModelConfig, ObjectiveConfig, TrainingConfig
from vaelab.evaluation.baseline import pca_on_validation
from vaelab.evaluation.compare import decode_for_page, plot_run_reconstructions
from vaelab.evaluation.loaded import validate_at_beta
from vaelab.numbers import format_number
from vaelab.run_dir import RunDir
from vaelab.training.run import RunResult, train
from vaelab.viz.runs_page import write_runs_report
from vaelab.viz.sweep import plot_rate_distortion

SCENARIOS = (
    ("vae-beta1", "VAE, beta = 1 (no scaling)", "vae", 1.0),
    ("vae-beta0.1", "VAE, beta = 0.1 (KL x 0.1)", "vae", 0.1),
    ("ae", "plain autoencoder", "ae", 0.0),
)
CURVE = "all-betas"  # the loss-conditional model's run directory under out/
CURVE_BETAS = (0.03, 0.1, 0.3, 1.0, 3.0)  # where it is read off; its range is from the first to the last


@dataclass
class DemoResult:
    out: Path
    runs: dict[str, RunResult]
    table: str
    figure: Path
    report: Path
    curve: Path
    curve_rows: list[dict[str, Any]]  # the conditional model's validation record at each of CURVE_BETAS


def demo_config(kind: str, beta: float, quick: bool, data: str = "fashion-mnist",
                beta_range: list[float] | None = None, *, image_size: int | None = None,
                time: str | None = None) -> Config:
    """Fashion-MNIST (and digits): latent 16, a few epochs of 20,000 images. Another source (a folder of the
    user's pictures, a Hugging Face dataset): the seed's latent 128 and a length that fits the data, or `time`
    per run."""
    builtin = data in ("fashion-mnist", "digits")
    if builtin:
        training = TrainingConfig(epochs=1 if quick else 4, batch_size=64, lr=2e-3, progress=not quick, time=time)
    else:
        training = TrainingConfig(steps=200 if quick else None, batch_size=64, lr=2e-3, progress=not quick, time=time)
    return Config(
        data=DataConfig(spec=data, limit=4000 if quick else 20000, image_size=image_size),
        model=ModelConfig(kind=kind, latent_dim=16 if builtin else 128, width=32),
        objective=ObjectiveConfig(recon="sse", beta=beta if kind == "vae" else 1.0, beta_range=beta_range),
        training=training,
    ).validate()


def run_demo(out: str | Path = "demo", *, quick: bool = False, data: str = "fashion-mnist",
             image_size: int | None = None, time: str | None = None) -> DemoResult:
    """Train the three scenarios into out/<name>/ and the conditional model into out/all-betas/, and compare
    them with PCA of the same latent size (an interrupted demo resumes its runs)."""
    out = Path(out)
    runs = {}
    options = {"image_size": image_size, "time": time}
    for name, _, kind, beta in SCENARIOS:
        runs[name] = train_or_resume(demo_config(kind, beta, quick, data, **options), out / name)
    curve_config = demo_config("vae", 1.0, quick, data, beta_range=[CURVE_BETAS[0], CURVE_BETAS[-1]], **options)
    curve_run = train_or_resume(curve_config, out / CURVE).run_dir
    curve_rows = [validate_at_beta(curve_run, beta) for beta in CURVE_BETAS]  # also in out/all-betas/beta=B/
    pca = pca_on_validation(curve_config, curve_config.model.latent_dim)
    table = format_table(runs, pca) + "\n\n" + format_curve(curve_rows)
    figure = out / "reconstructions.png"
    write_comparison(runs, figure)
    curve = out / "rate_distortion.png"
    plot_curve(runs, curve_rows, math.prod(RunDir(curve_run).image_shape()), curve)
    report = write_runs_report(out, title="The seed's experiment: VAE with beta = 1, VAE with beta = 0.1, plain "
                                          "autoencoder, and the rate-distortion curve they lie on",
                               decode=decode_for_page)
    return DemoResult(out=out, runs=runs, table=table, figure=figure, report=report, curve=curve,
                      curve_rows=curve_rows)


def train_or_resume(config: Config, run_dir: Path) -> RunResult:
    return train(config, run_dir, resume=(run_dir / "config.yaml").exists())


HEADER = (f"{'recon (SSE)':>12} {'KL (nats)':>10} {'ELBO shared':>12} {'ELBO own':>12} {'MSE (z~q)':>10}")
ELBO_NOTE = ("ELBO shared: beta = 1, every decoder read as a Gaussian of sigma^2 = 1/2 (compare runs by it); ELBO own: "
             "under the run's own sigma^2 = beta / 2, the bound its loss stands for. Last validation pass, one z ~ q "
             "per image; the moving-average weights at the last step (checkpoints/last.pt).")


def format_table(runs: dict[str, RunResult], pca: dict[str, Any]) -> str:
    """One line per run: the validation recon, KL, the ELBO at the shared sigma and under the run's own, the MSE
    and the PSNR of the mean MSE; then PCA with the same latent size on the same images (its MSE and PSNR, mean of
    the images'), and what the two ELBOs are."""
    lines = [f"{'run':<30} {HEADER} {'PSNR (dB)':>10}"]
    for name, label, _, _ in SCENARIOS:
        m = runs[name].metrics
        lines.append(f"{label:<30} {_numbers(m)} {10 * math.log10(1 / m['mse']):10.2f}")
    label = f"PCA-{pca['pca_components']} (linear, same latent)"
    lines.append(f"{label:<30} {'':>12} {'':>10} {'':>12} {'':>12} {pca['pca_mse']:10.4f} {pca['pca_psnr']:10.2f}")
    return "\n".join([*lines, ELBO_NOTE])


def format_curve(rows: list[dict[str, Any]]) -> str:
    """One line per beta of the curve: the conditional model's validation recon, KL, both ELBOs and MSE."""
    title = f"one model for every beta in [{CURVE_BETAS[0]:g}, {CURVE_BETAS[-1]:g}] (loss-conditional):"
    lines = [title, f"{'beta':<30} {HEADER}"]
    for row in rows:
        lines.append(f"{row['beta']:<30.3g} {_numbers(row)}")
    return "\n".join(lines)


def _numbers(m: dict[str, Any]) -> str:
    """recon, KL, the two ELBOs and the MSE of a validation record, "n/a" for what the model has not (the AE)."""
    return (f"{format_number(m['recon']):>12} {format_number(m['kl']):>10} "
            f"{format_number(m.get('elbo_shared_sigma')):>12} {format_number(m['elbo']):>12} "
            f"{format_number(m['mse']):>10}")


def plot_curve(runs: dict[str, RunResult], curve_rows: list[dict[str, Any]], pixels: int, path: Path) -> Figure:
    """The conditional model's rate-distortion curve, with the three runs beside it: the two VAEs as points of
    their own (separate models, not joined), and the AE as a line at its distortion (its point-mass codes have no
    finite rate). `pixels` per image place the iso-ELBO lines (of the ELBO at the shared sigma)."""
    rows = [{"run": f"beta={row['beta']:g}", "beta": row["beta"], "rate": row["kl"], "distortion": row["recon"],
             "pixels": pixels, "model": "one loss-conditional model"} for row in curve_rows]
    rows += [{"run": label, "beta": beta, "rate": runs[name].metrics["kl"], "distortion": runs[name].metrics["recon"],
              "pixels": pixels, "model": label, "model.kind": kind} for name, label, kind, beta in SCENARIOS]
    return plot_rate_distortion(rows, path, group_keys=["model"], recon="sse",
                                title="the seed's three runs beside the curve of one loss-conditional model "
                                      "(validation)")


def write_comparison(runs: dict[str, RunResult], path: Path, n: int = 10) -> None:
    """The same validation inputs, with one row of reconstructions per run (from each last.pt)."""
    plot_run_reconstructions([(label, runs[name].run_dir) for name, label, _, _ in SCENARIOS], path, n=n,
                             title="the same network, three objectives (validation images)")
