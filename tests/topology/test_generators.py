"""Tests for graphsparse.topology.generators: exact counts, determinism, laws, degrees, errors."""

import itertools
import json
import math
import warnings

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar
from scipy.special import zeta
from scipy.stats import chisquare

from graphsparse.masks import kept_count, layer_densities
from graphsparse.topology.generators._sampling import distinct_per_row, weighted_positions
from graphsparse.topology.generators.relational import _node_sizes
from graphsparse.topology.generators import (
    GeneratedMask,
    biregular_mask,
    erdos_renyi_mask,
    mlp_masks,
    mlp_shapes,
    relational_graph_mask,
    scale_free_mask,
    small_world_mask,
    ws_flex_graph,
    ws_flex_mask,
    ws_flex_mlp_masks,
)

shapes = st.tuples(st.integers(1, 40), st.integers(1, 40))
densities = st.floats(1e-3, 1.0, allow_nan=False)


def _sample(kind, shape, density, seed):
    if kind == "er":
        return erdos_renyi_mask(shape, density, seed=seed)
    if kind == "sf_in":
        return scale_free_mask(shape, density, gamma=2.5, side="in", seed=seed)
    if kind == "sf_both":
        return scale_free_mask(shape, density, gamma=2.2, side="both", seed=seed)
    return small_world_mask(shape, density, beta=0.3, seed=seed)


KINDS = ["er", "sf_in", "sf_both", "ws"]


# ---------------------------------------------------------------------------------------------
# exact counts, determinism
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@given(shape=shapes, density=densities, seed=st.integers(0, 2**31 - 1))
def test_exact_edge_count(kind, shape, density, seed):
    g = _sample(kind, shape, density, seed)
    n = shape[0] * shape[1]
    assert g.mask.dtype == torch.bool and tuple(g.mask.shape) == shape
    assert g.num_edges == int(g.mask.sum()) == kept_count(n, 1.0 - density)
    assert g.density == g.num_edges / n
    assert g.requested_density == density


@pytest.mark.parametrize("kind", KINDS)
@given(shape=shapes, data=st.data())
def test_exact_num_edges(kind, shape, data):
    m = data.draw(st.integers(0, shape[0] * shape[1]))
    make = {"er": erdos_renyi_mask, "sf_in": scale_free_mask, "sf_both": scale_free_mask,
            "ws": small_world_mask}[kind]
    kwargs = {"sf_both": {"side": "both"}}.get(kind, {})
    assert make(shape, num_edges=m, seed=3, **kwargs).num_edges == m


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape,density", [((300, 200), 0.05), ((64, 48), 0.7), ((50, 50), 0.2)])
def test_same_seed_identical_different_seed_different(kind, shape, density):
    a = _sample(kind, shape, density, 7)
    b = _sample(kind, shape, density, 7)
    c = _sample(kind, shape, density, 8)
    assert torch.equal(a.mask, b.mask)
    assert not torch.equal(a.mask, c.mask)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    m1 = erdos_renyi_mask(shape, density, generator=g1).mask
    m2 = erdos_renyi_mask(shape, density, generator=g2).mask
    assert torch.equal(m1, m2)


def test_dense_and_sparse_regimes_of_big_er_layer():
    # sparse side by rejection; dense side by Bernoulli + exact correction; complement side
    for density in (0.01, 0.3, 0.5, 0.99):
        g = erdos_renyi_mask((700, 900), density, seed=1)
        assert g.num_edges == kept_count(700 * 900, 1 - density)


# ---------------------------------------------------------------------------------------------
# sampling laws
# ---------------------------------------------------------------------------------------------

def _subset_counts(sampler, n_draws):
    counts = {}
    for s in range(n_draws):
        key = tuple(sampler(s).flatten().nonzero().flatten().tolist())
        counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.mark.parametrize("shape,m", [((2, 3), 3), ((1, 40), 2), ((3, 3), 8)])
