"""Shared test settings."""

import matplotlib
import pytest
import torch

matplotlib.use("Agg")


@pytest.fixture(autouse=True, scope="session")
def _one_thread_per_worker():
    # pytest-xdist runs one worker per core; more torch threads than cores makes small ops 10x slower
    torch.set_num_threads(1)
    yield


@pytest.fixture(autouse=True)
def _own_seeds(monkeypatch):
    # a CNNEDU_SEEDS set in the shell (or leaked by a test) would replace the seeds the tests pass
    monkeypatch.delenv("CNNEDU_SEEDS", raising=False)
    monkeypatch.delenv("CNNEDU_CLAIMS", raising=False)
    monkeypatch.delenv("CNNEDU_MAX_STEPS", raising=False)  # make gpu-dry-run's step cap
