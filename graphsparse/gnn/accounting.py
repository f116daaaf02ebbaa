"""Sparsity accounting for graph lottery tickets, in one place: graph, weights, MACs.

GLT papers count sparsity differently (UGS counts linear weight matrices, TEDDY every
parameter), so every number here states what it counts.

The mask graph
--------------
An edge mask covers the columns of one ``edge_index`` — the *mask graph* of a task
(:func:`mask_graph`): for node classification and link prediction the dataset's
message-passing graph ``data.edge_index`` (for link prediction the training edges, never the
supervision or negative pairs); for graph classification the disjoint union of **all**
graphs of the dataset in dataset order (graph ``g``'s edges are the global edge ids
``edge_ptr[g]:edge_ptr[g+1]``, its nodes ``node_ptr[g]:node_ptr[g+1]``), so one mask covers
every molecule's edges and graph sparsity is counted over all of them together.

Graph sparsity
--------------
:func:`graph_sparsity` counts kept edges four ways and names the primary one in ``scope``:

* ``"undirected"`` — undirected edges (the pairs ``{u, v}``, ``u != v``) — the primary count
  for undirected graphs. A pair counts as kept if any of its directions is kept; with tied
  masks (the default of :mod:`graphsparse.gnn.edge_masks`) both directions agree, otherwise
  ``asymmetric`` says how many pairs disagree. Parallel copies of an edge are one pair.
* ``"undirected_with_loops"`` — the same, self-loops included as pairs.
* ``"directed"`` — directed edges (columns of ``edge_index``) without self-loops — the primary
  count for directed graphs (``directed=True``).
* ``"directed_with_loops"`` — every column of ``edge_index``.

Cora: 10,556 directed edges = 5,278 undirected, no self-loops.

Weight sparsity
---------------
:func:`weight_sparsity` wraps :func:`graphsparse.masks.sparsity_report` over a declared scope
(:data:`WEIGHT_SCOPES`): ``"linear"`` — weight matrices of linear maps inside convs, MLPs,
decoders and heads (``GCNConv.lin``, ``GATConv.lin``, ``SAGEConv.lin_l/lin_r``, GIN's MLP,
``GATConv.lin_edge``, heads); not biases, attention vectors (``att_src``, ``att_dst``,
``att_edge``), GIN's ``ε``, norms or embeddings (node embeddings, OGB's Atom/BondEncoder) —
UGS's count. ``"all"`` — every parameter — TEDDY's count. Kept entries are the mask's count for
a masked tensor and the non-zero count otherwise.

MACs of message passing
-----------------------
Importing this module registers MAC counters with :func:`graphsparse.masks.register_macs`, so
``graphsparse.masks.macs(model, x, edge_index, ...)`` counts GNNs. Each row is one module call;
dense counts every weight entry and every edge the conv receives, masked counts kept weight
entries (mask or non-zero count) and kept edges. Notation: ``N`` nodes, ``E`` edges received,
``E'`` edges propagated (``E`` without its self-loops plus ``N`` added self-loops for convs that
add them: GCN, GAT — added self-loops are never masked), ``F_in``/``F_out`` feature widths,
``H`` heads of width ``C``:

* PyG ``Linear`` (``GCNConv.lin``, ``GATConv.lin``, ``SAGEConv.lin_l/lin_r`` …) and
  ``nn.Linear``: ``rows · F_in · F_out``; masked ``rows · kept(W)``.
* ``GCNConv`` aggregation (Kipf & Welling 2017): ``E' · F_out`` (one MAC per normalised
  edge weight and channel). A GCN layer is thus ``X·W`` (``N · F_in · F_out``, masked by kept
  weights) + aggregation (``E' · F_out``, masked by kept edges).
* ``GATConv`` (Veličković et al. 2018): node attention scores ``2 · N · H · C`` plus, per
  propagated edge, ``H`` for the logit and ``H · C`` for the weighted message: ``E' · H · (C +
  1)``; with edge features another ``E' · H · C`` (``lin_edge`` is counted as a Linear).
* ``GINConv``/``GINEConv`` (Xu et al. 2019): sum aggregation plus the ``(1 + ε) h_i`` term,
  ``(E + N) · F``; the MLP is counted by its Linear layers.
* ``SAGEConv`` (Hamilton et al. 2017): mean aggregation ``E · F``; ``lin_l``/``lin_r`` are
  counted as Linears.
* :class:`~graphsparse.gnn.models.LinearFirstGINConv` / ``LinearFirstSAGEConv`` on sparse
  features apply their first linear map before aggregating: that map (counted by the
  sparse-feature rule below) is in the conv's row and the aggregation runs at width ``F_1``.

Sparse node features (a ``torch.sparse_coo``/``sparse_csr``/``sparse_csc`` ``X``, as
:mod:`graphsparse.gnn.data` delivers bag-of-words features such as Cora's) are counted as the
sparse-dense product a sparse kernel performs: a linear map ``X Wᵀ`` (``W`` of shape
``[F_out, F_in]``, the first layer's feature transform: ``GCNConv.lin``, ``GATConv.lin``,
``SAGEConv.lin_r``, and the first map of the LinearFirst convs) costs one MAC per stored entry
``X[i, j]`` and kept entry of column ``j`` of ``W``: dense ``nnz(X) · F_out``, masked
``Σ_j nnz(X[:, j]) · kept(W[:, j])`` (kept: the mask's entries for a masked weight, the
non-zeros otherwise; stored entries count even if their value is 0, e.g. after input dropout).
With a dense ``X`` the rows above apply (``N · F_in · F_out``, masked ``N · kept(W)``, as in
UGS). Embedding look-ups, biases, activations, normalisation, softmax and pooling are not MACs. A link model's
``forward`` is its encoder (pair decoding depends on the number of pairs and is not counted).

Kept edges: without further information every edge a conv receives is kept. Pass the edge
mask to :func:`graph_macs` (or set it with :func:`counting_edge_mask` around
``masks.macs``) to count dense MACs on the full graph and masked MACs on the kept edges in one
forward pass; the model must then receive the full ``edge_index`` the mask is over (soft
edge-mask modes or no edge mask attached). A model run on an already-filtered graph counts
that graph as its dense graph.

Example:
    >>> import torch
    >>> from graphsparse.gnn.models import build_model
    >>> model = build_model("gcn", 4, 2, hidden=3)
    >>> ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    >>> r = graph_macs(model, torch.randn(3, 4), ei, edge_mask=torch.tensor([1, 1, 0, 0]) > 0)
    >>> r.dense, r.masked    # 3·4·3 + (4+3)·3 + 3·3·2 + (4+3)·2; masked: 2 edges + 3 loops
    (89, 79)
    >>> graph_sparsity(ei, torch.tensor([True, True, False, False])).sparsity
    0.5
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GCNConv, GINConv, GINEConv, SAGEConv
from torch_geometric.nn.dense.linear import Linear as PyGLinear
from torch_geometric.utils import is_undirected

from graphsparse import masks as M
from graphsparse.gnn.edge_masks import TrainableEdgeMask, tie_directions

__all__ = [
    "EdgeCount",
    "GRAPH_COUNTS",
    "GraphSparsity",
    "MaskGraph",
    "WEIGHT_SCOPES",
    "counting_edge_mask",
    "graph_macs",
    "graph_sparsity",
    "mask_graph",
    "sparsity_summary",
    "weight_sparsity",
]

#: The declared weight scopes and what they count.
WEIGHT_SCOPES: dict[str, str] = {
    "linear": "weight matrices of linear maps in convs, MLPs, decoders and heads (UGS); not "
              "biases, attention vectors, GIN eps, norms or embeddings",
    "all": "every parameter, including biases, attention vectors and embeddings (TEDDY)",
}
#: The four edge counts of :class:`GraphSparsity`.
GRAPH_COUNTS = ("undirected", "undirected_with_loops", "directed", "directed_with_loops")
_SCOPE_TEXT = {
    "undirected": "undirected edges, self-loops excluded",
    "directed": "directed edges, self-loops excluded",
}


# --------------------------------------------------------------------------------------------
# the mask graph
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class MaskGraph:
    """The graph an edge mask covers (see the module documentation).

    Attributes:
        edge_index: ``[2, E]`` int64; the mask has one entry per column.
        num_nodes: number of nodes (for graph tasks: of all graphs together).
        directed: False if every edge's reverse is present (counted as undirected).
        edge_ptr: graph tasks: ``[G + 1]`` int64, graph ``g``'s edges are
            ``edge_ptr[g]:edge_ptr[g+1]``; None for a single graph.
        node_ptr: graph tasks: ``[G + 1]`` int64 node offsets; None for a single graph.
    """

    edge_index: Tensor
    num_nodes: int
    directed: bool
    edge_ptr: Tensor | None = None
    node_ptr: Tensor | None = None

    @property
    def num_edges(self) -> int:
        """``E``, the length of an edge mask over this graph."""
        return self.edge_index.size(1)


def mask_graph(dataset: Any) -> MaskGraph:
    """The graph whose edge ids an edge mask of ``dataset`` covers.

    Args:
        dataset: a :class:`~graphsparse.gnn.data.LoadedDataset` (node, link or graph task).

    Returns:
        :class:`MaskGraph`: ``data.edge_index`` for node and link tasks; for graph tasks the
        disjoint union of every graph of ``dataset.dataset`` in dataset order, node ids offset
        by ``node_ptr``.

    Example:
        >>> from graphsparse.gnn.data import load_dataset
        >>> g = mask_graph(load_dataset("sbm"))
        >>> g.num_nodes, g.directed, g.edge_ptr is None
        (1000, False, True)
    """
    task = getattr(dataset, "task", None)
    if task in ("node", "link"):
        data = dataset.data
        edge_index = data.edge_index
        return MaskGraph(edge_index=edge_index, num_nodes=int(data.num_nodes),
                         directed=not is_undirected(edge_index, num_nodes=data.num_nodes))
    if task == "graph":
        graphs = [dataset.dataset[i] for i in range(len(dataset.dataset))]
        nodes = torch.tensor([g.num_nodes for g in graphs], dtype=torch.long)
        edges = torch.tensor([g.edge_index.size(1) for g in graphs], dtype=torch.long)
        node_ptr = torch.cat([nodes.new_zeros(1), nodes.cumsum(0)])
        edge_ptr = torch.cat([edges.new_zeros(1), edges.cumsum(0)])
        edge_index = torch.cat([g.edge_index + node_ptr[i] for i, g in enumerate(graphs)], 1) \
            if graphs else torch.empty(2, 0, dtype=torch.long)
        total = int(node_ptr[-1])
        return MaskGraph(edge_index=edge_index, num_nodes=total,
                         directed=not is_undirected(edge_index, num_nodes=total),
                         edge_ptr=edge_ptr, node_ptr=node_ptr)
    raise ValueError(f"dataset must be a LoadedDataset with task 'node', 'link' or 'graph'; got "
                     f"{type(dataset).__name__} with task {task!r}")


def _kept_edges(mask: Any, num_edges: int) -> Tensor:
    """A mask over edge ids as a bool tensor ``[E]`` (float: non-zero = kept)."""
    if isinstance(mask, TrainableEdgeMask):
        mask = mask.kept_edges()
    if not isinstance(mask, Tensor) or mask.dim() != 1:
        raise ValueError("edge_mask must be a 1-D tensor over edge ids or a TrainableEdgeMask, "
                         f"got {type(mask).__name__}")
    if mask.numel() != num_edges:
        raise ValueError(f"edge_mask has {mask.numel()} entries but the graph has {num_edges} "
                         "edges")
    return mask.detach().cpu() != 0


# --------------------------------------------------------------------------------------------
# graph sparsity
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EdgeCount:
    """Kept and total edges of one way of counting."""

    kept: int
    total: int

    @property
    def sparsity(self) -> float:
        """Fraction of edges removed, ``1 - kept/total`` (0.0 for an empty graph)."""
        return 1.0 - self.kept / self.total if self.total else 0.0


@dataclass(frozen=True)
class GraphSparsity:
    """Graph sparsity with its scope stated.

    Attributes:
        scope: what the primary count counts, e.g. ``"undirected edges, self-loops excluded"``.
        counts: ``{name: EdgeCount}`` for every name in :data:`GRAPH_COUNTS`.
        primary: the key of ``counts`` that ``kept``/``total``/``sparsity`` report.
        self_loops: number of self-loop columns in ``edge_index``.
        asymmetric: undirected pairs whose directions have different kept states.
    """

    scope: str
    counts: dict[str, EdgeCount]
    primary: str
    self_loops: int
    asymmetric: int

    @property
    def kept(self) -> int:
        return self.counts[self.primary].kept

    @property
    def total(self) -> int:
        return self.counts[self.primary].total

    @property
    def sparsity(self) -> float:
        return self.counts[self.primary].sparsity

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable: scope, kept, total, sparsity and every count."""
        return {"scope": self.scope, "kept": self.kept, "total": self.total,
                "sparsity": self.sparsity, "self_loops": self.self_loops,
                "asymmetric": self.asymmetric,
                "counts": {k: {"kept": c.kept, "total": c.total, "sparsity": c.sparsity}
                           for k, c in self.counts.items()}}


