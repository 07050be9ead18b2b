"""Data-parallel training (distributed.py): two CPU processes train the run that one process would,
only rank 0 writes, and checkpoints resume under either process count. A stop request or a non-finite
loss that only one process sees stops, or skips the step, in both, and neither is left waiting.

Tolerances: the autoencoder draws no noise, so two processes must give one process's numbers up to
the order of floating-point sums (relative 1e-5). The VAE's processes draw their own noise (rank
r > 0 from (seed, r, step)), so its numbers differ from one process's by the noise of the
reparameterisation alone: relative 1e-3 allows for that (the differences seen are 1e-5 to 5e-5).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vaelab.config import Config, TrainingConfig
from vaelab.errors import UsageError
from vaelab.run_dir import load_checkpoint, read_metrics
from vaelab.training.distributed import data_parallel, ends_together
from vaelab.training.lock import run_lock
from vaelab.training.nonfinite import Diverged
from vaelab.training.run import train
from vaelab.training.stop import Interrupted

from factories import tiny_config, tiny_flags


def tiny(steps: int, kind: str = "ae", recon: str = "sse", **more) -> Config:
    """digits at 16 x 16, width 8, latent 4, a global batch of 32 (540 training images: 16 steps an epoch); a
    constant learning rate, as runs are extended on resume (the cosine schedule follows the planned length)."""
    return tiny_config(steps, model__kind=kind, objective__recon=recon, training__threads=1, training__log_every=5,
                       training__grad_every=5, training__lr_schedule="constant", **more)


def losses(run: Path) -> list[tuple[int, str, float]]:
    """(step, split, loss) of every train record and of the last validation (a resumed run has one more)."""
    records = [r for r in read_metrics(run / "metrics.jsonl") if "loss" in r]  # not the gradient records
    last_val = [r for r in records if r["split"] == "val"][-1]
    return [(r["step"], r["split"], r["loss"]) for r in records if r["split"] == "train" or r is last_val]


def assert_same_losses(expected: Path, seen: Path, rel: float) -> None:
    a, b = losses(expected), losses(seen)
    assert [(step, split) for step, split, _ in b] == [(step, split) for step, split, _ in a]
    assert [loss for *_, loss in b] == pytest.approx([loss for *_, loss in a], rel=rel)


def files(run: Path) -> list[str]:
    return sorted(str(path.relative_to(run)) for path in run.rglob("*"))


@pytest.fixture(scope="module")
def autoencoder(tmp_path_factory) -> Path:
    """One process for 10 and for 20 steps; `torchrun --nproc-per-node 2 -m vaelab train` for 10 steps."""
    root = tmp_path_factory.mktemp("autoencoder")
    train(tiny(10), root / "one-10")
    train(tiny(20), root / "one-20")
    tiny(10).save(root / "tiny.yaml")
    torchrun = Path(sys.executable).parent / "torchrun"
    done = subprocess.run([str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "vaelab", "train",
                           "--config", str(root / "tiny.yaml"), "--out", str(root / "two-10")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("step 10, val recon") == 1  # the result, printed by rank 0 alone
    return root


def test_two_processes_train_what_one_does_and_only_rank_zero_writes(autoencoder):
    assert_same_losses(autoencoder / "one-10", autoencoder / "two-10", rel=1e-5)
    assert files(autoencoder / "two-10") == files(autoencoder / "one-10")
    records = lambda run: [(r["step"], r["split"], "loss" in r) for r in read_metrics(autoencoder / run / "metrics.jsonl")]
    assert records("two-10") == records("one-10")  # each once, the gradient records too
    assert load_checkpoint(autoencoder / "two-10" / "checkpoints" / "last.pt")["step"] == 10


def test_a_two_process_checkpoint_resumes_in_one_process(autoencoder):
    assert train(tiny(20), autoencoder / "two-10", resume=True).steps == 20
    assert_same_losses(autoencoder / "one-20", autoencoder / "two-10", rel=1e-5)


def two_processes(script: Path, *args: str | Path, timeout: float = 120) -> list[dict]:
    """Run `script args` as ranks 0 and 1 of a group on this machine; what each printed last, as JSON.

    Both must exit 0. A process still running after `timeout` seconds (waiting in a collective that
    the other never makes) is killed and fails the test. Output goes to files: a full pipe cannot
    stall a process while the other waits for it.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2",
           "OMP_NUM_THREADS": "1"}
    logs = [(script.with_name(f"{script.stem}-{rank}.out"), script.with_name(f"{script.stem}-{rank}.err"))
            for rank in (0, 1)]
    with contextlib.ExitStack() as files:
        workers = [subprocess.Popen([sys.executable, str(script), *map(str, args)],
                                    env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)},
                                    stdout=files.enter_context(out.open("w")),
                                    stderr=files.enter_context(err.open("w")))
                   for rank, (out, err) in enumerate(logs)]
        try:
            for worker in workers:
                worker.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for worker in workers:
                worker.kill()
                worker.wait()
            pytest.fail(f"the processes hung: {[err.read_text()[-3000:] for _, err in logs]}")
    assert [worker.returncode for worker in workers] == [0, 0], [err.read_text()[-3000:] for _, err in logs]
    return [json.loads(out.read_text().splitlines()[-1]) for out, _ in logs]


