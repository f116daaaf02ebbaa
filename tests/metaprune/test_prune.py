import math
import warnings

import pytest
import torch
from torch import nn

from graphsparse.masks import macs, masks_of
from graphsparse.metaprune.prune import (
    fine_tune,
    group_norms,
    prune_structured,
    prune_unstructured,
)
from graphsparse.topology.datasets import Dataset

# MLP 20-16-12-4: 592 parameters; a neuron of layer "0" carries 20 + 1 + 12 = 33 of them.
MLP_PARAMS = 20 * 16 + 16 + 16 * 12 + 12 + 12 * 4 + 4


def mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 12), nn.ReLU(),
                         nn.Linear(12, 4))


def cnn(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 6, 3, padding=1),
                        nn.BatchNorm2d(6), nn.ReLU(), nn.Conv2d(6, 8, 3, padding=1),
                        nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(8 * 16, 10), nn.ReLU(), nn.Linear(10, 3))
    with torch.no_grad():                      # non-trivial BatchNorm gammas and statistics
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.running_var.uniform_(0.5, 2.0)
    return net


def snapshot(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in net.state_dict().items()}


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_params_ratio_target_met_and_input_untouched():
    net, x = mlp(), torch.randn(5, 20)
    before = snapshot(net)
    with warnings.catch_warnings():
        warnings.simplefilter("error")         # a neuron is <= 33/592 < 0.06 of the parameters
        r = prune_structured(net, x, params_ratio=0.5, tolerance=0.06)
    assert 0.5 - 0.06 <= r.params_ratio <= 0.5
    assert r.params == sum(t.numel() for t in r.model.parameters())
    assert r.params_ratio == r.params / MLP_PARAMS
    assert r.macs == macs(r.model, x[:1]).dense and r.macs_ratio == r.macs / macs(net, x[:1]).dense
    assert r.model is not net and r.model(x).shape == (5, 4)
    assert r.model[4].out_features == 4                      # the head keeps its outputs
    assert same_state(before, net.state_dict()) and net[0].out_features == 16
    assert r.summary() == {"method": "group_norm", "target": 0.5, "target_kind": "params_ratio",
                           "params": r.params, "params_ratio": r.params_ratio, "macs": r.macs,
                           "macs_ratio": r.macs_ratio}


def test_macs_ratio_target_met_on_cnn_with_unflatten():
    net, x = cnn(), torch.randn(4, 64)
    before = snapshot(net)
    r = prune_structured(net, x, macs_ratio=0.5, tolerance=0.2)   # a conv channel is ~16% of MACs
    assert 0.3 <= r.macs_ratio <= 0.5
    assert r.macs == macs(r.model, x[:1]).dense
    assert r.model(x).shape == (4, 3) and not r.model.training
    assert r.model[1].out_channels < 6 or r.model[4].out_channels < 8
    assert r.model[2].num_features == r.model[1].out_channels           # BN follows its conv
    assert r.model[9].in_features == 16 * r.model[4].out_channels       # flatten is remapped
    assert same_state(before, net.state_dict())


def test_zero_neuron_is_the_one_removed():
    net, x, j = mlp(), torch.randn(3, 20), 5
    with torch.no_grad():                      # every weight has |w| >= 1 except neuron j's
        for layer in (net[0], net[2], net[4]):
            layer.weight.copy_(layer.weight.sign() * (1 + layer.weight.abs()))
        net[0].weight[j] = 0
        net[2].weight[:, j] = 0
    r = prune_structured(net, x, params_ratio=(MLP_PARAMS - 33) / MLP_PARAMS, tolerance=0.0)
    assert r.params == MLP_PARAMS - 33
    keep = [i for i in range(16) if i != j]
    assert torch.equal(r.model[0].weight, net[0].weight[keep])
    assert torch.equal(r.model[0].bias, net[0].bias[keep])
    assert torch.equal(r.model[2].weight, net[2].weight[:, keep])
    for i in (2, 4):
        assert torch.equal(r.model[i].bias, net[i].bias)
    assert torch.equal(r.model[4].weight, net[4].weight)


def test_coarse_granularity_warns():
    # the cheapest neuron holds 21 of 592 parameters, so a target half a neuron below 1 misses
    with pytest.warns(UserWarning, match="below the target"):
        prune_structured(mlp(), torch.randn(2, 20), params_ratio=1 - 10.5 / MLP_PARAMS)


def test_ignored_layers_keep_their_outputs():
    net = mlp()
    r = prune_structured(net, torch.randn(2, 20), params_ratio=0.5, ignored=[net[2]])
    assert r.model[2].out_features == 12 and r.model[0].out_features < 16