def graph_sparsity(graph: Any, edge_mask: Any = None, *, num_nodes: int | None = None,
                   directed: bool | None = None) -> GraphSparsity:
    """Graph sparsity of an edge mask, over undirected edges without self-loops by default.

    Args:
        graph: an ``edge_index`` ``[2, E]``, a :class:`MaskGraph` or a ``LoadedDataset``
            (its :func:`mask_graph`; for graph tasks all graphs together).
        edge_mask: ``[E]`` bool (True = kept) or float (non-zero = kept), a
            :class:`~graphsparse.gnn.edge_masks.TrainableEdgeMask` (its binary ``kept``
            state), or None (all kept).
        num_nodes: nodes of an ``edge_index`` graph (default ``max + 1``).
        directed: count as directed (primary count ``"directed"``) or undirected
            (``"undirected"``); None: undirected iff every edge's reverse is present.

    Returns:
        :class:`GraphSparsity` with all four counts (see the module documentation).

    Example:
        >>> ei = torch.tensor([[0, 1, 1, 2, 2], [1, 0, 2, 1, 2]])      # 2 pairs + a loop
        >>> r = graph_sparsity(ei, torch.tensor([True, True, False, False, True]))
        >>> r.scope, r.kept, r.total, r.counts["directed_with_loops"].kept
        ('undirected edges, self-loops excluded', 1, 2, 3)
    """
    if isinstance(graph, Tensor):
        edge_index = graph
    else:
        if not isinstance(graph, MaskGraph):
            graph = mask_graph(graph)
        edge_index = graph.edge_index
        num_nodes = graph.num_nodes if num_nodes is None else num_nodes
        directed = graph.directed if directed is None else directed
    edge_index = edge_index.detach().cpu()
    tied = tie_directions(edge_index, num_nodes)
    if directed is None:
        directed = not is_undirected(edge_index, num_nodes=num_nodes)
    num_edges = edge_index.size(1)
    keep = torch.ones(num_edges, dtype=torch.bool) if edge_mask is None \
        else _kept_edges(edge_mask, num_edges)
    loops = edge_index[0] == edge_index[1]
    pair_any = tied.reduce(keep, "max")
    pair_all = tied.reduce(keep, "min")
    pair_loop = tied.is_loop
    counts = {
        "undirected": EdgeCount(int((pair_any & ~pair_loop).sum()), int((~pair_loop).sum())),
        "undirected_with_loops": EdgeCount(int(pair_any.sum()), tied.num_pairs),
        "directed": EdgeCount(int((keep & ~loops).sum()), int((~loops).sum())),
        "directed_with_loops": EdgeCount(int(keep.sum()), num_edges),
    }
    primary = "directed" if directed else "undirected"
    return GraphSparsity(scope=_SCOPE_TEXT[primary], counts=counts, primary=primary,
                         self_loops=int(loops.sum()),
                         asymmetric=int((pair_any != pair_all).sum()))


