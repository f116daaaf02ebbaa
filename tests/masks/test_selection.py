import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from graphsparse.masks import (
    Geometric,
    geometric_sparsity,
    kept_count,
    random_scores,
    topk_masks,
)
from graphsparse.masks import _kth
from graphsparse.masks import selection as sel


def reference(scores, sparsity):
    """Brute force: order by (score desc, global index asc), keep the first k."""
    flat = torch.cat([t.reshape(-1).double() for t in scores.values()])
    n = flat.numel()
    k = n - math.floor(sparsity * n + 1e-9)
    order = sorted(range(n), key=lambda i: (-flat[i].item(), i))[:k]
    keep = torch.zeros(n, dtype=torch.bool)
    keep[order] = True
    return keep


def flat(masks):
    return torch.cat([m.reshape(-1) for m in masks.values()])


shapes = st.lists(st.lists(st.integers(1, 7), min_size=1, max_size=3), min_size=1, max_size=4)


def make_scores(shape_list, seed, levels):
    g = torch.Generator().manual_seed(seed)
    return {f"t{i}": torch.randint(0, levels, tuple(s), generator=g).float()
            for i, s in enumerate(shape_list)}


@given(shapes, st.floats(0, 0.999), st.integers(0, 10**6), st.sampled_from([2, 5, 1000]))
def test_global_exact_count_and_matches_bruteforce(shape_list, s, seed, levels):
    scores = make_scores(shape_list, seed, levels)
    masks = topk_masks(scores, s, scope="global")
    n = sum(t.numel() for t in scores.values())
    assert int(flat(masks).sum()) == n - math.floor(s * n + 1e-9)
    assert torch.equal(flat(masks), reference(scores, s))
    for name, m in masks.items():
        assert m.dtype == torch.bool and m.shape == scores[name].shape


@given(shapes, st.floats(0, 0.999), st.integers(0, 10**6))
def test_local_exact_count_per_tensor(shape_list, s, seed):
    scores = make_scores(shape_list, seed, 3)
    masks = topk_masks(scores, s, scope="local")
    for name, t in scores.items():
        assert int(masks[name].sum()) == kept_count(t.numel(), s)
        assert torch.equal(masks[name].reshape(-1), reference({name: t}, s))


@given(shapes, st.data())
def test_local_per_tensor_dict(shape_list, data):
    scores = make_scores(shape_list, 0, 4)
    sp = {n: data.draw(st.floats(0, 0.999)) for n in scores}
    masks = topk_masks(scores, sp, scope="local")
    for name, t in scores.items():
        assert int(masks[name].sum()) == t.numel() - math.floor(sp[name] * t.numel() + 1e-9)


@given(shapes, st.floats(0, 0.9), st.floats(0, 0.999), st.integers(0, 1000),
       st.sampled_from(["global", "local"]))
def test_within_never_resurrects(shape_list, s1, s2, seed, scope):
    scores = make_scores(shape_list, seed, 1000)
    first = topk_masks(scores, s1, scope=scope)
    s2 = max(s1, s2)
    fresh = make_scores(shape_list, seed + 1, 1000)
    second = topk_masks(fresh, s2, scope=scope, within=first)
    for name in scores:
        assert not bool((second[name] & ~first[name]).any())
    n = sum(t.numel() for t in scores.values())
    if scope == "global":
        assert int(flat(second).sum()) == n - math.floor(s2 * n + 1e-9)


def test_twenty_geometric_rounds_hit_closed_form_counts():
    g = torch.Generator().manual_seed(0)
    scores = {"a": torch.randn(300, 70, generator=g), "b": torch.randn(1000, generator=g),
              "c": torch.randn(7, 11, 3, generator=g)}
    n_total = sum(t.numel() for t in scores.values())
    schedule = Geometric(0.2)
    for scope in ("global", "local"):
        masks = None
        for k in range(1, 21):
            s_k = 1 - (1 - 0.2) ** k
            assert schedule(k) == s_k == geometric_sparsity(0.2, k)
            new_scores = {n: torch.randn(t.shape, generator=g) for n, t in scores.items()}
            new = topk_masks(new_scores, s_k, scope=scope, within=masks)
            if scope == "global":
                assert int(flat(new).sum()) == n_total - math.floor(s_k * n_total + 1e-9)
            else:
                for n, t in scores.items():
                    assert int(new[n].sum()) == t.numel() - math.floor(s_k * t.numel() + 1e-9)
            if masks is not None:
                assert all(not bool((new[n] & ~masks[n]).any()) for n in scores)
            masks = new
    # closed form at round 20, 300*70+1000+231 = 22231 entries
    assert int(flat(masks).sum()) == sum(
        t.numel() - math.floor((1 - 0.8 ** 20) * t.numel() + 1e-9) for t in scores.values())


