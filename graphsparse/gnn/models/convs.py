"""Convs and helpers that keep sparse input features sparse, and UGS's GCN normalisation.

GIN and GraphSAGE aggregate the raw features first, which a sparse matrix does not support; for
a sparse ``x`` their first layer (:class:`LinearFirstGINConv`, :class:`LinearFirstSAGEConv`)
applies its first linear map *before* aggregating, which is exact because a linear map commutes
with sum and mean aggregation (see :mod:`graphsparse.gnn.models`). :func:`feature_dropout` is
dropout on dense or sparse-CSR input features. :class:`OutDegreeGCNConv` is GCN with the degrees
taken from each node's out-edges, the operator of UGS's dense reference GCN.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GCNConv, GINConv, SAGEConv
from torch_geometric.utils import add_remaining_self_loops, scatter

__all__ = ["LinearFirstGINConv", "LinearFirstSAGEConv", "OutDegreeGCNConv", "feature_dropout",
           "is_sparse", "out_degree_norm"]


def is_sparse(x: Any) -> bool:
    """Whether ``x`` is a tensor in a sparse layout."""
    return isinstance(x, Tensor) and x.layout != torch.strided


def feature_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Dropout that also works on a sparse CSR ``x`` (on its stored non-zeros)."""
    if not training or p == 0.0:
        return x
    if x.layout == torch.sparse_csr:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Ss]parse CSR tensor support.*")
            return torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(),
                                           F.dropout(x.values(), p, True), x.shape,
                                           check_invariants=False)
    if x.layout != torch.strided:
        raise TypeError(f"input features with layout {x.layout} are not supported; use a dense "
                        "or sparse CSR tensor")
    return F.dropout(x, p, True)


class LinearFirstGINConv(GINConv):
    """PyG ``GINConv`` that, for a sparse ``x``, applies the MLP's first linear map first.

    ``nn`` must be an ``nn.Sequential`` starting with an ``nn.Linear`` ``W x + b``. For a
    sparse ``x`` (shape ``[N, F_in]``) the forward computes ``h = x Wᵀ`` (``[N, F_1]``),
    ``nn[1:]((1 + ε) h_i + Σ_j h_j + b)``, which equals ``GINConv`` on the dense ``x``; for
    a dense ``x`` it is ``GINConv.forward``. Edge masks see the same ``propagate`` either way.

    Example:
        >>> import torch
        >>> conv = LinearFirstGINConv(torch.nn.Sequential(torch.nn.Linear(5, 3)))
        >>> x, ei = torch.eye(4, 5), torch.tensor([[0, 1, 2], [1, 2, 3]])
        >>> bool(torch.allclose(conv(x.to_sparse_csr(), ei), conv(x, ei), atol=1e-6))
        True
    """

    def __init__(self, nn: torch.nn.Sequential, **kwargs: Any) -> None:
        if not isinstance(nn, torch.nn.Sequential) or len(nn) == 0 \
                or not isinstance(nn[0], torch.nn.Linear):
            raise TypeError("nn must be a torch.nn.Sequential whose first module is a "
                            "torch.nn.Linear")
        super().__init__(nn, **kwargs)

    def transforms_first(self, x: Any) -> bool:
        """Whether ``forward`` applies the first linear map before aggregating (sparse ``x``)."""
        return is_sparse(x)

    def forward(self, x: Tensor, edge_index: Tensor, size: Any = None) -> Tensor:
        if not self.transforms_first(x):
            return super().forward(x, edge_index, size)
        first = self.nn[0]
        h = F.linear(x, first.weight)
        out = self.propagate(edge_index, x=(h, h), size=size) + (1 + self.eps) * h
        if first.bias is not None:
            out = out + first.bias
        return self.nn[1:](out)


