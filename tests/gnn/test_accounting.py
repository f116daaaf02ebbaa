"""Tests of graph sparsity (graphsparse.gnn.edges.graph), weight scopes
(graphsparse.gnn.accounting) and MACs (graphsparse.gnn.cost), by hand.

Counts are checked on hand-made graphs (undirected, one-way edges, self-loops, duplicates), on
Cora (10,556 directed = 5,278 undirected edges, no self-loops; shared data, skipped if absent)
and on a disjoint union of small graphs; MACs of tiny GCN/GIN/GAT/SAGE models against the
formulas of the module documentation worked out by hand.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch_geometric.data import Data

from graphsparse import paths
from graphsparse.gnn.accounting import count_weight_sparsity, sparsity_summary
from graphsparse.gnn.cost import counting_edge_mask, graph_macs
from graphsparse.gnn.data import load_dataset
from graphsparse.gnn.edges import (
    GRAPH_COUNTS,
    TrainableEdgeMask,
    count_graph_sparsity,
    edge_mask,
    mask_graph,
    tie_directions,
)
from graphsparse.gnn.models import build_model
from graphsparse.masks import attach, kept_count, macs, random_scores, topk_masks

# 0-1 both ways, 1->2 one way, a loop at 2, 3-4 both ways plus a duplicate 3->4
HAND = torch.tensor([[0, 1, 1, 2, 3, 4, 3], [1, 0, 2, 2, 4, 3, 4]])
# a path 0-1-2, both directions
PATH = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])

pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support:UserWarning")



def _counts(report):
    return {k: (c.kept, c.total) for k, c in report.counts.items()}


def test_hand_graph_all_kept():
    r = count_graph_sparsity(HAND, directed=False)
    assert set(r.counts) == set(GRAPH_COUNTS)
    assert _counts(r) == {"undirected": (3, 3), "undirected_with_loops": (4, 4),
                          "directed": (6, 6), "directed_with_loops": (7, 7)}
    assert (r.self_loops, r.asymmetric, r.sparsity) == (1, 0, 0.0)
    assert r.scope == "undirected edges, self-loops excluded"


def test_hand_graph_with_mask():
    keep = torch.tensor([True, False, True, True, False, False, True])
    r = count_graph_sparsity(HAND, keep, directed=False)
    # pair {0,1}: one direction kept -> kept, asymmetric; {3,4}: the duplicate kept -> kept
    assert _counts(r) == {"undirected": (3, 3), "undirected_with_loops": (4, 4),
                          "directed": (3, 6), "directed_with_loops": (4, 7)}
    assert r.asymmetric == 2
    drop_loop = torch.tensor([True, True, True, False, True, True, True])
    r = count_graph_sparsity(HAND, drop_loop, directed=False)
    assert r.sparsity == 0.0 and r.counts["undirected_with_loops"].kept == 3
    assert r.counts["directed_with_loops"].sparsity == pytest.approx(1 / 7)


def test_directed_detection_and_primary_count():
    r = count_graph_sparsity(HAND)  # 1->2 has no reverse: directed
    assert r.primary == "directed" and r.scope == "directed edges, self-loops excluded"
    assert (r.kept, r.total) == (6, 6)
    r = count_graph_sparsity(PATH, torch.tensor([1.0, 1.0, 0.0, 0.0]))  # float 0/1 masks count
    assert r.primary == "undirected" and (r.kept, r.total, r.sparsity) == (1, 2, 0.5)
    for soft in (0.5, float("nan")):  # a soft or NaN mask has no kept count
        with pytest.raises(ValueError, match="edge_mask must be binary"):
            count_graph_sparsity(PATH, torch.tensor([1.0, soft, 0.0, 0.0]))


def test_trainable_mask_counts_its_binary_state():
    tied = tie_directions(PATH)
    m = TrainableEdgeMask(tied=tied)
    m.set_kept(torch.tensor([True, False]))
    r = count_graph_sparsity(PATH, m)
    assert (r.kept, r.total) == (1, 2) and r.counts["directed"].kept == 2


def test_bad_masks():
    with pytest.raises(ValueError, match="3 entries but the graph has 4 edges"):
        count_graph_sparsity(PATH, torch.ones(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="1-D tensor"):
        count_graph_sparsity(PATH, [True] * 4)


def test_sbm_mask_graph_and_tied_sparsity():
    ds = load_dataset("sbm")
    g = mask_graph(ds)
    assert g.num_edges == ds.data.edge_index.size(1) and not g.directed
    tied = tie_directions(g.edge_index)
    keep_pairs = topk_masks({"e": torch.rand(tied.num_pairs,
                                               generator=torch.Generator().manual_seed(0))},
                              0.3)["e"]
    r = count_graph_sparsity(ds, tied.expand(keep_pairs))
    assert r.total == tied.num_pairs == g.num_edges // 2
    assert r.kept == kept_count(tied.num_pairs, 0.3) and r.asymmetric == 0
    assert r.counts["directed"].kept == 2 * r.kept


def test_cora_counts():
    if not (paths.data_root() / "Planetoid" / "Cora" / "raw").is_dir():
        pytest.skip("shared data absent: Cora not found")
    cora = load_dataset("cora")
    r = count_graph_sparsity(cora)
    assert _counts(r) == {"undirected": (5278, 5278), "undirected_with_loops": (5278, 5278),
                          "directed": (10556, 10556), "directed_with_loops": (10556, 10556)}
    assert r.self_loops == 0 and r.primary == "undirected"


def _graph_dataset():
    tri = torch.tensor([[0, 1, 1, 2, 2, 0], [1, 0, 2, 1, 0, 2]])
    pair = torch.tensor([[0, 1], [1, 0]])
    graphs = [Data(edge_index=tri, num_nodes=3), Data(edge_index=pair, num_nodes=2),
              Data(edge_index=tri, num_nodes=4)]
    sbm = load_dataset("sbm")
    return dataclasses.replace(sbm, task="graph", data=None, dataset=graphs)


def test_graph_task_counts_every_graph_together():
    ds = _graph_dataset()
    g = mask_graph(ds)
    assert g.num_nodes == 9 and g.num_edges == 14
    assert g.edge_ptr.tolist() == [0, 6, 8, 14] and g.node_ptr.tolist() == [0, 3, 5, 9]
    assert torch.equal(g.edge_index[:, 6:8], torch.tensor([[3, 4], [4, 3]]))
    assert torch.equal(g.edge_index[:, 8:], HAND.new_tensor([[0, 1, 1, 2, 2, 0],
                                                            [1, 0, 2, 1, 0, 2]]) + 5)
    keep = torch.ones(14, dtype=torch.bool)
    keep[6:8] = False  # the second graph's only edge
    r = count_graph_sparsity(ds, keep)
    assert (r.kept, r.total) == (6, 7)


def test_weight_scopes_gcn_and_gat():
    gcn = build_model("gcn", 1433, 7)
    linear = 1433 * 512 + 512 * 7
    assert count_weight_sparsity(gcn, "linear").numel == linear == 737_280
    assert count_weight_sparsity(gcn, "all").numel == linear  # no biases (UGS/TEDDY)
    gcn_bias = build_model("gcn", 1433, 7, bias=True)
    assert count_weight_sparsity(gcn_bias, "all").numel == linear + 512 + 7
    gat = build_model("gat", 1433, 7)
    report = count_weight_sparsity(gat, "linear")
    assert report.scope == "linear" and report.numel == linear
    assert all("att" not in row["name"] for row in report.rows)
    attention = 2 * 8 * 64 + 2 * 1 * 7  # att_src and att_dst of both layers
    assert count_weight_sparsity(gat, "all").numel == linear + attention
    with pytest.raises(ValueError, match="scope must be one of 'linear', 'all'"):
        count_weight_sparsity(gcn, "weights")


def test_weight_scopes_exclude_embeddings_and_eps():
    link = build_model("sage", 0, 1, task="link", hidden=8, num_nodes=20)
    names = [r["name"] for r in count_weight_sparsity(link, "linear").rows]
    assert "embedding.weight" not in names and "decoder.0.weight" in names
    assert "embedding.weight" in [r["name"] for r in count_weight_sparsity(link, "all").rows]
    mol = build_model("gin", 9, 1, task="graph", hidden=8)
    names = [r["name"] for r in count_weight_sparsity(mol, "linear").rows]
    assert not any("encoder" in n or n.endswith("eps") for n in names)
    assert "head.weight" in names and "backbone.convs.0.nn.0.weight" in names


def test_weight_sparsity_counts_masks_and_summary():
    gcn = build_model("gcn", 6, 2, hidden=4)
    masks = topk_masks(random_scores(gcn, seed=1), 0.75, scope="global")
    attach(gcn, masks)
    report = count_weight_sparsity(gcn, "linear")
    assert report.kept == kept_count(6 * 4 + 4 * 2, 0.75) == 8
    summary = sparsity_summary(gcn, PATH, torch.tensor([True, True, False, False]))
    assert summary["graph_sparsity"] == 0.5 and summary["weight_sparsity"] == 0.75
    assert summary["weight_scope"] == "linear" and "UGS" in summary["weight_scope_description"]
    assert summary["graph_scope"] == "undirected edges, self-loops excluded"


X3 = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
HALF = torch.tensor([True, True, False, False])  # keeps the pair {0, 1}


def test_macs_gcn_by_hand():
    model = build_model("gcn", 4, 2, hidden=3)
    # X·W1 3·4·3 + (4 edges + 3 loops)·3 + H·W2 3·3·2 + 7·2
    assert macs(model, X3, PATH).dense == 36 + 21 + 18 + 14
    r = graph_macs(model, X3, PATH, edge_mask=HALF)
    assert (r.dense, r.masked) == (89, 36 + 5 * 3 + 18 + 5 * 2)
    assert [row["type"] for row in r.rows] == ["Linear", "GCNConv", "Linear", "GCNConv"]
    attach(model, {"convs.0.lin.weight": torch.arange(12).view(3, 4) % 2 == 0})
    r = graph_macs(model, X3, PATH, edge_mask=HALF)
    assert (r.dense, r.masked) == (89, 3 * 6 + 15 + 18 + 10)
    with counting_edge_mask(HALF):  # the same through masks.macs
        assert macs(model, X3, PATH).masked == r.masked


def test_macs_gin_by_hand_dense_and_sparse_features():
    model = build_model("gin", 4, 2, hidden=3, mlp_layers=1)
    # layer 1: aggregation (E + N)·F_in = 7·4, MLP 3·4·3; layer 2: 7·3 + 3·3·2
    r = graph_macs(model, X3, PATH, edge_mask=HALF)
    assert (r.dense, r.masked) == (28 + 36 + 21 + 18, 5 * 4 + 36 + 5 * 3 + 18)
    # sparse x: the first linear map runs first (counted in the conv's row), width 3
    r = graph_macs(model, X3.to_sparse_csr(), PATH, edge_mask=HALF)
    assert (r.dense, r.masked) == (36 + 21 + 21 + 18, 36 + 15 + 15 + 18)


# stored entries: (0, 0), (0, 3), (1, 2): per column 1, 0, 1, 1
SPARSE_X = torch.tensor([[1.0, 0, 0, 2], [0, 0, 3, 0], [0, 0, 0, 0]])


def test_macs_gcn_sparse_features_by_hand():
    model = build_model("gcn", 4, 2, hidden=3)
    # X·W1 on 3 stored entries: nnz·F_out = 3·3, then as with dense features: 21 + 18 + 14
    r = graph_macs(model, SPARSE_X.to_sparse_csr(), PATH, edge_mask=HALF)
    assert (r.dense, r.masked) == (9 + 21 + 18 + 14, 9 + 15 + 18 + 10)
    # W1 keeps columns 0 and 2 (3 entries each): Σ_j nnz(X[:, j])·kept(W[:, j]) = 1·3 + 1·3
    attach(model, {"convs.0.lin.weight": torch.arange(12).view(3, 4) % 2 == 0})
    r = graph_macs(model, SPARSE_X.to_sparse_csr(), PATH, edge_mask=HALF)
    assert (r.dense, r.masked) == (62, 6 + 15 + 18 + 10)
    for layout in (SPARSE_X.to_sparse(), SPARSE_X.to_sparse_csc()):  # COO, CSC: same counts
        with counting_edge_mask(HALF):
            assert (macs(model, layout, PATH).dense, macs(model, layout, PATH).masked) \
                == (62, 49)
    # the same values as a dense matrix keep the dense count: 3·4·3, masked 3·6
    assert graph_macs(model, SPARSE_X, PATH, edge_mask=HALF).masked == 18 + 15 + 18 + 10


def test_macs_gat_and_sage_by_hand():
    gat = build_model("gat", 4, 2, hidden=4, heads=2)
    # layer 1: lin 3·4·4; scores 2·N·H·C = 2·3·2·2; edges (4+3)·H·(C+1) = 7·2·3
    # layer 2: lin 3·4·2; scores 2·3·1·2; edges 7·1·3
    assert macs(gat, X3, PATH).dense == 48 + 24 + 42 + 24 + 12 + 21
    sage = build_model("sage", 4, 2, hidden=3)
    # layer 1: lin_l and lin_r 3·4·3 each, aggregation E·F_in 4·4; layer 2: 2·3·3·2 + 4·3
    r = graph_macs(sage, X3, PATH, edge_mask=HALF)
    assert (r.dense, r.masked) == (72 + 16 + 36 + 12, 72 + 8 + 36 + 6)


def test_macs_with_soft_edge_mask_attached_and_errors():
    model = build_model("gcn", 4, 2, hidden=3)
    with edge_mask(model, HALF.float(), mode="message"):
        assert graph_macs(model, X3, PATH, edge_mask=HALF).masked == 79
    with edge_mask(model, HALF, mode="remove"), pytest.raises(ValueError, match="full edge_index"):
        graph_macs(model, X3, PATH, edge_mask=HALF)
    with pytest.raises(ValueError, match="3 entries but edge_index has 4"):
        graph_macs(model, X3, PATH, edge_mask=HALF[:3])


def test_macs_link_and_graph_models_run():
    link = build_model("gcn", 0, 1, task="link", hidden=4, num_nodes=3)
    assert graph_macs(link, None, PATH).dense == 3 * 4 * 4 + 7 * 4 + 3 * 4 * 4 + 7 * 4
    mol = build_model("gin", 9, 1, task="graph", hidden=4, mlp_layers=1)
    x = torch.zeros(3, 9, dtype=torch.long)
    attr = torch.zeros(4, 3, dtype=torch.long)
    r = graph_macs(mol, x, PATH, attr, torch.zeros(3, dtype=torch.long), edge_mask=HALF)
    # two GINE layers (7·4 + 3·4·4, masked 5·4 + 48) and the head 1·4·1
    assert (r.dense, r.masked) == (2 * (28 + 48) + 4, 2 * (20 + 48) + 4)


@pytest.mark.parametrize("function", ["count", "tie", "random", "jaccard"])
def test_negative_edge_ids_are_rejected(function):
    from graphsparse.gnn.edges import count_graph_sparsity, tie_directions
    from graphsparse.gnn.edges.scores import jaccard_score, random_score

    bad = torch.tensor([[0, -1], [1, 0]])
    call = {"count": count_graph_sparsity, "tie": tie_directions, "random": random_score,
            "jaccard": jaccard_score}[function]
    with pytest.raises(ValueError, match=r"entries must lie in \[0, 2\)"):
        call(bad)
