"""Task heads around a backbone: :class:`LinkModel` (encoder + pair decoder, OGB's ogbl-ddi
recipe) and :class:`GraphModel` (node encoder, backbone, mean pooling, linear head; see
:mod:`graphsparse.gnn.models`)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import global_mean_pool

from graphsparse.gnn.models.backbones import GNN

__all__ = ["GraphModel", "LinkModel"]


class LinkModel(nn.Module):
    """Link prediction: a backbone encoder plus a pair decoder (OGB's ogbl-ddi recipe).

    ``forward(x, edge_index)`` returns node embeddings ``[N, hidden]`` computed on the
    message-passing graph ``edge_index``; for a featureless model (built with ``num_nodes``)
    ``x`` is None and the learnable embedding table ``embedding.weight`` (``[num_nodes,
    hidden]``) is the input, or a sampled mini-batch's global node ids ``n_id`` (int64 ``[n]``,
    the input is then their rows of the table). ``decode(h, pairs)`` scores node pairs
    ``pairs`` (``[2, P]`` int64) and returns logits ``[P]``: ``"dot"``: ``h_u · h_v``; ``"mlp"``: the Hadamard product
    ``h_u ⊙ h_v`` through ``decoder_layers`` linear maps with ReLU and dropout between.

    Example:
        >>> import torch
        >>> from graphsparse.gnn.models import build_model
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
            if x is None:
                x = self.embedding.weight
            elif x.dim() == 1 and not x.is_floating_point():  # a mini-batch's n_id
                x = self.embedding(x)
            else:
                raise ValueError("this LinkModel learns one embedding per node (built with "
                                 "num_nodes); pass x=None (all nodes) or the batch's node ids")
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
        >>> from graphsparse.gnn.models import build_model
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
