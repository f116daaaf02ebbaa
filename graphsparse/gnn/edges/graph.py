"""The graph an edge mask covers, and its graph sparsity counted with the scope stated.

GLT papers count sparsity differently, so every count here states what it counts.

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
:func:`count_graph_sparsity` counts kept edges four ways and names the primary one in ``scope``:

* ``"undirected"`` — undirected edges (the pairs ``{u, v}``, ``u != v``) — the primary count
  for undirected graphs. A pair counts as kept if any of its directions is kept; with tied
  masks (the default of :mod:`graphsparse.gnn.edges`) both directions agree, otherwise
  ``asymmetric`` says how many pairs disagree. Parallel copies of an edge are one pair.
* ``"undirected_with_loops"`` — the same, self-loops included as pairs.
* ``"directed"`` — directed edges (columns of ``edge_index``) without self-loops — the primary
  count for directed graphs (``directed=True``).
* ``"directed_with_loops"`` — every column of ``edge_index``.

Cora: 10,556 directed edges = 5,278 undirected, no self-loops.

Example:
    >>> ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    >>> count_graph_sparsity(ei, torch.tensor([True, True, False, False])).sparsity
    0.5
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch_geometric.utils import is_undirected

from graphsparse.checks import check_binary_mask, check_edge_index, check_not_meta
from graphsparse.gnn.edges.tied import tie_directions
from graphsparse.gnn.edges.trainable import TrainableEdgeMask

__all__ = [
    "EdgeCount",
    "GRAPH_COUNTS",
    "GraphSparsity",
    "MaskGraph",
    "count_graph_sparsity",
    "mask_graph",
]

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
    """A binary mask over edge ids as a bool tensor ``[E]``: bool, or values in {0, 1} (a soft or
    NaN mask has no kept count and raises ``ValueError``, see :func:`check_binary_mask`)."""
    if isinstance(mask, TrainableEdgeMask):
        mask = mask.kept_edges()
    if not isinstance(mask, Tensor) or mask.dim() != 1:
        raise ValueError("edge_mask must be a 1-D tensor over edge ids or a TrainableEdgeMask, "
                         f"got {type(mask).__name__}")
    if mask.numel() != num_edges:
        raise ValueError(f"edge_mask has {mask.numel()} entries but the graph has {num_edges} "
                         "edges")
    return check_binary_mask(check_not_meta(mask, "edge_mask").detach().cpu(), "edge_mask")


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


def count_graph_sparsity(graph: Any, edge_mask: Any = None, *, num_nodes: int | None = None,
                         directed: bool | None = None) -> GraphSparsity:
    """Graph sparsity of an edge mask, over undirected edges without self-loops by default.

    Args:
        graph: an ``edge_index`` ``[2, E]``, a :class:`MaskGraph` or a ``LoadedDataset``
            (its :func:`mask_graph`; for graph tasks all graphs together).
        edge_mask: ``[E]`` bool (True = kept) or 0/1 values (soft or NaN values raise), a
            :class:`~graphsparse.gnn.edges.TrainableEdgeMask` (its binary ``kept``
            state), or None (all kept).
        num_nodes: nodes of an ``edge_index`` graph (default ``max + 1``).
        directed: count as directed (primary count ``"directed"``) or undirected
            (``"undirected"``); None: undirected iff every edge's reverse is present.

    Returns:
        :class:`GraphSparsity` with all four counts (see the module documentation).

    Example:
        >>> ei = torch.tensor([[0, 1, 1, 2, 2], [1, 0, 2, 1, 2]])      # 2 pairs + a loop
        >>> r = count_graph_sparsity(ei, torch.tensor([True, True, False, False, True]))
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
    edge_index = check_edge_index(edge_index).detach().cpu()  # data: not on the meta device
    tied = tie_directions(edge_index, num_nodes)  # ids in [0, num_nodes)
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
