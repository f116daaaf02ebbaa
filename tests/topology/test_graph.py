"""NetworkGraph constructors, exports and the forward-order tracer."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch import nn

import graphsparse.topology.graph.export as graph_export
from graphsparse.topology import NetworkGraph, UnsupportedLayerError, trace_model
from graphsparse.topology import metrics
from graphsparse.topology.graph import Block


def _dense(block: Block) -> np.ndarray:
    return block.mask.toarray()


def _random_masks(rng: np.random.Generator, widths: list[int], p: float = 0.4) -> list[np.ndarray]:
    return [rng.random((b, a)) < p for a, b in zip(widths[:-1], widths[1:])]


# ----------------------------------------------------------------------------------- from_masks
def test_from_masks_list_layout_and_offsets():
    rng = np.random.default_rng(0)
    masks = _random_masks(rng, [4, 6, 3])
    g = NetworkGraph.from_masks(masks)
    assert g.sizes == (4, 6, 3)
    assert g.level_names == ("input", "0", "1")
    assert g.offsets.tolist() == [0, 4, 10, 13]
    assert g.num_nodes == 13 and g.num_levels == 3
    for block, mask in zip(g.blocks, masks):
        assert block.shape == mask.shape
        np.testing.assert_array_equal(_dense(block), mask)
        assert block.edge_weight is None
    assert metrics.num_edges(g) == sum(int(m.sum()) for m in masks)
    assert g.node_level().tolist() == [0] * 4 + [1] * 6 + [2] * 3
    assert g.node_index().tolist() == list(range(4)) + list(range(6)) + list(range(3))


def test_from_masks_dict_torch_and_weights():
    w1 = torch.tensor([[0.5, 0.0, -2.0], [0.0, 0.0, 1.0]])
    w2 = torch.tensor([[True, False]])
    g = NetworkGraph.from_masks({"fc1": w1, "fc2": w2})
    assert g.level_names == ("input", "fc1", "fc2")
    assert [b.name for b in g.blocks] == ["fc1", "fc2"]
    np.testing.assert_allclose(g.blocks[0].edge_weight, [0.5, 2.0, 1.0])
    assert g.blocks[1].edge_weight is None


def test_from_masks_scipy_and_conv_masks():
    import scipy.sparse as sp

    g = NetworkGraph.from_masks([sp.csr_array(np.array([[1.0, 0.0], [3.0, -4.0]]))])
    np.testing.assert_allclose(g.blocks[0].edge_weight, [1.0, 3.0, 4.0])
    conv = np.zeros((3, 2, 3, 3), dtype=bool)
    conv[0, 1, 0, 0] = conv[0, 1, 2, 2] = conv[2, 0, 1, 1] = True
    c = NetworkGraph.from_masks([conv]).blocks[0]
    np.testing.assert_array_equal(_dense(c), conv.any((2, 3)))
    assert c.edge_count.tolist() == [2, 1]
    assert c.spectral_matrix.shape == (3, 18)
    np.testing.assert_array_equal(c.spectral_matrix.toarray(), conv.reshape(3, -1))


@pytest.mark.parametrize(
    "masks, match",
    [
        ([], "at least one mask"),
        ([np.ones((3, 4), bool), np.ones((2, 5), bool)], r"masks\[1\] has 5 inputs .* masks\[0\] has 3 outputs"),
        ({"a": np.ones((3, 4), bool), "b": np.ones((2, 2), bool)}, r"masks\['b'\] has 2 inputs"),
        ([np.ones((0, 4), bool)], r"masks\[0\] .*width must be >= 1"),
        ([np.ones((3,), bool)], r"masks\[0\] must be 2-D"),
    ],
)
def test_from_masks_bad_input(masks, match):
    with pytest.raises(ValueError, match=match):
        NetworkGraph.from_masks(masks)


def test_from_masks_bad_types():
    with pytest.raises(TypeError, match="masks must be a list"):
        NetworkGraph.from_masks(np.ones((2, 2)))
    with pytest.raises(TypeError, match=r"masks\[0\] must be a torch.Tensor"):
        NetworkGraph.from_masks([[[1, 0]]])


def test_constructor_validation():
    block = NetworkGraph.from_masks([np.ones((2, 3), bool)]).blocks[0]
    with pytest.raises(ValueError, match="sizes: every layer width must be >= 1"):
        NetworkGraph([3, 0], [block])
    with pytest.raises(ValueError, match="blocks: block '0' has shape"):
        NetworkGraph([3, 4], [block])
    with pytest.raises(ValueError, match="at least 2 levels"):
        NetworkGraph([3], [block])
    with pytest.raises(ValueError, match="kind="):
        Block("x", 0, 1, block.mask, kind="weird")


# ------------------------------------------------------------------------------------- exports
def test_exports_round_trip():
    rng = np.random.default_rng(1)
    masks = _random_masks(rng, [5, 7, 4, 2], p=0.5)
    g = NetworkGraph.from_masks([m * rng.normal(size=m.shape) for m in masks])
    adj = g.to_scipy()
    assert adj.shape == (g.num_nodes, g.num_nodes) and adj.nnz == metrics.num_edges(g)
    for b in g.blocks:  # block (out, in) sits transposed at [src rows, dst cols]
        sub = adj[g.offsets[b.src] : g.offsets[b.src + 1]][:, g.offsets[b.dst] : g.offsets[b.dst + 1]]
        np.testing.assert_array_equal(sub.toarray().T != 0, _dense(b))
    weighted = g.to_scipy(weighted=True)
    np.testing.assert_allclose(np.sort(weighted.data), np.sort(np.concatenate([b.edge_weight for b in g.blocks])))

    G = g.to_networkx()
    assert G.number_of_nodes() == g.num_nodes and G.number_of_edges() == metrics.num_edges(g)
    assert {(u, v) for u, v in G.edges} == set(zip(*adj.nonzero()))
    assert all(G.nodes[i]["layer"] == l for i, l in enumerate(g.node_level()))
    u, v = next(iter(G.edges))
    assert G.edges[u, v]["weight"] == pytest.approx(weighted[u, v])

    data = g.to_pyg()
    assert data.num_nodes == g.num_nodes
    assert data.edge_index.shape == (2, metrics.num_edges(g))
    assert {tuple(e) for e in data.edge_index.t().tolist()} == set(zip(*adj.nonzero()))
    assert data.layer.tolist() == g.node_level().tolist()
    assert data.edge_weight.dtype == torch.float32 and data.edge_weight.shape == (metrics.num_edges(g),)


def test_to_networkx_warns_on_large_graphs(monkeypatch):
    monkeypatch.setattr(graph_export, "NETWORKX_EDGE_WARN", 5)
    g = NetworkGraph.from_masks([np.ones((3, 3), bool)])
    with pytest.warns(UserWarning, match="to_networkx"):
        g.to_networkx()


# ------------------------------------------------------------------------------------- from_dag
def test_from_dag_with_skip_edge():
    dag = nx.DiGraph()
    dag.add_weighted_edges_from([("a", "c", 1.0), ("b", "c", -2.0), ("c", "d", 0.5), ("a", "d", 3.0), ("c", "e", 1.0)])
    g = NetworkGraph.from_dag(dag)
    assert g.sizes == (2, 1, 2)
    assert [(b.src, b.dst) for b in g.blocks] == [(0, 1), (0, 2), (1, 2)]
    skip = g.blocks[1]
    assert skip.dst - skip.src == 2 and skip.nnz == 1 and skip.edge_weight.tolist() == [3.0]
    assert g.node_labels == ("a", "b", "c", "d", "e")
    G = g.to_networkx()
    back = {(G.nodes[u]["label"], G.nodes[v]["label"]) for u, v in G.edges}
    assert back == set(dag.edges)
    weights = {(G.nodes[u]["label"], G.nodes[v]["label"]): d["weight"] for u, v, d in G.edges(data=True)}
    assert weights[("b", "c")] == 2.0
    # a path through the skip edge a -> d counts
    assert metrics.path_counts(g).counts.tolist() == [3, 2]


def test_from_dag_bad_input():
    with pytest.raises(TypeError, match="dag must be a networkx.DiGraph"):
        NetworkGraph.from_dag(nx.Graph([(0, 1)]))
    with pytest.raises(ValueError, match="acyclic"):
        NetworkGraph.from_dag(nx.DiGraph([(0, 1), (1, 0)]))
    with pytest.raises(ValueError, match="at least one edge"):
        NetworkGraph.from_dag(nx.DiGraph())


# ----------------------------------------------------------------------------------- from_model
def _mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Dropout(0.1), nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 2))
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, nn.Linear):
                layer.weight.mul_(torch.rand_like(layer.weight) < 0.5)
    return net


def test_from_model_unmasked_uses_nonzero_weights():
    net = _mlp()
    g = NetworkGraph.from_model(net)
    expected = NetworkGraph.from_masks([net[0].weight != 0, net[3].weight != 0, net[5].weight != 0])
    assert g.sizes == (6, 5, 4, 2)
    assert g.level_names == ("input", "0", "3", "5")
    for b, e, layer in zip(g.blocks, expected.blocks, (net[0], net[3], net[5])):
        np.testing.assert_array_equal(_dense(b), _dense(e))
        assert b.kind == "linear" and b.weight_shape == tuple(layer.weight.shape)
        np.testing.assert_allclose(b.edge_weight, layer.weight.detach().abs().numpy()[_dense(b)])


def test_from_model_with_attached_masks():
    from graphsparse.masks import attach

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4, 5), nn.ReLU(), nn.Linear(5, 3))
    conv_mask = torch.rand(3, 2, 3, 3) < 0.3
    lin_mask = torch.rand(5, 12) < 0.5
    lin_mask[0, 0] = True
    attach(net, {"0.weight": conv_mask, "3.weight": lin_mask})
    with torch.no_grad():  # a kept weight that is exactly zero (e.g. RigL regrowth) is still an edge
        net[3].parametrizations.weight.original[0, 0] = 0.0
        net[5].weight[1, :] = 0.0  # unmasked layer: zeros are absent edges
    g = NetworkGraph.from_model(net)
    assert g.sizes == (2, 3, 5, 3)
    np.testing.assert_array_equal(_dense(g.blocks[0]), conv_mask.any(-1).any(-1).numpy())
    np.testing.assert_array_equal(g.blocks[0].spectral_matrix.toarray(), conv_mask.reshape(3, -1).numpy())
    np.testing.assert_array_equal(_dense(g.blocks[1]), lin_mask.reshape(5, 3, 4).any(-1).numpy())
    assert g.blocks[1].edge_count.sum() == lin_mask.sum()
    np.testing.assert_array_equal(_dense(g.blocks[2]), (net[5].weight != 0).numpy())
    assert g.blocks[2].in_degree()[1] == 0
    counts = g.to_pyg().edge_count
    assert int(counts.sum()) == int(conv_mask.sum() + lin_mask.sum() + (net[5].weight != 0).sum())
    assert sum(d["count"] for *_, d in g.to_networkx().edges(data=True) if "count" in d) == conv_mask.sum() + lin_mask.sum()


class _Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc0, self.fc1, self.fc2, self.fc3 = nn.Linear(5, 6), nn.Linear(6, 6), nn.Linear(6, 6), nn.Linear(6, 3)

    def forward(self, x):
        h = torch.relu(self.fc0(x))
        y = self.fc2(torch.relu(self.fc1(h))) + h
        return self.fc3(torch.nn.functional.relu(y))


def test_trace_and_graph_of_identity_residual():
    model = _Residual()
    t = trace_model(model)
    assert [(l.name, l.in_group, l.out_group) for l in t.layers] == [
        ("fc0", 0, 1), ("fc1", 1, 2), ("fc2", 2, 3), ("fc3", 3, 4)
    ]
    assert not t.is_sequential
    identity = [s for s in t.skips if s.kind == "identity"]
    assert [(s.src_group, s.dst_group) for s in identity] == [(1, 3)]
    g = NetworkGraph.from_model(model)
    assert [b.kind for b in g.blocks] == ["linear"] * 4 + ["identity"]
    assert metrics.num_edges(g) == 5 * 6 + 6 * 6 + 6 * 6 + 6 * 3  # identity edges are not weights
    assert g.to_networkx().number_of_edges() == metrics.num_edges(g) + 6
    # dense: 5 inputs; paths through fc1->fc2 (6*6 per fc2 unit) plus the identity bypass
    assert metrics.path_counts(g).counts.tolist() == [6 * (5 * 6 * 6 + 5)] * 3


class _BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, groups=2, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.BatchNorm2d(c_out)) if c_in != c_out else None

    def forward(self, x):
        identity = x
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return torch.relu(out)


class _TinyResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.block1 = _BasicBlock(4, 4)
        self.block2 = _BasicBlock(4, 8)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(8 * 4, 10)

    def forward(self, x):
        x = self.block2(self.block1(torch.relu(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def test_trace_resnet_like_conv_model():
    torch.manual_seed(0)
    model = _TinyResNet()
    t = trace_model(model)
    assert t.method == "fx"
    layers = {l.name: l for l in t.layers}
    assert [g.size for g in t.groups] == [3, 4, 4, 4, 8, 8, 10]
    assert layers["block2.downsample.0"].in_group == 3 and layers["block2.downsample.0"].out_group == 5
    assert layers["block2.conv2"].out_group == 5  # main path and projection write the same sum
    assert layers["fc"].in_factor == 4
    assert layers["block1.conv1"].norms == ("block1.bn1",)
    assert layers["block2.downsample.0"].norms == ("block2.downsample.1",)
    assert [(s.kind, s.src_group, s.dst_group) for s in t.skips if s.kind == "identity"] == [("identity", 1, 3)]
    assert {n.name for n in t.norms} >= {"block1.bn1", "block2.downsample.1"}


def test_conv_channel_and_unrolled_views_match_brute_force():
    torch.manual_seed(0)
    model = _TinyResNet()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.mul_(torch.rand_like(m.weight) < 0.3)
    g = NetworkGraph.from_model(model)
    blocks = {b.name: b for b in g.blocks}
    assert blocks["block2.downsample.0"].dst - blocks["block2.downsample.0"].src == 2  # a skip block
    for name in ("stem", "block1.conv1", "block2.conv1", "block2.downsample.0"):
        w = model.get_submodule(name).weight.detach()
        b = blocks[name]
        np.testing.assert_array_equal(_dense(b), (w != 0).any(-1).any(-1).numpy())
        np.testing.assert_array_equal(b.spectral_matrix.toarray(), (w != 0).reshape(w.shape[0], -1).numpy())
        counts = (w != 0).sum((2, 3)).numpy()
        assert b.edge_count.tolist() == counts[counts > 0].tolist()
        norms = (w.double() ** 2).sum((2, 3)).sqrt().numpy()
        np.testing.assert_allclose(b.edge_weight, norms[counts > 0])
    # grouped conv (groups=2): 8 out channels, 4 in channels per group, block-diagonal structure
    w = model.block2.conv2.weight.detach()
    full = np.zeros((8, 8), dtype=bool)
    full[:4, :4] = (w[:4] != 0).any(-1).any(-1).numpy()
    full[4:, 4:] = (w[4:] != 0).any(-1).any(-1).numpy()
    b = blocks["block2.conv2"]
    np.testing.assert_array_equal(_dense(b), full)
    assert b.possible == 8 * 4 and b.spectral_matrix.shape == (8, 4 * 9)
    # Linear after flatten: channel c <-> columns 4c .. 4c+3
    w = model.fc.weight.detach()
    np.testing.assert_array_equal(_dense(blocks["fc"]), (w != 0).reshape(10, 8, 4).any(-1).numpy())
    assert blocks["fc"].spectral_matrix.shape == (10, 32)


class _Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(4, 3), nn.Linear(3, 2)

    def forward(self, x):
        h = self.a(x)
        if h.sum() > 0:  # data-dependent control flow: torch.fx cannot trace this
            h = torch.relu(h)
        return self.b(h)


def test_fx_failure_falls_back_to_hooks():
    model = _Branchy()
    with pytest.raises(ValueError, match="example_input"):
        trace_model(model)
    with pytest.warns(UserWarning, match="forward hooks"):
        t = trace_model(model, torch.randn(2, 4))
    assert t.method == "hooks" and t.is_sequential
    assert [l.name for l in t.layers] == ["a", "b"] and [g.size for g in t.groups] == [4, 3, 2]
    with pytest.warns(UserWarning):
        assert NetworkGraph.from_model(model, torch.randn(2, 4)).sizes == (4, 3, 2)


def test_unsupported_layers_and_ops_are_named():
    named = r"'1' \(Conv1d\) is not supported; supported layers: Linear, Conv2d,"
    with pytest.raises(UnsupportedLayerError, match=named):
        trace_model(nn.Sequential(nn.Linear(4, 4), nn.Conv1d(1, 1, 1)))

    class Cat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return torch.cat([self.fc(x), x], dim=1)

    with pytest.raises(UnsupportedLayerError, match="operation 'cat'"):
        trace_model(Cat())

    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x))

    with pytest.raises(UnsupportedLayerError, match="called more than once"):
        trace_model(Shared())


def test_single_layer_model():
    layer = nn.Linear(3, 2)
    t = trace_model(layer)
    assert t.method == "module" and t.layers[0].weight_name == "weight" and t.is_sequential
    with torch.no_grad():
        layer.weight[0, 1] = 0.0
    g = NetworkGraph.from_model(layer)
    assert g.sizes == (3, 2) and metrics.num_edges(g) == 5 and g.level_names == ("input", "model")


def test_model_without_linear_layers():
    with pytest.raises(ValueError, match="model: no Linear or Conv2d layer"):
        NetworkGraph.from_model(nn.Sequential(nn.ReLU(), nn.Dropout()))
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        trace_model("not a model")


def test_mismatched_widths_in_model():
    net = nn.Sequential(nn.Linear(4, 3), nn.Linear(5, 2))
    with pytest.raises(ValueError, match=r"layer '1' \(Linear, in_features=5\)"):
        trace_model(net)


class _BranchyBN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.bn, self.b = nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2)

    def forward(self, x):
        h = self.bn(self.a(x))
        if h.sum() > 0:  # data-dependent control flow: torch.fx cannot trace this
            h = torch.relu(h)
        return self.b(h)


def test_hooks_fallback_leaves_batchnorm_statistics_and_modes_alone():
    model = _BranchyBN().train()
    model.b.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.warns(UserWarning, match="forward hooks"):
        trace_model(model, torch.randn(8, 4) * 5 + 3)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training and model.bn.training and not model.b.training


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_from_masks_rejects_non_finite_entries(bad):
    mask = torch.ones(3, 2)
    mask[1, 0] = bad
    with pytest.raises(ValueError, match="non-finite values"):
        NetworkGraph.from_masks({"fc": mask})


# ------------------------------------------------------------------- dense mask -> CSR fast path
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (7, 9), (64, 64), (100, 333), (1, 5000), (5000, 1), (300, 301)])
@pytest.mark.parametrize("density", [0.0, 0.01, 0.05, 0.3, 1.0])
def test_flat_nonzero_and_csr_from_dense_match_numpy(shape, density):
    from graphsparse.topology.graph._csr import csr_from_dense, flat_nonzero

    mask = np.random.default_rng(shape[0] * 7 + shape[1]).random(shape) < density
    for arr in (mask, mask.T, mask[:, ::-1]):  # C-contiguous, transposed and strided views
        assert np.array_equal(flat_nonzero(arr), np.flatnonzero(arr))
        csr = csr_from_dense(arr)
        ref = sp.csr_array(arr)
        assert csr.has_canonical_format and np.array_equal(csr.indptr, ref.indptr)
        assert np.array_equal(csr.indices, ref.indices) and csr.nnz == ref.nnz


def test_from_masks_numeric_and_torch_inputs_give_reference_blocks():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(40, 70)) * (rng.random((40, 70)) < 0.05)
    g = NetworkGraph.from_masks({"w": w, "t": torch.from_numpy(rng.random((5, 40)) < 0.5)})
    ref = sp.csr_array(w)
    b = g.blocks[0]
    assert np.array_equal(b.mask.indptr, ref.indptr) and np.array_equal(b.mask.indices, ref.indices)
    assert np.array_equal(b.edge_weight, np.abs(ref.data))
    assert np.array_equal(_dense(g.blocks[1]), g.blocks[1].mask.toarray())


def test_degrees_are_cached_and_returned_as_copies():
    rng = np.random.default_rng(4)
    g = NetworkGraph.from_masks(_random_masks(rng, [30, 20, 10]))
    G = g.to_networkx()
    din = metrics.in_degree(g)
    din[:] = -1  # a caller mutating its result must not corrupt the cache
    b = g.blocks[0]
    b.out_degree()[:] = -1
    assert metrics.in_degree(g).tolist() == [G.in_degree(v) for v in range(g.num_nodes)]
    assert metrics.out_degree(g).tolist() == [G.out_degree(v) for v in range(g.num_nodes)]
    assert b.out_degree().tolist() == b.mask.toarray().sum(0).tolist()
    assert b.in_degree().dtype == np.int64 and b.out_degree().dtype == np.int64
