"""Metanetwork conversion (network <-> graph) and the metanetwork (arXiv 2506.12041, Sec. 3)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from graphsparse.masks import attach
from graphsparse.masks.io import CorruptFileError
from graphsparse.topology import UnsupportedLayerError
from graphsparse.metaprune import (
    EDGE_DIM,
    EDGE_TYPES,
    NODE_DIM,
    NODE_TYPES,
    GraphMismatchError,
    MetaNetwork,
    apply_metanet,
    from_graph,
    graph_to_state_dict,
    load_metanet,
    save_metanet,
    to_graph,
)


# ---------------------------------------------------------------------------------- networks
def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 5), nn.Tanh(), nn.Linear(5, 3))


def _randomise_bn(model: nn.Module) -> nn.Module:
    """Non-default BatchNorm statistics and affine, so the round trip tests real values."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                if m.track_running_stats:
                    m.running_mean.normal_()
                    m.running_var.uniform_(0.5, 2.0)
                    m.num_batches_tracked.fill_(7)
                if m.affine:
                    m.weight.normal_()
                    m.bias.normal_()
    return model


def _cnn() -> nn.Module:
    """Conv-BN-ReLU x 2, flatten, Linear; input [B, 1, 5, 5]."""
    torch.manual_seed(1)
    return _randomise_bn(nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(),
        nn.Flatten(), nn.Linear(6 * 5 * 5, 3),
    ))


class _ResCNN(nn.Module):
    """Stem, an identity-shortcut block, a projection-shortcut block (1x1 conv + BN), pool, Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(2, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.c1, self.b1 = nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)
        self.c2, self.b2 = nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)
        self.c3, self.b3 = nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(6)
        self.c4, self.b4 = nn.Conv2d(6, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6)
        self.down = nn.Sequential(nn.Conv2d(4, 6, 1, stride=2, bias=False), nn.BatchNorm2d(6))
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(6 * 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.stem(x)))
        x = F.relu(self.b2(self.c2(F.relu(self.b1(self.c1(x))))) + x)
        x = F.relu(self.b4(self.c4(F.relu(self.b3(self.c3(x))))) + self.down(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def _rescnn() -> nn.Module:
    torch.manual_seed(2)
    return _randomise_bn(_ResCNN())


def _assert_bit_exact(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert sa[k].dtype == sb[k].dtype and torch.equal(sa[k], sb[k]), k


def _rel_diff(a: nn.Module, b: nn.Module) -> float:
    """||theta_b - theta_a|| / ||theta_a|| over all floating-point state_dict entries."""
    sa, sb = a.state_dict(), b.state_dict()
    num = sum(float((sb[k] - sa[k]).pow(2).sum()) for k in sa if sa[k].is_floating_point())
    den = sum(float(sa[k].pow(2).sum()) for k in sa if sa[k].is_floating_point())
    return (num / den) ** 0.5


# ---------------------------------------------------------------------------------- round trip
@pytest.mark.parametrize("make, shape", [(_mlp, (2, 6)), (_cnn, (2, 1, 5, 5)), (_rescnn, (2, 2, 8, 8))])
def test_round_trip_bit_exact(make, shape):
    model = make().eval()
    x = torch.randn(shape)
    graph = to_graph(model, x)
    new = from_graph(graph, model)
    assert type(new) is type(model) and new is not model
    _assert_bit_exact(model, new)
    assert torch.equal(new(x), model(x))
    assert graph.x.shape == (graph.num_nodes, NODE_DIM) and graph.edge_attr.shape[1] == EDGE_DIM


def test_round_trip_variants():
    """BatchNorm without affine / running stats, grouped and depthwise convs, 1x1 and 2x2 kernels,
    float64, a model that is a single layer."""
    torch.manual_seed(7)
    models = [
        (nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8, affine=False), nn.ReLU(),
                       nn.Linear(8, 4), nn.BatchNorm1d(4, track_running_stats=False), nn.Linear(4, 2)), (3, 5)),
        (nn.Sequential(nn.Conv2d(4, 6, 3, groups=2), nn.ReLU(), nn.Conv2d(6, 6, 2, groups=6),
                       nn.Conv2d(6, 3, 1), nn.Flatten(), nn.Linear(3 * 3 * 3, 2)), (2, 4, 6, 6)),
        (nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).double(), (2, 4)),
        (nn.Linear(4, 3), (2, 4)),
    ]
    for model, shape in models:
        model = _randomise_bn(model).eval()
        x = torch.randn(shape, dtype=next(model.parameters()).dtype)
        graph = to_graph(model, x)
        assert graph.x.dtype == next(model.parameters()).dtype
        new = from_graph(graph, model)
        _assert_bit_exact(model, new)
        assert torch.equal(new(x), model(x))


class _Branchy(nn.Module):
    """Data-dependent control flow: torch.fx fails, the tracer falls back to forward hooks."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.bn, self.b = nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Linear(5, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.bn(self.a(x))
        if h.sum() > 0:
            h = h * 2
        return self.b(h)