# --------------------------------------------------------------------------------------------
# weight sparsity
# --------------------------------------------------------------------------------------------

def weight_sparsity(model: nn.Module, scope: str | Callable = "linear") -> M.SparsityReport:
    """Weight sparsity of ``model`` over a declared scope (:data:`WEIGHT_SCOPES`).

    Args:
        model: any module; masks attached with :func:`graphsparse.masks.attach` are counted by
            their masks, other tensors by their non-zeros.
        scope: ``"linear"`` (UGS), ``"all"`` (TEDDY) or a predicate ``(name, owner, tensor) ->
            bool``.

    Returns:
        :class:`graphsparse.masks.SparsityReport`; its ``scope`` field names the scope and its
        rows list every tensor counted.

    Example:
        >>> from graphsparse.gnn.models import build_model
        >>> gat = build_model("gat", 10, 3, hidden=16, heads=2)
        >>> [r["name"] for r in weight_sparsity(gat, "linear").rows]
        ['convs.0.lin.weight', 'convs.1.lin.weight']
    """
    if not callable(scope) and scope not in WEIGHT_SCOPES:
        raise ValueError(f"scope must be one of {', '.join(map(repr, WEIGHT_SCOPES))} or a "
                         f"predicate (name, owner, tensor) -> bool; got {scope!r}")
    return M.sparsity_report(model, scope)