WORKER = textwrap.dedent("""
    # One of two processes (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set): resume a run, then check
    # the averaging and the rank-0-only claim on their own.
    import json, sys
    from pathlib import Path

    import torch
    import torch.distributed as dist

    from vaelab.config import Config, TrainingConfig
    from vaelab.errors import UsageError
    from vaelab.objectives.geco import GECO
    from vaelab.training.distributed import data_parallel
    from vaelab.training.lock import run_lock
    from vaelab.training.run import train

    run, locked = Path(sys.argv[1]), Path(sys.argv[2])
    dist.init_process_group("gloo")  # set up here: train() uses this group and leaves it alone
    train(Config.load(run / "config.yaml").with_updates({"training.steps": 20}), run, resume=True)
    with data_parallel(TrainingConfig(batch_size=32, device="cpu")) as parallel:
        r = parallel.rank
        objective = GECO(target=0.01, units="mse", alpha=0.5, lr=0.1, lambda_init=1.0, lambda_min=1e-3, lambda_max=1e3)
        objective.sigma = torch.nn.Parameter(torch.zeros(2))  # a parameter, as a learned sigma is
        objective.sigma.grad = torch.full((2,), r + 1.0)
        objective.update(torch.tensor(0.01 * (r + 1)))  # each process sees its own error
        parallel.sync_objective(objective)
        mean = parallel.weighted_mean({"loss": 10.0 * (r + 1) ** 2}, count=r + 1)  # r + 1 examples of 10 (r + 1)
        try:
            with parallel.on_rank_zero(run_lock(locked)):
                refused = None
        except UsageError as error:
            refused = str(error)
    dist.barrier()  # both done before either tears down (distributed.ends_together)
    dist.destroy_process_group()
    print(json.dumps({"grad": objective.sigma.grad.tolist(), "lambda": float(objective.multiplier),
                      "mean": mean["loss"], "refused": refused}))
""")


@pytest.fixture(scope="module")
def vae(tmp_path_factory) -> tuple[Path, list[dict]]:
    """A learned-sigma VAE: one process for 20 steps, and one for 10 resumed by two processes (WORKER) to 20.

    Two processes draw each its own stream of posterior noise (DataParallel.noise), not the one process's, so
    the runs agree only as far as the noise's share of the loss allows: sigma starts at 1 (--sigma 1), where the
    reconstruction term, and the noise in it, weigh little against the KL; from the data's RMS error (about
    0.4, the default start) the two runs part by 1% in ten steps."""
    root = tmp_path_factory.mktemp("vae")
    train(tiny(20, kind="vae", recon="sigma-learned", objective__sigma=1.0), root / "one")
    train(tiny(10, kind="vae", recon="sigma-learned", objective__sigma=1.0), root / "two")
    (root / "worker.py").write_text(WORKER)
    with run_lock(root / "locked"):  # held here, so rank 0 cannot take it
        return root, two_processes(root / "worker.py", root / "two", root / "locked")


def test_a_one_process_checkpoint_resumes_in_two_processes(vae):
    root, _ = vae
    assert_same_losses(root / "one", root / "two", rel=1e-3)
    one, two = (load_checkpoint(root / run / "checkpoints" / "last.pt") for run in ("one", "two"))
    assert two["step"] == 20
    sigma = "likelihood.raw_log_sigma"
    assert two["objective"][sigma].item() == pytest.approx(one["objective"][sigma].item(), rel=1e-3)


