"""One weight matrix of a network graph: :class:`Block`, a boolean CSR array between two levels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["Block", "BLOCK_KINDS"]

#: Allowed values of :attr:`Block.kind`.
BLOCK_KINDS = ("linear", "conv2d", "mask", "dag", "identity")


@dataclass(frozen=True, eq=False)
class Block:
    """One weight matrix of a :class:`NetworkGraph` (edges from level ``src`` to level ``dst``).

    Attributes:
        name: layer name — the module's fully qualified name for graphs built from a model
            (e.g. ``"layers.0"``), the mask's key or list position for :meth:`NetworkGraph.from_masks`,
            ``"<src>-><dst>"`` for :meth:`NetworkGraph.from_dag`, ``"<op>:identity"`` for residuals.
        src, dst: level indices, ``0 <= src < dst``.
        mask: ``scipy.sparse.csr_array`` of dtype bool and shape ``(sizes[dst], sizes[src])``,
            canonical (sorted indices, no duplicates); stored entries are exactly the edges.
        kind: one of :data:`BLOCK_KINDS`. ``"identity"`` blocks are residual identity edges (not
            weights): they take part in reachability, paths and components but not in edge counts.
        possible: number of possible edges of this block (the denominator of its density):
            ``out·in`` for a Linear or a mask, ``c_out·c_in/groups`` for a grouped Conv2d.
        edge_weight: optional ``(nnz,)`` array aligned with ``mask.indices``: ``|w|`` for a weight,
            the L2 norm of the kept kernel entries for a Conv2d channel edge (same units as the
            weights).
        edge_count: optional ``(nnz,)`` int array: kept weight entries behind each edge
            (kernel entries of a Conv2d channel pair; weights of a flattened channel).
        unrolled: optional boolean CSR of the raw 2-D weight mask used by the spectral metrics:
            ``(c_out, c_in/groups·k_h·k_w)`` for a Conv2d, ``(out, C·H·W)`` for a Linear reading a
            flattened feature map; ``None`` where it equals ``mask``.
        weight_shape: shape of the original weight tensor, when the block comes from one.
    """

    name: str
    src: int
    dst: int
    mask: sp.csr_array
    kind: str = "mask"
    possible: int = -1
    edge_weight: np.ndarray | None = None
    edge_count: np.ndarray | None = None
    unrolled: sp.csr_array | None = None
    weight_shape: tuple[int, ...] | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in BLOCK_KINDS:
            raise ValueError(f"Block {self.name!r}: kind={self.kind!r} is not one of {BLOCK_KINDS}")
        if not isinstance(self.mask, sp.csr_array) or self.mask.dtype != bool:
            raise TypeError(f"Block {self.name!r}: mask must be a boolean scipy.sparse.csr_array")
        if not self.mask.has_canonical_format or not self.mask.data.all():
            raise ValueError(
                f"Block {self.name!r}: mask must be canonical (sorted, no duplicates) with only True stored entries"
            )
        if self.possible < 0:
            object.__setattr__(self, "possible", int(self.mask.shape[0]) * int(self.mask.shape[1]))
        for attr in ("edge_weight", "edge_count"):
            arr = getattr(self, attr)
            if arr is not None and arr.shape != (self.mask.nnz,):
                raise ValueError(
                    f"Block {self.name!r}: {attr} has shape {arr.shape}, expected ({self.mask.nnz},)"
                )

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_dst, n_src)`` = ``(out, in)`` of the graph view."""
        return (int(self.mask.shape[0]), int(self.mask.shape[1]))

    @property
    def nnz(self) -> int:
        """Number of edges of this block."""
        return int(self.mask.nnz)

    @property
    def is_weight(self) -> bool:
        """False for identity residual blocks, True for every block that holds weights."""
        return self.kind != "identity"

    @property
    def spectral_matrix(self) -> sp.csr_array:
        """The boolean matrix the spectral metrics use (``unrolled`` if set, else ``mask``)."""
        return self.mask if self.unrolled is None else self.unrolled

    def structure(self, dtype: Any = np.float64) -> sp.csr_array:
        """The mask with all stored entries equal to 1 in ``dtype`` (cached; shares the index
        arrays with ``mask``). ``structure() @ x`` sums ``x`` over each output neuron's inputs."""
        key = np.dtype(dtype).str
        if key not in self._cache:
            m = self.mask
            out = sp.csr_array((np.ones(m.nnz, dtype=dtype), m.indices, m.indptr), shape=m.shape, copy=False)
            out.has_sorted_indices = True
            out.has_canonical_format = True
            self._cache[key] = out
        return self._cache[key]

    def in_degree(self) -> np.ndarray:
        """Fan-in of each ``dst`` neuron within this block (row sums), shape ``(n_dst,)``, int64."""
        return self._degrees("in_degree", lambda m: np.diff(m.indptr))

    def out_degree(self) -> np.ndarray:
        """Fan-out of each ``src`` neuron within this block (column sums), shape ``(n_src,)``, int64."""
        return self._degrees("out_degree", lambda m: np.bincount(m.indices, minlength=m.shape[1]))

    def _degrees(self, key: str, compute: Any) -> np.ndarray:
        """Degrees computed once (the block is immutable; the constructors fill the cache while
        the mask is hot); each call returns a fresh int64 copy."""
        if key not in self._cache:
            self._cache[key] = compute(self.mask).astype(np.int64)
        return self._cache[key].copy()

    def rows(self) -> np.ndarray:
        """Row (``dst`` neuron) index of each stored edge, aligned with ``mask.indices``."""
        return np.repeat(np.arange(self.mask.shape[0], dtype=self.mask.indices.dtype), np.diff(self.mask.indptr))
