"""Checkpoints: written atomically, read with `torch.load(weights_only=True)` so they never run code.

A checkpoint is a plain dict of tensors and primitives: the model, the objective (learned sigma,
GECO's multiplier), the optimiser, the step, the noise generator's state, the best validation score
and the full config, so a run resumes exactly and a model rebuilds itself from the file alone.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch

from vaelab.errors import UsageError


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by `save_checkpoint`; anything that would need to execute code is refused."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise UsageError(f"checkpoint {path} does not exist: train the run first (vaelab train ...)") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        reason = str(error).splitlines()[0] if str(error) else error.__class__.__name__
        raise UsageError(f"checkpoint {path} cannot be loaded safely ({reason}): it was not written by vaelab") from None