def test_er_is_uniform_over_subsets(shape, m):
    n = shape[0] * shape[1]
    counts = _subset_counts(lambda s: erdos_renyi_mask(shape, num_edges=m, seed=s).mask, 1200)
    n_sets = math.comb(n, m)
    obs = np.array([counts.get(k, 0) for k in itertools.combinations(range(n), m)])
    assert obs.sum() == 1200
    if n_sets <= 40:
        assert chisquare(obs).pvalue > 1e-3
    else:  # (1, 40), m=2: 780 subsets, check the marginals instead
        marg = np.zeros(n)
        for k, c in counts.items():
            marg[list(k)] += c
        assert chisquare(marg).pvalue > 1e-3


def _successive_pair_probs(w):
    p = np.asarray(w, dtype=float) / np.sum(w)
    return {(i, j): p[i] * p[j] / (1 - p[i]) + p[j] * p[i] / (1 - p[j])
            for i, j in itertools.combinations(range(len(p)), 2)}


@pytest.mark.parametrize("weights", [[4.0, 2.0, 1.0, 1.0],  # top-2 mass 0.75: Gumbel pass
                                     [2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]])  # 0.4: rejection
def test_weighted_sampling_is_successive_sampling(weights):
    """Both sampling paths give P({i,j}) of sampling without replacement ∝ w."""
    la = torch.log(torch.tensor(weights, dtype=torch.float64))
    n = len(weights)
    probs = _successive_pair_probs(weights)
    counts = dict.fromkeys(probs, 0)
    n_draws = 1500
    for s in range(n_draws):
        g = torch.Generator().manual_seed(s)
        flat = weighted_positions(n, 1, la, None, 2, g)
        counts[tuple(flat.nonzero().flatten().tolist())] += 1
    obs = np.array([counts[k] for k in probs])
    exp = np.array([probs[k] for k in probs]) * n_draws
    assert chisquare(obs, exp).pvalue > 1e-3


@pytest.mark.parametrize("limit,count", [(6, 2), (5, 3)])  # rejection path, complement path
def test_distinct_per_row_uniform(limit, count):
    counts = {}
    for s in range(800):
        rows, vals = distinct_per_row(torch.tensor([limit, 4]), torch.tensor([count, 0]),
                                      torch.Generator().manual_seed(s))
        assert rows.tolist() == [0] * count and len(set(vals.tolist())) == count
        key = tuple(sorted(vals.tolist()))
        counts[key] = counts.get(key, 0) + 1
    obs = np.array([counts.get(k, 0) for k in itertools.combinations(range(limit), count)])
    assert chisquare(obs).pvalue > 1e-3


# ---------------------------------------------------------------------------------------------
# SET epsilon
# ---------------------------------------------------------------------------------------------

def test_epsilon_formula():
    g = erdos_renyi_mask((1000, 784), epsilon=20, seed=0)
    assert g.num_edges == 20 * (784 + 1000)  # expected edges ε(n_in + n_out), exact here
    assert g.requested_density == pytest.approx(20 * (784 + 1000) / (784 * 1000))
    g = erdos_renyi_mask((1000, 1000), epsilon=13, seed=0)
    assert g.num_edges == kept_count(10**6, 1 - 13 * 2000 / 10**6) == 26000


