"""Data-parallel training: the processes that torchrun starts train one run together (torch.distributed, DDP).

    torchrun --nproc-per-node 2 -m vaelab train --data digits --batch-size 128 --out runs/d2

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in every process; with
WORLD_SIZE > 1, `data_parallel` joins them in a process group (NCCL on CUDA, one GPU per process
chosen by LOCAL_RANK; gloo on the CPU). Without torchrun (no WORLD_SIZE, or 1) it yields None and
nothing distributed is set up: the trainer runs exactly as it always has. Each of the W processes then:

- reads its share of every batch. `training.batch_size` is the *global* batch B: every process cuts
  the same B indices (the order is a pure function of (seed, epoch), batches.py) and takes its
  consecutive B / W of them, so together the processes see exactly the batches of a one-process run;
- trains the model wrapped in DistributedDataParallel, which averages the gradients over the
  processes. The losses are means over the batch (DESIGN.md), so the average of the W gradients of
  B / W examples is the gradient of the global batch. The objective's parameters (a learned sigma)
  are averaged the same way after each backward pass, and every process takes rank 0's objective
  buffers (GECO's lambda and moving average), as DDP does for the model's buffers;
- draws its own noise: rank 0 uses the trainer's generator (seeded with training.seed, the stream
  of a one-process run, saved in checkpoints); rank r > 0 re-seeds it from (seed, r, step) before every
  step, so its noise needs no checkpoint and a resumed run continues exactly;
- averages the train and validation metrics over the processes, weighted by examples, so that
  metrics.jsonl holds the global values. Validation is shared out too (every W-th image);
- agrees with the others, at every step, on what only one process may see: a stop request (a signal
  can reach the processes a step apart; all stop before the same step, rank 0 saves `last.pt`) and a
  non-finite loss or gradient (all skip the step, nonfinite.py). A process that went on alone would wait
  forever in the next collective that the others never make.

Only rank 0 writes files (the lock, config.yaml, metrics.jsonl, checkpoints, figures, the report,
skipped.txt) and logs; the others run no file-writing callback. A checkpoint is the unwrapped
model's state and the global step, so a run resumes under any number of processes.

What is not the same as one process: the noise (each process draws its own), and a statistic of
the batch taken inside the objective (free bits' per-dimension mean KL, capacity's |KL - C|, the
optimal sigma) is taken over each process's B / W examples, as BatchNorm's statistics are under
DDP. GECO's error is the exception: it is all-reduced (geco.py), so lambda follows the global batch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from vaelab.config import TrainingConfig
from vaelab.errors import UsageError
from vaelab.training.device import resolve_device
from vaelab.training.nonfinite import Diverged
from vaelab.training.stop import Interrupted


def world_size() -> int:
    """The number of processes training the run: the caller's process group's, else torchrun's WORLD_SIZE, else 1."""
    return dist.get_world_size() if dist.is_initialized() else int(os.environ.get("WORLD_SIZE", "1"))


def is_rank_zero() -> bool:
    """Whether this process is the one that writes and prints: rank 0 of a torchrun group, or the only process."""
    return int(os.environ.get("RANK", "0")) == 0


@contextlib.contextmanager
def data_parallel(training: TrainingConfig) -> Iterator[DataParallel | None]:
    """This process's place in a data-parallel run for the block, or None when it trains alone.

    The process group is set up from torchrun's environment and torn down after the block; one that
    the caller set up already is used and left alone. On ranks > 0 the "vaelab" logger shows only
    warnings, so the run's story is told once.
    """
    if world_size() == 1:
        yield None
        return
    if training.batch_size % world_size():
        raise UsageError(f"training.batch_size={training.batch_size} is the global batch, shared by {world_size()} "
                         f"processes: use a multiple of {world_size()} (e.g. --batch-size {world_size() * 32})")
    device = _process_device(training.device)
    owned = not dist.is_initialized()
    if owned:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    logger = logging.getLogger("vaelab")
    level = logger.level
    if dist.get_rank() > 0:
        logger.setLevel(logging.WARNING)
    ending: BaseException | None = None
    try:
        yield DataParallel(rank=dist.get_rank(), size=dist.get_world_size(), device=device)
    except BaseException as error:
        ending = error
        raise
    finally:
        logger.setLevel(level)
        if owned:
            if ends_together(ending):
                dist.barrier()  # wait for rank 0's last files (the report, last.pt): see ends_together
            dist.destroy_process_group()


def ends_together(ending: BaseException | None) -> bool:
    """Whether every process of the run leaves the block with `ending` (None: the run finished) at the same step.

    Then the processes tear the group down together, after rank 0 has written its last files: a
    process that tears down its end while a peer is still at work can be aborted by gloo ("terminate
    called without an active exception", SIGABRT), which turns a finished run into a failed one. A
    run that finished, a stop between steps, and a divergence are agreed by all processes (all-reduced
    at every step); any other error may be one process's alone, and waiting for the others could be
    waiting forever.
    """
    return (ending is None or isinstance(ending, Diverged)
            or isinstance(ending, Interrupted) and ending.between_steps)


