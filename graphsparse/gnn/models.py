"""GNN backbones for graph lottery tickets: GCN, GIN, GAT, GraphSAGE and task wrappers.

Thin PyG models in the configuration of the graph-lottery-ticket papers (UGS, Chen et al.,
ICML 2021; TEDDY, Seo et al., ICLR 2024): 2 layers, hidden width 512, full-batch, no bias in
the node-classification models. Every model is built by one factory, :func:`build_model`, from
a JSON-serialisable config that :func:`model_from_config` turns back into the same
architecture, so a model is saved as config + state_dict in graphsparse's safe file format
(:func:`save_gnn` / :func:`load_gnn`). Weight masks come from :mod:`graphsparse.masks`
(``attach``), edge masks from :mod:`graphsparse.gnn.edge_masks` (every conv used here is one
the edge-mask mechanism supports in ``"remove"`` and ``"message"`` mode; GCN also in
``"weight"`` mode).

Backbones (node-level output ``[N, out_dim]``)
---------------------------------------------
``"gcn"`` — :class:`GCN`, Kipf & Welling, *Semi-Supervised Classification with Graph
    Convolutional Networks*, ICLR 2017: ``H' = Â H W`` with ``Â = D̃^-1/2 (A + I) D̃^-1/2``
    (PyG ``GCNConv``), ReLU between layers.
``"gin"`` — :class:`GIN`, Xu et al., *How Powerful are Graph Neural Networks?*, ICLR 2019:
    ``h'_i = MLP((1 + ε) h_i + Σ_{j∈N(i)} h_j)`` with a learnable ``ε`` (GIN-ε) and an MLP of
    ``mlp_layers`` linear maps (default 2, as in the paper; UGS and TEDDY use 1), ReLU between
    layers.
``"gat"`` — :class:`GAT`, Veličković et al., *Graph Attention Networks*, ICLR 2018: hidden
    layers with ``heads`` attention heads (default 8) concatenated to the hidden width (default
    512 = 8 × 64), an output layer with ``out_heads`` heads (default 1) averaged; ELU between
    layers; dropout 0.6 on the input, the hidden features and the attention coefficients.
``"sage"`` — :class:`GraphSAGE`, Hamilton et al., *Inductive Representation Learning on Large
    Graphs*, NeurIPS 2017: ``h'_i = W_l mean_{j∈N(i)} h_j + W_r h_i`` (PyG ``SAGEConv``), ReLU.

Common options: ``hidden`` (total hidden width), ``num_layers`` (convs; 1 maps straight from
input to output), ``dropout`` (on the hidden features, before every conv but the first),
``input_dropout`` (on the input features), ``bias``.

Sparse input features
---------------------
Bag-of-words datasets come as ``torch.sparse_csr`` features (:mod:`graphsparse.gnn.data`);
keeping them sparse makes the first linear map several times faster (Coauthor-CS, 6805 × 512
map, forward + backward: 0.38 s sparse vs 2.3 s dense; a GraphSAGE training epoch
4.1 s vs 24 s; shared 2-core CPU machine). GCN and GAT transform before they aggregate, so
their first ``Linear`` takes the sparse matrix as it is. GIN and GraphSAGE aggregate the raw
features first, which a sparse matrix does not support; for a sparse ``x`` their first layer
(:class:`LinearFirstGINConv`, :class:`LinearFirstSAGEConv`) applies its first linear map
*before* aggregating, which is exact because a linear map commutes with sum and mean
aggregation: ``W((1+ε)x_i + Σ_j x_j) = (1+ε)Wx_i + Σ_j Wx_j`` and ``W mean_j x_j = mean_j
Wx_j``, with the bias added after aggregation. Same parameters, same function (up to float
rounding), no input projection added and nothing densified; for a dense ``x`` both convs run
PyG's own code. Input dropout on a sparse ``x`` drops its stored non-zeros.

Task wrappers
-------------
``task="link"`` — :class:`LinkModel`: a backbone encoder mapping nodes to ``hidden``-dimensional
    embeddings, and a decoder scoring node pairs: ``"mlp"`` (default; OGB's ogbl-ddi example:
    the Hadamard product ``h_u ⊙ h_v`` through ``decoder_layers`` linear maps) or ``"dot"``
    (``h_u · h_v``). Graphs without node features (``in_dim=0``, e.g. ogbl-ddi) get a learnable
    embedding per node (``num_nodes`` rows of width ``hidden``), as in OGB's example.
``task="graph"`` — :class:`GraphModel`: a node encoder (``"atom"``: OGB's ``AtomEncoder`` for
    ogbg-mol* atom features; ``"linear"``: a linear map of float features), the backbone
    (``hidden`` → ``hidden``), global mean pooling and a linear head. With
    ``edge_features=True`` (the default where the conv can use them: GIN as ``GINEConv``, GAT
    with ``edge_dim``; the self-loops GAT adds get bond feature 0) OGB's ``BondEncoder`` embeds
    the bond features. Embeddings (node embeddings, ``AtomEncoder``, ``BondEncoder``) are not in
    the ``"linear"`` weight scope (see :mod:`graphsparse.gnn.accounting`).

Defaults follow each task's reference protocol: node models have no bias (UGS, TEDDY); link
and graph models have biases (OGB's examples).

Example:
    >>> import torch
    >>> model = build_model("gat", 32, 4, hidden=64)
    >>> model.config["heads"], model.convs[0].out_channels
    (8, 8)
    >>> x, edge_index = torch.randn(10, 32), torch.tensor([[0, 1, 2], [1, 2, 0]])
    >>> model(x, edge_index).shape
    torch.Size([10, 4])
    >>> model_from_config(model.config).config == model.config
    True
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GCNConv, GINConv, GINEConv, SAGEConv, global_mean_pool

from graphsparse import masks as M

__all__ = [
    "GAT",
    "GCN",
    "GIN",
    "GNN",
    "GraphModel",
    "GraphSAGE",
    "LinearFirstGINConv",
    "LinearFirstSAGEConv",
    "LinkModel",
    "MODEL_NAMES",
    "TASKS",
    "build_model",
    "default_config",
    "load_gnn",
    "model_from_config",
    "save_gnn",
]

#: Names accepted by :func:`build_model`.
MODEL_NAMES = ("gcn", "gin", "gat", "sage")
#: Tasks accepted by :func:`build_model`.
TASKS = ("node", "link", "graph")
_LINK_DECODERS = ("mlp", "dot")
_GRAPH_ENCODERS = ("atom", "linear")

_COMMON_DEFAULTS: dict[str, Any] = {
    "hidden": 512, "num_layers": 2, "dropout": 0.5, "input_dropout": 0.0, "bias": False,
}
_MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "gcn": {},
    "gin": {"mlp_layers": 2, "train_eps": True},
    "gat": {"heads": 8, "out_heads": 1, "attn_dropout": 0.6, "dropout": 0.6,
            "input_dropout": 0.6},
    "sage": {},
}
_TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "node": {},
    "link": {"bias": True, "decoder": "mlp", "decoder_layers": 3, "num_nodes": None},
    "graph": {"bias": True, "encoder": "atom", "edge_features": None},
}


# --------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------

def _int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def _prob(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be a float in [0, 1), got {value!r}")
    return float(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def _is_sparse(x: Any) -> bool:
    return isinstance(x, Tensor) and x.layout != torch.strided


def _dropout(x: Tensor, p: float, training: bool) -> Tensor:
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


# --------------------------------------------------------------------------------------------
# convs that keep sparse input features sparse
# --------------------------------------------------------------------------------------------

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
        return _is_sparse(x)

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
        return _is_sparse(x)

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


# --------------------------------------------------------------------------------------------
# backbones
# --------------------------------------------------------------------------------------------

class GNN(nn.Module):
    """A stack of ``num_layers`` message-passing layers with node-level output (base class).

    ``forward(x, edge_index, edge_attr=None)``: ``x`` is ``[N, in_dim]`` (dense, or sparse CSR;
    see the module documentation), ``edge_index`` ``[2, E]`` int64, ``edge_attr``
    ``[E, edge_dim]`` (only for models built with ``edge_dim``). Returns ``[N, out_dim]``
    (logits for node classification; no activation after the last layer). Subclasses define
    ``name``, ``activation`` and ``_conv``. ``config`` is the dict :func:`build_model` rebuilds
    the model from (empty for a backbone inside a wrapper, whose config describes both).
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
        x = _dropout(x, self.input_dropout, self.training)
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


