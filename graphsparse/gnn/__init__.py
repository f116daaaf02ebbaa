"""Sparse GNNs and sparse input graphs (graph lottery tickets).

Data: :func:`load_dataset` loads a named dataset (PyG / OGB loaders, or the synthetic ``"sbm"``)
from the data root of :mod:`graphsparse.paths`; see :mod:`graphsparse.gnn.data`.

Edge masks: :func:`edge_mask` applies a mask over edge ids to every conv of a model in mode
``"remove"``, ``"weight"`` or ``"message"`` with exact semantics; :func:`apply_edge_mask` removes
edges; :func:`tie_directions` ties the two directions of undirected edges;
:class:`TrainableEdgeMask` is UGS's trainable mask. See :mod:`graphsparse.gnn.edges`.

Models: :func:`build_model` builds GCN, GIN, GAT or GraphSAGE for node, link or graph tasks from
a config that :func:`model_from_config` rebuilds; :func:`save_gnn`/:func:`load_gnn` store config
+ weights safely. See :mod:`graphsparse.gnn.models`.

Accounting: :func:`count_graph_sparsity` (undirected edges without self-loops by default, every
count stated) over :func:`mask_graph` (the graph an edge mask covers), see
:mod:`graphsparse.gnn.edges.graph`; :func:`count_weight_sparsity` over a declared scope
(``"linear"``: UGS, ``"all"``: TEDDY), see :mod:`graphsparse.gnn.accounting`; :func:`graph_macs`
(MACs of message passing, dense vs masked), see :mod:`graphsparse.gnn.cost`.

Structural edge scores: :func:`teddy_score`, :func:`jaccard_score`, :func:`adamic_adar_score`,
:func:`random_score` per undirected pair. See :mod:`graphsparse.gnn.edges.scores`.

Tickets: :func:`find_ticket` runs a method of :mod:`graphsparse.gnn.methods` (UGS, TEDDY,
random, magnitude, IMP, Jaccard, Adamic–Adar) on a model and a dataset or ``Data`` and returns a
:class:`Ticket` (edge mask, weight masks, θ₀, configs, metrics) that saves, loads, applies and
retrains. See :mod:`graphsparse.gnn.experiment.ticket`.

Training: :func:`train_model` (one trainer for node, link and graph tasks, best-validation
selection, timing, :class:`TrainHooks` for methods), :func:`evaluate`, :func:`predict`,
:func:`measure_inference`. See :mod:`graphsparse.gnn.train`.
"""

from graphsparse.gnn.accounting import WEIGHT_SCOPES, count_weight_sparsity, sparsity_summary
from graphsparse.gnn.cost import counting_edge_mask, graph_macs
from graphsparse.gnn.data import (
    DatasetCorruptError,
    DatasetNotFoundError,
    LoadedDataset,
    available_datasets,
    load_dataset,
    random_node_split,
    synthetic_sbm,
)
from graphsparse.gnn.edges import (
    EDGE_MASK_MODES,
    EDGE_SCORES,
    EdgeMaskHooks,
    GraphSparsity,
    MaskGraph,
    TiedEdges,
    TrainableEdgeMask,
    UnsupportedConvError,
    adamic_adar_score,
    apply_edge_mask,
    count_graph_sparsity,
    edge_mask,
    edge_scores,
    jaccard_score,
    mask_graph,
    message_rule,
    random_score,
    register_conv,
    teddy_score,
    tie_directions,
)
from graphsparse.gnn.models import (
    GAT,
    GCN,
    GIN,
    GNN,
    MODEL_NAMES,
    GraphModel,
    GraphSAGE,
    LinkModel,
    build_model,
    default_config,
    load_gnn,
    model_from_config,
    save_gnn,
)
from graphsparse.gnn.experiment.report import Summary, plot, summarise
from graphsparse.gnn.experiment.sweep import ConfigMismatchError, read_rows, run_sweep
from graphsparse.gnn.experiment.export import ExportedTicket, export_ticket, load_exported
from graphsparse.gnn.experiment.ticket import Ticket, as_dataset, find_ticket, load_ticket
from graphsparse.gnn.train import (
    EpochRecord,
    StepContext,
    TrainHooks,
    TrainResult,
    evaluate,
    measure_inference,
    predict,
    spmm_propagation,
    train_model,
)

__all__ = [
    "ExportedTicket",
    "export_ticket",
    "load_exported",
    "run_sweep",
    "read_rows",
    "ConfigMismatchError",
    "summarise",
    "Summary",
    "plot",
    "EDGE_MASK_MODES",
    "EdgeMaskHooks",
    "TiedEdges",
    "TrainableEdgeMask",
    "UnsupportedConvError",
    "apply_edge_mask",
    "edge_mask",
    "message_rule",
    "register_conv",
    "tie_directions",
    "DatasetCorruptError",
    "DatasetNotFoundError",
    "LoadedDataset",
    "available_datasets",
    "load_dataset",
    "random_node_split",
    "synthetic_sbm",
    "GAT",
    "GCN",
    "GIN",
    "GNN",
    "MODEL_NAMES",
    "GraphModel",
    "GraphSAGE",
    "LinkModel",
    "build_model",
    "default_config",
    "load_gnn",
    "model_from_config",
    "save_gnn",
    "WEIGHT_SCOPES",
    "GraphSparsity",
    "MaskGraph",
    "counting_edge_mask",
    "graph_macs",
    "count_graph_sparsity",
    "mask_graph",
    "sparsity_summary",
    "count_weight_sparsity",
    "EpochRecord",
    "StepContext",
    "TrainHooks",
    "TrainResult",
    "evaluate",
    "measure_inference",
    "predict",
    "spmm_propagation",
    "train_model",
    "EDGE_SCORES",
    "adamic_adar_score",
    "edge_scores",
    "jaccard_score",
    "random_score",
    "teddy_score",
    "Ticket",
    "as_dataset",
    "find_ticket",
    "load_ticket",
]
