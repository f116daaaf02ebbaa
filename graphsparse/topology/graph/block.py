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
        multiplicity: optional ``(nnz,)`` int64 array of the *kernel-entry view*
            (:meth:`kernel_view`): each stored edge stands for this many parallel edges (the kept
            kernel entries of a Conv2d channel pair), so edge counts, degrees, densities and path
            counts count weight entries; ``None`` in the channel view (every edge counts once).
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
    multiplicity: np.ndarray | None = None
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
        for attr in ("edge_weight", "edge_count", "multiplicity"):
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
        """Number of stored (distinct) edges of this block."""
        return int(self.mask.nnz)

    @property
    def num_edges(self) -> int:
        """Number of edges, parallel edges of the kernel-entry view included (``nnz`` in the
        channel view)."""
        return self.nnz if self.multiplicity is None else int(self.multiplicity.sum())

    def kernel_view(self) -> Block:
        """This block in the kernel-entry view: every kept weight entry an edge between the same
        two neurons (a Conv2d channel pair keeps one parallel edge per kept kernel entry, a Linear
        reading a flattened map one per kept weight of the channel), so ``num_edges / possible``
        is the weight density. Blocks without ``edge_count`` (Linear layers, masks) are returned
        unchanged: there every edge is one weight already.

        Example::

            >>> import torch
            >>> from graphsparse.topology import NetworkGraph
            >>> w = torch.zeros(2, 2, 3, 3); w[0, 0, 1, 1] = 1.0
            >>> b = NetworkGraph.from_masks([w]).blocks[0]
            >>> b.num_edges / b.possible, b.kernel_view().num_edges / b.kernel_view().possible
            (0.25, 0.027777777777777776)
        """
        if self.edge_count is None or self.multiplicity is not None:
            return self
        return Block(self.name, self.src, self.dst, self.mask, kind=self.kind,
                     possible=int(np.prod(self.weight_shape)), edge_weight=self.edge_weight,
                     edge_count=self.edge_count, unrolled=self.unrolled,
                     weight_shape=self.weight_shape,
                     multiplicity=self.edge_count.astype(np.int64))

    @property
    def is_weight(self) -> bool:
        """False for identity residual blocks, True for every block that holds weights."""
        return self.kind != "identity"

    @property
    def spectral_matrix(self) -> sp.csr_array:
        """The boolean matrix the spectral metrics use (``unrolled`` if set, else ``mask``)."""
        return self.mask if self.unrolled is None else self.unrolled

    def structure(self, dtype: Any = np.float64) -> sp.csr_array:
        """The mask with every stored entry equal to its edge count in ``dtype``: 1, or the
        multiplicity in the kernel-entry view (cached; shares the index arrays with ``mask``).
        ``structure() @ x`` sums ``x`` over each output neuron's incoming edges."""
        key = np.dtype(dtype).str
        if key not in self._cache:
            m = self.mask
            data = np.ones(m.nnz, dtype=dtype) if self.multiplicity is None else self.multiplicity.astype(dtype)
            out = sp.csr_array((data, m.indices, m.indptr), shape=m.shape, copy=False)
            out.has_sorted_indices = True
            out.has_canonical_format = True
            self._cache[key] = out
        return self._cache[key]

    def in_degree(self) -> np.ndarray:
        """Fan-in of each ``dst`` neuron within this block (row sums; parallel edges counted),
        shape ``(n_dst,)``, int64."""
        if self.multiplicity is None:
            return self._degrees("in_degree", lambda m: np.diff(m.indptr))
        return self._degrees("in_degree", lambda m: np.bincount(
            self.rows(), weights=self.multiplicity, minlength=m.shape[0]))

    def out_degree(self) -> np.ndarray:
        """Fan-out of each ``src`` neuron within this block (column sums; parallel edges
        counted), shape ``(n_src,)``, int64."""
        return self._degrees("out_degree", lambda m: np.bincount(
            m.indices, weights=self.multiplicity, minlength=m.shape[1]))

    def _degrees(self, key: str, compute: Any) -> np.ndarray:
        """Degrees computed once (the block is immutable; the constructors fill the cache while
        the mask is hot); each call returns a fresh int64 copy."""
        if key not in self._cache:
            self._cache[key] = compute(self.mask).astype(np.int64)
        return self._cache[key].copy()

    def rows(self) -> np.ndarray:
        """Row (``dst`` neuron) index of each stored edge, aligned with ``mask.indices``."""
        return np.repeat(np.arange(self.mask.shape[0], dtype=self.mask.indices.dtype), np.diff(self.mask.indptr))