_BACKBONES: dict[str, type[GNN]] = {"gcn": GCN, "gin": GIN, "gat": GAT, "sage": GraphSAGE}
_EDGE_FEATURE_MODELS = ("gin", "gat")


# --------------------------------------------------------------------------------------------
# task wrappers
# --------------------------------------------------------------------------------------------

class LinkModel(nn.Module):
    """Link prediction: a backbone encoder plus a pair decoder (OGB's ogbl-ddi recipe).

    ``forward(x, edge_index)`` returns node embeddings ``[N, hidden]`` computed on the
    message-passing graph ``edge_index``; for a featureless model (built with ``num_nodes``)
    ``x`` must be None and the learnable embedding table ``embedding.weight`` (``[num_nodes,
    hidden]``) is the input. ``decode(h, pairs)`` scores node pairs ``pairs`` (``[2, P]``
    int64) and returns logits ``[P]``: ``"dot"``: ``h_u · h_v``; ``"mlp"``: the Hadamard product
    ``h_u ⊙ h_v`` through ``decoder_layers`` linear maps with ReLU and dropout between.

    Example:
        >>> import torch
        >>> m = build_model("sage", 0, 1, task="link", hidden=8, num_nodes=5, decoder="dot")
        >>> h = m(None, torch.tensor([[0, 1, 2], [1, 2, 3]]))
        >>> h.shape, m.decode(h, torch.tensor([[0, 4], [1, 3]])).shape
        (torch.Size([5, 8]), torch.Size([2]))
    """

    def __init__(self, encoder: GNN, *, decoder: str, decoder_layers: int, dropout: float,
                 bias: bool, num_nodes: int | None) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder_kind, self.dropout = decoder, dropout
        width = encoder.out_dim
        self.embedding = nn.Embedding(num_nodes, width) if num_nodes is not None else None
        if self.embedding is not None:
            nn.init.xavier_uniform_(self.embedding.weight)
        self.decoder = (nn.ModuleList(
            nn.Linear(width, 1 if k == decoder_layers - 1 else width, bias=bias)
            for k in range(decoder_layers)) if decoder == "mlp" else None)
        self.config: dict[str, Any] = {}

    def forward(self, x: Tensor | None, edge_index: Tensor) -> Tensor:
        if self.embedding is not None:
            if x is not None:
                raise ValueError("this LinkModel learns one embedding per node (built with "
                                 "num_nodes); pass x=None")
            x = self.embedding.weight
        elif x is None:
            raise ValueError("x is None but the model was built for node features "
                             f"(in_dim={self.encoder.in_dim}); build it with in_dim=0 and "
                             "num_nodes for a featureless graph")
        return self.encoder(x, edge_index)

    def decode(self, h: Tensor, pairs: Tensor) -> Tensor:
        if not isinstance(pairs, Tensor) or pairs.dim() != 2 or pairs.size(0) != 2:
            raise ValueError(f"pairs must be a [2, P] tensor of node ids, got "
                             f"{tuple(getattr(pairs, 'shape', ()))}")
        z = h[pairs[0]] * h[pairs[1]]
        if self.decoder is None:
            return z.sum(-1)
        for k, lin in enumerate(self.decoder):
            if k > 0:
                z = F.dropout(F.relu(z), self.dropout, self.training)
            z = lin(z)
        return z.squeeze(-1)


