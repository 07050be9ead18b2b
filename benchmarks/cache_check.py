"""What the data cache's check costs a run: the CRC-32 of the entry that every run computes when it opens it.

    .venv/bin/python benchmarks/cache_check.py --write docs/benchmarks.md

For the 698 paintings at 64 x 64 and for Fashion-MNIST (70,000 at 28 x 28), the entry is built once (not timed),
then `vaelab.data.cache.load` opens it with the check and without it, taking turns, ROUNDS times each, in this
process; medians are reported. The entry was just written, or read by the round before, so it is read from the
page cache, as it is when runs follow one another; the first run after a reboot reads it from the disk as well
(at the disk's speed, which the page cache then holds for the runs after it).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sections import cpu_name, write_section

from vaelab.config import DataConfig
from vaelab.data import cache, load_images
from vaelab.data.sources import resolve_source

SECTION = "## Data cache check"
ROUNDS = 21
SOURCES = {
    "paintings, 64 x 64": {"spec": str(Path(__file__).resolve().parents[2] / "shared" / "data" / "artworks"),
                           "image_size": 64},
    "Fashion-MNIST, 28 x 28": {"spec": "fashion-mnist"},
}


def milliseconds(load, check: bool) -> float:
    started = time.perf_counter()
    assert load(check) is not None
    return (time.perf_counter() - started) * 1000


def measure(name: str, fields: dict, folder: Path, rounds: int) -> str:
    config = DataConfig(**fields, cache_dir=str(folder))
    data = load_images(config)  # builds the entry
    source = resolve_source(config)
    key = cache.cache_key(source.kind, source.identity)
    size = (folder / f"{key}.npy").stat().st_size

    def load(check: bool):
        return cache.load(folder, key, check=check)

    checked, unchecked = [], []
    for _ in range(rounds):  # taking turns, so that both see the same machine
        checked.append(milliseconds(load, True))
        unchecked.append(milliseconds(load, False))
    with_check, without = statistics.median(checked), statistics.median(unchecked)
    crc = with_check - without
    return (f"| {name} | {data.images.shape[0]:,} | {size / 2**20:,.1f} MiB | {without:.1f} | {with_check:.1f} | "
            f"{crc:.1f} | {size / 2**20 / (crc / 1000):,.0f} MiB/s |")


def report(rounds: int) -> str:
    load_before = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, fields in SOURCES.items():
            rows.append(measure(name, fields, Path(folder) / name.split(",")[0], rounds))
    return "\n".join([
        SECTION, "",
        "Written by `benchmarks/cache_check.py`; every number below comes from one run of", "",
        "    python benchmarks/cache_check.py --write docs/benchmarks.md", "",
        (f"Machine: {cpu_name()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, torch "
         f"{torch.__version__}, numpy {np.__version__}, Pillow {Image.__version__}; load average {load_before:.2f} "
         "at the start (the machine was shared with other work)."), "",
        ("Every run checks the cache entry it opens (vaelab.data.cache): the CRC-32 of its .npy (zlib's, read in 4 "
         "MiB chunks) against the one its sidecar recorded, so that damaged pixels are decoded again rather than "
         f"trained on. Opening an entry with the check and without it, taking turns, {rounds} times each; medians, "
         "in milliseconds, the entry in the page cache:"), "",
        "| source | images | entry (.npy) | open, unchecked (ms) | open, checked (ms) | the check (ms) | CRC-32 |",
        "|---|---|---|---|---|---|---|",
        *rows, "",
        ("The check is paid once per run, when it opens the data; a run's start (importing torch, building the "
         "model) takes seconds, its steps milliseconds each."), "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--write", type=Path, help="put the section into this markdown file (docs/benchmarks.md)")
    args = parser.parse_args()
    text = report(args.rounds)
    print(text)
    if args.write:
        write_section(args.write, text)
        print(f"written to {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