def test_processes_average_gradients_and_metrics_and_share_rank_zeros_state_and_refusals(vae):
    _, seen = vae
    for process in seen:
        assert process["grad"] == [1.5, 1.5]  # (1 + 2) / 2
        # GECO's error is all-reduced: both take the step of the mean error 0.015 = 1.5 kappa, not rank 0's
        assert process["lambda"] == pytest.approx(1.5**0.1)
        assert process["mean"] == pytest.approx((10 + 2 * 20) / 3)
        assert "is being trained by" in process["refused"]


def test_the_processes_wait_for_each_other_before_tearing_down_only_after_an_agreed_ending():
    assert ends_together(None)  # finished: rank 0 may still be writing the report
    assert ends_together(Interrupted(signal.SIGTERM, between_steps=True))  # rank 0 saves last.pt
    assert ends_together(Diverged("training stopped at step 7"))
    assert not ends_together(Interrupted(signal.SIGINT, between_steps=False))  # a second signal: at once
    assert not ends_together(RuntimeError("one process's own failure"))
    assert not ends_together(UsageError("possibly one process's"))


def test_the_global_batch_must_divide_over_the_processes(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(UsageError, match="multiple of 2"), data_parallel(TrainingConfig(batch_size=33)):
        pass


FAULTS = textwrap.dedent("""
    # One of two processes (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set) training a run in which rank 1
    # alone meets a fault at step AT (counted from 1): "stop", a SIGTERM to itself at the end of the step;
    # "poison", a nan loss whose gradients are finite. Prints a checksum of the parameters after each step
    # and how the run ended.
    import dataclasses, hashlib, json, math, os, signal, sys
    from pathlib import Path

    from vaelab.config import Config
    from vaelab.objectives import Objective
    from vaelab.training.run import train
    from vaelab.training.stop import Interrupted
    from vaelab.training.trainer import Trainer

    config, out, fault, at = Config.load(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    faulty = int(os.environ["RANK"]) == 1
    checksums = {}
    objective_forward, training_step = Objective.forward, Trainer.training_step

    def forward(self, x, output, step, **options):
        terms = objective_forward(self, x, output, step, **options)
        if fault == "poison" and faulty and self.training and step + 1 == at:
            # the nan is detached: backward sees the loss as it was, and DDP averages finite gradients
            terms = dataclasses.replace(terms, loss=terms.loss + math.nan * terms.loss.detach())
        return terms

    def checked_step(self, x):
        terms = training_step(self, x)
        parameters = b"".join(p.detach().numpy().tobytes() for p in self.model.parameters())
        checksums[self.step + 1] = hashlib.sha256(parameters).hexdigest()
        if fault == "stop" and faulty and self.step + 1 == at:
            os.kill(os.getpid(), signal.SIGTERM)
        return terms

    Objective.forward, Trainer.training_step = forward, checked_step
    try:
        train(config, out)
        ended = "finished"
    except Interrupted as interrupt:
        ended = f"{signal.Signals(interrupt.signum).name}, between steps: {interrupt.between_steps}"
    print(json.dumps({"checksums": checksums, "ended": ended}))
""")


def fault_in_rank_one(root: Path, config: Config, fault: str, at: int) -> list[dict]:
    """Train `config` into root / "run" in two processes, rank 1 meeting `fault` at step `at` (FAULTS)."""
    config.save(root / "config.yaml")
    (root / "faults.py").write_text(FAULTS)
    return two_processes(root / "faults.py", root / "config.yaml", root / "run", fault, at)


def test_a_stop_request_in_one_process_stops_all_of_them_at_the_same_step(tmp_path):
    seen = fault_in_rank_one(tmp_path, tiny(10), "stop", at=6)
    for process in seen:
        assert process["ended"] == "SIGTERM, between steps: True"  # rank 0 stops on rank 1's request
        assert list(process["checksums"]) == [str(step) for step in range(1, 7)]  # step 7 began nowhere
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 6  # saved by rank 0


def test_a_non_finite_loss_in_one_process_skips_the_step_in_all_of_them(tmp_path):
    # step 3's window holds only the skipped step; no gradient records among the train records
    config = tiny(6).with_updates({"training.log_every": 1, "training.grad_every": 0})
    rank_zero, rank_one = (process["checksums"] for process in fault_in_rank_one(tmp_path, config, "poison", at=3))
    assert rank_zero == rank_one  # the same parameters after every step
    assert rank_zero["3"] == rank_zero["2"], "the skipped step updated the parameters"
    assert rank_zero["2"] != rank_zero["1"] and rank_zero["4"] != rank_zero["3"], "the other steps update"
    train_records = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["split"] == "train"]
    assert [r["skipped_steps"] for r in train_records] == [0, 0, 1, 1, 1, 1]
    assert [math.isnan(r["loss"]) for r in train_records] == [False, False, True, False, False, False]


