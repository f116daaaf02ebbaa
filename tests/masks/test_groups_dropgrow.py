import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from graphsparse.masks import (
    drop_lowest,
    expand_groups,
    group_masks,
    group_scores,
    grow_highest,
    grow_random,
    nm_masks,
)


def test_row_groups_exact_neuron_count():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(10, 6, generator=g)
    m = group_masks({"w": w}, 0.35, group="row")["w"]
    rows_kept = m.all(dim=1)
    assert int(rows_kept.sum()) == 10 - math.floor(0.35 * 10 + 1e-9)
    assert bool((m.any(dim=1) == rows_kept).all())     # whole rows on or off
    norms = w.norm(dim=1)
    assert norms[rows_kept].min() >= norms[~rows_kept].max()


def test_column_groups_on_conv_channels():
    w = torch.zeros(4, 3, 2, 2)
    w[:, 1] = 5.0
    w[:, 2] = 1.0
    m = group_masks({"conv": w}, 1 / 3, group="column", reduce="l1")["conv"]
    assert m[:, 0].sum() == 0 and m[:, 1].all() and m[:, 2].all()


def test_global_groups_across_tensors_and_within():
    a = torch.tensor([[1.0, 1.0], [9.0, 9.0]])
    b = torch.tensor([[5.0], [0.1], [7.0]])
    masks = group_masks({"a": a, "b": b}, 0.4, group="row", scope="global")
    # 5 rows, keep 3: a[1] (12.7), b[2] (7), b[0] (5)
    assert masks["a"].tolist() == [[False, False], [True, True]]
    assert masks["b"].tolist() == [[True], [False], [True]]
    within = {"a": torch.tensor([[True, False], [False, False]]),
              "b": torch.ones(3, 1, dtype=torch.bool)}
    m2 = group_masks({"a": a, "b": b}, 0.4, group="row", scope="global", within=within)
    assert not bool((m2["a"] & ~within["a"]).any())
    assert m2["a"].tolist() == [[True, False], [False, False]]


def test_group_scores_and_expand():
    gs = group_scores({"w": torch.tensor([[3.0, 4.0], [1.0, 0.0]])}, "column", "l1")["w"]
    assert gs.tolist() == [4.0, 4.0]
    e = expand_groups({"w": torch.tensor([False, True])}, {"w": (3, 2)}, "column")["w"]
    assert e.tolist() == [[False, True]] * 3
    with pytest.raises(ValueError, match="length 2"):
        expand_groups({"w": torch.tensor([True])}, {"w": (3, 2)}, "column")
    with pytest.raises(ValueError, match="group must be one of"):
        group_scores({"w": torch.ones(2, 2)}, "block")
    with pytest.raises(ValueError, match="at least 2 dims"):
        group_scores({"w": torch.ones(2)}, "column")


@given(st.integers(1, 6), st.integers(1, 4), st.integers(0, 1000))
def test_nm_every_block_keeps_exactly_n(rows, blocks, seed):
    m_, n_ = 4, 2
    scores = torch.randint(0, 3, (rows, blocks * m_), generator=torch.Generator().manual_seed(seed)).float()
    mask = nm_masks({"w": scores}, n_, m_)["w"]
    per_block = mask.reshape(-1, m_).sum(dim=1)
    assert bool((per_block == n_).all())
    # kept entries are the block maxima
    s = scores.reshape(-1, m_)
    k = mask.reshape(-1, m_)
    for i in range(s.shape[0]):
        assert s[i][k[i]].min() >= s[i][~k[i]].max()


def test_nm_errors():
    with pytest.raises(ValueError, match="multiple of m=4"):
        nm_masks({"w": torch.ones(2, 6)}, 2, 4)
    with pytest.raises(ValueError, match="n must be <= m"):
        nm_masks({"w": torch.ones(2, 4)}, 5, 4)


@given(st.integers(1, 60), st.data())
def test_drop_and_grow_exact_and_never_occupied(n, data):
    g = torch.Generator().manual_seed(n)
    mask = torch.rand(n, generator=g) < 0.5
    scores = torch.randint(0, 4, (n,), generator=g).float()
    kept = int(mask.sum())
    k = data.draw(st.integers(0, kept))
    dropped = drop_lowest(mask, scores, k)
    assert int(dropped.sum()) == kept - k
    assert not bool((dropped & ~mask).any())
    if kept - k > 0 and k > 0:
        assert scores[dropped].min() >= scores[mask & ~dropped].max()
    free = n - kept
    k2 = data.draw(st.integers(0, free))
    grown = grow_highest(mask, scores, k2)
    assert int(grown.sum()) == kept + k2
    assert bool((grown & mask).eq(mask).all())         # kept entries stay
    new = grown & ~mask
    if 0 < k2 < free:
        assert scores[new].min() >= scores[~grown].max()


def test_grow_ties_smaller_index_first_and_drop_ties_larger_index_first():
    mask = torch.tensor([True, False, False, False])
    assert grow_highest(mask, torch.zeros(4), 2).tolist() == [True, True, True, False]
    full = torch.ones(4, dtype=torch.bool)
    assert drop_lowest(full, torch.zeros(4), 1).tolist() == [True, True, True, False]


def test_grow_random_seeded_uniform_and_errors():
    mask = torch.zeros(1000, dtype=torch.bool)
    mask[:500] = True
    a = grow_random(mask, 100, seed=1)
    b = grow_random(mask, 100, seed=1)
    assert torch.equal(a, b) and int(a.sum()) == 600 and bool(a[:500].all())
    assert not torch.equal(a, grow_random(mask, 100, seed=2))
    with pytest.raises(ValueError, match="empty positions"):
        grow_random(mask, 501, seed=0)
    with pytest.raises(ValueError, match="kept entries"):
        drop_lowest(mask, torch.zeros(1000), 501)
    with pytest.raises(ValueError, match="seed"):
        grow_random(mask, 1)
    with pytest.raises(ValueError, match="must equal mask shape"):
        grow_highest(mask, torch.zeros(999), 1)
