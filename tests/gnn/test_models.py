"""Tests of graphsparse.gnn.models: backbones, task wrappers, the factory and saving.

Small configurations only (hidden 8-16, graphs of a few dozen nodes). Edge-mask modes are
checked against real edge deletion, as in test_edge_masks; sparse input features against the
same model on the dense features.
"""

from __future__ import annotations

import pytest
import torch
from torch_geometric.utils import to_undirected

from graphsparse.gnn.edges import UnsupportedConvError, edge_mask, tie_directions
from graphsparse.gnn.models import (
    GAT,
    GCN,
    GIN,
    MODEL_NAMES,
    GraphModel,
    GraphSAGE,
    LinearFirstGINConv,
    LinearFirstSAGEConv,
    LinkModel,
    build_model,
    default_config,
    load_gnn,
    model_from_config,
    save_gnn,
)
from graphsparse.masks import attach, masks_of, named_tensors, random_scores, topk_masks

N, F_IN, C = 30, 12, 3

pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support:UserWarning")



@pytest.fixture
def graph():
    g = torch.Generator().manual_seed(0)
    edge_index = to_undirected(torch.randint(0, N, (2, 80), generator=g), num_nodes=N)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    x = torch.rand(N, F_IN, generator=g)
    x[x < 0.7] = 0.0  # bag-of-words-like: mostly zeros
    return x, edge_index


def _model(name, **cfg):
    torch.manual_seed(0)
    return build_model(name, F_IN, C, hidden=16, **cfg).eval()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_node_backbone_shapes_and_classes(name, graph):
    x, edge_index = graph
    model = _model(name)
    assert type(model) is {"gcn": GCN, "gin": GIN, "gat": GAT, "sage": GraphSAGE}[name]
    assert model(x, edge_index).shape == (N, C)
    assert model.num_layers == 2
    deep = _model(name, num_layers=3)
    assert deep.num_layers == 3 and deep(x, edge_index).shape == (N, C)
    single = _model(name, num_layers=1)
    assert single(x, edge_index).shape == (N, C)


def test_defaults_follow_ugs_teddy():
    gcn = build_model("gcn", 1433, 7)
    assert [tuple(c.lin.weight.shape) for c in gcn.convs] == [(512, 1433), (7, 512)]
    assert all(c.bias is None for c in gcn.convs)
    gat = build_model("gat", 1433, 7)
    first, last = gat.convs
    assert (first.heads, first.out_channels, first.concat) == (8, 64, True)
    assert (last.heads, last.concat) == (1, False)
    assert first.dropout == 0.6 and gat.dropout == 0.6 and gat.input_dropout == 0.6
    gin = build_model("gin", 10, 3)
    assert isinstance(gin.convs[0], LinearFirstGINConv) and len(gin.convs[0].nn) == 3
    assert isinstance(build_model("sage", 10, 3).convs[0], LinearFirstSAGEConv)
    assert default_config("sage", "link")["bias"] is True


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_sparse_features_give_the_dense_result(name, graph):
    x, edge_index = graph
    model = _model(name)
    dense = model(x, edge_index)
    sparse = model(x.to_sparse_csr(), edge_index)
    assert torch.allclose(dense, sparse, atol=1e-5)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_sparse_features_train(name, graph):
    x, edge_index = graph
    model = _model(name).train()
    out = model(x.to_sparse_csr(), edge_index)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def _modes(name):
    return ("remove", "message", "weight") if name == "gcn" else ("remove", "message")


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("sparse_x", [False, True])
def test_edge_mask_modes_equal_edge_deletion(name, sparse_x, graph):
    x, edge_index = graph
    model = _model(name)
    tied = tie_directions(edge_index)
    keep = tied.expand(torch.arange(tied.num_pairs) % 3 != 0)
    inp = x.to_sparse_csr() if sparse_x else x
    reference = model(inp, edge_index[:, keep])
    for mode in _modes(name):
        mask = keep if mode == "remove" else keep.float()
        with edge_mask(model, mask, mode=mode):
            out = model(inp, edge_index)
        assert torch.allclose(out, reference, atol=1e-5), mode


