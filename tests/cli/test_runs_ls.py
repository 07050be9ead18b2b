"""`vaelab runs ls`: a status column (running, finished, interrupted, failed), and a listing that reads the end of
each run's metrics.jsonl only, without torch or matplotlib, so that fifty long runs are listed at once."""

import json
import pathlib
import subprocess
import sys

import pytest

from vaelab.cli import main
from vaelab.files import file_lock
from vaelab.run_dir import RunDir
from vaelab.run_dir.metrics import TAIL_BLOCK

from factories import tiny_config


def write_run(folder: pathlib.Path, status: str | None, steps: int = 2000) -> pathlib.Path:
    """A run's small files by hand: config.yaml, a metrics.jsonl of `steps` steps (a train record every 20, a
    validation every 100, a gradient record every 50) and status.json."""
    folder.mkdir(parents=True)
    tiny_config(steps).save(folder / "config.yaml")
    lines = []
    for step in range(20, steps + 1, 20):
        lines.append({"step": step, "epoch": 0, "split": "train", "loss": 100.0 - step / 100, "recon": 90.0,
                      "kl": 5.0, "beta": 1.0, "elbo": -300.0, "mse": 0.02, "sigma": 0.7071})
        if step % 100 == 0:
            lines.append({**lines[-1], "split": "val", "loss": 99.0 - step / 100})
        if step % 50 == 0:
            lines.append({"step": step, "epoch": 0, "split": "train", **{f"grad_ratio/g{i}": 0.5 for i in range(150)}})
    (folder / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    if status is not None:
        RunDir(folder).save_status(status, step=steps, total_steps=steps)
    return folder


def listed(capsys, root) -> dict[str, list[str]]:
    capsys.readouterr()
    assert main(["runs", "ls", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["run", "config", "steps", "status"]
    return {line.split()[0]: line.split() for line in lines[1:]}


def test_the_status_column_tells_running_finished_interrupted_and_failed_runs_apart(tmp_path, capsys):
    for name, status in (("done", "finished"), ("stopped", "interrupted"), ("crashed", "failed"),
                         ("killed", "running"), ("live", "running"), ("old", None)):
        write_run(tmp_path / name, status)
    with file_lock(tmp_path / "live" / ".lock", wait=False):  # a training process holds the lock
        rows = listed(capsys, tmp_path)
    statuses = {name: row[row.index("2000") + 1] for name, row in rows.items()}
    # "killed" says running but no process holds its lock: it ended without saying how
    assert statuses == {"done": "finished", "stopped": "interrupted", "crashed": "failed", "killed": "failed",
                        "live": "running", "old": "unknown"}
    assert rows["done"][-6:-4] == ["90", "5"]  # the last validation record's recon and KL


def test_ls_reads_a_few_kilobytes_of_each_run_however_long_it_ran(tmp_path, capsys, monkeypatch):
    for i in range(3):
        write_run(tmp_path / f"run{i}", "finished", steps=20_000)  # about 1 MB of records each
    size = (tmp_path / "run0" / "metrics.jsonl").stat().st_size
    assert size > 10 * TAIL_BLOCK
    read = {}
    opened = pathlib.Path.open

    def counting_open(self, *args, **kwargs):
        handle = opened(self, *args, **kwargs)
        if self.name == "metrics.jsonl":
            original = handle.read

            def read_counted(*read_args):
                data = original(*read_args)
                read[self.parent.name] = read.get(self.parent.name, 0) + len(data)
                return data

            handle.read = read_counted
        return handle

    monkeypatch.setattr(pathlib.Path, "open", counting_open)
    rows = listed(capsys, tmp_path)
    assert set(rows) == {"run0", "run1", "run2"} and all("20000" in row for row in rows.values())
    assert read and all(count <= 2 * TAIL_BLOCK for count in read.values()), read


def test_ls_loads_neither_torch_nor_matplotlib(tmp_path):
    write_run(tmp_path / "run", "finished")
    probe = ("import sys; from vaelab.cli import main; main(['runs', 'ls', sys.argv[1]]); "
             "print(sorted({'torch', 'matplotlib'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=True,
                          timeout=120)
    assert done.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize("block", [7, 64, 1 << 16])
def test_the_last_records_are_those_a_full_read_finds(tmp_path, block):
    from vaelab.run_dir.metrics import last_records, read_metrics

    path = write_run(tmp_path / "run", None, steps=400) / "metrics.jsonl"
    with path.open("a") as handle:
        handle.write('{"step": 420, "split": "train", "loss": 1')  # a record cut short by a kill
    everything = read_metrics(path)
    expected = [next(r for r in reversed(everything) if r.get("split") == split and "loss" in r)
                for split in ("train", "val")]
    expected.sort(key=everything.index)
    assert last_records(path, block=block) == expected


def test_training_records_its_status(tmp_path):
    from vaelab.training.run import train

    train(tiny_config(3), tmp_path / "run")
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status == {"status": "finished", "step": 3, "total_steps": 3}
    assert RunDir(tmp_path / "run").status() == "finished"
