"""Dead neurons and connected components.

Graph used: the layered graph of all blocks (identity residual edges included; channel view
for Conv2d). Degrees are per neuron over all blocks; components are weakly connected
(edge directions ignored), computed on the blocks' CSR arrays without assembling the global
adjacency (see :func:`components`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from graphsparse.topology.metrics._common import Result, array_field, check_graph
from graphsparse.topology.metrics.degree import in_degree, out_degree
from graphsparse.topology.metrics.paths import Reachability, reachability

if TYPE_CHECKING:
    from graphsparse.topology.graph.block import Block
    from graphsparse.topology.graph import NetworkGraph

__all__ = ["DeadNeurons", "dead_neurons", "Components", "components", "num_components"]


@dataclass(frozen=True)
class DeadNeurons(Result):
    """Dead and disconnected neurons (counts of neurons).

    Degree-based (local) parts, whose sum is ``total``:

    * ``hidden``: hidden neurons (levels 1 .. L-2) with zero in-degree or zero out-degree;
      ``hidden_no_in`` / ``hidden_no_out`` count each condition (a neuron with neither edge is
      in both);
    * ``inputs_no_out``: inputs (level 0) with zero out-degree;
    * ``outputs_no_in``: outputs (last level) with zero in-degree.

    Reachability-based (global):

    * ``unreachable_from_input``: neurons of levels >= 1 that no input reaches;
    * ``not_reaching_output``: neurons of levels <= L-2 that reach no output;
    * ``off_path``: neurons of any level on no input -> output path (the complement of the
      "effective nodes" of Pham et al., NeurIPS 2023).

    ``per_level[l]`` is the degree-based dead count of level ``l``; ``mask`` (bool,
    ``(num_nodes,)``) marks the degree-based dead neurons.
    """

    total: int
    hidden: int
    hidden_no_in: int
    hidden_no_out: int
    inputs_no_out: int
    outputs_no_in: int
    unreachable_from_input: int
    not_reaching_output: int
    off_path: int
    per_level: list[int]
    mask: np.ndarray = array_field()


def dead_neurons(graph: NetworkGraph, reach: Reachability | None = None) -> DeadNeurons:
    """Dead neurons: hidden neurons with zero in- or out-degree, inputs without fan-out, outputs
    without fan-in, plus the reachability-based counts (see :class:`DeadNeurons`).

    Args:
        graph: the network graph.
        reach: precomputed :func:`~graphsparse.topology.metrics.reachability` (recomputed if None).

    Example::

        >>> g = NetworkGraph.from_masks([np.array([[1, 0], [0, 0]], bool), np.array([[1, 0]], bool)])
        >>> d = dead_neurons(g)
        >>> d.total, d.hidden, d.inputs_no_out, d.off_path
        (2, 1, 1, 2)
    """
    check_graph(graph)
    if reach is None:
        reach = reachability(graph)
    din, dout = in_degree(graph), out_degree(graph)
    offsets = graph.offsets
    first, last = slice(offsets[0], offsets[1]), slice(offsets[-2], offsets[-1])
    hidden = slice(offsets[1], offsets[-2])
    dead = np.zeros(graph.num_nodes, dtype=bool)
    dead[hidden] = (din[hidden] == 0) | (dout[hidden] == 0)
    dead[first] = dout[first] == 0
    dead[last] = din[last] == 0
    per_level = np.add.reduceat(dead.astype(np.int64), offsets[:-1]).tolist()
    return DeadNeurons(
        total=int(dead.sum()),
        hidden=int(dead[hidden].sum()),
        hidden_no_in=int((din[hidden] == 0).sum()),
        hidden_no_out=int((dout[hidden] == 0).sum()),
        inputs_no_out=int(dead[first].sum()),
        outputs_no_in=int(dead[last].sum()),
        unreachable_from_input=int((~reach.from_input[offsets[1] :]).sum()),
        not_reaching_output=int((~reach.to_output[: offsets[-2]]).sum()),
        off_path=int((~reach.on_path).sum()),
        per_level=per_level,
        mask=dead,
    )


@dataclass(frozen=True)
class Components(Result):
    """Weakly connected components: their number (isolated neurons count as components of
    size 1), the largest size, the number of isolated neurons (degree 0); ``labels``
    (``(num_nodes,)`` int) and ``sizes`` (descending) are kept on the object."""

    num_components: int
    largest: int
    isolated: int
    labels: np.ndarray = array_field()
    sizes: np.ndarray = array_field()


def components(graph: NetworkGraph) -> Components:
    """Weakly connected components (``scipy.sparse.csgraph.connected_components`` on a small
    subgraph, then on the edges it misses).

    Exact in two passes, without assembling the global adjacency: (1) components of a spanning
    subgraph ``H``: each row's first edge in every block (an edge into every neuron with
    in-edges) and, for the neurons without in-edges (the inputs, mostly), one edge of each of
    their columns; (2) every edge of the graph whose ends lie in different components of ``H`` is
    an edge between those components, and the components of that (usually empty) quotient graph
    merge them. ``H`` is a subgraph, so its components refine the true ones, and step (2) joins
    exactly the ones the missing edges connect. Step (2) is skipped when ``H`` already puts every
    neuron with an edge in one component: both ends of every edge then lie in it, so no edge
    can join two components of ``H`` (the common case of a connected network). Labels are numbered in the order of each
    component's smallest node, as scipy does. Computed once per graph (the graph is immutable);
    each call returns fresh copies of ``labels`` and ``sizes``.

    Example::

        >>> c = components(NetworkGraph.from_masks([np.array([[1, 0], [0, 0]], bool)]))
        >>> c.num_components, c.largest, c.isolated
        (3, 2, 2)
    """
    check_graph(graph)
    c = graph._cached("components", lambda: _components(graph))
    return Components(c.num_components, c.largest, c.isolated, c.labels.copy(), c.sizes.copy())


def _components(graph: NetworkGraph) -> Components:
    rows, cols = _spanning_edges(graph)
    k, labels = csgraph.connected_components(_row_grouped_csr(rows, cols, graph.num_nodes),
                                             directed=False)
    if not _one_component_with_edges(graph, labels):
        k, labels = _merge_across(graph, k, labels)
    first = np.empty(k, dtype=np.int64)
    first[labels[::-1]] = np.arange(labels.size - 1, -1, -1)  # smallest node of each component
    rank = np.empty(k, dtype=labels.dtype)
    rank[np.argsort(first)] = np.arange(k, dtype=labels.dtype)
    labels = rank[labels]
    sizes = np.sort(np.bincount(labels, minlength=k))[::-1]
    return Components(int(k), int(sizes[0]), int((sizes == 1).sum()), labels, sizes)


def _spanning_edges(graph: NetworkGraph) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` (global node ids) of the spanning subgraph ``H`` of :func:`components`:
    the first edge of every non-empty row of every block, and edges touching every column of a
    neuron without in-edges; rows sorted within each block."""
    off = graph.offsets
    no_in_edges = in_degree(graph) == 0
    rows_h, cols_h = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for b in graph.blocks:
        m = b.mask
        if m.nnz == 0:
            continue
        rows = np.flatnonzero(np.diff(m.indptr))
        rows_h.append(rows + off[b.dst])
        cols_h.append(m.indices[m.indptr[rows]].astype(np.int64) + off[b.src])
        needed = (b.out_degree() > 0) & no_in_edges[off[b.src] : off[b.src + 1]]
        if needed.any():
            rows, cols = _column_edges(b, needed)
            rows_h.append(rows + off[b.dst])
            cols_h.append(cols + off[b.src])
    return np.concatenate(rows_h), np.concatenate(cols_h)