class GraphModel(nn.Module):
    """Graph-level prediction: node encoder → backbone → global mean pool → linear head.

    ``forward(x, edge_index, edge_attr=None, batch=None)``: ``x`` ``[N, F]`` (int64 OGB atom
    features for ``encoder="atom"``, float for ``"linear"``), ``edge_index`` ``[2, E]``,
    ``edge_attr`` ``[E, 3]`` OGB bond features (used when built with edge features, ignored
    otherwise), ``batch`` ``[N]`` graph ids (None: one graph). Returns ``[G, out_dim]`` logits
    (one column per OGB task).

    Example:
        >>> import torch
        >>> m = build_model("gin", 9, 1, task="graph", hidden=16)
        >>> x = torch.zeros(4, 9, dtype=torch.long)
        >>> ei, ea = torch.tensor([[0, 1, 2], [1, 2, 3]]), torch.zeros(3, 3, dtype=torch.long)
        >>> m(x, ei, ea, torch.tensor([0, 0, 1, 1])).shape
        torch.Size([2, 1])
    """

    def __init__(self, backbone: GNN, *, node_encoder: nn.Module,
                 edge_encoder: nn.Module | None, out_dim: int, bias: bool) -> None:
        super().__init__()
        self.node_encoder, self.edge_encoder = node_encoder, edge_encoder
        self.backbone = backbone
        self.head = nn.Linear(backbone.out_dim, out_dim, bias=bias)
        self.config: dict[str, Any] = {}

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None,
                batch: Tensor | None = None) -> Tensor:
        h = self.node_encoder(x)
        if self.edge_encoder is not None:
            if edge_attr is None:
                raise ValueError("this GraphModel uses bond features (edge_features=True); "
                                 "pass edge_attr")
            h = self.backbone(h, edge_index, self.edge_encoder(edge_attr))
        else:
            h = self.backbone(h, edge_index)
        if batch is None:
            batch = torch.zeros(h.size(0), dtype=torch.long, device=h.device)
        return self.head(global_mean_pool(h, batch))


