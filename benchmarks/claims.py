"""Re-measure every number README.md and docs/kl-weighting.md state about the 698 paintings, with vaelab's
default networks and the estimators that say at what N they are valid.

One sweep trains beta = 0.03, 0.1, 0.3, 1 on `--seeds` training seeds each (the validation split is the same
70 paintings for every run: data.split_seed is fixed), and the plain autoencoder is trained on the same seeds;
every run is evaluated on its last checkpoint by `vaelab evaluate`. Printed, each under the command that
made it:
- the three runs of the seed's story (beta = 1, beta = 0.1, the AE): each eval.json number as mean ± sd over
  the seeds, with the seeds' values;
- paired differences beta = 0.1 minus beta = 1 on the same validation images, per seed with its standard
  error over the images, and over seeds (mean ± sd, and whether every seed agrees in sign);
- the gradient view at the last step (Q2): |beta grad KL| / |grad recon| and their cosine per encoder group;
- the rate-distortion table of the sweep (mean ± sd over seeds per beta).

    .venv/bin/python benchmarks/claims.py --out claims --figures docs       # the full run (~60 CPU-minutes)
    .venv/bin/python benchmarks/claims.py --out /tmp/c --steps 4 --seeds 2 --iw-samples 2 --limit 80   # smoke
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
from pathlib import Path

from vaelab.cli import main as vaelab

ARTWORKS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "artworks"
BETAS = ("0.03", "0.1", "0.3", "1")
ROWS = ("sigma", "kl", "kl_dims_over_half_nat", "active_units", "mse", "psnr", "ssim", "pca_psnr",
        "psnr_gain_over_pca", "train_psnr", "generalisation_gap_psnr", "sigma_optimal", "elbo_shared_sigma",
        "elbo_optimal_sigma", "iwae_optimal_sigma", "index_code_mi", "index_code_mi_cap", "total_correlation",
        "aggregate_posterior_mmd", "aggregate_posterior_kl", "aggregate_kl_q_p", "smoothness",
        "dims_var_mean_over_0.03", "dims_var_mean_over_0.1")
VARIANCE_LINES = (0.03, 0.1)  # Var_x E[z|x] lines stricter than Burda et al.'s 0.01 (active_units)
PAIRED = ("psnr", "ssim", "kl", "elbo_optimal_sigma", "iwae_optimal_sigma", "elbo_shared_sigma")
GROUPS = ("encoder_body", "mean_head", "logvar_head")


def command(*args: str) -> None:
    print("\n$ vaelab " + " ".join(args), flush=True)
    if vaelab(list(args)) != 0:
        raise SystemExit(f"vaelab {' '.join(args)} failed")


def spread(values: list[float | None]) -> str:
    """mean ± sd over seeds (and the values), or n/a when any seed has none."""
    if not values or any(v is None or (isinstance(v, float) and not math.isfinite(v)) for v in values):
        return "n/a"
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{mean:.4g} ± {sd:.2g}"


def derived(evaluation: dict) -> dict:
    """eval.json plus the count of latent dimensions with a KL over 0.5 nats."""
    per_dim = evaluation.get("kl_per_dim")
    extra = {"kl_dims_over_half_nat": None if per_dim is None else sum(k > 0.5 for k in per_dim)}
    variances = evaluation.get("posterior_mean_variance")
    for line in VARIANCE_LINES:
        extra[f"dims_var_mean_over_{line}"] = None if variances is None else sum(v > line for v in variances)
    return {**evaluation, **extra}


def last_gradient_record(records: list[dict]) -> dict:
    views = [r for r in records if any(k.startswith("grad_ratio/") for k in r)]
    return views[-1] if views else {}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", default=str(ARTWORKS))
    parser.add_argument("--steps", type=int, default=450)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--iw-samples", type=int, default=50)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--figures", type=Path, default=None, help="write the docs' three figures here (e.g. docs)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from vaelab.run_dir import find_runs, read_run
    from vaelab.viz.noise import paired_difference

    seeds = [str(s) for s in range(args.seeds)]
    common = ["--data", args.data, "--image-size", "64", "--latent-dim", "128", "--batch-size",
              str(args.batch_size), "--steps", str(args.steps), "--set", "training.progress=false",
              "--set", "training.threads=1", *(["--limit", str(args.limit)] if args.limit else [])]
    sweep = args.out / "sweep"
    if not (sweep / "summary.csv").exists():
        command("sweep", *common, "--out", str(sweep), "--grid", f"objective.beta={','.join(BETAS)}",
                "--grid", f"training.seed={','.join(seeds)}", "--iw-samples", str(args.iw_samples))
    runs: dict[str, dict[str, object]] = {"beta = 1": {}, "beta = 0.1": {}, "plain AE": {}}
    for run in find_runs(sweep):
        config = run.config()
        label = {1.0: "beta = 1", 0.1: "beta = 0.1"}.get(config.objective.beta)
        if label:
            runs[label][str(config.training.seed)] = read_run(run)
    for seed in seeds:
        out = args.out / f"ae-seed{seed}"
        if not (out / "eval.json").exists():
            command("train", *common, "--model", "ae", "--seed", seed, "--out", str(out))
            command("evaluate", str(out), "--checkpoint", "last", "--iw-samples", str(args.iw_samples))
        runs["plain AE"][seed] = read_run(out)

    evaluations = {label: [derived(runs[label][s].evaluation) for s in seeds] for label in runs}
    first = evaluations["beta = 1"][0]
    print(f"\n## The three runs ({first.get('images')} validation images, checkpoint {first.get('checkpoint')}, "
          f"{first.get('weights')} weights; mean ± sd over seeds {', '.join(seeds)})\n")
    print("| eval.json | " + " | ".join(runs) + " |\n|---|" + "---|" * len(runs))
    for row in ROWS:
        cells = [spread([e.get(row) for e in evaluations[label]]) for label in runs]
        print(f"| {row} | " + " | ".join(cells) + " |")

    print("\n## Paired differences, beta = 0.1 minus beta = 1, on the same validation images\n")
    print("| measure | " + " | ".join(f"seed {s} (± SE over images)" for s in seeds) + " | over seeds |")
    print("|---|" + "---|" * (len(seeds) + 1))
    for key in PAIRED:
        pairs = [paired_difference(b01, b1, key)  # (mean, SE, images) over the images both scored
                 for b1, b01 in zip(evaluations["beta = 1"], evaluations["beta = 0.1"])]
        if any(p is None for p in pairs):
            continue
        means = [p[0] for p in pairs]
        agree = "all seeds agree" if len({m > 0 for m in means}) == 1 else "seeds disagree"
        print(f"| {key} | " + " | ".join(f"{m:+.4g} ± {se:.2g}" for m, se, _ in pairs)
              + f" | {spread(means)} ({agree}) |")
    for key in ("aggregate_posterior_mmd",):
        means = [b01.get(key) - b1.get(key) for b1, b01 in zip(evaluations["beta = 1"], evaluations["beta = 0.1"])]
        print(f"| {key} (per seed, no per-image split) | " + " | ".join(f"{m:+.4g}" for m in means)
              + f" | {spread(means)} |")
    for label in ("beta = 1", "beta = 0.1"):
        intervals = [e.get("aggregate_posterior_mmd_ci") for e in evaluations[label]]
        print(f"\n{label}: aggregate_posterior_mmd bootstrap intervals per seed: {intervals}")

    print("\n## Gradient view at the last step (mean over seeds of each seed's mean over 4 fixed batches)\n")
    print("| run | " + " | ".join(f"{g}: ratio / cosine / Adam ratio / Adam cosine" for g in GROUPS) + " |")
    print("|---|" + "---|" * len(GROUPS))
    for label in ("beta = 1", "beta = 0.1"):
        records = [last_gradient_record(runs[label][s].records) for s in seeds]
        cells = []
        for group in GROUPS:
            parts = [spread([r.get(f"{name}/{group}") for r in records])
                     for name in ("grad_ratio", "grad_cosine", "adam_ratio", "adam_cosine")]
            cells.append(" / ".join(parts))
        steps = sorted({r.get("step") for r in records})
        print(f"| {label} (step {', '.join(map(str, steps))}) | " + " | ".join(cells) + " |")

    print(f"\n## The sweep: {sweep / 'summary.csv'}\n")
    rows: dict[str, list[dict]] = {}
    for run in find_runs(sweep):
        rows.setdefault(str(run.config().objective.beta), []).append(derived(read_run(run).evaluation))
    keys = ("kl", "mse", "psnr", "elbo_optimal_sigma", "iwae_optimal_sigma", "aggregate_posterior_mmd")
    print("| beta | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
    for beta in sorted(rows, key=float):
        print(f"| {beta} | " + " | ".join(spread([e.get(k) for e in rows[beta]]) for k in keys) + " |")
    command("explain", "--beta", "0.1", "--data", args.data, "--image-size", "64")
    if args.figures:
        figures(args.figures, sweep, {label: runs[label][seeds[0]].run_dir for label in runs})


def figures(folder: Path, sweep: Path, runs: dict[str, Path]) -> None:
    """The docs' figures from seed 0: the three runs compared, their prior samples (beta = 1 above, beta = 0.1
    below) and the sweep's rate-distortion curve."""
    import shutil

    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    command("runs", "compare", *(str(path) for path in runs.values()), "--out", str(folder / "artworks-compare.png"))
    panels = [Image.open(runs[label] / "figures" / "samples.png").convert("RGB") for label in ("beta = 1", "beta = 0.1")]
    stacked = Image.new("RGB", (max(p.width for p in panels), sum(p.height for p in panels)), "white")
    for index, panel in enumerate(panels):
        stacked.paste(panel, (0, sum(p.height for p in panels[:index])))
    stacked.save(folder / "artworks-samples.png")
    shutil.copyfile(sweep / "figures" / "rate_distortion.png", folder / "artworks-rate-distortion.png")

if __name__ == "__main__":
    main()
