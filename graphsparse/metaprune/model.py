"""The metanetwork: an edge-updating message-passing GNN over network graphs.

Follows the metanetwork of Liu, Wang, Zhang, "Meta Pruning via Graph Metanetworks" (arXiv
2506.12041, Sec. 3.2 and the reference ``nn/GNN.py``; a PNA-style GNN with edge updates, the
NG-GNN family of Kofinas et al., ICLR 2024):

* encoders ``Linear(node_dim -> h)`` and ``Linear(edge_dim -> h)``;
* ``num_layers`` blocks; each block, with pre-LayerNorm (no affine) node states ``h``:

  - messages in both edge directions: ``m_ij = MLP_fwd([h_i, h_j, e_ij])`` aggregated at the
    target ``j`` and ``m'_ji = MLP_rev([h_j, h_i, e_ij])`` aggregated at the source ``i``, each with
    the aggregations mean, max, min and std concatenated (the paper's PNA aggregators; they do
    not grow with fan-in, which reaches thousands after a flatten);
  - node update ``v <- v + MLP([h, agg_fwd, agg_rev])``;
  - edge update ``e_ij <- e_ij + MLP([LN(e_ij), h_i, h_j])``;
  - every edge-level MLP has its first layer split by input (``A h_i + B h_j + C e``), so node
    terms are projected once per node and gathered per edge (same function class, fewer edge
    FLOPs);

* decoders ``LN -> Linear -> SiLU -> Linear`` back to the input widths;
* output ``x' = x + scale * dec_x(v)``, ``e' = e + scale * dec_e(e)`` (paper: "res_ratio"), so the
  metanetwork starts near the identity for a small ``scale``. BatchNorm ``running_var`` columns are
  updated multiplicatively, ``var' = var * exp(scale * dec)``, so they stay positive.

There are no neuron-index features, and every operation is per node, per edge, or a
permutation-invariant aggregation, so the map is equivariant to permutations of the nodes (in
particular of a network's hidden neurons / channels).

Default size 4 layers x 32 hidden for CPU (the paper uses 8 x 64 for ResNet-56: ~8.5 s per step on
a 109k-edge graph on 2 cores).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import MessagePassing

from graphsparse.checks import check_choice, check_float, check_int
from graphsparse.masks.io import CorruptFileError, load_file, save_file
from graphsparse.metaprune.convert import from_graph, to_graph
from graphsparse.metaprune.layout import EDGE_DIM, EDGE_TYPES, NODE_DIM, var_columns

__all__ = ["MetaNetwork", "apply_metanet", "save_metanet", "load_metanet", "METANET_VERSION"]

METANET_VERSION = 1
_AGGREGATIONS = ["mean", "max", "min", "std"]


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, n_out))


class _Factored(nn.Module):
    """``MLP([a, b, c]) = W2 · SiLU(A a + B b + C c + bias) + b2`` with the first layer split by
    input, so the node terms ``A a`` and ``B b`` are computed once per node and gathered per edge
    (the same function as a two-layer MLP on the concatenation, cheaper on edges)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.a = nn.Linear(hidden, hidden)
        self.b = nn.Linear(hidden, hidden, bias=False)
        self.c = nn.Linear(hidden, hidden, bias=False)
        self.out = nn.Linear(hidden, hidden)

    def combine(self, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Per-edge output from projected terms ``a = A·``, ``b = B·``, ``c = C·`` (each ``[E, h]``)."""
        return self.out(F.silu(a + b + c))


class _DirectedMessages(MessagePassing):
    """Messages ``MLP([h_target, h_source, e])`` along ``edge_index`` (source -> target), aggregated
    at the target with mean, max, min, std concatenated: ``h [N, h], e [E, h] -> [N, 4h]``."""

    def __init__(self, hidden: int) -> None:
        super().__init__(aggr=list(_AGGREGATIONS))
        self.mlp = _Factored(hidden)

    def forward(self, h: torch.Tensor, edge_index: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        return self.propagate(edge_index, p=self.mlp.a(h), q=self.mlp.b(h), c=self.mlp.c(e),
                              size=(h.shape[0], h.shape[0]))

    def message(self, p_i: torch.Tensor, q_j: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.mlp.combine(p_i, q_j, c)


class _Block(nn.Module):
    """One edge-updating message-passing layer (both directions), node and edge residual updates:
    ``v [N, h], e [E, h] -> v', e'``."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        k = len(_AGGREGATIONS)
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False)
        self.edge_norm = nn.LayerNorm(hidden, elementwise_affine=False)
        self.fwd = _DirectedMessages(hidden)
        self.rev = _DirectedMessages(hidden)
        self.node_mlp = _mlp((1 + 2 * k) * hidden, hidden, hidden)
        self.edge_mlp = _Factored(hidden)

    def forward(self, v: torch.Tensor, e: torch.Tensor, edge_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.norm(v)
        a_fwd = self.fwd(h, edge_index, e)
        a_rev = self.rev(h, edge_index.flip(0), e)
        v = v + self.node_mlp(torch.cat([h, a_fwd, a_rev], dim=-1))
        src, dst = edge_index
        upd = self.edge_mlp
        e = e + upd.combine(upd.a(h)[src], upd.b(h)[dst], upd.c(self.edge_norm(e)))
        return v, e


class MetaNetwork(nn.Module):
    """Metanetwork ``M_phi``: network graph -> network graph of the same layout (paper Sec. 3.2).

    Args:
        num_layers: message-passing blocks (default 4; paper 8).
        hidden: node/edge state width h (default 32; paper 64 for ResNet-56, 32 for VGG-19).
        scale: residual output scale (paper ``res_ratio``, 0.01 for ResNet-56); default 1e-3 so
            a fresh metanetwork is close to the identity; 1.0 for a strong update.
        node_dim, edge_dim: feature widths of the graphs (defaults: :func:`to_graph` with
            ``kernel_size=3``: 15 and 14).
        weight_update: how the weight (kernel) columns of the edge features change:
            ``"additive"`` (the paper: ``w' = w + scale·d``) or ``"multiplicative"``
            (``w' = w·(1 + scale·d)``: a learned per-entry gain, so zeroing a neuron's weights —
            what structured pruning wants — is one output value per edge instead of an exact
            ``−w``; a zero weight stays zero). Other columns are always additive.

    ``forward(graph)`` takes a ``Data`` with ``x [N, node_dim]``, ``edge_index [2, E]``,
    ``edge_attr [E, edge_dim]`` and returns a shallow copy of it with new ``x`` and ``edge_attr``
    of the same shapes (other attributes, e.g. ``layout``, shared), differentiable in the
    metanetwork's parameters and in the input features.
    """

    def __init__(self, num_layers: int = 4, hidden: int = 32, scale: float = 1e-3,
                 node_dim: int = NODE_DIM, edge_dim: int = EDGE_DIM,
                 weight_update: str = "additive") -> None:
        super().__init__()
        num_layers = check_int(num_layers, "num_layers", low=1)
        hidden = check_int(hidden, "hidden", low=1)
        node_dim = check_int(node_dim, "node_dim", low=1)
        edge_dim = check_int(edge_dim, "edge_dim", low=1)
        scale = check_float(scale, "scale", low=0.0, open_low=True)
        self.weight_update = check_choice(weight_update, "weight_update", ("additive", "multiplicative"))
        self.num_layers, self.hidden, self.scale = num_layers, hidden, scale
        self.node_dim, self.edge_dim = node_dim, edge_dim
        self.node_enc = nn.Linear(node_dim, hidden)
        self.edge_enc = nn.Linear(edge_dim, hidden)
        self.blocks = nn.ModuleList(_Block(hidden) for _ in range(num_layers))
        self.node_dec = nn.Sequential(nn.LayerNorm(hidden), _mlp(hidden, hidden, node_dim))
        self.edge_dec = nn.Sequential(nn.LayerNorm(hidden), _mlp(hidden, hidden, edge_dim))
        var = torch.zeros(node_dim, dtype=torch.bool)
        if node_dim == NODE_DIM:
            var[var_columns()] = True
        self.register_buffer("_var_cols", var, persistent=False)
        gain = torch.zeros(edge_dim, dtype=torch.bool)
        if weight_update == "multiplicative":
            gain[:max(edge_dim - 1 - len(EDGE_TYPES), 0)] = True    # the K² kernel columns
        self.register_buffer("_gain_cols", gain, persistent=False)

    def config(self) -> dict:
        """Constructor arguments (for :func:`save_metanet`)."""
        return {"num_layers": self.num_layers, "hidden": self.hidden, "scale": self.scale,
                "node_dim": self.node_dim, "edge_dim": self.edge_dim,
                "weight_update": self.weight_update}

    def forward(self, graph: Data) -> Data:
        x, e, edge_index = graph.x, graph.edge_attr, graph.edge_index
        if x is None or e is None or edge_index is None:
            raise ValueError("graph needs x, edge_index and edge_attr (use graphsparse.metaprune.to_graph)")
        if x.dim() != 2 or x.shape[1] != self.node_dim or e.dim() != 2 or e.shape[1] != self.edge_dim:
            raise ValueError(
                f"graph features x {tuple(x.shape)}, edge_attr {tuple(e.shape)} do not fit this metanetwork "
                f"(node_dim={self.node_dim}, edge_dim={self.edge_dim}); was the graph made with another kernel_size?"
            )
        dtype = self.node_enc.weight.dtype
        v = self.node_enc(x.to(dtype))
        h = self.edge_enc(e.to(dtype))
        for block in self.blocks:
            v, h = block(v, h, edge_index)
        dx = self.scale * self.node_dec(v).to(x.dtype)
        de = self.scale * self.edge_dec(h).to(e.dtype)
        new_x = torch.where(self._var_cols, x * torch.exp(dx), x + dx)
        out = copy.copy(graph)
        out.x = new_x
        out.edge_attr = torch.where(self._gain_cols, e * (1 + de), e + de)
        return out


def apply_metanet(metanet: MetaNetwork, model: nn.Module, example_input: torch.Tensor | None = None) -> nn.Module:
    """``from_graph(metanet(to_graph(model, example_input)), model)``: the network the metanetwork
    makes of ``model`` (paper Sec. 3: theta' = G^-1(M_phi(G(theta)))), a new model of the same class.

    Runs under ``torch.no_grad()``; for meta-training use :func:`graph_to_state_dict` on the
    metanetwork's output with ``torch.func.functional_call`` so gradients reach ``metanet``.
    The graph goes to the metanetwork's device; the new model is on ``model``'s device (the two
    may differ).
    """
    device = next(iter(metanet.parameters())).device
    graph = to_graph(model, example_input).to(device)
    with torch.no_grad():
        out = metanet(graph)
    return from_graph(out, model)


def save_metanet(path: str | os.PathLike, metanet: MetaNetwork, **meta) -> Path:
    """Save ``metanet`` as a graphsparse file of kind ``"metanet"``: ``{"config", "state_dict",
    "meta"}`` (atomic, checksummed, ``weights_only``-loadable). ``meta``: JSON-like extras."""
    if not isinstance(metanet, MetaNetwork):
        raise TypeError(f"metanet must be a MetaNetwork, got {type(metanet).__name__}")
    payload = {"config": metanet.config(),
               "state_dict": {k: v.detach().cpu().clone() for k, v in metanet.state_dict().items()},
               "meta": dict(meta)}
    return save_file(path, "metanet", payload, METANET_VERSION)


def load_metanet(path: str | os.PathLike) -> tuple[MetaNetwork, dict]:
    """Load a metanetwork file written by :func:`save_metanet`: returns ``(metanet, meta)``.

    Raises ``FileNotFoundError`` for a missing file and
    :class:`graphsparse.masks.io.CorruptFileError` for a corrupted/truncated file, a file of
    another kind, or a payload whose config or state_dict does not build a :class:`MetaNetwork`.
    """
    payload, _ = load_file(path, "metanet")
    config, state, meta = payload.get("config"), payload.get("state_dict"), payload.get("meta", {})
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise CorruptFileError(f"{str(path)!r}: a metanet file needs 'config' and 'state_dict' entries")
    try:
        metanet = MetaNetwork(**config)
        metanet.load_state_dict(state)
    except (TypeError, ValueError, RuntimeError) as err:
        raise CorruptFileError(f"{str(path)!r}: its config/state_dict do not build a MetaNetwork: {err}") from err
    return metanet, meta
