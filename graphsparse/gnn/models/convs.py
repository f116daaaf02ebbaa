"""Convs and helpers that keep sparse input features sparse.

GIN and GraphSAGE aggregate the raw features first, which a sparse matrix does not support; for
a sparse ``x`` their first layer (:class:`LinearFirstGINConv`, :class:`LinearFirstSAGEConv`)
applies its first linear map *before* aggregating, which is exact because a linear map commutes
with sum and mean aggregation (see :mod:`graphsparse.gnn.models`). :func:`feature_dropout` is
dropout on dense or sparse-CSR input features.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GINConv, SAGEConv

__all__ = ["LinearFirstGINConv", "LinearFirstSAGEConv", "feature_dropout", "is_sparse"]


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
