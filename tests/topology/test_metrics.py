"""Metric values against networkx or brute force on small random networks."""

from __future__ import annotations

import importlib
import itertools
import math

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import special

from graphsparse.topology import NetworkGraph
from graphsparse.topology import metrics

spectral_module = importlib.import_module("graphsparse.topology.metrics.spectral")

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def layered_masks(draw, max_levels: int = 5, max_width: int = 5) -> list[np.ndarray]:
    """Random boolean (out, in) masks of a chain of 2..max_levels levels."""
    n_levels = draw(st.integers(2, max_levels))
    widths = draw(st.lists(st.integers(1, max_width), min_size=n_levels, max_size=n_levels))
    masks = []
    for a, b in zip(widths[:-1], widths[1:]):
        bits = draw(st.lists(st.booleans(), min_size=a * b, max_size=a * b))
        masks.append(np.array(bits, dtype=bool).reshape(b, a))
    return masks


@st.composite
def random_dags(draw, max_nodes: int = 9) -> nx.DiGraph:
    """Random DAGs (edges i -> j, i < j) with at least one edge; skip edges arise naturally."""
    n = draw(st.integers(2, max_nodes))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    keep = draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs)).filter(any))
    dag = nx.DiGraph()
    dag.add_nodes_from(range(n))
    dag.add_edges_from(p for p, k in zip(pairs, keep) if k)
    return dag


graphs = st.one_of(layered_masks().map(NetworkGraph.from_masks), random_dags().map(NetworkGraph.from_dag))


def _io(g: NetworkGraph) -> tuple[list[int], list[int]]:
    return list(range(g.offsets[0], g.offsets[1])), list(range(g.offsets[-2], g.offsets[-1]))


def _enumerated_paths(g: NetworkGraph) -> tuple[nx.DiGraph, list[list[int]]]:
    G = g.to_networkx()
    inputs, outputs = _io(g)
    paths = [p for i in inputs for o in outputs for p in nx.all_simple_paths(G, i, o)]
    return G, paths


# ---------------------------------------------------------------------------------------- degree
@SETTINGS
@given(graphs)
def test_degrees_and_counts_match_networkx(g):
    G = g.to_networkx()
    assert metrics.num_nodes(g) == G.number_of_nodes()
    assert metrics.num_edges(g) == G.number_of_edges()
    assert metrics.in_degree(g).tolist() == [G.in_degree(v) for v in range(g.num_nodes)]
    assert metrics.out_degree(g).tolist() == [G.out_degree(v) for v in range(g.num_nodes)]
    possible = sum(g.sizes[b.src] * g.sizes[b.dst] for b in g.blocks)
    assert metrics.num_possible_edges(g) == possible
    assert metrics.density(g) == pytest.approx(G.number_of_edges() / possible)


def test_layer_stats_conventions():
    mask = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0]], dtype=bool)  # (out=3, in=4)
    s = metrics.layer_stats(NetworkGraph.from_masks([mask]))[0]
    assert s.shape == (3, 4) and s.num_edges == 6 and s.density == pytest.approx(0.5)
    assert (s.in_degree.mean, s.in_degree.min, s.in_degree.max) == (2.0, 1, 3)  # row sums
    assert (s.out_degree.mean, s.out_degree.min, s.out_degree.max) == (1.5, 0, 3)  # column sums
    assert s.in_degree_hist == [0, 1, 1, 1] and s.out_degree_hist == [1, 1, 1, 1]
    assert metrics.degree_histogram(np.array([0, 2, 2, 3])).tolist() == [1, 0, 2, 1]
    with pytest.raises(ValueError, match="degrees"):
        metrics.degree_histogram(np.array([-1]))


