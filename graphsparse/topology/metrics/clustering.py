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
  in [0, 1]; None when there is no 3-path. Per block this is exactly
  ``networkx.bipartite.robins_alexander_clustering`` of the block's undirected bipartite graph
  (networkx returns 0 where there is no 3-path); on a whole layered network networkx's value
  differs, because its 3-paths and 4-cycles may span two blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from graphsparse.topology.metrics._common import Result, check_graph

try:  # scipy's sparse-product kernel (private; scipy >= 1.8) without its separate sizing pass
    from scipy.sparse._sparsetools import csr_matmat as _csr_matmat
except ImportError:  # pragma: no cover - depends on the scipy version
    _csr_matmat = None

if TYPE_CHECKING:
    from graphsparse.topology.graph import NetworkGraph

__all__ = ["BlockFourCycles", "FourCycles", "four_cycles", "block_four_cycles"]

_MAX_CHUNK_ENTRIES = 1 << 20  # co-occurrence entries materialised at once
_MIN_CHUNKS = 16  # row chunks of the half product (fewer only when the side is smaller)


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
    frob = _gram_frobenius(a)
    four = (frob - int(d @ d) - int(c @ c) + int(d.sum())) // 4
    rows = np.repeat(np.arange(a.shape[0]), d)
    three = int(((d[rows] - 1) * (c[a.indices] - 1)).sum())
    return four, three


def _gram_frobenius(a: sp.csr_array) -> int:
    """``‖AAᵀ‖_F²`` (exact, int64) of a canonical integer CSR array ``A`` (``n × m``).

    ``G = AAᵀ`` is symmetric, so each row chunk ``[s, e)`` is multiplied only with the columns
    ``j >= s`` of ``Aᵀ``: the square block on the diagonal counts once, the block right of it
    twice (about half the multiply-adds of the full product). Each chunk product has at most
    ``chunk · n`` entries, so it is written straight into one preallocated buffer by scipy's
    product kernel, without the sizing pass of ``@`` (fallback: ``@``).
    """
    n = a.shape[0]
    idx = np.int32 if max(a.nnz, n * min(n, _chunk_rows(n)) + n) < np.iinfo(np.int32).max else np.int64
    a = sp.csr_array((a.data, a.indices.astype(idx, copy=False), a.indptr.astype(idx, copy=False)),
                     shape=a.shape, copy=False)
    at = a.T.tocsr()  # row k = the rows of A holding column k, sorted
    at.sort_indices()
    chunk = _chunk_rows(n)
    buf = (np.empty(chunk * n, dtype=idx), np.empty(chunk * n, dtype=a.data.dtype))
    frob = 0
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        right = _columns_from(at, s, n, idx)
        data, cols = _product(a[s:e], right, buf, idx)
        data = data.astype(np.int64)
        inside = data[cols < e - s]
        frob += 2 * int(data @ data) - int(inside @ inside)
    return frob


def _chunk_rows(n: int) -> int:
    """Rows per product chunk: at most ``_MAX_CHUNK_ENTRIES`` entries, and at least
    ``_MIN_CHUNKS`` chunks (the symmetric saving grows with their number: ``(1 + 1/chunks) / 2``)."""
    return max(1, min(_MAX_CHUNK_ENTRIES // max(1, n), -(-n // _MIN_CHUNKS)))


def _columns_from(at: sp.csr_array, s: int, n: int, idx: type) -> sp.csr_array:
    """``at[:, s:]`` (columns shifted to start at 0) of a CSR array with sorted indices."""
    if s == 0:
        return at
    keep = at.indices >= s
    kept_before = np.zeros(at.nnz + 1, dtype=idx)
    np.cumsum(keep, out=kept_before[1:])
    indptr = kept_before[at.indptr]
    out = sp.csr_array((at.data[keep], (at.indices[keep] - s).astype(idx, copy=False), indptr),
                       shape=(at.shape[0], n - s), copy=False)
    return out


def _product(left: sp.csr_array, right: sp.csr_array, buf: tuple[np.ndarray, np.ndarray],
             idx: type) -> tuple[np.ndarray, np.ndarray]:
    """(values, column indices) of the stored entries of ``left @ right``, written into ``buf``
    (which holds at least ``rows(left) · cols(right)`` entries: the product's largest size)."""
    rows, cols = left.shape[0], right.shape[1]
    if _csr_matmat is None or buf[0].size < rows * cols:  # pragma: no cover - old scipy
        g = left @ right
        return g.data, g.indices
    indptr = np.empty(rows + 1, dtype=idx)
    as_idx = lambda x: np.asarray(x, dtype=idx)
    _csr_matmat(rows, cols, as_idx(left.indptr), as_idx(left.indices), left.data,
                as_idx(right.indptr), as_idx(right.indices), right.data, indptr, buf[0], buf[1])
    nnz = int(indptr[-1])
    return buf[1][:nnz], buf[0][:nnz]


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
