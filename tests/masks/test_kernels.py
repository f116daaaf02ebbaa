import copy

import pytest
import torch
from torch import nn

from graphsparse.masks import attach, csr_layers, csr_linear, masks_of
from graphsparse.topology.dynamic import SET, RigL
from graphsparse.topology import SparseMLP, load_digits, train


def _masked_net(seed=0, bias=True):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(30, 40, bias=bias), nn.ReLU(), nn.Linear(40, 20, bias=bias),
                        nn.ReLU(), nn.Linear(20, 5, bias=bias))
    attach(net, {"0.weight": torch.rand(40, 30, generator=g) < 0.1,
                 "2.weight": torch.rand(20, 40, generator=g) < 0.15,
                 "4.weight": torch.rand(5, 20, generator=g) < 0.9})
    return net


def _grads(net, x):
    net.zero_grad()
    x = x.clone().requires_grad_(True)
    net(x).square().sum().backward()
    return x.grad, {n: p.grad.clone() for n, p in net.named_parameters()}


@pytest.mark.parametrize("bias", [True, False])
def test_csr_outputs_and_gradients_equal_the_dense_path(bias):
    net = _masked_net(bias=bias)
    x = torch.randn(7, 30)
    y = net(x)
    gx, grads = _grads(net, x)
    with csr_linear(net) as names:
        assert names == ["0", "2"]                  # layer 4 keeps ~90%: stays dense
        torch.testing.assert_close(net(x), y, rtol=1e-5, atol=1e-6)
        gx2, grads2 = _grads(net, x)
    torch.testing.assert_close(gx2, gx, rtol=1e-5, atol=1e-6)
    assert grads.keys() == grads2.keys()
    for n in grads:
        torch.testing.assert_close(grads2[n], grads[n], rtol=1e-5, atol=1e-6)
    # the raw weight's gradient is exactly zero where the mask is False
    raw = net[0].parametrizations.weight.original
    assert torch.all(grads2["0.parametrizations.weight.original"][~net[0].weight.ne(0) & ~masks_of(net)["0.weight"]] == 0)
    assert raw.shape == (40, 30)


def test_csr_handles_leading_dimensions_and_restores_forward_on_error():
    net = _masked_net()
    x = torch.randn(2, 3, 30)
    y = net(x)
    with pytest.raises(RuntimeError, match="boom"):
        with csr_linear(net, max_density=1.0) as names:
            assert names == ["0", "2", "4"]
            torch.testing.assert_close(net(x), y, rtol=1e-5, atol=1e-6)
            raise RuntimeError("boom")
    assert all("forward" not in m.__dict__ for m in net.modules())
    assert torch.equal(net(x), y)
    copy.deepcopy(net)                              # nothing left behind that breaks copies


def test_csr_pattern_follows_mask_updates_inside_the_context():
    net = _masked_net()
    x = torch.randn(4, 30)
    g = torch.Generator().manual_seed(5)
    new = torch.rand(40, 30, generator=g) < 0.1
    with csr_linear(net):
        net(x)
        attach(net, {"0.weight": new})             # in-place mask update (as SET does)
        inside = net(x)
    torch.testing.assert_close(inside, net(x), rtol=1e-5, atol=1e-6)
    assert torch.equal(masks_of(net)["0.weight"], new)


def test_csr_layer_selection_and_bad_input():
    net = _masked_net()
    attach(net, {"2.weight": torch.ones(20, 40, dtype=torch.bool)})
    assert csr_layers(net) == ["0"]                  # dense mask: above max_density
    trainable = attach(nn.Linear(10, 10), {"weight": torch.eye(10, dtype=torch.bool)},
                       trainable=True)
    assert csr_layers(trainable) == []             # trainable masks keep the dense path
    assert csr_layers(nn.Linear(3, 3)) == []
    for bad in (0.0, 1.5, -1):
        with pytest.raises(ValueError, match=r"max_density must be a number in \(0, 1\]"):
            csr_layers(net, bad)
    with pytest.raises(TypeError, match=r"max_density must be a number in \(0, 1\]"):
        csr_layers(net, "x")


def test_train_csr_matches_dense_training_and_is_deterministic():
    data = load_digits()

    def run(kernel, callback=None, epochs=2):
        net = SparseMLP.random_graph([64, 100, 100, 10], epsilon=5, seed=0, dropout=0.2)
        kept = {n: int(m.sum()) for n, m in masks_of(net).items()}
        rows = train(net, data, epochs=epochs, lr=0.05, seed=0, set_callback=callback,
                     kernel=kernel, progress=False)
        assert {n: int(m.sum()) for n, m in masks_of(net).items()} == kept
        return net, rows

    dense, rows_d = run("dense")
    csr, rows_c = run("csr")
    for (n, a), b in zip(dense.state_dict().items(), csr.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5, msg=n)
    assert abs(rows_d[-1]["loss"] - rows_c[-1]["loss"]) < 1e-5
    assert rows_d[-1]["test_acc"] == pytest.approx(rows_c[-1]["test_acc"], abs=0.01)
    # with SET the CSR path is bit-for-bit repeatable and keeps every layer's density
    a, _ = run("csr", SET(0.3, seed=0), epochs=3)
    b, _ = run("csr", SET(0.3, seed=0), epochs=3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_train_kernel_argument_is_checked():
    data = load_digits()
    net = SparseMLP.random_graph([64, 20, 10], density=0.1, seed=0)
    with pytest.raises(ValueError, match="kernel"):
        train(net, data, epochs=1, kernel="gpu", progress=False)
    with pytest.raises(ValueError, match="RigL"):
        train(net, data, epochs=1, kernel="csr", rigl_callback=RigL(0.3, end_step=10),
              progress=False)