def sparsity_summary(model: nn.Module, graph: Any, edge_mask: Any = None, *,
                     weight_scope: str | Callable = "linear") -> dict[str, Any]:
    """Graph and weight sparsity of a ticket in one JSON-serialisable dict, scopes stated.

    Args:
        model: the (masked) model.
        graph: as for :func:`graph_sparsity` (an ``edge_index``, a :class:`MaskGraph` or a
            ``LoadedDataset``).
        edge_mask: as for :func:`graph_sparsity`.
        weight_scope: as for :func:`weight_sparsity`.

    Returns:
        ``{"graph_sparsity", "graph_scope", "graph_kept", "graph_total", "graph_counts",
        "weight_sparsity", "weight_scope", "weight_scope_description", "weight_kept",
        "weight_total"}``.

    Example:
        >>> from graphsparse.gnn.models import build_model
        >>> s = sparsity_summary(build_model("gcn", 4, 2, hidden=3),
        ...                      torch.tensor([[0, 1], [1, 0]]), weight_scope="all")
        >>> s["graph_sparsity"], s["weight_scope"], s["weight_total"]
        (0.0, 'all', 18)
    """
    g = graph_sparsity(graph, edge_mask)
    w = weight_sparsity(model, weight_scope)
    return {
        "graph_sparsity": g.sparsity, "graph_scope": g.scope, "graph_kept": g.kept,
        "graph_total": g.total, "graph_counts": g.to_dict()["counts"],
        "weight_sparsity": w.sparsity, "weight_scope": w.scope,
        "weight_scope_description": WEIGHT_SCOPES.get(w.scope, "custom predicate"),
        "weight_kept": w.kept, "weight_total": w.numel,
    }


