"""Input -> output paths: reachability, effective sparsity, path counts, shortest paths.

Graph used: the directed layered graph (edges input -> output) of all blocks, identity residual
edges included, channel view for Conv2d. Inputs are the neurons of level 0, outputs those of the
last level. Reachability and path counts are dynamic programmes over the levels with one sparse
mat-vec per block (no per-edge or per-neuron Python loops); shortest paths are a bit-parallel
breadth-first search on the undirected graph (64 sources per machine word, numpy on the blocks'
CSR arrays).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from graphsparse.checks import check_int
from graphsparse.topology.metrics._common import Result, array_field, check_graph

if TYPE_CHECKING:
    from graphsparse.topology.graph import NetworkGraph

__all__ = [
    "Reachability",
    "reachability",
    "EffectiveSparsity",
    "effective_sparsity",
    "PathCounts",
    "path_counts",
    "ShortestPaths",
    "mean_shortest_path",
]

_INT_LIMIT = 2.0**62  # int64 path counts are exact while every count stays below this


@dataclass(frozen=True)
class Reachability(Result):
    """Which neurons lie on input -> output paths.

    ``from_input[v]``: some input reaches ``v`` (true for every input); ``to_output[v]``: ``v``
    reaches some output (true for every output); both ``(num_nodes,)`` bool. A neuron is *on a
    path* iff both hold. The counts are over all neurons.
    """

    num_from_input: int
    num_to_output: int
    num_on_path: int
    from_input: np.ndarray = array_field()
    to_output: np.ndarray = array_field()

    @property
    def on_path(self) -> np.ndarray:
        """``(num_nodes,)`` bool: the neuron lies on at least one input -> output path."""
        return self.from_input & self.to_output


def reachability(graph: NetworkGraph) -> Reachability:
    """Forward reachability from the inputs and backward reachability to the outputs.

    Propagates indicator vectors level by level: ``r_dst = Σ_blocks B @ r_src > 0`` forwards and
    ``q_src = Σ_blocks Bᵀ @ q_dst > 0`` backwards (one sparse mat-vec per block and direction).

    Example::

        >>> g = NetworkGraph.from_masks([np.array([[1, 0], [0, 0]], bool), np.array([[1, 1]], bool)])
        >>> r = reachability(g)
        >>> r.from_input.tolist(), r.to_output.tolist()
        ([True, True, True, False, True], [True, False, True, True, True])
    """
    check_graph(graph)
    offsets, n_levels = graph.offsets, graph.num_levels
    fwd = np.zeros(graph.num_nodes, dtype=bool)
    bwd = np.zeros(graph.num_nodes, dtype=bool)
    fwd[offsets[0] : offsets[1]] = True
    bwd[offsets[-2] : offsets[-1]] = True
    by_dst = {l: [b for b in graph.blocks if b.dst == l] for l in range(n_levels)}
    by_src = {l: [b for b in graph.blocks if b.src == l] for l in range(n_levels)}
    for level in range(1, n_levels):
        acc = np.zeros(graph.sizes[level])
        for b in by_dst[level]:
            acc += b.structure() @ fwd[offsets[b.src] : offsets[b.src + 1]].astype(np.float64)
        fwd[offsets[level] : offsets[level + 1]] = acc > 0
    for level in range(n_levels - 2, -1, -1):
        acc = np.zeros(graph.sizes[level])
        for b in by_src[level]:
            acc += b.structure().T @ bwd[offsets[b.dst] : offsets[b.dst + 1]].astype(np.float64)
        bwd[offsets[level] : offsets[level + 1]] = acc > 0
    return Reachability(int(fwd.sum()), int(bwd.sum()), int((fwd & bwd).sum()), fwd, bwd)


@dataclass(frozen=True)
class BlockEffective(Result):
    """Effective edges of one weight block (edges on at least one input -> output path)."""

    name: str
    num_edges: int
    effective_edges: int
    possible: int
    effective_density: float


@dataclass(frozen=True)
class EffectiveSparsity(Result):
    """Effective sparsity and its parts (Vysogorets & Kempe, "Connectivity Matters: Neural
    Network Pruning Through the Lens of Effective Sparsity", JMLR 24(99), 2023).

    ``effective_sparsity = 1 - effective_edges / possible`` where ``effective_edges`` counts the
    weight edges that lie on at least one input -> output path and ``possible = Σ out·in``;
    ``sparsity = 1 - num_edges / possible`` is the direct sparsity for comparison.
    """

    effective_sparsity: float
    sparsity: float
    effective_edges: int
    num_edges: int
    possible: int
    per_layer: list[BlockEffective]


def effective_sparsity(graph: NetworkGraph, reach: Reachability | None = None) -> EffectiveSparsity:
    """Effective sparsity ``1 − |edges on ≥1 input→output path| / Σ out·in`` (Vysogorets & Kempe,
    JMLR 2023). An edge ``u -> v`` is on a path iff ``u`` is reachable from an input and ``v``
    reaches an output, so a block's effective edges are ``to_output[dst] · (B @ from_input[src])``.
    Identity residual edges help connect paths but are not weights, so they are not counted.

    Args:
        graph: the network graph.
        reach: precomputed :func:`reachability` (recomputed when None).

    Example::

        >>> g = NetworkGraph.from_masks([np.array([[1, 0], [0, 1]], bool), np.array([[1, 0]], bool)])
        >>> effective_sparsity(g).effective_sparsity  # 2 of 6 possible edges lie on a path
        0.6666666666666667
    """
    check_graph(graph)
    if reach is None:
        reach = reachability(graph)
    offsets = graph.offsets
    per_layer = []
    for b in graph.weight_blocks:
        f = reach.from_input[offsets[b.src] : offsets[b.src + 1]].astype(np.float64)
        t = reach.to_output[offsets[b.dst] : offsets[b.dst + 1]].astype(np.float64)
        eff = int(round(float(t @ (b.structure() @ f))))
        per_layer.append(BlockEffective(b.name, b.num_edges, eff, b.possible, eff / b.possible))
    possible = sum(p.possible for p in per_layer)
    eff_total = sum(p.effective_edges for p in per_layer)
    n_edges = sum(p.num_edges for p in per_layer)
    return EffectiveSparsity(1 - eff_total / possible, 1 - n_edges / possible, eff_total, n_edges, possible, per_layer)


@dataclass(frozen=True)
class PathCounts(Result):
    """Number of input -> output paths ending at each output neuron.

    ``exact``: True when every count (at every level) stayed below 2**62, so ``counts`` holds exact
    int64 values and ``total``/``min``/``max`` are exact Python ints; False when counts got too
    large: then only the natural logs are available (``counts``, ``total``, ``min``, ``max`` are
    None) with float64 relative accuracy. ``log_counts`` (natural log, ``-inf`` for 0) is always
    set. ``mean`` is ``total / n_outputs`` (a float); ``log10_*`` are base-10 logs (None for 0).
    """

    exact: bool
    total: int | None
    min: int | None
    max: int | None
    mean: float
    log10_total: float | None
    log10_min: float | None
    log10_max: float | None
    outputs_with_paths: int
    num_outputs: int
    counts: np.ndarray | None = array_field()
    log_counts: np.ndarray = array_field()


def _log_dp(graph: NetworkGraph) -> tuple[list[np.ndarray], list[float]]:
    """Path counts per level as ``mantissa · exp(scale)`` (mantissa max 1), float64."""
    mant: list[np.ndarray] = [np.ones(graph.sizes[0])]
    scale: list[float] = [0.0]
    for level in range(1, graph.num_levels):
        blocks = graph.blocks_into(level)
        acc = np.zeros(graph.sizes[level])
        live = [b for b in blocks if mant[b.src].any()]
        common = max((scale[b.src] for b in live), default=0.0)
        for b in live:
            acc += b.structure() @ (mant[b.src] * math.exp(scale[b.src] - common))
        top = acc.max()
        if top > 0:
            acc /= top
            common += math.log(top)
        mant.append(acc)
        scale.append(common)
    return mant, scale


def path_counts(graph: NetworkGraph) -> PathCounts:
    """Number of input -> output paths per output neuron by dynamic programming over the levels:
    ``c_0 = 1``, ``c_l = Σ_{blocks into l} B @ c_src`` (one sparse mat-vec per block).

    A float64 pass with per-level rescaling gives the natural log of every count; if every count
    at every level is below 2**62 an int64 pass gives exact counts (no partial sum can overflow,
    all terms being non-negative), else the result is log-space only (``exact=False``).

    Example::

        >>> g = NetworkGraph.from_masks([np.ones((3, 2), bool), np.ones((1, 3), bool)])
        >>> pc = path_counts(g)
        >>> pc.exact, pc.counts.tolist(), pc.total
        (True, [6], 6)
    """
    check_graph(graph)
    mant, scale = _log_dp(graph)
    with np.errstate(divide="ignore"):
        logs = [np.log(m) + s for m, s in zip(mant, scale)]
    exact = max(float(l.max()) for l in logs) < math.log(_INT_LIMIT)
    log_counts = logs[-1]
    n_out = graph.sizes[-1]
    positive = np.isfinite(log_counts)
    if exact:
        counts: list[np.ndarray] = [np.ones(graph.sizes[0], dtype=np.int64)]
        for level in range(1, graph.num_levels):
            acc = np.zeros(graph.sizes[level], dtype=np.int64)
            for b in graph.blocks_into(level):
                acc += b.structure(np.int64) @ counts[b.src]
            counts.append(acc)
        out = counts[-1]
        total = int(out.astype(object).sum())
        lo, hi = int(out.min()), int(out.max())
        log_total = math.log(total) if total else -math.inf
        return PathCounts(
            True, total, lo, hi, total / n_out, _log10(log_total), _log10(math.log(lo) if lo else -math.inf),
            _log10(math.log(hi) if hi else -math.inf), int(positive.sum()), n_out, out, log_counts,
        )
    finite = log_counts[positive]
    top = float(finite.max())
    log_total = top + math.log(float(np.exp(finite - top).sum()))
    return PathCounts(
        False, None, None, None, math.exp(log_total - math.log(n_out)), _log10(log_total),
        _log10(float(log_counts.min())), _log10(top), int(positive.sum()), n_out, None, log_counts,
    )


def _log10(ln_value: float) -> float | None:
    return ln_value / math.log(10) if math.isfinite(ln_value) else None


@dataclass(frozen=True)
class ShortestPaths(Result):
    """Mean shortest-path length (hops) on the undirected graph.

    ``mean`` averages ``d(s, v)`` over ordered pairs ``s != v`` with ``v`` reachable from ``s``
    (pairs in different components are skipped, unlike networkx which raises); ``exact=True``
    when every node was a source, else ``num_sources`` sources were drawn uniformly without
    replacement with ``numpy.random.default_rng(seed)``. ``max_distance`` is the largest distance
    seen (the diameter when exact). ``mean`` is None when no pair is connected.
    """

    mean: float | None
    exact: bool
    num_sources: int
    num_pairs: int
    max_distance: int
    seed: int | None


def mean_shortest_path(graph: NetworkGraph, *, sources: int | None = 100, seed: int = 0) -> ShortestPaths:
    """Mean shortest-path length of the undirected graph by breadth-first search, exact or from
    sampled sources.

    The searches are bit-parallel: bit ``k`` of a node's state word says whether source ``k`` has
    reached it, and one BFS step ORs the frontier words of each node's neighbours (``np.take``
    over each block's CSR indices and over its transpose, ``np.bitwise_or.reduceat`` per row), so
    64 sources advance together per word. Distances are exact integer hop counts; the result is
    the same as ``scipy.sparse.csgraph.shortest_path(unweighted=True, directed=False)``.

    Args:
        graph: the network graph (all blocks, identity residual edges included).
        sources: number of BFS sources drawn at random (seeded); ``None`` or ``>= num_nodes``
            computes the exact mean over all sources.
        seed: seed of ``numpy.random.default_rng`` for the source sample.

    Example::

        >>> g = NetworkGraph.from_masks([np.ones((1, 2), bool)])  # a path 0 - 2 - 1
        >>> mean_shortest_path(g, sources=None).mean  # (1+2+1+1+2+1)/6
        1.3333333333333333
    """
    check_graph(graph)
    n = graph.num_nodes
    if sources is not None:
        check_int(sources, "sources", low=1)
    exact = sources is None or sources >= n
    if exact:
        chosen = np.arange(n)
    else:
        chosen = np.sort(np.random.default_rng(seed).choice(n, size=int(sources), replace=False))
    total, pairs, longest = _bfs_distance_sums(graph, chosen)
    return ShortestPaths(total / pairs if pairs else None, exact, len(chosen), pairs, longest, None if exact else seed)


_MAX_GATHER_BYTES = 1 << 26  # frontier words gathered at once per block (64 MB)
_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(words: np.ndarray) -> int:
    """Number of set bits in a uint64 array."""
    count = getattr(np, "bitwise_count", None)  # numpy >= 2.0
    if count is not None:
        return int(count(words).sum(dtype=np.int64))
    return int(_POPCOUNT8[words.view(np.uint8)].sum(dtype=np.int64))


def _bfs_distance_sums(graph: NetworkGraph, sources: np.ndarray) -> tuple[int, int, int]:
    """``(Σ d(s, v), number of pairs, max d)`` over the distinct ``sources`` ``s`` and the nodes
    ``v != s`` reachable from them in the undirected graph, by bit-parallel BFS.

    State: ``(num_nodes, words)`` uint64 arrays, bit ``k % 64`` of word ``k // 64`` for the
    ``k``-th source of the current chunk. Step ``d``: ``next[v] = OR of front[u]`` over the
    neighbours ``u`` of ``v``, minus the bits already ``seen``; the new bits are the pairs at
    distance exactly ``d``. Stops when a step reaches nothing new.
    """
    off, n = graph.offsets, graph.num_nodes
    adjacency = []  # (rows' level slice, columns' level slice, non-empty rows, their starts, column ids)
    for b in graph.blocks:
        if b.nnz == 0:
            continue
        dst, src = slice(off[b.dst], off[b.dst + 1]), slice(off[b.src], off[b.src + 1])
        for rows_of, cols_of, m in ((dst, src, b.mask), (src, dst, b.mask.T.tocsr())):
            rows = np.flatnonzero(np.diff(m.indptr))
            adjacency.append((rows_of, cols_of, rows, m.indptr[rows], m.indices))
    biggest = max((a[4].size for a in adjacency), default=1)
    words = int(max(1, min(64, _MAX_GATHER_BYTES // (8 * biggest))))
    total = pairs = longest = 0
    for start in range(0, len(sources), 64 * words):
        chunk = np.asarray(sources[start : start + 64 * words], dtype=np.int64)
        bit = np.arange(len(chunk))
        front = np.zeros((n, -(-len(chunk) // 64)), dtype=np.uint64)
        front[chunk, bit // 64] = np.left_shift(np.uint64(1), (bit % 64).astype(np.uint64))
        seen = front.copy()
        step = 0
        while True:
            step += 1
            reached = np.zeros_like(front)
            for rows_of, cols_of, rows, starts, cols in adjacency:
                gathered = np.take(front[cols_of], cols, axis=0)
                reached[rows_of][rows] |= np.bitwise_or.reduceat(gathered, starts, axis=0)
            reached &= ~seen
            found = _popcount(reached)
            if not found:
                break
            seen |= reached
            total += step * found
            pairs += found
            longest = max(longest, step)
            front = reached
    return total, pairs, longest
