"""GCN on sampled neighbourhoods with the whole graph's normalisation: :class:`GlobalGCNNorm`.

PyG's ``GCNConv`` normalises by the degrees it counts in the edges it is given. On a sampled
mini-batch those are the *sampled* degrees: a node at the last hop has no sampled in-edges, so
its messages are weighted ``d_v^{-1/2} · 1`` instead of ``(d_u d_v)^{-1/2}``, and the model
trains on a propagation it never meets at full-graph evaluation (on Coauthor-CS, at fan-out
15,10, it cost dense GCN 1.5 points of test accuracy against full batch; with this module the
gap is 0.2, docs/scale.md).

:class:`GlobalGCNNorm` gives every ``GCNConv`` of the model, for one batch, explicit edge
weights computed from the *kept graph's* degrees ``d = in-degree + 1`` (the self-loop), with
the layer's own normalisation and self-loops switched off:

* a sampled edge ``u → v``: ``(d_u d_v)^{-1/2} · deg_in(v) / s_v``, where ``s_v`` is the
  number of in-edges of ``v`` the batch sampled — the neighbour-sampling estimator of Chen, Zhu
  & Song (*Stochastic Training of Graph Convolutional Networks with Variance Reduction*, ICML
  2018, Eq. 3: ``n(v)/D`` times the sum over the ``D`` sampled neighbours), unbiased for the
  full aggregation;
* every batch node's self-loop: ``1 / d_v``.

At fan-out ``-1`` (``s_v = deg_in(v)``) a batch's seed outputs then equal the full-batch GCN's
exactly. It applies when every message-passing layer is a plain ``GCNConv`` (normalising, adding
self-loops, sum aggregation), no soft edge mask is attached (a trainable mask's degrees change
every step; UGS's search keeps PyG's sampled normalisation) and the graph has no explicit
self-loops.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor, nn
from torch_geometric.nn import GCNConv, MessagePassing

__all__ = ["GlobalGCNNorm"]


class GlobalGCNNorm:
    """The kept graph's GCN degrees, and the per-batch edge weights built from them.

    Args:
        edge_index: ``[2, E']`` the kept edges (global ids), source → target.
        num_nodes: ``N``.

    Example:
        >>> ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
        >>> norm = GlobalGCNNorm(ei, 3)
        >>> loops, weights = norm.batch_weights(torch.tensor([1, 0, 2]),
        ...                                     torch.tensor([[1, 2], [0, 0]]))
        >>> loops.tolist(), [round(w, 4) for w in weights.tolist()]
        ([[1, 2, 0, 1, 2], [0, 0, 0, 1, 2]], [0.4082, 0.4082, 0.3333, 0.5, 0.5])
    """

    def __init__(self, edge_index: Tensor, num_nodes: int) -> None:
        self.in_degree = torch.bincount(edge_index[1], minlength=num_nodes).float()
        self.degree = self.in_degree + 1.0

    @staticmethod
    def applies(model: nn.Module, edge_index: Tensor) -> bool:
        """Whether the model is a plain GCN stack and the graph has no explicit self-loops."""
        convs = [m for m in model.modules() if isinstance(m, MessagePassing)]
        plain = bool(convs) and all(
            type(c) is GCNConv and c.normalize and c.add_self_loops and c.aggr == "add"
            and not c.cached for c in convs)
        return plain and not bool((edge_index[0] == edge_index[1]).any())

    def batch_weights(self, n_id: Tensor, edge_index: Tensor) -> tuple[Tensor, Tensor]:
        """``(edge_index with one self-loop per batch node appended, weights)`` of a batch
        whose local ``edge_index`` indexes the global nodes ``n_id``."""
        n_id, local = n_id.cpu(), edge_index.cpu()
        src, dst = n_id[local[0]], n_id[local[1]]
        sampled = torch.bincount(local[1], minlength=n_id.numel()).float()
        scale = self.in_degree[dst] / sampled[local[1]]
        weights = (self.degree[src] * self.degree[dst]).rsqrt() * scale
        loops = torch.arange(n_id.numel())
        edge_index = torch.cat([local, torch.stack([loops, loops])], 1)
        return edge_index, torch.cat([weights, self.degree[n_id].reciprocal()])

    @staticmethod
    @contextlib.contextmanager
    def attached(model: nn.Module, weights: Tensor) -> Iterator[None]:
        """Every GCNConv of ``model`` propagates with ``weights`` as given (its normalisation
        and self-loops off) for the block; restored afterwards."""
        convs = [m for m in model.modules() if isinstance(m, GCNConv)]
        handles = [conv.register_forward_pre_hook(
            lambda module, args, kwargs: (args, {**kwargs, "edge_weight": weights}),
            with_kwargs=True) for conv in convs]
        for conv in convs:
            conv.normalize, conv.add_self_loops = False, False
        try:
            yield
        finally:
            for conv in convs:
                conv.normalize, conv.add_self_loops = True, True
            for handle in handles:
                handle.remove()
