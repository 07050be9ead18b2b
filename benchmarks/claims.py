"""Re-measure every number README.md and docs/kl-weighting.md state about the 698 paintings, with the
estimators that say at what N they are valid: the three runs (beta = 1, beta = 0.1, the plain AE) on
`--seeds` seeds each, evaluated, compared pairwise over the same validation images, and a beta sweep over
the seeds. Each table is printed under the command that made it.

    .venv/bin/python benchmarks/claims.py --out claims                  # full scale (540 steps a run)
    .venv/bin/python benchmarks/claims.py --out /tmp/claims --steps 4 --iw-samples 2   # a smoke run
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from vaelab.cli import main as vaelab

ARTWORKS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "artworks"
ROWS = ("kl", "mse", "psnr", "ssim", "elbo_optimal_sigma", "iwae_optimal_sigma", "aggregate_kl_q_p",
        "aggregate_kl_p_q", "aggregate_posterior_kl", "aggregate_posterior_mmd", "linear_vae_dims")


def command(*args: str) -> None:
    print("\n$ vaelab " + " ".join(args), flush=True)
    if vaelab(list(args)) != 0:
        raise SystemExit(f"vaelab {' '.join(args)} failed")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", default=str(ARTWORKS))
    parser.add_argument("--steps", type=int, default=540)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--iw-samples", type=int, default=200)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from vaelab.run_dir import read_run

    common = ["--data", args.data, "--image-size", "64", "--latent-dim", "128", "--batch-size", "64",
              "--steps", str(args.steps), "--set", "training.progress=false"]
    runs = {}
    for seed in range(args.seeds):
        for name, extra in (("b1", ["--beta", "1"]), ("b01", ["--beta", "0.1"]), ("ae", ["--model", "ae"])):
            out = args.out / f"{name}-seed{seed}"
            if not (out / "eval.json").exists():
                command("train", *common, *extra, "--seed", str(seed), "--out", str(out))
                command("evaluate", str(out), "--iw-samples", str(args.iw_samples))
            runs.setdefault(name, []).append(read_run(out).evaluation)
    print("\n| eval.json (mean ± SE over images, or [95% interval]) | " + " | ".join(runs) + " |")
    for row in ROWS:
        cells = []
        for evaluations in runs.values():
            values = [e.get(row) for e in evaluations]
            cells.append(", ".join("n/a" if v is None else f"{v:.4g}" for v in values))
        print(f"| {row} (seeds {', '.join(map(str, range(args.seeds)))}) | " + " | ".join(cells) + " |")
    for seed in range(args.seeds):
        command("runs", "compare", str(args.out / f"b1-seed{seed}"), str(args.out / f"b01-seed{seed}"),
                "--out", str(args.out / f"compare-seed{seed}.png"))
    command("explain", "--beta", "0.1", "--data", args.data, "--image-size", "64")
    command("sweep", "--data", args.data, "--image-size", "64", "--out", str(args.out / "sweep"),
            "--set", "model.latent_dim=128", "--grid", "objective.beta=0.03,0.1,0.3,1",
            "--grid", f"training.seed={','.join(map(str, range(args.seeds)))}", "--steps", str(args.steps),
            "--batch-size", "64", "--iw-samples", "10")
    print(f"\nsummary: {args.out / 'sweep' / 'summary.csv'} (rate_mean, rate_sd, ... per grid point)")


if __name__ == "__main__":
    main()