# ------------------------------------------------------------------------ components / dead neurons
@SETTINGS
@given(graphs)
def test_components_and_dead_neurons_match_brute_force(g):
    G = g.to_networkx()
    c = metrics.components(g)
    assert c.num_components == metrics.num_components(g) == nx.number_weakly_connected_components(G)
    assert c.largest == max(len(s) for s in nx.weakly_connected_components(G))
    assert c.isolated == sum(1 for v in G if G.degree(v) == 0)

    inputs, outputs = _io(g)
    hidden = [v for v in G if v not in inputs and v not in outputs]
    dead = metrics.dead_neurons(g)
    assert dead.hidden_no_in == sum(G.in_degree(v) == 0 for v in hidden)
    assert dead.hidden_no_out == sum(G.out_degree(v) == 0 for v in hidden)
    assert dead.hidden == sum(G.in_degree(v) == 0 or G.out_degree(v) == 0 for v in hidden)
    assert dead.inputs_no_out == sum(G.out_degree(v) == 0 for v in inputs)
    assert dead.outputs_no_in == sum(G.in_degree(v) == 0 for v in outputs)
    assert dead.total == dead.hidden + dead.inputs_no_out + dead.outputs_no_in == int(dead.mask.sum())
    assert sum(dead.per_level) == dead.total

    from_input = set(inputs).union(*(nx.descendants(G, i) for i in inputs))
    to_output = set(outputs).union(*(nx.ancestors(G, o) for o in outputs))
    r = metrics.reachability(g)
    assert set(np.flatnonzero(r.from_input)) == from_input
    assert set(np.flatnonzero(r.to_output)) == to_output
    assert dead.unreachable_from_input == sum(v not in from_input for v in G if v not in inputs)
    assert dead.not_reaching_output == sum(v not in to_output for v in G if v not in outputs)
    assert dead.off_path == g.num_nodes - len(from_input & to_output)


# ------------------------------------------------------------------------------------------ paths
@SETTINGS
@given(graphs)
def test_path_counts_and_effective_sparsity_by_enumeration(g):
    G, paths = _enumerated_paths(g)
    _, outputs = _io(g)
    pc = metrics.path_counts(g)
    assert pc.exact
    expected = [sum(p[-1] == o for p in paths) for o in outputs]
    assert pc.counts.tolist() == expected
    assert pc.total == len(paths) and pc.outputs_with_paths == sum(e > 0 for e in expected)
    assert pc.min == min(expected) and pc.max == max(expected)
    np.testing.assert_allclose(np.exp(pc.log_counts), expected, rtol=1e-12)

    on_path = {(a, b) for p in paths for a, b in zip(p[:-1], p[1:])}
    es = metrics.effective_sparsity(g)
    assert es.effective_edges == len(on_path)
    assert es.effective_sparsity == pytest.approx(1 - len(on_path) / metrics.num_possible_edges(g))
    assert sum(b.effective_edges for b in es.per_layer) == len(on_path)


def test_path_counts_switch_to_log_space():
    # dense chain of width w and L blocks: w**L paths per output
    exact = metrics.path_counts(NetworkGraph.from_masks([np.ones((2, 2), bool)] * 61))
    assert exact.exact and exact.counts.tolist() == [2**61, 2**61] and exact.total == 2**62
    big = metrics.path_counts(NetworkGraph.from_masks([np.ones((64, 64), bool)] * 11))  # 2**66 per output
    assert not big.exact and big.counts is None and big.total is None
    np.testing.assert_allclose(big.log_counts, 66 * math.log(2), rtol=1e-12)
    assert big.log10_total == pytest.approx(66 * math.log10(2) + math.log10(64))
    assert big.to_dict()["exact"] is False


def test_path_counts_with_unreachable_outputs():
    g = NetworkGraph.from_masks([np.array([[1, 0], [0, 0]], bool), np.array([[1, 0], [0, 1]], bool)])
    pc = metrics.path_counts(g)
    assert pc.counts.tolist() == [1, 0] and pc.outputs_with_paths == 1 and pc.min == 0 and pc.log10_min is None


@SETTINGS
@given(graphs)
def test_exact_mean_shortest_path_matches_networkx(g):
    U = g.to_networkx().to_undirected()
    lengths = [l for s, d in nx.all_pairs_shortest_path_length(U) for t, l in d.items() if s != t]
    sp_ = metrics.mean_shortest_path(g, sources=None)
    assert sp_.exact and sp_.num_pairs == len(lengths)
    if lengths:
        assert sp_.mean == pytest.approx(np.mean(lengths)) and sp_.max_distance == max(lengths)
    else:
        assert sp_.mean is None


