"""Size, density and degree metrics (numpy on the CSR ``indptr`` / ``indices`` of each block).

Graph used: every block's graph view (channel view for Conv2d). Edge *counts* and *densities*
count weights only (identity residual blocks excluded); node *degrees* count every edge of the
graph, identity residual edges included (they are real connections of the network).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from graphsparse.topology.metrics._common import Result, Stats, check_graph

if TYPE_CHECKING:
    from graphsparse.topology.graph import NetworkGraph

__all__ = [
    "num_nodes",
    "num_edges",
    "num_possible_edges",
    "density",
    "in_degree",
    "out_degree",
    "total_degree",
    "degree_histogram",
    "LayerStats",
    "layer_stats",
]


def num_nodes(graph: NetworkGraph) -> int:
    """Number of neurons (all levels).

    Example::

        >>> num_nodes(NetworkGraph.from_masks([np.ones((2, 3), bool)]))
        5
    """
    check_graph(graph)
    return graph.num_nodes


def num_edges(graph: NetworkGraph) -> int:
    """Number of edges of the weight blocks: kept weights; for Conv2d kept channel pairs in the
    channel view, kept kernel entries in the kernel-entry view (``NetworkGraph.view``).
    Identity residual edges are not weights and are not counted.

    Example::

        >>> num_edges(NetworkGraph.from_masks([np.eye(3, dtype=bool)]))
        3
    """
    check_graph(graph)
    return sum(b.num_edges for b in graph.weight_blocks)


def num_possible_edges(graph: NetworkGraph) -> int:
    """Σ out·in over the weight blocks: the number of possible edges (``Block.possible``; for a
    grouped Conv2d ``c_out·c_in/groups`` in the channel view, ``c_out·c_in/groups·k_h·k_w`` in
    the kernel-entry view).

    Example::

        >>> num_possible_edges(NetworkGraph.from_masks([np.eye(3, dtype=bool), np.ones((2, 3), bool)]))
        15
    """
    check_graph(graph)
    return sum(b.possible for b in graph.weight_blocks)


def density(graph: NetworkGraph) -> float:
    """``num_edges / Σ out·in`` over the weight blocks, in [0, 1] (1 - sparsity).

    Example::

        >>> density(NetworkGraph.from_masks([np.eye(3, dtype=bool), np.ones((2, 3), bool)]))
        0.6
    """
    return num_edges(graph) / num_possible_edges(graph)


def _node_degrees(graph: NetworkGraph, *, incoming: bool) -> np.ndarray:
    """Fan-in (``incoming``) or fan-out of every node, summed over the blocks (computed once per
    graph; each call returns a fresh copy)."""
    check_graph(graph)
    key = "in_degree" if incoming else "out_degree"
    return graph._cached(key, lambda: _sum_block_degrees(graph, incoming)).copy()


def _sum_block_degrees(graph: NetworkGraph, incoming: bool) -> np.ndarray:
    deg = np.zeros(graph.num_nodes, dtype=np.int64)
    for b in graph.blocks:
        level, size, block_degrees = (b.dst, b.shape[0], b.in_degree()) if incoming \
            else (b.src, b.shape[1], b.out_degree())
        lo = graph.offsets[level]
        deg[lo : lo + size] += block_degrees
    return deg


def in_degree(graph: NetworkGraph) -> np.ndarray:
    """Fan-in of every node over all blocks, shape ``(num_nodes,)``, int64 (0 for inputs).

    Example::

        >>> in_degree(NetworkGraph.from_masks([np.ones((2, 3), bool)])).tolist()
        [0, 0, 0, 3, 3]
    """
    return _node_degrees(graph, incoming=True)


def out_degree(graph: NetworkGraph) -> np.ndarray:
    """Fan-out of every node over all blocks, shape ``(num_nodes,)``, int64 (0 for outputs).

    Example::

        >>> out_degree(NetworkGraph.from_masks([np.ones((2, 3), bool)])).tolist()
        [2, 2, 2, 0, 0]
    """
    return _node_degrees(graph, incoming=False)


def total_degree(graph: NetworkGraph) -> np.ndarray:
    """In-degree + out-degree of every node, shape ``(num_nodes,)``, int64.

    Example::

        >>> total_degree(NetworkGraph.from_masks([np.ones((2, 3), bool)])).tolist()
        [2, 2, 2, 3, 3]
    """
    return in_degree(graph) + out_degree(graph)


def degree_histogram(degrees: np.ndarray) -> np.ndarray:
    """``h[d]`` = number of neurons with degree ``d``, for ``d = 0 .. max(degrees)``; int64.

    Example::

        >>> degree_histogram(np.array([0, 2, 2, 3])).tolist()
        [1, 0, 2, 1]
    """
    degrees = np.asarray(degrees)
    if degrees.ndim != 1 or (degrees.size and degrees.min() < 0):
        raise ValueError("degrees must be a 1-D array of non-negative integers")
    return np.bincount(degrees.astype(np.int64), minlength=1).astype(np.int64)


@dataclass(frozen=True)
class LayerStats(Result):
    """Statistics of one weight block (a layer).

    ``shape`` is ``(out, in)`` of the graph view (channels for Conv2d); ``weight_shape`` the
    original weight tensor's shape. ``in_degree`` is the fan-in of the layer's ``out`` neurons
    (row sums of the mask), ``out_degree`` the fan-out of its ``in`` neurons (column sums);
    ``*_hist[d]`` = number of neurons with that degree. ``density = num_edges / possible``.
    """

    name: str
    kind: str
    src: int
    dst: int
    shape: tuple[int, int]
    weight_shape: tuple[int, ...] | None
    num_edges: int
    possible: int
    density: float
    in_degree: Stats
    out_degree: Stats
    in_degree_hist: list[int]
    out_degree_hist: list[int]


def layer_stats(graph: NetworkGraph) -> list[LayerStats]:
    """Per-layer (weight block) edge counts, density and degree statistics/histograms.

    Example::

        >>> s = layer_stats(NetworkGraph.from_masks([np.array([[1, 1, 0], [0, 1, 0]], bool)]))[0]
        >>> s.num_edges, s.in_degree.max, s.out_degree_hist
        (3, 2, [1, 1, 1])
    """
    check_graph(graph)
    out = []
    for b in graph.weight_blocks:
        din, dout = b.in_degree(), b.out_degree()
        out.append(
            LayerStats(
                name=b.name,
                kind=b.kind,
                src=b.src,
                dst=b.dst,
                shape=b.shape,
                weight_shape=b.weight_shape,
                num_edges=b.num_edges,
                possible=b.possible,
                density=b.num_edges / b.possible,
                in_degree=Stats.of(din),
                out_degree=Stats.of(dout),
                in_degree_hist=degree_histogram(din).tolist(),
                out_degree_hist=degree_histogram(dout).tolist(),
            )
        )
    return out