# --------------------------------------------------------------------------------------------
# MACs of message passing
# --------------------------------------------------------------------------------------------

_COUNTED_MASK: contextvars.ContextVar[Tensor | None] = contextvars.ContextVar(
    "graphsparse_macs_edge_mask", default=None)


@contextlib.contextmanager
def counting_edge_mask(edge_mask: Any) -> Iterator[None]:
    """Within the block, the MAC counters of message passing count ``edge_mask``'s kept edges.

    ``edge_mask`` is ``[E]`` over the ``edge_index`` every conv receives (bool, float with
    non-zero = kept, or a TrainableEdgeMask's binary state). :func:`graph_macs` is this
    context around :func:`graphsparse.masks.macs`.
    """
    if isinstance(edge_mask, TrainableEdgeMask):
        edge_mask = edge_mask.kept_edges()
    if not isinstance(edge_mask, Tensor) or edge_mask.dim() != 1:
        raise ValueError("edge_mask must be a 1-D tensor over edge ids or a TrainableEdgeMask, "
                         f"got {type(edge_mask).__name__}")
    token = _COUNTED_MASK.set(edge_mask.detach() != 0)
    try:
        yield
    finally:
        _COUNTED_MASK.reset(token)


def graph_macs(model: nn.Module, x: Any, edge_index: Tensor, *args: Any,
               edge_mask: Any = None, **kwargs: Any) -> M.CostReport:
    """Dense and masked MACs of one forward ``model(x, edge_index, *args, **kwargs)``.

    Args:
        model: a GNN (weight masks attached with :mod:`graphsparse.masks` are counted).
        x: node features ``[N, F_in]``, dense or sparse (COO, CSR, CSC: the first linear map
            costs one MAC per stored entry and kept weight entry of its column; see the module
            documentation), or None for a featureless
            :class:`~graphsparse.gnn.models.LinkModel`.
        edge_index: the full graph ``[2, E]``.
        *args, **kwargs: further forward arguments (e.g. ``edge_attr``, ``batch``).
        edge_mask: ``[E]`` kept edges (bool, float non-zero, TrainableEdgeMask), or None (all).

    Returns:
        :class:`graphsparse.masks.CostReport` (rows per module call; ``dense``, ``masked``,
        ``ratio``); formulas in the module documentation.
    """
    if edge_mask is None:
        return M.macs(model, x, edge_index, *args, **kwargs)
    if isinstance(edge_mask, Tensor) and edge_mask.dim() == 1 \
            and edge_mask.numel() != edge_index.size(1):
        raise ValueError(f"edge_mask has {edge_mask.numel()} entries but edge_index has "
                         f"{edge_index.size(1)} edges")
    with counting_edge_mask(edge_mask):
        return M.macs(model, x, edge_index, *args, **kwargs)