def test_epsilon_above_one_warns_dense_or_raises():
    with pytest.warns(UserWarning, match="p=2.02 > 1"):
        g = erdos_renyi_mask((10, 1000), epsilon=20, seed=0)
    assert bool(g.mask.all()) and g.density == 1.0
    with pytest.raises(ValueError, match="strict"):
        erdos_renyi_mask((10, 1000), epsilon=20, strict=True, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        erdos_renyi_mask((1000, 1000), epsilon=20, strict=True, seed=0)


# ---------------------------------------------------------------------------------------------
# scale-free: power-law exponent on a 10,000 x 10,000 layer
# ---------------------------------------------------------------------------------------------

def _discrete_mle(x, xmin):
    """Discrete power-law MLE (Clauset, Shalizi & Newman, SIAM Rev. 51:661, 2009, Sec. 3):
    maximise the log-likelihood -n ln ζ(α, x_min) - α Σ ln x_i over the tail x >= x_min."""
    tail = x[x >= xmin].astype(float)
    s = np.log(tail).sum()
    res = minimize_scalar(lambda a: len(tail) * np.log(zeta(a, xmin)) + a * s,
                          bounds=(1.05, 6.0), method="bounded", options={"xatol": 1e-5})
    return res.x


def _ks_distance(x, xmin, alpha):
    tail = np.sort(x[x >= xmin])
    vals, counts = np.unique(tail, return_counts=True)
    emp = np.cumsum(counts) / tail.size
    model = 1.0 - zeta(alpha, vals + 1) / zeta(alpha, xmin)
    return np.abs(emp - model).max()


def _fit_power_law(x, min_tail=200):
    """x_min chosen by KS distance (CSN 2009, Sec. 3.3); returns (alpha, x_min)."""
    best = None
    for xmin in np.unique(x[x >= 1]):
        if (x >= xmin).sum() < min_tail:
            break
        a = _discrete_mle(x, xmin)
        d = _ks_distance(x, xmin, a)
        if best is None or d < best[0]:
            best = (d, a, int(xmin))
    return best[1], best[2]


def test_power_law_mle_recovers_synthetic_exponent():
    rng = np.random.default_rng(0)
    # discrete power law by inverse transform on the continuous one (CSN App. D approximation)
    x = np.floor((5 - 0.5) * (1 - rng.random(20000)) ** (-1 / 1.5) + 0.5).astype(int)
    assert _discrete_mle(x, 5) == pytest.approx(2.5, abs=0.05)


@pytest.mark.parametrize("gamma,side", [(2.5, "in"), (3.0, "out")])
def test_scale_free_exponent_on_big_layer(gamma, side):
    g = scale_free_mask((10_000, 10_000), num_edges=200_000, gamma=gamma, side=side, seed=0)
    assert g.num_edges == 200_000
    deg = (g.mask.sum(1) if side == "in" else g.mask.sum(0)).numpy()
    other = (g.mask.sum(0) if side == "in" else g.mask.sum(1)).numpy()
    alpha, _ = _fit_power_law(deg)
    assert abs(alpha - gamma) < 0.15
    from graphsparse.topology.metrics import fit_powerlaw   # the library's own fit agrees
    assert abs(fit_powerlaw(deg).alpha - gamma) < 0.15
    assert deg.max() > 20 * deg.mean()       # hubs on the power-law side
    assert other.max() < 3 * other.mean()    # the other side stays Poisson-like


def test_scale_free_both_sides_heavy_tailed():
    g = scale_free_mask((2000, 3000), density=0.01, gamma=2.5, side="both", seed=0)
    for deg in (g.mask.sum(1), g.mask.sum(0)):
        assert deg.max() > 10 * deg.float().mean()


# ---------------------------------------------------------------------------------------------
# small world
# ---------------------------------------------------------------------------------------------

@given(shape=shapes, data=st.data())
def test_ws_lattice_degrees(shape, data):
    m = data.draw(st.integers(0, shape[0] * shape[1]))
    mask = small_world_mask(shape, num_edges=m, beta=0.0, seed=0).mask
    rows, cols = mask.sum(1), mask.sum(0)
    assert int(rows.max() - rows.min()) <= 1
    assert int(cols.max() - cols.min()) <= 3
    moved = small_world_mask(shape, num_edges=m, beta=0.5, seed=0).mask
    assert torch.equal(moved.sum(1), rows)   # rewiring keeps the fan-in of every output


def test_ws_rewiring_moves_a_beta_fraction():
    lattice = small_world_mask((400, 300), density=0.05, beta=0.0, seed=0).mask
    for beta in (0.1, 0.5):
        moved = small_world_mask((400, 300), density=0.05, beta=beta, seed=0).mask
        frac = 1 - int((moved & lattice).sum()) / int(lattice.sum())
        assert frac == pytest.approx(beta, abs=0.02)
    full = small_world_mask((20, 20), density=1.0, beta=1.0, seed=0)
    assert bool(full.mask.all())


# ---------------------------------------------------------------------------------------------
# graph2nn WS-flex
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n,k,p", [(64, 8.32, 0.2), (64, 2.0, 0.0), (16, 5.5, 0.7), (9, 8.0, 0.3),
                                   (33, 3.3, 1.0)])
