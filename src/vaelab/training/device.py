"""Device selection: the same code runs on CPU, CUDA and Apple's MPS."""

from __future__ import annotations

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
        raise UsageError("--device cuda was asked for but this torch sees no CUDA GPU: use --device cpu or install a CUDA build")
    if name == "mps" and not torch.backends.mps.is_available():
        raise UsageError("--device mps was asked for but MPS is not available here: use --device cpu")
    return torch.device(name)
