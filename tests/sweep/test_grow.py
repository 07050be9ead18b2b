"""A sweep grows: values added to its axes train the new runs only and keep the old ones; progress lines carry an
estimate of the time left."""

import csv
import logging

import pytest
import yaml

from vaelab.errors import UsageError
from vaelab.numbers import format_duration, remaining_time
from vaelab.sweep.grid import parse_axes
from vaelab.sweep.run import run_sweep

from factories import InProcess, tiny_config


class Recording(InProcess):
    """InProcess, remembering which runs it trained."""

    def __init__(self):
        self.names = []

    def run(self, jobs, on_outcome):
        self.names += [job.name for job in jobs]
        return super().run(jobs, on_outcome)


def test_values_added_to_an_axis_train_only_the_new_runs(tmp_path, caplog):
    base = tiny_config(6, data__limit=200)
    out = tmp_path / "sweep"
    first = Recording()
    with caplog.at_level(logging.INFO, logger="vaelab"):
        run_sweep(base, parse_axes(["objective.beta=0.1,1"]), out, executor=first, iw_samples=2)
    assert first.names == ["beta=0.1", "beta=1"]
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("[")]
    assert progress[0].startswith("[1/2] beta=0.1: finished in") and progress[0].endswith(" left")
    assert "left" not in progress[1]  # the last run: nothing left
    kept = {path: path.stat().st_mtime_ns for path in (out / "runs").rglob("*") if path.is_file()}

    grown = Recording()
    result = run_sweep(base, parse_axes(["objective.beta=0.1,1,10"]), out, executor=grown, iw_samples=2)
    assert grown.names == ["beta=10"]  # the old runs were finished: kept, not retrained
    assert {path: path.stat().st_mtime_ns for path in kept} == kept
    assert [row["run"] for row in result.rows] == ["beta=0.1", "beta=1", "beta=10"]
    with (out / "summary.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["beta"] for row in rows] == ["0.1", "1.0", "10.0"] and all(row["status"] == "finished" for row in rows)
    saved = yaml.safe_load((out / "sweep.yaml").read_text())
    assert saved["axes"] == [{"key": "objective.beta", "values": [0.1, 1.0, 10.0]}]
    assert saved["runs"] == ["beta=0.1", "beta=1", "beta=10"]

    with pytest.raises(UsageError, match="holds a sweep over another grid .*values added to its axes"):
        run_sweep(base, parse_axes(["objective.beta=0.1,10"]), out, executor=Recording(), iw_samples=2)  # 1 dropped


def test_the_time_left_is_the_pace_so_far():
    assert remaining_time(120.0, 2, 5) == 180.0  # 60 s a run, three to go
    assert [format_duration(s) for s in (40, 89.4, 600, 5399, 9000)] == ["40 s", "89 s", "10 min", "90 min", "2.5 h"]