def test_ws_flex_average_degree_and_stats(n, k, p):
    g = ws_flex_graph(n, k, p, seed=0)
    assert g.num_edges == int(round(k * n / 2))
    assert g.average_degree == pytest.approx(2 * int(round(k * n / 2)) / n)
    adj = g.adjacency
    assert torch.equal(adj, adj.T) and not bool(adj.diagonal().any())
    h = g.to_networkx()
    assert nx.is_connected(h)
    assert g.clustering == pytest.approx(nx.average_clustering(h))
    assert g.path_length == pytest.approx(nx.average_shortest_path_length(h))


def test_ws_flex_lattice_matches_graph2nn_ring():
    g = ws_flex_graph(10, 4.6, 0.0, seed=0)  # 23 edges: 2 per node + 1 extra on nodes 0..2
    expected = {(i, (i + j) % 10) for i in range(10) for j in range(1, 3 + (i < 3))}
    got = {tuple(sorted(e)) for e in g.to_networkx().edges}
    assert got == {tuple(sorted(e)) for e in expected}
    ring = ws_flex_graph(20, 4.0, 0.0, seed=0)   # K=2 ring lattice: C = 3(K-1)/(2(2K-1)) = 0.5
    assert ring.clustering == pytest.approx(0.5)


def test_relational_expansion_matches_graph2nn_compute_densemask():
    graph = ws_flex_graph(8, 3.0, 0.3, seed=5)
    n_out, n_in = 27, 19
    res = relational_graph_mask(graph, (n_out, n_in))

    def compute_size(channel, group):  # graph2nn relation_graph.compute_size, seed=1
        np.random.seed(1)
        out = np.zeros(group, dtype=int)
        out[: channel % group] = channel // group + 1
        out[channel % group:] = channel // group
        return np.random.permutation(out)

    base = graph.adjacency.numpy().astype(float) + np.eye(8)
    ref = np.repeat(np.repeat(base, compute_size(n_out, 8), axis=0), compute_size(n_in, 8), axis=1)
    assert np.array_equal(res.mask.numpy(), ref > 0)
    assert res.relational is graph and res.requested_density is None


def test_ws_flex_mask_and_mlp():
    g = ws_flex_mask((512, 512), 64, 8.32, 0.2, seed=0)
    assert g.num_edges == 64 * (2 * g.relational.num_edges + 64)
    res = ws_flex_mlp_masks(mlp_shapes([3072, 512, 256, 512, 10]), 64, 8.32, 0.2,
                            dense=("fc1", "fc4"), seed=0)
    layers = res.layers
    assert bool(layers["fc1"].mask.all()) and bool(layers["fc4"].mask.all())
    assert layers["fc2"].relational is layers["fc3"].relational   # graph2nn KEEP_GRAPH
    # mask[r, c] = (A + I)[node(r), node(c)], with node() a function of the width only, so
    # fc2's output blocks (width 256) are fc3's input blocks
    a = layers["fc2"].relational.adjacency | torch.eye(64, dtype=torch.bool)

    def node_of(width):
        return torch.repeat_interleave(torch.arange(64),
                                       torch.from_numpy(_node_sizes(width, 64, 1)))

    assert torch.equal(layers["fc2"].mask, a[node_of(256)][:, node_of(512)])
    assert torch.equal(layers["fc3"].mask, a[node_of(512)][:, node_of(256)])
    fresh = ws_flex_mlp_masks(mlp_shapes([128, 128, 128]), 16, 4.0, 0.5, shared_graph=False,
                              seed=0)
    assert fresh.layers["fc1"].relational is not fresh.layers["fc2"].relational
    summary = fresh.report()["fc1"]
    assert set(summary["relational_graph"]) >= {"clustering", "path_length", "average_degree"}


def test_relational_graph_from_networkx():
    h = nx.cycle_graph(5)
    h.add_edge(0, 0)  # self-loop ignored (added back as the diagonal)
    res = relational_graph_mask(h, (5, 5))
    assert res.num_edges == 5 * 3
    assert res.relational.path_length == pytest.approx(nx.average_shortest_path_length(h))


