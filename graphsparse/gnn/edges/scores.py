"""Structural edge scores: small pure functions over ``edge_index`` (PyG ``utils`` style).

Every score is computed per **edge unit** of :func:`~graphsparse.gnn.edges.tie_directions`
(the undirected pair ``{u, v}`` by default), so both directions of an edge share one score and
are kept or pruned together. A score function returns a float64 tensor ``[U]`` aligned with
``tie_directions(edge_index, num_nodes).pairs`` (sorted by ``(min, max)``); expand a mask over
units to the directed edges with :meth:`~graphsparse.gnn.edges.TiedEdges.expand`.

Conventions shared by all scores:

* **Higher = more important = kept first** (as for :func:`graphsparse.masks.topk_masks`).
* The graph is read as a simple undirected graph: the neighbourhood ``N(u)`` is the set of
  nodes sharing a non-loop unit with ``u`` (parallel edges count once, self-loops never), and
  the degree is ``d_u = |N(u)|``.
* Self-loop units score ``+inf``: they are never pruned (TEDDY's ``prune_adj`` gives them the
  maximum score). Pruning methods select among the non-loop units only, so the infinities never
  reach a top-k selection.

Scores:

* :func:`teddy_score` — TEDDY's degree-based score (Seo, Yun, Yang, ICLR 2024);
* :func:`jaccard_score` — Jaccard similarity of the endpoints' neighbourhoods;
* :func:`adamic_adar_score` — Adamic–Adar index of the endpoints (Adamic & Adar, 2003);
* :func:`random_score` — i.i.d. uniform, seeded (the random-pruning baseline).

:func:`edge_scores` dispatches by name (:data:`EDGE_SCORES`).

Example:
    >>> import torch
    >>> ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])        # the path 0 - 1 - 2
    >>> [round(v, 4) for v in teddy_score(ei).tolist()]
    [0.3536, 0.3536]
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor

from graphsparse.checks import check_int
from graphsparse.gnn.edges.tied import TiedEdges, tie_directions

__all__ = [
    "EDGE_SCORES",
    "adamic_adar_score",
    "edge_scores",
    "jaccard_score",
    "random_score",
    "teddy_score",
]

#: Names accepted by :func:`edge_scores`.
EDGE_SCORES = ("teddy", "jaccard", "adamic_adar", "random")


def _units(edge_index: Tensor, num_nodes: int | None) -> tuple[TiedEdges, int, Tensor, Tensor]:
    """``(tied, N, u, v)``: the tied units and the endpoints ``u, v [U']`` of non-loop units."""
    tied = tie_directions(edge_index, num_nodes)
    n = int(num_nodes) if num_nodes is not None else \
        (int(edge_index.max()) + 1 if edge_index.numel() else 0)
    pairs = tied.pairs.cpu()
    real = pairs[0] != pairs[1]
    return tied, n, pairs[0, real], pairs[1, real]


def _degrees(u: Tensor, v: Tensor, n: int) -> Tensor:
    """``d [N]`` float64: number of distinct non-loop neighbours of every node."""
    deg = torch.zeros(n, dtype=torch.float64)
    one = torch.ones(u.numel(), dtype=torch.float64)
    return deg.index_add_(0, u, one).index_add_(0, v, one)


def _fill(tied: TiedEdges, values: Tensor) -> Tensor:
    """Scores ``[U]``: ``values`` on the non-loop units (in order), ``+inf`` on self-loops."""
    out = torch.full((tied.num_pairs,), math.inf, dtype=torch.float64)
    out[~tied.is_loop.cpu()] = values
    return out


def _common(u: Tensor, v: Tensor, n: int, node_weight: Tensor | None) -> Tensor:
    """``Σ_{k ∈ N(u) ∩ N(v)} w_k`` for every non-loop unit ``(u, v)`` (``w = 1`` if None).

    Computed as the ``(u, v)`` entries of ``A · diag(w) · A`` with a sparse product, where ``A``
    is the symmetric 0/1 adjacency of the non-loop units.
    """
    if u.numel() == 0:
        return torch.zeros(0, dtype=torch.float64)
    rows, cols = torch.cat([u, v]), torch.cat([v, u])
    ones = torch.ones(rows.numel(), dtype=torch.float64)
    adj = torch.sparse_coo_tensor(torch.stack([rows, cols]), ones, (n, n),
                                  check_invariants=True).coalesce()
    right = adj if node_weight is None else torch.sparse_coo_tensor(
        adj.indices(), adj.values() * node_weight[adj.indices()[0]], (n, n),
        check_invariants=True).coalesce()
    with warnings.catch_warnings():  # torch routes the COO product through its beta CSR code
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        paths = torch.sparse.mm(adj, right).coalesce()
    keys = paths.indices()[0] * n + paths.indices()[1]
    query = u * n + v
    pos = torch.searchsorted(keys, query).clamp(max=max(keys.numel() - 1, 0))
    found = keys.numel() > 0
    hit = (keys[pos] == query) if found else torch.zeros_like(query, dtype=torch.bool)
    return torch.where(hit, paths.values()[pos] if found else torch.zeros(0), 0.0)


def teddy_score(edge_index: Tensor, num_nodes: int | None = None) -> Tensor:
    """TEDDY's degree-based edge score (Seo, Yun, Yang, "TEDDY: Trimming Edges with Degree-based
    Discrimination strategY", ICLR 2024; the edge score of the paper's Eq. 5, written here as
    the authors' ``pruning.py`` computes it — the paper's notation may differ).

    With ``d`` the degree of the (loop-free) adjacency,

        ``ḡ(u) = (1/d_u) Σ_{k ∈ N(u)} d_k^{-1/2}``  (mean inverse-sqrt degree of u's neighbours)

        ``T(u, v) = [ḡ(u) / d_u] · [ḡ(v) / d_v]``.

    Low ``T`` is pruned first: edges between high-degree nodes whose neighbours also have high
    degree go first (TEDDY: "low-degree edges are important"). Symmetric, ``O(|E|)`` (one
    sparse matrix-vector product), structure only: no features, no gradients.

    Args:
        edge_index: ``[2, E]`` integer tensor.
        num_nodes: number of nodes (default ``edge_index.max() + 1``).

    Returns:
        float64 ``[U]`` over ``tie_directions(edge_index, num_nodes).pairs``; self-loops ``+inf``.

    Example:
        >>> import torch
        >>> ei = torch.tensor([[0, 0], [1, 2]])                  # star: centre 0, leaves 1, 2
        >>> # d = (2, 1, 1); ḡ(0) = 1, ḡ(1) = ḡ(2) = 2^-1/2; T = (1/2)·2^-1/2
        >>> [round(v, 6) for v in teddy_score(ei).tolist()]
        [0.353553, 0.353553]
    """
    tied, n, u, v = _units(edge_index, num_nodes)
    deg = _degrees(u, v, n)
    inv_sqrt = torch.where(deg > 0, deg.clamp(min=1).rsqrt(), 0.0)
    neighbour_sum = torch.zeros(n, dtype=torch.float64)
    neighbour_sum.index_add_(0, u, inv_sqrt[v]).index_add_(0, v, inv_sqrt[u])
    safe = deg.clamp(min=1)
    g_bar = neighbour_sum / safe                      # ḡ(u)
    node_term = g_bar / safe                          # ḡ(u) / d_u
    return _fill(tied, node_term[u] * node_term[v])


def jaccard_score(edge_index: Tensor, num_nodes: int | None = None) -> Tensor:
    """Jaccard similarity of the endpoints' neighbourhoods, ``|N(u) ∩ N(v)| / |N(u) ∪ N(v)|``.

    Edges whose endpoints share few neighbours (often the heterophilous or noisy ones) are
    pruned first. ``N(·)`` excludes the node itself, so adjacent endpoints have a union of at
    least 2 and the score is well defined.

    Args:
        edge_index: ``[2, E]`` integer tensor.
        num_nodes: number of nodes (default ``edge_index.max() + 1``).

    Returns:
        float64 ``[U]`` in ``[0, 1]`` over the tied units; self-loops ``+inf``.

    Example:
        >>> import torch
        >>> ei = torch.tensor([[0, 0, 1, 2], [1, 2, 2, 3]])      # triangle 0-1-2 plus 2-3
        >>> [round(v, 4) for v in jaccard_score(ei).tolist()]
        [0.3333, 0.25, 0.25, 0.0]
    """
    tied, n, u, v = _units(edge_index, num_nodes)
    deg = _degrees(u, v, n)
    common = _common(u, v, n, None)
    return _fill(tied, common / (deg[u] + deg[v] - common))


def adamic_adar_score(edge_index: Tensor, num_nodes: int | None = None) -> Tensor:
    """Adamic–Adar index of the endpoints, ``Σ_{k ∈ N(u) ∩ N(v)} 1 / log d_k`` (Adamic & Adar,
    "Friends and neighbors on the Web", Social Networks 25(3), 2003).

    A common neighbour ``k`` of two distinct nodes has ``d_k >= 2``, so ``log d_k > 0``.

    Args:
        edge_index: ``[2, E]`` integer tensor.
        num_nodes: number of nodes (default ``edge_index.max() + 1``).

    Returns:
        float64 ``[U]`` (``>= 0``) over the tied units; self-loops ``+inf``.

    Example:
        >>> import torch
        >>> ei = torch.tensor([[0, 0, 1, 2], [1, 2, 2, 3]])      # triangle 0-1-2 plus 2-3
        >>> [round(v, 4) for v in adamic_adar_score(ei).tolist()]
        [0.9102, 1.4427, 1.4427, 0.0]
    """
    tied, n, u, v = _units(edge_index, num_nodes)
    deg = _degrees(u, v, n)
    weight = torch.where(deg >= 2, 1.0 / deg.clamp(min=2).log(), 0.0)
    return _fill(tied, _common(u, v, n, weight))


def random_score(edge_index: Tensor, num_nodes: int | None = None, *, seed: int = 0) -> Tensor:
    """I.i.d. uniform ``[0, 1)`` scores per unit from a ``torch.Generator`` seeded with ``seed``
    (the random-pruning baseline; same seed → same scores → nested masks across levels).

    Returns:
        float64 ``[U]`` over the tied units; self-loops ``+inf``.
    """
    check_int(seed, "seed", low=0)
    tied, _, u, _ = _units(edge_index, num_nodes)
    generator = torch.Generator().manual_seed(seed)
    return _fill(tied, torch.rand(u.numel(), generator=generator, dtype=torch.float64))


def edge_scores(name: str, edge_index: Tensor, num_nodes: int | None = None, *,
                seed: int = 0) -> Tensor:
    """The structural score ``name`` (one of :data:`EDGE_SCORES`) per tied unit, ``[U]``.

    ``seed`` is used by ``"random"`` only.

    Example:
        >>> import torch
        >>> edge_scores("pagerank", torch.tensor([[0], [1]]))
        Traceback (most recent call last):
        ...
        ValueError: unknown edge score 'pagerank'; valid scores: 'teddy', 'jaccard', 'adamic_adar', 'random'
    """
    if name == "teddy":
        return teddy_score(edge_index, num_nodes)
    if name == "jaccard":
        return jaccard_score(edge_index, num_nodes)
    if name == "adamic_adar":
        return adamic_adar_score(edge_index, num_nodes)
    if name == "random":
        return random_score(edge_index, num_nodes, seed=seed)
    raise ValueError(f"unknown edge score {name!r}; valid scores: "
                     f"{', '.join(map(repr, EDGE_SCORES))}")
