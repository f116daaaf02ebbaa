"""Bipartite clustering between the two levels of each weight block: 4-cycles and the
Robins–Alexander coefficient.

Why not triangles: a layered MLP without skip blocks is bipartite (even levels vs odd levels), so
its triangle count, transitivity and local clustering are **identically zero** and are not
reported. The meaningful analogue is the square (4-cycle) inside each block's bipartite graph.
(Skip blocks can close triangles across three levels; those are not measured here — export with
``to_networkx()`` for small graphs.)

Graph used: each weight block on its own, as the undirected bipartite graph between its ``in``
neurons (columns of the ``(out, in)`` mask ``M``) and its ``out`` neurons (rows), channel view for
Conv2d; degrees are block-local.

Definitions, for one block with mask ``M`` (``out × in``):

* co-occurrence matrix on the *input side* ``C = MᵀM`` (``in × in``): ``C_ij`` = number of output
  neurons connected to both inputs ``i`` and ``j``; ``C_ii`` = fan-out of input ``i``;
* ``four_cycles = Σ_{i<j} binom(C_ij, 2)`` (each square has exactly two input-side nodes; the
  output-side matrix ``MMᵀ`` gives the same number, and the cheaper side is used internally via
  ``‖MᵀM‖_F = ‖MMᵀ‖_F``);
* ``three_paths = Σ_{edges (u,v)} (deg(u)−1)(deg(v)−1)``: simple paths with 3 edges (in a
  bipartite graph the two ends are automatically distinct);
* ``clustering = 4·four_cycles / three_paths``, the bipartite clustering coefficient of Robins &
  Alexander ("Small worlds among interlocking directors", Comput. Math. Organ. Theory 10, 2004),
  in [0, 1]; None when there is no 3-path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from graphsparse.topology.metrics._common import Result, check_graph

if TYPE_CHECKING:
    from graphsparse.topology.graph import NetworkGraph

__all__ = ["BlockFourCycles", "FourCycles", "four_cycles", "block_four_cycles"]

_MAX_CHUNK_ENTRIES = 1 << 20  # co-occurrence entries materialised at once


@dataclass(frozen=True)
class BlockFourCycles(Result):
    """4-cycles, 3-paths and Robins–Alexander clustering of one weight block."""

    name: str
    four_cycles: int
    three_paths: int
    clustering: float | None


@dataclass(frozen=True)
class FourCycles(Result):
    """Totals over all weight blocks (``clustering = 4·Σ four_cycles / Σ three_paths``) and the
    per-block values."""

    four_cycles: int
    three_paths: int
    clustering: float | None
    per_layer: list[BlockFourCycles]


def block_four_cycles(mask: sp.csr_array) -> tuple[int, int]:
    """``(four_cycles, three_paths)`` of one bipartite block (see the module docstring).

    Uses ``four_cycles = ¼(‖G‖_F² − Σ_i d_i² − Σ_k c_k² + Σ_i d_i)`` with ``G = AAᵀ`` on the smaller
    side ``A`` (``d`` = row degrees of ``A``, ``c`` = its column degrees), which equals
    ``Σ_{i<j} binom(G_ij, 2)``; ``G`` is formed by sparse products in row chunks, so memory stays
    bounded. Exact integer arithmetic (int64).

    Example::

        >>> block_four_cycles(sp.csr_array(np.ones((2, 3), bool)))  # K_{2,3}: 3 squares
        (3, 12)
    """
    # co-occurrence counts are at most min(shape) < 2**31: int32 products are exact and ~2x faster
    a = sp.csr_array(mask, dtype=np.int32 if min(mask.shape) < 2**31 else np.int64)
    if a.shape[0] > a.shape[1]:
        a = a.T.tocsr()
    d = np.diff(a.indptr).astype(np.int64)
    c = np.bincount(a.indices, minlength=a.shape[1]).astype(np.int64)
    at = a.T.tocsr()
    frob = 0
    chunk = max(1, _MAX_CHUNK_ENTRIES // max(1, a.shape[0]))
    for start in range(0, a.shape[0], chunk):
        g = a[start : start + chunk] @ at
        data = g.data.astype(np.int64)
        frob += int(data @ data)
    four = (frob - int(d @ d) - int(c @ c) + int(d.sum())) // 4
    rows = np.repeat(np.arange(a.shape[0]), d)
    three = int(((d[rows] - 1) * (c[a.indices] - 1)).sum())
    return four, three


def four_cycles(graph: NetworkGraph) -> FourCycles:
    """4-cycle counts and Robins–Alexander bipartite clustering of every weight block (costly:
    the co-occurrence products cost ``Σ_k c_k²`` multiply-adds per block; opt-in in ``report``).

    Example::

        >>> g = NetworkGraph.from_masks([np.ones((2, 2), bool), np.ones((1, 2), bool)])
        >>> fc = four_cycles(g)
        >>> fc.four_cycles, fc.clustering, [b.four_cycles for b in fc.per_layer]
        (1, 1.0, [1, 0])
    """
    check_graph(graph)
    per = []
    for b in graph.weight_blocks:
        four, three = block_four_cycles(b.mask)
        per.append(BlockFourCycles(b.name, four, three, 4 * four / three if three else None))
    total4 = sum(p.four_cycles for p in per)
    total3 = sum(p.three_paths for p in per)
    return FourCycles(total4, total3, 4 * total4 / total3 if total3 else None, per)