def test_sampled_shortest_paths_are_seeded():
    rng = np.random.default_rng(3)
    g = NetworkGraph.from_masks([rng.random((30, 30)) < 0.2 for _ in range(3)])
    a = metrics.mean_shortest_path(g, sources=10, seed=5)
    b = metrics.mean_shortest_path(g, sources=10, seed=5)
    assert a == b and not a.exact and a.num_sources == 10 and a.seed == 5
    full = metrics.mean_shortest_path(g, sources=10_000)
    assert full.exact and full.num_sources == g.num_nodes
    U = g.to_networkx().to_undirected()
    sources = np.sort(np.random.default_rng(5).choice(g.num_nodes, size=10, replace=False))
    lengths = [l for s in sources for t, l in nx.single_source_shortest_path_length(U, int(s)).items() if t != s]
    assert a.mean == pytest.approx(np.mean(lengths))
    with pytest.raises(ValueError, match="sources must be an int >= 1"):
        metrics.mean_shortest_path(g, sources=0)


# ------------------------------------------------------------------------------------- clustering
def _brute_force_squares_and_3paths(mask: np.ndarray) -> tuple[int, int]:
    n_out, n_in = mask.shape
    nodes = [("in", j) for j in range(n_in)] + [("out", i) for i in range(n_out)]
    edge = lambda a, b: a[0] != b[0] and bool(mask[(a if a[0] == "out" else b)[1], (b if b[0] == "in" else a)[1]])
    squares = 0
    for quad in itertools.combinations(nodes, 4):  # a 4-cycle is a quadruple with 2 nodes per side, all 4 edges
        ins = [v for v in quad if v[0] == "in"]
        outs = [v for v in quad if v[0] == "out"]
        if len(ins) == 2 and len(outs) == 2 and all(edge(a, b) for a in ins for b in outs):
            squares += 1
    U = nx.Graph()
    U.add_nodes_from(nodes)
    U.add_edges_from((a, b) for a in nodes for b in nodes if a[0] == "in" and edge(a, b))
    three = sum(
        1
        for s, t in itertools.combinations(nodes, 2)
        for p in nx.all_simple_paths(U, s, t, cutoff=3)
        if len(p) == 4
    )
    return squares, three


@SETTINGS
@given(layered_masks(max_levels=3, max_width=5))
def test_four_cycles_match_brute_force(masks):
    g = NetworkGraph.from_masks(masks)
    fc = metrics.four_cycles(g)
    for mask, per in zip(masks, fc.per_layer):
        squares, three = _brute_force_squares_and_3paths(mask)
        assert (per.four_cycles, per.three_paths) == (squares, three)
        assert per.clustering == (pytest.approx(4 * squares / three) if three else None)
    assert fc.four_cycles == sum(p.four_cycles for p in fc.per_layer)


def test_four_cycles_chunking_and_known_values():
    assert metrics.block_four_cycles(sp.csr_array(np.ones((3, 5), bool))) == (3 * 10, 15 * 2 * 4)  # K_{3,5}
    rng = np.random.default_rng(0)
    mask = rng.random((40, 300)) < 0.2
    gram = mask.T.astype(np.int64) @ mask.astype(np.int64)
    expected = int(sum(math.comb(int(c), 2) for c in gram[np.triu_indices(300, 1)]))
    from graphsparse.topology.metrics import clustering

    old = clustering._MAX_CHUNK_ENTRIES
    try:
        clustering._MAX_CHUNK_ENTRIES = 100  # force many row chunks
        assert metrics.block_four_cycles(sp.csr_array(mask))[0] == expected
    finally:
        clustering._MAX_CHUNK_ENTRIES = old
    assert metrics.block_four_cycles(sp.csr_array(mask.T))[0] == expected


@pytest.mark.parametrize("shape, density, seed",
                         [((12, 9), 0.35, 0), ((20, 30), 0.2, 1), ((7, 40), 0.5, 2), ((3, 2), 0.2, 3)])