@pytest.mark.parametrize("name", ["gin", "gat", "sage"])
def test_weight_mode_refused_where_inexact(name, graph):
    model = _model(name)
    with pytest.raises(UnsupportedConvError):
        edge_mask(model, torch.ones(graph[1].size(1)), mode="weight")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_soft_edge_mask_gets_gradient(name, graph):
    x, edge_index = graph
    model = _model(name)
    mask = torch.full((edge_index.size(1),), 0.5, requires_grad=True)
    with edge_mask(model, mask, mode="message"):
        model(x, edge_index).pow(2).sum().backward()
    assert mask.grad is not None and bool(mask.grad.abs().sum() > 0)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_link_model(name, graph):
    x, edge_index = graph
    torch.manual_seed(0)
    featureless = build_model(name, 0, 1, task="link", hidden=8, num_nodes=N)
    assert isinstance(featureless, LinkModel)
    h = featureless(None, edge_index)
    pairs = torch.tensor([[0, 1, 2], [3, 4, 5]])
    assert h.shape == (N, 8) and featureless.decode(h, pairs).shape == (3,)
    with pytest.raises(ValueError, match="pass x=None"):
        featureless(x, edge_index)
    dot = build_model(name, F_IN, 1, task="link", hidden=8, decoder="dot")
    h = dot(x, edge_index)
    assert torch.allclose(dot.decode(h, pairs), (h[pairs[0]] * h[pairs[1]]).sum(-1))
    with edge_mask(dot, torch.ones(edge_index.size(1), dtype=torch.bool), mode="remove"):
        assert dot(x, edge_index).shape == (N, 8)


def test_link_model_arguments():
    with pytest.raises(ValueError, match="num_nodes is required"):
        build_model("gcn", 0, 1, task="link")
    with pytest.raises(ValueError, match="only for featureless"):
        build_model("gcn", 5, 1, task="link", num_nodes=10)
    with pytest.raises(ValueError, match="out_dim must be 1"):
        build_model("gcn", 5, 2, task="link")
    with pytest.raises(ValueError, match="decoder must be one of 'mlp', 'dot'"):
        build_model("gcn", 5, 1, task="link", decoder="cosine")


def _molecules(count=3):
    g = torch.Generator().manual_seed(1)
    sizes = [4, 5, 3][:count]
    xs, edges, attrs, batch, offset = [], [], [], [], 0
    for i, n in enumerate(sizes):
        xs.append(torch.randint(0, 2, (n, 9), generator=g))
        ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n]) + offset
        ring = to_undirected(ring)
        edges.append(ring)
        attrs.append(torch.randint(0, 2, (ring.size(1), 3), generator=g))
        batch.append(torch.full((n,), i))
        offset += n
    return torch.cat(xs), torch.cat(edges, 1), torch.cat(attrs), torch.cat(batch)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_graph_model(name):
    x, edge_index, edge_attr, batch = _molecules()
    torch.manual_seed(0)
    model = build_model(name, 9, 2, task="graph", hidden=16).eval()
    assert isinstance(model, GraphModel)
    assert model.config["edge_features"] is (name in ("gin", "gat"))
    out = model(x, edge_index, edge_attr, batch)
    assert out.shape == (3, 2)
    keep = torch.arange(edge_index.size(1)) % 2 == 0
    reference = model(x, edge_index[:, keep], edge_attr[keep], batch)
    with edge_mask(model, keep.float(), mode="message"):
        assert torch.allclose(model(x, edge_index, edge_attr, batch), reference, atol=1e-5)
    plain = build_model(name, 6, 1, task="graph", hidden=8, encoder="linear")
    assert plain(torch.randn(12, 6), edge_index, None, batch).shape == (3, 1)


def test_graph_model_arguments():
    with pytest.raises(ValueError, match="edge_features=True needs"):
        build_model("gcn", 9, 1, task="graph", edge_features=True)
    with pytest.raises(ValueError, match="9 atom-feature columns"):
        build_model("gin", 5, 1, task="graph")
    model = build_model("gin", 9, 1, task="graph", hidden=8)
    x, edge_index, _, batch = _molecules()
    with pytest.raises(ValueError, match="pass edge_attr"):
        model(x, edge_index, None, batch)


