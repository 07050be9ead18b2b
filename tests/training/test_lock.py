"""Two processes training into the same run directory: the second is refused."""

import pytest

from vaelab.errors import UsageError
from vaelab.training.lock import run_lock
from vaelab.training.run import train
from tests.training.test_resume import small_config


def test_a_second_writer_is_refused_and_the_lock_is_released(tmp_path):
    with run_lock(tmp_path / "run"):
        with pytest.raises(UsageError, match="is being trained by pid"):
            train(small_config(2), tmp_path / "run")
    assert train(small_config(2), tmp_path / "run").steps == 2  # released: the run goes ahead


def test_a_failed_start_leaves_the_directory_reusable(tmp_path):
    with pytest.raises(UsageError):
        train(small_config(2).with_updates({"data.spec": str(tmp_path / "missing")}), tmp_path / "run")
    assert train(small_config(2), tmp_path / "run").steps == 2