@given(shapes, st.floats(0.01, 0.5), st.integers(0, 10**6), st.sampled_from(["global", "local"]))
def test_twenty_geometric_rounds_property(shape_list, rate, seed, scope):
    g = torch.Generator().manual_seed(seed)
    names = [f"t{i}" for i in range(len(shape_list))]
    sizes = {n: math.prod(s) for n, s in zip(names, shape_list)}
    total = sum(sizes.values())
    masks = None
    for k in range(1, 21):
        s_k = 1.0 - (1.0 - rate) ** k
        scores = {n: torch.randint(0, 4, tuple(s), generator=g).float()
                  for n, s in zip(names, shape_list)}
        new = topk_masks(scores, s_k, scope=scope, within=masks)
        if scope == "global":
            assert int(flat(new).sum()) == total - math.floor(s_k * total + 1e-9)
        else:
            assert all(int(new[n].sum()) == sizes[n] - math.floor(s_k * sizes[n] + 1e-9)
                       for n in names)
        if masks is not None:
            assert all(not bool((new[n] & ~masks[n]).any()) for n in names)
        masks = new


@given(st.integers(0, 2**31 - 1), st.floats(0, 0.99), st.sampled_from(["global", "local"]))
def test_same_seed_same_masks_property(seed, s, scope):
    params = {"a": torch.zeros(13, 7), "b": torch.zeros(40)}
    one = topk_masks(random_scores(params, seed=seed), s, scope=scope)
    two = topk_masks(random_scores(params, seed=seed), s, scope=scope)
    assert all(torch.equal(one[n], two[n]) for n in params)
    assert torch.get_num_threads() == 2        # determinism is claimed at this fixed count


def test_tie_rule_larger_index_pruned_first():
    scores = {"a": torch.tensor([1.0, 1.0]), "b": torch.tensor([[1.0, 2.0], [1.0, 0.5]])}
    masks = topk_masks(scores, 0.5, scope="global")
    # 6 entries keep 3: the 2.0, then the first two 1.0s in global order (a[0], a[1])
    assert masks["a"].tolist() == [True, True]
    assert masks["b"].tolist() == [[False, True], [False, False]]


def test_same_seed_identical_masks_different_seed_differs():
    net = torch.nn.Sequential(torch.nn.Linear(50, 40), torch.nn.Linear(40, 10))
    a = topk_masks(random_scores(net, seed=3), 0.7)
    b = topk_masks(random_scores(net, seed=3), 0.7)
    c = topk_masks(random_scores(net, seed=4), 0.7)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert any(not torch.equal(a[n], c[n]) for n in a)


@pytest.mark.parametrize("levels", [3, 50, None])
def test_bracketing_path_is_exact(monkeypatch, levels):
    monkeypatch.setattr(_kth, "_DIRECT_SELECT", 500)
    monkeypatch.setattr(_kth, "_SAMPLE", 128)
    g = torch.Generator().manual_seed(1)
    scores = {f"t{i}": (torch.randint(0, levels, (1500,), generator=g).float() if levels
                        else torch.randn(1500, generator=g)) for i in range(3)}
    for s in (0.0, 0.1, 0.5, 0.93, 0.999):
        for scope in ("global", "local"):
            masks = topk_masks(scores, s, scope=scope)
            if scope == "global":
                assert torch.equal(flat(masks), reference(scores, s))
            else:
                for n in scores:
                    assert torch.equal(masks[n], reference({n: scores[n]}, s))


def test_integer_and_mixed_dtype_scores():
    scores = {"a": torch.tensor([3, 1, 2]), "b": torch.tensor([2.5], dtype=torch.float64)}
    masks = topk_masks(scores, 0.5, scope="global")
    assert masks["a"].tolist() == [True, False, False] and masks["b"].tolist() == [True]


def test_edge_mask_is_just_a_1d_mask():
    edge_scores = {"edges": torch.tensor([0.9, 0.1, 0.5, 0.7, 0.3])}
    m = topk_masks(edge_scores, 0.4)["edges"]
    assert m.tolist() == [True, False, True, True, False]


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan")])
def test_bad_sparsity(bad):
    with pytest.raises(ValueError, match="sparsity must be a number in \\[0, 1\\)"):
        topk_masks({"a": torch.ones(3)}, bad)


