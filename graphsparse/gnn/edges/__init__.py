"""Edge masks on any PyG conv, with exact, named semantics.

An edge mask is a 1-D tensor over the **global edge ids** of a graph, i.e. over the columns of its
``edge_index`` of shape ``[2, E]`` — never an ``N x N`` matrix. It is a ``torch.bool`` tensor
(True = kept) for hard masks and a floating tensor with values in ``[0, 1]`` for soft masks, so
the selection, scoring and file tools of :mod:`graphsparse.masks` work on it unchanged
(``{"edges": mask}``). For mini-batches drawn by a PyG loader, gather the batch's part with the
loader's edge ids: ``mask[batch.e_id]``.

Tied directions
---------------
Both directions of an undirected edge form one unit: see :mod:`graphsparse.gnn.edges.tied`.

Modes
-----
``"remove"`` (hard)
    Masked edges are physically filtered out of ``edge_index`` (and of ``edge_weight``,
    ``edge_attr``, ``edge_type``) before the conv sees them. Exact for every conv, and the only
    mode with a real speed-up. Use :func:`apply_edge_mask` once per graph, or :func:`edge_mask`
    with ``mode="remove"`` to filter at every conv call.
``"weight"`` (soft)
    The mask ``m`` is passed to the conv as its ``edge_weight`` (multiplied with a given one), so
    the conv's normalisation sees it. For the GCN family this is the masked adjacency of UGS
    (Chen et al., ICML 2021, objective over ``{m_g ⊙ A, X}``), renormalised at every forward:
    ``Â(m) = D̃_m^{-1/2} (m ⊙ A + I) D̃_m^{-1/2}`` with ``D̃_m`` the degrees of ``m ⊙ A + I``.
    Only for convs that take ``edge_weight`` and handle it exactly: the GCN-normalised convs
    (``GCNConv``, ``SGConv``, ``APPNP``, ``TAGConv``, ``LGConv``) and plain sum-aggregating
    convs (``GraphConv`` with ``aggr="sum"``, ``SimpleConv`` with ``aggr="sum"``).
``"message"`` (soft)
    The mask is applied through ``MessagePassing``'s own hooks, with the rule the conv's
    aggregation needs so that ``m = 0`` is exactly edge removal (:func:`message_rule`):

    * ``"sum"`` — ``h_i = Σ_j m_ij · msg_ij`` (``GINConv``, ``GINEConv``, ``GraphConv``,
      ``SAGEConv`` and ``SimpleConv`` with sum aggregation);
    * ``"mean"`` — ``h_i = Σ_j m_ij · msg_ij / Σ_j m_ij``, and ``0`` where ``Σ_j m_ij = 0``, as
      for a node without in-edges (the same convs with mean aggregation);
    * ``"softmax"`` — attention ``α_ij = m_ij exp(e_ij) / Σ_k m_ik exp(e_ik)``, i.e. the GAT
      softmax (Veličković et al., ICLR 2018, eqs. 2–3) over the masked neighbourhood, computed as
      ``m_ij α_ij / Σ_k m_ik α_ik`` from the conv's own ``α`` (``GATConv``, ``GATv2Conv``,
      ``TransformerConv``). Attention dropout is applied after the masking (see
      :mod:`graphsparse.gnn.edges.hooks`);
    * ``"weight"`` — for the GCN-normalised convs the per-message rule must also reach the
      degrees, so message mode passes the mask through ``edge_weight`` exactly as weight mode.

    Any other aggregation (max, min, LSTM, multi-aggregation) or a conv whose messages may depend
    on other edges through an unknown normalisation raises :class:`UnsupportedConvError` naming
    the conv — it never silently leaks messages of masked edges. :func:`register_conv` declares
    the rule of a custom conv.

Common rules of the soft modes: self-loops that a conv adds itself (``add_self_loops=True`` in
GCN/GAT) are never masked (mask value 1); an input self-loop of such a conv is replaced by the
conv anyway, so its mask entry is ignored (set to 1), as in remove mode where the conv adds the
loop back. Gradients reach the mask in every soft mode; one exception is documented rather than
left as NaN: for a GCN-normalised conv without self-loops (``TAGConv``, ``LGConv``,
``GCNConv(add_self_loops=False)``), the in-edges of a node whose masked in-degree is exactly 0 are
dropped before ``gcn_norm`` (no output changes: they all carry weight 0), so their mask entries
get gradient 0 where PyG's ``deg^-1/2`` would give NaN (the true derivative is unbounded there).
Values outside ``[0, 1]`` raise — nothing is clipped; a trainable mask is projected explicitly
with :meth:`TrainableEdgeMask.clamp_`.

Modules
-------
* :mod:`~graphsparse.gnn.edges.tied` — tied directions (:func:`tie_directions`,
  :class:`TiedEdges`) and edge removal (:func:`apply_edge_mask`);
* :mod:`~graphsparse.gnn.edges.trainable` — :class:`TrainableEdgeMask`, UGS's trainable mask;
* :mod:`~graphsparse.gnn.edges.rules` — which message-mode rule a conv gets
  (:func:`message_rule`, :func:`register_conv`, :class:`UnsupportedConvError`);
* :mod:`~graphsparse.gnn.edges.hooks` — :func:`edge_mask`, the hooks that apply a mask to every
  conv of a model (:class:`EdgeMaskHooks`);
* :mod:`~graphsparse.gnn.edges.scores` — structural edge scores per tied unit (TEDDY, Jaccard,
  Adamic–Adar, random);
* :mod:`~graphsparse.gnn.edges.graph` — the graph an edge mask of a dataset covers
  (:func:`mask_graph`) and its graph sparsity (:func:`count_graph_sparsity`).

Example
-------
>>> import torch
>>> from torch_geometric.nn import GATConv
>>> from graphsparse.gnn.edges import apply_edge_mask, edge_mask, tie_directions
>>> _ = torch.manual_seed(0)
>>> edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
>>> tied = tie_directions(edge_index)
>>> tied.num_pairs
3
>>> mask = tied.expand(torch.tensor([True, False, True]))   # drop the pair {1, 2}
>>> conv, x = GATConv(4, 3, heads=2), torch.randn(4, 4)
>>> with edge_mask(conv, mask, mode="message"):
...     soft = conv(x, edge_index)
>>> hard = conv(x, apply_edge_mask(edge_index, mask)[0])
>>> bool(torch.allclose(soft, hard, atol=1e-6))
True
"""

