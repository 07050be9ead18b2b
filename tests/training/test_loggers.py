"""metrics.jsonl: written a line at a time, read back with nulls as nan, cut back on resume, and a last
line cut short by a dying process neither breaks a reader nor a resume."""

from __future__ import annotations

import json
import math

import pytest

from vaelab.run_dir import read_metrics, truncate_metrics
from vaelab.training.loggers import JsonlLogger


def write_log(path, steps):
    logger = JsonlLogger(path)
    for step in steps:
        logger.log_metrics({"split": "train", "loss": 1.0 / step if step % 3 else math.inf}, step)
    logger.close()


def test_records_round_trip_with_non_finite_values_as_nan(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_log(path, [1, 2, 3])
    assert json.loads(path.read_text().splitlines()[2]) == {"step": 3, "split": "train", "loss": None}
    records = read_metrics(path)
    assert [r["step"] for r in records] == [1, 2, 3] and records[0]["loss"] == 1.0 and math.isnan(records[2]["loss"])


def test_truncate_keeps_the_steps_up_to_the_checkpoint_in_the_file_the_logger_has_open(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_log(path, [1, 2, 3, 4, 5])
    logger = JsonlLogger(path)  # a resumed run opens its logger before it knows the checkpoint's step
    truncate_metrics(path, 3)
    logger.log_metrics({"split": "train", "loss": 0.5}, 4)
    logger.close()
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 3, 4]


def test_a_last_line_cut_short_is_left_out_by_readers_and_by_resume(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_log(path, [1, 2, 3, 4])
    with path.open("a") as handle:
        handle.write('{"step": 5, "split": "tr')  # the process died here
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 3, 4]
    truncate_metrics(path, 4)
    write_log(path, [5])  # the resumed run appends after complete lines only
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("damaged", ['{"step": 2, "lo', '\x00\x00\x00', '[1, 2]', '{"split": "train"}',
                                     '{"step": "2"}'])
def test_a_damaged_line_is_left_out_with_a_warning_naming_it_by_readers_and_by_resume(tmp_path, caplog, damaged):
    path = tmp_path / "metrics.jsonl"
    path.write_text(f'{{"step": 1}}\n{damaged}\n{{"step": 3}}\n{{"step": 4}}\n')
    assert [r["step"] for r in read_metrics(path)] == [1, 3, 4]
    assert caplog.text.count(f"{path} line 2 is damaged (not a JSON record with a step): left out") == 1
    read_metrics(path)
    assert caplog.text.count("is damaged") == 1, "named once"
    truncate_metrics(path, 3)
    assert [r["step"] for r in read_metrics(path)] == [1, 3]
