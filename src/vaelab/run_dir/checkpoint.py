"""Checkpoints: written atomically, read with `torch.load(weights_only=True)` so they never run code.

A checkpoint is a plain dict of tensors and primitives: the model, the objective (learned sigma,
GECO's multiplier), the optimiser, the step, the noise generator's state, the best validation score
and the full config, so a run resumes exactly and a model rebuilds itself from the file alone.
"""

from __future__ import annotations

import contextlib
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from vaelab.errors import UsageError
from vaelab.files import atomic_write

ANOTHER_CHECKPOINT = "use another checkpoint of the run (best.pt or last.pt), or train anew"


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Written atomically (`vaelab.files.atomic_write`): never a half-written file. A write that fails (a full
    disk) raises the OSError, naming `path`, which torch would wrap in a RuntimeError of its own."""

    def write(handle) -> None:
        try:
            torch.save(state, handle)
        except RuntimeError as error:
            if isinstance(error.__context__, OSError):
                raise error.__context__ from None
            raise

    atomic_write(path, write)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by `save_checkpoint`; anything that would need to execute code is refused.

    A file that is missing, damaged, or not a plain checkpoint is a `UsageError` saying so in one line; one
    that loads but does not fit what it is loaded into is the job of `restoring`.
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


@contextlib.contextmanager
def restoring(path: Path) -> Iterator[None]:
    """Around code that puts a loaded checkpoint's contents into a network, an optimiser, a trainer: a checkpoint
    that lacks an entry or holds a tensor of another shape (damaged, or another run's) is a one-line `UsageError`
    naming the file and what did not fit, instead of torch's many-line error."""
    try:
        yield
    except KeyError as error:
        raise UsageError(f"checkpoint {path} has no {error.args[0]!r}: it is damaged or was not written by vaelab "
                         f"for this run; {ANOTHER_CHECKPOINT}") from None
    except (RuntimeError, ValueError) as error:  # load_state_dict's size mismatches, missing or unexpected keys
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = (lines[1] if len(lines) > 1 and lines[0].startswith("Error(s) in loading") else lines[0])[:200]
        raise UsageError(f"checkpoint {path} does not fit this run's model ({detail.rstrip('.')}): it is damaged or "
                         f"another run's; {ANOTHER_CHECKPOINT}") from None
