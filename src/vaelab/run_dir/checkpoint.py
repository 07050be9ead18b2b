"""Checkpoints: written atomically, read with `torch.load(weights_only=True)` so they never run code.

A checkpoint is a plain dict of tensors and primitives: the model, the objective (learned sigma,
GECO's multiplier), the optimiser, the step, the noise generator's state, the best validation score
and the full config, so a run resumes exactly and a model rebuilds itself from the file alone.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from vaelab.errors import UsageError
from vaelab.files import atomic_write


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Written atomically (`vaelab.files.atomic_write`): never a half-written file."""
    atomic_write(path, lambda handle: torch.save(state, handle))


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
