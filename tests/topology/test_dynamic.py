import copy

import pytest
import torch
from torch import nn

from graphsparse.masks import attach, kept_count, masks_of, named_tensors, random_scores, topk_masks
from graphsparse.topology.dynamic import SET, RigL, cosine_drop_fraction, set_prune


def layer_with(weights: torch.Tensor, mask: torch.Tensor) -> nn.Sequential:
    net = nn.Sequential(nn.Linear(weights.shape[1], weights.shape[0], bias=False))
    with torch.no_grad():
        net[0].weight.copy_(weights)
    attach(net, {"0.weight": mask})
    return net


def test_set_sign_aware_removal_hand_made():
    # positives 0.01..0.04, 0.9; negatives -0.5..-0.9. zeta = 0.4 removes floor(0.4*5) = 2 of
    # each sign: the smallest positives (0.01, 0.02) and the largest negatives (-0.5, -0.6).
    # Plain magnitude pruning of 4 would instead remove 0.01, 0.02, 0.03, 0.04.
    w = torch.tensor([0.01, 0.02, 0.03, 0.04, 0.9, -0.5, -0.6, -0.7, -0.8, -0.9, 0.0, 0.0])
    mask = torch.ones(12, dtype=torch.bool)
    mask[10:] = False
    after = set_prune(w, mask, 0.4)
    assert torch.nonzero(mask & ~after).flatten().tolist() == [0, 1, 5, 6]
    # the callback: same removal, then 4 regrown at random empty positions, density constant
    net = layer_with(w[None], mask[None])
    (update,) = SET(zeta=0.4, seed=0).on_epoch_end(net)
    assert (update.dropped, update.grown, update.kept) == (4, 4, 10)
    new = masks_of(net)["0.weight"][0]
    assert int(new.sum()) == 10 and bool(new[[2, 3, 4, 7, 8, 9]].all())
    regrown = new & ~after
    assert int(regrown.sum()) == 4
    assert bool((net[0].weight[0][regrown] == 0).all())   # regrown start at zero (init_std=0)


def test_set_density_constant_and_seeded():
    torch.manual_seed(0)
    base = nn.Sequential(nn.Linear(40, 30), nn.ReLU(), nn.Linear(30, 10))
    attach(base, topk_masks(random_scores(base, seed=1), 0.8, scope="local"))
    runs = []
    for _ in range(2):
        net = copy.deepcopy(base)
        cb = SET(zeta=0.3, init_std=0.1, seed=7)
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        data = torch.randn(8, 40, generator=torch.Generator().manual_seed(3))
        history = []
        for _epoch in range(5):
            before = masks_of(net)
            opt.zero_grad()
            net(data).sum().backward()
            opt.step()
            weights = {n: t.detach().clone() for n, t in named_tensors(net, "linear").items()}
            updates = cb.on_epoch_end(net, opt)
            after = masks_of(net)
            for u in updates:
                assert int(after[u.name].sum()) == int(before[u.name].sum()) == u.kept
                # at least the survivors of the removal step stay
                assert int((after[u.name] & before[u.name]).sum()) >= u.kept - u.dropped
                signs = (weights[u.name] >= 0, weights[u.name] < 0)
                expected = sum(n - kept_count(n, 0.3)
                               for n in (int((before[u.name] & g).sum()) for g in signs))
                assert u.dropped == expected > 0
            history.append(after)
        runs.append(history)
    for a, b in zip(*runs):
        assert all(torch.equal(a[n], b[n]) for n in a)


def test_rigl_regrows_at_largest_gradient_empty_positions():
    # one output, loss = (w·x - 0)^2 with x = [1, 2, 3, 4, 5, 6]; dense gradient ∝ x (times the output)
    w = torch.tensor([[0.5, -0.4, 0.0, 0.0, 0.01, 0.0]])
    mask = torch.tensor([[True, True, False, False, True, False]])
    net = layer_with(w, mask)
    x = torch.arange(1.0, 7.0)[None]
    loss = lambda m: m(x).pow(2).sum()  # noqa: E731
    cb = RigL(drop_fraction=0.5, update_every=1, end_step=1000)
    # f(1) ≈ 0.25 of 3 kept -> floor(0.75) = 0 dropped; use step 1 with a larger alpha instead
    cb = RigL(drop_fraction=0.9, update_every=1, end_step=10**6)
    (u,) = cb.on_step_end(net, 1, loss)
    k = 3 - kept_count(3, cosine_drop_fraction(1, 0.9, 10**6))
    assert (u.dropped, u.grown) == (k, k) and k == 2
    new = masks_of(net)["0.weight"][0].tolist()
    # dropped: the two smallest |w| kept (0.01 at 4, -0.4 at 1); grown: the two empty positions
    # with largest |grad| = |2·y·x_j|, i.e. x = 6 and x = 5 -> positions 5 and 4 (4 was just freed)
    assert new == [True, False, False, False, True, True]
    assert net[0].weight[0, 5].item() == 0.0 and net[0].weight[0, 4].item() == 0.0
    assert cb.on_step_end(net, 10**6, loss) == []       # after end_step nothing changes


def test_cosine_schedule_and_bad_args():
    assert cosine_drop_fraction(50, 0.3, 100) == pytest.approx(0.15)
    with pytest.raises(ValueError, match="zeta"):
        SET(zeta=1.0, seed=0)
    with pytest.raises(ValueError, match="end_step"):
        RigL(end_step=0)
    with pytest.raises(ValueError, match="no attached masks"):
        SET(seed=0).on_epoch_end(nn.Linear(2, 2))
