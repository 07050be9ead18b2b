"""Fixtures of the table-network tests."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """One torch thread while the test trains (as `vaelab bnn` does by default: faster for networks this small),
    then the session's setting again."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
