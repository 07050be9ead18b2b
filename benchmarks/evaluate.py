"""Evaluation speed: `vaelab evaluate` on 1000 Fashion-MNIST validation images with K = 1000
importance samples each, for the default 28x28 network (ConvVAE, latent 32, width 32).
Target (issue 4): under 2 minutes on this project's 2-core CPU.

    .venv/bin/python benchmarks/evaluate.py                              # print the result (~3 min)
    .venv/bin/python benchmarks/evaluate.py --write docs/benchmarks.md   # and put it into the docs

The network is first trained for `--train-steps` steps (the time of an evaluation does not depend on
how well it is trained); the timed interval is one call of `evaluate_run`, everything included:
loading the checkpoint and the cached images, the K * 1000 = 1,000,000 decodes of the IWAE, the
ELBO decomposition, SSIM, and writing eval.json and the figures. The 1-minute load average before
and after is printed, since other work on the machine slows the run down.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
from sections import cpu_name, write_section

from vaelab.config import Config, DataConfig, ModelConfig, TrainingConfig
from vaelab.evaluation.evaluate import evaluate_run
from vaelab.training.run import train

SECTION = "## Evaluation"
TARGET_SECONDS = 120.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iw-samples", type=int, default=1000)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--train-steps", type=int, default=200)
    parser.add_argument("--run", type=Path, help="evaluate this existing run instead of training one")
    parser.add_argument("--write", type=Path, metavar="FILE.md", help=f"put the result under '{SECTION}' in FILE.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="vaelab: %(message)s")

    with tempfile.TemporaryDirectory() as scratch:
        run = args.run
        if run is None:
            run = Path(scratch) / "fashion-mnist"
            config = Config(data=DataConfig(spec="fashion-mnist"), model=ModelConfig(),
                            training=TrainingConfig(steps=args.train_steps, progress=False, figures=False))
            train(config.validate(), run)
        load_before = os.getloadavg()[0]
        started, cpu_started = time.perf_counter(), time.process_time()
        result = evaluate_run(run, iw_samples=args.iw_samples, max_images=args.images, device="cpu")
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        load_after = os.getloadavg()[0]

    verdict = "within" if seconds < TARGET_SECONDS else "over"
    lines = [
        SECTION,
        "",
        "Written by `benchmarks/evaluate.py`: one `vaelab evaluate` of the default 28x28 network",
        f"(ConvVAE, latent {result['latent_dim']}, width 32) on {result['images']} Fashion-MNIST validation images",
        (f"with K = {result['iw_samples']} importance samples each "
         f"({result['images'] * result['iw_samples']:,} decodes),"),
        "everything included (checkpoint, images, IWAE, ELBO decomposition, SSIM, figures, eval.json).",
        "",
        "```",
        ".venv/bin/python benchmarks/evaluate.py --write docs/benchmarks.md",
        "```",
        "",
        "| wall clock | CPU time | target | load average (1 min) before / after | machine |",
        "| --- | --- | --- | --- | --- |",
        (f"| {seconds:.1f} s | {cpu_seconds:.1f} s | {TARGET_SECONDS:.0f} s ({verdict}) | {load_before:.1f} / "
         f"{load_after:.1f} | {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, "
         f"{torch.get_num_threads()} threads, Python {platform.python_version()} |"),
        "",
        (f"The evaluated model: IWAE_{result['iw_samples']} {result['iwae']:.1f} nats, ELBO {result['elbo']:.1f} nats "
         f"(after {args.train_steps} training steps; the time does not depend on training)."),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        write_section(args.write, text)




if __name__ == "__main__":
    main()
