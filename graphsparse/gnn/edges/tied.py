"""Edge ids, tied directions and edge removal.

An edge mask is a 1-D tensor over the **global edge ids** of a graph, i.e. over the columns of its
``edge_index`` of shape ``[2, E]`` — never an ``N x N`` matrix. It is a ``torch.bool`` tensor
(True = kept) for hard masks and a floating tensor with values in ``[0, 1]`` for soft masks
(:func:`check_edge_mask`).

Tied directions
---------------
An undirected graph stores each edge ``{u, v}`` twice, as ``(u, v)`` and ``(v, u)``.
:func:`tie_directions` maps every directed edge to the id of its canonical pair ``(min, max)``;
the returned :class:`TiedEdges` expands a mask over pairs to both directions
(:meth:`TiedEdges.expand`) and reduces a directed mask to pairs, checking symmetry
(:meth:`TiedEdges.reduce`). Ties are the default; for a directed dataset pass ``directed=True``
and every directed edge is its own unit (parallel copies of one edge are always tied).

:func:`apply_edge_mask` removes masked edges physically (mode ``"remove"``, once per graph).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric import EdgeIndex

from graphsparse.checks import check_choice, check_edge_index, check_int, check_not_meta

__all__ = [
    "TiedEdges",
    "apply_edge_mask",
    "check_edge_mask",
    "plain_edge_index",
    "tie_directions",
]


def check_edge_mask(mask, *, hard: bool, num_edges: int | None = None,
                    name: str = "mask") -> Tensor:
    """Validate an edge mask; return it as bool (``hard``) or unchanged (soft).

    Hard masks (mode ``"remove"``) are bool or floating holding only 0 and 1; soft masks are bool
    or floating with values in ``[0, 1]``. Nothing is clipped. A mask on the meta device (no
    data) raises ``ValueError``.
    """
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor over edge ids, got {type(mask).__name__}")
    check_not_meta(mask, name)
    if mask.dim() != 1:
        raise ValueError(f"{name} must be 1-D over edge ids (shape [E]), got shape "
                         f"{tuple(mask.shape)}")
    if num_edges is not None and mask.numel() != num_edges:
        raise ValueError(f"{name} has {mask.numel()} entries but edge_index has {num_edges} "
                         "edges")
    if mask.dtype == torch.bool:
        return mask
    if not mask.dtype.is_floating_point:
        raise TypeError(f"{name} must be torch.bool (hard) or floating (soft), got dtype "
                        f"{mask.dtype}; convert with `.bool()` or `.float()`")
    if mask.numel() == 0:
        return mask.bool() if hard else mask
    values = mask.detach()
    if hard:
        bad = (values != 0) & (values != 1)
        if bool(bad.any()):
            raise ValueError(f"{name} must hold only 0 and 1 for mode 'remove' (a hard mask); "
                             f"{int(bad.sum())} entries are fractional — threshold it "
                             "explicitly, e.g. `mask > 0.5`, or use a soft mode")
        return values.bool()
    if not bool(torch.isfinite(values).all()):
        raise ValueError(f"{name} has non-finite entries (NaN or inf)")
    low, high = torch.aminmax(values)
    if float(low) < 0 or float(high) > 1:
        outside = int(((values < 0) | (values > 1)).sum())
        raise ValueError(f"{name} values must lie in [0, 1] for soft masks; {outside} entries "
                         f"are outside (min {float(low):.6g}, max {float(high):.6g}); nothing "
                         "is clipped — project explicitly (e.g. TrainableEdgeMask.clamp_())")
    return mask


def plain_edge_index(edge_index: Tensor) -> Tensor:
    """``edge_index`` as a plain tensor (a PyG ``EdgeIndex`` is unwrapped)."""
    return edge_index.as_tensor() if isinstance(edge_index, EdgeIndex) else edge_index


@dataclass(frozen=True, eq=False)
class TiedEdges:
    """The map from directed edges to the edge units a mask is kept over.

    Built by :func:`tie_directions`. Attributes:

    * ``edge_to_pair`` — ``LongTensor [E]``: the unit (pair) id of every directed edge;
    * ``pairs`` — ``LongTensor [2, U]``: one canonical edge per unit, sorted by
      ``(row, col)``; ``(min(u, v), max(u, v))`` when tied, ``(u, v)`` when ``directed``;
    * ``directed`` — whether directions were kept apart.
    """

    edge_to_pair: Tensor
    pairs: Tensor
    directed: bool

    @property
    def num_edges(self) -> int:
        """``E``, the number of directed edges."""
        return self.edge_to_pair.numel()

    @property
    def num_pairs(self) -> int:
        """``U``, the number of units (undirected edges when tied)."""
        return self.pairs.size(1)

    @property
    def is_loop(self) -> Tensor:
        """``BoolTensor [U]``: which units are self-loops."""
        return self.pairs[0] == self.pairs[1]

    def expand(self, pair_mask: Tensor) -> Tensor:
        """A mask over units (shape ``[U]``) as a mask over directed edges (shape ``[E]``).

        Works for bool and float masks; gradients flow back to ``pair_mask`` (summed over the
        directions of a pair).
        """
        if not isinstance(pair_mask, Tensor) or pair_mask.dim() != 1:
            raise ValueError("pair_mask must be a 1-D tensor over the tied edge units")
        if pair_mask.numel() != self.num_pairs:
            raise ValueError(f"pair_mask has {pair_mask.numel()} entries but there are "
                             f"{self.num_pairs} edge units (num_pairs)")
        return pair_mask[self.edge_to_pair.to(pair_mask.device)]

    def reduce(self, edge_mask: Tensor, how: str = "check") -> Tensor:
        """A mask over directed edges (shape ``[E]``) as a mask over units (shape ``[U]``).

        ``how="check"`` requires all directions of a unit to carry the same value and raises
        ``ValueError`` (with the number of asymmetric units) otherwise; ``"min"`` keeps a unit
        only as much as its least-kept direction (for bool: all directions kept), ``"max"`` as
        much as its most-kept one (for bool: any direction kept). The dtype is preserved; a mask
        on the meta device (no data) raises ``ValueError``.
        """
        check_choice(how, "how", ("check", "min", "max"))
        if not isinstance(edge_mask, Tensor) or edge_mask.dim() != 1:
            raise ValueError("edge_mask must be a 1-D tensor over directed edges")
        check_not_meta(edge_mask, "edge_mask")
        if edge_mask.numel() != self.num_edges:
            raise ValueError(f"edge_mask has {edge_mask.numel()} entries but edge_index has "
                             f"{self.num_edges} edges")
        values = edge_mask.to(torch.float64) if edge_mask.dtype == torch.bool else edge_mask
        index = self.edge_to_pair.to(edge_mask.device)
        empty = values.new_zeros(self.num_pairs)
        low = empty.scatter_reduce(0, index, values, "amin", include_self=False)
        high = empty.scatter_reduce(0, index, values, "amax", include_self=False)
        if how == "check":
            asym = low != high
            if bool(asym.any()):
                raise ValueError(f"edge_mask is not symmetric: {int(asym.sum())} of "
                                 f"{self.num_pairs} edge units have directions with different "
                                 "values; reduce with how='min' or how='max'")
        out = high if how == "max" else low
        return out.bool() if edge_mask.dtype == torch.bool else out

    def is_symmetric(self, edge_mask: Tensor) -> bool:
        """Whether every unit's directions carry the same mask value."""
        try:
            self.reduce(edge_mask, "check")
        except ValueError as err:
            if "not symmetric" in str(err):
                return False
            raise
        return True