def test_unstructured_exact_counts_biases_and_fine_tune():
    net, x = mlp(), torch.randn(2, 20)
    before = snapshot(net)
    s, n = 0.7, 20 * 16 + 16 * 12 + 12 * 4
    kept = n - math.floor(s * n + 1e-9)
    r = prune_unstructured(net, s, example_input=x)
    masks = masks_of(r.model)
    assert sorted(masks) == ["0.weight", "2.weight", "4.weight"]
    assert sum(int(m.sum()) for m in masks.values()) == kept
    assert r.params == kept + 16 + 12 + 4 and r.params_ratio == r.params / MLP_PARAMS
    assert r.macs == kept and r.macs_ratio == kept / n                  # Linear: 1 MAC per weight
    for i in (0, 2, 4):
        assert torch.equal(r.model[i].bias, net[i].bias)
    assert same_state(before, net.state_dict()) and not masks_of(net)

    local = prune_unstructured(net, s, example_input=x, scope="local")
    for name, m in masks_of(local.model).items():
        assert int(m.sum()) == m.numel() - math.floor(s * m.numel() + 1e-9), name

    gen = torch.Generator().manual_seed(0)
    data = Dataset("toy", torch.rand(48, 20, generator=gen), torch.randint(4, (48,), generator=gen),
                   torch.rand(16, 20, generator=gen), torch.randint(4, (16,), generator=gen),
                   4, 0, 0.25)
    assert fine_tune(r.model, data, epochs=0) == []
    history = fine_tune(r.model, data, epochs=1, batch_size=16, lr=1e-2)
    assert len(history) == 1 and history[0]["train_acc"] is None
    for name, m in masks.items():
        w = r.model.get_submodule(name.split(".")[0]).weight
        assert bool((w[~m] == 0).all()) and not torch.equal(w[m], before[name][m])


def test_group_norms_shapes_formula_and_zero_neuron():
    net, x = mlp(), torch.randn(2, 20)
    g = group_norms(net, x)
    assert {k: tuple(v.shape) for k, v in g.items()} == {"0": (16,), "2": (12,)}
    # torch-pruning's GroupMagnitudeImportance(p=2): mean over the coupled slices of sum w^2,
    # divided by the layer mean
    w0, w2, w4 = (net[i].weight.detach() for i in (0, 2, 4))
    raw0 = (w0.pow(2).sum(1) + w2.pow(2).sum(0)) / 2
    raw2 = (w2.pow(2).sum(1) + w4.pow(2).sum(0)) / 2
    assert torch.allclose(g["0"], raw0 / raw0.mean()) and torch.allclose(g["2"], raw2 / raw2.mean())
    p1 = group_norms(net, x, p=1)["0"]
    raw = (w0.abs().sum(1) + w2.abs().sum(0)) / 2
    assert torch.allclose(p1, raw / raw.mean())

    c = cnn()
    gc = group_norms(c, torch.randn(2, 64))
    assert {k: tuple(v.shape) for k, v in gc.items()} == {"1": (6,), "4": (8,), "9": (10,)}
    k4, bn4, fc = c[4].weight.detach(), c[5].weight.detach(), c[9].weight.detach()
    raw4 = (k4.pow(2).flatten(1).sum(1) + bn4.pow(2) + fc.pow(2).sum(0).view(8, 16).sum(1)) / 3
    assert torch.allclose(gc["4"], raw4 / raw4.mean())

    with torch.no_grad():
        net[2].weight[7] = 0
        net[4].weight[:, 7] = 0
    g = group_norms(net, x)
    assert g["2"][7] == 0 and int(torch.cat([g["0"], g["2"]]).argmin()) == 16 + 7


def test_bad_inputs_name_the_argument():
    net, x = mlp(), torch.randn(2, 20)
    with pytest.raises(ValueError, match="exactly one of params_ratio and macs_ratio"):
        prune_structured(net, x)
    with pytest.raises(ValueError, match="exactly one of params_ratio and macs_ratio"):
        prune_structured(net, x, params_ratio=0.5, macs_ratio=0.5)
    for bad in (0.0, 1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"params_ratio must be a number in \(0, 1\]"):
            prune_structured(net, x, params_ratio=bad)
        with pytest.raises(ValueError, match=r"macs_ratio must be a number in \(0, 1\]"):
            prune_structured(net, x, macs_ratio=bad)
    # one neuron left per hidden layer: 20+1 + 1+1 + 4+4 = 31 parameters
    with pytest.raises(ValueError, match=r"smallest reachable params_ratio is 0\.05236"):
        prune_structured(net, x, params_ratio=0.01)
    with pytest.raises(ValueError, match="tolerance"):
        prune_structured(net, x, params_ratio=0.5, tolerance=-0.1)
    with pytest.raises(ValueError, match="p must be"):
        group_norms(net, x, p=0)
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"sparsity must be a number in \[0, 1\)"):
            prune_unstructured(net, bad, example_input=x)
    with pytest.raises(ValueError, match="epochs"):
        fine_tune(net, None, epochs=-1)


def test_structured_pruning_is_deterministic():
    x = torch.randn(2, 64)
    a = prune_structured(cnn(), x, macs_ratio=0.6, tolerance=0.2)
    b = prune_structured(cnn(), x, macs_ratio=0.6, tolerance=0.2)
    assert same_state(a.model.state_dict(), b.model.state_dict())
    assert a.summary() == b.summary()
