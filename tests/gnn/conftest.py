"""Shared settings for the GNN tests."""

import builtins
import socket

import pytest
import torch

from graphsparse import paths


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


@pytest.fixture
def offline_cache(monkeypatch, tmp_path):
    """Own cache, no network, no interactive prompt, no inherited data/offline settings (the
    data tests make it autouse under their own name)."""

    def refuse_network(*args, **kwargs):
        raise OSError("network access attempted during an offline test")

    def refuse_input(*args, **kwargs):
        raise AssertionError(f"input() called during a test: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse_network)
    monkeypatch.setattr(socket, "getaddrinfo", refuse_network)
    monkeypatch.setattr(socket, "create_connection", refuse_network)
    monkeypatch.setattr(builtins, "input", refuse_input)
    monkeypatch.setenv(paths.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.delenv(paths.ENV_OFFLINE, raising=False)
    return tmp_path / "cache"


def assert_level_counts(results, edge_units: int, weights_total: int, p_graph: float,
                        p_weight: float) -> None:
    """Every ``LevelResult`` of a search keeps exactly the geometric grid's counts of its
    level: ``kept_count(U, 1-(1-p_graph)^k)`` edge units, ``kept_count(P, ...)`` weights."""
    from graphsparse.masks import geometric_sparsity, kept_count

    for found in results:
        level = found.point.level
        assert found.result.graph_sparsity["kept"] == kept_count(
            edge_units, geometric_sparsity(p_graph, level)), level
        assert found.result.weight_sparsity["kept"] == kept_count(
            weights_total, geometric_sparsity(p_weight, level)), level