def tie_directions(edge_index: Tensor, num_nodes: int | None = None, *,
                   directed: bool = False) -> TiedEdges:
    """Map every directed edge of ``edge_index`` to the id of its edge unit.

    Args:
        edge_index: ``[2, E]`` integer tensor, every id in ``[0, num_nodes)`` (else
            ``ValueError`` naming the range: no negative ids).
        num_nodes: number of nodes (default ``edge_index.max() + 1``).
        directed: if False (default), ``(u, v)`` and ``(v, u)`` share the unit ``(min, max)``
            (an undirected edge); if True (directed datasets), every direction is its own unit.
            Parallel copies of the same edge always share a unit.

    Returns:
        :class:`TiedEdges` with ``edge_to_pair [E]`` and ``pairs [2, U]``. A pair present in one
        direction only is a unit with one edge; a self-loop is a unit of its own.

    Example:
        >>> ei = torch.tensor([[0, 1, 1, 2, 2], [1, 0, 2, 1, 2]])
        >>> t = tie_directions(ei)
        >>> t.edge_to_pair.tolist(), t.pairs.tolist()
        ([0, 0, 1, 1, 2], [[0, 1, 2], [1, 2, 2]])
        >>> t.reduce(t.expand(torch.tensor([True, False, True]))).tolist()
        [True, False, True]
    """
    edge_index = plain_edge_index(check_edge_index(edge_index))
    if num_nodes is None:
        n = int(edge_index.max()) + 1 if edge_index.numel() else 0
    else:
        n = check_int(int(num_nodes), "num_nodes", low=0)
    check_edge_index(edge_index, n)  # every node id in [0, n): none negative, none too large
    row, col = edge_index[0].long(), edge_index[1].long()
    if not directed:
        row, col = torch.minimum(row, col), torch.maximum(row, col)
    key = row * max(n, 1) + col
    unique, inverse = torch.unique(key, sorted=True, return_inverse=True)
    pairs = torch.stack([unique // max(n, 1), unique % max(n, 1)])
    return TiedEdges(edge_to_pair=inverse, pairs=pairs, directed=bool(directed))


def apply_edge_mask(edge_index: Tensor, mask: Tensor,
                    edge_attr: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """Physically remove masked edges (mode ``"remove"``; PyG's ``dropout_edge`` convention).

    Args:
        edge_index: ``[2, E]`` integer tensor (a PyG ``EdgeIndex`` stays one).
        mask: ``[E]`` bool (True = kept), or floating holding only 0 and 1.
        edge_attr: optional tensor with ``E`` rows (``edge_attr [E, F]`` or ``edge_weight [E]``),
            filtered alike.

    Returns:
        ``(edge_index[:, mask], edge_attr[mask] or None)``.

    Example:
        >>> ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
        >>> kept, w = apply_edge_mask(ei, torch.tensor([True, True, False, False]),
        ...                           torch.tensor([1., 2., 3., 4.]))
        >>> kept.tolist(), w.tolist()
        ([[0, 1], [1, 0]], [1.0, 2.0])
    """
    edge_index = check_edge_index(edge_index)
    keep = check_edge_mask(mask, hard=True, num_edges=edge_index.size(1))
    keep = keep.to(edge_index.device)
    if edge_attr is None:
        return edge_index[:, keep], None
    if not isinstance(edge_attr, Tensor) or edge_attr.dim() == 0 \
            or edge_attr.size(0) != edge_index.size(1):
        raise ValueError(f"edge_attr must be a tensor with {edge_index.size(1)} rows (one per "
                         f"edge), got {getattr(edge_attr, 'shape', type(edge_attr).__name__)}")
    return edge_index[:, keep], edge_attr[keep]
