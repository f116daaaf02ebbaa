"""Exports of a :class:`NetworkGraph`: the global scipy adjacency, networkx and PyG graphs.

``NetworkGraph.to_scipy``, ``to_networkx`` and ``to_pyg`` call these and cache the results.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch

from ._csr import index_dtype

if TYPE_CHECKING:
    from .network import NetworkGraph

__all__ = ["NETWORKX_EDGE_WARN", "in_adjacency", "edge_arrays", "to_networkx", "to_pyg"]

#: ``to_networkx()`` warns above this many edges (networkx needs ≈200 bytes per edge).
NETWORKX_EDGE_WARN = 100_000


def in_adjacency(graph: NetworkGraph, weighted: bool) -> sp.csr_array:
    """``Aᵀ`` as CSR: per target level, its incoming blocks with columns shifted to global ids."""
    n = graph.num_nodes
    idx = index_dtype(max(n, sum(b.nnz for b in graph.blocks)))
    rows = []
    for level, size in enumerate(graph.sizes):
        parts = []
        for b in graph.blocks_into(level):
            if weighted and b.edge_weight is not None:
                data = b.edge_weight.astype(np.float64)
            else:
                data = np.ones(b.nnz)
            cols = b.mask.indices.astype(idx) + idx(graph.offsets[b.src])
            parts.append(sp.csr_array((data, cols, b.mask.indptr.astype(idx)), shape=(size, n)))
        if not parts:
            rows.append(sp.csr_array((size, n)))
        elif len(parts) == 1:
            rows.append(parts[0])
        else:
            merged = sum(parts[1:], parts[0])
            if not weighted:
                merged.data[:] = 1.0
            rows.append(merged)
    return sp.vstack(rows, format="csr")


def edge_arrays(graph: NetworkGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(global source ids, global target ids, block index) of every edge, block by block."""
    srcs, dsts, blks = [], [], []
    for i, b in enumerate(graph.blocks):
        srcs.append(graph.offsets[b.src] + b.mask.indices.astype(np.int64))
        dsts.append(graph.offsets[b.dst] + b.rows().astype(np.int64))
        blks.append(np.full(b.nnz, i, dtype=np.int64))
    return np.concatenate(srcs), np.concatenate(dsts), np.concatenate(blks)


def to_networkx(graph: NetworkGraph, src: np.ndarray, dst: np.ndarray, blk: np.ndarray) -> Any:
    """The ``networkx.DiGraph`` of ``NetworkGraph.to_networkx``, from the graph's
    :func:`edge_arrays` ``(src, dst, blk)``."""
    import networkx as nx

    if len(src) > NETWORKX_EDGE_WARN:
        warnings.warn(
            f"to_networkx() on {len(src):,} edges (> {NETWORKX_EDGE_WARN:,}): expect ~200 B/edge "
            "and slow algorithms; use the scipy-based graphsparse.topology.metrics instead",
            UserWarning,
            stacklevel=2,
        )
    g = nx.DiGraph()
    level, index = graph.node_level(), graph.node_index()
    if graph.node_labels is None:
        g.add_nodes_from((i, {"layer": int(l), "index": int(j)}) for i, (l, j) in enumerate(zip(level, index)))
    else:
        g.add_nodes_from(
            (i, {"layer": int(l), "index": int(j), "label": lab})
            for i, (l, j, lab) in enumerate(zip(level, index, graph.node_labels))
        )
    for i, b in enumerate(graph.blocks):
        sel = slice(int(np.searchsorted(blk, i, "left")), int(np.searchsorted(blk, i, "right")))
        edges = list(zip(src[sel].tolist(), dst[sel].tolist()))
        g.add_edges_from(edges, block=i, kind=b.kind)
        for attr, values in (("weight", b.edge_weight), ("count", b.edge_count)):
            if values is not None:
                nx.set_edge_attributes(g, dict(zip(edges, values.tolist())), attr)
    g.graph["sizes"] = graph.sizes
    g.graph["level_names"] = graph.level_names
    return g


def to_pyg(graph: NetworkGraph, src: np.ndarray, dst: np.ndarray, blk: np.ndarray) -> Any:
    """The ``torch_geometric.data.Data`` of ``NetworkGraph.to_pyg``, from the graph's
    :func:`edge_arrays` ``(src, dst, blk)``."""
    from torch_geometric.data import Data

    weight = np.concatenate(
        [np.ones(b.nnz, dtype=np.float32) if b.edge_weight is None else b.edge_weight.astype(np.float32)
         for b in graph.blocks]
    )
    count = np.concatenate(
        [np.ones(b.nnz, dtype=np.int64) if b.edge_count is None else b.edge_count for b in graph.blocks]
    )
    return Data(
        edge_index=torch.from_numpy(np.stack([src, dst])),
        edge_weight=torch.from_numpy(weight),
        edge_count=torch.from_numpy(count),
        edge_block=torch.from_numpy(blk),
        layer=torch.from_numpy(graph.node_level()),
        index=torch.from_numpy(graph.node_index()),
        num_nodes=graph.num_nodes,
    )
