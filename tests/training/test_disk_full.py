"""A full disk: a resumed run that cannot write its next checkpoint, and a new run that cannot write anything,
each end in one line (exit code 1) that names the disk and the last good checkpoint; the checkpoints already
there survive byte for byte, nothing half-written is left, and once there is space the run resumes to its end.

The disk is a 6 MB tmpfs where this process may mount one (as root); elsewhere the same scenarios run with
the writes failing as on a full disk (ENOSPC, at the fsync of each atomic write, where a file system that
allocates late reports it)."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import vaelab.files
from vaelab.cli import main
from vaelab.files import mount_point
from vaelab.run_dir import load_checkpoint, read_metrics

from factories import tiny_flags

FLAGS = [*tiny_flags(), "--set", "training.progress=false", "--set", "training.figures=false",
         "--set", "training.log_every=4", "--set", "training.grad_every=0"]


class SmallDisk:
    """A folder on a small file system that can be filled: a real tmpfs, or writes made to fail."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch):
        self.root = root
        self.monkeypatch = monkeypatch
        try:
            self.mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(root)],
                                          capture_output=True, check=False).returncode == 0
        except OSError:  # no mount command
            self.mounted = False
        self.filler = root / "filler"

    def fill(self, *, leave: int, failing: str = "") -> None:
        """Leave about `leave` bytes free (a real disk), or make the atomic writes of files whose name holds
        `failing` fail as a full disk does (writes made to fail)."""
        if self.mounted:
            with self.filler.open("wb", buffering=0) as handle:
                try:
                    while handle.write(b"\0" * 65536):
                        pass
                except OSError as error:
                    assert error.errno == errno.ENOSPC
            os.truncate(self.filler, self.filler.stat().st_size - leave)
            return
        real_fsync = os.fsync

        def fsync(descriptor: int) -> None:
            name = os.readlink(f"/proc/self/fd/{descriptor}")
            if name.startswith(str(self.root)) and failing in os.path.basename(name):
                raise OSError(errno.ENOSPC, "No space left on device")
            real_fsync(descriptor)

        self.monkeypatch.setattr(vaelab.files.os, "fsync", fsync)

    def free(self) -> None:
        if self.mounted:
            self.filler.unlink()
        else:
            self.monkeypatch.undo()


@pytest.fixture
def disk(tmp_path, monkeypatch) -> Iterator[SmallDisk]:
    (tmp_path / "disk").mkdir()
    small = SmallDisk(tmp_path / "disk", monkeypatch)
    yield small
    if small.mounted:
        subprocess.run(["umount", "-l", str(small.root)], check=False)


def one_line_error(capsys, *args: object) -> str:
    assert main([str(a) for a in args]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("vaelab: error: ")]
    assert len(errors) == 1 and not any("Traceback" in line for line in err), err
    return errors[0]


def files(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file() and p.name != ".lock"}


def test_a_full_disk_ends_the_run_in_one_line_and_keeps_the_last_good_checkpoint(disk, capsys):
    run = disk.root / "run"
    assert main(["train", "--out", str(run), *FLAGS, "--steps", "8"]) == 0  # checkpoints at step 8
    checkpoints = files(run / "checkpoints")
    assert set(checkpoints) == {"best.pt", "last.pt"}

    # resumed with room for its small files but not for a checkpoint: stopped at its first checkpoint, step 12
    disk.fill(leave=256 * 1024, failing=".pt.")
    err = one_line_error(capsys, "train", "--out", run, "--resume", "--steps", "16", "--val-every", "4")
    assert err.startswith(f"vaelab: error: no space left on {mount_point(run)} while writing {run}/checkpoints/"), err
    assert err.endswith(f": the last good checkpoint is {run}/checkpoints/last.pt (step 8); free some space, then "
                        f"continue with: vaelab train --out {run} --resume"), err
    assert files(run / "checkpoints") == checkpoints, "the checkpoints there survive, and no temporary file is left"

    # a new run on the disk, full to the last byte: one line, and nothing of it left behind
    disk.free()
    disk.fill(leave=0)
    err = one_line_error(capsys, "train", "--out", disk.root / "new", *FLAGS, "--steps", "4")
    assert err.startswith(f"vaelab: error: no space left on {mount_point(disk.root)}"), err
    assert err.endswith(": no checkpoint was saved; free some space, then start the run again"), err
    assert not (disk.root / "new").exists()

    disk.free()
    assert main(["train", "--out", str(run), "--resume", "--steps", "12"]) == 0
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 12
    steps = [r["step"] for r in read_metrics(run / "metrics.jsonl") if r["split"] == "train"]
    assert steps == [4, 8, 12], "every step once: the records of the failed resume were cut back"