def _edges(conv: nn.Module, inputs: tuple, nodes: int, adds_loops: bool) -> tuple[int, int]:
    """(dense, kept) propagated edges of one conv call."""
    if len(inputs) < 2 or not isinstance(inputs[1], Tensor) or inputs[1].dim() != 2:
        raise ValueError(f"MAC counting of {type(conv).__name__} needs edge_index as its second "
                         "positional argument ([2, E] tensor)")
    edge_index = inputs[1]
    num_edges = edge_index.size(1)
    keep = _COUNTED_MASK.get()
    if keep is None:
        keep = torch.ones(num_edges, dtype=torch.bool, device=edge_index.device)
    elif keep.numel() != num_edges:
        raise ValueError(f"the counted edge mask has {keep.numel()} entries but "
                         f"{type(conv).__name__} received {num_edges} edges; give the model the "
                         "full edge_index the mask is over (no edge removal attached)")
    keep = keep.to(edge_index.device)
    if not adds_loops:
        return num_edges, int(keep.sum())
    not_loop = edge_index[0] != edge_index[1]
    return int(not_loop.sum()) + nodes, int((keep & not_loop).sum()) + nodes


def _stored_per_column(x: Tensor) -> Tensor:
    """Stored entries per column of a sparse ``x`` ``[N, F_in]``: int64 ``[F_in]``."""
    if x.dim() != 2:
        raise ValueError(f"MAC counting needs sparse node features of shape [N, F_in], got "
                         f"x of shape {tuple(x.shape)}")
    if x.layout == torch.sparse_coo:
        columns = x._indices()[1]
    elif x.layout == torch.sparse_csr:
        columns = x.col_indices()
    elif x.layout == torch.sparse_csc:
        return x.ccol_indices().diff().cpu()
    else:
        raise ValueError(f"MAC counting supports node features x in the strided, sparse_coo, "
                         f"sparse_csr and sparse_csc layouts, got {x.layout}")
    return torch.bincount(columns.cpu(), minlength=x.shape[1])