def _interactive_signals() -> None:
    """SIGINT as a process started from a terminal has it (a background job starts with it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def torchrun_training(root: Path) -> Iterator[tuple[subprocess.Popen, Path]]:
    """`torchrun --nproc-per-node 2 -m vaelab train` on a long run that saves last.pt every 8 steps, in a session of
    its own (as a terminal's foreground job); yielded once last.pt is there, with the folder of each rank's stderr
    (RANK/stderr.log, from --redirects). Killed at the end if still alive."""
    out, logs = root / "run", root / "logs"
    torchrun = Path(sys.executable).parent / "torchrun"
    command = [str(torchrun), "--standalone", "--nproc-per-node", "2", "--log-dir", str(logs), "--redirects", "3",
               "-m", "vaelab", "train", *tiny_flags(), "--batch-size", "32", "--steps", "5000", "--val-every", "8",
               "--set", "training.progress=false", "--set", "training.figures=false", "--set", "training.grad_every=0",
               "--set", "training.threads=1", "--out", str(out)]
    launcher = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=_interactive_signals)  # noqa: PLW1509 - resets one handler
    try:
        deadline = time.monotonic() + 300
        while not (out / "checkpoints" / "last.pt").exists():
            assert launcher.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        yield launcher, next(logs.glob("*/attempt_0"))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(launcher.pid, signal.SIGKILL)
        launcher.wait()


def rank_pid(launcher: subprocess.Popen, rank: int) -> int:
    """The process of `rank` among the launcher's children (its environment says RANK=rank)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            environment = (stat.parent / "environ").read_bytes().split(b"\0") if parent == launcher.pid else []
        except OSError:  # gone meanwhile
            continue
        if parent == launcher.pid and f"RANK={rank}".encode() in environment:
            return int(stat.parent.name)
    raise AssertionError(f"no process of rank {rank}")


def test_a_process_that_dies_is_one_line_in_the_other_naming_the_last_checkpoint(tmp_path):
    with torchrun_training(tmp_path) as (launcher, logs):
        os.kill(rank_pid(launcher, 1), signal.SIGKILL)
        assert launcher.wait(timeout=120) == 1
    told = (logs / "0" / "stderr.log").read_text()  # torchrun's agent sent it SIGTERM a tenth of a second after
    errors = [line for line in told.splitlines() if line.startswith("vaelab: error: ")]
    assert len(errors) == 1 and "Traceback" not in told, told[-3000:]
    assert re.fullmatch(
        rf"vaelab: error: another process of this torchrun run stopped \(killed, or out of memory\?\), so this one "
        rf"cannot go on: the last good checkpoint is {tmp_path}/run/checkpoints/last.pt \(step \d+\); see why it "
        rf"stopped, then continue with: torchrun \.\.\. -m vaelab train --out {tmp_path}/run --resume", errors[0])


def test_ctrl_c_is_told_once_by_rank_zero(tmp_path):
    with torchrun_training(tmp_path) as (launcher, logs):
        os.killpg(launcher.pid, signal.SIGINT)  # Ctrl-C reaches every process of the terminal's foreground group
        launcher.wait(timeout=120)
    told = [(logs / rank / "stderr.log").read_text() for rank in ("0", "1")]
    assert told[0].count("checkpoint saved; continue with: vaelab train --out") == 1, told[0][-3000:]
    assert "interrupted" not in told[1] and "Traceback" not in told[0] + told[1], told[1][-3000:]
