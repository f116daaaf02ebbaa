"""Node-level GNN backbones: :class:`GNN` (the base stack) and GCN, GIN, GAT, GraphSAGE in the
configuration of the graph-lottery-ticket papers (see :mod:`graphsparse.gnn.models`)."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GCNConv, GINEConv

from graphsparse.gnn.models.convs import LinearFirstGINConv, LinearFirstSAGEConv, feature_dropout

__all__ = ["BACKBONES", "EDGE_FEATURE_MODELS", "GAT", "GCN", "GIN", "GNN", "GraphSAGE"]


class GNN(nn.Module):
    """A stack of ``num_layers`` message-passing layers with node-level output (base class).

    ``forward(x, edge_index, edge_attr=None)``: ``x`` is ``[N, in_dim]`` (dense, or sparse CSR;
    see :mod:`graphsparse.gnn.models`), ``edge_index`` ``[2, E]`` int64, ``edge_attr``
    ``[E, edge_dim]`` (only for models built with ``edge_dim``). Returns ``[N, out_dim]``
    (logits for node classification; no activation after the last layer). Subclasses define
    ``name``, ``activation`` and ``_conv``. ``config`` is the dict
    :func:`~graphsparse.gnn.models.build_model` rebuilds the model from (empty for a backbone
    inside a wrapper, whose config describes both).
    """

    name = ""

    def __init__(self, in_dim: int, out_dim: int, *, hidden: int, num_layers: int,
                 dropout: float, input_dropout: float, bias: bool,
                 edge_dim: int | None = None) -> None:
        super().__init__()
        self.in_dim, self.out_dim, self.hidden = in_dim, out_dim, hidden
        self.dropout, self.input_dropout, self.bias = dropout, input_dropout, bias
        self.edge_dim = edge_dim
        dims = [in_dim] + [hidden] * (num_layers - 1) + [out_dim]
        self.convs = nn.ModuleList(
            self._conv(dims[i], dims[i + 1], i == num_layers - 1) for i in range(num_layers))
        self.config: dict[str, Any] = {}

    @property
    def num_layers(self) -> int:
        return len(self.convs)

    def activation(self, x: Tensor) -> Tensor:
        return F.relu(x)

    def _conv(self, d_in: int, d_out: int, last: bool) -> nn.Module:
        raise NotImplementedError(f"{type(self).__name__} does not define its conv")

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        if edge_attr is not None and self.edge_dim is None:
            raise ValueError(f"{type(self).__name__} was built without edge features "
                             "(edge_dim=None) but edge_attr was given")
        x = feature_dropout(x, self.input_dropout, self.training)
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            if i > 0:
                x = F.dropout(x, self.dropout, self.training)
            x = conv(x, edge_index) if edge_attr is None else conv(x, edge_index, edge_attr)
            if i < last:
                x = self.activation(x)
        return x


class GCN(GNN):
    """GCN (Kipf & Welling, ICLR 2017): ``GCNConv`` layers with symmetric normalisation and
    self-loops, ReLU between layers. Takes no edge features.

    Example:
        >>> import torch
        >>> m = GCN(8, 3, hidden=16, num_layers=2, dropout=0.5, input_dropout=0.0, bias=False)
        >>> m(torch.randn(5, 8), torch.tensor([[0, 1], [1, 0]])).shape
        torch.Size([5, 3])
    """

    name = "gcn"

    def _conv(self, d_in: int, d_out: int, last: bool) -> nn.Module:
        return GCNConv(d_in, d_out, bias=self.bias)


class GIN(GNN):
    """GIN-ε (Xu et al., ICLR 2019): sum aggregation, learnable ``ε``, an MLP of
    ``mlp_layers`` linear maps (width ``hidden`` inside, ReLU between) per layer. With
    ``edge_dim`` the layers are ``GINEConv`` (messages ``ReLU(h_j + e_ij)``; ``edge_attr`` must
    have the layer's input width).

    Example:
        >>> import torch
        >>> m = GIN(8, 3, hidden=16, num_layers=2, dropout=0.5, input_dropout=0.0, bias=True,
        ...         mlp_layers=2)
        >>> m(torch.randn(5, 8), torch.tensor([[0, 1], [1, 0]])).shape
        torch.Size([5, 3])
    """

    name = "gin"

    def __init__(self, in_dim: int, out_dim: int, *, mlp_layers: int = 2,
                 train_eps: bool = True, **kwargs: Any) -> None:
        self.mlp_layers, self.train_eps = mlp_layers, train_eps
        super().__init__(in_dim, out_dim, **kwargs)

    def _conv(self, d_in: int, d_out: int, last: bool) -> nn.Module:
        widths = [d_in] + [self.hidden] * (self.mlp_layers - 1) + [d_out]
        layers: list[nn.Module] = []
        for k in range(self.mlp_layers):
            if k > 0:
                layers.append(nn.ReLU())
            layers.append(nn.Linear(widths[k], widths[k + 1], bias=self.bias))
        mlp = nn.Sequential(*layers)
        if self.edge_dim is not None:
            return GINEConv(mlp, train_eps=self.train_eps,
                            edge_dim=None if self.edge_dim == d_in else self.edge_dim)
        return LinearFirstGINConv(mlp, train_eps=self.train_eps)


class GAT(GNN):
    """GAT (Veličković et al., ICLR 2018): hidden layers with ``heads`` heads of width
    ``hidden // heads`` concatenated, an output layer with ``out_heads`` heads averaged,
    attention dropout ``attn_dropout``, ELU between layers. With ``edge_dim`` the attention also
    sees ``edge_attr`` (PyG ``GATConv(edge_dim=...)``); the self-loops GAT adds get the edge
    feature 0 ("no bond"), not PyG's default mean of the node's in-edge features, which would
    depend on the very edges an edge mask removes and make soft masks inexact.

    Example:
        >>> import torch
        >>> m = GAT(8, 3, hidden=16, num_layers=2, dropout=0.6, input_dropout=0.6, bias=False,
        ...         heads=4)
        >>> m.convs[0].heads, m.convs[0].out_channels, m.convs[1].heads
        (4, 4, 1)
    """

    name = "gat"

    def __init__(self, in_dim: int, out_dim: int, *, heads: int = 8, out_heads: int = 1,
                 attn_dropout: float = 0.6, **kwargs: Any) -> None:
        if kwargs["hidden"] % heads:
            raise ValueError(f"hidden ({kwargs['hidden']}) must be divisible by heads ({heads}): "
                             "hidden is the total width of the concatenated heads")
        self.heads, self.out_heads, self.attn_dropout = heads, out_heads, attn_dropout
        super().__init__(in_dim, out_dim, **kwargs)

    def activation(self, x: Tensor) -> Tensor:
        return F.elu(x)

    def _conv(self, d_in: int, d_out: int, last: bool) -> nn.Module:
        heads, width, concat = (self.out_heads, d_out, False) if last \
            else (self.heads, d_out // self.heads, True)
        return GATConv(d_in, width, heads=heads, concat=concat, dropout=self.attn_dropout,
                       bias=self.bias, edge_dim=self.edge_dim, fill_value=0.0)


class GraphSAGE(GNN):
    """GraphSAGE-mean (Hamilton et al., NeurIPS 2017): ``W_l mean_j h_j + W_r h_i``, ReLU
    between layers (``bias`` is the bias of ``W_l``). Takes no edge features.

    Example:
        >>> import torch
        >>> m = GraphSAGE(8, 3, hidden=16, num_layers=2, dropout=0.5, input_dropout=0.0,
        ...               bias=False)
        >>> m(torch.randn(5, 8), torch.tensor([[0, 1], [1, 0]])).shape
        torch.Size([5, 3])
    """

    name = "sage"

    def _conv(self, d_in: int, d_out: int, last: bool) -> nn.Module:
        return LinearFirstSAGEConv(d_in, d_out, bias=self.bias)


#: The backbone class of every model name.
BACKBONES: dict[str, type[GNN]] = {"gcn": GCN, "gin": GIN, "gat": GAT, "sage": GraphSAGE}
#: Models whose convs can take edge features (GIN as GINEConv, GAT with edge_dim).
EDGE_FEATURE_MODELS = ("gin", "gat")