# ---------------------------------------------------------------------------------------------
# biregular
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,d_in,d_out", [
    ((60, 40), 6, 9), ((100, 100), 3, 3), ((10, 4), 2, None), ((30, 20), 14, None),
    ((8, 8), 8, 8), ((1, 7), 7, 1), ((200, 300), 150, 100), ((5, 5), 1, 1)])
def test_biregular_degrees_exact(shape, d_in, d_out):
    g = biregular_mask(shape, d_in, d_out, seed=0)
    d_out = d_out if d_out is not None else shape[0] * d_in // shape[1]
    assert bool((g.mask.sum(1) == d_in).all())
    assert bool((g.mask.sum(0) == d_out).all())
    assert g.num_edges == shape[0] * d_in
    assert torch.equal(g.mask, biregular_mask(shape, d_in, d_out, seed=0).mask)


def test_biregular_is_random():
    a = biregular_mask((50, 50), 4, seed=0).mask
    b = biregular_mask((50, 50), 4, seed=1).mask
    assert not torch.equal(a, b)
    # every position is used across seeds (no structural zeros)
    hits = sum(biregular_mask((6, 6), 2, seed=s).mask.int() for s in range(300))
    assert bool((hits > 0).all())
    assert hits.float().std() / hits.float().mean() < 0.2


# ---------------------------------------------------------------------------------------------
# whole MLP
# ---------------------------------------------------------------------------------------------

def test_mlp_masks_follow_layer_densities():
    shapes_ = mlp_shapes([784, 1000, 1000, 1000, 10])
    res = mlp_masks(shapes_, density=0.05, budget="erk", seed=0)
    dens = layer_densities(shapes_, density=0.05, method="erk")
    assert [round(v, 4) for v in dens.values()] == [0.051, 0.0448, 0.0448, 1.0]
    for name, g in res.layers.items():
        n = shapes_[name][0] * shapes_[name][1]
        assert g.num_edges == kept_count(n, 1 - dens[name])
        assert g.requested_density == dens[name]
        assert res.report()[name]["num_edges"] == g.num_edges
    assert res.density == pytest.approx(0.05, abs=1e-5)
    assert set(res.masks) == set(shapes_)
    report = json.loads(json.dumps(res.report()))
    assert report["fc4"]["density"] == 1.0 and report["fc1"]["shape"] == [1000, 784]


@pytest.mark.parametrize("topology,kw", [("scale_free", {"gamma": 2.5, "side": "both"}),
                                         ("small_world", {"beta": 0.2})])
def test_mlp_masks_other_topologies(topology, kw):
    shapes_ = mlp_shapes([100, 80, 60, 10])
    res = mlp_masks(shapes_, topology=topology, density=0.2, budget="balanced", seed=1, **kw)
    again = mlp_masks(shapes_, topology=topology, density=0.2, budget="balanced", seed=1, **kw)
    dens = layer_densities(shapes_, density=0.2, method="balanced")
    for name in shapes_:
        n = shapes_[name][0] * shapes_[name][1]
        assert res.layers[name].num_edges == kept_count(n, 1 - dens[name])
        assert res.layers[name].method == topology
        assert torch.equal(res.masks[name], again.masks[name])