# --------------------------------------------------------------------------------------------
# factory
# --------------------------------------------------------------------------------------------

def default_config(name: str, task: str = "node") -> dict[str, Any]:
    """The default options of model ``name`` for ``task`` (what :func:`build_model` fills in).

    Example:
        >>> cfg = default_config("gat")
        >>> cfg["hidden"], cfg["heads"], cfg["dropout"], cfg["bias"]
        (512, 8, 0.6, False)
    """
    name = _choice("name", name, MODEL_NAMES)
    task = _choice("task", task, TASKS)
    return {**_COMMON_DEFAULTS, **_MODEL_DEFAULTS[name], **_TASK_DEFAULTS[task]}


def build_model(name: str, in_dim: int, out_dim: int, *, task: str = "node",
                **cfg: Any) -> nn.Module:
    """Build a backbone (``task="node"``) or a task wrapper around one.

    Args:
        name: ``"gcn"``, ``"gin"``, ``"gat"`` or ``"sage"`` (case-insensitive).
        in_dim: node feature columns (int >= 0; 0 only for a featureless link task). For
            ``task="graph"`` with ``encoder="atom"``: OGB's 9 atom-feature columns.
        out_dim: output width: classes (node), 1 (link), tasks (graph) — ``num_classes`` of a
            :class:`~graphsparse.gnn.data.LoadedDataset`.
        task: ``"node"``, ``"link"`` or ``"graph"``.
        **cfg: options overriding :func:`default_config` — ``hidden`` (int >= 1, total width;
            for GAT divisible by ``heads``), ``num_layers`` (int >= 1), ``dropout``,
            ``input_dropout`` (floats in [0, 1)), ``bias``; GIN: ``mlp_layers``, ``train_eps``;
            GAT: ``heads``, ``out_heads``, ``attn_dropout``; link: ``decoder`` (``"mlp"``,
            ``"dot"``), ``decoder_layers``, ``num_nodes`` (required iff ``in_dim == 0``);
            graph: ``encoder`` (``"atom"``, ``"linear"``), ``edge_features`` (None = use bond
            features where the conv can: GIN, GAT with the atom encoder).

    Returns:
        A :class:`GNN` (node), :class:`LinkModel` or :class:`GraphModel` whose ``config``
        attribute is a JSON-serialisable dict with every option, from which
        :func:`model_from_config` builds the same architecture.

    Raises:
        ValueError: unknown name, task or option (the message lists the valid ones), or an
            invalid value (the message names the option and the allowed values).

    Example:
        >>> m = build_model("gcn", 1433, 7)
        >>> [tuple(c.lin.weight.shape) for c in m.convs]
        [(512, 1433), (7, 512)]
        >>> build_model("mlp", 4, 2)
        Traceback (most recent call last):
        ...
        ValueError: unknown model 'mlp'; valid models: 'gcn', 'gin', 'gat', 'sage'
    """
    if not isinstance(name, str) or name.lower() not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; valid models: "
                         f"{', '.join(map(repr, MODEL_NAMES))}")
    name = name.lower()
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(map(repr, TASKS))}")
    defaults = default_config(name, task)
    unknown = sorted(set(cfg) - set(defaults))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(map(repr, unknown))} for model {name!r} "
                         f"and task {task!r}; valid options: {', '.join(sorted(defaults))}")
    c = {**defaults, **cfg}
    in_dim = _int("in_dim", in_dim, 0)
    out_dim = _int("out_dim", out_dim, 1)
    common = {
        "hidden": _int("hidden", c["hidden"], 1),
        "num_layers": _int("num_layers", c["num_layers"], 1),
        "dropout": _prob("dropout", c["dropout"]),
        "input_dropout": _prob("input_dropout", c["input_dropout"]),
        "bias": _flag("bias", c["bias"]),
    }
    extra: dict[str, Any] = {}
    if name == "gin":
        extra = {"mlp_layers": _int("mlp_layers", c["mlp_layers"], 1),
                 "train_eps": _flag("train_eps", c["train_eps"])}
    elif name == "gat":
        extra = {"heads": _int("heads", c["heads"], 1),
                 "out_heads": _int("out_heads", c["out_heads"], 1),
                 "attn_dropout": _prob("attn_dropout", c["attn_dropout"])}
    backbone_cls = _BACKBONES[name]
    config: dict[str, Any] = {"model": name, "task": task, "in_dim": in_dim, "out_dim": out_dim,
                              **common, **extra}

    if task == "node":
        if in_dim == 0:
            raise ValueError("in_dim must be >= 1 for node classification (the nodes need "
                             "features)")
        model: nn.Module = backbone_cls(in_dim, out_dim, **common, **extra)
    elif task == "link":
        if out_dim != 1:
            raise ValueError(f"out_dim must be 1 for link prediction (one score per pair), "
                             f"got {out_dim}")
        decoder = _choice("decoder", c["decoder"], _LINK_DECODERS)
        decoder_layers = _int("decoder_layers", c["decoder_layers"], 1)
        num_nodes = c["num_nodes"]
        if in_dim == 0:
            if num_nodes is None:
                raise ValueError("num_nodes is required when in_dim=0 (a featureless graph such "
                                 "as ogbl-ddi learns one embedding per node)")
            num_nodes = _int("num_nodes", num_nodes, 1)
        elif num_nodes is not None:
            raise ValueError("num_nodes is only for featureless graphs (in_dim=0); the nodes "
                             f"here have {in_dim} features")
        hidden = common["hidden"]
        encoder = backbone_cls(in_dim or hidden, hidden, **common, **extra)
        model = LinkModel(encoder, decoder=decoder, decoder_layers=decoder_layers,
                          dropout=common["dropout"], bias=common["bias"], num_nodes=num_nodes)
        config.update(decoder=decoder, decoder_layers=decoder_layers, num_nodes=num_nodes)
    else:
        encoder_kind = _choice("encoder", c["encoder"], _GRAPH_ENCODERS)
        edge_features = c["edge_features"]
        supported = name in _EDGE_FEATURE_MODELS and encoder_kind == "atom"
        if edge_features is None:
            edge_features = supported
        elif _flag("edge_features", edge_features) and not supported:
            raise ValueError(
                f"edge_features=True needs a conv that takes edge features "
                f"({', '.join(map(repr, _EDGE_FEATURE_MODELS))}) and encoder='atom' (OGB bond "
                f"features); got model {name!r} with encoder {encoder_kind!r}")
        hidden = common["hidden"]
        if encoder_kind == "atom":
            from ogb.graphproppred.mol_encoder import AtomEncoder, BondEncoder
            from ogb.utils.features import get_atom_feature_dims

            atom_columns = len(get_atom_feature_dims())
            if in_dim != atom_columns:
                raise ValueError(f"encoder='atom' needs OGB's {atom_columns} atom-feature "
                                 f"columns, got in_dim={in_dim}; use encoder='linear' for "
                                 "float node features")
            node_encoder: nn.Module = AtomEncoder(hidden)
            edge_encoder = BondEncoder(hidden) if edge_features else None
        else:
            if in_dim == 0:
                raise ValueError("in_dim must be >= 1 for encoder='linear'")
            node_encoder, edge_encoder = nn.Linear(in_dim, hidden, bias=common["bias"]), None
        backbone = backbone_cls(hidden, hidden, **common, **extra,
                                edge_dim=hidden if edge_features else None)
        model = GraphModel(backbone, node_encoder=node_encoder, edge_encoder=edge_encoder,
                           out_dim=out_dim, bias=common["bias"])
        config.update(encoder=encoder_kind, edge_features=edge_features)
    model.config = config
    return model


