"""Data pipeline at scale: building the cache from a folder of JPEGs, and training memory against N.

    .venv/bin/python benchmarks/data.py                                  # print the report (~15 min)
    .venv/bin/python benchmarks/data.py --write docs/benchmarks.md       # and write it into the docs

(a) Cache build. `--jpegs` (default 20,000) generated 256 x 256 JPEGs (quality 90; a smooth colour
    field, a few ellipses and rectangles, and noise, different for every file) are written once into
    WORKDIR/jpegs, outside the repository (default WORKDIR: /tmp/vaelab-bench-data). `load_images` on
    that folder (64 x 64, the folder default) runs in a fresh process with an empty cache folder, and
    only that call is timed: listing, decoding, writing the .npy. Once with every core the process
    may use, once under `taskset -c 0`: the data layer sizes its worker pool by the process's CPU
    affinity, so that is one worker (decoding in the process itself). The files were just written,
    so they are read from the page cache, not the disk.
(b) Training memory. Fashion-MNIST-format IDX files with 100,000 and with 10,000 generated 28 x 28
    images are cached at 64 x 64 x 3 by the real code path (`--data fashion-mnist --data-root DIR
    --image-size 64 --channels 3`: 1.2 GB and 123 MB of uint8), each cache built beforehand by a
    separate process. Then `python -m vaelab train` runs 50 steps on each (default model and
    batch size, figures and progress bar off, validation on 10% of the images at the end). Peak
    resident memory is the kernel's own high-water mark for the process (ru_maxrss from os.wait4);
    its anonymous and file-backed parts (RssAnon, RssFile in /proc/PID/status) are sampled every
    20 ms. The two sizes alternate, `--rounds` times each; medians are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from sections import cpu_name, write_section

SECTION = "## Data pipeline"
FASHION_IMAGES, FASHION_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"


# ---------------------------------------------------------------------------------------------
# Generated inputs


def write_jpeg(path: Path, seed: int, size: int = 256) -> None:
    """A smooth random colour field with a few shapes on it and some noise, as a quality-90 JPEG."""
    rng = np.random.default_rng(seed)
    field = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize((size, size),
                                                                                   Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(field)
    for _ in range(rng.integers(2, 7)):
        x0, y0 = rng.integers(0, size - 16, 2)
        x1, y1 = x0 + rng.integers(16, size // 2), y0 + rng.integers(16, size // 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    noisy = np.asarray(field, dtype=np.int16) + rng.integers(-12, 13, (size, size, 3))
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, quality=90)


def jpeg_folder(workdir: Path, count: int) -> Path:
    """WORKDIR/jpegs with `count` generated JPEGs (made once; reused while the count matches)."""
    folder = workdir / f"jpegs-{count}"
    done = folder / ".complete"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        paths = [folder / f"{i // 1000:02d}" / f"{i:06d}.jpg" for i in range(count)]
        for sub in {path.parent for path in paths}:
            sub.mkdir()
        with ProcessPoolExecutor() as pool:
            list(pool.map(write_jpeg, paths, range(count), chunksize=256))
        done.touch()
    return folder


def idx_folder(workdir: Path, count: int) -> Path:
    """Fashion-MNIST-format training files with `count` generated 28 x 28 grey images (blurred blobs)."""
    folder = workdir / f"idx-{count}"
    if not (folder / FASHION_LABELS).exists():
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(count)
        images = np.empty((count, 28, 28), dtype=np.uint8)
        for start in range(0, count, 10_000):  # (B, 7, 7) coarse values, upsampled 4x, plus noise
            coarse = rng.integers(0, 256, (min(10_000, count - start), 7, 7)).astype(np.int16)
            fine = coarse.repeat(4, axis=1).repeat(4, axis=2) + rng.integers(-20, 21, (len(coarse), 28, 28))
            images[start : start + len(coarse)] = np.clip(fine, 0, 255)
        labels = (np.arange(count) % 10).astype(np.uint8)
        for name, array in ((FASHION_IMAGES, images), (FASHION_LABELS, labels)):
            header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
            (folder / name).write_bytes(header + array.tobytes())
    return folder


# ---------------------------------------------------------------------------------------------
# Measurements (each in a fresh process)


def build_cache_in_this_process(spec: str, cache_dir: str, data_root: str | None, image_size: int,
                                channels: int | None) -> None:
    """The child of `time_cache_build` / `prepare_cache`: build the cache, print what it took as JSON."""
    from vaelab.config import DataConfig
    from vaelab.data import load_images
    from vaelab.machine import available_cores

    config = DataConfig(spec=spec, cache_dir=cache_dir, data_root=data_root, image_size=image_size,
                        channels=channels)
    cpu_before, started = cpu_seconds(), time.perf_counter()
    data = load_images(config)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
    print(json.dumps({"seconds": seconds, "cpu": cpu, "images": len(data.images), "skipped": len(data.skipped),
                      "workers": available_cores(), "shape": list(data.images.shape)}))


def cpu_seconds() -> float:
    """User + system time of this process and of its finished children (the decoding workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_child_build(args: list[str], *, cpus: str | None = None) -> dict:
    command = [sys.executable, __file__, "--build-cache", *args]
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def time_cache_build(folder: Path, workdir: Path, cpus: str | None) -> dict:
    cache = workdir / "build-cache"
    shutil.rmtree(cache, ignore_errors=True)
    result = run_child_build([str(folder), str(cache), "", "64", ""], cpus=cpus)
    result["cache_bytes"] = sum(path.stat().st_size for path in cache.glob("*.npy"))
    shutil.rmtree(cache)
    return result


@dataclass
class Memory:
    """Peak resident memory of one training process, in MiB."""

    peak: float  # the kernel's high-water mark of the resident set (ru_maxrss)
    anonymous: float  # largest RssAnon sample: memory the process allocated
    file: float  # largest RssFile sample: pages of mapped files (the cache, the libraries) it touched
    seconds: float


def train_memory(data_root: Path, cache: Path, out: Path, steps: int) -> Memory:
    """Run `vaelab train` on the cached images and measure its memory."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "vaelab", "train", "--data", "fashion-mnist", "--data-root", str(data_root),
               "--image-size", "64", "--channels", "3", "--steps", str(steps), "--out", str(out),
               "--set", f"data.cache_dir={cache}", "--set", "training.figures=false",
               "--set", "training.progress=false"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peaks = {"RssAnon": 0, "RssFile": 0}
    finished = threading.Event()

    def sample() -> None:
        status = Path(f"/proc/{process.pid}/status")
        while not finished.wait(0.02):
            try:
                fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
            except (OSError, ValueError):
                return
            for name, peak in peaks.items():
                if name in fields:
                    peaks[name] = max(peak, int(fields[name].split()[0]))  # kB

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    finished.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    errors = process.stderr.read()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{errors}")
    return Memory(peak=usage.ru_maxrss / 1024, anonymous=peaks["RssAnon"] / 1024, file=peaks["RssFile"] / 1024,
                  seconds=time.perf_counter() - started)


# ---------------------------------------------------------------------------------------------
# The report


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]




def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/vaelab-bench-data"),
                        help="where the generated images and caches go (outside the repository)")
    parser.add_argument("--jpegs", type=int, default=20_000, help="JPEGs in the cache-build benchmark")
    parser.add_argument("--large", type=int, default=100_000, help="images in the large training cache")
    parser.add_argument("--small", type=int, default=10_000, help="images in the small training cache")
    parser.add_argument("--steps", type=int, default=50, help="training steps of each memory run")
    parser.add_argument("--rounds", type=int, default=2, help="memory runs per cache size")
    parser.add_argument("--write", type=Path, help="write the report into this markdown file's section")
    parser.add_argument("--build-cache", nargs=5, metavar=("SPEC", "CACHE", "DATA_ROOT", "SIZE", "CHANNELS"),
                        help=argparse.SUPPRESS)  # the child process of a measurement
    args = parser.parse_args(argv)
    if args.build_cache:
        spec, cache, data_root, size, channels = args.build_cache
        build_cache_in_this_process(spec, cache, data_root or None, int(size), int(channels) if channels else None)
        return

    started, load_before = time.perf_counter(), os.getloadavg()
    args.workdir.mkdir(parents=True, exist_ok=True)
    import torch  # only the report's header needs it; the children import their own

    lines = [SECTION, "", "Written by `benchmarks/data.py`; every number below comes from one run of", "",
             f"    python benchmarks/data.py {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip(), "",
             (f"Machine: {cpu_name()}, {os.cpu_count()} cores, Linux {platform.release()}, torch {torch.__version__}, "
              f"numpy {np.__version__}, Pillow {Image.__version__}; load average {load_before[0]:.2f} at the start "
              "(the machine was shared with other work: timings are lower bounds of what it can do)."), ""]

    # (a) the cache build
    folder = jpeg_folder(args.workdir, args.jpegs)
    builds = {"all cores": time_cache_build(folder, args.workdir, None),
              "1 worker (taskset -c 0)": time_cache_build(folder, args.workdir, "0")}
    lines += [f"### Building the cache: {args.jpegs:,} generated 256 x 256 JPEGs to 64 x 64", ""]
    lines += table(["workers", "seconds", "images / s", "CPU seconds", "images / CPU second", "cache (.npy)"], [
        [f"{name}: {build['workers']}", f"{build['seconds']:.1f}", f"{build['images'] / build['seconds']:,.0f}",
         f"{build['cpu']:.1f}", f"{build['images'] / build['cpu']:,.0f}",
         f"{build['cache_bytes'] / 2**20:.0f} MiB, {tuple(build['shape'])}"] for name, build in builds.items()])
    one, every = builds["1 worker (taskset -c 0)"], builds["all cores"]
    lines += ["", (f"All cores: {one['seconds'] / every['seconds']:.2f}x the speed of one worker, for "
              f"{every['cpu'] / one['cpu']:.2f}x the CPU time (process pool: forked workers, results sent back in "
              "chunks). Timed: `load_images` alone (list, decode, write), in a fresh process with an empty cache "
              "folder; the JPEGs were in the page cache. With other work on the machine there is no idle core "
              "to gain from: the speed-up needs cores nothing else is using."), ""]

    # (b) training memory against the number of images
    caches = {}
    for count in (args.large, args.small):
        data_root, cache = idx_folder(args.workdir, count), args.workdir / f"cache-{count}"
        run_child_build(["fashion-mnist", str(cache), str(data_root), "64", "3"])  # built once, not measured
        caches[count] = (data_root, cache)
    runs: dict[int, list[Memory]] = {count: [] for count in caches}
    for _ in range(args.rounds):
        for count, (data_root, cache) in caches.items():
            runs[count].append(train_memory(data_root, cache, args.workdir / "run", args.steps))
    median = {count: Memory(*(statistics.median(getattr(m, name) for m in memories)
                              for name in ("peak", "anonymous", "file", "seconds")))
              for count, memories in runs.items()}
    lines += [f"### Training memory: {args.large:,} against {args.small:,} cached 64 x 64 x 3 images", ""]
    rows = []
    for count, (_, cache) in caches.items():
        cache_bytes = sum(path.stat().st_size for path in cache.glob("*.npy"))
        m = median[count]
        rows.append([f"{count:,}", f"{cache_bytes / 2**20:,.0f} MiB", f"{round(count * 0.1):,}", f"{m.peak:,.0f} MiB",
                     f"{m.anonymous:,.0f} MiB", f"{m.file:,.0f} MiB", f"{m.seconds:.0f}"])
    lines += table(["images", "cache (.npy)", "validation images", "peak RSS", "peak anonymous", "peak file-backed",
                    "run (s)"], rows)
    large, small = median[args.large], median[args.small]
    lines += ["", (f"Peak RSS {large.peak / small.peak - 1:+.1%} with {args.large // args.small}x the images "
              f"(anonymous memory {large.anonymous / small.anonymous - 1:+.1%}, file-backed "
              f"{large.file - small.file:+,.0f} MiB). Medians of {args.rounds} runs each; "
              f"`vaelab train --data fashion-mnist --data-root DIR --image-size 64 --channels 3 --steps {args.steps} "
              "--set training.figures=false --set training.progress=false` on a cache built beforehand."), ""]
    lines += [("Batches are read from the cache with pread (`vaelab.data.cache.read_rows`), not through the memory "
               "map: a mapped page that is touched makes the kernel map up to 64 KiB around it, and all of them count "
               "as the process's resident memory, so reading through the map made the peak grow with the dataset "
               "(the images a run reads are spread over the whole file). The anonymous memory is the process's own: "
               "torch, the model, the batches, and what the cache's sidecar lists per image (names, labels): "
               f"{(large.anonymous - small.anonymous) * 1024 / (args.large - args.small):.2f} KiB more per image here. "
               "The file-backed part is the libraries."), ""]
    lines += [(f"Load average {os.getloadavg()[0]:.2f} at the end; the run took "
               f"{(time.perf_counter() - started) / 60:.1f} min."), ""]
    report = "\n".join(lines)
    print(report)
    if args.write:
        write_section(args.write, report)
        print(f"wrote {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