from graphsparse.gnn.edges.graph import (
    GRAPH_COUNTS,
    EdgeCount,
    GraphSparsity,
    MaskGraph,
    count_graph_sparsity,
    mask_graph,
)
from graphsparse.gnn.edges.hooks import EDGE_MASK_MODES, EdgeMaskHooks, edge_mask
from graphsparse.gnn.edges.rules import UnsupportedConvError, message_rule, register_conv
from graphsparse.gnn.edges.scores import (
    EDGE_SCORES,
    adamic_adar_score,
    edge_scores,
    jaccard_score,
    random_score,
    teddy_score,
)
from graphsparse.gnn.edges.tied import TiedEdges, apply_edge_mask, tie_directions
from graphsparse.gnn.edges.trainable import TrainableEdgeMask

__all__ = [
    "EDGE_MASK_MODES",
    "EDGE_SCORES",
    "EdgeCount",
    "EdgeMaskHooks",
    "GRAPH_COUNTS",
    "GraphSparsity",
    "MaskGraph",
    "TiedEdges",
    "TrainableEdgeMask",
    "UnsupportedConvError",
    "adamic_adar_score",
    "apply_edge_mask",
    "count_graph_sparsity",
    "edge_mask",
    "edge_scores",
    "jaccard_score",
    "mask_graph",
    "message_rule",
    "random_score",
    "register_conv",
    "teddy_score",
    "tie_directions",
]