def test_unknown_names_and_options_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown model 'mlp'; valid models: 'gcn', 'gin', "
                                         "'gat', 'sage'"):
        build_model("mlp", 4, 2)
    with pytest.raises(ValueError, match="unknown task 'edge'; valid tasks: 'node', 'link', "
                                         "'graph'"):
        build_model("gcn", 4, 2, task="edge")
    with pytest.raises(ValueError, match="unknown option\\(s\\) 'heads' for model 'gcn'"):
        build_model("gcn", 4, 2, heads=2)
    with pytest.raises(ValueError, match="divisible by heads"):
        build_model("gat", 4, 2, hidden=10, heads=4)
    with pytest.raises(ValueError, match="hidden must be an int >= 1"):
        build_model("gcn", 4, 2, hidden=0)
    with pytest.raises(ValueError, match="dropout must be a number in \\[0, 1\\)"):
        build_model("sage", 4, 2, dropout=1.0)
    assert type(build_model("GCN", 4, 2, hidden=4)) is GCN


@pytest.mark.parametrize("name,task,in_dim,out_dim,extra", [
    ("gcn", "node", 7, 3, {}), ("gin", "node", 7, 3, {"mlp_layers": 1}),
    ("gat", "link", 0, 1, {"num_nodes": 9, "heads": 2}), ("sage", "graph", 9, 2, {}),
])
def test_config_rebuilds_the_model(name, task, in_dim, out_dim, extra):
    model = build_model(name, in_dim, out_dim, task=task, hidden=8, **extra)
    again = model_from_config(model.config)
    assert again.config == model.config
    assert {k: v.shape for k, v in again.state_dict().items()} == \
        {k: v.shape for k, v in model.state_dict().items()}


def test_save_and_load_with_weight_masks(tmp_path, graph):
    x, edge_index = graph
    model = _model("gcn")
    weights = named_tensors(model, "linear")
    masks = topk_masks(random_scores(model, seed=0), 0.5, scope="global")
    assert set(masks) == set(weights)
    attach(model, masks)
    path = save_gnn(tmp_path / "gcn.pt", model, seed=3)
    loaded = load_gnn(path).eval()
    assert loaded.config == model.config
    assert all(torch.equal(masks_of(loaded)[n], masks[n]) for n in masks)
    assert torch.equal(loaded(x, edge_index), model(x, edge_index))
    with pytest.raises(ValueError, match="no config from build_model"):
        save_gnn(tmp_path / "x.pt", torch.nn.Linear(2, 2))


def test_weight_init_torch_draws_every_linear_map_as_nn_linear():
    """weight_init="torch": each linear weight is nn.Linear's kaiming-uniform (bound 1/√fan_in)
    instead of PyG's glorot (bound √(6/(fan_in+fan_out))); recorded in the config, rebuilt from
    it, and absent from the config at the default."""
    import math

    torch.manual_seed(0)
    pyg = build_model("gcn", 1433, 7, hidden=512)
    torch.manual_seed(0)
    ref = build_model("gcn", 1433, 7, hidden=512, weight_init="torch")
    assert "weight_init" not in pyg.config and ref.config["weight_init"] == "torch"
    for conv_pyg, conv_ref in zip(pyg.convs, ref.convs):
        fan_out, fan_in = conv_ref.lin.weight.shape
        torch_bound, glorot = 1 / math.sqrt(fan_in), math.sqrt(6 / (fan_in + fan_out))
        assert float(conv_ref.lin.weight.abs().max()) <= torch_bound
        assert float(conv_ref.lin.weight.abs().max()) > 0.95 * torch_bound
        assert float(conv_pyg.lin.weight.abs().max()) > 0.95 * glorot > torch_bound
    assert model_from_config(ref.config).config == ref.config
    sage = build_model("sage", 16, 3, hidden=8, bias=True, weight_init="torch")
    first = sage.convs[0]
    biases = [m.bias for m in first.modules()
              if isinstance(getattr(m, "bias", None), torch.nn.Parameter)]
    assert biases and all(float(b.abs().max()) <= 1 / math.sqrt(16) for b in biases)
    with pytest.raises(ValueError, match="weight_init must be one of"):
        build_model("gcn", 8, 2, weight_init="xavier")


