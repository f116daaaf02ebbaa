"""Spectral (Ramanujan-graph) scores of each layer's bipartite mask.

References: Pal, Biswas, Kolay, Mitra & Basu, "A study on the Ramanujan graph property of winning
lottery tickets" (ICML 2022) treat each layer as a bipartite graph and track whether it stays
Ramanujan under pruning; Hoang, Liu, Marculescu & Wang, "Revisiting Pruning at Initialization
through the Lens of Ramanujan Graph" (ICLR 2023; code VITA-Group/ramanujan-on-pai,
``lib/graphs/scores.py``) define the scores computed here, which follow that code:

Graph used: the **unweighted, unrolled** mask of each weight block (``Block.spectral_matrix``):
``(out, in)`` for a Linear, ``(c_out, c_in/groups·k_h·k_w)`` for a Conv2d (input nodes are
in-channel × kernel-position pairs), as the undirected bipartite graph between its ``in`` nodes
(left, ``L``) and ``out`` nodes (right, ``R``). Zero-degree nodes are removed first.

* ``d̄_L = |E| / |L|``, ``d̄_R = |E| / |R|`` — average left/right degree; the scores are computed
  only when both are ``>= 3`` (otherwise every score is None, as in the reference code);
* the adjacency spectrum of a bipartite graph is ``±σ_i`` (singular values of the mask), so the
  reference's "top-3 |λ| of the adjacency" are ``σ1, σ1, σ2``: ``λ1 = σ1`` and ``μ̂ = σ2`` (the
  largest non-trivial eigenvalue);
* ``Δs = 2√(λ1 − 1) − μ̂`` (the Ramanujan bound of a graph with largest eigenvalue ``λ1``),
  ``Δr = √(d̄_L − 1) + √(d̄_R − 1) − μ̂`` (the Ramanujan bound of a ``(d_L, d_R)``-biregular
  bipartite graph, with average degrees); ``Δ > 0`` means the layer satisfies the bound;
  ``*_norm = Δ / bound``;
* ``spectral_gap = λ1 − μ̂`` and ``gap_ratio = μ̂ / λ1`` (the plain spectral gap of the singular
  values); ``expansion_ratio = |R| / |L|``.

The top two singular values come from a dense float64 SVD for small masks (BLAS capped to one
thread: multithreaded BLAS only slows so small a problem down) and from ARPACK
(``scipy.sparse.linalg.svds``, seeded start vector) otherwise, in float32 with a workspace of
``_ARPACK_NCV`` Lanczos vectors (about 1.7× the default 20). float32 halves the memory traffic of
the sparse products and ARPACK stops at float32 precision: ``σ1`` and ``σ2`` agree with the
float64 solve to a relative ``1e-5`` (``FLOAT32_RTOL``; observed ~1e-7); the derived scores
(``Δs``, ``Δr``, gaps) inherit an absolute error of at most ``1e-5·σ1``. If float32 ARPACK does
not converge, the float64 solve is used.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import ArpackNoConvergence, svds

from graphsparse.topology.metrics._common import Result, check_graph

if TYPE_CHECKING:
    from graphsparse.topology.graph import NetworkGraph

__all__ = ["LayerSpectrum", "spectral", "mask_spectrum", "MIN_AVG_DEGREE", "FLOAT32_RTOL"]

#: Scores are computed only when both average degrees reach this value (Hoang et al. 2023).
MIN_AVG_DEGREE = 3.0
_DENSE_SVD_MAX = 256  # dense SVD when the smaller side of the mask is at most this
_ARPACK_NCV = 34  # Lanczos vectors of the float32 ARPACK solve (scipy's default for k=2: 20)
#: Relative tolerance of the float32 ARPACK singular values against the float64 solve.
FLOAT32_RTOL = 1e-5
_BLAS = []  # lazily created threadpoolctl controller (None when threadpoolctl is missing)


@dataclass(frozen=True)
class LayerSpectrum(Result):
    """Spectral scores of one layer (see the module docstring; all unitless). ``shape`` is the
    unrolled ``(out, in)`` shape; ``left_nodes`` / ``right_nodes`` count the non-isolated ``in`` /
    ``out`` nodes. Scores are None when ``computed`` is False (``reason`` says why)."""

    name: str
    shape: tuple[int, int]
    num_edges: int
    left_nodes: int
    right_nodes: int
    avg_degree_left: float | None
    avg_degree_right: float | None
    computed: bool
    reason: str | None
    lambda1: float | None = None
    mu_hat: float | None = None
    spectral_gap: float | None = None
    gap_ratio: float | None = None
    delta_s: float | None = None
    delta_s_bound: float | None = None
    delta_s_norm: float | None = None
    delta_r: float | None = None
    delta_r_bound: float | None = None
    delta_r_norm: float | None = None
    expansion_ratio: float | None = None


def _one_blas_thread():
    """Context manager capping the BLAS libraries loaded by numpy/scipy to one thread
    (threadpoolctl, a dependency of scikit-learn; no-op without it)."""
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS.append(ThreadpoolController())
        except ImportError:  # pragma: no cover - depends on the environment
            _BLAS.append(None)
    return contextlib.nullcontext() if _BLAS[0] is None else _BLAS[0].limit(limits=1, user_api="blas")


def _top2_singular_values(m: sp.csr_array, seed: int, dtype: type = np.float32) -> tuple[float, float]:
    """``(σ1, σ2)`` of a 0/1 matrix: dense float64 SVD (one BLAS thread) when small, else ARPACK
    in ``dtype`` (float32 falls back to float64 if it does not converge)."""
    if min(m.shape) <= _DENSE_SVD_MAX:
        with _one_blas_thread():
            s = np.linalg.svd(m.astype(np.float64).toarray(), compute_uv=False)
        return float(s[0]), float(s[1]) if len(s) > 1 else 0.0
    n = min(m.shape)
    v0 = np.random.default_rng(seed).uniform(0.5, 1.5, size=n).astype(dtype)
    try:
        s = svds(m.astype(dtype), k=2, v0=v0, ncv=min(n, _ARPACK_NCV), return_singular_vectors=False,
                 solver="arpack")
    except ArpackNoConvergence:  # pragma: no cover - not seen on masks
        if dtype == np.float64:
            raise
        return _top2_singular_values(m, seed, np.float64)
    s = np.sort(s.astype(np.float64))[::-1]
    return float(s[0]), float(s[1])


def mask_spectrum(mask: sp.csr_array | np.ndarray, *, name: str = "", seed: int = 0) -> LayerSpectrum:
    """Spectral scores of one ``(out, in)`` mask (non-zero entries are edges).

    Example::

        >>> s = mask_spectrum(np.ones((4, 4), bool))  # K_{4,4}: λ1 = 4, μ̂ = 0
        >>> round(s.lambda1, 9), round(s.mu_hat, 9), round(s.delta_r, 6)
        (4.0, 0.0, 3.464102)
    """
    m = sp.csr_array(mask, dtype=bool)
    m.eliminate_zeros()
    n_edges = int(m.nnz)
    rows = np.flatnonzero(np.diff(m.indptr))
    cols = np.flatnonzero(np.bincount(m.indices, minlength=m.shape[1]))
    shape = (int(m.shape[0]), int(m.shape[1]))
    if n_edges == 0:
        return LayerSpectrum(name, shape, 0, 0, 0, None, None, False, "layer has no edges")
    d_left, d_right = n_edges / len(cols), n_edges / len(rows)
    if d_left < MIN_AVG_DEGREE or d_right < MIN_AVG_DEGREE:
        return LayerSpectrum(
            name, shape, n_edges, len(cols), len(rows), d_left, d_right, False,
            f"average degree below {MIN_AVG_DEGREE:g} (left {d_left:.3g}, right {d_right:.3g})",
        )
    lam1, mu = _top2_singular_values(m[rows][:, cols], seed)
    bound_s = 2 * math.sqrt(lam1 - 1)
    bound_r = math.sqrt(d_left - 1) + math.sqrt(d_right - 1)
    return LayerSpectrum(
        name, shape, n_edges, len(cols), len(rows), d_left, d_right, True, None,
        lambda1=lam1, mu_hat=mu, spectral_gap=lam1 - mu, gap_ratio=mu / lam1,
        delta_s=bound_s - mu, delta_s_bound=bound_s, delta_s_norm=(bound_s - mu) / bound_s,
        delta_r=bound_r - mu, delta_r_bound=bound_r, delta_r_norm=(bound_r - mu) / bound_r,
        expansion_ratio=len(rows) / len(cols),
    )


def spectral(graph: NetworkGraph, *, seed: int = 0) -> list[LayerSpectrum]:
    """Spectral scores of every weight block's unrolled mask (Hoang et al., ICLR 2023; costly for
    wide layers — opt-in in ``report``). ``seed`` fixes ARPACK's start vector.

    Example::

        >>> [s.computed for s in spectral(NetworkGraph.from_masks([np.ones((4, 4), bool)]))]
        [True]
    """
    check_graph(graph)
    return [mask_spectrum(b.spectral_matrix, name=b.name, seed=seed) for b in graph.weight_blocks]
