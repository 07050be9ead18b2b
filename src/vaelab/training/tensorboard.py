"""TensorBoard event files for `--tensorboard` (the optional extra `pip install 'vaelab[tensorboard]'`).

The same metrics as metrics.jsonl, under `<split>/<name>` (e.g. `val/kl`, `train/grad_ratio/encoder`),
and the run's figures as images, in RUN/tensorboard/. View them with `tensorboard --logdir RUN/tensorboard`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vaelab.errors import UsageError
from vaelab.training.callbacks import Callback
from vaelab.training.loggers import Logger


class TensorBoardLogger(Logger):
    """`log_metrics(metrics, step)` as scalars, `log_image(tag, image, step)` as images."""

    def __init__(self, log_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package
        except ImportError:
            raise UsageError("--tensorboard needs the tensorboard package: pip install 'vaelab[tensorboard]'") from None
        self.writer = SummaryWriter(log_dir=str(log_dir))

    def log_metrics(self, metrics: dict[str, Any], step: int) -> None:
        split = metrics.get("split", "train")
        for name, value in metrics.items():
            if name not in ("split", "epoch") and isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(f"{split}/{name}", value, step)
        self.writer.flush()

    def log_image(self, tag: str, image: np.ndarray, step: int) -> None:
        """image: (H, W, C) uint8 or float in [0, 1]."""
        self.writer.add_image(tag, image, step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class TensorBoardFigures(Callback):
    """After each validation pass, every PNG of RUN/figures/ as an image (`figures/losses`, ...).

    Place it after the callbacks that draw the figures, so that it sends the ones of this pass.
    """

    def __init__(self, logger: TensorBoardLogger, figures: Path):
        self.logger = logger
        self.figures = figures

    def on_validation_end(self, trainer, metrics):
        for path in sorted(self.figures.glob("*.png")):
            with Image.open(path) as image:
                self.logger.log_image(f"figures/{path.stem}", np.asarray(image.convert("RGB")), trainer.step)
