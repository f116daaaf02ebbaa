"""Shared settings for the GNN tests."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread per test module (module fixtures included), then the suite's count.

    The tiny ops of these tests spend most of their time synchronising threads on a loaded
    2-core machine (measured: 30 epochs of a 16-wide GCN on the SBM graph, 0.3 s with 1 thread
    vs 6-13 s with 2 under load). Determinism checks still compare runs at one fixed count.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
