import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from graphsparse.masks import (
    attach,
    gradient_scores,
    magnitude_scores,
    masks_of,
    random_scores,
    snip_scores,
    synflow_scores,
)


def two_layer():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4, bias=False), nn.Linear(4, 2, bias=False))


def test_synflow_two_layer_linear_by_hand():
    net = two_layer()
    w1 = net[0].weight.detach().double().abs()   # (4, 3)
    w2 = net[1].weight.detach().double().abs()   # (2, 4)
    scores = synflow_scores(net, (3,))
    # R = 1ᵀ|W2||W1|1: dR/d|W1_ij| = Σ_k |W2_ki|, dR/d|W2_ki| = Σ_j |W1_ij|
    expect1 = w1 * w2.sum(dim=0)[:, None]
    expect2 = w2 * w1.sum(dim=1)[None, :]
    torch.testing.assert_close(scores["0.weight"], expect1)
    torch.testing.assert_close(scores["1.weight"], expect2)
    # a concrete number: W1 = [[1,2]], W2 = [[3],[-4]] -> S1 = [[7,14]], S2 = [[9],[12]]
    small = nn.Sequential(nn.Linear(2, 1, bias=False), nn.Linear(1, 2, bias=False))
    with torch.no_grad():
        small[0].weight.copy_(torch.tensor([[1.0, -2.0]]))
        small[1].weight.copy_(torch.tensor([[3.0], [-4.0]]))
    s = synflow_scores(small, torch.zeros(5, 2))
    assert s["0.weight"].tolist() == [[7.0, 14.0]]
    assert s["1.weight"].tolist() == [[9.0], [12.0]]
    # the user's model is untouched (signs, dtype)
    assert small[0].weight.dtype == torch.float32 and small[0].weight[0, 1].item() == -2.0


def test_synflow_respects_masks():
    net = two_layer()
    m = torch.ones(4, 3, dtype=torch.bool)
    m[0] = False
    attach(net, {"0.weight": m})
    s = synflow_scores(net, (3,))
    assert bool((s["0.weight"][0] == 0).all())
    assert bool((s["1.weight"][:, 0] == 0).all())   # neuron 0 has no input flow
    assert torch.equal(masks_of(net)["0.weight"], m)


def test_gradient_and_snip_match_autograd():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3))
    x, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
    ref = copy.deepcopy(net)
    F.cross_entropy(ref(x), y).backward()
    g = {"0.weight": ref[0].weight.grad, "2.weight": ref[2].weight.grad}
    w = {"0.weight": ref[0].weight.detach(), "2.weight": ref[2].weight.detach()}
    loss = lambda m: F.cross_entropy(m(x), y)  # noqa: E731
    gs = gradient_scores(net, loss)
    for n in g:
        torch.testing.assert_close(gs[n], (w[n] * g[n]).abs())
    plain = gradient_scores(net, loss, times_weight=False)
    for n in g:
        torch.testing.assert_close(plain[n], g[n].abs())
    snip = snip_scores(net, loss)
    total = sum(float((w[n] * g[n]).abs().sum()) for n in g)
    for n in g:
        torch.testing.assert_close(snip[n], ((w[n] * g[n]).abs() / total).double())
    assert sum(float(s.sum()) for s in snip.values()) == pytest.approx(1.0)
    assert all(p.grad is None for p in net.parameters())   # user's model untouched


def test_gradient_scores_on_masked_model_give_dense_gradient():
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(4, 3))
    m = torch.ones(3, 4, dtype=torch.bool)
    m[1, 2] = False
    attach(net, {"0.weight": m})
    x = torch.randn(6, 4)
    loss = lambda mod: mod(x).pow(2).sum()  # noqa: E731
    taylor = gradient_scores(net, loss)
    dense_grad = gradient_scores(net, loss, times_weight=False)
    assert taylor["0.weight"][1, 2] == 0
    assert dense_grad["0.weight"][1, 2] > 0


def test_magnitude_random_and_scope():
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2), nn.Linear(2, 2))
    lin = magnitude_scores(net)
    assert list(lin) == ["0.weight", "2.weight"]
    every = magnitude_scores(net, scope="all")
    assert list(every) == ["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]
    assert torch.equal(lin["0.weight"], net[0].weight.detach().abs())
    r1, r2 = random_scores(net, seed=5), random_scores(net, seed=5)
    assert all(torch.equal(r1[n], r2[n]) for n in r1)
    only = magnitude_scores(net, names=["2.weight"])
    assert list(only) == ["2.weight"]
    with pytest.raises(KeyError, match="match no tensor"):
        magnitude_scores(net, names=["3.weight"])
    with pytest.raises(ValueError, match="scalar"):
        gradient_scores(net[0], lambda m: m(torch.ones(2, 3)))
