"""How numbers are written: the files other programs read carry no last-bit noise, and lose nothing measured."""

import json
import math

import pytest

from vaelab.numbers import stored
from vaelab.run_dir.layout import write_json
from vaelab.run_dir.metrics import MetricsWriter


def test_stored_numbers_drop_the_noise_of_the_last_binary_digit():
    noisy = math.exp(math.log(0.1))  # a loss-conditional run's geometric mean of betas that are all 0.1
    assert repr(noisy) == "0.10000000000000002" and stored(noisy) == 0.1
    assert stored(0.1 * 3) == 0.3 and stored(1 - 0.9) == 0.1
    # a float32 value read as a double keeps every digit it has
    assert stored(0.2178773432970047) == pytest.approx(0.2178773432970047, rel=1e-15)
    assert stored(1 / 3) == pytest.approx(1 / 3, rel=1e-15)
    assert stored({"a": [noisy, 2, "x", None, math.inf]}) == {"a": [0.1, 2, "x", None, math.inf]}
    assert stored(True) is True and stored(7) == 7


def test_metrics_and_eval_files_hold_the_clean_numbers(tmp_path):
    noisy = math.exp(math.log(0.1))
    writer = MetricsWriter(tmp_path / "metrics.jsonl")
    writer.write({"step": 1, "beta": noisy, "kl": 0.1 * 3})
    writer.close()
    text = (tmp_path / "metrics.jsonl").read_text()
    assert '"beta": 0.1,' in text and '"kl": 0.3}' in text and "0000000" not in text
    write_json(tmp_path / "eval.json", {"beta": noisy, "kl_ci": [0.1 * 3, 1 - 0.9]})
    assert json.loads((tmp_path / "eval.json").read_text()) == {"beta": 0.1, "kl_ci": [0.3, 0.1]}
    assert "0000000" not in (tmp_path / "eval.json").read_text()
