"""Tests of graphsparse.gnn.edges: exact edge-mask semantics on PyG convs.

The reference for a 0/1 mask is always real edge deletion (the model run on ``edge_index`` with
the masked columns dropped). Fractional masks are checked against hand-written formulas on a
4-node graph: sum ``Σ m·x_j``, mean ``Σ m·x_j / Σ m``, GAT softmax ``m·exp(e) / Σ m·exp(e)`` and
the UGS/GCN masked adjacency ``D̃^-1/2 (m ⊙ A + I) D̃^-1/2``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric import EdgeIndex
from torch_geometric.nn import (
    APPNP,
    EdgeConv,
    GATConv,
    GATv2Conv,
    GCNConv,
    GINConv,
    GINEConv,
    GraphConv,
    LGConv,
    SAGEConv,
    SGConv,
    SimpleConv,
    TAGConv,
    TransformerConv,
)
from torch_geometric.utils import to_undirected

from graphsparse.gnn.edges import (
    EDGE_MASK_MODES,
    TrainableEdgeMask,
    UnsupportedConvError,
    apply_edge_mask,
    edge_mask,
    message_rule,
    register_conv,
    tie_directions,
)
from graphsparse.masks import topk_masks

ATOL = 1e-5
N, F_IN, HIDDEN = 14, 6, 5


def random_graph(seed: int = 0, num_nodes: int = N, num_edges: int = 36):
    """A seeded random undirected graph without self-loops, features and a tied 0/1 mask."""
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, num_nodes, (2, num_edges), generator=g)
    ei = to_undirected(ei[:, ei[0] != ei[1]], num_nodes=num_nodes)
    x = torch.randn(num_nodes, F_IN, generator=g)
    tied = tie_directions(ei)
    keep_pair = torch.rand(tied.num_pairs, generator=g) < 0.6
    keep_pair[(tied.pairs == 0).any(0)] = False      # node 0 loses every edge: isolated
    return ei, x, tied, tied.expand(keep_pair)


class TwoLayer(nn.Module):
    def __init__(self, first: nn.Module, second: nn.Module) -> None:
        super().__init__()
        self.conv1, self.conv2 = first, second

    def forward(self, x, edge_index, edge_attr=None):
        extra = {} if edge_attr is None else {"edge_attr": edge_attr}
        h = F.relu(self.conv1(x, edge_index, **extra))
        return self.conv2(h, edge_index, **extra)


def mlp(i: int, o: int) -> nn.Module:
    return nn.Sequential(nn.Linear(i, o), nn.ReLU(), nn.Linear(o, o))


BACKBONES = {
    "gcn": (lambda: TwoLayer(GCNConv(F_IN, HIDDEN), GCNConv(HIDDEN, 3)), ("weight", "message")),
    "gin": (lambda: TwoLayer(GINConv(mlp(F_IN, HIDDEN)), GINConv(mlp(HIDDEN, 3))), ("message",)),
    "gat": (lambda: TwoLayer(GATConv(F_IN, HIDDEN, heads=2), GATConv(2 * HIDDEN, 3, heads=2)),
            ("message",)),
    "sage": (lambda: TwoLayer(SAGEConv(F_IN, HIDDEN, aggr="mean"), SAGEConv(HIDDEN, 3)),
             ("message",)),
    "graph": (lambda: TwoLayer(GraphConv(F_IN, HIDDEN, aggr="sum"), GraphConv(HIDDEN, 3)),
              ("weight", "message")),
}


def maxdiff(a, b) -> float:
    return float((a - b).detach().abs().max())


# ------------------------------------------------------------------------------------------
# 0/1 masks: every mode equals real deletion
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(BACKBONES))
@pytest.mark.parametrize("dtype", [torch.bool, torch.float32])
def test_binary_mask_equals_real_deletion(name, dtype):
    ei, x, _, keep = random_graph(seed=1)
    torch.manual_seed(0)
    make, soft_modes = BACKBONES[name]
    model = make().eval()
    mask = keep.to(dtype)
    deleted = model(x, ei[:, keep])                       # the graph built without those edges
    with torch.no_grad():
        with edge_mask(model, mask, mode="remove"):
            removed = model(x, ei)
        assert maxdiff(removed, deleted) <= ATOL
        for mode in soft_modes:
            with edge_mask(model, mask, mode=mode) as hooks:
                out = model(x, ei)
            assert set(hooks.rules) == {"conv1", "conv2"}
            assert maxdiff(out, deleted) <= ATOL, mode
        # the all-ones mask is the dense model, the all-zeros mask the edgeless one
        for mode in soft_modes:
            with edge_mask(model, torch.ones(ei.size(1)), mode=mode):
                dense = model(x, ei)
            assert maxdiff(dense, model(x, ei)) <= ATOL
            with edge_mask(model, torch.zeros(ei.size(1)), mode=mode):
                empty = model(x, ei)
            assert maxdiff(empty, model(x, ei[:, :0])) <= ATOL


def test_apply_edge_mask_filters_edges_and_attributes():
    ei, _, _, keep = random_graph(seed=2)
    attr = torch.arange(ei.size(1) * 2, dtype=torch.float32).view(-1, 2)
    kept, kept_attr = apply_edge_mask(ei, keep, attr)
    assert torch.equal(kept, ei[:, keep]) and torch.equal(kept_attr, attr[keep])
    kept_w, none = apply_edge_mask(ei, keep.float())
    assert torch.equal(kept_w, kept) and none is None
    with pytest.raises(ValueError, match="edge_attr"):
        apply_edge_mask(ei, keep, attr[:-1])
    with pytest.raises(ValueError, match="only 0 and 1"):
        apply_edge_mask(ei, keep.float() * 0.5)


SINGLE_CONVS = {
    "gatv2": lambda: GATv2Conv(F_IN, 4, heads=2),
    "transformer": lambda: TransformerConv(F_IN, 4, heads=2),
    "sgconv": lambda: SGConv(F_IN, 4, K=2),
    "appnp": lambda: APPNP(K=2, alpha=0.1),
    "tagconv": lambda: TAGConv(F_IN, 4),
    "lgconv": lambda: LGConv(),
    "gcn_no_loops": lambda: GCNConv(F_IN, 4, add_self_loops=False),
    "simple_sum": lambda: SimpleConv("sum"),
    "simple_mean_loops": lambda: SimpleConv("mean", combine_root="self_loop"),
    "graph_mean": lambda: GraphConv(F_IN, 4, aggr="mean"),
    "gine": lambda: GINEConv(mlp(F_IN, 4), edge_dim=3),
}


@pytest.mark.parametrize("name", sorted(SINGLE_CONVS))
def test_every_supported_conv_equals_real_deletion(name):
    ei, x, _, keep = random_graph(seed=3)
    torch.manual_seed(0)
    conv = SINGLE_CONVS[name]().eval()
    attr = torch.randn(ei.size(1), 3) if name == "gine" else None
    extra = {} if attr is None else {"edge_attr": attr}
    kept_extra = {} if attr is None else {"edge_attr": attr[keep]}
    with torch.no_grad():
        deleted = conv(x, ei[:, keep], **kept_extra)
        modes = ["remove", "message"]
        if message_rule(conv) in ("weight", "sum") and name != "gine":
            modes.append("weight")
        for mode in modes:
            with edge_mask(conv, keep, mode=mode):
                out = conv(x, ei, **extra)
            assert maxdiff(out, deleted) <= ATOL, mode


def test_edge_index_input_does_not_take_the_fused_path():
    # GraphConv fuses message and aggregation for a column-sorted EdgeIndex; masks must still apply
    ei, x, _, keep = random_graph(seed=4)
    order = torch.argsort(ei[1] * N + ei[0])
    ei, keep = ei[:, order], keep[order]
    sorted_ei = EdgeIndex(ei, sparse_size=(N, N), sort_order="col")
    conv = GraphConv(F_IN, 4, aggr="sum").eval()
    with torch.no_grad():
        deleted = conv(x, ei[:, keep])
        with edge_mask(conv, keep, mode="message"):
            out = conv(x, sorted_ei)
    assert maxdiff(out, deleted) <= ATOL


# ------------------------------------------------------------------------------------------
# fractional masks: hand-computed oracles on a 4-node graph
# ------------------------------------------------------------------------------------------

TINY_EI = torch.tensor([[1, 2, 3, 0, 2],
                        [0, 0, 0, 1, 1]])           # in-edges: 0 <- 1, 2, 3 and 1 <- 0, 2
TINY_M = torch.tensor([0.5, 0.25, 1.0, 0.8, 0.0])
TINY_X = torch.tensor([[1.0, -2.0, 0.5],
                       [0.3, 1.0, -1.0],
                       [2.0, 0.0, 1.5],
                       [-1.0, 0.7, 0.2]])


def test_sum_oracle_gin():
    conv = GINConv(nn.Identity(), eps=0.0)
    x, m = TINY_X, TINY_M
    expected = torch.stack([
        x[0] + 0.5 * x[1] + 0.25 * x[2] + 1.0 * x[3],
        x[1] + 0.8 * x[0] + 0.0 * x[2],
        x[2],
        x[3],
    ])
    with edge_mask(conv, m, mode="message"):
        out = conv(x, TINY_EI)
    assert maxdiff(out, expected) <= 1e-6


def identity_sage() -> SAGEConv:
    conv = SAGEConv(3, 3, aggr="mean", root_weight=False, bias=False)
    with torch.no_grad():
        conv.lin_l.weight.copy_(torch.eye(3))
    return conv


def test_mean_oracle_sage():
    conv = identity_sage()
    x = TINY_X
    expected = torch.stack([
        (0.5 * x[1] + 0.25 * x[2] + 1.0 * x[3]) / (0.5 + 0.25 + 1.0),
        (0.8 * x[0] + 0.0 * x[2]) / 0.8,
        torch.zeros(3),                                   # no in-edges
        torch.zeros(3),
    ])
    with edge_mask(conv, TINY_M, mode="message"):
        out = conv(x, TINY_EI)
    assert maxdiff(out, expected) <= 1e-6
    # every in-edge of node 1 masked: the same as an isolated node (mean of nothing = 0)
    m = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0])
    deleted = conv(x, TINY_EI[:, m > 0])
    with edge_mask(conv, m, mode="message"):
        out = conv(x, TINY_EI)
    assert maxdiff(out[1], torch.zeros(3)) == 0.0
    assert maxdiff(out, deleted) <= 1e-6


def test_softmax_oracle_gat():
    conv = GATConv(3, 3, heads=1, bias=False, negative_slope=0.2)
    with torch.no_grad():
        conv.lin.weight.copy_(torch.eye(3))
        conv.att_src.copy_(torch.tensor([[[0.7, -0.4, 0.2]]]))
        conv.att_dst.copy_(torch.tensor([[[-0.3, 0.5, 0.9]]]))
    x = TINY_X
    a_src, a_dst = x @ torch.tensor([0.7, -0.4, 0.2]), x @ torch.tensor([-0.3, 0.5, 0.9])

    def e(i, j):                                          # GAT logit of edge j -> i
        return F.leaky_relu(a_src[j] + a_dst[i], 0.2)

    expected = []
    for i in range(4):
        # in-edges of i with their mask values, plus the self-loop GAT adds (mask 1)
        edges = [(int(j), float(mv)) for j, t, mv in zip(TINY_EI[0], TINY_EI[1], TINY_M)
                 if int(t) == i] + [(i, 1.0)]
        weights = torch.stack([mv * torch.exp(e(i, j)) for j, mv in edges])
        alpha = weights / weights.sum()
        expected.append(sum(a * x[j] for a, (j, _) in zip(alpha, edges)))
    expected = torch.stack(expected)
    with edge_mask(conv, TINY_M, mode="message"):
        out = conv(x, TINY_EI)
    assert maxdiff(out, expected) <= 1e-6


def test_gcn_oracle_masked_adjacency():
    conv = GCNConv(3, 3, bias=False)
    with torch.no_grad():
        conv.lin.weight.copy_(torch.eye(3))
    a = torch.zeros(4, 4)                                  # a[i, j] = m of edge j -> i
    a[TINY_EI[1], TINY_EI[0]] = TINY_M
    a_hat = a + torch.eye(4)
    d = a_hat.sum(1)
    expected = (d.rsqrt()[:, None] * a_hat * d.rsqrt()[None, :]) @ TINY_X
    for mode in ("weight", "message"):
        with edge_mask(conv, TINY_M, mode=mode):
            out = conv(TINY_X, TINY_EI)
        assert maxdiff(out, expected) <= 1e-6, mode


# ------------------------------------------------------------------------------------------
# gradients
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_gradients_reach_the_mask(name):
    ei, x, _, keep = random_graph(seed=5)
    torch.manual_seed(1)
    make, soft_modes = BACKBONES[name]
    model = make().eval()
    g = torch.Generator().manual_seed(2)
    values = torch.where(keep, 0.3 + 0.7 * torch.rand(keep.shape, generator=g), 0.0)
    for mode in soft_modes:
        m = values.clone().requires_grad_()
        with edge_mask(model, m, mode=mode):
            out = model(x, ei)
        out.square().sum().backward()
        assert bool(torch.isfinite(m.grad).all()), mode
        assert bool((m.grad[keep] != 0).all()), mode


def test_no_nan_gradient_when_a_node_loses_every_in_edge_without_self_loops():
    x = TINY_X
    for conv in (TAGConv(3, 3), LGConv(), GCNConv(3, 3, add_self_loops=False)):
        m = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0], requires_grad=True)   # node 1 loses both
        with edge_mask(conv, m, mode="weight"):
            out = conv(x, TINY_EI)
        out.square().sum().backward()
        assert bool(torch.isfinite(out).all()) and bool(torch.isfinite(m.grad).all())
        assert maxdiff(out, conv(x, TINY_EI[:, :3])) <= 1e-6


# ------------------------------------------------------------------------------------------
# self-loops, attention dropout, detaching
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: GCNConv(F_IN, 4), lambda: GATConv(F_IN, 4, heads=2)])
def test_self_loops_are_never_masked(make):
    ei, x, _, _ = random_graph(seed=6)
    conv = make().eval()
    loops = torch.arange(N).repeat(2, 1)
    with_loops = torch.cat([ei, loops], 1)                # input that already has self-loops
    only_loops = conv(x, ei[:, :0])                       # the conv adds its own loops
    modes = ("weight", "message") if isinstance(conv, GCNConv) else ("message",)
    with torch.no_grad():
        for graph in (ei, with_loops):
            zeros = torch.zeros(graph.size(1))
            for mode in modes:
                with edge_mask(conv, zeros, mode=mode):
                    assert maxdiff(conv(x, graph), only_loops) <= ATOL, mode
            with edge_mask(conv, zeros.bool(), mode="remove"):
                assert maxdiff(conv(x, graph), only_loops) <= ATOL


def test_attention_dropout_in_training():
    ei, x, _, _ = random_graph(seed=7)
    conv = GATConv(F_IN, 4, heads=2, dropout=0.5).train()
    # mask of ones: the same dropout draw as the plain conv
    torch.manual_seed(3)
    plain = conv(x, ei)
    with edge_mask(conv, torch.ones(ei.size(1)), mode="message"):
        assert conv.dropout == 0.0                          # the hooks own the dropout now
        torch.manual_seed(3)
        masked = conv(x, ei)
    assert conv.dropout == 0.5
    assert maxdiff(plain, masked) <= ATOL
    # masked edges pass nothing in training either: node s's outgoing edges masked
    s = int(ei[0, 0])
    m = (ei[0] != s).float()
    x2 = x.clone()
    x2[s] += 10.0
    with edge_mask(conv, m, mode="message"):
        torch.manual_seed(4)
        a = conv(x, ei)
        torch.manual_seed(4)
        b = conv(x2, ei)
    others = torch.arange(N) != s
    assert maxdiff(a[others], b[others]) <= ATOL


def test_hooks_are_removed_after_the_block():
    ei, x, _, keep = random_graph(seed=8)
    model = BACKBONES["gat"][0]().eval()
    with torch.no_grad():
        before = model(x, ei)
        hooks = edge_mask(model, keep, mode="message")
        assert maxdiff(model(x, ei), before) > 1e-4
        with pytest.raises(RuntimeError, match="already has an edge mask"):
            edge_mask(model, keep, mode="message")
        hooks.remove()
        hooks.remove()
        assert maxdiff(model(x, ei), before) == 0.0


# ------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------

def test_unsupported_aggregations_raise_naming_the_conv():
    ei, x, _, keep = random_graph(seed=9)
    with pytest.raises(UnsupportedConvError, match="SAGEConv.*MaxAggregation"):
        edge_mask(SAGEConv(F_IN, 4, aggr="max"), keep.float(), mode="message")
    with pytest.raises(UnsupportedConvError, match="EdgeConv"):
        edge_mask(EdgeConv(mlp(2 * F_IN, 4)), keep.float(), mode="message")
    with pytest.raises(UnsupportedConvError, match="GATConv takes no edge_weight"):
        edge_mask(GATConv(F_IN, 4), keep.float(), mode="weight")
    with pytest.raises(UnsupportedConvError, match="GraphConv.*mean"):
        edge_mask(GraphConv(F_IN, 4, aggr="mean"), keep.float(), mode="weight")
    with pytest.raises(UnsupportedConvError, match="cached"):
        edge_mask(GCNConv(F_IN, 4, cached=True), keep.float(), mode="message")
    # a failed attach leaves nothing behind: the SAGE layer of this model is fine, EdgeConv not
    model = TwoLayer(SAGEConv(F_IN, F_IN), EdgeConv(mlp(2 * F_IN, 4)))
    with pytest.raises(UnsupportedConvError, match="EdgeConv"):
        edge_mask(model, keep, mode="message")
    assert not model.conv1._propagate_forward_pre_hooks
    # remove mode is exact for every conv, EdgeConv included
    edge = EdgeConv(mlp(2 * F_IN, 4)).eval()
    with torch.no_grad():
        deleted = edge(x, ei[:, keep])
        with edge_mask(edge, keep, mode="remove"):
            assert maxdiff(edge(x, ei), deleted) == 0.0


def test_register_conv_declares_a_custom_conv():
    class MyConv(EdgeConv):
        pass

    conv = MyConv(mlp(2 * F_IN, 4), aggr="add")
    with pytest.raises(UnsupportedConvError, match="MyConv"):
        message_rule(conv)
    register_conv(MyConv, "plain")
    assert message_rule(conv) == "sum"
    ei, x, _, keep = random_graph(seed=10)
    with torch.no_grad():
        deleted = conv(x, ei[:, keep])
        with edge_mask(conv, keep, mode="message"):
            assert maxdiff(conv(x, ei), deleted) <= ATOL
    with pytest.raises(ValueError, match="kind must be one of"):
        register_conv(MyConv, "max")


def test_bad_masks_and_modes_raise_clear_errors():
    ei, x, _, keep = random_graph(seed=11)
    conv = SAGEConv(F_IN, 4)
    e = ei.size(1)
    with pytest.raises(ValueError, match="mode must be one of 'remove', 'weight', 'message'"):
        edge_mask(conv, keep, mode="soft")
    cases = [
        (torch.rand(e + 1), ValueError, f"{e + 1} entries.*{e} edges"),
        (torch.ones(e, dtype=torch.long), TypeError, "torch.bool"),
        (torch.ones(e, 1), ValueError, "1-D"),
        (torch.full((e,), 1.5), ValueError, r"\[0, 1\].*nothing is clipped"),
        (torch.full((e,), -0.1), ValueError, r"\[0, 1\]"),
        (torch.full((e,), float("nan")), ValueError, "non-finite"),
    ]
    for mask, error, pattern in cases:
        with pytest.raises(error, match=pattern), edge_mask(conv, mask, mode="message"):
            conv(x, ei)
    with pytest.raises(ValueError, match="only 0 and 1"), edge_mask(conv, keep * 0.5, "remove"):
        conv(x, ei)
    with pytest.raises(TypeError, match="mask must be"):
        edge_mask(conv, keep.tolist(), mode="message")
    with pytest.raises(ValueError, match="no MessagePassing"):
        edge_mask(nn.Linear(2, 2), keep, mode="message")
    assert EDGE_MASK_MODES == ("remove", "weight", "message")


# ------------------------------------------------------------------------------------------
# tied directions and trainable masks
# ------------------------------------------------------------------------------------------

def test_tied_directions_round_trip():
    ei, _, tied, keep = random_graph(seed=12)
    assert tied.num_edges == ei.size(1) and tied.num_pairs == ei.size(1) // 2
    assert bool((tied.pairs[0] <= tied.pairs[1]).all())
    both = ei[:, tied.edge_to_pair == 3]
    assert sorted(both.t().tolist()) == sorted([tied.pairs[:, 3].tolist(),
                                                tied.pairs[:, 3].flip(0).tolist()])
    pair_mask = tied.reduce(keep)
    assert torch.equal(tied.expand(pair_mask), keep) and tied.is_symmetric(keep)
    soft = torch.rand(tied.num_pairs)
    assert torch.equal(tied.reduce(tied.expand(soft)), soft)
    one_way = keep.clone()
    first = int(torch.nonzero(keep)[0])
    one_way[first] = False
    assert not tied.is_symmetric(one_way)
    with pytest.raises(ValueError, match="not symmetric: 1 of"):
        tied.reduce(one_way)
    assert int(tied.reduce(one_way, "min").sum()) == int(pair_mask.sum()) - 1
    assert torch.equal(tied.reduce(one_way, "max"), pair_mask)
    # gradients of an expanded pair mask sum over the two directions
    p = torch.rand(tied.num_pairs, requires_grad=True)
    tied.expand(p).sum().backward()
    assert torch.equal(p.grad, torch.full_like(p, 2.0))
    # directed: every direction is its own unit; self-loops and parallel copies
    directed = tie_directions(ei, directed=True)
    assert directed.num_pairs == ei.size(1)
    assert torch.equal(directed.pairs[:, directed.edge_to_pair], ei)
    multi = torch.tensor([[0, 1, 0, 2], [1, 0, 1, 2]])
    t = tie_directions(multi)
    assert t.edge_to_pair.tolist() == [0, 0, 0, 1] and t.is_loop.tolist() == [False, True]
    with pytest.raises(ValueError, match="num_nodes"):
        tie_directions(multi, num_nodes=2)


def test_trainable_edge_mask_for_ugs():
    ei, x, tied, _ = random_graph(seed=13)
    model = BACKBONES["gcn"][0]()
    mask = TrainableEdgeMask(tied=tied)
    assert mask.num_edges == ei.size(1) and mask.values.shape == (tied.num_pairs,)
    opt = torch.optim.SGD(list(model.parameters()) + list(mask.parameters()), lr=0.5)
    with edge_mask(model, mask, mode="message"):
        for _ in range(2):                                  # the mask is re-read every step
            opt.zero_grad()
            model(x, ei).square().sum().backward()
            assert mask.values.grad is not None and bool((mask.values.grad != 0).any())
            opt.step()
            mask.clamp_()
    assert tied.is_symmetric(mask().detach())
    # values pushed above 1 are refused, not clipped
    with torch.no_grad():
        mask.values.add_(2.0)
    with pytest.raises(ValueError, match="TrainableEdgeMask.clamp_"), \
            edge_mask(model, mask, mode="message"):
        model(x, ei)
    mask.clamp_()
    # a pruning round with the shared toolkit; pruned units are exactly 0 and get no gradient
    kept = topk_masks({"edges": mask.values.detach().abs()}, 0.5, within={"edges": mask.kept})
    mask.set_kept(kept["edges"])
    mask.values.grad = None
    with edge_mask(model, mask, mode="message"):
        model(x, ei).square().sum().backward()
    assert bool((mask.values.grad[~mask.kept] == 0).all())
    assert bool((mask()[~mask.kept_edges()] == 0).all())
    with torch.no_grad():
        deleted = model(x, ei[:, mask.kept_edges()])
        with edge_mask(model, mask.kept_edges(), mode="remove"):
            assert maxdiff(model(x, ei), deleted) <= ATOL
    with pytest.raises(ValueError, match="exactly one of"):
        TrainableEdgeMask(4, tied=tied)
    with pytest.raises(ValueError, match="kept must be"):
        mask.set_kept(torch.ones(3, dtype=torch.bool))


def test_gat_with_mean_filled_loop_features_is_refused_in_soft_modes():
    from torch_geometric.nn import GATConv

    from graphsparse.gnn.edges import UnsupportedConvError, edge_mask

    conv = GATConv(4, 4, heads=1, edge_dim=3, fill_value="mean")
    mask = torch.ones(2)
    with pytest.raises(UnsupportedConvError, match="fill_value='mean'"):
        with edge_mask(conv, mask, mode="message"):
            pass
    ok = GATConv(4, 4, heads=1, edge_dim=3, fill_value=0.0)
    with edge_mask(ok, mask, mode="message"):
        pass