def test_block_clustering_equals_networkx_robins_alexander(shape, density, seed):
    """Same definition as ``nx.bipartite.robins_alexander_clustering`` (4·C4 / L3) on one block's
    undirected bipartite graph; networkx returns 0 where there is no 3-path, we return None."""
    mask = np.random.default_rng(seed).random(shape) < density
    per = metrics.four_cycles(NetworkGraph.from_masks([mask])).per_layer[0]
    G = nx.Graph()
    G.add_nodes_from([("in", j) for j in range(shape[1])] + [("out", i) for i in range(shape[0])])
    G.add_edges_from((("in", int(j)), ("out", int(i))) for i, j in zip(*np.nonzero(mask)))
    ra = nx.bipartite.robins_alexander_clustering(G)
    assert (per.clustering or 0.0) == pytest.approx(ra, rel=1e-12, abs=0)
    assert (per.clustering is None) == (per.three_paths == 0)


def test_components_cached_per_graph_and_returned_as_copies():
    rng = np.random.default_rng(6)
    g = NetworkGraph.from_masks([rng.random((8, 10)) < 0.1, rng.random((5, 8)) < 0.2])
    first = metrics.components(g)
    first.labels[:] = 0  # a caller mutating its result must not corrupt the cache
    first.sizes[:] = 0
    again = metrics.components(g)
    U = g.to_networkx().to_undirected()
    expected = sorted((len(c) for c in nx.connected_components(U)), reverse=True)
    assert again.sizes.tolist() == expected and again.num_components == len(expected)
    assert again.labels is not metrics.components(g).labels
    for comp in nx.connected_components(U):
        assert len({int(again.labels[v]) for v in comp}) == 1


def test_components_merge_parts_joined_only_by_edges_outside_the_spanning_subgraph():
    # (out, in) mask [[1, 0, 1], [0, 1, 1]]: the spanning subgraph keeps each row's first edge,
    # (r0, c0) and (r1, c1), and one edge of column c2, from r0 or r1; either way the other edge
    # of c2 alone joins the two parts, so the shortcut for an already-connected subgraph must not
    # apply and step (2) must merge them.
    g = NetworkGraph.from_masks([np.array([[1, 0, 1], [0, 1, 1]], dtype=bool)])
    c = metrics.components(g)
    assert (c.num_components, c.largest, c.isolated) == (1, 5, 0)
    two = metrics.components(NetworkGraph.from_masks([np.array([[1, 0], [0, 1]], dtype=bool)]))
    assert (two.num_components, two.largest) == (2, 2)


@pytest.mark.parametrize("lonely_input", [False, True])
def test_components_of_dense_random_layers_match_the_full_adjacency(lonely_input):
    # dense enough for the sampled spanning subgraph (not the pass over every edge); a lone
    # input whose only edge the samples will likely miss sends that block to the full pass,
    # and a block of isolated neurons plus a 2-neuron island keeps step (2) honest
    rng = np.random.default_rng(3)
    masks = [rng.random((300, 300)) < 0.2 for _ in range(3)]
    masks[0][:, 299] = False
    if lonely_input:
        masks[0][5, 299] = True
    masks[1][250:, :] = False
    masks[2][:, 250:] = False
    masks[1][260, 270] = masks[2][280, 260] = True
    g = NetworkGraph.from_masks(masks)
    expected = sp.csgraph.connected_components(g.to_scipy(), directed=False)
    c = metrics.components(g)
    assert c.num_components == expected[0]
    assert sorted(np.bincount(expected[1]).tolist(), reverse=True) == c.sizes.tolist()
    assert np.array_equal(c.labels, expected[1])  # both number by each component's smallest node


@pytest.mark.parametrize("chunk_entries", [1, 37, 1 << 20])
def test_four_cycles_preallocated_product_equals_scipy_product(monkeypatch, chunk_entries):
    """The half (upper block-triangle) product written into a preallocated buffer gives the
    same counts as the plain ``A @ Aᵀ`` path and as the dense Gram matrix."""
    from graphsparse.topology.metrics import clustering

    rng = np.random.default_rng(chunk_entries)
    masks = [rng.random((60, 45)) < 0.15, rng.random((1, 30)) < 0.9, rng.random((33, 200)) < 0.05]
    monkeypatch.setattr(clustering, "_MAX_CHUNK_ENTRIES", chunk_entries)
    fast = [metrics.block_four_cycles(sp.csr_array(m)) for m in masks]
    monkeypatch.setattr(clustering, "_csr_matmat", None)
    plain = [metrics.block_four_cycles(sp.csr_array(m)) for m in masks]
    assert fast == plain
    for m, (four, _) in zip(masks, fast):
        gram = m.astype(np.int64) @ m.T.astype(np.int64)
        assert four == int(sum(math.comb(int(c), 2) for c in gram[np.triu_indices(m.shape[0], 1)]))


