"""The sized ``"sbm"`` dataset: ``load_dataset("sbm", sbm_nodes=N, sbm_degree=D)`` — its size
recorded in the name, the expected degree and homophily ratio kept, a valid coalesced
undirected graph, bad sizes refused, and the default graph unchanged."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.utils import to_undirected

from graphsparse.gnn.data import load_dataset, synthetic_sbm
from graphsparse.gnn.data import synthetic
from graphsparse.gnn.data.synthetic import (
    SBM_DEGREE,
    SBM_HOMOPHILY,
    SBM_NODES,
    sbm_name,
    sbm_params,
    sbm_probabilities,
)

NODES, DEGREE = 20_000, 12.0


@pytest.fixture(scope="module")
def sized():
    return load_dataset("sbm", sbm_nodes=NODES, sbm_degree=DEGREE)


def _assert_coalesced_undirected(edge_index, num_nodes):
    row, col = edge_index
    assert edge_index.dtype == torch.long
    assert bool((row != col).all()), "self-loop"
    keys = row * num_nodes + col
    assert bool((keys[1:] > keys[:-1]).all()), "not sorted row-major or duplicated"
    reverse = torch.sort(col * num_nodes + row).values
    assert torch.equal(reverse, keys), "not undirected"


def test_size_is_recorded_in_the_name(sized):
    assert sized.name == "sbm(nodes=20000,degree=12)"
    assert sbm_params(sized.name) == {"nodes": NODES, "degree": DEGREE}
    assert sized.describe()["name"] == sized.name
    assert sized.data.num_nodes == NODES and sized.num_classes == 4
    assert sized.data.x.shape == (NODES, 32) and sized.data.x.dtype == torch.float32
    assert sbm_name(5000, 7.5) == "sbm(nodes=5000,degree=7.5)"
    assert sbm_params(sbm_name(123, 0.1)) == {"nodes": 123, "degree": 0.1}
    assert sbm_params("sbm") == {"nodes": SBM_NODES, "degree": SBM_DEGREE}
    with pytest.raises(ValueError, match="not the name of an sbm graph"):
        sbm_params("cora")


def test_mean_degree_is_the_requested_one(sized):
    degree = sized.data.edge_index.size(1) / NODES  # directed entries per node
    assert abs(degree - DEGREE) / DEGREE < 0.02


def test_homophily_ratio_is_kept(sized):
    data = sized.data
    y, (row, col) = data.y, data.edge_index
    same = int((y[row] == y[col]).sum()) // 2  # undirected edges within classes
    other = row.numel() // 2 - same
    sizes = torch.bincount(y).double()
    within_pairs = float((sizes * (sizes - 1) / 2).sum())
    between_pairs = NODES * (NODES - 1) / 2 - within_pairs
    ratio = (same / within_pairs) / (other / between_pairs)
    assert abs(ratio - SBM_HOMOPHILY) / SBM_HOMOPHILY < 0.05
    p_in, p_out = sbm_probabilities(NODES, DEGREE)
    assert p_in / p_out == pytest.approx(SBM_HOMOPHILY)


def test_probabilities_give_the_expected_degree():
    assert sbm_probabilities(1000, 9.72) == (0.03, 0.003)  # the default graph, exactly
    for nodes, classes, degree in ((20_000, 4, 12.0), (1001, 3, 5.0), (10, 10, 4.5)):
        p_in, p_out = sbm_probabilities(nodes, degree, num_classes=classes)
        sizes = [(nodes - c + classes - 1) // classes for c in range(classes)]
        within = sum(n * (n - 1) for n in sizes)
        expected = (p_in * within + p_out * (nodes * nodes - nodes - within)) / nodes
        assert expected == pytest.approx(degree)


def test_same_arguments_same_graph(sized):
    again = load_dataset("sbm", sbm_nodes=NODES, sbm_degree=DEGREE)
    for key in ("x", "y", "edge_index", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(sized.data[key], again.data[key]), key
    other_split = load_dataset("sbm", sbm_nodes=NODES, sbm_degree=DEGREE, split_seed=1)
    assert torch.equal(other_split.data.edge_index, sized.data.edge_index)
    assert not torch.equal(other_split.data.train_mask, sized.data.train_mask)


def test_graph_is_undirected_coalesced_without_self_loops(sized):
    _assert_coalesced_undirected(sized.data.edge_index, NODES)


def test_fast_coalesce_equals_pyg_to_undirected():
    data = synthetic_sbm(3000, 5, 0.02, 0.004, seed=4)
    one_way = data.edge_index[:, data.edge_index[0] < data.edge_index[1]]
    assert torch.equal(to_undirected(one_way, num_nodes=3000), data.edge_index)


def test_chunked_sampling_of_large_blocks(monkeypatch):
    """Blocks drawn in many chunks (as at millions of nodes) give a valid graph of the same
    expected degree."""
    monkeypatch.setattr(synthetic, "_MAX_BATCH", 1000)
    ds = load_dataset("sbm", sbm_nodes=NODES, sbm_degree=DEGREE)
    _assert_coalesced_undirected(ds.data.edge_index, NODES)
    assert abs(ds.data.edge_index.size(1) / NODES - DEGREE) / DEGREE < 0.02


def test_tiny_graph():
    ds = load_dataset("sbm", sbm_nodes=2, sbm_degree=0.5)
    assert ds.num_classes == 2 and ds.data.num_nodes == 2
    _assert_coalesced_undirected(ds.data.edge_index, 2)


def test_default_graph_unchanged():
    default = load_dataset("sbm")
    explicit = load_dataset("sbm", sbm_nodes=SBM_NODES, sbm_degree=SBM_DEGREE)
    reference = synthetic_sbm()
    for ds in (default, explicit):
        assert ds.name == "sbm"
        for key in ("x", "y", "edge_index"):
            assert torch.equal(ds.data[key], reference[key]), key
    only_nodes = load_dataset("sbm", sbm_nodes=SBM_NODES)
    assert only_nodes.name == "sbm" and torch.equal(only_nodes.data.edge_index,
                                                    reference.edge_index)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(sbm_nodes=1), ValueError, "sbm_nodes must be an int >= 2"),
    (dict(sbm_nodes=2.5), TypeError, "sbm_nodes"),
    (dict(sbm_nodes=True), TypeError, "sbm_nodes"),
    (dict(sbm_degree=0), ValueError, r"sbm_degree must be a number in \(0, 999\)"),
    (dict(sbm_degree=-3.0), ValueError, "sbm_degree"),
    (dict(sbm_degree="20"), TypeError, "sbm_degree"),
    (dict(sbm_degree=float("nan")), ValueError, "sbm_degree"),
    (dict(sbm_nodes=100, sbm_degree=99), ValueError, r"sbm_degree must be a number in \(0, 99\)"),
    (dict(sbm_nodes=100, sbm_degree=60), ValueError,
     r"sbm_degree must be <= 31\.5 for sbm_nodes=100"),
    (dict(sbm_nodes=5), ValueError, r"sbm_degree \(default 9.72\)"),
])
def test_bad_sizes_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_dataset("sbm", **kwargs)


@pytest.mark.parametrize("arg", ["sbm_nodes", "sbm_degree"])
def test_size_arguments_only_for_sbm(arg, tmp_path):
    with pytest.raises(ValueError, match=f"{arg} applies only to the 'sbm' dataset"):
        load_dataset("cora", tmp_path, **{arg: 10})


def test_sbm_probabilities_names_its_arguments():
    with pytest.raises(ValueError, match="degree must be"):
        sbm_probabilities(100, 0.0)
    with pytest.raises(ValueError, match="num_nodes must be an int >= 2"):
        sbm_probabilities(1, 0.5)
    with pytest.raises(ValueError, match="homophily"):
        sbm_probabilities(100, 5.0, homophily=0.0)