def _ugs_dense_operator(edge_index, weight, n):
    """UGS's reference ``torch_normalize_adj`` on the dense weighted adjacency: ``Â = A + I``,
    ``D`` from the row sums of ``Â``, propagation matrix ``D^-1/2 Âᵀ D^-1/2``."""
    adj = torch.zeros(n, n)
    adj[edge_index[0], edge_index[1]] = weight
    adj = adj + torch.eye(n)
    inv = adj.sum(1).pow(-0.5)
    return (adj @ torch.diag(inv)).t() @ torch.diag(inv)


def test_out_degree_gcn_is_ugs_dense_operator_and_differs_from_pyg_only_when_asymmetric():
    from torch_geometric.nn import GCNConv

    from graphsparse.gnn.models import OutDegreeGCNConv

    gen = torch.Generator().manual_seed(0)
    n = 7
    ei = to_undirected(torch.randint(0, n, (2, 14), generator=gen), num_nodes=n)
    ei = ei[:, ei[0] != ei[1]]
    x = torch.randn(n, 5, generator=gen)
    conv = OutDegreeGCNConv(5, 3, bias=True)
    torch.nn.init.normal_(conv.bias)
    reference = GCNConv(5, 3, bias=True)
    reference.load_state_dict(conv.state_dict())
    asymmetric = torch.rand(ei.size(1), generator=gen)
    expected = _ugs_dense_operator(ei, asymmetric, n) @ conv.lin(x) + conv.bias
    assert torch.allclose(conv(x, ei, asymmetric), expected, atol=1e-5)
    assert not torch.allclose(reference(x, ei, asymmetric), expected, atol=1e-3)
    units = tie_directions(ei, n)
    symmetric = torch.rand(units.num_pairs, generator=gen)[units.edge_to_pair]
    assert torch.allclose(conv(x, ei, symmetric), reference(x, ei, symmetric), atol=1e-5)


def test_gcn_degree_out_builds_the_same_weights_and_round_trips():
    from graphsparse.gnn.models import OutDegreeGCNConv
    from graphsparse.gnn.train import spmm_propagation

    torch.manual_seed(3)
    plain = build_model("gcn", F_IN, C, hidden=16)
    after_plain = torch.rand(3)
    torch.manual_seed(3)
    out = build_model("gcn", F_IN, C, hidden=16, gcn_degree="out")
    assert torch.equal(torch.rand(3), after_plain)      # no extra draws from the generator
    assert all(type(c) is OutDegreeGCNConv for c in out.convs)
    assert out.config["gcn_degree"] == "out" and "gcn_degree" not in plain.config
    for a, b in zip(plain.state_dict().values(), out.state_dict().values()):
        assert torch.equal(a, b)            # the same θ₀
    assert model_from_config(out.config).config == out.config
    assert not spmm_propagation(out)        # the CSR fast path normalises by in-degrees
    with pytest.raises(ValueError, match="applies to GCN only"):
        build_model("gat", F_IN, C, hidden=16, gcn_degree="out")
    with pytest.raises(ValueError, match="gcn_degree must be one of"):
        build_model("gcn", F_IN, C, gcn_degree="both")


def test_out_degree_gcn_soft_untied_mask_equals_the_dense_operator(graph):
    """A soft mask with one entry per direction reaches the out-degree normalisation through
    the edge-mask hooks (rule "weight"), and a binary one equals removing the edges."""
    from graphsparse.gnn.models import OutDegreeGCNConv

    x, ei = graph
    conv = OutDegreeGCNConv(x.size(1), 4, bias=False)
    gen = torch.Generator().manual_seed(1)
    soft = torch.rand(ei.size(1), generator=gen)
    with edge_mask(conv, soft, mode="message"):
        masked = conv(x, ei)
    expected = _ugs_dense_operator(ei, soft, x.size(0)) @ conv.lin(x)
    assert torch.allclose(masked, expected, atol=1e-5)
    keep = torch.rand(ei.size(1), generator=gen) > 0.4
    with edge_mask(conv, keep.float(), mode="message"):
        hard = conv(x, ei)
    assert torch.allclose(hard, conv(x, ei[:, keep]), atol=1e-5)
