"""The command line answers `--help` and a mistyped flag without loading torch, matplotlib or
scikit-learn (their imports take seconds): each command imports its machinery when it runs, and
`vaelab explain`, which is arithmetic, never needs them."""

import subprocess
import sys

import pytest

COMMANDS = ("train", "evaluate", "sweep", "report", "runs", "demo", "explain", "bnn", "sample", "reconstruct", "encode",
            "interpolate", "explore")
HEAVY = ("torch", "matplotlib", "sklearn", "numpy", "PIL")

PROBE = """
import contextlib, io, sys
from vaelab.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
print(",".join(sorted({name.split(".")[0] for name in sys.modules} & set(%r))))
"""


@pytest.mark.parametrize("argv", [["--help"], *([command, "--help"] for command in COMMANDS),
                                  ["train", "--no-such-flag"], ["runs", "ls", "--help"], ["explain", "--beta", "0.1"],
                                  ["explain", "--bnn", "--kl-weight", "blundell", "--n", "309"]])
def test_the_command_line_answers_without_the_heavy_imports(argv):
    done = subprocess.run([sys.executable, "-c", PROBE % (HEAVY,), *argv], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == "", f"vaelab {' '.join(argv)} imported {done.stdout.strip()}"


LOGS = """
import logging
from vaelab.cli import main
main(["explain", "--beta", "0.1"])
# what torch's atexit handler logs when Ctrl-C cut its import short, before torch set its loggers' levels
logging.getLogger("torch._subclasses.fake_tensor").info("FakeTensor cache stats:")
logging.getLogger("vaelab.data").info("decoding digits")
"""


def test_only_vaelabs_own_messages_are_shown_below_warning():
    done = subprocess.run([sys.executable, "-c", LOGS], capture_output=True, text=True, check=True, timeout=60)
    assert "vaelab: decoding digits" in done.stderr and "FakeTensor" not in done.stderr, done.stderr
