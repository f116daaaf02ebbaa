"""Boolean CSR helpers shared by the network-graph blocks, constructors and exports."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["index_dtype", "csr_from_coords", "csr_from_dense", "flat_nonzero", "bool_csr"]

_SPARSE_WORDS = 0.4  # flat_nonzero expands words when at most this fraction is non-zero


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
    """Boolean CSR array of the non-zero pattern of a dense 2-D array (row-major order).

    Row pointers come from a binary search of the row starts in the flat non-zero positions (no
    per-entry division); a boolean array's positions from :func:`flat_nonzero`.
    """
    n_rows, n_cols = mask.shape
    flat = flat_nonzero(mask) if mask.dtype == bool else np.flatnonzero(mask)
    idx = index_dtype(max(len(flat), n_cols, n_rows))
    indptr = np.searchsorted(flat, np.arange(n_rows + 1, dtype=np.int64) * n_cols).astype(idx)
    cols = (flat % n_cols).astype(idx) if n_rows > 1 else flat.astype(idx)
    out = sp.csr_array((np.ones(len(flat), dtype=bool), cols, indptr), shape=(n_rows, n_cols), copy=False)
    out.has_sorted_indices = True
    out.has_canonical_format = True
    return out


def flat_nonzero(mask: np.ndarray) -> np.ndarray:
    """``np.flatnonzero`` of a boolean array, faster on sparse masks: the array is read as 64-bit
    words and only the non-zero words are expanded back to bytes, when at most ``_SPARSE_WORDS``
    of the words are non-zero (density up to about 6 %); otherwise plain ``np.flatnonzero``."""
    flat = mask.reshape(-1)
    n8 = flat.size - flat.size % 8
    if n8 < 4096 or not flat.flags.c_contiguous:
        return np.flatnonzero(flat)
    words = flat[:n8].view(np.uint64)
    hit = np.flatnonzero(words != 0)
    if hit.size > _SPARSE_WORDS * words.size:
        return np.flatnonzero(flat)
    pos = np.flatnonzero(words[hit].view(bool))
    out = hit[pos >> 3] * 8 + (pos & 7)
    tail = np.flatnonzero(flat[n8:])
    return np.concatenate([out, tail + n8]) if tail.size else out


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