def _row_grouped_csr(rows: np.ndarray, cols: np.ndarray, n: int) -> sp.csr_array:
    """``n × n`` CSR array of the edges ``(rows, cols)``, duplicates kept, column order as given:
    grouped by a stable sort of ``rows`` (runs of sorted rows cost linear time), without the
    canonicalising sort of scipy's COO constructor (``connected_components`` needs neither).
    The data are float64, csgraph's dtype: a cast there would sum duplicates (another sort)."""
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return sp.csr_array((np.ones(rows.size), cols[order], indptr), shape=(n, n))


#: Sampled edges per needed column aimed at by :func:`_column_edges`' first try.
SAMPLES_PER_COLUMN = 12


def _column_edges(block: Block, needed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` of edges of ``block.mask`` that touch every ``needed`` column (bool,
    columns with an edge).

    First try: ``k`` edges of every non-empty row at positions given by a fixed hash of (row,
    sample), spread like random draws, ``k`` chosen so that a needed column of average degree
    gets about ``SAMPLES_PER_COLUMN`` of them; all of them are returned, so the rows they join
    are well mixed (a random ``k``-out graph). If a needed column is missed (rare in random
    masks), one edge of every column from a pass over all edges. Which edges are returned does
    not matter for :func:`components`'s result (any subgraph works), only for its speed."""
    m = block.mask
    degree = np.diff(m.indptr)
    rows = np.flatnonzero(degree)
    per_row = -(-SAMPLES_PER_COLUMN * int(needed.sum()) // max(rows.size, 1))
    if rows.size * per_row < m.nnz // 2:
        deg = degree[rows, None].astype(np.uint64)
        key = rows[:, None].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) \
            + np.arange(per_row, dtype=np.uint64) * np.uint64(0xBF58476D1CE4E5B9)
        key ^= key >> np.uint64(31)  # a fixed hash of (row, sample): pseudo-random positions
        cols = m.indices[m.indptr[rows, None] + (key % deg).astype(np.int64)].ravel().astype(np.int64)
        hit = np.zeros(m.shape[1], dtype=bool)
        hit[cols] = True
        if hit[needed].all():
            return np.repeat(rows, per_row), cols
    some_row = np.full(m.shape[1], -1, dtype=np.int64)
    some_row[m.indices] = block.rows()
    cols = np.flatnonzero(some_row >= 0)
    return some_row[cols], cols


def _one_component_with_edges(graph: NetworkGraph, labels: np.ndarray) -> bool:
    """Whether every neuron with at least one edge has the same label (degrees are cached)."""
    with_edges = labels[(in_degree(graph) + out_degree(graph)) > 0]
    return with_edges.size == 0 or bool((with_edges == with_edges[0]).all())


def _merge_across(graph: NetworkGraph, k: int, labels: np.ndarray) -> tuple[int, np.ndarray]:
    """Step (2) of :func:`components`: merge the components of a spanning subgraph that the
    graph's other edges connect; returns the new count and labels."""
    off = graph.offsets
    cross_a, cross_b = [], []
    for b in graph.blocks:
        m = b.mask
        lab_src = labels[off[b.src] : off[b.src + 1]][m.indices]
        lab_dst = np.repeat(labels[off[b.dst] : off[b.dst + 1]], np.diff(m.indptr))
        missed = lab_src != lab_dst
        if missed.any():
            cross_a.append(lab_dst[missed])
            cross_b.append(lab_src[missed])
    if cross_a:
        a, bb = np.concatenate(cross_a), np.concatenate(cross_b)
        quotient = _row_grouped_csr(a.astype(np.int64), bb.astype(np.int64), k)
        k, merged = csgraph.connected_components(quotient, directed=False)
        labels = merged[labels]
    return k, labels


def num_components(graph: NetworkGraph) -> int:
    """Number of weakly connected components, isolated neurons included.

    Example::

        >>> num_components(NetworkGraph.from_masks([np.eye(2, dtype=bool)]))
        2
    """
    return components(graph).num_components