class LinearFirstSAGEConv(SAGEConv):
    """PyG ``SAGEConv`` (mean aggregation) that, for a sparse ``x``, applies ``W_l`` first.

    For a sparse ``x`` (``[N, F_in]``) the forward computes ``h = x W_lᵀ``, then
    ``mean_j h_j + b_l + W_r x_i`` (0 + ``b_l`` for a node without in-edges, as PyG), which
    equals ``SAGEConv`` on the dense ``x``; for a dense ``x`` it is ``SAGEConv.forward``.
    Only mean aggregation without ``project`` is accepted.

    Example:
        >>> import torch
        >>> conv = LinearFirstSAGEConv(5, 3)
        >>> x, ei = torch.eye(4, 5), torch.tensor([[0, 1, 2], [1, 2, 3]])
        >>> bool(torch.allclose(conv(x.to_sparse_csr(), ei), conv(x, ei), atol=1e-6))
        True
    """

    def __init__(self, in_channels: int, out_channels: int, **kwargs: Any) -> None:
        if kwargs.get("aggr", "mean") != "mean" or kwargs.get("project", False):
            raise ValueError("LinearFirstSAGEConv supports aggr='mean' without project only")
        super().__init__(in_channels, out_channels, **kwargs)

    def transforms_first(self, x: Any) -> bool:
        """Whether ``forward`` applies ``W_l`` before aggregating (sparse ``x``)."""
        return is_sparse(x)

    def forward(self, x: Tensor, edge_index: Tensor, size: Any = None) -> Tensor:
        if not self.transforms_first(x):
            return super().forward(x, edge_index, size)
        h = F.linear(x, self.lin_l.weight)
        out = self.propagate(edge_index, x=(h, h), size=size)
        if self.lin_l.bias is not None:
            out = out + self.lin_l.bias
        if self.root_weight:
            out = out + self.lin_r(x)
        if self.normalize:
            out = F.normalize(out, p=2.0, dim=-1)
        return out


def out_degree_norm(edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int
                    ) -> tuple[Tensor, Tensor]:
    """GCN normalisation with out-degrees: self-loops of weight 1 added where missing, then
    ``w'_{j→i} = d_j^{-1/2} · w_{j→i} · d_i^{-1/2}`` with ``d_k = Σ_l w_{k→l}`` (loop included).

    This is the propagation ``D^{-1/2} Âᵀ D^{-1/2}`` of UGS's dense reference GCN (Chen et al.
    2021, code ``utils.torch_normalize_adj``: ``Â = A ⊙ m + I``, ``D`` from the row sums of
    ``Â``, node ``i`` aggregating ``Â[j, i]``). For symmetric weights it equals PyG's
    ``gcn_norm``, which takes both degrees from in-edges; they differ when the weights of the
    two directions of an edge differ (UGS's untied ``N×N`` mask). Returns the edges with loops
    and their normalised weights.

    Example:
        >>> ei = torch.tensor([[0, 1], [1, 0]])
        >>> _, w = out_degree_norm(ei, torch.tensor([1.0, 0.0]), 2)   # only 0 -> 1 kept
        >>> [round(v, 4) for v in w.tolist()]    # 0->1, 1->0, then the loops 0->0, 1->1
        [0.7071, 0.0, 0.5, 1.0]
    """
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1), device=edge_index.device)
    edge_index, edge_weight = add_remaining_self_loops(edge_index, edge_weight, 1.0, num_nodes)
    source, target = edge_index[0], edge_index[1]
    degree = scatter(edge_weight, source, 0, dim_size=num_nodes, reduce="sum")
    inv_sqrt = degree.pow(-0.5).masked_fill(degree == 0, 0.0)
    return edge_index, inv_sqrt[source] * edge_weight * inv_sqrt[target]


class OutDegreeGCNConv(GCNConv):
    """``GCNConv`` normalised by :func:`out_degree_norm` (UGS's dense reference operator)
    instead of in-degrees; otherwise the same layer (``lin``, ``bias``, sum aggregation).
    ``add_self_loops`` is True (the loops are added in :meth:`forward`, as ``gcn_norm`` adds
    them), so edge masks treat its input self-loops as ``GCNConv``'s.

    Example:
        >>> conv = OutDegreeGCNConv(4, 2)
        >>> conv(torch.randn(3, 4), torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])).shape
        torch.Size([3, 2])
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, normalize=False, add_self_loops=False,
                         bias=bias)
        self.add_self_loops = True  # done in forward; read by the edge-mask hooks

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None
                ) -> Tensor:
        # GCNConv.forward with normalize=False: lin, propagate with these weights, bias
        return super().forward(x, *out_degree_norm(edge_index, edge_weight, x.size(0)))
