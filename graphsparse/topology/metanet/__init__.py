"""Metanetwork pruning (Liu, Wang, Zhang, "Meta Pruning via Graph Metanetworks", arXiv 2506.12041).

* :func:`to_graph` / :func:`from_graph` (``convert.py``) — bijective network <-> PyG graph map
  built on :func:`graphsparse.topology.trace_model`; :func:`graph_to_state_dict` for the
  differentiable inverse.
* :class:`MetaNetwork`, :func:`apply_metanet`, :func:`save_metanet`, :func:`load_metanet`
  (``model.py``) — the edge-updating message-passing metanetwork and its safe file format.
"""

from graphsparse.topology.metanet.convert import (
    EDGE_DIM,
    EDGE_TYPES,
    NODE_DIM,
    NODE_TYPES,
    GraphLayout,
    GraphMismatchError,
    LayerLayout,
    from_graph,
    graph_to_state_dict,
    to_graph,
)
from graphsparse.topology.metanet.model import MetaNetwork, apply_metanet, load_metanet, save_metanet

__all__ = [
    "to_graph",
    "from_graph",
    "graph_to_state_dict",
    "GraphLayout",
    "LayerLayout",
    "GraphMismatchError",
    "NODE_DIM",
    "EDGE_DIM",
    "NODE_TYPES",
    "EDGE_TYPES",
    "MetaNetwork",
    "apply_metanet",
    "save_metanet",
    "load_metanet",
]
