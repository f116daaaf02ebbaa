"""Sparse GNNs and sparse input graphs (graph lottery tickets).

Data: :func:`load_dataset` loads a named dataset (PyG / OGB loaders, or the synthetic ``"sbm"``)
from the data root of :mod:`graphsparse.paths`; see :mod:`graphsparse.gnn.data`.

Edge masks: :func:`edge_mask` applies a mask over edge ids to every conv of a model in mode
``"remove"``, ``"weight"`` or ``"message"`` with exact semantics; :func:`apply_edge_mask` removes
edges; :func:`tie_directions` ties the two directions of undirected edges;
:class:`TrainableEdgeMask` is UGS's trainable mask. See :mod:`graphsparse.gnn.edge_masks`.
"""

from graphsparse.gnn.data import (
    DatasetNotFoundError,
    LoadedDataset,
    available_datasets,
    load_dataset,
    random_node_split,
    synthetic_sbm,
)
from graphsparse.gnn.edge_masks import (
    EDGE_MASK_MODES,
    EdgeMaskHooks,
    TiedEdges,
    TrainableEdgeMask,
    UnsupportedConvError,
    apply_edge_mask,
    edge_mask,
    message_rule,
    register_conv,
    tie_directions,
)

__all__ = [
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
    "DatasetNotFoundError",
    "LoadedDataset",
    "available_datasets",
    "load_dataset",
    "random_node_split",
    "synthetic_sbm",
]