def test_bad_inputs():
    with pytest.raises(ValueError, match="scores is empty"):
        topk_masks({}, 0.5)
    with pytest.raises(ValueError, match="non-finite"):
        topk_masks({"a": torch.tensor([1.0, float("nan")])}, 0.5)
    with pytest.raises(ValueError, match="non-finite"):
        topk_masks({"a": torch.tensor([1.0, float("inf")])}, 0.5)
    with pytest.raises(ValueError, match="scope must be"):
        topk_masks({"a": torch.ones(2)}, 0.5, scope="layer")
    with pytest.raises(ValueError, match="scope='local'"):
        topk_masks({"a": torch.ones(2)}, {"a": 0.5}, scope="global")
    with pytest.raises(KeyError, match="missing"):
        topk_masks({"a": torch.ones(2), "b": torch.ones(2)}, {"a": 0.5}, scope="local")
    with pytest.raises(ValueError, match=r"sparsity\['a'\]"):
        topk_masks({"a": torch.ones(2)}, {"a": 2.0}, scope="local")
    with pytest.raises(ValueError, match="shape mismatch"):
        topk_masks({"a": torch.ones(4)}, 0.5, within={"a": torch.ones(3, dtype=torch.bool)})
    with pytest.raises(TypeError, match="torch.bool"):
        topk_masks({"a": torch.ones(4)}, 0.5, within={"a": torch.ones(4)})
    with pytest.raises(ValueError, match="never resurrects"):
        topk_masks({"a": torch.ones(4)}, 0.25, within={"a": torch.tensor([True, False, False, True])})
    with pytest.raises(TypeError, match="mapping"):
        topk_masks(torch.ones(3), 0.5)


def test_kept_count_rule():
    assert kept_count(10, 0.3) == 7          # 0.3*10 = 2.9999999999999996 -> 3 pruned
    assert kept_count(10, 0.0) == 10
    assert kept_count(3, 0.9999999999) == 0   # floor(2.9999999997 + 1e-9) = 3
    with pytest.raises(ValueError):
        kept_count(-1, 0.5)


@pytest.mark.parametrize("levels", [2, 7, None])
def test_located_kth_candidates_hold_every_tie_and_give_the_count_above(monkeypatch, levels):
    """The ties and the count above the k-th value come from the bracketed candidates only."""
    monkeypatch.setattr(_kth, "_DIRECT_SELECT", 300)
    monkeypatch.setattr(_kth, "_SAMPLE", 64)
    g = torch.Generator().manual_seed(5)
    chunks = [torch.randint(0, levels, (n,), generator=g).float() if levels else torch.randn(n, generator=g)
              for n in (700, 1, 0, 1200, 450)]
    chunks[3][::3] = -math.inf  # excluded entries (never selected)
    flat = torch.cat(chunks)
    finite = int(torch.isfinite(flat).sum())
    for k in (1, 2, 17, finite // 2, finite - 1, finite):
        value, cands, rank = _kth._locate_kth(chunks, k)
        assert value == flat.sort(descending=True).values[k - 1]
        assert all(int((c == value).sum()) == int((cd == value).sum()) for c, cd in zip(chunks, cands))
        assert k - rank == int((flat > value).sum()) - sum(int((cd > value).sum()) for cd in cands)
        order = sorted(range(flat.numel()), key=lambda i: (-flat[i].item(), i))[:k]
        expected = torch.zeros(flat.numel(), dtype=torch.bool)
        expected[order] = True
        assert torch.equal(torch.cat(_kth.select_largest(chunks, k)), expected)


@pytest.mark.parametrize("binary", [True, False])
def test_bracketing_terminates_with_two_levels_and_mostly_excluded_entries(monkeypatch, binary):
    """Regression: the bracket [lo, hi] used to keep every entry forever when the candidates held
    only two distinct values (0/1 scores, or -inf-excluded entries and one tied value)."""
    monkeypatch.setattr(_kth, "_DIRECT_SELECT", 200)
    monkeypatch.setattr(_kth, "_SAMPLE", 64)
    g = torch.Generator().manual_seed(2)
    scores = {"a": torch.randint(0, 2, (3000,), generator=g).float() if binary else torch.randn(3000, generator=g)}
    within = {"a": torch.rand(3000, generator=g) < 0.05}
    have = int(within["a"].sum())
    for kept in (1, have // 2, have - 1, have):
        s = 1 - kept / 3000 + 1e-12
        assert sel.kept_count(3000, s) == kept
        m = topk_masks(scores, s, within=within)["a"]
        ref = reference({"a": torch.where(within["a"], scores["a"], torch.tensor(-math.inf))}, s)
        assert torch.equal(m, ref) and not (m & ~within["a"]).any()
    two = {"a": torch.randint(0, 2, (5000,), generator=g).float()}
    for s in (0.1, 0.5, 0.9):
        assert torch.equal(topk_masks(two, s)["a"], reference(two, s))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_single_non_finite_score_is_refused_in_every_float_dtype(dtype, bad):
    """The one-pass min/max finiteness check sees a lone NaN or infinity anywhere."""
    scores = torch.rand(10_001).to(dtype)
    scores[7_777] = bad
    with pytest.raises(ValueError, match=r"has 1 non-finite entries"):
        topk_masks({"w": scores}, 0.5)
    assert topk_masks({"w": scores.nan_to_num(0.0, 0.0, 0.0)}, 0.5)["w"].sum() == 5_001
