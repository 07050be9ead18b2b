"""Executors: run a sweep's jobs in parallel and report each outcome as it arrives.

    LocalExecutor(workers)   worker processes on this machine (concurrent.futures, spawn context)
    RayExecutor(workers)     Ray tasks: on the cluster RAY_ADDRESS names, else a Ray instance started here

`run(jobs, on_outcome)` calls `on_outcome` once per job, in the order they finish, and returns all
outcomes. A job is a picklable callable with `name` and `threads` that returns a `JobOutcome`
(jobs.py); `workers` is how many run at the same time, and each job's `threads` its torch thread
budget (Ray reserves as many CPUs for it), so that parallel runs do not oversubscribe the cores.

Ctrl-C: the local workers ignore SIGINT; the parent forwards it to them as SIGTERM, which the
trainer turns into "save a checkpoint and stop" (Ray: `ray.cancel`, which raises KeyboardInterrupt in
the task), waits for them, and re-raises KeyboardInterrupt. On Linux, workers also receive SIGTERM
when the parent dies (e.g. SIGKILL), so no orphan keeps training.
"""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from vaelab.defaults import EXECUTORS
from vaelab.errors import UsageError
from vaelab.machine import available_cores, die_with_parent
from vaelab.sweep.jobs import FAILED, INTERRUPTED, JobOutcome

RAY_STOP_SECONDS = 120  # how long Ctrl-C waits for cancelled Ray tasks to save their checkpoints


class Job(Protocol):
    name: str
    threads: int

    def __call__(self) -> JobOutcome: ...


OnOutcome = Callable[[JobOutcome], None]


class Executor(Protocol):
    workers: int

    def run(self, jobs: Sequence[Job], on_outcome: OnOutcome) -> list[JobOutcome]: ...


def thread_budget(workers: int, cores: int | None = None) -> int:
    """Torch threads per run when `workers` runs share `cores`: max(1, cores // workers)."""
    return max(1, (cores or available_cores()) // workers)


def make_executor(kind: str, workers: int) -> Executor:
    if workers < 1:
        raise UsageError(f"--workers {workers} must be at least 1: e.g. --workers 2")
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(workers)
    raise UsageError(f"--executor {kind!r} is unknown: use {' or '.join(EXECUTORS)}")


class LocalExecutor:
    """`workers` processes on this machine (spawned: a fresh interpreter, no forked torch state)."""

    def __init__(self, workers: int):
        self.workers = workers

    def run(self, jobs: Sequence[Job], on_outcome: OnOutcome) -> list[JobOutcome]:
        if not jobs:
            return []
        before = set(multiprocessing.active_children())
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(jobs)),
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(os.getpid(),))
        outcomes = []
        try:
            futures = {pool.submit(_run_in_worker, job): job for job in jobs}
            workers = set(multiprocessing.active_children()) - before
            try:
                for future in as_completed(futures):
                    outcome = _local_outcome(future, futures[future])
                    outcomes.append(outcome)
                    on_outcome(outcome)
            except BaseException:  # Ctrl-C, or an error in on_outcome: stop the runs, keeping their checkpoints
                pool.shutdown(wait=False, cancel_futures=True)
                for process in workers:
                    if process.is_alive():
                        process.terminate()  # SIGTERM: a training worker saves last.pt, an idle one exits
                raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return outcomes


class RayExecutor:
    """Ray tasks, `workers` at a time, each reserving `job.threads` CPUs. Connects to the cluster that
    RAY_ADDRESS names (Ray's own variable), or to a Ray already initialised in this process, or starts
    a local instance (shut down again at the end). The run directories must be on a filesystem that
    every node sees."""

    def __init__(self, workers: int):
        if importlib.util.find_spec("ray") is None:
            raise UsageError("--executor ray needs Ray: pip install 'vaelab[ray]' (or use --executor local)")
        self.workers = workers

    def run(self, jobs: Sequence[Job], on_outcome: OnOutcome) -> list[JobOutcome]:
        if not jobs:
            return []
        import ray

        started_here = not ray.is_initialized()
        if started_here:
            ray.init(include_dashboard=False, logging_level=logging.WARNING)
        task = ray.remote(_run_in_ray)
        waiting = list(jobs)
        running = {}
        outcomes = []
        try:
            while waiting or running:
                while waiting and len(running) < self.workers:
                    job = waiting.pop(0)
                    running[task.options(num_cpus=job.threads, name=job.name).remote(job)] = job
                done, _ = ray.wait(list(running), num_returns=1)
                job = running.pop(done[0])
                outcome = _ray_outcome(ray, done[0], job)
                outcomes.append(outcome)
                on_outcome(outcome)
        except BaseException:
            for ref in running:
                ray.cancel(ref)  # KeyboardInterrupt in the task: the trainer saves last.pt
            ray.wait(list(running), num_returns=len(running), timeout=RAY_STOP_SECONDS)
            raise
        finally:
            if started_here:
                ray.shutdown()
        return outcomes


# ---------------------------------------------------------------------------------- inside the workers

_parent = 0  # the sweep's process id
_running = False  # a local worker is running a job (SIGTERM then means: save and stop)
_stopping = False  # a local worker was told to stop: the jobs still queued to it are not started


def _init_worker(parent: int) -> None:
    """Ctrl-C is the parent's to handle (it forwards it as SIGTERM); warnings only; die with the parent."""
    global _parent
    _parent = parent
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    logging.basicConfig(level=logging.WARNING, format="vaelab: %(message)s", stream=sys.stderr)
    die_with_parent(parent, signal.SIGTERM)  # SIGTERM: a training worker saves last.pt on its way out


def _on_sigterm(signum, frame) -> None:
    """Outside training (which installs its own handler that saves a checkpoint): stop the job, or
    leave quietly when idle."""
    if _running:
        raise KeyboardInterrupt
    raise SystemExit(0)


def _run_in_worker(job: Job) -> JobOutcome:
    global _running, _stopping
    if _stopping:
        return JobOutcome(job.name, INTERRUPTED)
    _running = True
    try:
        return job()
    except KeyboardInterrupt:
        if os.getppid() != _parent:
            # The sweep was killed: the run's checkpoint is saved and no one will read an outcome (or
            # close the job queue, which every worker holds open, so waiting for the next job would hang).
            os._exit(0)
        _stopping = True
        return JobOutcome(job.name, INTERRUPTED)
    finally:
        _running = False


def _run_in_ray(job: Job) -> JobOutcome:
    """Ray reuses its worker processes, so nothing here outlives the job."""
    try:
        return job()
    except KeyboardInterrupt:
        return JobOutcome(job.name, INTERRUPTED)


def _local_outcome(future: Future, job: Job) -> JobOutcome:
    try:
        return future.result()
    except CancelledError:
        return JobOutcome(job.name, INTERRUPTED)
    except BrokenProcessPool:
        return JobOutcome(job.name, FAILED, "a worker process died (killed, or out of memory?): re-run to resume")
    except Exception as error:  # noqa: BLE001 - e.g. a job that cannot be sent to a worker: this run fails
        first_line = (str(error).splitlines() or [""])[0]
        return JobOutcome(job.name, FAILED, f"{type(error).__name__}: {first_line}")


def _ray_outcome(ray, ref, job: Job) -> JobOutcome:
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as error:
        first_line = (str(error).splitlines() or [type(error).__name__])[0]
        return JobOutcome(job.name, FAILED, f"{type(error).__name__}: {first_line}")
