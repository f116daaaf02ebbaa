"""MACs of message passing, dense and masked, for GNNs with weight and edge masks.

Importing this module (as importing :mod:`graphsparse.gnn` does) registers MAC counters with
:func:`graphsparse.masks.register_macs`, so ``graphsparse.masks.macs(model, x, edge_index,
...)`` counts GNNs. Each row is one module call;
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
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GCNConv, GINConv, GINEConv, SAGEConv
from torch_geometric.nn.dense.linear import Linear as PyGLinear

from graphsparse.gnn.edges.trainable import TrainableEdgeMask
from graphsparse.masks import CostReport, macs, masks_of, register_macs

__all__ = ["counting_edge_mask", "graph_macs"]

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
    if edge_mask.is_floating_point() and not bool(torch.isfinite(edge_mask).all()):
        raise ValueError("edge_mask must be finite (bool, or floats with non-zero = kept); it "
                         "holds NaN or infinite entries")
    token = _COUNTED_MASK.set(edge_mask.detach() != 0)
    try:
        yield
    finally:
        _COUNTED_MASK.reset(token)


def graph_macs(model: nn.Module, x: Any, edge_index: Tensor, *args: Any,
               edge_mask: Any = None, **kwargs: Any) -> CostReport:
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
        return macs(model, x, edge_index, *args, **kwargs)
    if isinstance(edge_mask, Tensor) and edge_mask.dim() == 1 \
            and edge_mask.numel() != edge_index.size(1):
        raise ValueError(f"edge_mask has {edge_mask.numel()} entries but edge_index has "
                         f"{edge_index.size(1)} edges")
    with counting_edge_mask(edge_mask):
        return macs(model, x, edge_index, *args, **kwargs)


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
    mask = masks_of(weight_owner).get("weight")
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


register_macs(PyGLinear, _pyg_linear_macs)
register_macs(GCNConv, _gcn_macs)
register_macs(GATConv, _gat_macs)
register_macs(GINConv, _gin_macs)
register_macs(GINEConv, _gin_macs)
register_macs(SAGEConv, _sage_macs)