def _kept_entries(weight_owner: nn.Module) -> Tensor:
    """Bool ``[F_out, F_in]``: the weight's attached mask, else its non-zeros (the rule of
    ``kept`` in :func:`graphsparse.masks.macs`)."""
    mask = M.masks_of(weight_owner).get("weight")
    return mask if mask is not None else weight_owner.weight.detach() != 0


def _linear_map(x: Tensor, weight_owner: nn.Module, kept) -> tuple[int, int]:
    """(dense, masked) MACs of ``x Wᵀ`` with ``W = weight_owner.weight`` ``[F_out, F_in]``.

    Dense ``x`` ``[..., F_in]``: ``rows · F_out · F_in`` and ``rows · kept(W)``. Sparse ``x``
    ``[N, F_in]``: ``nnz(x) · F_out`` and ``Σ_j nnz(x[:, j]) · kept(W[:, j])``.
    """
    w = weight_owner.weight
    if x.layout == torch.strided:
        rows = 1
        for size in x.shape[:-1]:
            rows *= int(size)
        return rows * w.numel(), rows * kept(weight_owner, "weight")
    per_column = _stored_per_column(x)
    kept_per_column = _kept_entries(weight_owner).sum(0).cpu()
    return int(per_column.sum()) * w.shape[0], int((per_column * kept_per_column).sum())


def _first_linear(x: Tensor, weight_owner: nn.Module, kept) -> tuple[int, int, int]:
    """(dense, masked, width) of the first linear map a LinearFirst conv applies itself."""
    dense, masked = _linear_map(x, weight_owner, kept)
    return dense, masked, weight_owner.weight.shape[0]


def _pyg_linear_macs(module, inputs, output, kept):
    return _linear_map(inputs[0], module, kept)


def _gcn_macs(conv, inputs, output, kept):
    nodes = output.shape[0]
    dense, masked = _edges(conv, inputs, nodes, bool(conv.normalize and conv.add_self_loops))
    return dense * output.shape[-1], masked * output.shape[-1]


def _gat_macs(conv, inputs, output, kept):
    heads, width = conv.heads, conv.out_channels
    nodes = output.shape[0]
    dense, masked = _edges(conv, inputs, nodes, bool(conv.add_self_loops))
    per_edge = heads * (width + 1) + (heads * width if conv.lin_edge is not None else 0)
    scores = 2 * nodes * heads * width
    return scores + dense * per_edge, scores + masked * per_edge


def _gin_macs(conv, inputs, output, kept):
    nodes = output.shape[0]
    dense, masked = _edges(conv, inputs, nodes, False)
    if getattr(conv, "transforms_first", None) and conv.transforms_first(inputs[0]):
        lin_dense, lin_masked, width = _first_linear(inputs[0], conv.nn[0], kept)
    else:
        lin_dense = lin_masked = 0
        width = inputs[0].shape[-1]
    return lin_dense + (dense + nodes) * width, lin_masked + (masked + nodes) * width


def _sage_macs(conv, inputs, output, kept):
    nodes = output.shape[0]
    dense, masked = _edges(conv, inputs, nodes, False)
    if getattr(conv, "transforms_first", None) and conv.transforms_first(inputs[0]):
        lin_dense, lin_masked, width = _first_linear(inputs[0], conv.lin_l, kept)
    else:
        lin_dense = lin_masked = 0
        width = inputs[0].shape[-1]
    return lin_dense + dense * width, lin_masked + masked * width


M.register_macs(PyGLinear, _pyg_linear_macs)
M.register_macs(GCNConv, _gcn_macs)
M.register_macs(GATConv, _gat_macs)
M.register_macs(GINConv, _gin_macs)
M.register_macs(GINEConv, _gin_macs)
M.register_macs(SAGEConv, _sage_macs)

