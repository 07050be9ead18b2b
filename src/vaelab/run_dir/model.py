"""A trained network rebuilt from a run directory: model.json says what to build, a checkpoint fills it in.

    model = load_model("runs/art-b01")                 # best.pt, eval mode, on the CPU
    model = load_model(run, "last", beta=0.3)          # a loss-conditional run serving beta = 0.3

No optimiser is built and nothing is trained: the checkpoint is read with `weights_only=True`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from vaelab.errors import UsageError
from vaelab.model import AtBeta, at_beta, model_from_hparams
from vaelab.objectives.conditional import check_beta
from vaelab.run_dir.checkpoint import load_checkpoint, restoring
from vaelab.run_dir.layout import CHECKPOINTS, RunDir
from vaelab.version import __version__


def load_network(run: RunDir | str | Path, checkpoint: str = "best", device: str | torch.device = "cpu"
                 ) -> tuple[nn.Module, dict[str, Any]]:
    """The run's network in eval mode on `device` with the checkpoint's weights, and the checkpoint itself
    (step, config, the objective's state, ...)."""
    run = run if isinstance(run, RunDir) else RunDir(Path(run))
    if not run.is_run():
        raise UsageError(f"{run.path} is not a run directory (no config.yaml): "
                         f"train one with vaelab train --out {run.path}")
    path = run.checkpoint(checkpoint)
    if not path.is_file():
        present = [name for name in CHECKPOINTS if run.checkpoint(name).is_file()]
        fix = (f"use --checkpoint {present[0]}" if present else
               f"train it first (vaelab train --out {run.path}; best.pt comes with the first validation)")
        raise UsageError(f"{run.path} has no checkpoint {path.name}: {fix}")
    state = load_checkpoint(path, map_location=device)
    averaged = state.get("ema")  # the moving average of the weights, the ones the run validated
    written_by = state.get("vaelab_version")
    if written_by == __version__:  # the same layers: a checkpoint that does not fit is damaged or another run's
        network = model_from_hparams(run.model_info()["model_hparams"])
        with restoring(path):
            network.load_state_dict(state["model"] if averaged is None else averaged["model"])
        return network.to(device).eval(), state
    try:  # another version's layers: say so, rather than which tensor did not fit
        network = model_from_hparams(run.model_info()["model_hparams"])
        network.load_state_dict(state["model"] if averaged is None else averaged["model"])
    except (RuntimeError, TypeError, KeyError) as error:  # other layers, other arguments, no weights at all
        reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise UsageError(
            f"checkpoint {path} (written by vaelab {written_by or 'of unknown version'}) does not fit the network "
            f"{run.model_file.name} describes in vaelab {__version__} ({reason}): load it with the vaelab that "
            "wrote it, or train the run again") from None
    return network.to(device).eval(), state


def load_model(run: RunDir | str | Path, checkpoint: str = "best", beta: float | None = None,
               device: str | torch.device = "cpu") -> nn.Module | AtBeta:
    """The run's network serving one beta: a loss-conditional run's at `beta` (default: the beta it was
    validated at, objective.beta), any other run's as trained (`beta` must then be None)."""
    run = run if isinstance(run, RunDir) else RunDir(Path(run))
    network, _ = load_network(run, checkpoint, device)
    config = run.config()
    if beta is not None:
        check_beta(config, beta, run.path, flag="beta")
    return at_beta(network, config.objective.beta if beta is None else beta)
