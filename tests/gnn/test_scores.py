"""Tests of graphsparse.gnn.edges.scores: TEDDY's degree score against a hand computation and a
brute-force reference, Jaccard / Adamic–Adar against hand values, tying and self-loops."""

from __future__ import annotations

import math

import pytest
import torch

from graphsparse.gnn.data import synthetic_sbm
from graphsparse.gnn.edges import tie_directions
from graphsparse.gnn.edges.scores import (
    EDGE_SCORES,
    adamic_adar_score,
    edge_scores,
    jaccard_score,
    random_score,
    teddy_score,
)

# 5 nodes: 0-1, 0-2, 0-3, 1-2, 3-4, both directions
FIVE = torch.tensor([[0, 1, 0, 2, 0, 3, 1, 2, 3, 4],
                     [1, 0, 2, 0, 3, 0, 2, 1, 4, 3]])


def test_teddy_score_hand_computed_five_nodes():
    # degrees d = (3, 2, 2, 2, 1)
    r2, r3 = 2 ** -0.5, 3 ** -0.5
    g_bar = {0: (r2 + r2 + r2) / 3,          # neighbours 1, 2, 3
             1: (r3 + r2) / 2,               # neighbours 0, 2
             2: (r3 + r2) / 2,               # neighbours 0, 1
             3: (r3 + 1.0) / 2,              # neighbours 0, 4
             4: r2 / 1}                      # neighbour 3
    deg = {0: 3, 1: 2, 2: 2, 3: 2, 4: 1}

    def t(u, v):
        return (g_bar[u] / deg[u]) * (g_bar[v] / deg[v])

    expected = [t(0, 1), t(0, 2), t(0, 3), t(1, 2), t(3, 4)]   # pairs sorted by (min, max)
    assert tie_directions(FIVE).pairs.tolist() == [[0, 0, 0, 1, 3], [1, 2, 3, 2, 4]]
    got = teddy_score(FIVE)
    assert got.dtype == torch.float64
    assert got.tolist() == pytest.approx(expected, rel=1e-12)
    # by hand: T(0,1) = (2^-1/2 / 3) * (((3^-1/2 + 2^-1/2)/2) / 2) = 0.0756874...
    assert float(got[0]) == pytest.approx(0.07568736, rel=1e-6)
    # pruned first: the edges 0-1 and 0-2 between the hub 0 and degree-2 nodes (tied);
    # kept longest: 3-4, whose endpoint 4 is a leaf ("low-degree edges are important")
    assert float(got[0]) == float(got[1]) == float(got.min())
    assert int(got.argmax()) == 4


def test_teddy_score_ties_directions_and_protects_loops():
    one_way = FIVE[:, ::2]                       # each edge stored once
    assert torch.equal(teddy_score(one_way), teddy_score(FIVE))
    with_loop = torch.cat([FIVE, torch.tensor([[2], [2]])], 1)
    scores = teddy_score(with_loop)
    pairs = tie_directions(with_loop).pairs
    loop = pairs[0] == pairs[1]
    assert torch.isinf(scores[loop]).all()
    assert torch.equal(scores[~loop], teddy_score(FIVE))    # loops do not change degrees


def test_teddy_score_matches_brute_force_on_sbm():
    g = synthetic_sbm(num_nodes=120, num_classes=3, p_in=0.08, p_out=0.01, seed=1)
    ei = g.edge_index
    neighbours = {u: set() for u in range(g.num_nodes)}
    for u, v in ei.t().tolist():
        if u != v:
            neighbours[u].add(v)
            neighbours[v].add(u)
    d = {u: len(ns) for u, ns in neighbours.items()}

    def term(u):
        return sum(d[k] ** -0.5 for k in neighbours[u]) / d[u] / d[u]

    pairs = tie_directions(ei).pairs.t().tolist()
    expected = [term(u) * term(v) for u, v in pairs]
    assert teddy_score(ei, g.num_nodes).tolist() == pytest.approx(expected, rel=1e-10)


def test_jaccard_and_adamic_adar_hand_values():
    ei = torch.tensor([[0, 0, 1, 2], [1, 2, 2, 3]])      # triangle 0-1-2 plus 2-3
    # N(0)={1,2}, N(1)={0,2}, N(2)={0,1,3}, N(3)={2}; pairs (0,1),(0,2),(1,2),(2,3)
    assert jaccard_score(ei).tolist() == pytest.approx([1 / 3, 1 / 4, 1 / 4, 0.0])
    assert adamic_adar_score(ei).tolist() == pytest.approx(
        [1 / math.log(3), 1 / math.log(2), 1 / math.log(2), 0.0])


def test_similarity_scores_match_brute_force_on_sbm():
    g = synthetic_sbm(num_nodes=100, num_classes=2, p_in=0.1, p_out=0.02, seed=2)
    ns = {u: set() for u in range(g.num_nodes)}
    for u, v in g.edge_index.t().tolist():
        ns[u].add(v)
        ns[v].add(u)
    pairs = tie_directions(g.edge_index).pairs.t().tolist()
    jac = [len(ns[u] & ns[v]) / len(ns[u] | ns[v]) for u, v in pairs]
    aa = [sum(1 / math.log(len(ns[k])) for k in ns[u] & ns[v]) for u, v in pairs]
    assert jaccard_score(g.edge_index, g.num_nodes).tolist() == pytest.approx(jac)
    assert adamic_adar_score(g.edge_index, g.num_nodes).tolist() == pytest.approx(aa)


def test_random_score_seeded():
    a, b = random_score(FIVE, seed=3), random_score(FIVE, seed=3)
    assert torch.equal(a, b) and not torch.equal(a, random_score(FIVE, seed=4))
    assert ((a >= 0) & (a < 1)).all() and a.numel() == 5
    with pytest.raises(ValueError, match="seed"):
        random_score(FIVE, seed=-1)


def test_edge_scores_dispatch_and_unknown_name():
    for name in EDGE_SCORES:
        assert edge_scores(name, FIVE).shape == (5,)
    assert torch.equal(edge_scores("teddy", FIVE), teddy_score(FIVE))
    with pytest.raises(ValueError, match="valid scores: 'teddy', 'jaccard'"):
        edge_scores("pagerank", FIVE)
