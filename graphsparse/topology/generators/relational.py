"""graph2nn relational graphs (You et al., ICML 2020): the WS-flex generator and the expansion of
a relational graph to a layer mask.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import torch

from graphsparse.checks import as_generator, check_float, check_int

from ._sampling import repeat_by_counts
from .layer_masks import GeneratedMask, check_layer_shape

__all__ = ["RelationalGraph", "ws_flex_graph", "relational_graph_mask", "ws_flex_mask"]


@dataclass(frozen=True, eq=False)
class RelationalGraph:
    """An undirected relational graph (graph2nn, You et al. ICML 2020) and its statistics.

    Attributes:
        adjacency: ``(n, n)`` symmetric ``torch.bool`` adjacency, no self-loops.
        params: the generator's parameters (e.g. ``{"generator": "ws_flex", "k": 8, "p": 0.2}``).
        clustering: average clustering coefficient C (``networkx.average_clustering``).
        path_length: average shortest-path length L in hops
            (``networkx.average_shortest_path_length``); ``math.inf`` if disconnected.

    >>> g = ws_flex_graph(16, 4.0, 0.0, seed=0)
    >>> g.n, g.num_edges, round(g.clustering, 3)
    (16, 32, 0.5)
    """

    adjacency: torch.Tensor
    params: dict
    clustering: float
    path_length: float

    @property
    def n(self) -> int:
        """Number of relational-graph nodes."""
        return int(self.adjacency.shape[0])

    @property
    def num_edges(self) -> int:
        """Number of undirected edges (self-loops excluded)."""
        return int(self.adjacency.sum()) // 2

    @property
    def average_degree(self) -> float:
        """Realised average degree ``2·num_edges / n``."""
        return 2.0 * self.num_edges / self.n

    def to_networkx(self) -> nx.Graph:
        """The graph as a ``networkx.Graph`` on nodes ``0..n-1``."""
        g = nx.Graph()
        g.add_nodes_from(range(self.n))
        rows, cols = torch.triu(self.adjacency, diagonal=1).nonzero(as_tuple=True)
        g.add_edges_from(zip(rows.tolist(), cols.tolist()))
        return g

    def __repr__(self) -> str:
        return (f"RelationalGraph(n={self.n}, num_edges={self.num_edges}, "
                f"clustering={self.clustering:.4g}, path_length={self.path_length:.4g})")

    def summary(self) -> dict:
        """JSON-friendly summary (no adjacency)."""
        return {"n": self.n, "num_edges": self.num_edges, "average_degree": self.average_degree,
                "clustering": self.clustering, "path_length": self.path_length,
                "params": dict(self.params)}


def _relational_stats(adj: torch.Tensor) -> tuple[float, float]:
    g = nx.from_numpy_array(adj.numpy().astype(np.uint8))
    c = float(nx.average_clustering(g))
    path = float(nx.average_shortest_path_length(g)) if nx.is_connected(g) else math.inf
    return c, path


def _ws_flex_once(n: int, k: float, p: float, gen: torch.Generator) -> torch.Tensor:
    edge_num = int(round(k * n / 2))
    divide, remain = divmod(edge_num, n)
    count = [divide + 1 if i < remain else divide for i in range(n)]
    adj = np.zeros((n, n), dtype=bool)
    lattice = [(i, (i + j) % n) for i in range(n) for j in range(1, count[i] + 1)]
    src = np.array([e[0] for e in lattice], dtype=np.int64)
    dst = np.array([e[1] for e in lattice], dtype=np.int64)
    adj[src, dst] = True
    adj[dst, src] = True
    draws = torch.rand((2, len(lattice)), generator=gen, dtype=torch.float64).numpy()
    for e, (u, v) in enumerate(lattice):
        if draws[0, e] >= p:
            continue
        allowed = np.flatnonzero(~adj[u])
        allowed = allowed[allowed != u]
        if allowed.size == 0:
            continue
        w = int(allowed[min(int(draws[1, e] * allowed.size), allowed.size - 1)])
        adj[u, v] = adj[v, u] = False
        adj[u, w] = adj[w, u] = True
    return torch.from_numpy(adj)


def ws_flex_graph(n: int, k: float, p: float, *, seed: int | None = None,
                  generator: torch.Generator | None = None, connected: bool = True,
                  tries: int = 100) -> RelationalGraph:
    """graph2nn's WS-flex relational graph: Watts–Strogatz with a real-valued average degree.

    You, Leskovec, He & Xie, "Graph Structure of Neural Networks", ICML 2020 (the WS-flex
    generator of its relational-graph design space), as implemented in
    ``facebookresearch/graph2nn`` ``pycls/models/relation_graph.py::ws_graph``:
    ``E = round(k·n/2)`` edges; node ``i`` (of ``n`` on a ring) gets ``⌊E/n⌋ + 1`` lattice edges
    to its next neighbours if ``i < E mod n`` else ``⌊E/n⌋``; then, node by node, each of its
    lattice edges ``(u, v)`` is rewired with probability ``p`` to ``(u, w)``, ``w`` uniform
    among the nodes not adjacent to ``u`` (skipped if ``u`` is adjacent to all). The edge count
    stays exactly ``E``, so the realised average degree is ``2E/n``. With ``connected=True``
    (graph2nn's ``connected_ws_graph``) up to ``tries`` graphs are drawn until one is connected.

    The graph's clustering C and average path length L (the two statistics graph2nn relates to
    accuracy) are computed with networkx — fine for relational graphs (graph2nn uses n = 64).

    Args:
        n: number of nodes, >= 3.
        k: average degree, a real number in [2, n−1] (``k = n−1`` is the complete graph;
            graph2nn's ``sparsity`` is ``k/n``).
        p: rewiring probability in [0, 1].
        seed, generator: exactly one.
        connected: redraw until connected.
        tries: maximum draws when ``connected`` (>= 1).

    Returns:
        :class:`RelationalGraph` with ``(n, n)`` adjacency, C and L.

    Raises:
        ValueError: bad arguments. RuntimeError: no connected graph in ``tries`` draws.

    >>> g = ws_flex_graph(64, 8.32, 0.2, seed=1)
    >>> g.num_edges, g.average_degree
    (266, 8.3125)
    """
    n = check_int(n, "n (relational-graph nodes)", low=3)
    kk = check_float(k, f"k (average degree) for n={n}", low=2.0, high=n - 1.0)
    pp = check_float(p, "p (rewiring probability)", low=0.0, high=1.0)
    tries = check_int(tries, "tries", low=1)
    gen = as_generator(seed, generator)
    for _ in range(tries if connected else 1):
        adj = _ws_flex_once(n, kk, pp, gen)
        c, path = _relational_stats(adj)
        if not connected or math.isfinite(path):
            return RelationalGraph(adj, {"generator": "ws_flex", "n": n, "k": kk, "p": pp},
                                   c, path)
    raise RuntimeError(f"no connected WS-flex graph with n={n}, k={kk}, p={pp} in {tries} tries; "
                       "raise k, lower p, raise tries or pass connected=False")


def _node_sizes(width: int, n: int, assignment_seed: int) -> np.ndarray:
    """graph2nn ``compute_size``: split ``width`` neurons over ``n`` nodes as evenly as
    possible (sizes ⌈width/n⌉ for the first ``width mod n``), then permute the sizes with
    ``numpy.random.RandomState(assignment_seed)`` (graph2nn uses ``np.random.seed(1)``)."""
    divide, remain = divmod(width, n)
    out = np.full(n, divide, dtype=np.int64)
    out[:remain] += 1
    return np.random.RandomState(assignment_seed).permutation(out)


def relational_graph_mask(graph: RelationalGraph | nx.Graph, shape: Sequence[int], *,
                          assignment_seed: int = 1) -> GeneratedMask:
    """Expand a relational graph to a layer mask, as graph2nn's ``TalkLinear`` does.

    You et al. ICML 2020 (a layer = one round of message exchange on the relational graph);
    graph2nn ``relation_graph.compute_densemask``: each of the ``n``
    nodes owns a contiguous block of output neurons and a contiguous block of input neurons
    (block sizes ⌊width/n⌋ or ⌈width/n⌉, the order of the sizes permuted by
    ``RandomState(assignment_seed)``, seed 1 as in graph2nn); output neuron ``o`` and input
    neuron ``i`` are connected iff their nodes are adjacent **or equal** (self-loops are added,
    a node keeps its own message). Because the blocks depend only on ``(width, n,
    assignment_seed)``, the blocks of a layer's outputs coincide with the next layer's inputs,
    so one relational graph reused in every layer means the same message exchange in every
    round. The edge count is ``Σ_{(a,b) ∈ A+I} s_out[a]·s_in[b]`` (deterministic given the
    graph).

    Args:
        graph: a :class:`RelationalGraph`, or an undirected ``networkx.Graph`` (nodes taken in
            ``graph.nodes`` order; self-loops and directions ignored).
        shape: ``(n_out, n_in)``; both widths must be >= the number of nodes (graph2nn
            silently shrinks the graph instead; here that is an error).
        assignment_seed: seed of the neuron-to-node block permutation (int >= 0).

    Returns:
        :class:`GeneratedMask` (``requested_density=None``; ``relational`` set).

    >>> g = ws_flex_graph(4, 2.0, 0.0, seed=0)          # a 4-cycle
    >>> relational_graph_mask(g, (4, 4)).mask.int().tolist()
    [[1, 1, 0, 1], [1, 1, 1, 0], [0, 1, 1, 1], [1, 0, 1, 1]]
    """
    n_out, n_in = check_layer_shape(shape)
    assignment_seed = check_int(assignment_seed, "assignment_seed", low=0, high=2**32 - 1)
    if isinstance(graph, nx.Graph):
        if graph.number_of_nodes() < 1:
            raise ValueError("graph has no nodes")
        und = nx.Graph(graph)
        und.remove_edges_from(list(nx.selfloop_edges(und)))
        adj = torch.from_numpy(nx.to_numpy_array(und, nodelist=list(und.nodes)) > 0)
        c, path = _relational_stats(adj)
        graph = RelationalGraph(adj, {"generator": "networkx"}, c, path)
    elif not isinstance(graph, RelationalGraph):
        raise TypeError(f"graph must be a RelationalGraph or networkx.Graph, "
                        f"got {type(graph).__name__}")
    n = graph.n
    if n > min(n_out, n_in):
        raise ValueError(f"the relational graph has n={n} nodes but shape {(n_out, n_in)} has "
                         f"a width below n; every width must be >= n")
    block = graph.adjacency | torch.eye(n, dtype=torch.bool)
    s_out = torch.from_numpy(_node_sizes(n_out, n, assignment_seed))
    s_in = torch.from_numpy(_node_sizes(n_in, n, assignment_seed))
    mask = repeat_by_counts(repeat_by_counts(block, s_out, dim=0), s_in, dim=1)
    params = dict(graph.params, assignment_seed=assignment_seed)
    return GeneratedMask(mask, "relational_graph", params, None, graph)


def ws_flex_mask(shape: Sequence[int], n: int, k: float, p: float, *, seed: int | None = None,
                 generator: torch.Generator | None = None, connected: bool = True,
                 assignment_seed: int = 1) -> GeneratedMask:
    """A graph2nn WS-flex layer: :func:`ws_flex_graph` then :func:`relational_graph_mask`.

    You et al., "Graph Structure of Neural Networks", ICML 2020. The realised density is about
    ``(k̄ + 1)/n`` (``k̄ = 2E/n``, plus the self-loop), exact value reported; the relational
    graph's clustering C and path length L are in ``result.relational``.

    Args:
        shape: ``(n_out, n_in)``, both >= n.
        n, k, p: WS-flex nodes (>= 3), real average degree in [2, n−1], rewiring probability.
        seed, generator: exactly one (drives the graph; the block assignment uses
            ``assignment_seed``).
        connected: redraw the graph until connected (graph2nn).
        assignment_seed: seed of the neuron-to-node blocks (graph2nn: 1).

    Returns:
        :class:`GeneratedMask` with a ``(n_out, n_in)`` bool mask and ``relational`` set.

    >>> g = ws_flex_mask((512, 512), 64, 8.32, 0.2, seed=0)
    >>> g.num_edges == 64 * (2 * g.relational.num_edges + 64), round(g.relational.average_degree, 4)
    (True, 8.3125)
    """
    graph = ws_flex_graph(n, k, p, seed=seed, generator=generator, connected=connected)
    return relational_graph_mask(graph, shape, assignment_seed=assignment_seed)