# -------------------------------------------------------------------------------------- power law
def _sample_discrete_powerlaw(gamma: float, n: int, xmin: int, rng: np.random.Generator) -> np.ndarray:
    """Exact inverse-CDF sample: X = smallest x >= xmin with P(X > x) <= u, by bisection."""
    u = rng.random(n)
    z = special.zeta(gamma, xmin)
    lo = np.full(n, float(xmin))
    hi = np.full(n, 1e15)
    while np.any(hi - lo > 0.5):
        mid = np.floor((lo + hi) / 2)
        ok = special.zeta(gamma, mid + 1) / z <= u  # P(X > mid) <= u
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid + 1)
        lo = np.minimum(lo, hi)
    return hi.astype(np.int64)


@pytest.mark.parametrize("gamma", [2.5, 3.0])
@pytest.mark.parametrize("xmin", [1, 4])
def test_powerlaw_fit_recovers_exponent(gamma, xmin):
    rng = np.random.default_rng(int(gamma * 10) + xmin)
    x = _sample_discrete_powerlaw(gamma, 15_000, xmin, rng)
    fit = metrics.fit_powerlaw(x)
    assert abs(fit.alpha - gamma) < 0.15
    assert not fit.at_bound and fit.n == 15_000 and 0 <= fit.ks < 0.05


def test_powerlaw_fit_finds_xmin_above_a_non_power_law_body():
    rng = np.random.default_rng(7)
    tail = _sample_discrete_powerlaw(2.5, 12_000, 10, rng)
    body = rng.integers(1, 10, size=8_000)  # uniform below x_min = 10
    fit = metrics.fit_powerlaw(np.concatenate([body, tail, np.zeros(5, int)]))
    assert abs(fit.alpha - 2.5) < 0.15 and 10 <= fit.xmin <= 30 and fit.n_zero == 5  # not inside the body
    fixed = metrics.fit_powerlaw(tail, xmin=10)
    assert fixed.xmin == 10 and abs(fixed.alpha - 2.5) < 0.15


def test_powerlaw_exact_mle_equation():
    # at the MLE, ζ'(α, xmin)/ζ(α, xmin) = -mean(ln x)  (CSN eq. 3.5), checked by finite differences
    x = _sample_discrete_powerlaw(2.7, 5_000, 3, np.random.default_rng(1))
    fit = metrics.fit_powerlaw(x, xmin=3)
    a, h = fit.alpha, 1e-6
    dlogz = (math.log(special.zeta(a + h, 3)) - math.log(special.zeta(a - h, 3))) / (2 * h)
    assert dlogz == pytest.approx(-np.log(x[x >= 3]).mean(), rel=1e-6)


def test_powerlaw_likelihood_ratios():
    rng = np.random.default_rng(2)
    pl = metrics.fit_powerlaw(_sample_discrete_powerlaw(2.5, 10_000, 1, rng), compare=True)
    vs_exp = {c.alternative: c for c in pl.comparisons}["exponential"]
    assert vs_exp.R > 0 and vs_exp.p_value < 0.05
    geo = metrics.fit_powerlaw(rng.geometric(0.05, size=10_000), compare=True)
    assert {c.alternative: c for c in geo.comparisons}["exponential"].R < 0
    assert {c.alternative for c in geo.comparisons} == {"exponential", "lognormal"}
    assert set(geo.to_dict()["comparisons"][1]["parameters"]) == {"mu", "sigma"}


def test_powerlaw_agrees_with_the_powerlaw_package():
    """Cross-check with the ``powerlaw`` package (Alstott et al.; a dev-only dependency): same
    exact discrete MLE at a fixed x_min."""
    powerlaw = pytest.importorskip("powerlaw")
    x = _sample_discrete_powerlaw(2.5, 10_000, 5, np.random.default_rng(11))
    theirs = powerlaw.Fit(x, discrete=True, xmin=5, estimate_discrete=False).power_law.alpha
    assert metrics.fit_powerlaw(x, xmin=5).alpha == pytest.approx(theirs, abs=0.01)


