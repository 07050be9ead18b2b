"""Checkpoints: written atomically, read with `torch.load(weights_only=True)` so they never run code.

A checkpoint is a plain dict of tensors and primitives: the model, the objective (learned sigma,
GECO's multiplier), the optimiser, the step, the noise generator's state, the best validation score
and the full config, so a run resumes exactly and a model rebuilds itself from the file alone.
"""

from __future__ import annotations

import os
import pickle
import re
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


def remove_partial_checkpoints(directory: Path) -> None:
    """Delete the temporary files of writes that a killed process left in `directory` (the run lock is held,
    so no other process is writing there)."""
    for leftover in directory.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by `save_checkpoint`; anything that would need to execute code is refused.

    A file that is missing, damaged, or not a plain checkpoint is a `UsageError` saying so in one line.
    """
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise UsageError(f"checkpoint {path} does not exist: train the run first (vaelab train ...)") from None
    except pickle.UnpicklingError as error:
        # torch's own message begins by suggesting weights_only=False, i.e. running the code: never show that.
        found = re.search(r"GLOBAL (\S+)", str(error))
        held = (f"a reference to {found[1]}, which loading would have to run as code" if found
                else "data that a weights-only load does not accept")
        raise UsageError(
            f"checkpoint {path} is refused: it holds {held}; vaelab's checkpoints never do "
            "(is it damaged, or written by something else?)"
        ) from None
    # a damaged file fails with OSError, RuntimeError, KeyError, IndexError, ... in torch
    except Exception as error:  # noqa: BLE001
        reason = str(error).splitlines()[0][:100] if str(error) else ""
        raise UsageError(
            f"checkpoint {path} cannot be read ({type(error).__name__}{': ' + reason if reason else ''}): "
            "it is damaged or was not written by vaelab"
        ) from None
