import copy

import pytest
import torch
from torch import nn

from graphsparse.masks import (
    attach,
    bake,
    load_masked,
    mask_values_of,
    masks_of,
    random_scores,
    sparsity_report,
    topk_masks,
)


class Net(nn.Module):
    """A user's model class: code that must keep working unchanged."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU())
        self.head = nn.Linear(8, 3)
        self.emb = nn.Embedding(4, 6)

    def forward(self, x):
        return self.head(self.body(x))


def masked_net(sparsity=0.6, seed=0):
    torch.manual_seed(seed)
    net = Net()
    masks = topk_masks(random_scores(net, seed=seed), sparsity, scope="global")
    attach(net, masks)
    return net, masks


def test_attach_zeroes_and_masks_of_round_trip():
    net, masks = masked_net()
    assert list(masks) == ["body.0.weight", "body.2.weight", "head.weight"]
    got = masks_of(net)
    assert set(got) == set(masks)
    for n, m in masks.items():
        assert torch.equal(got[n], m)
        owner, _, t = n.rpartition(".")
        w = getattr(net.get_submodule(owner), t)
        assert bool((w[~m] == 0).all())


def test_deepcopy_keeps_masks_and_copies_are_independent():
    net, masks = masked_net()
    twin = copy.deepcopy(net)
    x = torch.randn(5, 6)
    torch.testing.assert_close(net(x), twin(x))
    assert all(torch.equal(masks_of(twin)[n], masks[n]) for n in masks)
    bake(twin)                                       # must not break the original
    torch.testing.assert_close(net(x), twin(x))
    other = copy.deepcopy(net)
    attach(other, {"head.bias": torch.tensor([True, False, True])})
    assert "head.bias" not in masks_of(net)
    assert net.head.bias[1] != 0


def test_load_masked_round_trip_into_fresh_model():
    net, masks = masked_net()
    sd = net.state_dict()
    assert "head.parametrizations.weight.original" in sd and "head.parametrizations.weight.0.mask" in sd
    fresh = Net()
    load_masked(fresh, sd)
    x = torch.randn(4, 6)
    torch.testing.assert_close(fresh(x), net(x))
    assert all(torch.equal(masks_of(fresh)[n], masks[n]) for n in masks)
    already = masked_net(seed=7)[0]                  # loading into a model masked differently
    load_masked(already, sd)
    torch.testing.assert_close(already(x), net(x))


def test_bake_restores_plain_names_and_loads_into_unmasked_class():
    net, masks = masked_net()
    x = torch.randn(4, 6)
    expected = net(x)
    bake(net)
    assert masks_of(net) == {}
    assert type(net.head) is nn.Linear
    sd = net.state_dict()
    assert "head.weight" in sd and not any("parametrizations" in k for k in sd)
    plain = Net()
    plain.load_state_dict(sd)                         # strict
    torch.testing.assert_close(plain(x), expected)
    assert int((plain.head.weight == 0).sum()) >= int((~masks["head.weight"]).sum())


def test_masked_entries_stay_zero_after_adam_with_weight_decay():
    net, masks = masked_net(0.8)
    opt = torch.optim.AdamW(net.parameters(), lr=0.1, weight_decay=0.5)
    x, y = torch.randn(16, 6), torch.randint(0, 3, (16,))
    for _ in range(10):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    opt2 = torch.optim.Adam(net.parameters(), lr=0.1, weight_decay=0.5)
    for _ in range(10):
        opt2.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt2.step()
    for n, m in masks.items():
        owner, _, t = n.rpartition(".")
        w = getattr(net.get_submodule(owner), t)
        assert bool((w[~m] == 0).all())
        assert bool((w[m] != 0).all())
    assert torch.equal(masks_of(net)["head.weight"], masks["head.weight"])


def test_trainable_masks_receive_gradients():
    torch.manual_seed(0)
    net = Net()
    m = torch.ones(3, 8, dtype=torch.bool)
    m[0, :4] = False
    attach(net, {"head.weight": m}, trainable=True, init=1.0)
    values = mask_values_of(net)
    assert list(values) == ["head.weight"]
    out = net(torch.randn(5, 6)).sum()
    out.backward()
    g = values["head.weight"].grad
    assert g is not None and bool((g[m] != 0).any())
    assert bool((g[~m] == 0).all())                   # pruned entries get no gradient
    assert bool((net.head.weight[~m] == 0).all())
    # the binary part can be tightened later without losing the values
    with torch.no_grad():
        values["head.weight"].mul_(0.5)
    m2 = m.clone()
    m2[1, 0] = False
    attach(net, {"head.weight": m2}, trainable=True)
    assert mask_values_of(net)["head.weight"][2, 2].item() == pytest.approx(0.5)
    # survives state_dict round trip and deepcopy
    fresh = Net()
    load_masked(fresh, net.state_dict())
    x = torch.randn(2, 6)
    torch.testing.assert_close(fresh(x), net(x))
    torch.testing.assert_close(copy.deepcopy(net)(x), net(x))
    with pytest.raises(ValueError, match="trainable mask"):
        attach(net, {"head.weight": m2})


def test_sparsity_report_scopes():
    net, masks = masked_net(0.5)
    lin = sparsity_report(net, "linear")
    assert [r["name"] for r in lin.rows] == ["body.0.weight", "body.2.weight", "head.weight"]
    assert lin.kept == sum(int(m.sum()) for m in masks.values())
    assert lin.numel == 48 + 64 + 24
    every = sparsity_report(net, "all")
    names = [r["name"] for r in every.rows]
    assert "head.bias" in names and "emb.weight" in names and len(names) == 7
    assert every.numel == 48 + 8 + 64 + 8 + 24 + 3 + 24
    assert every.sparsity < lin.sparsity
    assert "total" in str(lin) and lin.to_dict()["kept"] == lin.kept
    custom = sparsity_report(net, lambda name, owner, t: name.startswith("head"))
    assert [r["name"] for r in custom.rows] == ["head.weight", "head.bias"]


def test_attach_bad_input():
    net = Net()
    with pytest.raises(KeyError, match="matches no parameter"):
        attach(net, {"head.wieght": torch.ones(3, 8, dtype=torch.bool)})
    with pytest.raises(KeyError, match="did you mean"):
        attach(net, {"head.wieght": torch.ones(3, 8, dtype=torch.bool)})
    with pytest.raises(ValueError, match=r"shape \(8, 3\)"):
        attach(net, {"head.weight": torch.ones(8, 3, dtype=torch.bool)})
    with pytest.raises(TypeError, match="torch.bool"):
        attach(net, {"head.weight": torch.ones(3, 8)})
    with pytest.raises(ValueError, match="empty"):
        attach(net, {})
    assert masks_of(net) == {}                       # nothing half-attached


def test_load_masked_accepts_modules_that_save_their_own_weight():
    """PyG's Linear writes `<prefix>.weight` itself; a masked one's state_dict still loads."""
    from torch_geometric.nn.dense.linear import Linear as PygLinear

    torch.manual_seed(0)
    net = nn.Sequential(PygLinear(4, 3), nn.ReLU(), PygLinear(3, 2))
    mask = torch.tensor([[True, False, True, False]] * 3)
    attach(net, {"0.weight": mask})
    sd = net.state_dict()
    assert "0.weight" in sd and "0.parametrizations.weight.original" in sd
    fresh = nn.Sequential(PygLinear(4, 3), nn.ReLU(), PygLinear(3, 2))
    load_masked(fresh, sd)
    x = torch.randn(5, 4)
    torch.testing.assert_close(fresh(x), net(x))
    assert torch.equal(masks_of(fresh)["0.weight"], mask)