@pytest.mark.parametrize(
    "data, kwargs, match",
    [
        ([1.5] * 100, {}, "non-integer"),
        ([-1] + [2] * 100, {}, "non-negative"),
        ([[1, 2]], {}, "1-D"),
        ([1, 2, 3], {}, "min_tail=50"),
        ([1, 2] * 100, {"xmin": 0}, "xmin must be an int >= 1"),
        ([1, 2] * 100, {"xmin": 2}, "single distinct value"),
        ([3] * 100, {}, "no x_min candidate"),
        ([1, 2] * 100, {"min_tail": 0}, "min_tail must be an int >= 1"),
    ],
)
def test_powerlaw_bad_input(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        metrics.fit_powerlaw(data, **kwargs)


def test_degree_powerlaw_uses_hidden_total_degree():
    rng = np.random.default_rng(4)
    g = NetworkGraph.from_masks([rng.random((200, 30)) < 0.2, rng.random((10, 200)) < 0.5])
    fit = metrics.degree_powerlaw(g, min_tail=20)
    direct = metrics.fit_powerlaw(metrics.total_degree(g)[30:230], min_tail=20)
    assert fit == direct
    with pytest.raises(ValueError, match="no hidden level"):
        metrics.degree_powerlaw(NetworkGraph.from_masks([np.ones((2, 2), bool)]))


# --------------------------------------------------------------------------------------- spectral
def _reference_scores(mask: np.ndarray) -> tuple[float, float]:
    """λ1 and μ̂ as in ramanujan-on-pai: top-3 |eigenvalues| of the bipartite adjacency."""
    rows, cols = mask.any(1), mask.any(0)
    sub = mask[rows][:, cols].astype(float)
    n_out, n_in = sub.shape
    adj = np.zeros((n_in + n_out, n_in + n_out))
    adj[:n_in, n_in:] = sub.T
    adj[n_in:, :n_in] = sub
    eig = np.sort(np.abs(np.linalg.eigvalsh(adj)))[::-1]
    return eig[0], eig[2]


def test_spectral_matches_reference_definition():
    rng = np.random.default_rng(0)
    mask = rng.random((30, 40)) < 0.3
    mask[:, 0] = False  # an isolated input node is removed before averaging degrees
    s = metrics.mask_spectrum(mask, name="m")
    lam1, mu = _reference_scores(mask)
    n_edges = mask.sum()
    d_l, d_r = n_edges / mask.any(0).sum(), n_edges / mask.any(1).sum()
    assert s.computed and s.left_nodes == 39 and s.right_nodes == mask.any(1).sum()
    assert s.avg_degree_left == pytest.approx(d_l) and s.avg_degree_right == pytest.approx(d_r)
    assert s.lambda1 == pytest.approx(lam1) and s.mu_hat == pytest.approx(mu)
    assert s.delta_s == pytest.approx(2 * math.sqrt(lam1 - 1) - mu)
    assert s.delta_r == pytest.approx(math.sqrt(d_l - 1) + math.sqrt(d_r - 1) - mu)
    assert s.delta_r_norm == pytest.approx(s.delta_r / (math.sqrt(d_l - 1) + math.sqrt(d_r - 1)))
    assert s.spectral_gap == pytest.approx(lam1 - mu)


def test_spectral_large_mask_uses_arpack_and_agrees():
    rng = np.random.default_rng(1)
    mask = rng.random((300, 400)) < 0.05
    s = metrics.mask_spectrum(sp.csr_array(mask), seed=3)
    top = np.linalg.svd(mask[mask.any(1)][:, mask.any(0)].astype(float), compute_uv=False)[:2]
    rtol = spectral_module.FLOAT32_RTOL  # ARPACK runs in float32
    assert s.lambda1 == pytest.approx(top[0], rel=rtol) and s.mu_hat == pytest.approx(top[1], rel=rtol)


@pytest.mark.parametrize("shape, density, seed",
                         [((300, 400), 0.05, 1), ((600, 500), 0.02, 2), ((257, 2000), 0.1, 3)])
def test_spectral_float32_arpack_within_tolerance_of_float64(shape, density, seed):
    mask = sp.csr_array(np.random.default_rng(seed).random(shape) < density)
    rows, cols = np.flatnonzero(np.diff(mask.indptr)), np.flatnonzero(np.bincount(mask.indices, minlength=shape[1]))
    sub = mask[rows][:, cols]
    s32 = spectral_module._top2_singular_values(sub, seed)
    s64 = spectral_module._top2_singular_values(sub, seed, np.float64)
    dense = np.linalg.svd(sub.toarray().astype(float), compute_uv=False)[:2]
    assert s64 == pytest.approx(tuple(dense), rel=1e-10)
    assert s32 == pytest.approx(s64, rel=spectral_module.FLOAT32_RTOL)
    s = metrics.mask_spectrum(mask, seed=seed)  # derived scores: absolute error <= rtol * sigma1
    bound = math.sqrt(s.avg_degree_left - 1) + math.sqrt(s.avg_degree_right - 1)
    assert s.delta_r == pytest.approx(bound - s64[1], abs=spectral_module.FLOAT32_RTOL * s64[0])
    assert s.spectral_gap == pytest.approx(s64[0] - s64[1], abs=spectral_module.FLOAT32_RTOL * s64[0])


def test_spectral_dense_svd_caps_blas_threads(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    seen = []
    real_svd = np.linalg.svd

    def svd(a, **kw):
        seen.append([i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"])
        return real_svd(a, **kw)

    monkeypatch.setattr(np.linalg, "svd", svd)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        s = metrics.mask_spectrum(np.random.default_rng(0).random((40, 50)) < 0.3)
        after = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert s.computed and seen and all(n == 1 for n in seen[0]) and all(n == 2 for n in after)


def test_spectral_null_below_degree_three_and_complete_bipartite():
    sparse_layer = np.eye(6, dtype=bool)
    s = metrics.mask_spectrum(sparse_layer)
    assert not s.computed and s.lambda1 is None and "below 3" in s.reason
    assert not metrics.mask_spectrum(np.zeros((3, 3), bool)).computed
    k44 = metrics.mask_spectrum(np.ones((4, 4), bool))
    assert k44.lambda1 == pytest.approx(4) and k44.mu_hat == pytest.approx(0, abs=1e-12)
    g = NetworkGraph.from_masks([np.ones((4, 5), bool), sparse_layer[:2, :4]])
    assert [s.computed for s in metrics.spectral(g)] == [True, False]


def test_metrics_reject_non_graphs():
    with pytest.raises(TypeError, match="graph must be a graphsparse.topology.NetworkGraph"):
        metrics.num_edges(nx.DiGraph())


@pytest.mark.parametrize("gather_bytes", [1 << 26, 64])
def test_shortest_paths_many_sources_and_batches_match_networkx(monkeypatch, gather_bytes):
    """More than 64 sources (several bit words) and, with a tiny gather budget, several batches."""
    from graphsparse.topology.metrics import paths as paths_mod

    monkeypatch.setattr(paths_mod, "_MAX_GATHER_BYTES", gather_bytes)
    rng = np.random.default_rng(11)
    g = NetworkGraph.from_masks([rng.random((60, 50)) < 0.05, rng.random((70, 60)) < 0.05,
                                 rng.random((40, 70)) < 0.08])
    U = g.to_networkx().to_undirected()
    lengths = [l for s, d in nx.all_pairs_shortest_path_length(U) for t, l in d.items() if s != t]
    exact = metrics.mean_shortest_path(g, sources=None)
    assert exact.num_sources == 220 and exact.num_pairs == len(lengths)
    assert exact.mean == pytest.approx(np.mean(lengths)) and exact.max_distance == max(lengths)
    sampled = metrics.mean_shortest_path(g, sources=130, seed=2)
    sources = np.sort(np.random.default_rng(2).choice(g.num_nodes, size=130, replace=False))
    picked = [l for s in sources for t, l in nx.single_source_shortest_path_length(U, int(s)).items()
              if t != s]
    assert sampled.mean == pytest.approx(np.mean(picked)) and sampled.max_distance == max(picked)
