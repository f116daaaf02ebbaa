"""GNN backbones for graph lottery tickets: GCN, GIN, GAT, GraphSAGE and task wrappers.

Thin PyG models in the configuration of the graph-lottery-ticket papers (UGS, Chen et al.,
ICML 2021; TEDDY, Seo et al., ICLR 2024): 2 layers, hidden width 512, full-batch, no bias in
the node-classification models. Every model is built by one factory, :func:`build_model`, from
a JSON-serialisable config that :func:`model_from_config` turns back into the same
architecture, so a model is saved as config + state_dict in graphsparse's safe file format
(:func:`save_gnn` / :func:`load_gnn`). Weight masks come from :mod:`graphsparse.masks`
(``attach``), edge masks from :mod:`graphsparse.gnn.edges` (every conv used here is one
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

Modules
-------
* :mod:`~graphsparse.gnn.models.convs` — :class:`LinearFirstGINConv`,
  :class:`LinearFirstSAGEConv` and dropout on sparse input features;
* :mod:`~graphsparse.gnn.models.backbones` — :class:`GNN`, :class:`GCN`, :class:`GIN`,
  :class:`GAT`, :class:`GraphSAGE`;
* :mod:`~graphsparse.gnn.models.heads` — :class:`LinkModel`, :class:`GraphModel`;
* :mod:`~graphsparse.gnn.models.build` — :func:`default_config`, :func:`build_model`,
  :func:`model_from_config`, :func:`save_gnn`, :func:`load_gnn`.

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

from graphsparse.gnn.models.backbones import GAT, GCN, GIN, GNN, GraphSAGE
from graphsparse.gnn.models.build import (
    MODEL_NAMES,
    TASKS,
    build_model,
    default_config,
    load_gnn,
    model_from_config,
    save_gnn,
)
from graphsparse.gnn.models.convs import LinearFirstGINConv, LinearFirstSAGEConv, OutDegreeGCNConv
from graphsparse.gnn.models.heads import GraphModel, LinkModel

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
    "OutDegreeGCNConv",
    "TASKS",
    "build_model",
    "default_config",
    "load_gnn",
    "model_from_config",
    "save_gnn",
]