def lost_a_process(error: BaseException) -> bool:
    """Whether `error` is a collective that failed because another process of the group is gone: gloo's
    "Connection reset by peer" (a RuntimeError from its transport) or NCCL's and the store's `DistError`s."""
    return isinstance(error, dist.DistError) or "gloo/transport" in str(error)


def outlive_the_launcher() -> None:
    """Let this process tell why it stops. When a process of the run dies, torchrun's agent sends SIGTERM to the
    others a tenth of a second later, which would end this one before its last line: from here on SIGTERM is
    ignored (the agent sends SIGKILL after its grace period, should the process hang)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _process_device(name: str) -> torch.device:
    """The device of this process: its own GPU (LOCAL_RANK) on CUDA, else the CPU."""
    device = resolve_device(name)
    if device.type == "mps":
        raise UsageError("torchrun cannot share a run over MPS: use --device cpu (or CUDA GPUs)")
    if device.type != "cuda":
        return device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if local_rank >= torch.cuda.device_count():
        raise UsageError(f"torchrun started more processes on this machine than its {torch.cuda.device_count()} "
                         "GPUs: use --nproc-per-node with at most one process per GPU, or --device cpu")
    device = torch.device("cuda", local_rank)
    torch.cuda.set_device(device)
    return device


class DataParallel:
    """One process of a data-parallel run: its share of the batches, and the averaging that keeps them in step."""

    def __init__(self, *, rank: int, size: int, device: torch.device):
        self.rank = rank
        self.size = size
        self.device = device

    def wrap(self, model: nn.Module) -> DistributedDataParallel:
        """`model` in DDP: rank 0's weights go to every process now; each backward pass averages the gradients."""
        return DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def shard(self, batch: np.ndarray) -> np.ndarray:
        """This process's consecutive B / W indices of the global `batch` of B indices."""
        return np.array_split(batch, self.size)[self.rank]

    def validation_share(self, index: np.ndarray) -> np.ndarray:
        """Every W-th validation index, starting at this rank's; all of them when there are fewer than W."""
        return index[self.rank :: self.size] if len(index) >= self.size else index

    def noise(self, generator: torch.Generator, *, seed: int, step: int) -> torch.Generator:
        """The generator of this step's noise: rank 0's own; on rank r > 0, `generator` seeded from (seed, r, step)."""
        if self.rank == 0:
            return generator
        return generator.manual_seed(int(np.random.SeedSequence([seed, self.rank, step]).generate_state(1)[0]))

    @torch.no_grad()
    def sync_objective(self, objective: nn.Module) -> None:
        """Average the gradients of the objective's parameters over the processes; give all of them rank 0's buffers."""
        grads = [p.grad for p in objective.parameters() if p.grad is not None]
        if grads:
            flat = torch.cat([g.reshape(-1) for g in grads])
            dist.all_reduce(flat)
            flat /= self.size
            for grad, average in zip(grads, flat.split([g.numel() for g in grads])):
                grad.copy_(average.view_as(grad))
        for buffer in objective.buffers():
            dist.broadcast(buffer, src=0)

    def weighted_mean(self, sums: dict[str, float], count: int) -> dict[str, float]:
        """The mean over all processes of quantities that add up to `sums` over `count` examples (or steps) here."""
        values = torch.tensor([*sums.values(), count], dtype=torch.float64, device=self.device)
        dist.all_reduce(values)
        return dict(zip(sums, (values[:-1] / values[-1]).tolist()))

    def any_holds(self, flag: bool) -> bool:
        """Whether `flag` holds in any process (an all-reduce MAX)."""
        value = torch.tensor([int(flag)], dtype=torch.int32, device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def all_hold(self, *flags: bool) -> list[bool]:
        """For each of `flags`, whether it holds in every process (an all-reduce MIN)."""
        values = torch.tensor(flags, dtype=torch.int32, device=self.device)
        dist.all_reduce(values, op=dist.ReduceOp.MIN)
        return [bool(value) for value in values.tolist()]

    def stop_request(self, requested: int | None) -> int | None:
        """The run's stop request, given this process's (stop.py): the highest signal number that any process
        has noted (an all-reduce MAX), None when none has."""
        value = torch.tensor([requested or 0], dtype=torch.int32, device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return int(value.item()) or None

    def from_rank_zero(self, value: Any) -> Any:
        """Rank 0's `value` (picklable), in every process."""
        shared = [value]
        dist.broadcast_object_list(shared, src=0)
        return shared[0]

    @contextlib.contextmanager
    def on_rank_zero(self, context: AbstractContextManager) -> Iterator[None]:
        """Enter `context` (the run lock and its checks) on rank 0 only, the others waiting for it.

        If entering fails on rank 0, every process raises: a `UsageError` with the same line, so no
        process is left waiting for a rank 0 that has gone.
        """
        with contextlib.ExitStack() as stack:
            failure = None
            if self.rank == 0:
                try:
                    stack.enter_context(context)
                except Exception as error:  # noqa: BLE001 - told to the other ranks, then raised as it was
                    failure = error
            usage, message = self.from_rank_zero((isinstance(failure, UsageError), str(failure) if failure else None))
            if failure is not None:
                raise failure
            if message is not None:
                raise UsageError(message) if usage else RuntimeError(f"rank 0 could not start the run: {message}")
            yield