def model_from_config(config: Mapping[str, Any]) -> nn.Module:
    """Rebuild the architecture described by a model's ``config`` (fresh initial weights).

    Example:
        >>> m = build_model("sage", 16, 3, hidden=32)
        >>> type(model_from_config(m.config)).__name__
        'GraphSAGE'
    """
    if not isinstance(config, Mapping) or not {"model", "in_dim", "out_dim"} <= set(config):
        raise ValueError("config must be a dict with at least 'model', 'in_dim' and 'out_dim' "
                         "(the config attribute of a model from build_model)")
    rest = {k: v for k, v in config.items() if k not in ("model", "in_dim", "out_dim", "task")}
    return build_model(config["model"], config["in_dim"], config["out_dim"],
                       task=config.get("task", "node"), **rest)




def save_gnn(path: str | os.PathLike, model: nn.Module, **meta: Any) -> Path:
    """Save a model from :func:`build_model` as config + state_dict (safe graphsparse format).

    Attached weight masks are saved with the weights; ``meta`` (str/int/float/bool/None and
    lists/dicts of them) is stored alongside. Returns the path.

    Example:
        >>> import os, tempfile
        >>> m = build_model("gcn", 8, 2, hidden=4)
        >>> p = save_gnn(os.path.join(tempfile.mkdtemp(), "m.pt"), m, seed=0)
        >>> bool(torch.equal(load_gnn(p).convs[0].lin.weight, m.convs[0].lin.weight))
        True
    """
    config = getattr(model, "config", None)
    if not isinstance(config, dict) or "model" not in config:
        raise ValueError("model has no config from build_model; save a plain model with "
                         "graphsparse.masks.save_model(path, model, config)")
    return M.save_model(path, model, config, **meta)


def load_gnn(path: str | os.PathLike) -> nn.Module:
    """Load a model written by :func:`save_gnn`: rebuild it from its config, restore its
    weights and any weight masks (``graphsparse.masks.load_masked``)."""
    config, state_dict, _ = M.load_model(path)
    model = model_from_config(config)
    return M.load_masked(model, state_dict)
