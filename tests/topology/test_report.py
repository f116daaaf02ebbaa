"""report(): typed result, text rendering, JSON, opt-in costly metrics, timings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from graphsparse.topology import NetworkGraph, TopologyReport, report
from graphsparse.topology import metrics

REQUIRED_KEYS = {
    "num_nodes", "num_edges", "density", "dead_neurons", "effective_sparsity", "num_components", "layers",
    "paths", "powerlaw",
}


@pytest.fixture(scope="module")
def graph() -> NetworkGraph:
    rng = np.random.default_rng(0)
    return NetworkGraph.from_masks(
        {"fc1": rng.random((300, 40)) < 0.1, "fc2": rng.random((300, 300)) < 0.03, "out": rng.random((10, 300)) < 0.2}
    )


def test_default_report_values_and_json(graph):
    r = report(graph)
    assert isinstance(r, TopologyReport)
    d = json.loads(r.to_json())
    assert REQUIRED_KEYS <= set(d)
    assert d["num_nodes"] == graph.num_nodes == 650
    assert d["num_edges"] == metrics.num_edges(graph) and d["density"] == pytest.approx(metrics.density(graph))
    assert d["effective_sparsity"] == pytest.approx(metrics.effective_sparsity(graph).effective_sparsity)
    assert d["num_components"] == metrics.num_components(graph)
    assert d["dead_neurons"] == metrics.dead_neurons(graph).to_dict()
    assert d["paths"]["total"] == metrics.path_counts(graph).total and d["paths"]["exact"] is True
    assert d["shortest_paths"] is None and d["four_cycles"] is None and d["spectral"] is None
    assert [l["name"] for l in d["layers"]] == ["fc1", "fc2", "out"]
    for layer, block in zip(d["layers"], graph.blocks):
        assert layer["shape"] == [block.shape[0], block.shape[1]]
        assert layer["num_edges"] == block.nnz
        assert layer["density"] == pytest.approx(block.nnz / block.possible)
        for key, degrees in (("in_degree", block.in_degree()), ("out_degree", block.out_degree())):
            assert layer[key]["mean"] == pytest.approx(degrees.mean())
            assert (layer[key]["min"], layer[key]["max"]) == (degrees.min(), degrees.max())
    fit = metrics.degree_powerlaw(graph, compare=True)
    assert d["powerlaw"]["fitted"] and d["powerlaw"]["alpha"] == pytest.approx(fit.alpha)
    assert d["powerlaw"]["xmin"] == fit.xmin and d["powerlaw"]["ks"] == pytest.approx(fit.ks)
    assert {"degrees", "dead_neurons", "effective_sparsity", "paths", "components", "powerlaw"} <= set(d["timings"])
    assert not {"shortest_paths", "four_cycles", "spectral"} & set(d["timings"])
    assert r.to_dict() == d


def test_opt_in_metrics_are_computed_and_timed(graph):
    r = report(graph, shortest_paths=True, four_cycles=True, spectral=True, seed=3, shortest_path_sources=20)
    assert r.shortest_paths == metrics.mean_shortest_path(graph, sources=20, seed=3)
    assert r.four_cycles == metrics.four_cycles(graph)
    assert [s.to_dict() for s in r.spectral] == [s.to_dict() for s in metrics.spectral(graph, seed=3)]
    assert {"shortest_paths", "four_cycles", "spectral"} <= set(r.timings)
    assert all(t >= 0 for t in r.timings.values())
    d = json.loads(r.to_json())
    assert d["shortest_paths"]["exact"] is False and d["shortest_paths"]["num_sources"] == 20
    assert len(d["spectral"]) == 3 and d["four_cycles"]["per_layer"][0]["name"] == "fc1"
    again = report(graph, shortest_paths=True, seed=3, shortest_path_sources=20)
    assert again.shortest_paths == r.shortest_paths  # deterministic given the seed


def test_text_rendering(graph):
    text = str(report(graph, shortest_paths=True, four_cycles=True, spectral=True, shortest_path_sources=5))
    for needle in ("fc1", "fc2", "out", "300x40", "Input->output paths (exact)", "Power-law fit", "Timings (s)",
                   "sampled, 5 BFS sources", "Robins-Alexander", "Spectral scores"):
        assert needle in text


def test_small_graph_without_power_law_fit():
    r = report(NetworkGraph.from_masks([np.ones((3, 4), bool), np.ones((2, 3), bool)]))
    assert not r.powerlaw.fitted and "min_tail" in r.powerlaw.reason
    assert (r.num_edges, r.dead_neurons.total, r.paths.total) == (18, 0, 24)
    assert "not fitted" in str(r)
    assert not report(NetworkGraph.from_masks([np.ones((3, 4), bool)])).powerlaw.fitted


def test_report_of_log_space_paths_and_identity_edges():
    deep = report(NetworkGraph.from_masks([np.ones((64, 64), bool)] * 11))
    assert not deep.paths.exact and deep.to_dict()["paths"]["total"] is None
    assert "log-space" in str(deep)

    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b, self.c = nn.Linear(4, 6), nn.Linear(6, 6), nn.Linear(6, 2)

        def forward(self, x):
            h = self.a(x)
            return self.c(torch.relu(self.b(h) + h))

    r = report(NetworkGraph.from_model(Residual()))
    assert r.num_identity_edges == 6 and r.num_edges == 4 * 6 + 36 + 12
    assert [l.name for l in r.layers] == ["a", "b", "c"]
    assert "identity residual edges" in str(r)


def test_report_rejects_non_graph():
    with pytest.raises(TypeError, match="graph must be"):
        report({"fc": np.ones((2, 2))})
