import math

import pytest
import torch
from torch import nn

from graphsparse.masks.io import load_file
from graphsparse.metaprune import MetaNetwork, to_graph
from graphsparse.metaprune.train import (
    MetaTask,
    group_norms_of_graph,
    group_sparsity,
    hidden_nodes,
    load_train_state,
    meta_train,
    polarisation,
)
from graphsparse.topology.datasets import load_digits


@torch.no_grad()
def _cnn() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 16, 2))
    with torch.no_grad():
        net[1].weight.uniform_(0.5, 1.5)
        net[1].bias.uniform_(-1, 1)
    return net.eval()


def test_group_norms_equal_brute_force_on_a_cnn():
    net = _cnn()
    g = to_graph(net, torch.zeros(1, 1, 4, 4))
    norms = group_norms_of_graph(g).detach()
    conv1, bn, conv2, lin = net[0], net[1], net[3], net[6]
    start = g.layout.layers[0].out_start
    for c in range(3):
        expected = (conv1.weight[c].pow(2).sum() + conv1.bias[c] ** 2 + bn.weight[c] ** 2
                    + bn.bias[c] ** 2 + conv2.weight[:, c].pow(2).sum())
        assert math.isclose(float(norms[start + c]), float(expected.sqrt()), rel_tol=1e-5)
    start = g.layout.layers[1].out_start
    for c in range(4):   # channel c feeds 16 flatten positions of the Linear
        expected = (conv2.weight[c].pow(2).sum() + conv2.bias[c] ** 2
                    + lin.weight[:, c * 16:(c + 1) * 16].pow(2).sum())
        assert math.isclose(float(norms[start + c]), float(expected.sqrt()), rel_tol=1e-5)
    assert int(hidden_nodes(g).sum()) == 7


def test_group_sparsity_weights_weak_groups_harder():
    net = nn.Sequential(nn.Linear(1, 3, bias=False), nn.ReLU(), nn.Linear(3, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0], [2.0], [3.0]]))
        net[2].weight.zero_()
    g = to_graph(net)
    from graphsparse.metaprune import graph_to_state_dict
    r = group_sparsity(g, g, graph_to_state_dict(g), alpha=16.0)
    # norms 1, 2, 3 -> gamma = 16^((3 - n) / 2) = 16, 4, 1
    assert math.isclose(float(r), 0.5 * (16 * 1 + 4 * 4 + 1 * 9), rel_tol=1e-6)


def test_polarisation_counts_small_groups():
    net = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[0].bias.zero_()
        net[2].weight.fill_(1.0)
        net[0].weight[1].zero_()
        net[2].weight[:, 1].zero_()
    assert polarisation(to_graph(net)) == pytest.approx(1 / 5)
    with pytest.raises(ValueError, match="threshold"):
        polarisation(to_graph(net), threshold=1.5)


@pytest.fixture(scope="module")
def tasks():
    data = load_digits()
    out = []
    for s in range(2):
        torch.manual_seed(s)
        out.append(MetaTask(f"t{s}", nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)),
                            data))
    return out


def test_meta_train_resumes_bit_exactly_and_leaves_tasks_alone(tasks, tmp_path):
    before = [{k: v.clone() for k, v in t.model.state_dict().items()} for t in tasks]
    torch.manual_seed(0)
    full = MetaNetwork(num_layers=1, hidden=8, scale=0.1)
    torch.manual_seed(0)
    split = MetaNetwork(num_layers=1, hidden=8, scale=0.1)
    h_full = meta_train(full, tasks, steps=4, batch_size=16, reg=1e-3, progress=False)
    ckpt = tmp_path / "m.train"
    meta_train(split, tasks, steps=2, batch_size=16, reg=1e-3, checkpoint=ckpt, progress=False)
    h_split = meta_train(split, tasks, steps=4, batch_size=16, reg=1e-3, checkpoint=ckpt,
                         progress=False)
    assert [r["loss"] for r in h_split] == [r["loss"] for r in h_full]
    for a, b in zip(full.state_dict().values(), split.state_dict().values()):
        assert torch.equal(a, b)
    for t, sd in zip(tasks, before):
        assert all(torch.equal(sd[k], v) for k, v in t.model.state_dict().items())
    metanet, state = load_train_state(ckpt)
    assert state["step"] == 4 and len(state["history"]) == 4
    assert load_file(ckpt, "metanet-train")[0]["settings"]["reg"] == 1e-3
    with pytest.raises(ValueError, match="another meta-training run"):
        meta_train(MetaNetwork(num_layers=1, hidden=8, scale=0.1), tasks, steps=5, reg=0.5,
                   batch_size=16, checkpoint=ckpt, progress=False)


def test_meta_train_rejects_bad_arguments(tasks):
    m = MetaNetwork(num_layers=1, hidden=8)
    for kwargs, match in [({"steps": 0}, "steps"), ({"steps": 1, "reg": -1.0}, "reg"),
                          ({"steps": 1, "alpha": 0.5}, "alpha"), ({"steps": 1, "lr": 0.0}, "lr"),
                          ({"steps": 1, "batch_size": 0}, "batch_size")]:
        with pytest.raises(ValueError, match=match):
            meta_train(m, tasks, progress=False, **kwargs)
    with pytest.raises(ValueError, match="tasks"):
        meta_train(m, [], steps=1, progress=False)


def test_meta_training_reaches_batchnorm_statistics():
    """Eval-mode BatchNorm is rewritten as the same affine map (torch's batch_norm has no
    gradient for running statistics): outputs match, and the metanetwork's node decoder —
    which writes the statistics — receives gradient."""
    from graphsparse.metaprune import graph_to_state_dict
    from graphsparse.metaprune.train import _folded_norms

    net = _cnn()
    net.train()
    for _ in range(3):
        net(torch.rand(8, 1, 4, 4))
    net.eval()
    g = to_graph(net, torch.zeros(1, 1, 4, 4))
    x = torch.rand(5, 1, 4, 4)
    folded = _folded_norms(net, g.layout, graph_to_state_dict(g))
    torch.testing.assert_close(torch.func.functional_call(net, folded, (x,)), net(x))
    metanet = MetaNetwork(num_layers=1, hidden=8, scale=0.1)
    out = metanet(g)
    y = torch.func.functional_call(net, _folded_norms(net, g.layout, graph_to_state_dict(out)), (x,))
    y.sum().backward()
    assert float(metanet.node_dec[1][2].weight.grad.abs().sum()) > 0


class _Res(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.proj, self.out = (nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 4),
                                               nn.Linear(4, 2))

    def forward(self, x):
        return self.out(torch.relu(self.b(torch.relu(self.a(x))) + self.proj(x)))


def test_a_residual_sum_written_by_two_layers_is_one_group():
    torch.manual_seed(0)
    net = _Res()
    with torch.no_grad():
        for m in (net.b, net.proj):
            m.weight[1].zero_()
            m.bias[1] = 0.0
        net.out.weight[:, 1].zero_()
    g = to_graph(net, torch.zeros(1, 4))
    assert int(hidden_nodes(g).sum()) == 8                 # a's 4 neurons + the 4-neuron sum
    assert polarisation(g) == pytest.approx(1 / 8)         # not 2/12: the sum counted once