def test_round_trip_hooks_fallback_keeps_batchnorm_statistics():
    model, x = _randomise_bn(_Branchy()).train(), torch.randn(4, 3)
    before = copy.deepcopy(model)
    with pytest.warns(UserWarning, match="forward hooks"):
        graph = to_graph(model, x)
    assert model.training and model.bn.training
    _assert_bit_exact(before, model)  # the tracer's forward pass ran in eval mode
    _assert_bit_exact(model, from_graph(graph, model))


def test_grouped_conv_edges():
    conv = nn.Sequential(nn.Conv2d(4, 6, 3, groups=2))
    g = to_graph(conv)
    assert g.edge_index.shape == (2, 6 * 2)  # only the connections that exist
    src, dst = g.edge_index - torch.tensor([[0], [4]])
    assert ((src // 2) == (dst // 3)).all()  # output channel o reads the input channels of its group


def test_mlp_graph_layout():
    model = _mlp()
    g = to_graph(model)
    assert g.num_nodes == 6 + 8 + 5 + 3
    assert g.edge_index.shape == (2, 6 * 8 + 8 * 5 + 5 * 3)
    types = [NODE_TYPES[t] for t in g.node_type.tolist()]
    assert types == ["input"] * 6 + ["linear"] * 13 + ["output"] * 3
    # edge o * F + f of layer 0 goes from input f to output o, weight at the kernel centre
    w = model[0].weight
    assert g.edge_index[:, 2 * 6 + 5].tolist() == [5, 6 + 2]
    assert g.edge_attr[2 * 6 + 5, 4] == w[2, 5]
    assert g.x[6:14, 0].tolist() == model[0].bias.tolist()
    assert torch.equal(g.x[6:, 1:5], torch.tensor([0.0, 1.0, 1.0, 0.0]).expand(16, 4))  # no BN: filler


def test_cnn_flatten_and_padding_mapping():
    model = _cnn()
    g = to_graph(model)
    lay = {l.name: l for l in g.layout.layers}
    assert lay["7"].in_factor == 25 and lay["7"].kind == "linear"
    fc = lay["7"]
    e = fc.edge_start + 2 * 150 + 3 * 25 + 7  # output 2, channel 3, spatial position 7
    assert g.edge_index[:, e].tolist() == [g.layout.node_ptr[2] + 3, g.layout.node_ptr[3] + 2]
    assert EDGE_TYPES[int(g.edge_type[e])] == "flatten"
    assert g.edge_attr[e, 4] == model[7].weight[2, 3 * 25 + 7]
    assert abs(float(g.edge_attr[e, 9]) - 7.5 / 25) < 1e-7
    # BatchNorm in the node features of the conv's output channels, slot 0
    bn = model[1]
    rows = g.x[1:5]
    for col, t in enumerate([model[0].bias, bn.running_mean, bn.running_var, bn.weight, bn.bias]):
        assert torch.equal(rows[:, col], t.detach())


def test_residual_identity_and_projection():
    model = _rescnn()
    g = to_graph(model)
    ident = g.edge_type == EDGE_TYPES.index("identity")
    assert int(ident.sum()) == 4  # one i -> i edge per channel of the identity shortcut
    assert torch.equal(g.edge_attr[ident, 4], torch.ones(4))
    lay = {l.name: l for l in g.layout.layers}
    assert lay["down.0"].slot == 1 and lay["c4"].slot == 0  # projection BN in writer slot 1
    assert lay["down.0"].out_start == lay["c4"].out_start
    rows = g.x[lay["c4"].out_start:lay["c4"].out_start + 6]
    assert torch.equal(rows[:, 5 + 3], model.down[1].weight.detach())
    assert torch.equal(rows[:, 3], model.b4.weight.detach())


def test_kernel_centre_padding_1x1():
    model = _rescnn()
    g = to_graph(model)
    lay = {l.name: l for l in g.layout.layers}["down.0"]
    rows = g.edge_attr[lay.edge_start:lay.edge_end, :9]
    assert torch.equal(rows[:, 4], model.down[0].weight.detach().reshape(-1))
    assert not rows[:, [0, 1, 2, 3, 5, 6, 7, 8]].any()


def test_masked_model_uses_effective_weights():
    model = _mlp()
    mask = torch.rand(8, 6) < 0.5
    attach(model, {"0.weight": mask})
    g = to_graph(model)
    state = graph_to_state_dict(g)
    assert torch.equal(state["0.weight"], model[0].weight.detach())
    new = from_graph(g, model)
    assert torch.equal(new[0].weight, model[0].weight)


# ---------------------------------------------------------------------------------- bad input
def test_unsupported_layer_named():
    model = nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.Linear(6, 2))
    with pytest.raises(UnsupportedLayerError, match=r"'1' \(LayerNorm\).*Linear, Conv2d, BatchNorm1d"):
        to_graph(model)
    with pytest.raises(UnsupportedLayerError, match="PReLU"):
        to_graph(nn.Sequential(nn.Linear(4, 6), nn.PReLU(), nn.Linear(6, 2)))
    with pytest.raises(UnsupportedLayerError, match=r"Conv1d.*metanetwork converter supports Linear, Conv2d"):
        to_graph(nn.Sequential(nn.Conv1d(1, 2, 3), nn.Flatten(), nn.Linear(6, 2)))
    with pytest.raises(UnsupportedLayerError, match="5x5 kernel"):
        to_graph(nn.Sequential(nn.Conv2d(1, 2, 5)))
    assert to_graph(nn.Sequential(nn.Conv2d(1, 2, 5)), kernel_size=5).edge_attr.shape[1] == 25 + 5


def test_mismatched_graph_and_network():
    g = to_graph(_mlp())
    wider = nn.Sequential(nn.Linear(6, 9), nn.ReLU(), nn.Linear(9, 5), nn.Tanh(), nn.Linear(5, 3))
    with pytest.raises(GraphMismatchError, match=r"'0.weight' has shape \(9, 6\) in the network"):
        from_graph(g, wider)
    with pytest.raises(GraphMismatchError, match="do not match"):
        from_graph(g, _cnn())
    broken = copy.copy(g)
    broken.x = g.x[:-1]
    with pytest.raises(GraphMismatchError, match="graph.x has shape"):
        from_graph(broken, _mlp())
    broken = copy.copy(g)
    del broken.layout
    with pytest.raises(GraphMismatchError, match="not made by to_graph"):
        from_graph(broken, _mlp())


# ---------------------------------------------------------------------------------- metanetwork
def _permute_mlp(model: nn.Module, p1: torch.Tensor, p2: torch.Tensor) -> nn.Module:
    new = copy.deepcopy(model)
    with torch.no_grad():
        new[0].weight.copy_(model[0].weight[p1]); new[0].bias.copy_(model[0].bias[p1])
        new[2].weight.copy_(model[2].weight[p2][:, p1]); new[2].bias.copy_(model[2].bias[p2])
        new[4].weight.copy_(model[4].weight[:, p2])
    return new


def _permute_cnn(model: nn.Module, p1: torch.Tensor, p2: torch.Tensor) -> nn.Module:
    """Permute the channels of both conv layers (and their BN) of :func:`_cnn`."""
    new = copy.deepcopy(model)
    cols = (p2[:, None] * 25 + torch.arange(25)).reshape(-1)
    with torch.no_grad():
        new[0].weight.copy_(model[0].weight[p1]); new[0].bias.copy_(model[0].bias[p1])
        new[3].weight.copy_(model[3].weight[p2][:, p1])
        for i, p in ((1, p1), (4, p2)):
            for t in ("weight", "bias", "running_mean", "running_var"):
                getattr(new[i], t).copy_(getattr(model[i], t)[p])
        new[7].weight.copy_(model[7].weight[:, cols])
    return new


def _rel_err(a: nn.Module, b: nn.Module) -> float:
    return _rel_diff(b, a)


@pytest.mark.parametrize("update", ["additive", "multiplicative"])
def test_metanet_scale_one_changes_network_and_is_equivariant_mlp(update):
    torch.manual_seed(3)
    metanet = MetaNetwork(scale=1.0, weight_update=update).eval()
    model = _mlp()
    out = apply_metanet(metanet, model)
    assert _rel_diff(model, out) >= 1e-2
    p1, p2 = torch.randperm(8), torch.randperm(5)
    out_p = apply_metanet(metanet, _permute_mlp(model, p1, p2))
    assert _rel_err(out_p, _permute_mlp(out, p1, p2)) <= 1e-5


@pytest.mark.parametrize("update", ["additive", "multiplicative"])
def test_metanet_equivariant_cnn_channels(update):
    torch.manual_seed(4)
    metanet = MetaNetwork(scale=1.0, weight_update=update).eval()
    model = _cnn().eval()
    out = apply_metanet(metanet, model)
    assert _rel_diff(model, out) >= 1e-2
    assert all(bool((m.running_var > 0).all()) for m in (out[1], out[4]))
    p1, p2 = torch.randperm(4), torch.randperm(6)
    out_p = apply_metanet(metanet, _permute_cnn(model, p1, p2))
    assert _rel_err(out_p, _permute_cnn(out, p1, p2)) <= 1e-5
    x = torch.randn(3, 1, 5, 5)  # the permuted output network computes the same function
    assert torch.allclose(_permute_cnn(out, p1, p2)(x), out(x), atol=1e-5)


@pytest.mark.parametrize("make", [_mlp, _rescnn])
def test_default_scale_close_to_identity(make):
    torch.manual_seed(5)
    metanet = MetaNetwork()
    assert metanet.scale == 1e-3
    model = make().eval()
    out = apply_metanet(metanet, model, torch.randn(2, 6) if make is _mlp else torch.randn(2, 2, 8, 8))
    assert 0 < _rel_diff(model, out) <= 5e-3


def test_metanet_gradients_reach_parameters():
    metanet = MetaNetwork(num_layers=2, hidden=8, scale=1.0)
    model = _mlp()
    state = graph_to_state_dict(metanet(to_graph(model)))
    x = torch.randn(4, 6)
    loss = torch.func.functional_call(model, state, (x,)).pow(2).mean()
    loss.backward()
    assert all(p.grad is not None for p in metanet.parameters())


def test_metanet_wrong_feature_width():
    with pytest.raises(ValueError, match="kernel_size"):
        MetaNetwork()(to_graph(nn.Sequential(nn.Conv2d(1, 2, 5)), kernel_size=5))
    with pytest.raises(ValueError, match="scale"):
        MetaNetwork(scale=0)


def test_metanet_save_load(tmp_path):
    torch.manual_seed(6)
    metanet = MetaNetwork(num_layers=2, hidden=16, scale=0.5)
    path = save_metanet(tmp_path / "m.pt", metanet, epoch=3)
    loaded, meta = load_metanet(path)
    assert meta == {"epoch": 3} and loaded.config() == metanet.config()
    for k, v in metanet.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)
    g = to_graph(_mlp())
    assert torch.equal(loaded(g).x, metanet(g).x)
    data = path.read_bytes()
    (tmp_path / "bad.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError):
        load_metanet(tmp_path / "bad.pt")
    from graphsparse.masks.io import save_file

    save_file(tmp_path / "odd.pt", "metanet", {"config": {"hidden": -1}, "state_dict": {}})
    with pytest.raises(CorruptFileError, match="do not build a MetaNetwork"):
        load_metanet(tmp_path / "odd.pt")
    save_file(tmp_path / "other.pt", "model", {"config": {}})
    with pytest.raises(CorruptFileError, match="expected 'metanet'"):
        load_metanet(tmp_path / "other.pt")


def test_multiplicative_update_is_a_gain_on_weights_only():
    torch.manual_seed(6)
    model = _mlp()
    with torch.no_grad():
        model[0].weight[0].zero_()
    g = to_graph(model)
    metanet = MetaNetwork(num_layers=1, hidden=8, scale=1.0, weight_update="multiplicative")
    with torch.no_grad():
        out = metanet(g)
        additive = MetaNetwork(num_layers=1, hidden=8, scale=1.0)
        additive.load_state_dict(metanet.state_dict())
        plus = additive(g)
    w, d = g.edge_attr[:, :9], plus.edge_attr[:, :9] - g.edge_attr[:, :9]
    torch.testing.assert_close(out.edge_attr[:, :9], w * (1 + d))     # w' = w (1 + d)
    torch.testing.assert_close(out.edge_attr[:, 9:], plus.edge_attr[:, 9:])   # other columns
    torch.testing.assert_close(out.x, plus.x)
    assert float(from_graph(out, model)[0].weight[0].abs().sum()) == 0.0     # zero stays zero
    assert metanet.config()["weight_update"] == "multiplicative"
    with pytest.raises(ValueError, match="weight_update"):
        MetaNetwork(weight_update="gated")
