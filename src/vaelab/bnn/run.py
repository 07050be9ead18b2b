"""`train_bnn(config, out)`: the whole of `vaelab bnn` as one importable function.

The run directory is the image runs' contract (DESIGN.md):

    RUN/config.yaml            the resolved BNNConfig (kind: bnn), written atomically once the table has loaded
    RUN/metrics.jsonl          train records every training.log_every steps, val records every eval_every steps
                               and at the end, one test record at the end (names: docs/metrics.md, "bnn runs")
    RUN/checkpoints/last.pt    at every validation pass and on SIGINT/SIGTERM; resumes bit for bit
    RUN/checkpoints/best.pt    the lowest validation predictive NLL (defined for every kind of network, unlike
                               the ELBO, which a MAP network has not)
    RUN/figures/*.png          losses, kl_per_layer, snr, reliability (figures.py)
    RUN/report.html            self-contained (report.py)

The test record measures the network as it is at the last step (last.pt), not best.pt.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaelab.bnn.config import BNNConfig
from vaelab.bnn.data import load_table
from vaelab.bnn.metrics import Calibration
from vaelab.bnn.train import BNNTrainer, Callback
from vaelab.errors import UsageError
from vaelab.files import atomic_write_text, remove_partial_writes
from vaelab.run_dir.checkpoint import load_checkpoint, save_checkpoint
from vaelab.run_dir.metrics import MetricsWriter, truncate_metrics
from vaelab.training.lock import LOCK_NAME, run_lock
from vaelab.training.stop import Interrupted

log = logging.getLogger("vaelab")


@dataclass
class BNNResult:
    """What `train_bnn` returns: where the run lives, its last validation record and its test record."""

    run_dir: Path
    val: dict[str, Any]
    test: dict[str, Any]
    steps: int


def check_run_dir(config: BNNConfig, out: Path, resume: bool) -> None:
    """Never overwrite another run; resume only the run that is there."""
    saved = out / "config.yaml"
    if resume:
        if not saved.exists():
            raise UsageError(f"{out} holds no run to resume (no config.yaml): start it without --resume")
        if BNNConfig.load(saved).run_identity() != config.run_identity():
            raise UsageError(f"the config differs from {saved}: resume with the saved config (only --epochs, "
                             "--steps and display options may change)")
    elif any(path.name != LOCK_NAME for path in out.iterdir()):
        raise UsageError(f"{out} already holds files: pass --resume to continue that run, or choose a new --out")


class RunFiles(Callback):
    """metrics.jsonl, the checkpoints and the progress lines of a run directory."""

    def __init__(self, out: Path, writer: MetricsWriter, progress: bool):
        self.out, self.writer, self.progress = out, writer, progress
        self.last_val: dict[str, Any] = {}

    def on_train_record(self, trainer, record):
        self.writer.write(record)

    def on_validation_end(self, trainer: BNNTrainer, record: dict[str, Any], calibration: Calibration) -> None:
        self.writer.write(record)
        self.last_val = record
        if record["predictive_nll"] < trainer.best_score:
            trainer.best_score = record["predictive_nll"]
            save_checkpoint(trainer.state_dict(), self.out / "checkpoints" / "best.pt")
        save_checkpoint(trainer.state_dict(), self.out / "checkpoints" / "last.pt")
        if self.progress:
            quality = "rmse" if "rmse" in record else "accuracy"
            log.info("step %d/%d: val predictive NLL %.4g, %s %.4g, ECE %.3g", trainer.step, trainer.total_steps,
                     record["predictive_nll"], quality, record[quality], record["ece"])

    def on_interrupt(self, trainer: BNNTrainer) -> None:
        save_checkpoint(trainer.state_dict(), self.out / "checkpoints" / "last.pt")


def drop_test_records(path: Path) -> None:
    """Remove the test record a finished run ended with: a resumed run measures its test split again at its new
    end. Rewritten through a temporary file, so the file is whole at every moment."""
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if json.loads(line).get("split") != "test"]
    if len(kept) != len(lines):
        atomic_write_text(path, "".join(kept))


def train_bnn(config: BNNConfig, out: str | Path, *, resume: bool = False,
              callbacks: list[Callback] = ()) -> BNNResult:
    """Train one table network into `out` (resuming what is there with `resume`) and return its final records."""
    config.validate()
    out = Path(out)
    with run_lock(out):
        check_run_dir(config, out, resume)
        return _train(config, out, resume, list(callbacks))


def _train(config: BNNConfig, out: Path, resume: bool, callbacks: list[Callback]) -> BNNResult:
    import torch

    from vaelab.bnn.figures import write_figures
    from vaelab.bnn.report import refresh_bnn_report

    if config.training.threads:
        torch.set_num_threads(config.training.threads)
    data = load_table(config.data)
    checkpoints = out / "checkpoints"
    last = checkpoints / "last.pt"
    resuming = resume and last.exists()
    config.save(out / "config.yaml")  # only once the table loaded: a bad table leaves nothing behind
    if not resuming:
        (out / "metrics.jsonl").unlink(missing_ok=True)
        shutil.rmtree(checkpoints, ignore_errors=True)
    else:
        remove_partial_writes(checkpoints)
        truncate_metrics(out / "metrics.jsonl", load_checkpoint(last)["step"])
        drop_test_records(out / "metrics.jsonl")
    writer = MetricsWriter(out / "metrics.jsonl")
    files = RunFiles(out, writer, config.training.progress)
    trainer = BNNTrainer(config, data, callbacks=[files, *callbacks])
    if resuming:
        trainer.load_state_dict(load_checkpoint(last))
        log.info("resuming %s at step %d of %d", out, trainer.step, trainer.total_steps)
    log.info("%s: %d train / %d val / %d test rows, %d features, %d steps", config.describe(), trainer.n,
             data.size("val"), data.size("test"), len(data.features), trainer.total_steps)
    try:
        if trainer.step < trainer.total_steps:
            trainer.fit()
        val = files.last_val or trainer.evaluate("val")[0]
        test, calibration = trainer.evaluate("test")
        writer.write(test)
    except KeyboardInterrupt as interrupt:
        if isinstance(interrupt, Interrupted) and not interrupt.between_steps:
            log.warning("stopped at once after step %d, which is not saved: continue from the last checkpoint with: "
                        "vaelab bnn --out %s --resume", trainer.step, out)
        else:
            log.warning("interrupted at step %d: checkpoint saved; continue with: vaelab bnn --out %s --resume",
                        trainer.step, out)
        raise
    finally:
        writer.close()
    if config.training.figures:
        write_figures(out, trainer, calibration)
    refresh_bnn_report(out)
    return BNNResult(run_dir=out, val=val, test=test, steps=trainer.step)