def test_mlp_masks_epsilon_caps_head_or_raises():
    shapes_ = mlp_shapes([784, 1000, 10])
    with pytest.warns(UserWarning, match="made dense"):
        res = mlp_masks(shapes_, epsilon=20, seed=0)
    assert res.layers["fc1"].num_edges == 20 * 1784 and res.layers["fc2"].density == 1.0
    with pytest.raises(ValueError, match="strict"):
        mlp_masks(shapes_, epsilon=20, strict=True, seed=0)
    res = mlp_masks(shapes_, epsilon=20, overrides={"fc2": 1.0}, seed=0)
    assert res.layers["fc2"].density == 1.0


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call,match", [
    (lambda: erdos_renyi_mask((0, 5), 0.5, seed=0), r"shape\[0\].*>= 1"),
    (lambda: erdos_renyi_mask((5, -1), 0.5, seed=0), r"shape\[1\].*>= 1"),
    (lambda: erdos_renyi_mask((5,), 0.5, seed=0), "shape must be a pair"),
    (lambda: erdos_renyi_mask((5, 5), 0.0, seed=0), r"density must be a number in \(0, 1\]"),
    (lambda: erdos_renyi_mask((5, 5), 1.5, seed=0), r"density must be a number in \(0, 1\]"),
    (lambda: erdos_renyi_mask((5, 5), epsilon=0, seed=0), r"epsilon must be a finite number > 0"),
    (lambda: erdos_renyi_mask((5, 5), epsilon=-2, seed=0), r"epsilon must be a finite number > 0"),
    (lambda: erdos_renyi_mask((5, 5), 0.5, epsilon=2, seed=0), "exactly one"),
    (lambda: erdos_renyi_mask((5, 5), num_edges=26, seed=0), r"num_edges.*\[0, 25\]"),
    (lambda: erdos_renyi_mask((5, 5), 0.5, seed=0, generator=torch.Generator()), "either seed"),
    (lambda: erdos_renyi_mask((5, 5), 0.5), "seed"),
    (lambda: scale_free_mask((5, 5), 0.5, gamma=1.0, seed=0), r"gamma.*must be a finite number > 1,"),
    (lambda: scale_free_mask((5, 5), 0.5, gamma=0.5, seed=0), "gamma"),
    (lambda: scale_free_mask((5, 5), 0.5, side="left", seed=0), "side must be"),
    (lambda: small_world_mask((5, 5), 0.5, beta=1.5, seed=0), r"beta.*must be a number in \[0, 1\]"),
    (lambda: biregular_mask((6, 4), 3, 5, seed=0), "infeasible degrees"),
    (lambda: biregular_mask((7, 5), 2, seed=0), "not an integer"),
    (lambda: biregular_mask((6, 4), 5, seed=0), r"in_degree.*\[1, 4\]"),
    (lambda: biregular_mask((6, 4), 0, seed=0), r"in_degree.*\[1, 4\]"),
    (lambda: biregular_mask((6, 4), 2, 7, seed=0), r"out_degree.*\[1, 6\]"),
    (lambda: ws_flex_graph(2, 2.0, 0.1, seed=0), r"n \(relational-graph nodes\).*>= 3"),
    (lambda: ws_flex_graph(10, 1.5, 0.1, seed=0), r"k \(average degree\).*must be a number in \[2, 9\]"),
    (lambda: ws_flex_graph(10, 9.5, 0.1, seed=0), r"k \(average degree\).*must be a number in \[2, 9\]"),
    (lambda: ws_flex_graph(10, 4.0, -0.1, seed=0), r"p \(rewiring probability\)"),
    (lambda: ws_flex_mask((32, 10), 16, 4.0, 0.1, seed=0), "width below n"),
    (lambda: mlp_masks(mlp_shapes([5, 5]), topology="lattice", density=0.5, seed=0), "topology"),
    (lambda: mlp_masks(mlp_shapes([5, 5]), density=0.5, epsilon=3, seed=0), "exactly one"),
    (lambda: mlp_masks(mlp_shapes([5, 5]), epsilon=3, budget="erk", seed=0), "epsilon"),
    (lambda: mlp_shapes([5]), "at least 2"),
    (lambda: mlp_shapes([5, 0]), r"widths\[1\]"),
])
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_types():
    with pytest.raises(TypeError):
        erdos_renyi_mask((5, 5), "dense", seed=0)
    with pytest.raises(TypeError):
        biregular_mask((4, 4), 2.5, seed=0)
    with pytest.raises(TypeError):
        relational_graph_mask("graph", (4, 4))
    with pytest.raises(TypeError):
        GeneratedMask(torch.zeros(3, 3), "x", {})


def test_disconnected_ws_flex():
    with pytest.raises(RuntimeError, match="no connected"):
        ws_flex_graph(40, 2.0, 1.0, seed=0, tries=1)
    g = ws_flex_graph(40, 2.0, 1.0, seed=0, connected=False)
    assert g.num_edges == 40 and (math.isinf(g.path_length) or g.path_length > 1)

