"""Device selection: the same code runs on CPU, CUDA and Apple's MPS; and a model too large for the device is
refused before it is built."""

from __future__ import annotations

import ctypes
import os
import sys

import torch

from vaelab.errors import UsageError


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA, then MPS, then the CPU; an explicit device that is missing is a usage error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for but this torch sees no CUDA GPU: use --device cpu or install a "
                         "CUDA build")
    if name == "mps" and not torch.backends.mps.is_available():
        raise UsageError("--device mps was asked for but MPS is not available here: use --device cpu")
    return torch.device(name)


def device_memory(device: torch.device) -> int:
    """The device's memory in bytes, all of it: a CUDA GPU's own, else the machine's (MPS shares it)."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_model_fits(parameters: int, device: torch.device, *, ema: bool, memory: int | None = None) -> None:
    """Refuse a model whose training state alone cannot fit in `device`'s memory, in one line with the numbers.

    The state is 4 bytes (float32) per parameter for each of: the weights, their gradients, AdamW's two
    moments and, with training.ema, their moving average; the activations come on top, so a model that
    passes may still run out of memory, but one that fails here never fits. `memory`: the device's bytes
    (default: `device_memory`).
    """
    needed = parameters * 4 * (5 if ema else 4)
    available = device_memory(device) if memory is None else memory
    where = f"GPU {device}" if device.type == "cuda" else "this machine"
    if needed > available:
        raise UsageError(f"the model has {parameters:,} parameters: training it needs at least {needed / 2**30:,.0f} "
                         f"GiB (weights, gradients, Adam's moments{', their average' if ema else ''}), more than "
                         f"the {available / 2**30:,.0f} GiB of {where}: use a smaller --latent-dim or --width")


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt(3) parameters, glibc's <malloc.h>


def keep_freed_memory() -> bool:
    """Let glibc's malloc reuse the memory a CPU training step frees, instead of returning it to the kernel.

    Every step allocates and frees the same activation and gradient buffers. By default glibc serves
    a buffer above its mmap threshold (128 KiB, adapting up to 32 MiB) with a fresh mmap() and hands
    freed memory at the top of the heap back to the kernel, so the next step page-faults it in again
    and the kernel zeroes it: on the 2-core EPYC of docs/benchmarks.md that was 30-40% of a
    Fashion-MNIST step. With both thresholds raised the buffers stay in the heap and are reused. The
    arithmetic is unchanged; the cost is that the process keeps its peak memory until it exits.
    Linux with glibc only; returns whether the setting was applied.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # a C library without mallopt
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 1 << 30)) and bool(mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1))
