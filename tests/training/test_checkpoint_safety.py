"""Checkpoints are data, never code: a pickle payload is refused before it can run, a damaged file is
one clear line, and every `torch.load` in vaelab is a weights-only load."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
import torch

from tests.training.test_resume import small_config
from vaelab.cli import main
from vaelab.errors import UsageError
from vaelab.run_dir import load_checkpoint
from vaelab.training.run import train

SOURCE = Path(__file__).resolve().parents[2] / "src" / "vaelab"


class ShellPayload:
    """Unpickling this calls os.system(command)."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class PythonPayload:
    """Unpickling this calls exec(code)."""

    def __init__(self, code: str):
        self.code = code

    def __reduce__(self):
        return exec, (self.code,)


def poisoned_checkpoint(path: Path, marker: Path, kind: str) -> None:
    """A checkpoint that looks like vaelab's but whose loading would create `marker`."""
    if kind == "hand-made pickle":  # protocol 0: GLOBAL 'os system', MARK, STRING, TUPLE, REDUCE, STOP
        path.write_bytes(b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
        return
    payload = ShellPayload(f"touch {marker}") if kind == "os.system" else PythonPayload(f"open({str(marker)!r}, 'w')")
    torch.save({"model": {"weight": torch.zeros(3)}, "step": 7, "noise": payload}, path)


@pytest.mark.parametrize("kind,reference", [("os.system", r"(os|posix)\.system"), ("exec", r"(builtins\.)?exec"),
                                            ("hand-made pickle", r"os\.system")])
def test_a_checkpoint_with_a_pickle_payload_is_refused_and_the_payload_never_runs(tmp_path, kind, reference):
    path, marker = tmp_path / "last.pt", tmp_path / "payload-ran"
    poisoned_checkpoint(path, marker, kind)
    with pytest.raises(UsageError, match=rf"is refused: it holds a reference to {reference}, which loading would"):
        load_checkpoint(path)
    assert not marker.exists()


def test_the_payload_is_live_under_an_unsafe_load(tmp_path):
    """The control: the same kind of file does run its payload when loaded without weights_only."""
    path, marker = tmp_path / "last.pt", tmp_path / "payload-ran"
    poisoned_checkpoint(path, marker, "exec")
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_resuming_from_a_poisoned_checkpoint_is_exit_code_2(tmp_path, capsys):
    run, marker = tmp_path / "run", tmp_path / "payload-ran"
    train(small_config(2), run)
    poisoned_checkpoint(run / "checkpoints" / "last.pt", marker, "os.system")
    assert main(["train", "--out", str(run), "--resume", "--steps", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is refused" in err and "weights_only" not in err, err
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["empty", "junk", "cut at 10%", "cut at 50%", "cut at 99%"])
def test_a_damaged_checkpoint_is_one_clear_error(tmp_path, damage):
    good = tmp_path / "good.pt"
    torch.save({"model": {"weight": torch.arange(1000.0)}, "step": 3}, good)
    data = good.read_bytes()
    damaged = {"empty": b"", "junk": b"this is not a checkpoint"}.get(damage)
    if damaged is None:
        damaged = data[: int(len(data) * float(damage.split()[-1].rstrip("%")) / 100)]
    path = tmp_path / "last.pt"
    path.write_bytes(damaged)
    with pytest.raises(UsageError, match=r"last\.pt (cannot be read|is refused)") as error:
        load_checkpoint(path)
    assert "\n" not in str(error.value) and "weights_only" not in str(error.value)


def test_every_torch_load_in_vaelab_is_weights_only_and_nothing_unpickles():
    loads, unpickles = [], []
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.Call):
                continue
            where, function = f"{path.relative_to(SOURCE)}:{node.lineno}", ast.unparse(node.func)
            if function in ("torch.load", "torch.serialization.load"):
                safe = any(k.arg == "weights_only" and ast.unparse(k.value) == "True" for k in node.keywords)
                loads.append((where, safe))
            elif function in ("pickle.load", "pickle.loads", "pickle.Unpickler"):
                unpickles.append(where)
    assert loads, "load_checkpoint's own call is found"
    assert [where for where, safe in loads if not safe] == [] and unpickles == []
