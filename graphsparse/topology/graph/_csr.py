"""Boolean CSR helpers shared by the network-graph blocks, constructors and exports."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["index_dtype", "csr_from_coords", "csr_from_dense", "bool_csr"]


def index_dtype(n: int) -> type:
    """The smaller scipy index dtype (int32, else int64) that holds ``n``."""
    return np.int32 if n < np.iinfo(np.int32).max else np.int64


def csr_from_coords(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_array:
    """Boolean CSR array from row-major sorted, duplicate-free coordinates (no copy of ``cols``
    beyond a dtype cast)."""
    n_rows, n_cols = shape
    idx = index_dtype(max(len(cols), n_cols, n_rows))
    indptr = np.zeros(n_rows + 1, dtype=idx)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    out = sp.csr_array(
        (np.ones(len(cols), dtype=bool), cols.astype(idx, copy=False), indptr), shape=shape, copy=False
    )
    out.has_sorted_indices = True
    out.has_canonical_format = True
    return out


def csr_from_dense(mask: np.ndarray) -> sp.csr_array:
    """Boolean CSR array of the non-zero pattern of a dense 2-D array (row-major order)."""
    n_rows, n_cols = mask.shape
    flat = np.flatnonzero(mask)
    return csr_from_coords(flat // n_cols, flat % n_cols, (n_rows, n_cols))


def bool_csr(matrix: sp.sparray | sp.spmatrix) -> tuple[sp.csr_array, np.ndarray | None]:
    """(boolean canonical CSR of the non-zeros, |values| aligned with it or None for bool input)."""
    csr = sp.csr_array(matrix, copy=True)
    csr.sum_duplicates()
    csr.eliminate_zeros()
    csr.sort_indices()
    values = None if csr.dtype == bool else np.abs(csr.data)
    out = sp.csr_array((np.ones(csr.nnz, dtype=bool), csr.indices, csr.indptr), shape=csr.shape)
    out.has_sorted_indices = True
    out.has_canonical_format = True
    return out, values
