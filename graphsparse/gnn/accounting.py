"""Weight sparsity of graph lottery tickets over a declared scope, and a ticket's summary.

GLT papers count sparsity differently (UGS counts linear weight matrices, TEDDY every
parameter), so every number here states what it counts. Graph sparsity is counted by
:func:`graphsparse.gnn.edges.count_graph_sparsity` over the mask graph
(:func:`graphsparse.gnn.edges.mask_graph`); MACs of message passing by
:func:`graphsparse.gnn.cost.graph_macs`.

Weight sparsity
---------------
:func:`count_weight_sparsity` wraps :func:`graphsparse.masks.sparsity_report` over a declared scope
(:data:`WEIGHT_SCOPES`): ``"linear"`` — weight matrices of linear maps inside convs, MLPs,
decoders and heads (``GCNConv.lin``, ``GATConv.lin``, ``SAGEConv.lin_l/lin_r``, GIN's MLP,
``GATConv.lin_edge``, heads); not biases, attention vectors (``att_src``, ``att_dst``,
``att_edge``), GIN's ``ε``, norms or embeddings (node embeddings, OGB's Atom/BondEncoder) —
UGS's count. ``"all"`` — every parameter — TEDDY's count. Kept entries are the mask's count for
a masked tensor and the non-zero count otherwise.

Only values are counted: a model on the meta device (no data) and an attached mask that is not
binary (a soft or NaN mask buffer) raise ``ValueError`` instead of giving a number.

"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from graphsparse.checks import check_binary_mask, refuses_meta
from graphsparse.gnn.edges.graph import count_graph_sparsity
from graphsparse.masks import SparsityReport, masks_of, sparsity_report

__all__ = [
    "WEIGHT_SCOPES",
    "count_weight_sparsity",
    "sparsity_summary",
]

#: The declared weight scopes and what they count.
WEIGHT_SCOPES: dict[str, str] = {
    "linear": "weight matrices of linear maps in convs, MLPs, decoders and heads (UGS); not "
              "biases, attention vectors, GIN eps, norms or embeddings",
    "all": "every parameter, including biases, attention vectors and embeddings (TEDDY)",
}


@refuses_meta("model")
def count_weight_sparsity(model: nn.Module,
                          scope: str | Callable = "linear") -> SparsityReport:
    """Weight sparsity of ``model`` over a declared scope (:data:`WEIGHT_SCOPES`).

    Args:
        model: any module with data (not on the meta device); masks attached with
            :func:`graphsparse.masks.attach` are counted by their masks (which must be binary:
            a soft or NaN mask buffer raises ``ValueError``), other tensors by their non-zeros.
        scope: ``"linear"`` (UGS), ``"all"`` (TEDDY) or a predicate ``(name, owner, tensor) ->
            bool``.

    Returns:
        :class:`graphsparse.masks.SparsityReport`; its ``scope`` field names the scope and its
        rows list every tensor counted.

    Example:
        >>> from graphsparse.gnn.models import build_model
        >>> gat = build_model("gat", 10, 3, hidden=16, heads=2)
        >>> [r["name"] for r in count_weight_sparsity(gat, "linear").rows]
        ['convs.0.lin.weight', 'convs.1.lin.weight']
    """
    if not callable(scope) and scope not in WEIGHT_SCOPES:
        raise ValueError(f"scope must be one of {', '.join(map(repr, WEIGHT_SCOPES))} or a "
                         f"predicate (name, owner, tensor) -> bool; got {scope!r}")
    for name, mask in masks_of(model).items():
        check_binary_mask(mask, f"the mask of {name!r}")
    return sparsity_report(model, scope)


def sparsity_summary(model: nn.Module, graph: Any, edge_mask: Any = None, *,
                     weight_scope: str | Callable = "linear") -> dict[str, Any]:
    """Graph and weight sparsity of a ticket in one JSON-serialisable dict, scopes stated.

    Args:
        model: the (masked) model.
        graph: as for :func:`~graphsparse.gnn.edges.count_graph_sparsity` (an ``edge_index``,
            a :class:`~graphsparse.gnn.edges.MaskGraph` or a ``LoadedDataset``).
        edge_mask: as for :func:`~graphsparse.gnn.edges.count_graph_sparsity`.
        weight_scope: as for :func:`count_weight_sparsity`.

    Returns:
        ``{"graph_sparsity", "graph_scope", "graph_kept", "graph_total", "graph_counts",
        "weight_sparsity", "weight_scope", "weight_scope_description", "weight_kept",
        "weight_total"}``.

    Example:
        >>> import torch
        >>> from graphsparse.gnn.models import build_model
        >>> s = sparsity_summary(build_model("gcn", 4, 2, hidden=3),
        ...                      torch.tensor([[0, 1], [1, 0]]), weight_scope="all")
        >>> s["graph_sparsity"], s["weight_scope"], s["weight_total"]
        (0.0, 'all', 18)
    """
    g = count_graph_sparsity(graph, edge_mask)
    w = count_weight_sparsity(model, weight_scope)
    return {
        "graph_sparsity": g.sparsity, "graph_scope": g.scope, "graph_kept": g.kept,
        "graph_total": g.total, "graph_counts": g.to_dict()["counts"],
        "weight_sparsity": w.sparsity, "weight_scope": w.scope,
        "weight_scope_description": WEIGHT_SCOPES.get(w.scope, "custom predicate"),
        "weight_kept": w.kept, "weight_total": w.numel,
    }
